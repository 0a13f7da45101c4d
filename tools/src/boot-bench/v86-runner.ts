// Boots a bzImage and initrd on v86 (the npm package) with the given BIOS and writes COM1's output to
// stdout, until killed. The boot benchmark spawns it like the other emulators, so every emulator's time
// includes its own process start.
//   node --import tsx v86-runner.ts --bios B --vga-bios V --kernel K --initrd I --append CMDLINE --memory MIB
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { parseArgs } from "node:util";
import { V86 } from "v86";

/** v86's wasm module, which its package ships next to the library. */
function v86WasmPath(): string {
  return join(dirname(createRequire(import.meta.url).resolve("v86")), "v86.wasm");
}

function main(): void {
  const { values } = parseArgs({
    options: {
      bios: { type: "string" },
      "vga-bios": { type: "string" },
      kernel: { type: "string" },
      initrd: { type: "string" },
      append: { type: "string", default: "" },
      memory: { type: "string", default: "256" },
    },
  });
  const { bios, "vga-bios": vgaBios, kernel, initrd } = values;
  if (!bios || !vgaBios || !kernel || !initrd)
    throw new Error("--bios, --vga-bios, --kernel and --initrd are needed");
  let pending: number[] = [];
  const emulator = new V86({
    wasm_path: v86WasmPath(),
    bios: { url: bios },
    vga_bios: { url: vgaBios },
    bzimage: { url: kernel },
    initrd: { url: initrd },
    cmdline: values.append,
    memory_size: Number(values.memory) * 1024 * 1024,
    autostart: true,
  });
  // Bytes come one event each: write them in batches.
  emulator.add_listener("serial0-output-byte", (byte: number) => {
    if (pending.length === 0) {
      setImmediate(() => {
        process.stdout.write(Uint8Array.from(pending));
        pending = [];
      });
    }
    pending.push(byte);
  });
}

main();

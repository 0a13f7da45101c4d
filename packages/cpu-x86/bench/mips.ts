// `pnpm bench` for cpu-x86: MIPS of the interpreter on CPU-bound guest loops, side by side with
// qemu-system-i386 (TCG) running the very same ROM images. Node-only (benchmarks may use node:).
import { execFileSync, spawnSync } from "node:child_process";
import { writeFileSync } from "node:fs";
import { cpus } from "node:os";
import { buildLoopRom, LOOPS } from "./loops.js";
import { runRom } from "./run-rom.js";

const args = process.argv.slice(2);
const withQemu = !args.includes("--no-qemu");
const only = args.find((a) => a.startsWith("--only="))?.slice(7);

function qemuVersion(): string | undefined {
  try {
    return execFileSync("qemu-system-i386", ["--version"], { encoding: "utf8" }).split("\n")[0];
  } catch {
    return undefined;
  }
}

const qemu = withQemu ? qemuVersion() : undefined;
let startup: number | undefined;
console.log(
  `# cpu-x86 MIPS (${new Date().toISOString().slice(0, 10)}, ${cpus()[0]?.model ?? "unknown CPU"}, node ${process.version})`,
);
console.log(`# command: pnpm --filter @tsvmm/cpu-x86 bench${args.length ? ` ${args.join(" ")}` : ""}`);
console.log(
  qemu
    ? `# reference: ${qemu} -accel tcg`
    : "# reference: qemu-system-i386 not installed (apt-get install qemu-system-x86)",
);
console.log("");
console.log("| loop | guest instructions | tsvmm s | tsvmm MIPS | QEMU s | QEMU MIPS | tsvmm/QEMU |");
console.log("| --- | ---: | ---: | ---: | ---: | ---: | ---: |");
for (const loop of LOOPS) {
  if (only && loop.name !== only) continue;
  const rom = buildLoopRom(loop);
  const ours = runRom(rom);
  let qemuSeconds: number | undefined;
  if (qemu) {
    const path = `/tmp/tsvmm-bench-${loop.name}.rom`;
    writeRom(path, rom);
    // QEMU's own start-up is measured with an empty loop and subtracted.
    const t0 = performance.now();
    const result = spawnSync(
      "qemu-system-i386",
      [
        "-accel",
        "tcg",
        "-bios",
        path,
        "-display",
        "none",
        "-serial",
        "none",
        "-monitor",
        "none",
        "-device",
        "isa-debug-exit,iobase=0xf4,iosize=0x04",
      ],
      { stdio: "ignore", timeout: 300_000 },
    );
    qemuSeconds = (performance.now() - t0) / 1000 - qemuStartup();
    if (result.status !== 3) qemuSeconds = undefined;
  }
  const mips = ours.instructions / ours.seconds / 1e6;
  const qemuMips = qemuSeconds !== undefined ? ours.instructions / qemuSeconds / 1e6 : undefined;
  console.log(
    `| ${loop.name} | ${ours.instructions.toLocaleString("en-US")} | ${ours.seconds.toFixed(2)} | ${mips.toFixed(1)} | ${qemuSeconds?.toFixed(2) ?? "-"} | ${qemuMips?.toFixed(1) ?? "-"} | ${qemuMips ? (mips / qemuMips).toFixed(2) : "-"} |`,
  );
}

function qemuStartup(): number {
  if (startup !== undefined) return startup;
  const rom = buildLoopRom({ name: "empty", iterations: 1, body: "" });
  const path = "/tmp/tsvmm-bench-empty.rom";
  writeRom(path, rom);
  const runs: number[] = [];
  for (let i = 0; i < 3; i++) {
    const t0 = performance.now();
    spawnSync(
      "qemu-system-i386",
      [
        "-accel",
        "tcg",
        "-bios",
        path,
        "-display",
        "none",
        "-serial",
        "none",
        "-monitor",
        "none",
        "-device",
        "isa-debug-exit,iobase=0xf4,iosize=0x04",
      ],
      { stdio: "ignore" },
    );
    runs.push((performance.now() - t0) / 1000);
  }
  startup = Math.min(...runs);
  return startup;
}

function writeRom(path: string, data: Uint8Array): void {
  writeFileSync(path, data);
}

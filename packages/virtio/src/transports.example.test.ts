// The README's "Transports" example, kept here so it cannot rot: the README's code block after the comment naming
// this file is the imports below but node:fs and vitest (with "./index.js" as "@tsvmm/virtio") followed by the code
// between the markers, and the last test checks that they match.
import { readFileSync } from "node:fs";
import { type BusDevice, PciBus, PciCommand, PciConfig } from "@tsvmm/device-model";
import { PhysicalMemory } from "@tsvmm/ept";
import { expect, it } from "vitest";
import {
  MemoryCharBackend,
  VIRTIO_MMIO_SIZE,
  VirtioConsole,
  VirtioMmioRegister,
  VirtioMmioTransport,
  VirtioPciTransport,
  VirtioRng,
} from "./index.js";

// --- README example start ---
const memory = new PhysicalMemory(); // guest RAM, as the VMM laid it out
memory.setUserMemoryRegion({ slot: 0, guestPhysAddr: 0, memorySize: 16 << 20 });
const errors: string[] = []; // why a device set DEVICE_NEEDS_RESET, for the log
const mmioBus = new Map<number, BusDevice>(); // the VMM's MMIO bus, as a plain map here

// virtio-mmio: a VIRTIO_MMIO_SIZE window and one level-triggered line (an I/O APIC input, say).
let irq5 = false;
const rng = new VirtioMmioTransport({
  device: new VirtioRng(),
  memory,
  interrupt: { set: (asserted) => (irq5 = asserted) },
  onError: (reason) => errors.push(`virtio-rng: ${reason}`),
});
mmioBus.set(0xd0000000, rng.region); // 0xd0000000-0xd00001ff; Linux finds it via virtio_mmio.device=512@0xd0000000:5
const magic = new Uint8Array(4);
mmioBus.get(0xd0000000)!.read(0xd0000000, VirtioMmioRegister.MagicValue, magic); // "virt"

// virtio-pci: a PCI function with BAR 1 (MSI-X table and PBA) and BAR 4 (the virtio structures); the VMM maps them
// where the guest puts them and hands MSI-X messages to the local APICs.
const msis: [number, number][] = [];
const hvc = new VirtioPciTransport({
  device: new VirtioConsole({ backend: new MemoryCharBackend() }),
  memory,
  signalMsi: (address, data) => msis.push([address, data]),
  onError: (reason) => errors.push(`virtio-console: ${reason}`),
});
const pciBus = new PciBus({
  onBarMapping: ({ bar, oldAddress, newAddress }) => {
    if (oldAddress !== undefined) mmioBus.delete(oldAddress);
    if (newAddress !== undefined) mmioBus.set(newAddress, bar.region);
  },
});
pciBus.register(hvc.pciFunction, 3); // 00:03.0, INTA#
const ids = hvc.pciFunction.config.dword(PciConfig.VendorId); // 0x10431af4: a modern virtio-console

// Firmware places BAR 4 (64-bit) and turns on memory decoding and bus mastering (no DMA, hence no queue, without it).
const write = (offset: number, value: number) =>
  hvc.pciFunction.writeConfig(offset, new Uint8Array(new Uint32Array([value]).buffer));
write(PciConfig.Bar0 + 16, 0xfe000000);
write(PciConfig.Command, PciCommand.MemorySpace | PciCommand.BusMaster);
const numQueues = new Uint8Array(2);
mmioBus.get(0xfe000000)!.read(0xfe000000, 0x12, numQueues); // common config num_queues: 2 at BAR 4 + 0x12

// On machine reset, with the rest of the machine (the PCI bus resets the configuration header too).
rng.reset();
hvc.reset();
// --- README example end ---

it("runs the README's transports example", () => {
  expect(new TextDecoder().decode(magic)).toBe("virt");
  expect(VIRTIO_MMIO_SIZE).toBe(0x200);
  expect(irq5).toBe(false);
  expect(ids).toBe(0x10431af4);
  expect(numQueues).toEqual(Uint8Array.of(2, 0));
  // The reset turned decoding off: BAR 4 is not mapped any more.
  expect(mmioBus.has(0xfe000000)).toBe(false);
  expect(mmioBus.get(0xd0000000)).toBe(rng.region);
  expect(msis).toEqual([]);
  expect(errors).toEqual([]);
});

it("matches the README's code block", () => {
  const source = readFileSync(new URL("./transports.example.test.ts", import.meta.url), "utf8");
  const imports = source
    .split('import { readFileSync } from "node:fs";\n')[1]
    .split("// --- README example start ---\n")[0]
    .replace('import { expect, it } from "vitest";\n', "")
    .replace('"./index.js"', '"@tsvmm/virtio"');
  const body = source.split("// --- README example start ---\n")[1].split("// --- README example end ---")[0];
  const readme = readFileSync(new URL("../README.md", import.meta.url), "utf8");
  const after = readme.split("<!-- tested by src/transports.example.test.ts -->")[1] ?? "";
  const block = after.split("```ts\n")[1]?.split("```")[0] ?? "";
  expect(block).toBe(`${imports}${body}`);
});

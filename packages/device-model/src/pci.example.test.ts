// The README's PCI example, kept here so it cannot rot: the README's code block after the comment naming this file
// is the first import below followed by the code between the markers, and the last test checks that they match.
import { readFileSync } from "node:fs";
import {
  type BusDevice,
  PciBus,
  PciCapabilityId,
  PciCommand,
  PciFunction,
  PciHostBridge,
  PciInterruptPin,
  Piix3IsaBridge,
} from "@tsvmm/device-model";
import { expect, it } from "vitest";

// --- README example start ---
// The ISA IRQ wires (the 8259s' and the I/O APIC's inputs) and the VMM's MMIO map, as plain values here.
const irqs: boolean[] = new Array(16).fill(false);
const mmio = new Map<number, BusDevice>();
let resets = 0;

// PIIX3 at 00:01.0 routes PIRQA#-D# to ISA IRQs; the routes are what SeaBIOS programs on QEMU.
const isa = new Piix3IsaBridge({
  irqLine: (irq) => ({ set: (asserted) => (irqs[irq] = asserted) }),
  pirqRoutes: [10, 10, 11, 11],
  onReset: () => resets++,
});
const bus = new PciBus({
  pirqLines: [0, 1, 2, 3].map((pirq) => isa.pirqLine(pirq)),
  // The guest moved a BAR: the VMM moves the region on its MMIO (or PIO, for kind "io") bus.
  onBarMapping: ({ bar, oldAddress, newAddress }) => {
    if (oldAddress !== undefined) mmio.delete(oldAddress);
    if (newAddress !== undefined) mmio.set(newAddress, bar.region);
  },
});
const host = new PciHostBridge({ bus, resetControl: isa.resetControl }); // the i440FX at 00:00.0
bus.register(isa.pciFunction, 1);

// A device at 00:03.0: a 4 KiB memory BAR, a vendor-specific capability, INTA# (slot 3: PIRQC#, IRQ 11).
const registers: BusDevice = { read: (_base, offset, data) => data.fill(offset), write: () => {} };
const device = new PciFunction({
  vendorId: 0x1af4,
  deviceId: 0x1041,
  classCode: 0x020000,
  interruptPin: PciInterruptPin.IntA,
  bars: [{ index: 1, kind: "memory32", size: 0x1000, region: registers }],
});
const capability = device.addCapability(PciCapabilityId.VendorSpecific, 16);
device.defineRegister(capability + 2, 1, { value: 16 }); // its length byte
bus.register(device, 3);
bus.assignInterruptLines((pirq) => isa.routeOf(pirq)); // as firmware would

// The guest, through ports 0xcf8 (CONFIG_ADDRESS) and 0xcfc (CONFIG_DATA), dword accesses.
const data = new Uint8Array(4);
const view = new DataView(data.buffer);
const select = (slot: number, register: number) => {
  view.setUint32(0, 0x80000000 | (slot << 11) | register, true);
  host.configAddress.write(0xcf8, 0, data);
};
const configRead = (slot: number, register: number) => {
  select(slot, register);
  host.configData.read(0xcfc, 0, data);
  return view.getUint32(0, true);
};
const configWrite = (slot: number, register: number, value: number) => {
  select(slot, register);
  view.setUint32(0, value, true);
  host.configData.write(0xcfc, 0, data);
};

const hostBridge = configRead(0, 0x00); // 0x12378086: Intel 82441FX
const ids = configRead(3, 0x00); // 0x10411af4
const empty = configRead(9, 0x00); // 0xffffffff: no device in slot 9
configWrite(3, 0x14, 0xffffffff); // BAR 1 sizing
const sizeMask = configRead(3, 0x14); // 0xfffff000: 4 KiB
configWrite(3, 0x14, 0xfebf0000);
configWrite(3, 0x04, PciCommand.MemorySpace);
const mapped = mmio.get(0xfebf0000) === registers; // true
const firstCapability = configRead(3, 0x34) & 0xff; // 0x40
const interruptLine = configRead(3, 0x3c) & 0xff; // 11

// The device raises INTA#: PIRQC# goes high, and the PIIX3 raises ISA IRQ 11.
device.setInterrupt(true);
const irq11 = irqs[11]; // true
// --- README example end ---

it("runs the README's PCI example", () => {
  expect(hostBridge).toBe(0x12378086);
  expect(ids).toBe(0x10411af4);
  expect(empty).toBe(0xffffffff);
  expect(sizeMask).toBe(0xfffff000);
  expect(mapped).toBe(true);
  expect(firstCapability).toBe(0x40);
  expect(configRead(3, firstCapability) & 0xffffff).toBe(0x100009);
  expect(interruptLine).toBe(11);
  expect(irq11).toBe(true);
  expect(resets).toBe(0);
});

it("matches the README's code block", () => {
  const source = readFileSync(new URL("./pci.example.test.ts", import.meta.url), "utf8");
  const importBlock = source.split("import {\n")[1].split('} from "@tsvmm/device-model";')[0];
  const body = source.split("// --- README example start ---\n")[1].split("// --- README example end ---")[0];
  const readme = readFileSync(new URL("../README.md", import.meta.url), "utf8");
  const after = readme.split("<!-- tested by src/pci.example.test.ts -->")[1] ?? "";
  const block = after.split("```ts\n")[1]?.split("```")[0] ?? "";
  expect(block).toBe(`import {\n${importBlock}} from "@tsvmm/device-model";\n\n${body}`);
});

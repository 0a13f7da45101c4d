// The README's I/O APIC example, kept here so it cannot rot: the README's code block after the comment naming this
// file is the first import below followed by the code between the markers, and the last test checks that they match.
import { readFileSync } from "node:fs";
import { type ApicInterruptMessage, IoApic, IoApicRegister, RedirectionEntry } from "@tsvmm/device-model";
import { expect, it } from "vitest";

// --- README example start ---
// The kernel side's local APICs take the messages (the object is reused: copy what you keep).
const received: ApicInterruptMessage[] = [];
const ioapic = new IoApic({ output: { deliver: (message) => received.push({ ...message }) } });

// An MMIO bus would map it at 0xfec00000 (IOAPIC_DEFAULT_ADDRESS, IOAPIC_WINDOW_SIZE bytes). The guest's dword
// accesses: select a register through IOREGSEL (offset 0x00), then write it through IOWIN (offset 0x10).
const data = new Uint8Array(4);
const view = new DataView(data.buffer);
const writeRegister = (index: number, value: number) => {
  view.setUint32(0, index, true);
  ioapic.write(0xfec00000, 0x00, data);
  view.setUint32(0, value, true);
  ioapic.write(0xfec00000, 0x10, data);
};
const entry = (pin: number) => IoApicRegister.RedirectionTable + 2 * pin; // low dword; high = entry + 1

// Guest: pin 2 (the PIT: ISA IRQ 0 through the MADT's override) edge-triggered to vector 0x30 on APIC 0;
// pin 11 (a PCI interrupt routed to IRQ 11) level-triggered to vector 0x3b on APIC 1.
writeRegister(entry(2) + 1, 0 << 24);
writeRegister(entry(2), 0x30);
writeRegister(entry(11) + 1, 1 << 24);
writeRegister(entry(11), 0x3b | RedirectionEntry.TriggerLevel);

// Devices: the PIT ticks (an edge); a PCI device asserts its interrupt and holds it.
ioapic.irqLine(2).set(true);
ioapic.irqLine(2).set(false);
ioapic.irqLine(11).set(true);
const sentFirst = received.length; // 2: 0x30 (edge) and 0x3b (level: remote IRR is now set)

// The local APIC's EOI broadcast for 0x3b while the device still asserts: delivered again.
ioapic.eoi(0x3b);
// The driver quiets the device; the next EOI clears remote IRR and sends nothing.
ioapic.irqLine(11).set(false);
ioapic.eoi(0x3b);
const vectors = received.map((message) => message.vector); // [0x30, 0x3b, 0x3b]
const destinations = received.map((message) => message.destination); // [0, 1, 1]
// --- README example end ---

it("runs the README's I/O APIC example", () => {
  expect(sentFirst).toBe(2);
  expect(vectors).toEqual([0x30, 0x3b, 0x3b]);
  expect(destinations).toEqual([0, 1, 1]);
  expect(received.map((message) => message.trigger)).toEqual([0, 1, 1]);
  expect(ioapic.readRegister(entry(11)) & RedirectionEntry.RemoteIrr).toBe(0);
});

it("matches the README's code block", () => {
  const source = readFileSync(new URL("./ioapic.example.test.ts", import.meta.url), "utf8");
  const importLine = source.split("\n").find((line) => line.endsWith('from "@tsvmm/device-model";'));
  const body = source.split("// --- README example start ---\n")[1].split("// --- README example end ---")[0];
  const readme = readFileSync(new URL("../README.md", import.meta.url), "utf8");
  const after = readme.split("<!-- tested by src/ioapic.example.test.ts -->")[1] ?? "";
  const block = after.split("```ts\n")[1]?.split("```")[0] ?? "";
  expect(block).toBe(`${importLine}\n\n${body}`);
});

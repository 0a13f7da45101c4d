// The README's keyboard-controller example, kept here so it cannot rot: the README's code block after the comment
// naming this file is the first import below followed by the code between the markers; the last test checks that.
import { readFileSync } from "node:fs";
import { type BusDevice, I8042, Port92 } from "@tsvmm/device-model";
import { expect, it } from "vitest";

// --- README example start ---
// The chipset ORs the two A20 sources; either reset request resets the machine.
const a20 = { i8042: true, port92: false }; // the i8042 powers on with A20 enabled
const resets: string[] = [];
let irq1 = false;
const kbc = new I8042({
  keyboardIrq: { set: (asserted) => (irq1 = asserted) },
  auxIrq: { set: () => {} },
  onA20: (enabled) => (a20.i8042 = enabled),
  onReset: () => resets.push("i8042"),
});
const port92 = new Port92({
  onA20: (enabled) => (a20.port92 = enabled),
  onReset: () => resets.push("port 0x92"),
});

// The PIO bus maps kbc.dataPort at 0x60, kbc.commandPort at 0x64 and port92 at 0x92, one byte each.
const data = new Uint8Array(1);
const outb = (device: BusDevice, port: number, value: number) => {
  data[0] = value;
  device.write(port, 0, data);
};
const inb = (device: BusDevice, port: number) => {
  device.read(port, 0, data);
  return data[0];
};

// Guest (like a BIOS): controller self-test, then command byte 0x61: translation, aux off, IRQ 1 on.
outb(kbc.commandPort, 0x64, 0xaa);
const selfTest = inb(kbc.dataPort, 0x60); // 0x55
outb(kbc.commandPort, 0x64, 0x60);
outb(kbc.dataPort, 0x60, 0x61);

// Host: the user types. The keyboard sends set 2; the controller translates to set 1 and raises IRQ 1.
const typed = kbc.typeText("ls\n"); // 3 characters taken (fewer would mean: retry the rest later)
const irqAfterTyping = irq1;
const scancodes: number[] = [];
while (inb(kbc.commandPort, 0x64) & 0x01) scancodes.push(inb(kbc.dataPort, 0x60)); // the IRQ 1 handler

// Guest: fast A20 through port 0x92, then a reboot through the keyboard controller.
outb(port92, 0x92, inb(port92, 0x92) | 0x02);
outb(kbc.commandPort, 0x64, 0xfe); // pulse the reset line
// --- README example end ---

it("runs the README's keyboard-controller example", () => {
  expect(selfTest).toBe(0x55);
  expect(typed).toBe(3);
  expect(irqAfterTyping).toBe(true);
  expect(scancodes).toEqual([0x26, 0xa6, 0x1f, 0x9f, 0x1c, 0x9c]); // l, s, Enter: make and break
  expect(irq1).toBe(false);
  expect(a20).toEqual({ i8042: true, port92: true });
  expect(resets).toEqual(["i8042"]);
});

it("matches the README's code block", () => {
  const source = readFileSync(new URL("./i8042.example.test.ts", import.meta.url), "utf8");
  const importLine = source.split("\n").find((line) => line.endsWith('from "@tsvmm/device-model";'));
  const body = source.split("// --- README example start ---\n")[1].split("// --- README example end ---")[0];
  const readme = readFileSync(new URL("../README.md", import.meta.url), "utf8");
  const after = readme.split("<!-- tested by src/i8042.example.test.ts -->")[1] ?? "";
  const block = after.split("```ts\n")[1]?.split("```")[0] ?? "";
  expect(block).toBe(`${importLine}\n\n${body}`);
});

// The README's usage example, kept here so it cannot rot: the README's code block is the first import below
// followed by the code between the markers, and the last test checks that they match.
import { readFileSync } from "node:fs";
import { type BusDevice, DebugCon, IsaDebugExit, Serial16550, UartRegister } from "@tsvmm/device-model";
import { expect, it } from "vitest";

// --- README example start ---
// The host side of COM1: what the guest transmits, and the IRQ 4 wire.
const screen: number[] = [];
let irq4 = false;
const com1 = new Serial16550({
  irq: { set: (asserted) => (irq4 = asserted) },
  transmit: (byte) => screen.push(byte),
});
const debugcon = new DebugCon({ write: (byte) => screen.push(byte) });
let exitStatus: number | undefined;
const debugExit = new IsaDebugExit({ onExit: (status) => (exitStatus = status) });

// A PIO bus (not part of this package) would route guest port accesses like these; devices see offsets only.
const data = new Uint8Array(1);
const outb = (device: BusDevice, base: number, offset: number, value: number) => {
  data[0] = value;
  device.write(base, offset, data);
};
const inb = (device: BusDevice, base: number, offset: number) => {
  device.read(base, offset, data);
  return data[0];
};

// Guest: FIFOs on, received-data interrupt on, OUT2 set so the interrupt reaches IRQ 4; then print "hi".
outb(com1, 0x3f8, UartRegister.InterruptIdFifoControl, 0x01);
outb(com1, 0x3f8, UartRegister.InterruptEnable, 0x01);
outb(com1, 0x3f8, UartRegister.ModemControl, 0x08);
for (const ch of "hi") outb(com1, 0x3f8, UartRegister.Data, ch.charCodeAt(0));
outb(debugcon, 0xe9, 0, "!".charCodeAt(0));

// Host: a key press. receive() says how many bytes the UART took (back-pressure), and IRQ 4 rises.
const taken = com1.receive(new TextEncoder().encode("y"));
const irqAfterKey = irq4; // true: one byte below the trigger level raises the character timeout (IIR 0xCC)
const key = inb(com1, 0x3f8, UartRegister.Data); // the guest's interrupt handler reads it

// Guest: done; isa-debug-exit turns 0x10 into exit status 0x21.
outb(debugExit, 0xf4, 0, 0x10);
// --- README example end ---

it("runs the README example", () => {
  expect(String.fromCharCode(...screen)).toBe("hi!");
  expect(taken).toBe(1);
  expect(irqAfterKey).toBe(true);
  expect(String.fromCharCode(key)).toBe("y");
  expect(irq4).toBe(false); // the read emptied the FIFO: the character-timeout interrupt is gone
  expect(exitStatus).toBe(0x21);
});

it("matches the README's code block", () => {
  const source = readFileSync(new URL("./example.test.ts", import.meta.url), "utf8");
  const readme = readFileSync(new URL("../README.md", import.meta.url), "utf8");
  const importLine = source.split("\n").find((line) => line.endsWith('from "@tsvmm/device-model";'));
  const body = source.split("// --- README example start ---\n")[1].split("// --- README example end ---")[0];
  const block = readme.split("```ts\n")[1].split("```")[0];
  expect(block).toBe(`${importLine}\n\n${body}`);
});

// The README's PIC/PIT example, kept here so it cannot rot: the README's code block after the comment naming this
// file is the first import below followed by the code between the markers, and the last test checks that they match.
import { readFileSync } from "node:fs";
import { type BusDevice, PcSpeakerPort, Pic8259Pair, Pit8254 } from "@tsvmm/device-model";
import { expect, it } from "vitest";

// --- README example start ---
// The VMM's virtual clock (nanoseconds) and the CPU's INTR pin; PIT channel 0 drives IRQ 0 of the PIC pair.
let nowNs = 0;
let intr = false;
const pic = new Pic8259Pair({ intr: { set: (asserted) => (intr = asserted) } });
const pit = new Pit8254({ clock: { nowNs: () => nowNs }, irq0: pic.irqLine(0) });
const port61 = new PcSpeakerPort({ pit });

// A PIO bus would map pic.master at 0x20, pic.slave at 0xa0, pic.elcr at 0x4d0, pit at 0x40, port61 at 0x61.
const data = new Uint8Array(1);
const outb = (device: BusDevice, offset: number, value: number) => {
  data[0] = value;
  device.write(0, offset, data);
};
const inb = (device: BusDevice, offset: number) => {
  device.read(0, offset, data);
  return data[0];
};

// Guest: Linux's PIC setup (vectors 0x20 and 0x28, cascade on IR2, 8086 mode), then only IRQ 0 unmasked.
for (const [chip, base, cascade] of [
  [pic.master, 0x20, 0x04],
  [pic.slave, 0x28, 0x02],
] as const) {
  outb(chip, 0, 0x11); // ICW1: edge-triggered, cascade, ICW4 follows
  outb(chip, 1, base); // ICW2: vector base
  outb(chip, 1, cascade); // ICW3: slave on IR2 / slave ID 2
  outb(chip, 1, 0x01); // ICW4: 8086 mode
}
outb(pic.master, 1, 0xfe);
outb(pic.slave, 1, 0xff);

// Guest: channel 0 as a 1 kHz rate generator (mode 2, LSB then MSB of 1193).
outb(pit, 3, 0x34);
outb(pit, 0, 1193 & 0xff);
outb(pit, 0, 1193 >> 8);

// Host: instead of polling, sleep until the PIT's next IRQ 0 edge, then let it catch up.
const wakeAt = pit.nextEventNs(); // 1000686: tick 1194 (the count loads one clock after it is written)
nowNs = wakeAt ?? nowNs;
pit.poll();
const intrAtTick = intr; // true

// CPU: the INTA cycle gives the vector; the handler sends a non-specific EOI.
const vector = pic.acknowledge(); // 0x20
const intrInHandler = intr; // false: IRQ 0 is in service
outb(pic.master, 0, 0x20);

// Guest: read channel 0 on the fly with the counter latch command (count 1193 ... 1).
nowNs += 500_000;
outb(pit, 3, 0x00);
const count = inb(pit, 0) | (inb(pit, 0) << 8); // 597: half a period later

// Guest: a 10 ms one-shot on channel 2 gated through port 0x61, polled through its bit 5 (OUT2).
outb(port61, 0, (inb(port61, 0) & ~0x02) | 0x01); // gate on, speaker off
outb(pit, 3, 0xb0); // channel 2, LSB then MSB, mode 0
outb(pit, 2, 11932 & 0xff);
outb(pit, 2, 11932 >> 8);
const out2Before = (inb(port61, 0) & 0x20) !== 0; // false
nowNs += 10_100_000; // a little over 10 ms
const out2After = (inb(port61, 0) & 0x20) !== 0; // true
// --- README example end ---

it("runs the README's PIC/PIT example", () => {
  expect(wakeAt).toBe(1000686);
  expect(intrAtTick).toBe(true);
  expect(vector).toBe(0x20);
  expect(intrInHandler).toBe(false);
  expect(count).toBe(597);
  expect(out2Before).toBe(false);
  expect(out2After).toBe(true);
  expect(intr).toBe(true); // the 1 kHz timer ticked on while the guest polled channel 2
});

it("matches the README's code block", () => {
  const source = readFileSync(new URL("./pic-pit.example.test.ts", import.meta.url), "utf8");
  const importLine = source.split("\n").find((line) => line.endsWith('from "@tsvmm/device-model";'));
  const body = source.split("// --- README example start ---\n")[1].split("// --- README example end ---")[0];
  const readme = readFileSync(new URL("../README.md", import.meta.url), "utf8");
  const after = readme.split("<!-- tested by src/pic-pit.example.test.ts -->")[1] ?? "";
  const block = after.split("```ts\n")[1]?.split("```")[0] ?? "";
  expect(block).toBe(`${importLine}\n\n${body}`);
});

// The README's RTC example, kept here so it cannot rot: the README's code block after the comment naming this file
// is the first import below followed by the code between the markers, and the last test checks that they match.
import { readFileSync } from "node:fs";
import { Mc146818Rtc, RtcIndex, RtcRegB, writePcCmosConfig } from "@tsvmm/device-model";
import { expect, it } from "vitest";

// --- README example start ---
// The VMM's virtual clock (nanoseconds) and the IRQ 8 wire.
let nowNs = 0;
let irq8 = false;
const rtc = new Mc146818Rtc({
  irq: { set: (asserted) => (irq8 = asserted) },
  clock: { nowNs: () => nowNs },
  startTime: new Date("2024-02-29T23:59:59Z"), // the registers show its UTC fields
});
// What a BIOS would find in CMOS RAM: 512 MiB of RAM and 2 CPUs (the checksum is written too).
writePcCmosConfig(rtc, { ramBelow4GiB: 512 * 1024 * 1024, cpus: 2 });

// The guest's view through ports 0x70 (index) and 0x71 (data); the PIO bus maps the RTC there, 2 bytes long.
const data = new Uint8Array(1);
const cmosRead = (index: number) => {
  data[0] = index;
  rtc.write(0x70, 0, data);
  rtc.read(0x70, 1, data);
  return data[0];
};
const cmosWrite = (index: number, value: number) => {
  data[0] = index;
  rtc.write(0x70, 0, data);
  data[0] = value;
  rtc.write(0x70, 1, data);
};

const extendedKiB = cmosRead(0x17) | (cmosRead(0x18) << 8); // 0xffff: capped at 64 MiB
const seconds = cmosRead(RtcIndex.Seconds); // 0x59 (BCD)

// The guest enables the update-ended interrupt; the VMM arms a timer for the moment IRQ 8 will rise.
cmosWrite(RtcIndex.RegisterB, RtcRegB.TwentyFourHour | RtcRegB.UpdateEndedInterruptEnable);
const wakeAt = rtc.nextEventNs(); // 1e9: the next second boundary
nowNs = wakeAt ?? nowNs;
rtc.poll(); // the timer fired: the update happened and IRQ 8 is high
const irqAfterUpdate = irq8;
// Register C: 0xF0 = IRQF | PF | AF | UF. Flags are set even when not enabled: PF by register A's 1024 Hz rate,
// AF because the all-zero alarm matches midnight. Reading clears them and lowers IRQ 8.
const flags = cmosRead(RtcIndex.RegisterC);
const date = [RtcIndex.Century, RtcIndex.Year, RtcIndex.Month, RtcIndex.DayOfMonth].map(cmosRead); // 20 24 03 01
// --- README example end ---

it("runs the README's RTC example", () => {
  expect(extendedKiB).toBe(0xffff);
  expect(seconds).toBe(0x59);
  expect(wakeAt).toBe(1e9);
  expect(irqAfterUpdate).toBe(true);
  expect(flags).toBe(0xf0);
  expect(irq8).toBe(false);
  expect(date).toEqual([0x20, 0x24, 0x03, 0x01]);
});

it("matches the README's code block", () => {
  const source = readFileSync(new URL("./rtc.example.test.ts", import.meta.url), "utf8");
  const importLine = source.split("\n").find((line) => line.endsWith('from "@tsvmm/device-model";'));
  const body = source.split("// --- README example start ---\n")[1].split("// --- README example end ---")[0];
  const readme = readFileSync(new URL("../README.md", import.meta.url), "utf8");
  const after = readme.split("<!-- tested by src/rtc.example.test.ts -->")[1] ?? "";
  const block = after.split("```ts\n")[1]?.split("```")[0] ?? "";
  expect(block).toBe(`${importLine}\n\n${body}`);
});

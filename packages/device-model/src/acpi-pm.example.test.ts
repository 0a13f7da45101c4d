// The README's AcpiPm example, kept here so it cannot rot: the README's code block after the comment naming this
// file is the package import below followed by the code between the markers, and the last test checks that they match.
import { readFileSync } from "node:fs";
import {
  ACPI_PM_S5_SLEEP_TYPE,
  AcpiPm,
  AcpiPmOffset,
  type BusDevice,
  Pm1Control,
  Pm1Enable,
  Pm1Status,
} from "@tsvmm/device-model";
import { expect, it } from "vitest";

// --- README example start ---
// The VMM's virtual clock (nanoseconds), the SCI wire (IRQ 9 on a PC) and the machine's power.
let nowNs = 0;
let sci = false;
let poweredOff = false;
const pm = new AcpiPm({
  clock: { nowNs: () => nowNs },
  sci: { set: (asserted) => (sci = asserted) },
  onPowerOff: () => (poweredOff = true),
});

// A PIO bus would map pm at 0x600 with length ACPI_PM_IO_LENGTH (16); the FADT points the OS at its blocks.
const data = new Uint8Array(4);
const outw = (device: BusDevice, offset: number, value: number) => {
  data[0] = value & 0xff;
  data[1] = value >> 8;
  device.write(0x600, offset, data.subarray(0, 2));
};
const inl = (device: BusDevice, offset: number) => {
  device.read(0x600, offset, data);
  return new DataView(data.buffer).getUint32(0, true);
};

// Guest: the PM timer runs at 3.579545 MHz on the virtual clock; 1 ms is 3579 ticks.
const before = inl(pm, AcpiPmOffset.Timer);
nowNs += 1_000_000;
const ticks = (inl(pm, AcpiPmOffset.Timer) - before) & 0xffffff; // 3579

// Guest: the ACPI driver enables the fixed power button. Host: the user presses it and the SCI rises.
outw(pm, AcpiPmOffset.Pm1Enable, Pm1Enable.PowerButton);
pm.powerButton();
const sciOnPress = sci; // true

// Guest: the handler clears PWRBTN_STS (write 1 to clear), then powers off: \_S5's SLP_TYP with SLP_EN.
outw(pm, AcpiPmOffset.Pm1Status, Pm1Status.PowerButton);
const sciAfterAck = sci; // false
outw(
  pm,
  AcpiPmOffset.Pm1Control,
  (ACPI_PM_S5_SLEEP_TYPE << Pm1Control.SleepTypeShift) | Pm1Control.SleepEnable,
);
// poweredOff === true
// --- README example end ---

it("runs the README's AcpiPm example", () => {
  expect(ticks).toBe(3579);
  expect(sciOnPress).toBe(true);
  expect(sciAfterAck).toBe(false);
  expect(poweredOff).toBe(true);
});

it("matches the README's code block", () => {
  const source = readFileSync(new URL("./acpi-pm.example.test.ts", import.meta.url), "utf8");
  const importStatement = /import \{[^;]*\} from "@tsvmm\/device-model";/.exec(source)?.[0];
  const body = source.split("// --- README example start ---\n")[1].split("// --- README example end ---")[0];
  const readme = readFileSync(new URL("../README.md", import.meta.url), "utf8");
  const after = readme.split("<!-- tested by src/acpi-pm.example.test.ts -->")[1] ?? "";
  const block = after.split("```ts\n")[1]?.split("```")[0] ?? "";
  expect(block).toBe(`${importStatement}\n\n${body}`);
});

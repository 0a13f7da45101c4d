import { describe, expect, it } from "vitest";
import { Mc146818Rtc } from "./mc146818-rtc.js";
import { PcCmosIndex, pcCmosChecksum, updatePcCmosChecksum, writePcCmosConfig } from "./pc-cmos.js";

const KiB = 1024;
const MiB = 1024 * KiB;
const GiB = 1024 * MiB;

function newRtc(): Mc146818Rtc {
  return new Mc146818Rtc({ irq: { set: () => {} }, clock: { nowNs: () => 0 }, startTime: new Date(0) });
}

/** What the guest reads through ports 0x70/0x71. */
function cmosByte(rtc: Mc146818Rtc, index: number): number {
  rtc.write(0x70, 0, Uint8Array.of(index));
  const data = new Uint8Array(1);
  rtc.read(0x70, 1, data);
  return data[0];
}

function word(rtc: Mc146818Rtc, low: number): number {
  return cmosByte(rtc, low) | (cmosByte(rtc, low + 1) << 8);
}

function storedChecksum(rtc: Mc146818Rtc): number {
  return (cmosByte(rtc, PcCmosIndex.ChecksumHigh) << 8) | cmosByte(rtc, PcCmosIndex.ChecksumLow);
}

function sumOfConfigBytes(rtc: Mc146818Rtc): number {
  let sum = 0;
  for (let i = 0x10; i <= 0x2d; i++) sum += cmosByte(rtc, i);
  return sum & 0xffff;
}

describe("writePcCmosConfig", () => {
  const cases = [
    // ram below 4 GiB, above, base KiB, extended KiB, 64 KiB units above 16 MiB, above 4 GiB in 64 KiB units
    { below: 512 * KiB, above: 0, base: 512, extended: 0, above16: 0, above4g: 0 },
    { below: 1 * MiB, above: 0, base: 640, extended: 0, above16: 0, above4g: 0 },
    { below: 2 * MiB, above: 0, base: 640, extended: 1024, above16: 0, above4g: 0 },
    { below: 16 * MiB, above: 0, base: 640, extended: 15 * 1024, above16: 0, above4g: 0 },
    { below: 32 * MiB, above: 0, base: 640, extended: 31 * 1024, above16: 256, above4g: 0 },
    { below: 64 * MiB, above: 0, base: 640, extended: 63 * 1024, above16: 768, above4g: 0 },
    { below: 65 * MiB, above: 0, base: 640, extended: 0xffff, above16: 784, above4g: 0 }, // 65536 KiB: capped
    { below: 128 * MiB, above: 0, base: 640, extended: 0xffff, above16: 1792, above4g: 0 },
    {
      below: 3 * GiB + 512 * MiB,
      above: 4 * GiB,
      base: 640,
      extended: 0xffff,
      above16: 0xdf00,
      above4g: 0x10000,
    },
  ];

  for (const c of cases) {
    it(`fills the memory bytes for ${c.below / KiB} KiB + ${c.above / KiB} KiB`, () => {
      const rtc = newRtc();
      writePcCmosConfig(rtc, { ramBelow4GiB: c.below, ramAbove4GiB: c.above });
      expect(word(rtc, PcCmosIndex.BaseMemoryLow)).toBe(c.base);
      expect(word(rtc, PcCmosIndex.ExtendedMemoryLow)).toBe(c.extended);
      expect(word(rtc, PcCmosIndex.ExtendedMemoryCopyLow)).toBe(c.extended);
      expect(word(rtc, PcCmosIndex.MemoryAbove16MiBLow)).toBe(c.above16);
      const above4g = cmosByte(rtc, 0x5b) | (cmosByte(rtc, 0x5c) << 8) | (cmosByte(rtc, 0x5d) << 16);
      expect(above4g).toBe(c.above4g);
      expect(storedChecksum(rtc)).toBe(sumOfConfigBytes(rtc));
      expect(storedChecksum(rtc)).toBe(pcCmosChecksum(rtc));
    });
  }

  it("counts a full 4 GiB below and caps memory above 4 GiB at 24 bits", () => {
    const rtc = newRtc();
    writePcCmosConfig(rtc, { ramBelow4GiB: 4 * GiB, ramAbove4GiB: 2 ** 50 });
    expect(word(rtc, PcCmosIndex.MemoryAbove16MiBLow)).toBe(0xff00);
    expect(cmosByte(rtc, 0x5b) | (cmosByte(rtc, 0x5c) << 8) | (cmosByte(rtc, 0x5d) << 16)).toBe(0xffffff);
  });

  it("sets the equipment byte and CPU count", () => {
    const rtc = newRtc();
    writePcCmosConfig(rtc, { ramBelow4GiB: 128 * MiB, cpus: 4 });
    expect(cmosByte(rtc, PcCmosIndex.Equipment)).toBe(0x06); // FPU and PS/2 mouse, as QEMU sets it
    expect(cmosByte(rtc, PcCmosIndex.CpuCountMinusOne)).toBe(3);
    writePcCmosConfig(rtc, {
      ramBelow4GiB: 128 * MiB,
      floppyDrives: 2,
      mathCoprocessor: false,
      ps2Mouse: false,
    });
    expect(cmosByte(rtc, PcCmosIndex.Equipment)).toBe(0x41);
    expect(storedChecksum(rtc)).toBe(sumOfConfigBytes(rtc));
  });

  it("computes the checksum big-endian over 0x10-0x2D only", () => {
    const rtc = newRtc();
    for (let i = 0x10; i <= 0x2d; i++) rtc.setNvram(i, 0xff);
    rtc.setNvram(0x30, 0x12); // outside the range: not summed
    updatePcCmosChecksum(rtc);
    expect(storedChecksum(rtc)).toBe(30 * 0xff);
    expect(cmosByte(rtc, 0x2e)).toBe((30 * 0xff) >> 8);
    expect(cmosByte(rtc, 0x2f)).toBe((30 * 0xff) & 0xff);
  });

  it("leaves the clock and century alone", () => {
    const rtc = newRtc();
    writePcCmosConfig(rtc, { ramBelow4GiB: 64 * MiB });
    expect(cmosByte(rtc, 0x32)).toBe(0x19);
    expect(cmosByte(rtc, 0x09)).toBe(0x70);
  });

  it("rejects bad configurations", () => {
    const rtc = newRtc();
    expect(() => writePcCmosConfig(rtc, { ramBelow4GiB: -1 })).toThrow(RangeError);
    expect(() => writePcCmosConfig(rtc, { ramBelow4GiB: Number.NaN })).toThrow(RangeError);
    expect(() => writePcCmosConfig(rtc, { ramBelow4GiB: MiB, cpus: 0 })).toThrow(RangeError);
    expect(() => writePcCmosConfig(rtc, { ramBelow4GiB: MiB, floppyDrives: 5 })).toThrow(RangeError);
  });
});

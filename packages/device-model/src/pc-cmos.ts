// The configuration bytes a PC BIOS keeps in CMOS RAM (IBM PC/AT layout plus the QEMU/Bochs extensions SeaBIOS
// reads), filled from the machine's memory map the way QEMU's pc_cmos_init does.

import type { Mc146818Rtc } from "./mc146818-rtc.js";

/** CMOS RAM indices of the PC configuration bytes. */
export const PcCmosIndex = {
  /** Equipment byte (the BIOS's INT 11h equipment word, low byte). */
  Equipment: 0x14,
  /** Base memory in KiB (0x15 low, 0x16 high), at most 640. */
  BaseMemoryLow: 0x15,
  BaseMemoryHigh: 0x16,
  /** Extended memory above 1 MiB in KiB, at most 65535 (0x17/0x18, repeated at 0x30/0x31). */
  ExtendedMemoryLow: 0x17,
  ExtendedMemoryHigh: 0x18,
  /** Checksum of 0x10-0x2D, high byte first. */
  ChecksumHigh: 0x2e,
  ChecksumLow: 0x2f,
  ExtendedMemoryCopyLow: 0x30,
  ExtendedMemoryCopyHigh: 0x31,
  /** Memory between 16 MiB and 4 GiB in 64 KiB units, at most 65535 (QEMU/Bochs). */
  MemoryAbove16MiBLow: 0x34,
  MemoryAbove16MiBHigh: 0x35,
  /** Memory above 4 GiB in 64 KiB units, 24 bits (QEMU/Bochs). */
  MemoryAbove4GiB0: 0x5b,
  MemoryAbove4GiB1: 0x5c,
  MemoryAbove4GiB2: 0x5d,
  /** Number of CPUs minus one (QEMU/Bochs). */
  CpuCountMinusOne: 0x5f,
} as const;

/** Equipment byte bits. */
export const PcEquipment = {
  FloppyInstalled: 0x01,
  MathCoprocessor: 0x02,
  Ps2Mouse: 0x04,
  /** Bits 4-5: primary display; 00 = EGA/VGA (has its own BIOS). */
  DisplayMask: 0x30,
  /** Bits 6-7: floppy drives minus one. */
  FloppyCountMask: 0xc0,
} as const;

export interface PcCmosConfig {
  /** Guest RAM below 4 GiB, in bytes. */
  ramBelow4GiB: number;
  /** Guest RAM above 4 GiB, in bytes (default 0). */
  ramAbove4GiB?: number;
  /** Default 1. */
  cpus?: number;
  /** Floppy drives, 0-4 (default 0). */
  floppyDrives?: number;
  /** Default true: every PC since the 486 has one. */
  mathCoprocessor?: boolean;
  /** Default true: the i8042 has its aux port. */
  ps2Mouse?: boolean;
}

const KIB = 1024;
const MIB = 1024 * KIB;
const UNIT_64K = 64 * KIB;
const CHECKSUM_FIRST = 0x10;
const CHECKSUM_LAST = 0x2d;

/**
 * Writes the memory-size bytes, the CPU count and the equipment byte into the RTC's CMOS RAM and then the
 * checksum over 0x10-0x2D, as a BIOS (or QEMU, for SeaBIOS) would. The century byte is kept by the RTC itself.
 */
export function writePcCmosConfig(rtc: Mc146818Rtc, config: PcCmosConfig): void {
  const below = nonNegative(config.ramBelow4GiB, "ramBelow4GiB");
  const above = nonNegative(config.ramAbove4GiB ?? 0, "ramAbove4GiB");
  const cpus = config.cpus ?? 1;
  if (!Number.isInteger(cpus) || cpus < 1 || cpus > 256)
    throw new RangeError(`PC CMOS: bad CPU count ${cpus}`);
  const floppies = config.floppyDrives ?? 0;
  if (!Number.isInteger(floppies) || floppies < 0 || floppies > 4) {
    throw new RangeError(`PC CMOS: bad floppy drive count ${floppies}`);
  }

  const baseKiB = Math.min(Math.floor(below / KIB), 640);
  writeWord(rtc, PcCmosIndex.BaseMemoryLow, baseKiB);
  const extendedKiB = below > MIB ? Math.min(Math.floor((below - MIB) / KIB), 0xffff) : 0;
  writeWord(rtc, PcCmosIndex.ExtendedMemoryLow, extendedKiB);
  writeWord(rtc, PcCmosIndex.ExtendedMemoryCopyLow, extendedKiB);
  const above16MiB = below > 16 * MIB ? Math.min(Math.floor((below - 16 * MIB) / UNIT_64K), 0xffff) : 0;
  writeWord(rtc, PcCmosIndex.MemoryAbove16MiBLow, above16MiB);
  const above4GiB = Math.min(Math.floor(above / UNIT_64K), 0xffffff);
  rtc.setNvram(PcCmosIndex.MemoryAbove4GiB0, above4GiB & 0xff);
  rtc.setNvram(PcCmosIndex.MemoryAbove4GiB1, (above4GiB >>> 8) & 0xff);
  rtc.setNvram(PcCmosIndex.MemoryAbove4GiB2, above4GiB >>> 16);
  rtc.setNvram(PcCmosIndex.CpuCountMinusOne, cpus - 1);

  let equipment = 0;
  if (floppies > 0) equipment |= PcEquipment.FloppyInstalled | ((floppies - 1) << 6);
  if (config.mathCoprocessor ?? true) equipment |= PcEquipment.MathCoprocessor;
  if (config.ps2Mouse ?? true) equipment |= PcEquipment.Ps2Mouse;
  rtc.setNvram(PcCmosIndex.Equipment, equipment);

  updatePcCmosChecksum(rtc);
}

/** The standard AT checksum: the 16-bit sum of bytes 0x10-0x2D, stored high byte first at 0x2E/0x2F. */
export function pcCmosChecksum(rtc: Mc146818Rtc): number {
  let sum = 0;
  for (let i = CHECKSUM_FIRST; i <= CHECKSUM_LAST; i++) sum += rtc.getNvram(i);
  return sum & 0xffff;
}

/** Recomputes the checksum after configuration bytes in 0x10-0x2D changed. */
export function updatePcCmosChecksum(rtc: Mc146818Rtc): void {
  const sum = pcCmosChecksum(rtc);
  rtc.setNvram(PcCmosIndex.ChecksumHigh, sum >>> 8);
  rtc.setNvram(PcCmosIndex.ChecksumLow, sum & 0xff);
}

function writeWord(rtc: Mc146818Rtc, lowIndex: number, value: number): void {
  rtc.setNvram(lowIndex, value & 0xff);
  rtc.setNvram(lowIndex + 1, value >>> 8);
}

function nonNegative(value: number, name: string): number {
  if (typeof value !== "number" || !Number.isFinite(value) || value < 0) {
    throw new RangeError(`PC CMOS: ${name} must be a non-negative byte count`);
  }
  return value;
}

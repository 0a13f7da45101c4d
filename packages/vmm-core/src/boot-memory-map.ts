import { PC_LAYOUT } from "./pc-layout.js";

/** E820 address range types (ACPI's AddressRangeMemory / AddressRangeReserved). */
export const E820_RAM = 1;
export const E820_RESERVED = 2;

/** One range of the firmware memory map a loader hands to the kernel. */
export interface E820Entry {
  address: number;
  size: number;
  type: number;
}

/** A half-open guest-physical range [start, end). */
export interface GuestRange {
  start: number;
  end: number;
}

/**
 * Where usable low memory ends: the top 1 KiB below 640 KiB is the Extended BIOS Data Area on a PC,
 * which firmware reports as reserved.
 */
export const LOW_RAM_END = 0x9fc00;

const FOUR_GIB = 2 ** 32;

/**
 * The PC's memory map as a BIOS reports it for `addPcRam(ramSize)` plus `loadFirmware(rom)`: usable
 * low memory, the EBDA/VGA/ROM area reserved, usable RAM from 1 MiB to the end of RAM, and the
 * firmware image below 4 GiB reserved (omitted when there is none).
 */
export function pcE820Map(ramSize: number, firmwareSize = 0): E820Entry[] {
  if (!Number.isInteger(ramSize) || ramSize < PC_LAYOUT.minimumRam || ramSize > PC_LAYOUT.maximumRam) {
    throw new RangeError(
      `guest RAM size must be an integer from ${PC_LAYOUT.minimumRam} to ${PC_LAYOUT.maximumRam} bytes, got ${ramSize}`,
    );
  }
  if (!Number.isInteger(firmwareSize) || firmwareSize < 0 || firmwareSize > PC_LAYOUT.maximumFirmware) {
    throw new RangeError(
      `firmware size must be 0 to ${PC_LAYOUT.maximumFirmware} bytes, got ${firmwareSize}`,
    );
  }
  const map: E820Entry[] = [
    { address: 0, size: LOW_RAM_END, type: E820_RAM },
    { address: LOW_RAM_END, size: PC_LAYOUT.extendedStart - LOW_RAM_END, type: E820_RESERVED },
    { address: PC_LAYOUT.extendedStart, size: ramSize - PC_LAYOUT.extendedStart, type: E820_RAM },
  ];
  if (firmwareSize > 0)
    map.push({ address: FOUR_GIB - firmwareSize, size: firmwareSize, type: E820_RESERVED });
  return map;
}

/** True when [start, start + length) lies inside one usable (E820_RAM) range of `map`. */
export function isUsableRam(map: readonly E820Entry[], start: number, length: number): boolean {
  if (!Number.isFinite(start) || !Number.isFinite(length) || start < 0 || length < 0) return false;
  return map.some(
    (entry) =>
      entry.type === E820_RAM && start >= entry.address && start + length <= entry.address + entry.size,
  );
}

export function overlaps(a: GuestRange, b: GuestRange): boolean {
  return a.start < b.end && b.start < a.end;
}

export function alignUp(value: number, alignment: number): number {
  return Math.ceil(value / alignment) * alignment;
}

export function alignDown(value: number, alignment: number): number {
  return Math.floor(value / alignment) * alignment;
}

/**
 * The lowest `alignment`-aligned address at or above `lowest` where `size` bytes fit in usable RAM
 * without touching any `occupied` range, or -1 when there is none. One sweep over the occupied ranges
 * in address order, so thousands of them cost no more than a sort.
 */
export function findFreeRange(
  map: readonly E820Entry[],
  occupied: readonly GuestRange[],
  size: number,
  alignment: number,
  lowest = 0,
): number {
  const usable = map.filter((entry) => entry.type === E820_RAM).sort((a, b) => a.address - b.address);
  const byStart = [...occupied].sort((a, b) => a.start - b.start);
  for (const entry of usable) {
    let candidate = alignUp(Math.max(entry.address, lowest), alignment);
    // The candidate only moves up, past each blocker in turn: a range passed once never blocks again.
    for (const blocker of byStart) {
      if (blocker.start >= candidate + Math.max(size, 1)) break;
      if (blocker.end > candidate) candidate = alignUp(blocker.end, alignment);
    }
    if (candidate + size <= entry.address + entry.size) return candidate;
  }
  return -1;
}

/**
 * The highest `alignment`-aligned address where `size` bytes fit in usable RAM, end at or below
 * `limit` and touch no `occupied` range, or -1 when there is none. Initrds go here: as high as allowed.
 */
export function findFreeRangeBelow(
  map: readonly E820Entry[],
  occupied: readonly GuestRange[],
  size: number,
  alignment: number,
  limit: number,
): number {
  const usable = map.filter((entry) => entry.type === E820_RAM).sort((a, b) => b.address - a.address);
  const byEnd = [...occupied].sort((a, b) => b.end - a.end);
  for (const entry of usable) {
    let candidate = alignDown(Math.min(entry.address + entry.size, limit) - size, alignment);
    // The mirror image of findFreeRange: the candidate only moves down, below each blocker in turn.
    for (const blocker of byEnd) {
      if (blocker.end <= candidate) break;
      if (blocker.start < candidate + Math.max(size, 1))
        candidate = alignDown(blocker.start - size, alignment);
    }
    if (candidate >= entry.address) return candidate;
  }
  return -1;
}

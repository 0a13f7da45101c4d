// Base address registers: their layout in configuration space, the masks that make BAR sizing work, and where a
// BAR's region is decoded (if anywhere) for a given command register and BAR value.

import type { BusDevice } from "./bus-device.js";
import { PciBarBits, PciCommand } from "./pci-registers.js";

/** A 32-bit memory BAR, a 64-bit memory BAR (two BAR slots), or an I/O BAR. */
export type PciBarKind = "memory32" | "memory64" | "io";

/** One BAR of a function. */
export interface PciBarDefinition {
  /** BAR slot 0-5 (a 64-bit BAR also takes slot index + 1). */
  index: number;
  kind: PciBarKind;
  /** Size in bytes: a power of two, 16 bytes to 2 GiB (memory32), 16 bytes to 2^48 (memory64), 4-256 (io). */
  size: number;
  /** Memory BARs: the prefetchable bit (default false). */
  prefetchable?: boolean;
  /** The registers behind the BAR: the VMM maps this on its MMIO or PIO bus where the guest puts the BAR. */
  region: BusDevice;
}

/**
 * x86's physical address width limit: a 64-bit BAR placed at or beyond 2^52 cannot be reached and counts as
 * unmapped (this also keeps every address an exact JavaScript number).
 */
export const PCI_MEMORY_LIMIT = 2 ** 52;
/** The x86 I/O port space: an I/O BAR must end at or below port 0xffff to be mapped. */
export const PCI_IO_LIMIT = 0x10000;

const TWO_32 = 2 ** 32;

/** Checks a BAR definition (at wiring time: a RangeError names what is wrong). */
export function validateBar(bar: PciBarDefinition): void {
  const { index, kind, size } = bar;
  const maxIndex = kind === "memory64" ? 4 : 5;
  if (!Number.isInteger(index) || index < 0 || index > maxIndex) {
    throw new RangeError(`BAR index ${index} is not valid for a ${kind} BAR`);
  }
  const [min, max] = kind === "io" ? [4, 256] : kind === "memory32" ? [16, 2 ** 31] : [16, 2 ** 48];
  if (!Number.isInteger(size) || size < min || size > max || !isPowerOfTwo(size)) {
    throw new RangeError(`BAR ${index}: size ${size} is not a power of two in ${min}-${max}`);
  }
  if (kind === "io" && bar.prefetchable === true)
    throw new RangeError(`BAR ${index}: I/O BARs are not prefetchable`);
}

/** The read-only type bits in the low dword of a BAR. */
export function barTypeBits(bar: PciBarDefinition): number {
  if (bar.kind === "io") return PciBarBits.Io;
  return (
    (bar.kind === "memory64" ? PciBarBits.Memory64 : 0) |
    (bar.prefetchable === true ? PciBarBits.Prefetchable : 0)
  );
}

/** The guest-writable address bits of the BAR's low dword: a guest writing all ones reads back the size mask. */
export function barLowWritable(bar: PciBarDefinition): number {
  if (bar.size >= TWO_32) return 0;
  return (~(bar.size - 1) & (bar.kind === "io" ? 0xfffffffc : 0xfffffff0)) >>> 0;
}

/** The guest-writable bits of a 64-bit BAR's high dword. */
export function barHighWritable(bar: PciBarDefinition): number {
  return bar.size > TWO_32 ? ~(bar.size / TWO_32 - 1) >>> 0 : 0xffffffff;
}

/**
 * Where the BAR's region is decoded, or -1 when it is not: decoding needs the command register's I/O or memory
 * enable, a non-zero address and a range inside the address space (I/O: ports 0-0xffff; memory: below 4 GiB for
 * a 32-bit BAR, below 2^52 for a 64-bit one) that does not reach the last byte of a memory space, so a memory BAR
 * holding the sizing pattern of all ones is never mapped (as in QEMU).
 */
export function barAddress(bar: PciBarDefinition, command: number, low: number, high: number): number {
  if (bar.kind === "io") {
    if ((command & PciCommand.IoSpace) === 0) return -1;
    const address = (low & 0xfffffffc) >>> 0;
    return address !== 0 && address + bar.size <= PCI_IO_LIMIT ? address : -1;
  }
  if ((command & PciCommand.MemorySpace) === 0) return -1;
  const address = (low & 0xfffffff0) >>> 0;
  if (bar.kind === "memory32") return address !== 0 && address + bar.size < TWO_32 ? address : -1;
  const wide = high * TWO_32 + address;
  return wide !== 0 && wide + bar.size < PCI_MEMORY_LIMIT ? wide : -1;
}

function isPowerOfTwo(value: number): boolean {
  return value > 0 && 2 ** Math.round(Math.log2(value)) === value;
}

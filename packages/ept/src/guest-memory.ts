/**
 * The consumer-side view of guest RAM that devices (DMA engines, virtqueues) read and write through.
 * Addresses are guest-physical byte addresses (exact as JS numbers below 2^53). Every access either
 * touches only RAM or throws a GuestMemoryError: a hostile guest pointing a device at MMIO, at a hole
 * or past the end of RAM gets a clean error, never host memory.
 */
export interface GuestMemory {
  /** True when every byte of [gpa, gpa + length) is RAM (and writable, if `forWrite`). */
  isRam(gpa: number, length: number, forWrite?: boolean): boolean;
  /** Copies guest bytes [gpa, gpa + dst.length) into dst. */
  read(gpa: number, dst: Uint8Array): void;
  /** Copies src into guest bytes [gpa, gpa + src.length). */
  write(gpa: number, src: Uint8Array): void;
  readU8(gpa: number): number;
  readU16(gpa: number): number;
  readU32(gpa: number): number;
  /** A 64-bit little-endian value as a JS number; throws if it is 2^53 or more (not exactly representable). */
  readU64(gpa: number): number;
  writeU8(gpa: number, value: number): void;
  writeU16(gpa: number, value: number): void;
  writeU32(gpa: number, value: number): void;
  /** Writes a 64-bit little-endian value from its low and high 32-bit halves. */
  writeU64(gpa: number, lo: number, hi: number): void;
}

/** Raised when a guest-memory access touches bytes that are not RAM (or are read-only, for writes). */
export class GuestMemoryError extends Error {
  constructor(
    readonly gpa: number,
    readonly length: number,
    readonly write: boolean,
  ) {
    super(
      `guest ${write ? "write" : "read"} of ${length} byte(s) at 0x${gpa.toString(16)} is outside guest RAM`,
    );
    this.name = "GuestMemoryError";
  }
}

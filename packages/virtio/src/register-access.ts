// Little-endian register accesses as the buses hand them to a transport: data.length is the access width (1, 2, 4
// or 8 bytes). Registers are at most 32 bits wide except the 64-bit ring addresses, which arrive as two halves.

/** The unsigned value of the first min(data.length, 4) bytes, little-endian. */
export function accessValue(data: Uint8Array): number {
  let value = 0;
  for (let i = Math.min(data.length, 4) - 1; i >= 0; i--) value = (value << 8) | data[i];
  return value >>> 0;
}

/** The unsigned value of bytes 4-7 (the high half of an 8-byte access; 0 for narrower ones). */
export function accessHighValue(data: Uint8Array): number {
  let value = 0;
  for (let i = Math.min(data.length, 8) - 1; i >= 4; i--) value = (value << 8) | data[i];
  return value >>> 0;
}

/** Fills a read access with `low` (bytes 0-3) and `high` (bytes 4-7), little-endian. */
export function fillAccess(data: Uint8Array, low: number, high = 0): void {
  for (let i = 0; i < data.length; i++) {
    data[i] = i < 4 ? (low >>> (8 * i)) & 0xff : i < 8 ? (high >>> (8 * (i - 4))) & 0xff : 0;
  }
}

/** Whether an access of `width` bytes at `offset` is naturally aligned and one of 1, 2, 4 or 8 bytes wide. */
export function isNaturalAccess(offset: number, width: number): boolean {
  return (width === 1 || width === 2 || width === 4 || width === 8) && offset % width === 0;
}

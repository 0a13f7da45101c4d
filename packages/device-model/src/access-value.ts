// Little-endian access values of up to 32 bits, for devices whose registers are a single value wider than a byte.

/** The value carried by the first min(data.length, 4) bytes of an access, little-endian, as an unsigned 32-bit number. */
export function accessValue(data: Uint8Array): number {
  let value = 0;
  const width = Math.min(data.length, 4);
  for (let i = width - 1; i >= 0; i--) value = (value << 8) | data[i];
  return value >>> 0;
}

/** Fills a read access with value, little-endian: bytes past the fourth read as 0. */
export function fillAccessValue(data: Uint8Array, value: number): void {
  for (let i = 0; i < data.length; i++) {
    data[i] = i < 4 ? (value >>> (8 * i)) & 0xff : 0;
  }
}

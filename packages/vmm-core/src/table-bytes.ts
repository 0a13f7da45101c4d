// Byte helpers shared by the firmware table builders (ACPI tables, AML, the MP table).

/** Concatenates byte arrays. */
export function concatBytes(parts: readonly Uint8Array[]): Uint8Array {
  let length = 0;
  for (const part of parts) length += part.length;
  const out = new Uint8Array(length);
  let at = 0;
  for (const part of parts) {
    out.set(part, at);
    at += part.length;
  }
  return out;
}

/** `value` (a non-negative integer below 2^53) as `bytes` little-endian bytes. */
export function littleEndianBytes(value: number, bytes: number): number[] {
  const out: number[] = [];
  for (let i = 0; i < bytes; i++) out.push(Math.floor(value / 2 ** (8 * i)) & 0xff);
  return out;
}

/** The byte that makes the sum of `bytes[start, end)` zero modulo 256, once stored in one of them that is 0. */
export function checksumByte(bytes: Uint8Array, start = 0, end = bytes.length): number {
  let sum = 0;
  for (let i = start; i < end; i++) sum += bytes[i];
  return (0x100 - (sum & 0xff)) & 0xff;
}

/** Writes `text` as ASCII into `length` bytes at `offset`, padded with `pad` (a RangeError if it does not fit). */
export function writeAscii(bytes: Uint8Array, offset: number, text: string, length: number, pad = " "): void {
  if (text.length > length) throw new RangeError(`"${text}" is longer than its ${length}-byte field`);
  const padded = text.padEnd(length, pad);
  for (let i = 0; i < length; i++) {
    const code = padded.charCodeAt(i);
    if (code > 0x7e) throw new RangeError(`"${text}" is not ASCII`);
    bytes[offset + i] = code;
  }
}

/** Writes a 64-bit little-endian value (below 2^53) at `offset`. */
export function setUint64(view: DataView, offset: number, value: number): void {
  view.setUint32(offset, value % 2 ** 32, true);
  view.setUint32(offset + 4, Math.floor(value / 2 ** 32), true);
}

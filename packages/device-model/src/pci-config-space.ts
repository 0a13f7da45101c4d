// The 256 bytes of one PCI function's configuration space, with per-bit access rights: read-only (the default),
// writable by the guest, or write-1-to-clear (status and error bits).

/** A register in configuration space as the function defines it. */
export interface PciRegisterDefinition {
  /** Initial and reset value (default 0). */
  value?: number;
  /** Bits the guest may write (default none: read-only). */
  writable?: number;
  /** Bits a guest write of 1 clears (default none). Must not overlap `writable`. */
  writeOneToClear?: number;
}

const SIZE = 256;

/**
 * Configuration space storage. The guest side (read/write) applies the access masks and never throws: bytes
 * past 0xff read 0xff and ignore writes. The device side (byte/word/dword, setByte/setWord/setDword, define)
 * sees and changes every bit, and throws a RangeError for offsets outside the space (a programming error).
 * Multi-byte values are little-endian.
 */
export class PciConfigSpace {
  private readonly bytes = new Uint8Array(SIZE);
  private readonly writableBits = new Uint8Array(SIZE);
  private readonly clearBits = new Uint8Array(SIZE);
  private readonly resetImage = new Uint8Array(SIZE);

  /** A guest read: fills data from `offset` on. */
  read(offset: number, data: Uint8Array): void {
    for (let i = 0; i < data.length; i++) {
      const at = offset + i;
      data[i] = at >= 0 && at < SIZE ? this.bytes[at] : 0xff;
    }
  }

  /** A guest write: writable bits take the new value, write-1-to-clear bits written as 1 clear, others stay. */
  write(offset: number, data: Uint8Array): void {
    for (let i = 0; i < data.length; i++) {
      const at = offset + i;
      if (!(at >= 0 && at < SIZE)) continue;
      const value = data[i];
      const writable = this.writableBits[at];
      this.bytes[at] = ((this.bytes[at] & ~writable) | (value & writable)) & ~(value & this.clearBits[at]);
    }
  }

  byte(offset: number): number {
    check(offset, 1);
    return this.bytes[offset];
  }

  word(offset: number): number {
    check(offset, 2);
    return this.bytes[offset] | (this.bytes[offset + 1] << 8);
  }

  dword(offset: number): number {
    check(offset, 4);
    return (
      (this.bytes[offset] |
        (this.bytes[offset + 1] << 8) |
        (this.bytes[offset + 2] << 16) |
        (this.bytes[offset + 3] << 24)) >>>
      0
    );
  }

  /** Device side: sets a byte regardless of the access masks (status bits, capability contents...). */
  setByte(offset: number, value: number): void {
    this.setValue(offset, 1, value);
  }

  setWord(offset: number, value: number): void {
    this.setValue(offset, 2, value);
  }

  setDword(offset: number, value: number): void {
    this.setValue(offset, 4, value);
  }

  /** Device side: a register of `width` bytes (1-4) with its value, reset value and access masks. */
  define(offset: number, width: number, definition: PciRegisterDefinition): void {
    check(offset, width);
    if (width > 4) throw new RangeError(`a PCI register is at most 4 bytes wide, not ${width}`);
    const value = definition.value ?? 0;
    const writable = definition.writable ?? 0;
    const clear = definition.writeOneToClear ?? 0;
    if ((writable & clear) !== 0) throw new RangeError("a bit cannot be writable and write-1-to-clear");
    for (let i = 0; i < width; i++) {
      const shift = 8 * i;
      this.bytes[offset + i] = value >>> shift;
      this.resetImage[offset + i] = value >>> shift;
      this.writableBits[offset + i] = writable >>> shift;
      this.clearBits[offset + i] = clear >>> shift;
    }
  }

  /** The guest-writable bits of the byte at `offset`. */
  writableMask(offset: number): number {
    check(offset, 1);
    return this.writableBits[offset];
  }

  /** The write-1-to-clear bits of the byte at `offset`. */
  writeOneToClearMask(offset: number): number {
    check(offset, 1);
    return this.clearBits[offset];
  }

  /** Returns every guest-changeable bit to its defined value; read-only bits belong to the device. */
  resetGuestBits(): void {
    for (let at = 0; at < SIZE; at++) {
      const guest = this.writableBits[at] | this.clearBits[at];
      this.bytes[at] = (this.bytes[at] & ~guest) | (this.resetImage[at] & guest);
    }
  }

  /** All 256 bytes, for a snapshot. */
  toArray(): number[] {
    return Array.from(this.bytes);
  }

  /**
   * Takes the guest-changeable bits of each byte from a snapshot (missing or malformed bytes keep their value);
   * read-only bits belong to the device and its own state.
   */
  restoreGuestBits(bytes: unknown): void {
    if (!Array.isArray(bytes)) return;
    for (let at = 0; at < SIZE; at++) {
      const value: unknown = bytes[at];
      if (typeof value !== "number" || !Number.isFinite(value)) continue;
      const guest = this.writableBits[at] | this.clearBits[at];
      this.bytes[at] = (this.bytes[at] & ~guest) | (value & guest);
    }
  }

  private setValue(offset: number, width: number, value: number): void {
    check(offset, width);
    for (let i = 0; i < width; i++) this.bytes[offset + i] = value >>> (8 * i);
  }
}

function check(offset: number, width: number): void {
  if (!Number.isInteger(offset) || offset < 0 || offset + width > SIZE) {
    throw new RangeError(`configuration space offset ${offset} (+${width}) is outside 0-255`);
  }
}

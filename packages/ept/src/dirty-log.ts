const PAGE_SHIFT = 12;

/**
 * Bytes of a KVM_GET_DIRTY_LOG bitmap for a slot of `memorySize` bytes: one bit per 4 KiB page,
 * rounded up to whole 64-bit words as KVM rounds to `unsigned long`s on a 64-bit host.
 */
export function dirtyBitmapBytes(memorySize: number): number {
  const pages = Math.ceil(memorySize / (1 << PAGE_SHIFT));
  return Math.ceil(pages / 64) * 8;
}

/**
 * The dirty-page log of one memory slot: bit `page` of the bitmap (byte page >> 3, bit page & 7,
 * KVM's little-endian layout) is set once the page has been written since the last fetch.
 */
export class DirtyLog {
  readonly bits: Uint8Array;
  readonly pages: number;

  constructor(memorySize: number) {
    this.pages = Math.ceil(memorySize / (1 << PAGE_SHIFT));
    this.bits = new Uint8Array(dirtyBitmapBytes(memorySize));
  }

  /** Marks the pages [first, last] (page numbers inside the slot) dirty; out-of-range pages are ignored. */
  mark(first: number, last: number): void {
    const bits = this.bits;
    const end = Math.min(last, this.pages - 1);
    for (let page = Math.max(first, 0); page <= end; page++) bits[page >>> 3] |= 1 << (page & 7);
  }

  isDirty(page: number): boolean {
    return (this.bits[page >>> 3] & (1 << (page & 7))) !== 0;
  }

  /** Copies the bitmap into `into` (or a new array) and clears it: KVM_GET_DIRTY_LOG. */
  fetch(into: Uint8Array | undefined): Uint8Array {
    const out = into ?? new Uint8Array(this.bits.length);
    out.set(this.bits);
    out.fill(0, this.bits.length);
    this.bits.fill(0);
    return out;
  }
}

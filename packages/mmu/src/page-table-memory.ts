import type { MemorySlot, PhysicalMemory } from "@tsvmm/ept";

const FOUR_GIB = 0x1_0000_0000;

/** Int32Array views agree with the guest's little-endian layout only on a little-endian host. */
const HOST_LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/**
 * Reads paging-structure entries from guest-physical memory and updates their accessed/dirty bits
 * the way hardware does: a compare-and-set on the entry's low dword, so a change made meanwhile by
 * another vCPU (sharing the slot's SharedArrayBuffer) is noticed and the walk restarts.
 *
 * Entries are naturally aligned and slots are page-granular, so an entry never straddles slots.
 */
export class PageTableMemory {
  /** The entry read last: its dwords, its slot and its byte offset in the slot. */
  low = 0;
  high = 0;
  slot: MemorySlot | undefined = undefined;
  offset = 0;
  /** A/D write-backs performed (each one changed an entry). */
  writeBacks = 0;
  private readonly sharedViews = new WeakMap<Uint8Array, Int32Array | null>();

  constructor(private readonly memory: PhysicalMemory) {}

  /** Reads the 4- or 8-byte entry at (addressHigh:addressLow); false when it is not RAM. */
  read(addressLow: number, addressHigh: number, wide: boolean): boolean {
    const address = addressHigh * FOUR_GIB + (addressLow >>> 0);
    const slot = this.memory.findSlot(address);
    if (slot === undefined) return false;
    const offset = address - slot.guestPhysAddr;
    const b = slot.bytes;
    this.slot = slot;
    this.offset = offset;
    this.low = b[offset] | (b[offset + 1] << 8) | (b[offset + 2] << 16) | (b[offset + 3] << 24);
    this.high = wide
      ? b[offset + 4] | (b[offset + 5] << 8) | (b[offset + 6] << 16) | (b[offset + 7] << 24)
      : 0;
    return true;
  }

  /**
   * Sets `bits` in the low dword of the entry at `offset` of `slot` if it still holds `expected`.
   * Returns false (nothing written) when it changed since it was read. With `force`, the bits are
   * ORed in whatever the entry holds (used to end a walk that keeps losing races). Writes to a
   * read-only slot are dropped, as ROM drops them. A write is recorded in the slot's dirty log.
   */
  setBits(slot: MemorySlot, offset: number, expected: number, bits: number, force: boolean): boolean {
    if (slot.readOnly) return true;
    const shared = this.sharedView(slot.bytes);
    if (shared !== null && offset % 4 === 0) {
      const index = offset / 4;
      if (force) Atomics.or(shared, index, bits);
      else if (Atomics.compareExchange(shared, index, expected, expected | bits) !== expected) return false;
      this.wrote(slot, offset);
      return true;
    }
    const b = slot.bytes;
    const current = b[offset] | (b[offset + 1] << 8) | (b[offset + 2] << 16) | (b[offset + 3] << 24);
    if (current !== expected && !force) return false;
    const value = current | bits;
    b[offset] = value;
    b[offset + 1] = value >>> 8;
    b[offset + 2] = value >>> 16;
    b[offset + 3] = value >>> 24;
    this.wrote(slot, offset);
    return true;
  }

  private wrote(slot: MemorySlot, offset: number): void {
    this.writeBacks++;
    this.memory.markDirty(slot.guestPhysAddr + offset, 4);
  }

  /** An Int32Array over a slot backed by shared memory, so entry updates can be atomic. */
  private sharedView(bytes: Uint8Array): Int32Array | null {
    let view = this.sharedViews.get(bytes);
    if (view === undefined) {
      view = null;
      if (
        HOST_LITTLE_ENDIAN &&
        typeof SharedArrayBuffer !== "undefined" &&
        bytes.buffer instanceof SharedArrayBuffer &&
        bytes.byteOffset % 4 === 0
      ) {
        view = new Int32Array(bytes.buffer, bytes.byteOffset, bytes.byteLength >>> 2);
      }
      this.sharedViews.set(bytes, view);
    }
    return view;
  }
}

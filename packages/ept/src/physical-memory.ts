import { DirtyLog } from "./dirty-log.js";
import { type GuestMemory, GuestMemoryError } from "./guest-memory.js";

export const PAGE_SHIFT = 12;
export const PAGE_SIZE = 1 << PAGE_SHIFT;

/** Pages below 4 GiB are looked up in a flat table; the rare slots above go through a short list. */
const LOW_PAGES = 1 << 20;
const FOUR_GIB = 0x1_0000_0000;
/** Guest-physical addresses are limited to 52 bits, as on x86. */
export const MAX_GUEST_PHYS_ADDR = 2 ** 52;

/** What KVM_SET_USER_MEMORY_REGION takes, with a typed array standing in for userspace_addr. */
export interface MemoryRegion {
  slot: number;
  guestPhysAddr: number;
  /** Size in bytes, a multiple of 4 KiB. Zero deletes the slot. */
  memorySize: number;
  /** Host memory backing the slot; at least memorySize bytes. Allocated when omitted. */
  userspaceMemory?: Uint8Array;
  /** KVM_MEM_READONLY: guest writes become MMIO exits instead of changing the bytes. */
  readOnly?: boolean;
  /**
   * KVM_MEM_LOG_DIRTY_PAGES: record which pages are written (by the guest's CPUs, by devices
   * through this object, by the page walker's A/D updates) for getDirtyLog().
   */
  logDirtyPages?: boolean;
}

/** One memory slot: a guest-physical range backed by a host byte array. */
export interface MemorySlot {
  readonly id: number;
  readonly guestPhysAddr: number;
  readonly size: number;
  readonly bytes: Uint8Array;
  readonly readOnly: boolean;
  /** KVM_MEM_LOG_DIRTY_PAGES is set: writes are logged until the flag is cleared. */
  readonly logDirtyPages: boolean;
}

/** A live slot with its dirty log (present while logging is on). */
interface SlotRecord extends MemorySlot {
  logDirtyPages: boolean;
  dirtyLog: DirtyLog | undefined;
}

export class MemoryRegionError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "MemoryRegionError";
  }
}

/** Notified after a write through PhysicalMemory, with the guest-physical range written. */
export type WriteListener = (guestPhysAddr: number, length: number) => void;

/** Notified after any slot change, with the guest-physical ranges whose mapping changed. */
export type SlotChangeListener = (guestPhysAddr: number, size: number) => void;

/**
 * Notified when writes to a guest-physical range must be seen again: the range's dirty log was
 * fetched and cleared, or logging was switched on. Caches that let writes bypass this object (a
 * TLB's write fast path) close it for the range and report writes through markDirty() again.
 */
export type WriteProtectListener = (guestPhysAddr: number, size: number) => void;

/**
 * Guest-physical memory made of KVM-style memory slots. Lookups are page-granular: the CPU caches
 * (page -> slot) in its TLB and re-resolves after a change notification.
 */
export class PhysicalMemory implements GuestMemory {
  /** Dense list of live slots; slotIndexByPage refers into it (index + 1, 0 = no slot). */
  private readonly slots: SlotRecord[] = [];
  private readonly slotIndexByPage = new Uint16Array(LOW_PAGES);
  private readonly listeners: SlotChangeListener[] = [];
  private readonly writeListeners: WriteListener[] = [];
  private readonly writeProtectListeners: WriteProtectListener[] = [];
  /** Slots with KVM_MEM_LOG_DIRTY_PAGES: while 0, nothing on the write paths looks at dirty logs. */
  private loggingSlots = 0;
  /** Incremented on every slot change, so cached translations can be validated cheaply. */
  generation = 0;

  /**
   * KVM_SET_USER_MEMORY_REGION: creates, moves, resizes, changes flags of, or (size 0) deletes a slot.
   * Switching only KVM_MEM_LOG_DIRTY_PAGES (same address, size, read-only flag and the slot's own
   * `bytes` as userspaceMemory, as KVM wants the same userspace_addr) keeps the slot and its
   * translations; any other change replaces the slot, with an empty dirty log.
   */
  setUserMemoryRegion(region: MemoryRegion): MemorySlot | undefined {
    const { slot: id, guestPhysAddr, memorySize } = region;
    if (!Number.isInteger(id) || id < 0 || id > 0x7fff) throw new MemoryRegionError(`bad slot id ${id}`);
    const existing = this.slots.findIndex((s) => s.id === id);
    const logDirtyPages = region.logDirtyPages === true;
    if (existing >= 0) {
      const old = this.slots[existing];
      if (
        old.guestPhysAddr === guestPhysAddr &&
        old.size === memorySize &&
        old.bytes === region.userspaceMemory &&
        old.readOnly === (region.readOnly === true) &&
        old.logDirtyPages !== logDirtyPages
      ) {
        this.setDirtyLogging(old, logDirtyPages);
        return old;
      }
    }
    if (memorySize === 0) {
      if (existing < 0) throw new MemoryRegionError(`slot ${id} does not exist`);
      const removed = this.slots[existing];
      this.removeAt(existing);
      this.changed(removed.guestPhysAddr, removed.size);
      return undefined;
    }
    checkRange(guestPhysAddr, memorySize);
    for (const other of this.slots) {
      if (other.id === id) continue;
      if (
        guestPhysAddr < other.guestPhysAddr + other.size &&
        other.guestPhysAddr < guestPhysAddr + memorySize
      ) {
        throw new MemoryRegionError(
          `slot ${id} [0x${guestPhysAddr.toString(16)}, +0x${memorySize.toString(16)}) overlaps slot ${other.id}`,
        );
      }
    }
    const bytes = region.userspaceMemory ?? new Uint8Array(memorySize);
    if (bytes.length < memorySize) {
      throw new MemoryRegionError(`slot ${id}: backing memory is ${bytes.length} bytes, need ${memorySize}`);
    }
    const slot: SlotRecord = {
      id,
      guestPhysAddr,
      size: memorySize,
      bytes,
      readOnly: region.readOnly === true,
      logDirtyPages: false,
      dirtyLog: undefined,
    };
    if (existing >= 0) {
      const old = this.slots[existing];
      this.removeAt(existing);
      this.changed(old.guestPhysAddr, old.size);
    }
    // New translations are made after `changed` below, and they see the log: no write-protect call.
    if (logDirtyPages) this.startLogging(slot);
    this.slots.push(slot);
    this.mapPages(slot, this.slots.length);
    this.changed(guestPhysAddr, memorySize);
    return slot;
  }

  /** All live slots, in creation order. */
  listSlots(): readonly MemorySlot[] {
    return this.slots;
  }

  onChange(listener: SlotChangeListener): () => void {
    this.listeners.push(listener);
    return () => {
      const i = this.listeners.indexOf(listener);
      if (i >= 0) this.listeners.splice(i, 1);
    };
  }

  /**
   * Notified after every write made through this object (devices, loaders, DMA), with the range.
   * The CPU's own stores go through its page cache instead; this is how it learns that code it
   * decoded was overwritten by someone else.
   */
  onWrite(listener: WriteListener): () => void {
    this.writeListeners.push(listener);
    return () => {
      const i = this.writeListeners.indexOf(listener);
      if (i >= 0) this.writeListeners.splice(i, 1);
    };
  }

  /**
   * Notified when a range's writes must be reported again (see WriteProtectListener): after
   * getDirtyLog() cleared a slot's log, and when logging is switched on for an existing slot.
   */
  onWriteProtect(listener: WriteProtectListener): () => void {
    this.writeProtectListeners.push(listener);
    return () => {
      const i = this.writeProtectListeners.indexOf(listener);
      if (i >= 0) this.writeProtectListeners.splice(i, 1);
    };
  }

  /**
   * KVM_GET_DIRTY_LOG: the slot's bitmap of pages written since the last call (bit n = page n of
   * the slot, byte n >> 3, bit n & 7; dirtyBitmapBytes(size) bytes), copied into `into` when given.
   * The log is cleared and writes to the slot are tracked afresh.
   */
  getDirtyLog(slotId: number, into?: Uint8Array): Uint8Array {
    const slot = this.slots.find((s) => s.id === slotId);
    if (slot === undefined) throw new MemoryRegionError(`slot ${slotId} does not exist`);
    const log = slot.dirtyLog;
    if (log === undefined) throw new MemoryRegionError(`slot ${slotId} does not log dirty pages`);
    if (into !== undefined && into.length < log.bits.length) {
      throw new MemoryRegionError(
        `slot ${slotId}: dirty bitmap needs ${log.bits.length} bytes, got ${into.length}`,
      );
    }
    const bitmap = log.fetch(into);
    this.writeProtect(slot.guestPhysAddr, slot.size);
    return bitmap;
  }

  /**
   * Records writes made to guest RAM without going through this object (a CPU storing through its
   * TLB, a page walker setting A/D bits) in the dirty logs of the slots they hit. Pages that are not
   * RAM, or whose slot does not log, are ignored.
   */
  markDirty(gpa: number, length: number): void {
    if (this.loggingSlots === 0 || !(length > 0) || !(gpa >= 0)) return;
    const last = gpa + length - 1;
    if (Math.floor(gpa / PAGE_SIZE) === Math.floor(last / PAGE_SIZE)) {
      // The common case, one page: a table lookup instead of a walk over the slots.
      const slot = this.slotAt(gpa);
      const log = slot?.dirtyLog;
      if (slot !== undefined && log !== undefined) {
        const page = Math.floor((gpa - slot.guestPhysAddr) / PAGE_SIZE);
        log.mark(page, page);
      }
      return;
    }
    for (const slot of this.slots) {
      const log = slot.dirtyLog;
      if (log === undefined) continue;
      const first = Math.max(gpa, slot.guestPhysAddr);
      const end = Math.min(last, slot.guestPhysAddr + slot.size - 1);
      if (first > end) continue;
      log.mark(
        Math.floor((first - slot.guestPhysAddr) / PAGE_SIZE),
        Math.floor((end - slot.guestPhysAddr) / PAGE_SIZE),
      );
    }
  }

  /**
   * True while a write to the page holding `gpa` must be reported with markDirty(): its slot logs
   * dirty pages and the page is clean since the last getDirtyLog(). Once it is dirty, writes may
   * bypass this object until the next getDirtyLog() (see onWriteProtect).
   */
  isWriteTracked(gpa: number): boolean {
    if (this.loggingSlots === 0) return false;
    const slot = this.slotAt(gpa);
    const log = slot?.dirtyLog;
    if (slot === undefined || log === undefined) return false;
    return !log.isDirty(Math.floor((gpa - slot.guestPhysAddr) / PAGE_SIZE));
  }

  /** The slot holding this guest-physical address, or undefined for MMIO/unbacked space. */
  findSlot(gpa: number): MemorySlot | undefined {
    return this.slotAt(gpa);
  }

  private slotAt(gpa: number): SlotRecord | undefined {
    if (gpa < FOUR_GIB) {
      const index = this.slotIndexByPage[Math.floor(gpa / PAGE_SIZE)];
      return index === 0 ? undefined : this.slots[index - 1];
    }
    for (const slot of this.slots) {
      if (gpa >= slot.guestPhysAddr && gpa < slot.guestPhysAddr + slot.size) return slot;
    }
    return undefined;
  }

  isRam(gpa: number, length: number, forWrite = false): boolean {
    if (!(length >= 0) || !(gpa >= 0) || gpa + length > MAX_GUEST_PHYS_ADDR) return false;
    let address = gpa;
    const end = gpa + length;
    while (address < end) {
      const slot = this.findSlot(address);
      if (slot === undefined || (forWrite && slot.readOnly)) return false;
      address = slot.guestPhysAddr + slot.size;
    }
    return true;
  }

  read(gpa: number, dst: Uint8Array): void {
    this.copy(gpa, dst, false);
  }

  write(gpa: number, src: Uint8Array): void {
    this.copy(gpa, src, true);
  }

  readU8(gpa: number): number {
    const slot = this.slotForAccess(gpa, 1, false);
    return slot.bytes[gpa - slot.guestPhysAddr];
  }

  readU16(gpa: number): number {
    return this.readLittleEndian(gpa, 2);
  }

  readU32(gpa: number): number {
    return this.readLittleEndian(gpa, 4);
  }

  readU64(gpa: number): number {
    const lo = this.readLittleEndian(gpa, 4);
    const hi = this.readLittleEndian(gpa + 4, 4);
    if (hi >= 0x200000) throw new RangeError(`64-bit value at 0x${gpa.toString(16)} does not fit in 53 bits`);
    return hi * FOUR_GIB + lo;
  }

  writeU8(gpa: number, value: number): void {
    const slot = this.slotForAccess(gpa, 1, true);
    slot.bytes[gpa - slot.guestPhysAddr] = value;
    this.wrote(gpa, 1);
  }

  writeU16(gpa: number, value: number): void {
    this.writeLittleEndian(gpa, 2, value);
  }

  writeU32(gpa: number, value: number): void {
    this.writeLittleEndian(gpa, 4, value);
  }

  writeU64(gpa: number, lo: number, hi: number): void {
    this.writeLittleEndian(gpa, 4, lo);
    this.writeLittleEndian(gpa + 4, 4, hi);
  }

  /**
   * Reads `size` (1, 2 or 4) bytes if they are all RAM, else returns -1 with nothing read. The value is
   * returned unsigned, so -1 is unambiguous; callers turn -1 into an MMIO exit.
   */
  tryRead(gpa: number, size: number): number {
    if (!this.isRam(gpa, size)) return -1;
    return this.readLittleEndian(gpa, size);
  }

  /** Writes `size` (1, 2 or 4) bytes if they are all writable RAM; returns false (nothing written) otherwise. */
  tryWrite(gpa: number, size: number, value: number): boolean {
    if (!this.isRam(gpa, size, true)) return false;
    this.writeLittleEndian(gpa, size, value);
    return true;
  }

  private readLittleEndian(gpa: number, size: number): number {
    const slot = this.slotForAccess(gpa, 1, false);
    const offset = gpa - slot.guestPhysAddr;
    const b = slot.bytes;
    if (offset + size <= slot.size) {
      if (size === 2) return b[offset] | (b[offset + 1] << 8);
      return (b[offset] | (b[offset + 1] << 8) | (b[offset + 2] << 16) | (b[offset + 3] << 24)) >>> 0;
    }
    // The access crosses the end of the slot: assemble it byte by byte from whatever follows.
    let value = 0;
    for (let i = size - 1; i >= 0; i--) value = value * 256 + this.readU8(gpa + i);
    return value;
  }

  private writeLittleEndian(gpa: number, size: number, value: number): void {
    if (!this.isRam(gpa, size, true)) throw new GuestMemoryError(gpa, size, true);
    for (let i = 0; i < size; i++) {
      const slot = this.findSlot(gpa + i)!;
      slot.bytes[gpa + i - slot.guestPhysAddr] = (value >>> (8 * i)) & 0xff;
    }
    this.wrote(gpa, size);
  }

  private copy(gpa: number, data: Uint8Array, toGuest: boolean): void {
    if (!this.isRam(gpa, data.length, toGuest)) throw new GuestMemoryError(gpa, data.length, toGuest);
    let done = 0;
    while (done < data.length) {
      const slot = this.findSlot(gpa + done)!;
      const offset = gpa + done - slot.guestPhysAddr;
      const count = Math.min(data.length - done, slot.size - offset);
      if (toGuest) slot.bytes.set(data.subarray(done, done + count), offset);
      else data.set(slot.bytes.subarray(offset, offset + count), done);
      done += count;
    }
    if (toGuest) this.wrote(gpa, data.length);
  }

  private wrote(gpa: number, length: number): void {
    if (this.loggingSlots !== 0) this.markDirty(gpa, length);
    const listeners = this.writeListeners;
    for (let i = 0; i < listeners.length; i++) listeners[i](gpa, length);
  }

  private slotForAccess(gpa: number, length: number, forWrite: boolean): MemorySlot {
    const slot = gpa >= 0 ? this.findSlot(gpa) : undefined;
    if (slot === undefined || (forWrite && slot.readOnly)) throw new GuestMemoryError(gpa, length, forWrite);
    return slot;
  }

  private removeAt(index: number): void {
    const [removed] = this.slots.splice(index, 1);
    if (removed.logDirtyPages) this.loggingSlots--;
    this.mapPages(removed, 0);
    // Slots after the removed one moved down by one; renumber their pages.
    for (let i = index; i < this.slots.length; i++) this.mapPages(this.slots[i], i + 1);
  }

  private mapPages(slot: MemorySlot, indexPlusOne: number): void {
    if (slot.guestPhysAddr >= FOUR_GIB) return;
    const first = slot.guestPhysAddr / PAGE_SIZE;
    const last = Math.min(slot.guestPhysAddr + slot.size, FOUR_GIB) / PAGE_SIZE;
    this.slotIndexByPage.fill(indexPlusOne, first, last);
  }

  private setDirtyLogging(slot: SlotRecord, enabled: boolean): void {
    if (enabled) {
      this.startLogging(slot);
      this.writeProtect(slot.guestPhysAddr, slot.size);
    } else {
      slot.logDirtyPages = false;
      slot.dirtyLog = undefined;
      this.loggingSlots--;
    }
  }

  private startLogging(slot: SlotRecord): void {
    slot.logDirtyPages = true;
    slot.dirtyLog = new DirtyLog(slot.size);
    this.loggingSlots++;
  }

  private writeProtect(guestPhysAddr: number, size: number): void {
    for (const listener of this.writeProtectListeners) listener(guestPhysAddr, size);
  }

  private changed(guestPhysAddr: number, size: number): void {
    this.generation++;
    for (const listener of this.listeners) listener(guestPhysAddr, size);
  }
}

function checkRange(guestPhysAddr: number, memorySize: number): void {
  if (!Number.isInteger(guestPhysAddr) || guestPhysAddr < 0 || guestPhysAddr % PAGE_SIZE !== 0) {
    throw new MemoryRegionError(`guest physical address 0x${guestPhysAddr.toString(16)} is not page aligned`);
  }
  if (!Number.isInteger(memorySize) || memorySize < 0 || memorySize % PAGE_SIZE !== 0) {
    throw new MemoryRegionError(`memory size 0x${memorySize.toString(16)} is not a multiple of 4 KiB`);
  }
  if (guestPhysAddr + memorySize > MAX_GUEST_PHYS_ADDR) {
    throw new MemoryRegionError("memory region extends past the 52-bit guest-physical address space");
  }
}

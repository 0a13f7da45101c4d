// A driver-side virtqueue for tests: lays out split or packed rings in guest RAM (an @tsvmm/ept PhysicalMemory),
// adds chains of buffers the way a guest driver does (direct or through an indirect table), kicks, reads used
// entries back, and can corrupt the rings on purpose. Devices and transports test against it; it follows the
// spec's driver rules, so it is also a second opinion on the device-side queues.
import { type GuestMemory, GuestMemoryError, PhysicalMemory } from "@tsvmm/ept";
import { DESCRIPTOR_SIZE, DescriptorFlag, VirtioFeature } from "./constants.js";
import { createVirtqueue } from "./create-virtqueue.js";
import { type FeatureWords, featureWords } from "./features.js";
import type { Virtqueue, VirtqueueLayout, VirtqueueOptions } from "./virtqueue.js";

/** Guest RAM from 0 to `size` bytes (a multiple of 4 KiB); everything above is not RAM (an MMIO hole). */
export function createGuestRam(size = 4 << 20): PhysicalMemory {
  const memory = new PhysicalMemory();
  memory.setUserMemoryRegion({ slot: 0, guestPhysAddr: 0, memorySize: size });
  return memory;
}

export interface VirtqueueDriverOptions {
  /** Guest memory to lay the rings and buffers out in (default: createGuestRam()). */
  memory?: PhysicalMemory;
  /** Queue size (default 16; split sizes must be powers of two). */
  size?: number;
  /** Packed layout (VIRTIO_F_RING_PACKED); split by default. */
  packed?: boolean;
  /** Negotiate VIRTIO_F_RING_EVENT_IDX (default false). */
  eventIdx?: boolean;
  /** Negotiate VIRTIO_F_RING_INDIRECT_DESC (default true). */
  indirectDesc?: boolean;
  /** The queue's index in its device (default 0). */
  queueIndex?: number;
  /** Where the ring areas start (default 0x10000); buffers are allocated after them. */
  ringBase?: number;
  /**
   * Bytes after the rings that this driver's buffers come from (default: up to the end of the RAM slot holding the
   * rings). Drivers on the same memory share RAM without overlap: buffers skip every driver's rings, and a driver
   * whose rings are laid over another driver's replaces it.
   */
  dataSize?: number;
}

/** The buffers of one chain, as a driver hands them over. */
export interface DriverChain {
  /** Device-readable buffers, in order: their contents. */
  readable?: readonly Uint8Array[];
  /** Device-writable buffers, in order: their lengths (filled with 0xee so unwritten bytes show). */
  writable?: readonly number[];
  /** Put the buffers in an indirect table (one ring descriptor). */
  indirect?: boolean;
}

/** A raw descriptor, as written into the table/ring or an indirect table. */
export interface RawDescriptor {
  address: number;
  length: number;
  flags: number;
  /** Split: the next index. Packed: the buffer ID. */
  nextOrId?: number;
}

/** One used element read back. */
export interface UsedBuffer {
  /** The head index (split) or buffer ID (packed) the device returned. */
  id: number;
  /** The length the device reported. */
  length: number;
  /** The first `length` bytes of the writable buffers (fewer if the device reported more than there is). */
  written: Uint8Array;
  /** The chain as it was added. */
  chain: DriverChain;
}

interface Buffer {
  address: number;
  length: number;
  writable: boolean;
}

interface AddedChain {
  chain: DriverChain;
  buffers: Buffer[];
  /** Split: the descriptor indices. Packed: how many ring descriptors the chain took. */
  descriptors: number[];
  /** Guest allocations to free when the chain comes back. */
  allocations: number[];
}

const FILL = 0xee;

/** The driver's side of one virtqueue (split or packed) in guest RAM. */
export class VirtqueueDriver {
  readonly memory: PhysicalMemory;
  readonly size: number;
  readonly packed: boolean;
  readonly eventIdx: boolean;
  readonly queueIndex: number;
  readonly layout: VirtqueueLayout;
  /** VERSION_1 and the ring features this driver uses. */
  readonly features: FeatureWords;

  private readonly allocator: GuestRamAllocator;
  private readonly chains = new Map<number, AddedChain>();
  // Split state.
  private readonly freeDescriptors: number[] = [];
  private availIdx = 0;
  private lastUsedIdx = 0;
  private kickedAt = 0;
  // Packed state.
  private nextAvail = 0;
  private availWrap = true;
  private lastUsed = 0;
  private usedWrap = true;
  private freeRingDescriptors = 0;
  private readonly freeIds: number[] = [];
  private addedSinceKick = 0;

  constructor(options: VirtqueueDriverOptions = {}) {
    this.memory = options.memory ?? createGuestRam();
    this.size = options.size ?? 16;
    this.packed = options.packed ?? false;
    this.eventIdx = options.eventIdx ?? false;
    this.queueIndex = options.queueIndex ?? 0;
    const bits: number[] = [VirtioFeature.Version1];
    if (this.packed) bits.push(VirtioFeature.RingPacked);
    if (this.eventIdx) bits.push(VirtioFeature.RingEventIdx);
    if (options.indirectDesc ?? true) bits.push(VirtioFeature.RingIndirectDesc);
    this.features = featureWords(...bits);
    const base = options.ringBase ?? 0x10000;
    let end: number;
    if (this.packed) {
      const driverArea = base + DESCRIPTOR_SIZE * this.size;
      this.layout = { size: this.size, descriptorArea: base, driverArea, deviceArea: driverArea + 4 };
      end = driverArea + 8;
      this.freeRingDescriptors = this.size;
      for (let id = this.size - 1; id >= 0; id--) this.freeIds.push(id);
    } else {
      const driverArea = base + DESCRIPTOR_SIZE * this.size;
      const deviceArea = alignUp(driverArea + 6 + 2 * this.size, 4);
      this.layout = { size: this.size, descriptorArea: base, driverArea, deviceArea };
      end = deviceArea + 6 + 8 * this.size;
      for (let i = this.size - 1; i >= 0; i--) this.freeDescriptors.push(i);
    }
    this.memory.write(base, new Uint8Array(end - base));
    const dataStart = alignUp(end, 4096);
    const slot = this.memory.findSlot(base);
    const ramEnd = slot === undefined ? dataStart : slot.guestPhysAddr + slot.size;
    const dataEnd = options.dataSize === undefined ? ramEnd : dataStart + options.dataSize;
    this.allocator = new GuestRamAllocator(this.memory, this, dataStart, dataEnd);
    this.allocator.reserveRing(base, end);
  }

  /** The options a transport would pass to createVirtqueue for this queue. */
  queueOptions(extra: Partial<VirtqueueOptions> = {}): VirtqueueOptions {
    return {
      memory: this.memory,
      index: this.queueIndex,
      layout: { ...this.layout },
      features: this.features,
      ...extra,
    };
  }

  /** The device side of this queue (createVirtqueue with queueOptions()). */
  createQueue(extra: Partial<VirtqueueOptions> = {}): Virtqueue {
    return createVirtqueue(this.queueOptions(extra));
  }

  /** Chains added and not yet seen in the used ring. */
  get pending(): number {
    return this.chains.size;
  }

  /** Whether a chain with this many buffers (or an indirect one) fits now. */
  canAdd(chain: DriverChain): boolean {
    const needed = chain.indirect ? 1 : (chain.readable?.length ?? 0) + (chain.writable?.length ?? 0);
    return this.packed
      ? needed <= this.freeRingDescriptors && this.freeIds.length > 0
      : needed <= this.freeDescriptors.length;
  }

  /**
   * Makes a chain available (readable buffers first, then writable ones, each in freshly allocated guest RAM) and
   * publishes it: split writes the available ring entry and idx, packed writes the head's flags last. Returns the
   * id the device will report (head index or buffer ID). Throws when the ring or the buffer space is full.
   */
  add(chain: DriverChain): number {
    const buffers: Buffer[] = [];
    const allocations: number[] = [];
    for (const bytes of chain.readable ?? []) {
      const address = this.allocate(bytes.length, allocations);
      this.memory.write(address, bytes);
      buffers.push({ address, length: bytes.length, writable: false });
    }
    for (const length of chain.writable ?? []) {
      const address = this.allocate(length, allocations);
      this.memory.write(address, new Uint8Array(length).fill(FILL));
      buffers.push({ address, length, writable: true });
    }
    if (buffers.length === 0) throw new Error("a chain needs at least one buffer");
    if (!this.canAdd(chain)) {
      for (const a of allocations) this.allocator.free(a);
      throw new Error("the ring is full");
    }
    let ringDescriptors: RawDescriptor[];
    if (chain.indirect) {
      const table = this.allocate(DESCRIPTOR_SIZE * buffers.length, allocations);
      buffers.forEach((b, i) => {
        const last = i === buffers.length - 1;
        // Packed tables are sequential (NEXT is ignored there); split ones are linked.
        const linked = !last && !this.packed;
        writeRawDescriptor(
          this.memory,
          table + DESCRIPTOR_SIZE * i,
          {
            address: b.address,
            length: b.length,
            flags: (b.writable ? DescriptorFlag.Write : 0) | (linked ? DescriptorFlag.Next : 0),
            nextOrId: linked ? i + 1 : 0,
          },
          this.packed,
        );
      });
      ringDescriptors = [
        { address: table, length: DESCRIPTOR_SIZE * buffers.length, flags: DescriptorFlag.Indirect },
      ];
    } else {
      ringDescriptors = buffers.map((b) => ({
        address: b.address,
        length: b.length,
        flags: b.writable ? DescriptorFlag.Write : 0,
      }));
    }
    const id = this.packed ? this.addPacked(ringDescriptors) : this.addSplit(ringDescriptors);
    const descriptors = this.packed ? [ringDescriptors.length] : this.lastSplitDescriptors;
    this.chains.set(id, { chain, buffers, descriptors, allocations });
    return id;
  }

  private lastSplitDescriptors: number[] = [];

  private addSplit(ring: RawDescriptor[]): number {
    const indices = ring.map(() => this.freeDescriptors.pop()!);
    ring.forEach((d, i) => {
      const last = i === ring.length - 1;
      this.writeDescriptor(indices[i], {
        ...d,
        flags: d.flags | (last ? 0 : DescriptorFlag.Next),
        nextOrId: last ? 0 : indices[i + 1],
      });
    });
    this.lastSplitDescriptors = indices;
    this.publishHead(indices[0]);
    return indices[0];
  }

  private addPacked(ring: RawDescriptor[]): number {
    const id = this.freeIds.pop()!;
    this.writePacked(
      ring.map((d) => ({ ...d, nextOrId: id })),
      id,
    );
    return id;
  }

  /** Writes `ring` at the driver's position (NEXT on all but the last, the head's flags last) and moves on. */
  private writePacked(ring: RawDescriptor[], id: number): void {
    const positions: number[] = [];
    const wraps: boolean[] = [];
    for (let i = 0; i < ring.length; i++) {
      positions.push(this.nextAvail);
      wraps.push(this.availWrap);
      this.nextAvail++;
      if (this.nextAvail === this.size) {
        this.nextAvail = 0;
        this.availWrap = !this.availWrap;
      }
    }
    this.freeRingDescriptors -= ring.length;
    this.addedSinceKick += ring.length;
    // Every descriptor but the head first; the head's flags last, which makes the whole chain available.
    for (let i = ring.length - 1; i >= 0; i--) {
      const last = i === ring.length - 1;
      const flags =
        ring[i].flags |
        (last ? 0 : DescriptorFlag.Next) |
        (wraps[i] ? DescriptorFlag.Avail : DescriptorFlag.Used);
      const at = this.layout.descriptorArea + DESCRIPTOR_SIZE * positions[i];
      writeRawDescriptor(this.memory, at, { ...ring[i], flags: 0, nextOrId: ring[i].nextOrId ?? id }, true);
      this.memory.writeU16(at + 14, flags);
    }
  }

  /**
   * The notification decision after adding buffers (spec 2.7.13 / 2.8.21): VRING_USED_F_NO_NOTIFY or avail_event
   * (split), the device event suppression structure (packed). Resets the "added since the last kick" window.
   */
  kick(): boolean {
    if (this.packed) {
      const offWrap = this.memory.readU16(this.layout.deviceArea);
      const flags = this.memory.readU16(this.layout.deviceArea + 2) & 3;
      const added = this.addedSinceKick;
      this.addedSinceKick = 0;
      if (flags === 1) return false;
      if (flags !== 2 || !this.eventIdx) return true;
      let event = offWrap & 0x7fff;
      if (offWrap >>> 15 !== (this.availWrap ? 1 : 0)) event -= this.size;
      return event >= this.nextAvail - added && event < this.nextAvail;
    }
    const old = this.kickedAt;
    this.kickedAt = this.availIdx;
    if (!this.eventIdx) return (this.memory.readU16(this.layout.deviceArea) & 1) === 0;
    const availEvent = this.memory.readU16(this.layout.deviceArea + 4 + 8 * this.size);
    return ((this.availIdx - availEvent - 1) & 0xffff) < ((this.availIdx - old) & 0xffff);
  }

  /** Reads the new used elements, checks each names an outstanding chain, and frees its descriptors. */
  takeUsed(): UsedBuffer[] {
    const used: UsedBuffer[] = [];
    for (;;) {
      const element = this.packed ? this.nextUsedPacked() : this.nextUsedSplit();
      if (element === undefined) return used;
      const added = this.chains.get(element.id);
      if (added === undefined)
        throw new Error(`the device returned id ${element.id}, which is not outstanding`);
      this.chains.delete(element.id);
      if (this.packed) {
        this.freeRingDescriptors += added.descriptors[0];
        this.freeIds.push(element.id);
      } else {
        for (const index of added.descriptors) this.freeDescriptors.push(index);
      }
      const writable = added.buffers.filter((b) => b.writable);
      const total = writable.reduce((sum, b) => sum + b.length, 0);
      const written = new Uint8Array(Math.min(element.length, total));
      let offset = 0;
      for (const b of writable) {
        if (offset >= written.length) break;
        const count = Math.min(b.length, written.length - offset);
        this.memory.read(b.address, written.subarray(offset, offset + count));
        offset += count;
      }
      for (const a of added.allocations) this.allocator.free(a);
      used.push({ id: element.id, length: element.length, written, chain: added.chain });
    }
  }

  private nextUsedSplit(): { id: number; length: number } | undefined {
    const usedIdx = this.memory.readU16(this.layout.deviceArea + 2);
    if (usedIdx === this.lastUsedIdx) return undefined;
    const at = this.layout.deviceArea + 4 + 8 * (this.lastUsedIdx % this.size);
    this.lastUsedIdx = (this.lastUsedIdx + 1) & 0xffff;
    return { id: this.memory.readU32(at), length: this.memory.readU32(at + 4) };
  }

  private nextUsedPacked(): { id: number; length: number } | undefined {
    const at = this.layout.descriptorArea + DESCRIPTOR_SIZE * this.lastUsed;
    const flags = this.memory.readU16(at + 14);
    const avail = (flags & DescriptorFlag.Avail) !== 0;
    const usedFlag = (flags & DescriptorFlag.Used) !== 0;
    if (avail !== this.usedWrap || usedFlag !== this.usedWrap) return undefined;
    const id = this.memory.readU16(at + 12);
    const length = (flags & DescriptorFlag.Write) !== 0 ? this.memory.readU32(at + 8) : 0;
    const added = this.chains.get(id);
    if (added === undefined) throw new Error(`the device returned buffer ID ${id}, which is not outstanding`);
    this.lastUsed += added.descriptors[0];
    if (this.lastUsed >= this.size) {
      this.lastUsed -= this.size;
      this.usedWrap = !this.usedWrap;
    }
    return { id, length };
  }

  /**
   * Asks for interrupts (true) or not: VRING_AVAIL_F_NO_INTERRUPT, or with EVENT_IDX used_event at the next used
   * index (enabled) or just behind it (disabled, as Linux does); packed: the driver event suppression flags
   * (ENABLE, or with EVENT_IDX a DESC event at the next used descriptor; DISABLE).
   */
  setInterrupts(enabled: boolean): void {
    if (this.packed) {
      if (enabled && this.eventIdx) {
        this.setDriverEvent(2, this.lastUsed, this.usedWrap);
      } else {
        this.setDriverEvent(enabled ? 0 : 1, 0, false);
      }
      return;
    }
    if (this.eventIdx) {
      this.setUsedEvent(enabled ? this.lastUsedIdx : (this.lastUsedIdx - 1) & 0xffff);
    } else {
      this.memory.writeU16(this.layout.driverArea, enabled ? 0 : 1);
    }
  }

  /** Split with EVENT_IDX: writes used_event. */
  setUsedEvent(value: number): void {
    this.memory.writeU16(this.layout.driverArea + 4 + 2 * this.size, value & 0xffff);
  }

  /** Packed: writes the driver event suppression structure (flags 0 enable, 1 disable, 2 desc). */
  setDriverEvent(flags: number, offset: number, wrap: boolean): void {
    this.memory.writeU16(this.layout.driverArea, (offset & 0x7fff) | (wrap ? 0x8000 : 0));
    this.memory.writeU16(this.layout.driverArea + 2, flags);
  }

  /** The used index the driver expects next (split: free-running 16-bit; packed: the ring position). */
  get nextExpectedUsed(): number {
    return this.packed ? this.lastUsed : this.lastUsedIdx;
  }

  /** Packed: the used wrap counter the driver expects next. */
  get expectedUsedWrap(): boolean {
    return this.usedWrap;
  }

  // --- Raw access, to corrupt the rings on purpose. ---

  /** Allocates `length` bytes of guest RAM for a buffer or table the test fills itself. */
  alloc(length: number): number {
    return this.allocator.allocate(Math.max(length, 1));
  }

  /** Guest address of descriptor `index` in the descriptor table (split) or ring (packed). */
  descriptorAddress(index: number): number {
    return this.layout.descriptorArea + DESCRIPTOR_SIZE * index;
  }

  /** Writes descriptor `index` of the table/ring as given (packed: flags included, so it may become available). */
  writeDescriptor(index: number, descriptor: RawDescriptor): void {
    writeRawDescriptor(this.memory, this.descriptorAddress(index), descriptor, this.packed);
  }

  /** Writes a table of raw descriptors (an indirect table) at `address`. */
  writeTable(address: number, descriptors: readonly RawDescriptor[]): void {
    descriptors.forEach((d, i) => {
      writeRawDescriptor(this.memory, address + DESCRIPTOR_SIZE * i, d, this.packed);
    });
  }

  /**
   * Makes a chain of raw descriptors available, as written: the device sees exactly these addresses, lengths
   * and flags (the ring bits AVAIL/USED are added for packed). Split: takes free table entries and links a
   * descriptor with NEXT to the following one unless it names its own `nextOrId`. Packed: writes them at the
   * driver's position, the head's flags last, with `nextOrId` as the buffer ID (default: a free ID). No room
   * check, so a test can overfill the ring. Returns the id the device should report.
   */
  addRaw(descriptors: readonly RawDescriptor[]): number {
    if (this.packed) {
      const given = descriptors[descriptors.length - 1].nextOrId;
      const id = given ?? this.freeIds.pop() ?? 0;
      const free = this.freeIds.indexOf(id);
      if (free >= 0) this.freeIds.splice(free, 1);
      const ring = descriptors.map((d) => ({ ...d, nextOrId: d.nextOrId ?? id }));
      this.writePacked(ring, id);
      this.chains.set(id, { chain: {}, buffers: [], descriptors: [ring.length], allocations: [] });
      return id;
    }
    const indices = descriptors.map(() => this.freeDescriptors.pop() ?? 0);
    descriptors.forEach((d, i) => {
      const linked = (d.flags & DescriptorFlag.Next) !== 0 && i + 1 < indices.length;
      this.writeDescriptor(indices[i], { ...d, nextOrId: d.nextOrId ?? (linked ? indices[i + 1] : 0) });
    });
    this.chains.set(indices[0], { chain: {}, buffers: [], descriptors: indices, allocations: [] });
    this.publishHead(indices[0]);
    return indices[0];
  }

  /**
   * Split: puts `head` (any value) in the next available-ring entry and publishes it with avail idx + 1. A head
   * the driver did not add itself is expected back in the used ring like any other.
   */
  publishHead(head: number): void {
    if (!this.chains.has(head))
      this.chains.set(head, { chain: {}, buffers: [], descriptors: [], allocations: [] });
    this.memory.writeU16(this.layout.driverArea + 4 + 2 * (this.availIdx % this.size), head);
    this.availIdx = (this.availIdx + 1) & 0xffff;
    this.memory.writeU16(this.layout.driverArea + 2, this.availIdx);
  }

  /** Split: overwrites avail idx (and the driver's own copy). */
  setAvailIndex(value: number): void {
    this.availIdx = value & 0xffff;
    this.memory.writeU16(this.layout.driverArea + 2, this.availIdx);
  }

  /** Packed: the flags that make a descriptor available at the driver's current position and wrap. */
  availFlags(flags = 0): number {
    return flags | (this.availWrap ? DescriptorFlag.Avail : DescriptorFlag.Used);
  }

  /** Packed: the next ring position the driver will fill. */
  get nextAvailPosition(): number {
    return this.nextAvail;
  }

  private allocate(length: number, allocations: number[]): number {
    const address = this.allocator.allocate(Math.max(length, 1));
    allocations.push(address);
    return address;
  }
}

/**
 * Writes one 16-byte descriptor: addr (u64), len (u32), then split: flags (u16), next (u16); packed: id (u16),
 * flags (u16).
 */
export function writeRawDescriptor(memory: GuestMemory, at: number, d: RawDescriptor, packed: boolean): void {
  memory.writeU64(at, d.address % 0x1_0000_0000, Math.floor(d.address / 0x1_0000_0000));
  memory.writeU32(at + 8, d.length);
  memory.writeU16(at + (packed ? 14 : 12), d.flags);
  memory.writeU16(at + (packed ? 12 : 14), d.nextOrId ?? 0);
}

interface Extent {
  start: number;
  end: number;
  owner: VirtqueueDriver;
  ring: boolean;
}

/** What is taken in each guest memory, by every driver on it: rings and buffers, sorted by start. */
const extentsByMemory = new WeakMap<PhysicalMemory, Extent[]>();

/**
 * First-fit allocation of guest RAM for one driver's buffers (16-byte aligned, within its data region), shared
 * with the other drivers on the same memory so that their rings and buffers never overlap. A driver whose rings
 * are laid over another's replaces it (a driver re-initialising a queue): the old driver's buffers are freed.
 */
class GuestRamAllocator {
  private readonly extents: Extent[];

  constructor(
    memory: PhysicalMemory,
    private readonly owner: VirtqueueDriver,
    private readonly start: number,
    private readonly end: number,
  ) {
    let extents = extentsByMemory.get(memory);
    if (extents === undefined) {
      extents = [];
      extentsByMemory.set(memory, extents);
    }
    this.extents = extents;
  }

  reserveRing(start: number, end: number): void {
    const replaced = new Set<VirtqueueDriver>();
    for (const e of this.extents) {
      if (e.start >= end || start >= e.end || e.owner === this.owner) continue;
      if (!e.ring) {
        throw new Error(
          `the rings at [0x${start.toString(16)}, 0x${end.toString(16)}) overlap another driver's buffer at 0x${e.start.toString(16)}`,
        );
      }
      replaced.add(e.owner);
    }
    for (let i = this.extents.length - 1; i >= 0; i--) {
      if (replaced.has(this.extents[i].owner)) this.extents.splice(i, 1);
    }
    this.insert({ start, end, owner: this.owner, ring: true });
  }

  allocate(length: number): number {
    const size = alignUp(length, 16);
    let candidate = alignUp(this.start, 16);
    for (const e of this.extents) {
      if (e.end <= candidate) continue;
      if (e.start >= candidate + size) break;
      candidate = alignUp(e.end, 16);
    }
    if (candidate + size > this.end) throw new Error(`no room for a ${length}-byte guest buffer`);
    this.insert({ start: candidate, end: candidate + size, owner: this.owner, ring: false });
    return candidate;
  }

  free(address: number): void {
    // Gone already when another driver replaced this one.
    const i = this.extents.findIndex((e) => e.start === address && e.owner === this.owner && !e.ring);
    if (i >= 0) this.extents.splice(i, 1);
  }

  private insert(extent: Extent): void {
    let i = 0;
    while (i < this.extents.length && this.extents[i].start < extent.start) i++;
    this.extents.splice(i, 0, extent);
  }
}

function alignUp(value: number, alignment: number): number {
  return Math.ceil(value / alignment) * alignment;
}

/** One access a device made through an AccessCheckingMemory. */
export interface MemoryAccess {
  gpa: number;
  length: number;
  write: boolean;
}

/**
 * A GuestMemory proxy for tests that records every access and every attempt outside RAM (or a write to
 * read-only RAM, or into a range declared off-limits). An offending access is recorded in `violations` and
 * refused with GuestMemoryError, as the real memory would; a test asserts that `violations` stays empty.
 */
export class AccessCheckingMemory implements GuestMemory {
  readonly accesses: MemoryAccess[] = [];
  readonly violations: MemoryAccess[] = [];
  /** Ranges [start, end) the device must never write (e.g. the driver's descriptor table and available ring). */
  readonly noWrite: [number, number][] = [];
  /** Set false to stop recording `accesses` (violations are always recorded). */
  record = true;

  constructor(private readonly inner: GuestMemory) {}

  isRam(gpa: number, length: number, forWrite?: boolean): boolean {
    return this.inner.isRam(gpa, length, forWrite);
  }

  read(gpa: number, dst: Uint8Array): void {
    this.check(gpa, dst.length, false);
    this.inner.read(gpa, dst);
  }

  write(gpa: number, src: Uint8Array): void {
    this.check(gpa, src.length, true);
    this.inner.write(gpa, src);
  }

  readU8(gpa: number): number {
    this.check(gpa, 1, false);
    return this.inner.readU8(gpa);
  }

  readU16(gpa: number): number {
    this.check(gpa, 2, false);
    return this.inner.readU16(gpa);
  }

  readU32(gpa: number): number {
    this.check(gpa, 4, false);
    return this.inner.readU32(gpa);
  }

  readU64(gpa: number): number {
    this.check(gpa, 8, false);
    return this.inner.readU64(gpa);
  }

  writeU8(gpa: number, value: number): void {
    this.check(gpa, 1, true);
    this.inner.writeU8(gpa, value);
  }

  writeU16(gpa: number, value: number): void {
    this.check(gpa, 2, true);
    this.inner.writeU16(gpa, value);
  }

  writeU32(gpa: number, value: number): void {
    this.check(gpa, 4, true);
    this.inner.writeU32(gpa, value);
  }

  writeU64(gpa: number, lo: number, hi: number): void {
    this.check(gpa, 8, true);
    this.inner.writeU64(gpa, lo, hi);
  }

  private check(gpa: number, length: number, write: boolean): void {
    const access = { gpa, length, write };
    if (this.record) this.accesses.push(access);
    const forbidden = write && this.noWrite.some(([start, end]) => gpa < end && start < gpa + length);
    if (forbidden || !Number.isInteger(gpa) || !this.inner.isRam(gpa, length, write)) {
      this.violations.push(access);
      throw new GuestMemoryError(gpa, length, write);
    }
  }
}

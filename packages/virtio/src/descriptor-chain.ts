// One popped buffer chain, shared by the split and packed layouts: the queue validates each descriptor as it walks
// the chain (addBuffer) and the device then copies through GuestMemory without seeing a descriptor.
import { type GuestMemory, GuestMemoryError } from "@tsvmm/ept";
import { DESCRIPTOR_SIZE, MAX_QUEUE_SIZE } from "./constants.js";
import type { DescriptorChain } from "./virtqueue.js";

/** Guest-physical addresses are 52 bits wide; a buffer must end at or below this. */
export const GUEST_ADDRESS_LIMIT = 2 ** 52;

/** The most entries an indirect table may have: bounds the work one pop does (QEMU stops at 1024 buffers). */
export const MAX_INDIRECT_ENTRIES = MAX_QUEUE_SIZE;

const INITIAL_CAPACITY = 4;

export class GuestDescriptorChain implements DescriptorChain {
  error: string | undefined = undefined;
  readableLength = 0;
  writableLength = 0;
  /** Descriptors the chain occupies in the ring itself (packed: how far the used index moves on pushUsed). */
  ringDescriptors = 0;
  /** Buffers seen so far, counting zero-length ones (the queue bounds chains with this). */
  descriptorCount = 0;

  // The buffers, readable ones first: parallel typed arrays, so a chain costs two allocations, not one per buffer.
  private addresses = new Float64Array(INITIAL_CAPACITY);
  private lengths = new Float64Array(INITIAL_CAPACITY);
  private bufferCount = 0;
  private readableCount = 0;
  private sawWritable = false;
  /** Set once the chain went back to the driver: its buffers are the driver's again. */
  private returned = false;

  constructor(
    private readonly memory: GuestMemory,
    public id: number,
  ) {}

  /**
   * Appends one buffer after checking it: integer address and length, inside the 52-bit address space, all guest
   * RAM (writable RAM for a writable buffer), and no readable buffer after a writable one. Returns why it is bad.
   */
  addBuffer(address: number, length: number, writable: boolean): string | undefined {
    this.descriptorCount++;
    if (writable) this.sawWritable = true;
    else if (this.sawWritable) return "a device-readable descriptor follows a device-writable one";
    if (
      !Number.isInteger(address) ||
      !Number.isInteger(length) ||
      address < 0 ||
      length < 0 ||
      address + length > GUEST_ADDRESS_LIMIT
    ) {
      return `buffer at 0x${address.toString(16)} (+0x${length.toString(16)}) is outside the guest address space`;
    }
    if (length === 0) return undefined;
    if (!this.memory.isRam(address, length, writable)) {
      return `${writable ? "writable " : ""}buffer [0x${address.toString(16)}, +0x${length.toString(16)}) is not guest RAM`;
    }
    if (this.bufferCount === this.addresses.length) this.grow();
    this.addresses[this.bufferCount] = address;
    this.lengths[this.bufferCount] = length;
    this.bufferCount++;
    if (writable) {
      this.writableLength += length;
    } else {
      this.readableCount++;
      this.readableLength += length;
    }
    return undefined;
  }

  /** Marks the chain malformed: it keeps its id (so it can be returned) and loses its buffers. */
  fail(reason: string): void {
    if (this.error !== undefined) return;
    this.error = reason;
    this.bufferCount = 0;
    this.readableCount = 0;
    this.readableLength = 0;
    this.writableLength = 0;
  }

  /** The chain was pushed to the used ring: later reads and writes would touch memory the driver owns again. */
  retire(): void {
    this.returned = true;
  }

  read(offset: number, dst: Uint8Array): number {
    return this.copy(offset, dst, 0, this.readableCount, false);
  }

  write(offset: number, src: Uint8Array): number {
    return this.copy(offset, src, this.readableCount, this.bufferCount, true);
  }

  private copy(offset: number, data: Uint8Array, first: number, end: number, toGuest: boolean): number {
    if (this.returned || !Number.isInteger(offset) || offset < 0) return 0;
    let skip = offset;
    let done = 0;
    for (let i = first; i < end && done < data.length; i++) {
      const length = this.lengths[i];
      if (skip >= length) {
        skip -= length;
        continue;
      }
      const count = Math.min(length - skip, data.length - done);
      const part = count === data.length ? data : data.subarray(done, done + count);
      try {
        if (toGuest) this.memory.write(this.addresses[i] + skip, part);
        else this.memory.read(this.addresses[i] + skip, part);
      } catch (error) {
        // The memory map changed since the chain was validated (a slot removed): stop at what was copied.
        if (error instanceof GuestMemoryError) return done;
        throw error;
      }
      done += count;
      skip = 0;
    }
    return done;
  }

  private grow(): void {
    const addresses = new Float64Array(this.addresses.length * 2);
    const lengths = new Float64Array(this.lengths.length * 2);
    addresses.set(this.addresses);
    lengths.set(this.lengths);
    this.addresses = addresses;
    this.lengths = lengths;
  }
}

/** Why an indirect table at [table, +length) cannot be used, or undefined (shared with the packed ring). */
export function checkIndirectTable(
  memory: GuestMemory,
  negotiated: boolean,
  table: number,
  length: number,
): string | undefined {
  if (!negotiated) return "an indirect descriptor without VIRTIO_F_RING_INDIRECT_DESC";
  if (length === 0 || length % DESCRIPTOR_SIZE !== 0) {
    return `an indirect table of ${length} bytes (not a non-zero multiple of ${DESCRIPTOR_SIZE})`;
  }
  if (length > MAX_INDIRECT_ENTRIES * DESCRIPTOR_SIZE) {
    return `an indirect table of ${length / DESCRIPTOR_SIZE} entries (at most ${MAX_INDIRECT_ENTRIES})`;
  }
  if (!Number.isInteger(table) || table + length > GUEST_ADDRESS_LIMIT || !memory.isRam(table, length)) {
    return `the indirect table [0x${table.toString(16)}, +0x${length.toString(16)}) is not guest RAM`;
  }
  return undefined;
}

/** The used length to report: what the device wrote, clamped to the chain's writable bytes. */
export function clampWritten(writtenLength: number, writableLength: number): number {
  if (!(writtenLength > 0)) return 0;
  return Math.min(Math.floor(writtenLength), writableLength, 0xffff_ffff);
}

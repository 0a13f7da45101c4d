// A test bench for device models: guest RAM, one real virtqueue per declared queue (split or packed, driven by
// VirtqueueDriver as a guest driver would), and an interrupt recorder. Tests hand it requests (bytes the device
// reads, sizes of buffers it writes) and read back what the device returned and wrote.
import { type GuestMemory, GuestMemoryError, type PhysicalMemory } from "@tsvmm/ept";
import { DescriptorFlag, VirtioFeature } from "./constants.js";
import type { VirtioDevice, VirtioInterrupt } from "./device.js";
import { type FeatureWords, featureWords, hasFeature } from "./features.js";
import { createGuestRam, VirtqueueDriver } from "./virtqueue-driver.test-support.js";

export const BENCH_RAM_SIZE = 16 << 20;
/** Each queue's rings and buffers live in their own region of this size, from 1 MiB up. */
const QUEUE_REGION = 6 << 20;
const QUEUE_SIZE_LIMIT = 128;

/**
 * Guest memory whose "poisoned" ranges pass the queue's isRam() check but fault on access: what a device sees when
 * the memory map changes between the queue validating a chain and the device copying through it.
 */
class PoisonableMemory implements GuestMemory {
  private readonly poisoned: [number, number][] = [];

  constructor(private readonly ram: PhysicalMemory) {}

  poison(gpa: number, length: number): void {
    this.poisoned.push([gpa, gpa + length]);
  }

  private check(gpa: number, length: number, write: boolean): void {
    if (this.poisoned.some(([start, end]) => gpa < end && gpa + length > start)) {
      throw new GuestMemoryError(gpa, length, write);
    }
  }

  isRam(gpa: number, length: number, forWrite?: boolean): boolean {
    return this.ram.isRam(gpa, length, forWrite);
  }
  read(gpa: number, dst: Uint8Array): void {
    this.check(gpa, dst.length, false);
    this.ram.read(gpa, dst);
  }
  write(gpa: number, src: Uint8Array): void {
    this.check(gpa, src.length, true);
    this.ram.write(gpa, src);
  }
  readU8(gpa: number): number {
    this.check(gpa, 1, false);
    return this.ram.readU8(gpa);
  }
  readU16(gpa: number): number {
    this.check(gpa, 2, false);
    return this.ram.readU16(gpa);
  }
  readU32(gpa: number): number {
    this.check(gpa, 4, false);
    return this.ram.readU32(gpa);
  }
  readU64(gpa: number): number {
    this.check(gpa, 8, false);
    return this.ram.readU64(gpa);
  }
  writeU8(gpa: number, value: number): void {
    this.check(gpa, 1, true);
    this.ram.writeU8(gpa, value);
  }
  writeU16(gpa: number, value: number): void {
    this.check(gpa, 2, true);
    this.ram.writeU16(gpa, value);
  }
  writeU32(gpa: number, value: number): void {
    this.check(gpa, 4, true);
    this.ram.writeU32(gpa, value);
  }
  writeU64(gpa: number, lo: number, hi: number): void {
    this.check(gpa, 8, true);
    this.ram.writeU64(gpa, lo, hi);
  }
}

export interface Request {
  /** Device-readable buffers, in order. */
  readable?: Uint8Array[];
  /** Sizes of the device-writable buffers, in order. */
  writable?: number[];
  /** This buffer (by index over readable then writable) passes the queue's checks but faults when accessed. */
  outsideRam?: number;
  /** Hand the device a malformed chain (a buffer outside guest RAM, which the queue refuses). */
  error?: string;
}

export interface Submitted {
  /** Unique per bench (the queue's own ids are reused once a chain comes back). */
  id: number;
  writable: { gpa: number; length: number }[];
}

export interface BenchOptions {
  /** The features the driver accepted (default: all the device offers; the ring bits follow `packed`/`eventIdx`). */
  features?: FeatureWords;
  packed?: boolean;
  eventIdx?: boolean;
}

interface QueueState {
  driver: VirtqueueDriver;
  /** Bench id of each outstanding chain, by the queue's id. */
  outstanding: Map<number, number>;
  used: { id: number; length: number }[];
}

export class DeviceBench {
  readonly memory = createGuestRam(BENCH_RAM_SIZE);
  readonly interrupts: number[] = [];
  configChanges = 0;
  needsReset: string[] = [];
  private readonly queueMemory = new PoisonableMemory(this.memory);
  private queues: QueueState[] = [];
  private nextId = 0;
  private readonly returned = new Map<number, number>();

  constructor(
    readonly device: VirtioDevice,
    private readonly options: BenchOptions = {},
  ) {
    this.activate(options.features ?? device.features);
  }

  /** Activates the device (again) with fresh queues, as after a driver re-initialisation. */
  activate(features: FeatureWords): void {
    const packed = this.options.packed ?? false;
    const eventIdx = this.options.eventIdx ?? false;
    this.queues = this.device.queueMaxSizes.map((maxSize, index) => {
      const base = (1 << 20) + index * QUEUE_REGION;
      const driver = new VirtqueueDriver({
        memory: this.memory,
        size: Math.min(maxSize, QUEUE_SIZE_LIMIT),
        packed,
        eventIdx,
        queueIndex: index,
        ringBase: base,
        dataSize: QUEUE_REGION - (64 << 10),
      });
      return { driver, outstanding: new Map(), used: [] };
    });
    const interrupt: VirtioInterrupt = {
      signalUsedBuffers: (queueIndex) => this.interrupts.push(queueIndex),
      signalConfigChange: () => this.configChanges++,
      signalNeedsReset: (reason) => this.needsReset.push(reason),
    };
    // The negotiated set: the device's features, with the ring layout the drivers use.
    const ringBits = [VirtioFeature.RingPacked, VirtioFeature.RingEventIdx];
    const deviceBits = [];
    for (let bit = 0; bit < 64; bit++) {
      if (hasFeature(features, bit) && !ringBits.includes(bit as 34 | 29)) deviceBits.push(bit);
    }
    if (packed) deviceBits.push(VirtioFeature.RingPacked);
    if (eventIdx) deviceBits.push(VirtioFeature.RingEventIdx);
    const queues = this.queues.map((q) => q.driver.createQueue({ memory: this.queueMemory }));
    this.device.activate({ memory: this.memory, features: featureWords(...deviceBits), queues, interrupt });
  }

  /** The driver of queue `queueIndex`, for tests that add chains themselves. */
  driver(queueIndex: number): VirtqueueDriver {
    return this.queues[queueIndex].driver;
  }

  /** Makes a chain available on `queueIndex` (without notifying the device). */
  offer(queueIndex: number, request: Request): Submitted {
    const queue = this.queues[queueIndex];
    const driver = queue.driver;
    const id = this.nextId++;
    const buffers: { gpa: number; length: number; writable: boolean }[] = [];
    for (const bytes of request.readable ?? []) {
      const gpa = driver.alloc(Math.max(1, bytes.length));
      this.memory.write(gpa, bytes);
      buffers.push({ gpa, length: bytes.length, writable: false });
    }
    for (const length of request.writable ?? []) {
      const gpa = driver.alloc(Math.max(1, length));
      // Poison, so a test sees which bytes the device really wrote.
      this.memory.write(gpa, new Uint8Array(length).fill(0xee));
      buffers.push({ gpa, length, writable: true });
    }
    if (request.outsideRam !== undefined) {
      const buffer = buffers[request.outsideRam];
      this.queueMemory.poison(buffer.gpa, Math.max(1, buffer.length));
    }
    const descriptors = request.error
      ? [{ address: BENCH_RAM_SIZE + 0x10000, length: 16, flags: 0 }]
      : buffers.map((b, i) => ({
          address: b.gpa,
          length: b.length,
          flags: (b.writable ? DescriptorFlag.Write : 0) | (i < buffers.length - 1 ? DescriptorFlag.Next : 0),
        }));
    if (descriptors.length === 0) throw new Error("a request needs at least one buffer");
    const queueId = driver.addRaw(descriptors);
    queue.outstanding.set(queueId, id);
    return { id, writable: buffers.filter((b) => b.writable).map(({ gpa, length }) => ({ gpa, length })) };
  }

  /** offer() then notify the device. */
  submit(queueIndex: number, request: Request): Submitted {
    const submitted = this.offer(queueIndex, request);
    this.kick(queueIndex);
    return submitted;
  }

  kick(queueIndex: number): void {
    this.device.queueNotify(queueIndex);
  }

  /** Chains the device returned on `queueIndex` so far, in order (ids are bench ids). */
  used(queueIndex: number): { id: number; length: number }[] {
    const queue = this.queues[queueIndex];
    for (const element of queue.driver.takeUsed()) {
      const id = queue.outstanding.get(element.id);
      if (id === undefined) throw new Error(`queue ${queueIndex} returned unknown id ${element.id}`);
      queue.outstanding.delete(element.id);
      queue.used.push({ id, length: element.length });
      this.returned.set(id, element.length);
    }
    return queue.used;
  }

  /** The length the device returned `submitted` with, or undefined while it still holds it. */
  usedLength(submitted: Submitted): number | undefined {
    for (let index = 0; index < this.queues.length; index++) this.used(index);
    return this.returned.get(submitted.id);
  }

  /** The device-writable part of a chain as it is now in guest memory. */
  writtenBytes(submitted: Submitted): Uint8Array {
    const total = submitted.writable.reduce((sum, b) => sum + b.length, 0);
    const out = new Uint8Array(total);
    let at = 0;
    for (const buffer of submitted.writable) {
      this.memory.read(buffer.gpa, out.subarray(at, at + buffer.length));
      at += buffer.length;
    }
    return out;
  }
}

/** Lets pending promise callbacks and I/O run: enough for in-memory backends to complete. */
export async function settle(rounds = 5): Promise<void> {
  for (let i = 0; i < rounds; i++) await new Promise((resolve) => setImmediate(resolve));
}

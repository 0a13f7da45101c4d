// A test bench for device models: guest RAM, one queue per declared queue, and an interrupt recorder. Tests hand it
// request buffers (bytes the device reads, sizes the device writes) and read back what the device returned.
import { PhysicalMemory } from "@tsvmm/ept";
import type { VirtioDevice, VirtioInterrupt } from "./device.js";
import type { FeatureWords } from "./features.js";
import type { DescriptorChain, Virtqueue } from "./virtqueue.js";

export const BENCH_RAM_SIZE = 16 << 20;

/** A chain over guest memory, as a queue would hand it out (validation is the queue's job, not tested here). */
class BenchChain implements DescriptorChain {
  readonly readableLength: number;
  readonly writableLength: number;

  constructor(
    readonly id: number,
    readonly error: string | undefined,
    private readonly memory: PhysicalMemory,
    private readonly readable: { gpa: number; length: number }[],
    private readonly writable: { gpa: number; length: number }[],
  ) {
    this.readableLength = readable.reduce((sum, b) => sum + b.length, 0);
    this.writableLength = writable.reduce((sum, b) => sum + b.length, 0);
  }

  read(offset: number, dst: Uint8Array): number {
    return this.copy(this.readable, offset, dst, false);
  }

  write(offset: number, src: Uint8Array): number {
    return this.copy(this.writable, offset, src, true);
  }

  // GuestMemory throws for a buffer outside RAM; that is passed on, as devices must survive it.
  private copy(
    buffers: { gpa: number; length: number }[],
    offset: number,
    data: Uint8Array,
    toGuest: boolean,
  ) {
    let skip = offset;
    let done = 0;
    for (const buffer of buffers) {
      if (done === data.length) break;
      if (skip >= buffer.length) {
        skip -= buffer.length;
        continue;
      }
      const n = Math.min(buffer.length - skip, data.length - done);
      if (toGuest) this.memory.write(buffer.gpa + skip, data.subarray(done, done + n));
      else this.memory.read(buffer.gpa + skip, data.subarray(done, done + n));
      done += n;
      skip = 0;
    }
    return done;
  }
}

class BenchQueue implements Virtqueue {
  readonly broken = undefined;
  readonly available: BenchChain[] = [];
  readonly used: { id: number; length: number }[] = [];
  notificationsEnabled = true;

  constructor(
    readonly index: number,
    readonly size: number,
  ) {}

  pop(): DescriptorChain | null {
    return this.available.shift() ?? null;
  }

  pushUsed(chain: DescriptorChain, writtenLength: number): void {
    if (this.used.some((u) => u.id === chain.id)) throw new Error(`chain ${chain.id} returned twice`);
    this.used.push({ id: chain.id, length: writtenLength });
  }

  needsInterrupt(): boolean {
    return true;
  }

  setNotifications(enabled: boolean): void {
    this.notificationsEnabled = enabled;
  }
}

export interface Request {
  /** Device-readable buffers, in order. */
  readable?: Uint8Array[];
  /** Sizes of the device-writable buffers, in order. */
  writable?: number[];
  /** Put this buffer (by index over readable then writable) outside guest RAM. */
  outsideRam?: number;
  /** Hand the chain out as malformed. */
  error?: string;
}

export interface Submitted {
  id: number;
  writable: { gpa: number; length: number }[];
}

export class DeviceBench {
  readonly memory = new PhysicalMemory();
  readonly interrupts: number[] = [];
  configChanges = 0;
  needsReset: string[] = [];
  private queues: BenchQueue[] = [];
  private nextGpa = 0x1000;
  private nextId = 0;

  constructor(
    readonly device: VirtioDevice,
    options: { features?: FeatureWords } = {},
  ) {
    this.memory.setUserMemoryRegion({ slot: 0, guestPhysAddr: 0, memorySize: BENCH_RAM_SIZE });
    this.activate(options.features ?? device.features);
  }

  /** Activates the device (again) with fresh queues, as after a driver re-initialisation. */
  activate(features: FeatureWords): void {
    this.queues = this.device.queueMaxSizes.map((size, index) => new BenchQueue(index, size));
    const interrupt: VirtioInterrupt = {
      signalUsedBuffers: (queueIndex) => this.interrupts.push(queueIndex),
      signalConfigChange: () => this.configChanges++,
      signalNeedsReset: (reason) => this.needsReset.push(reason),
    };
    this.device.activate({ memory: this.memory, features, queues: this.queues, interrupt });
  }

  /** Makes a chain available on `queueIndex` (without notifying the device). */
  offer(queueIndex: number, request: Request): Submitted {
    const id = this.nextId++;
    const place = (length: number, index: number) => {
      if (request.outsideRam === index) return { gpa: BENCH_RAM_SIZE + 0x10000, length };
      const gpa = this.nextGpa;
      this.nextGpa += Math.ceil((length + 1) / 16) * 16;
      if (this.nextGpa > BENCH_RAM_SIZE) throw new Error("bench RAM exhausted");
      return { gpa, length };
    };
    const readable = (request.readable ?? []).map((bytes, i) => {
      const buffer = place(bytes.length, i);
      if (request.outsideRam !== i) this.memory.write(buffer.gpa, bytes);
      return buffer;
    });
    const firstWritable = readable.length;
    const writable = (request.writable ?? []).map((length, i) => {
      const buffer = place(length, firstWritable + i);
      // Poison, so a test sees which bytes the device really wrote.
      if (request.outsideRam !== firstWritable + i)
        this.memory.write(buffer.gpa, new Uint8Array(length).fill(0xee));
      return buffer;
    });
    const chain = request.error
      ? new BenchChain(id, request.error, this.memory, [], [])
      : new BenchChain(id, undefined, this.memory, readable, writable);
    this.queues[queueIndex].available.push(chain);
    return { id, writable };
  }

  /** offer() then notify the device. */
  submit(queueIndex: number, request: Request): Submitted {
    const submitted = this.offer(queueIndex, request);
    this.device.queueNotify(queueIndex);
    return submitted;
  }

  kick(queueIndex: number): void {
    this.device.queueNotify(queueIndex);
  }

  /** Chains the device returned on `queueIndex`, in order. */
  used(queueIndex: number): { id: number; length: number }[] {
    return this.queues[queueIndex].used;
  }

  /** The length the device returned `submitted` with, or undefined while it still holds it. */
  usedLength(submitted: Submitted): number | undefined {
    for (const queue of this.queues) {
      const entry = queue.used.find((u) => u.id === submitted.id);
      if (entry) return entry.length;
    }
    return undefined;
  }

  /** The device-writable part of a chain as it is now in guest memory. */
  writtenBytes(submitted: Submitted): Uint8Array {
    const total = submitted.writable.reduce((sum, b) => sum + b.length, 0);
    const out = new Uint8Array(total);
    let at = 0;
    for (const buffer of submitted.writable) {
      if (buffer.gpa < BENCH_RAM_SIZE) this.memory.read(buffer.gpa, out.subarray(at, at + buffer.length));
      at += buffer.length;
    }
    return out;
  }

  availableCount(queueIndex: number): number {
    return this.queues[queueIndex].available.length;
  }
}

/** Lets pending promise callbacks and I/O run: enough for in-memory backends to complete. */
export async function settle(rounds = 5): Promise<void> {
  for (let i = 0; i < rounds; i++) await new Promise((resolve) => setImmediate(resolve));
}

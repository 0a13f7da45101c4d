// The profile run's eyes inside tsqemu: a vCPU scheduler that ends a slice every N guest instructions and,
// between slices, samples where the guest is (EIP, CPL, paging) and which exit the last slice ended with.
import type { GuestMemory } from "@tsvmm/ept";
import { ExitReason, IoDirection, type Vcpu } from "@tsvmm/kvm-api";
import { RoundRobinScheduler, type Scheduler } from "@tsvmm/scheduler";

/** Where a sample found the CPU. */
export const SampleMode = { PAGING_OFF: 0, KERNEL: 1, USER: 2 } as const;
export type SampleMode = (typeof SampleMode)[keyof typeof SampleMode];

const CR0_PG = 0x8000_0000;

/**
 * i386 Linux maps low memory at PAGE_OFFSET (CONFIG_PAGE_OFFSET, 0xC0000000 with the default 3G/1G split),
 * and its kernel stacks live there (no vmap'd stacks on 32-bit), so a frame pointer converts to a guest-
 * physical address by subtracting it.
 */
const PAGE_OFFSET = 0xc000_0000;

/** The most return addresses a frame walk collects per sample. */
export const MAX_FRAMES = 32;

/**
 * The return addresses of a frame-pointer chain (Linux built with CONFIG_FRAME_POINTER: [ebp] is the caller's
 * ebp, [ebp + 4] the return address), innermost first. It stops at a frame outside low memory, one that does
 * not move up the stack, or after MAX_FRAMES.
 */
export function walkFramePointers(memory: GuestMemory, ebp: number, lowMemoryBytes: number): number[] {
  const returns: number[] = [];
  while (returns.length < MAX_FRAMES) {
    const physical = ebp - PAGE_OFFSET;
    if (physical < 0 || (ebp & 3) !== 0 || physical + 8 > lowMemoryBytes || !memory.isRam(physical, 8)) break;
    const caller = memory.readU32(physical);
    returns.push(memory.readU32(physical + 4));
    if (caller <= ebp) break;
    ebp = caller;
  }
  return returns;
}

/** Grows by doubling: one sample is a few numbers, and a boot takes tens of thousands. */
class GrowableArray {
  values: Float64Array = new Float64Array(1024);
  length = 0;
  push(value: number): void {
    if (this.length === this.values.length) {
      const bigger = new Float64Array(this.values.length * 2);
      bigger.set(this.values);
      this.values = bigger;
    }
    this.values[this.length++] = value;
  }
  toArray(): number[] {
    return Array.from(this.values.subarray(0, this.length));
  }
}

export interface GuestSamples {
  sampleEvery: number;
  /** Per sample: EIP, the mode, and the busy host ms (idle excluded) since the previous sample. */
  eip: number[];
  mode: number[];
  busyMs: number[];
  /** Per sample: host ms since the sampler was created. */
  atMs: number[];
  /** Per sample: the kernel's return addresses (frame-pointer walk), innermost first; [] outside the kernel. */
  callers: number[][];
  /** "port/in" or "port/out" -> exits; string I/O counts one exit per element the CPU stops for. */
  ioPorts: Record<string, number>;
  /** MMIO exits by 4 KiB page ("0xfee00000"). */
  mmioPages: Record<string, number>;
  /** Host ms spent with every vCPU halted (the run loop waiting for a timer or input). */
  idleMs: number;
}

/**
 * Wraps the round-robin scheduler: timeslice() also stops at the next multiple of `sampleEvery` instructions,
 * and next() (which the run loop calls once per iteration, after handling the previous exit) records that
 * exit and, when the instruction count has reached the sample point, takes a sample.
 */
export class GuestSampler implements Scheduler<Vcpu> {
  private readonly inner = new RoundRobinScheduler<Vcpu>();
  private readonly eip = new GrowableArray();
  private readonly mode = new GrowableArray();
  private readonly busyMs = new GrowableArray();
  private readonly atMs = new GrowableArray();
  private readonly callers: number[][] = [];
  private frameWalk: { memory: GuestMemory; lowMemoryBytes: number } | undefined;
  private readonly origin = performance.now();
  private readonly ioPorts = new Map<number, number>();
  private readonly mmioPages = new Map<number, number>();
  private nextSampleAt: number;
  private lastRun: Vcpu | undefined;
  private idleSince: number | undefined;
  private idleMs = 0;
  private idleAtLastSample = 0;
  private lastSampleMs = performance.now();

  constructor(private readonly sampleEvery: number) {
    if (!Number.isInteger(sampleEvery) || sampleEvery < 1)
      throw new RangeError("sampleEvery must be positive");
    this.nextSampleAt = sampleEvery;
  }

  /** Also walk the kernel's frame pointers at each kernel-mode sample (guest RAM from 0 up to `lowMemoryBytes`). */
  enableFrameWalk(memory: GuestMemory, lowMemoryBytes: number): void {
    this.frameWalk = { memory, lowMemoryBytes };
  }

  add(vcpu: Vcpu): void {
    this.inner.add(vcpu);
  }

  remove(vcpu: Vcpu): void {
    this.inner.remove(vcpu);
  }

  setRunnable(vcpu: Vcpu, runnable: boolean): void {
    this.inner.setRunnable(vcpu, runnable);
  }

  isRunnable(vcpu: Vcpu): boolean {
    return this.inner.isRunnable(vcpu);
  }

  timeslice(vcpu: Vcpu): number {
    return Math.max(1, Math.min(this.inner.timeslice(vcpu), this.nextSampleAt - vcpu.instructionCount));
  }

  next(): Vcpu | undefined {
    const now = performance.now();
    if (this.idleSince !== undefined) {
      this.idleMs += now - this.idleSince;
      this.idleSince = undefined;
    }
    const previous = this.lastRun;
    if (previous !== undefined) {
      this.recordExit(previous);
      if (previous.instructionCount >= this.nextSampleAt) this.sample(previous, now);
    }
    const vcpu = this.inner.next();
    this.lastRun = vcpu;
    if (vcpu === undefined) this.idleSince = now;
    return vcpu;
  }

  /** Everything gathered so far, as plain data. */
  result(): GuestSamples {
    const keyed = (map: Map<number, number>, key: (k: number) => string) =>
      Object.fromEntries([...map].sort((a, b) => b[1] - a[1]).map(([k, n]) => [key(k), n]));
    return {
      sampleEvery: this.sampleEvery,
      eip: this.eip.toArray(),
      mode: this.mode.toArray(),
      busyMs: this.busyMs.toArray(),
      atMs: this.atMs.toArray(),
      callers: this.callers,
      ioPorts: keyed(
        this.ioPorts,
        (k) => `0x${(k >>> 1).toString(16).padStart(4, "0")}/${k & 1 ? "out" : "in"}`,
      ),
      mmioPages: keyed(this.mmioPages, (k) => `0x${(k * 4096).toString(16)}`),
      idleMs: this.idleMs,
    };
  }

  private recordExit(vcpu: Vcpu): void {
    const run = vcpu.kvmRun;
    if (run.exitReason === ExitReason.IO) {
      const key = run.io.port * 2 + (run.io.direction === IoDirection.OUT ? 1 : 0);
      this.ioPorts.set(key, (this.ioPorts.get(key) ?? 0) + 1);
    } else if (run.exitReason === ExitReason.MMIO) {
      const page = Math.floor(run.mmio.physAddr / 4096);
      this.mmioPages.set(page, (this.mmioPages.get(page) ?? 0) + 1);
    }
  }

  private sample(vcpu: Vcpu, now: number): void {
    const sregs = vcpu.getSregs();
    const mode =
      (sregs.cr0 & CR0_PG) === 0
        ? SampleMode.PAGING_OFF
        : (sregs.cs.selector & 3) === 3
          ? SampleMode.USER
          : SampleMode.KERNEL;
    const regs = vcpu.getRegs();
    this.eip.push(regs.rip);
    this.mode.push(mode);
    this.atMs.push(now - this.origin);
    const walk = this.frameWalk;
    this.callers.push(
      walk !== undefined && mode === SampleMode.KERNEL
        ? walkFramePointers(walk.memory, regs.rbp, walk.lowMemoryBytes)
        : [],
    );
    this.busyMs.push(now - this.lastSampleMs - (this.idleMs - this.idleAtLastSample));
    this.lastSampleMs = now;
    this.idleAtLastSample = this.idleMs;
    while (this.nextSampleAt <= vcpu.instructionCount) this.nextSampleAt += this.sampleEvery;
  }
}

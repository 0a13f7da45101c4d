/** What devices and timers read time from (structurally the same as the device model's clocks). */
export interface Clock {
  /** Nanoseconds of guest time since the VM was created. */
  nowNs(): number;
}

export type ClockMode =
  /** Guest time follows the host's monotonic clock: what an interactive VM wants. */
  | "host"
  /** Guest time advances with retired instructions: runs are reproducible (tests, record/replay). */
  | "instructions";

export interface VirtualClockOptions {
  mode?: ClockMode;
  /** Instruction mode: guest nanoseconds per retired instruction (default 1, a 1 GHz guest). */
  nsPerInstruction?: number;
  /** Host mode: the host's monotonic milliseconds (default performance.now). */
  hostNowMs?: () => number;
}

/**
 * The one virtual clock of a VM: RDTSC, the local APIC timer, the PIT and the RTC all read it, so
 * guest time is consistent everywhere. In instruction mode it is a pure function of the work done,
 * and `advanceIdle` moves it to the next timer deadline when every vCPU is halted, so a sleeping
 * guest neither stalls nor burns host time.
 */
export class VirtualClock implements Clock {
  readonly mode: ClockMode;
  private readonly nsPerInstruction: number;
  private readonly hostNowMs: () => number;
  private readonly startMs: number;
  /** Idle time skipped forward (instruction mode) or added on top of host time. */
  private idleNs = 0;
  private instructions: () => number = () => 0;

  constructor(options: VirtualClockOptions = {}) {
    this.mode = options.mode ?? "host";
    this.nsPerInstruction = options.nsPerInstruction ?? 1;
    if (!(this.nsPerInstruction > 0)) throw new RangeError("nsPerInstruction must be positive");
    this.hostNowMs = options.hostNowMs ?? defaultHostNowMs;
    this.startMs = this.hostNowMs();
  }

  /** Where instruction mode counts retired instructions (the VM's vCPUs, summed). */
  bindInstructionCounter(count: () => number): void {
    this.instructions = count;
  }

  nowNs(): number {
    if (this.mode === "host") return Math.floor((this.hostNowMs() - this.startMs) * 1e6) + this.idleNs;
    return Math.floor(this.instructions() * this.nsPerInstruction) + this.idleNs;
  }

  /**
   * Every vCPU is halted until `deadlineNs` (the next timer event): in instruction mode time jumps
   * there at once; in host mode the caller sleeps for `hostDelayMs(deadline)` instead.
   */
  advanceIdle(deadlineNs: number): void {
    if (this.mode !== "instructions") return;
    const now = this.nowNs();
    if (deadlineNs > now) this.idleNs += deadlineNs - now;
  }

  /** Host milliseconds until guest time reaches `deadlineNs` (0 when it has). */
  hostDelayMs(deadlineNs: number): number {
    if (this.mode !== "host") return 0;
    return Math.max(0, (deadlineNs - this.nowNs()) / 1e6);
  }
}

/** performance.now(), typed without DOM or Node typings (every JS host has it). */
function defaultHostNowMs(): number {
  return (globalThis as unknown as { performance: { now(): number } }).performance.now();
}

import { TIMER_ONE_SHOT, TIMER_PERIODIC, TIMER_TSC_DEADLINE } from "./lapic-registers.js";

/**
 * The APIC timer counts bus cycles of a 1 GHz bus (one per guest nanosecond, as KVM models it)
 * through the divide configuration register.
 */
export const APIC_BUS_CYCLE_NS = 1;
/**
 * TSC ticks per guest nanosecond assumed when a TSC deadline is turned into guest time: a 1 GHz
 * TSC, which is what the CPU's counter gives at the VM clock's default of 1 ns per instruction.
 */
export const TSC_TICKS_PER_NS = 1;
/**
 * The shortest period a periodic timer runs at (KVM's min_timer_period_us): a guest asking for a
 * faster one gets this instead, so it cannot spend all its time taking timer interrupts.
 */
export const MIN_PERIODIC_NS = 200_000;

/** The timer's part of the local APIC state (plain numbers, JSON-serialisable). */
export interface LapicTimerState {
  /** TIMER_ONE_SHOT, TIMER_PERIODIC or TIMER_TSC_DEADLINE (LVT timer bits 17-18). */
  mode: number;
  initialCount: number;
  /** The divide configuration register (bits 0, 1 and 3). */
  divideConfig: number;
  /** Guest ns at which the count was last (re)loaded with the initial count. */
  startNs: number;
  /** Guest ns of the next interrupt, -1 when the timer is not armed. */
  expiryNs: number;
  /** IA32_TSC_DEADLINE, as the guest wrote it (0 when disarmed). */
  tscDeadlineLow: number;
  tscDeadlineHigh: number;
}

/** Divide configuration (bits 0, 1, 3) -> divisor: 0b0000 is 2, 0b1010 is 128, 0b1011 is 1. */
export function timerDivisor(divideConfig: number): number {
  const value = ((divideConfig & 8) >> 1) | (divideConfig & 3);
  return value === 7 ? 1 : 2 << value;
}

/**
 * The local APIC timer, computed lazily from guest time: nothing runs while it counts. The count at
 * any moment follows from when it was loaded; the owner calls expire(now) when guest time may have
 * reached nextEventNs() (and whenever else it likes) and raises the timer interrupt when it
 * returns true. Missed periods of a periodic timer coalesce into one interrupt, as a real APIC's
 * single IRR bit would.
 */
export class LapicTimer {
  private mode = TIMER_ONE_SHOT;
  private initialCount = 0;
  private divideConfig = 0;
  private tickNs = timerDivisor(0) * APIC_BUS_CYCLE_NS;
  private startNs = 0;
  private expiryNs = -1;
  private tscDeadlineLow = 0;
  private tscDeadlineHigh = 0;

  reset(): void {
    this.mode = TIMER_ONE_SHOT;
    this.initialCount = 0;
    this.setDivisor(0);
    this.startNs = 0;
    this.expiryNs = -1;
    this.tscDeadlineLow = this.tscDeadlineHigh = 0;
  }

  get initial(): number {
    return this.initialCount;
  }

  get divide(): number {
    return this.divideConfig;
  }

  /** Guest ns of the next timer interrupt, or undefined when none is due. */
  nextEventNs(): number | undefined {
    return this.expiryNs >= 0 ? this.expiryNs : undefined;
  }

  /**
   * The LVT timer's mode changed. One-shot and periodic hand over to each other without stopping;
   * entering or leaving TSC-deadline mode disarms the timer and clears both the initial count and
   * the deadline (as KVM does).
   */
  setMode(mode: number): void {
    if (mode === this.mode) return;
    const deadlineInvolved = mode === TIMER_TSC_DEADLINE || this.mode === TIMER_TSC_DEADLINE;
    this.mode = mode;
    if (deadlineInvolved) {
      this.initialCount = 0;
      this.expiryNs = -1;
      this.tscDeadlineLow = this.tscDeadlineHigh = 0;
    } else if (this.expiryNs >= 0) {
      this.expiryNs = this.startNs + this.periodNs();
    }
  }

  /** A write to the initial-count register: (re)starts counting now; 0 stops the timer. */
  setInitialCount(count: number, nowNs: number): void {
    if (this.mode === TIMER_TSC_DEADLINE) return; // ignored in TSC-deadline mode
    this.initialCount = count >>> 0;
    this.startNs = nowNs;
    this.expiryNs = this.initialCount === 0 ? -1 : nowNs + this.periodNs();
  }

  /** A write to the divide configuration: a running count keeps its value and goes on at the new rate. */
  setDivideConfig(value: number, nowNs: number): void {
    const running = this.expiryNs >= 0 && this.mode !== TIMER_TSC_DEADLINE;
    const count = running ? this.currentCount(nowNs) : 0;
    this.setDivisor(value & 0xb);
    if (!running) return;
    const done = this.initialCount - count;
    const period = this.periodNs();
    this.startNs = nowNs - Math.floor((done * period) / this.initialCount);
    this.expiryNs = this.startNs + period;
  }

  /** The current-count register at `nowNs`. */
  currentCount(nowNs: number): number {
    if (this.mode === TIMER_TSC_DEADLINE || this.expiryNs < 0) return 0;
    const initial = this.initialCount;
    const elapsed = Math.max(0, nowNs - this.startNs);
    if (this.mode !== TIMER_PERIODIC) return Math.max(0, initial - Math.floor(elapsed / this.tickNs));
    const period = this.periodNs();
    const inPeriod = elapsed % period;
    // At the real rate the count drops one per tick; a period stretched to the minimum spreads it out.
    const ticks =
      period === initial * this.tickNs
        ? Math.floor(inPeriod / this.tickNs)
        : Math.floor((inPeriod * initial) / period);
    return initial - ticks;
  }

  /** IA32_TSC_DEADLINE reads 0 outside TSC-deadline mode. */
  readTscDeadline(out: { resultLow: number; resultHigh: number }): void {
    const active = this.mode === TIMER_TSC_DEADLINE;
    out.resultLow = active ? this.tscDeadlineLow : 0;
    out.resultHigh = active ? this.tscDeadlineHigh : 0;
  }

  /**
   * A write to IA32_TSC_DEADLINE (ignored outside TSC-deadline mode): 0 disarms, a deadline at or
   * before `tscNow` fires at once, a later one when guest time has covered the difference.
   */
  setTscDeadline(low: number, high: number, nowNs: number, tscNow: number): void {
    if (this.mode !== TIMER_TSC_DEADLINE) return;
    this.tscDeadlineLow = low | 0;
    this.tscDeadlineHigh = high | 0;
    const deadline = (high >>> 0) * 0x1_0000_0000 + (low >>> 0);
    if (deadline === 0) {
      this.expiryNs = -1;
      return;
    }
    this.expiryNs = nowNs + Math.max(0, Math.ceil((deadline - tscNow) / TSC_TICKS_PER_NS));
  }

  /**
   * Whether the timer fired by `nowNs` (at most once per call: missed periods coalesce). A one-shot
   * timer stops at 0, a TSC deadline clears itself, a periodic timer reloads for the next period.
   */
  expire(nowNs: number): boolean {
    if (this.expiryNs < 0 || nowNs < this.expiryNs) return false;
    if (this.mode === TIMER_PERIODIC) {
      const period = this.periodNs();
      this.startNs += Math.floor((nowNs - this.startNs) / period) * period;
      this.expiryNs = this.startNs + period;
    } else {
      this.expiryNs = -1;
      if (this.mode === TIMER_TSC_DEADLINE) this.tscDeadlineLow = this.tscDeadlineHigh = 0;
    }
    return true;
  }

  getState(): LapicTimerState {
    return {
      mode: this.mode,
      initialCount: this.initialCount,
      divideConfig: this.divideConfig,
      startNs: this.startNs,
      expiryNs: this.expiryNs,
      tscDeadlineLow: this.tscDeadlineLow,
      tscDeadlineHigh: this.tscDeadlineHigh,
    };
  }

  /** Restores a state from getState(); values are sanitised so a bad snapshot cannot wedge the timer. */
  setState(state: LapicTimerState): void {
    const mode = state.mode & (TIMER_PERIODIC | TIMER_TSC_DEADLINE);
    this.mode = mode === (TIMER_PERIODIC | TIMER_TSC_DEADLINE) ? TIMER_ONE_SHOT : mode;
    this.initialCount = state.initialCount >>> 0;
    this.setDivisor(state.divideConfig & 0xb);
    this.startNs = finiteOr(state.startNs, 0);
    this.expiryNs = finiteOr(state.expiryNs, -1) < 0 ? -1 : state.expiryNs;
    if (this.mode !== TIMER_TSC_DEADLINE && this.initialCount === 0) this.expiryNs = -1;
    this.tscDeadlineLow = state.tscDeadlineLow | 0;
    this.tscDeadlineHigh = state.tscDeadlineHigh | 0;
  }

  private setDivisor(divideConfig: number): void {
    this.divideConfig = divideConfig;
    this.tickNs = timerDivisor(divideConfig) * APIC_BUS_CYCLE_NS;
  }

  /** Guest ns from load to interrupt: the real count time, stretched to the minimum when periodic. */
  private periodNs(): number {
    const period = this.initialCount * this.tickNs;
    return this.mode === TIMER_PERIODIC ? Math.max(period, MIN_PERIODIC_NS) : period;
  }
}

function finiteOr(value: number, fallback: number): number {
  return Number.isFinite(value) ? value : fallback;
}

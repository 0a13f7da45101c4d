// The Intel 8254 programmable interval timer as a PC has it: three counters clocked at 1.193182 MHz, channel 0's
// OUT on IRQ 0, channel 2's GATE and OUT behind port 0x61 (PcSpeakerPort). Offsets 0-2 are the counters, offset 3
// the control word register (ports 0x40-0x43).
//
// Time comes from a host virtual clock and counts are computed from it when asked: nothing runs per tick. The host
// keeps IRQ 0 current by calling poll() at the time nextEventNs() names (and may call it at any other time).
//
// IRQ 0 model: OUT0's rising edges are what request interrupts, so each one is delivered, late or not: if OUT0 rose
// since the last delivery, the line is driven low (when it was high) and then high, and it stays high until a later
// delivery finds no new rise. A fall of OUT0 is therefore reported at the first delivery after it (a guest access or
// the next poll), never scheduled on its own: the host wakes once per tick, and a tick is never lost because the
// host or the vCPU ran late. The waveform itself (counts, read-back status, port 0x61) is exact.

import type { BusDevice } from "./bus-device.js";
import { PitAccess, PitCounter, type PitCounterState } from "./pit8254-counter.js";
import type { Trigger } from "./trigger.js";

/** A monotonic host virtual clock, in nanoseconds (any origin). */
export interface PitClock {
  nowNs(): number;
}

export interface Pit8254Options {
  clock: PitClock;
  /** Channel 0's OUT, wired to IRQ 0 on a PC. */
  irq0: Trigger;
}

/** Snapshot of a Pit8254 (plain, JSON-serialisable). Ticks count input clocks on the clock's time line. */
export interface Pit8254State {
  counters: PitCounterState[];
  /** The level last driven on irq0. */
  irq0Level: boolean;
  /** The tick up to which OUT0's edges have been delivered. */
  irq0Tick: number;
}

/** The PIT's input clock on a PC (14.31818 MHz / 12, rounded as QEMU does). */
export const PIT_FREQUENCY_HZ = 1_193_182;
const NS_PER_SECOND = 1_000_000_000;
/** Clock readings are clamped here so that tick numbers stay exact integers (about 220 years). */
const MAX_NS = 7e18;

/** Input clocks elapsed at `ns` nanoseconds: floor(ns * 1193182 / 1e9), exact without BigInt. */
export function pitTicksAtNs(ns: number): number {
  if (!(ns > 0)) return 0;
  const whole = Math.floor(Math.min(ns, MAX_NS));
  const seconds = Math.floor(whole / NS_PER_SECOND);
  const rest = whole - seconds * NS_PER_SECOND;
  return seconds * PIT_FREQUENCY_HZ + Math.floor((rest * PIT_FREQUENCY_HZ) / NS_PER_SECOND);
}

/** The first nanosecond at which pitTicksAtNs reaches `tick`. */
export function pitNsAtTick(tick: number): number {
  if (!(tick > 0)) return 0;
  const seconds = Math.floor(tick / PIT_FREQUENCY_HZ);
  const rest = tick - seconds * PIT_FREQUENCY_HZ;
  let ns = seconds * NS_PER_SECOND + Math.ceil((rest * NS_PER_SECOND) / PIT_FREQUENCY_HZ);
  // Guard the floating-point division's last bit.
  if (pitTicksAtNs(ns) < tick) ns += 1;
  else if (ns > 0 && pitTicksAtNs(ns - 1) >= tick) ns -= 1;
  return ns;
}

/**
 * An 8254 PIT. Register accesses wider than one byte use their low byte (the other bytes read as 0); reads of the
 * control word register return 0xff (the chip leaves the bus floating; QEMU returns 0). Accesses never throw.
 */
export class Pit8254 implements BusDevice {
  private readonly clock: PitClock;
  private readonly irq0: Trigger;
  private readonly counters: PitCounter[] = [new PitCounter(), new PitCounter(), new PitCounter()];
  private lastTick = 0;
  private irq0Level = false;
  private irq0Tick = 0;

  constructor(options: Pit8254Options) {
    this.clock = options.clock;
    this.irq0 = options.irq0;
    this.reset();
  }

  read(_base: number, offset: number, data: Uint8Array): void {
    if (data.length === 0) return;
    const register = offset & 3;
    const now = this.advance();
    data[0] = register === 3 ? 0xff : this.counters[register].readByte(now);
    for (let i = 1; i < data.length; i++) data[i] = 0;
  }

  write(_base: number, offset: number, data: Uint8Array): void {
    if (data.length === 0) return;
    const register = offset & 3;
    const now = this.advance();
    if (register === 3) this.writeControl(data[0], now);
    else this.counters[register].writeByte(data[0], now);
    this.deliverIrq0(now);
  }

  /** Brings IRQ 0 up to the clock's current reading. */
  poll(): void {
    this.advance();
  }

  /**
   * Brings IRQ 0 up to date, then returns the clock reading (ns) at which OUT0 will next rise, or undefined if it will
   * not unless the guest reprograms the timer. Guest accesses change the answer, so ask again after them.
   */
  nextEventNs(): number | undefined {
    this.advance();
    const rise = this.counters[0].nextRiseAfter(this.irq0Tick);
    return rise === Number.POSITIVE_INFINITY ? undefined : pitNsAtTick(rise);
  }

  /** Drives GATE of counter `channel` (0-2; others are ignored). On a PC, gates 0 and 1 are tied high. */
  setGate(channel: number, level: boolean): void {
    const counter = this.counters[channel];
    if (counter === undefined) return;
    const now = this.advance();
    counter.setGate(level, now);
    this.deliverIrq0(now);
  }

  /** The OUT level of counter `channel` (0-2) now; false for other values. */
  out(channel: number): boolean {
    const counter = this.counters[channel];
    if (counter === undefined) return false;
    return counter.outAt(this.advance());
  }

  /** Input clocks elapsed on the clock's time line (what other PC logic derived from the PIT clock uses). */
  ticks(): number {
    return this.currentTick();
  }

  /** Power-on state (QEMU's): every counter in mode 3 with count 65536, loaded now. */
  reset(): void {
    const now = this.currentTick();
    // The GATE inputs are wires driven from outside: they keep their levels.
    for (let i = 0; i < 3; i++) this.counters[i].reset(now);
    this.irq0Tick = now;
    this.deliverIrq0(now);
  }

  getState(): Pit8254State {
    return {
      counters: this.counters.map((counter) => counter.getState()),
      irq0Level: this.irq0Level,
      irq0Tick: this.irq0Tick,
    };
  }

  /**
   * Restores a snapshot taken on the same clock time line (the host restores its virtual clock too). Malformed
   * fields are replaced or clamped, never thrown on. Drives IRQ 0 to match.
   */
  setState(state: Pit8254State): void {
    const s: Partial<Pit8254State> = state !== null && typeof state === "object" ? state : {};
    const now = this.currentTick();
    const counters = Array.isArray(s.counters) ? s.counters : [];
    for (let i = 0; i < 3; i++) this.counters[i].setState(counters[i] as PitCounterState, now);
    const tick = typeof s.irq0Tick === "number" && Number.isFinite(s.irq0Tick) ? Math.floor(s.irq0Tick) : now;
    this.irq0Tick = Math.min(Math.max(tick, 0), now);
    if (s.irq0Level === true || s.irq0Level === false) {
      if (s.irq0Level !== this.irq0Level) {
        this.irq0Level = s.irq0Level;
        this.irq0.set(s.irq0Level);
      }
    }
    this.advance();
  }

  private writeControl(value: number, now: number): void {
    const select = value >>> 6;
    if (select === 3) {
      // Read-back: bit 5 clear latches counts, bit 4 clear latches status, bits 1-3 select counters 0-2.
      for (let i = 0; i < 3; i++) {
        if ((value & (2 << i)) === 0) continue;
        const counter = this.counters[i];
        if ((value & 0x20) === 0) counter.latchCount(now);
        if ((value & 0x10) === 0) counter.latchStatus(now);
      }
      return;
    }
    const counter = this.counters[select];
    if (((value >> 4) & 3) === PitAccess.Latch) counter.latchCount(now);
    else counter.writeControl(value, now);
  }

  /** The clock's reading in ticks; it never goes back, whatever the clock returns. */
  private currentTick(): number {
    const tick = pitTicksAtNs(this.clock.nowNs());
    if (tick > this.lastTick) this.lastTick = tick;
    return this.lastTick;
  }

  /** Delivers OUT0's edges up to now and applies every counter's due events; returns now in ticks. */
  private advance(): number {
    const now = this.currentTick();
    this.deliverIrq0(now);
    return now;
  }

  private deliverIrq0(now: number): void {
    const counter = this.counters[0];
    // Rises are looked for before sync(), which may rebase the counter past the last delivery.
    const rose = counter.nextRiseAfter(this.irq0Tick) <= now;
    for (let i = 0; i < 3; i++) this.counters[i].sync(now);
    this.irq0Tick = now;
    if (rose) {
      // A fresh low-high edge even if the line was still high from an earlier, unacknowledged tick.
      if (this.irq0Level) this.irq0.set(false);
      this.irq0Level = true;
      this.irq0.set(true);
      return;
    }
    const level = counter.outAt(now);
    if (level === this.irq0Level) return;
    this.irq0Level = level;
    this.irq0.set(level);
  }
}

// One counter of an Intel 8254, computed lazily from input-clock ticks: nothing runs per tick. Between guest actions
// a counter is a "segment": the counting element was loaded with `n` at tick `loadTick`, and `elapsed` clocks have
// been counted since (gated clocks excluded), from which the count and OUT follow in closed form.
//
// Timing follows the datasheet: a count is loaded into the counting element on the clock after it is written (or
// after the gate trigger, in modes 1 and 5), so OUT in mode 0 rises N + 1 clocks after the write. Model choices for
// what the datasheet leaves undefined: after a control word the counting element keeps its value (frozen) until a
// count is loaded; a count of 1 in modes 2 and 3 leaves OUT high; BCD digits above 9 count as 9.

/** Snapshot of one counter (plain, JSON-serialisable). Ticks are input clocks of the PIT's time line. */
export interface PitCounterState {
  /** Control word bits 5-0 as last written: RW1 RW0 M2 M1 M0 BCD. */
  control: number;
  /** The count register as written (16 bits). */
  countRegister: number;
  /** Low byte of a two-byte count whose high byte is still to come, or -1. */
  pendingLowByte: number;
  /** Two-byte reads: the next read returns the high byte. */
  readHighByteNext: boolean;
  /** A count was written since the last control word. */
  countWritten: boolean;
  nullCount: boolean;
  /** Tick at which null count clears (the load of the count register), or -1 if not scheduled. */
  nullCountClearsAt: number;
  /** The output latch: -1, or the latched count (counter encoding). */
  latchedCount: number;
  /** Two-byte reads of the latched count: the next read returns its high byte. */
  latchedHighByteNext: boolean;
  /** The latched status byte, or -1. */
  latchedStatus: number;
  gate: boolean;
  /** Whether the counting element is (being) loaded; false after a control word until a count loads. */
  active: boolean;
  /** The count of the current segment (1-65536, or 1-10000 in BCD). */
  n: number;
  loadTick: number;
  /** Count and OUT before loadTick (and while inactive). */
  heldCount: number;
  heldOut: boolean;
  /** elapsed(t) = elapsedBase + (counting ? t - countingSince : 0). */
  elapsedBase: number;
  countingSince: number;
  /** Modes 2 and 3: the count register loads when elapsed reaches this (-1: nothing pending). */
  reloadAtElapsed: number;
  /** Mode 3: the pending load starts in the low half (it lands in the middle of a period). */
  reloadIntoLowHalf: boolean;
}

/** Control word fields. */
export const PitAccess = { Latch: 0, LowByte: 1, HighByte: 2, LowThenHigh: 3 } as const;

const BINARY_RANGE = 0x10000;
const BCD_RANGE = 10000;
const NONE = -1;

export class PitCounter {
  private control = 0;
  private mode = 0;
  private access: number = PitAccess.LowThenHigh;
  private bcd = false;
  private countRegister = 0;
  private pendingLowByte = NONE;
  private readHighByteNext = false;
  private countWritten = false;
  private nullCount = true;
  private nullCountClearsAt = NONE;
  private latchedCount = NONE;
  private latchedHighByteNext = false;
  private latchedStatus = NONE;
  private gate = true;
  private active = false;
  private n = BINARY_RANGE;
  private loadTick = 0;
  private heldCount = 0;
  private heldOut = false;
  private elapsedBase = 0;
  private countingSince = 0;
  private reloadAtElapsed = NONE;
  private reloadIntoLowHalf = false;

  /**
   * Power-on state, as QEMU resets the PIT: mode 3, two-byte access, binary, count 0 (65536) loaded at `now`
   * (channel 0 then ticks at 18.2 Hz until the firmware reprograms it).
   */
  reset(now: number): void {
    this.setControl(0x36 & 0x3f);
    this.countRegister = 0;
    this.countWritten = true;
    this.nullCount = false;
    this.nullCountClearsAt = NONE;
    this.heldCount = 0;
    this.heldOut = true;
    this.active = true;
    this.n = this.decodeCount(0);
    this.loadTick = now;
    this.elapsedBase = 0;
    this.countingSince = now;
  }

  /** Applies the events (pending loads) due by tick `now`. Call before reading or changing anything at `now`. */
  sync(now: number): void {
    if (this.nullCount && this.nullCountClearsAt !== NONE && now >= this.nullCountClearsAt) {
      this.nullCount = false;
      this.nullCountClearsAt = NONE;
    }
    if (this.reloadAtElapsed === NONE || !this.active || !this.counting() || now < this.countingSince) return;
    const target = this.reloadAtElapsed;
    if (this.elapsedAt(now) < target) return;
    // The count register loads at the end of the half-cycle (mode 3) or period (mode 2) in progress.
    const at = this.countingSince + (target - this.elapsedBase);
    this.n = this.decodeCount(this.countRegister);
    this.loadTick = at;
    this.countingSince = at;
    this.elapsedBase = this.reloadIntoLowHalf ? highHalf(this.n) : 0;
    this.reloadAtElapsed = NONE;
    this.nullCount = false;
    this.nullCountClearsAt = NONE;
  }

  /** The count as the counter shows it (binary, or BCD-encoded), 16 bits. */
  countAt(now: number): number {
    const value = this.countValueAt(now);
    return this.bcd ? toBcd(value % BCD_RANGE) : value & 0xffff;
  }

  outAt(now: number): boolean {
    if (!this.active || now < this.loadTick) return this.heldOut;
    if ((this.mode === 2 || this.mode === 3) && !this.gate) return true;
    return outAtElapsed(this.mode, this.n, this.elapsedAt(now));
  }

  /** The first tick after `after` at which OUT rises, or Infinity. Accounts for a pending reload; no side effects. */
  nextRiseAfter(after: number): number {
    if (!this.active) return Number.POSITIVE_INFINITY;
    if (after < this.loadTick) {
      if (!this.heldOut && this.outAtLoad()) return this.loadTick;
      after = this.loadTick;
    }
    if (!this.counting()) return Number.POSITIVE_INFINITY;
    const from = Math.max(after, this.countingSince);
    const elapsed = this.elapsedAt(from);
    const rise = riseAfterElapsed(this.mode, this.n, elapsed);
    const riseTick = rise === Number.POSITIVE_INFINITY ? rise : this.tickAtElapsed(rise);
    if (this.reloadAtElapsed === NONE) return riseTick;
    const reloadTick = this.tickAtElapsed(this.reloadAtElapsed);
    if (riseTick <= reloadTick) return riseTick;
    // After the reload the new count's waveform applies.
    const n = this.decodeCount(this.countRegister);
    const base = this.reloadIntoLowHalf ? highHalf(n) : 0;
    const start = Math.max(from, reloadTick);
    const next = riseAfterElapsed(this.mode, n, base + (start - reloadTick));
    return next === Number.POSITIVE_INFINITY ? next : reloadTick + (next - base);
  }

  /** The status byte (read-back): OUT, null count, control bits. */
  statusAt(now: number): number {
    return (this.outAt(now) ? 0x80 : 0) | (this.nullCount ? 0x40 : 0) | this.control;
  }

  /** A control word for this counter (bits 5-4 non-zero; a latch command goes to latchCount). */
  writeControl(value: number, now: number): void {
    this.freeze(now);
    this.setControl(value & 0x3f);
    this.heldOut = this.mode !== 0; // mode 0 starts low, every other mode high
    this.countWritten = false;
    this.nullCount = true;
    this.nullCountClearsAt = NONE;
    this.latchedCount = NONE;
    this.latchedStatus = NONE;
  }

  /** The counter latch command (and read-back's count latch): a second latch before the read is ignored. */
  latchCount(now: number): void {
    if (this.latchedCount !== NONE) return;
    this.latchedCount = this.countAt(now);
    this.latchedHighByteNext = false;
  }

  /** Read-back's status latch: a second latch before the read is ignored. */
  latchStatus(now: number): void {
    if (this.latchedStatus === NONE) this.latchedStatus = this.statusAt(now);
  }

  readByte(now: number): number {
    if (this.latchedStatus !== NONE) {
      const status = this.latchedStatus;
      this.latchedStatus = NONE;
      return status;
    }
    if (this.latchedCount !== NONE) {
      const count = this.latchedCount;
      if (this.access === PitAccess.LowThenHigh && !this.latchedHighByteNext) {
        this.latchedHighByteNext = true;
        return count & 0xff;
      }
      this.latchedCount = NONE;
      this.latchedHighByteNext = false;
      return this.access === PitAccess.LowByte ? count & 0xff : count >>> 8;
    }
    const count = this.countAt(now);
    if (this.access === PitAccess.LowByte) return count & 0xff;
    if (this.access === PitAccess.HighByte) return count >>> 8;
    this.readHighByteNext = !this.readHighByteNext;
    return this.readHighByteNext ? count & 0xff : count >>> 8;
  }

  writeByte(value: number, now: number): void {
    value &= 0xff;
    if (this.access === PitAccess.LowByte) {
      this.writeCount(value, now);
    } else if (this.access === PitAccess.HighByte) {
      this.writeCount(value << 8, now);
    } else if (this.pendingLowByte === NONE) {
      this.pendingLowByte = value;
      if (this.mode === 0) {
        // Mode 0: writing the first byte stops counting and sets OUT low at once.
        this.freeze(now);
        this.heldOut = false;
      }
    } else {
      const low = this.pendingLowByte;
      this.pendingLowByte = NONE;
      this.writeCount(low | (value << 8), now);
    }
  }

  setGate(level: boolean, now: number): void {
    if (level === this.gate) return;
    // Fold the clocks counted so far into the base: counting stops or resumes from here.
    if (this.active && now >= this.countingSince) {
      this.elapsedBase = this.elapsedAt(now);
      this.countingSince = now;
    }
    this.gate = level;
    if (!level || !this.countWritten) return;
    // A rising edge triggers modes 1 and 5 and restarts modes 2 and 3 with the count register.
    if (this.mode === 1 || this.mode === 5) this.startSegment(now, this.outAt(now));
    else if (this.mode === 2 || this.mode === 3) this.startSegment(now, true);
  }

  get gateLevel(): boolean {
    return this.gate;
  }

  get programmedMode(): number {
    return this.mode;
  }

  getState(): PitCounterState {
    return {
      control: this.control,
      countRegister: this.countRegister,
      pendingLowByte: this.pendingLowByte,
      readHighByteNext: this.readHighByteNext,
      countWritten: this.countWritten,
      nullCount: this.nullCount,
      nullCountClearsAt: this.nullCountClearsAt,
      latchedCount: this.latchedCount,
      latchedHighByteNext: this.latchedHighByteNext,
      latchedStatus: this.latchedStatus,
      gate: this.gate,
      active: this.active,
      n: this.n,
      loadTick: this.loadTick,
      heldCount: this.heldCount,
      heldOut: this.heldOut,
      elapsedBase: this.elapsedBase,
      countingSince: this.countingSince,
      reloadAtElapsed: this.reloadAtElapsed,
      reloadIntoLowHalf: this.reloadIntoLowHalf,
    };
  }

  /** Restores a snapshot; malformed fields are masked or replaced, never thrown on. `now` bounds the ticks. */
  setState(state: PitCounterState, now: number): void {
    const s: Partial<PitCounterState> = state !== null && typeof state === "object" ? state : {};
    this.setControl(typeof s.control === "number" && (s.control & 0x30) !== 0 ? s.control & 0x3f : 0x36);
    this.countRegister = toInt(s.countRegister, 0, 0xffff, 0);
    this.pendingLowByte = toInt(s.pendingLowByte, NONE, 0xff, NONE);
    this.readHighByteNext = s.readHighByteNext === true;
    this.countWritten = s.countWritten === true;
    this.nullCount = s.nullCount !== false;
    this.nullCountClearsAt = toInt(s.nullCountClearsAt, NONE, Number.MAX_SAFE_INTEGER, NONE);
    this.latchedCount = toInt(s.latchedCount, NONE, 0xffff, NONE);
    this.latchedHighByteNext = s.latchedHighByteNext === true;
    this.latchedStatus = toInt(s.latchedStatus, NONE, 0xff, NONE);
    this.gate = s.gate !== false;
    this.active = s.active === true;
    // Not clamped to the BCD range: a control word may switch to BCD with a binary count held.
    this.n = toInt(s.n, 1, BINARY_RANGE, BINARY_RANGE);
    this.loadTick = toInt(s.loadTick, 0, now + 1, now);
    this.heldCount = toInt(s.heldCount, 0, BINARY_RANGE, 0);
    this.heldOut = s.heldOut === true;
    this.countingSince = toInt(s.countingSince, this.loadTick, Math.max(now, this.loadTick), this.loadTick);
    this.elapsedBase = toInt(s.elapsedBase, 0, Number.MAX_SAFE_INTEGER, 0);
    this.reloadAtElapsed =
      this.mode === 2 || this.mode === 3
        ? toInt(s.reloadAtElapsed, NONE, Number.MAX_SAFE_INTEGER, NONE)
        : NONE;
    if (this.reloadAtElapsed !== NONE && this.reloadAtElapsed < this.elapsedBase) this.reloadAtElapsed = NONE;
    this.reloadIntoLowHalf = this.mode === 3 && s.reloadIntoLowHalf === true;
  }

  private setControl(bits: number): void {
    this.control = bits;
    this.access = (bits >> 4) & 3;
    const mode = (bits >> 1) & 7;
    this.mode = mode > 5 ? mode - 4 : mode; // 110 and 111 are modes 2 and 3
    this.bcd = (bits & 1) !== 0;
    this.pendingLowByte = NONE;
    this.readHighByteNext = false;
    this.active = false;
    this.reloadAtElapsed = NONE;
    this.reloadIntoLowHalf = false; // stale from an earlier mode 3 reload, it would not survive a snapshot
  }

  private writeCount(value: number, now: number): void {
    this.countRegister = value & 0xffff;
    this.countWritten = true;
    this.nullCount = true;
    this.nullCountClearsAt = NONE;
    switch (this.mode) {
      case 0:
        this.startSegment(now, false);
        return;
      case 4:
        this.startSegment(now, this.outAt(now));
        return;
      case 2:
      case 3:
        if (!this.active || now < this.loadTick) {
          this.startSegment(now, true);
        } else if (this.gate && this.reloadAtElapsed === NONE) {
          this.scheduleReload(this.elapsedAt(now));
        }
        // With the gate low the next trigger loads the new count.
        return;
      default:
        // Modes 1 and 5: the next gate trigger loads the count.
        return;
    }
  }

  /** Mode 2 and 3: the count register loads at the end of the current period or half-cycle. */
  private scheduleReload(elapsed: number): void {
    const n = this.n;
    const phase = elapsed % n;
    const high = highHalf(n);
    if (this.mode === 3 && phase < high && high < n) {
      this.reloadAtElapsed = elapsed - phase + high;
      this.reloadIntoLowHalf = true;
    } else {
      this.reloadAtElapsed = elapsed - phase + n;
      this.reloadIntoLowHalf = false;
    }
  }

  /** The count register loads into the counting element on the next clock; OUT is `outBefore` until then. */
  private startSegment(now: number, outBefore: boolean): void {
    this.heldCount = this.countValueAt(now);
    this.heldOut = outBefore;
    this.n = this.decodeCount(this.countRegister);
    this.loadTick = now + 1;
    this.countingSince = this.loadTick;
    this.elapsedBase = 0;
    this.active = true;
    this.reloadAtElapsed = NONE;
    this.nullCountClearsAt = this.loadTick;
  }

  /** Stops the counting element where it is (control word, mode 0's first count byte). */
  private freeze(now: number): void {
    this.heldCount = this.countValueAt(now);
    this.heldOut = this.outAt(now);
    this.active = false;
    this.reloadAtElapsed = NONE;
  }

  private countValueAt(now: number): number {
    if (!this.active || now < this.loadTick) return this.heldCount;
    return countAtElapsed(this.mode, this.n, this.elapsedAt(now), this.bcd ? BCD_RANGE : BINARY_RANGE);
  }

  private outAtLoad(): boolean {
    if ((this.mode === 2 || this.mode === 3) && !this.gate) return true;
    return outAtElapsed(this.mode, this.n, this.elapsedBase);
  }

  private counting(): boolean {
    return this.mode === 1 || this.mode === 5 || this.gate;
  }

  private elapsedAt(now: number): number {
    return this.counting() && now > this.countingSince
      ? this.elapsedBase + (now - this.countingSince)
      : this.elapsedBase;
  }

  private tickAtElapsed(elapsed: number): number {
    return this.countingSince + (elapsed - this.elapsedBase);
  }

  private decodeCount(raw: number): number {
    if (!this.bcd) return raw === 0 ? BINARY_RANGE : raw;
    const value = fromBcd(raw);
    return value === 0 ? BCD_RANGE : value;
  }
}

/** Mode 3's high half: N/2 clocks, (N + 1)/2 for odd N. */
function highHalf(n: number): number {
  return (n + 1) >>> 1;
}

/** OUT `elapsed` clocks after the counting element was loaded with `n` (gate high). */
function outAtElapsed(mode: number, n: number, elapsed: number): boolean {
  switch (mode) {
    case 0:
    case 1:
      return elapsed >= n; // high from terminal count on
    case 4:
    case 5:
      return elapsed !== n; // one clock low at terminal count
    case 2:
      return n < 2 || elapsed % n !== n - 1; // low while the count is 1
    default:
      return elapsed % n < highHalf(n);
  }
}

/** The count's numeric value `elapsed` clocks after loading `n`; `range` is 65536 or 10000. */
function countAtElapsed(mode: number, n: number, elapsed: number, range: number): number {
  switch (mode) {
    case 2:
      return n < 2 ? n : n - (elapsed % n);
    case 3: {
      // Decrements by two; odd counts load N - 1, so each half reads N - 1, N - 3, ... (the high half ends at 0).
      const phase = elapsed % n;
      const high = highHalf(n);
      const step = phase < high ? phase : phase - high;
      return (n & 1) === 0 ? n - 2 * step : n - 1 - 2 * step;
    }
    default: {
      // Modes 0, 1, 4 and 5 keep decrementing after terminal count, wrapping around.
      const value = (n - (elapsed % range)) % range;
      return value < 0 ? value + range : value;
    }
  }
}

/** The smallest elapsed value above `elapsed` at which OUT rises, or Infinity. */
function riseAfterElapsed(mode: number, n: number, elapsed: number): number {
  switch (mode) {
    case 0:
    case 1:
      return elapsed < n ? n : Number.POSITIVE_INFINITY;
    case 4:
    case 5:
      return elapsed < n + 1 ? n + 1 : Number.POSITIVE_INFINITY;
    default:
      // Modes 2 and 3 rise at each period boundary, unless OUT never goes low (N = 1).
      if (n < 2) return Number.POSITIVE_INFINITY;
      return (Math.floor(elapsed / n) + 1) * n;
  }
}

function fromBcd(raw: number): number {
  let value = 0;
  for (let shift = 12; shift >= 0; shift -= 4) value = value * 10 + Math.min((raw >>> shift) & 0xf, 9);
  return value;
}

function toBcd(value: number): number {
  return (
    (Math.floor(value / 1000) << 12) |
    ((Math.floor(value / 100) % 10) << 8) |
    ((Math.floor(value / 10) % 10) << 4) |
    (value % 10)
  );
}

function toInt(value: unknown, min: number, max: number, fallback: number): number {
  if (typeof value !== "number" || !Number.isFinite(value)) return fallback;
  return Math.min(Math.max(Math.floor(value), min), max);
}

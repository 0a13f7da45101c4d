// The MC146818 real-time clock with its 128 bytes of CMOS RAM, as a PC has it behind ports 0x70/0x71.
//
// Time is computed lazily from a host virtual clock instead of being ticked: the RTC keeps the time it had at one
// second boundary of its divider chain (secondOriginNs) and derives everything else — the current time, UIP, the
// periodic, alarm and update-ended flags — when the guest looks or the host polls. nextEventNs() tells the host when
// IRQ 8 would next rise, so a VMM arms a timer instead of polling.
//
// Model choices:
// - The divider chain runs with divider values 0-2 (QEMU treats 000 and 001 like 010, the PC's 32.768 kHz base);
//   0x60/0x70 hold it in reset, 3-5 stop it. When the reset ends, the first update comes half a second later.
// - Time registers hold what the guest wrote until the next update; the clock then continues from the written time
//   (out-of-range fields carry over, e.g. month 13 becomes January of the next year). While SET is on or the divider
//   is stopped, the registers are plain storage and are read back verbatim.
// - Changing DM or 24/12 while the clock runs re-encodes the time registers at once (QEMU does the same); while the
//   clock is stopped the bytes are kept and interpreted in the new mode when it starts again.
// - The day of week counts on its own, as on the chip: the guest may set any 1-7 value and it advances daily.
// - The century byte (0x32) is part of the clock and carries from the year, as on the chipsets that emulate the
//   MC146818 (and QEMU).
// - DSE (daylight saving) is stored but not applied; its 1980s US rules are of no use to a guest (QEMU ignores it too).

import type { BusDevice } from "./bus-device.js";
import { RtcIndex, RtcRegA, RtcRegB, RtcRegC, RtcRegD } from "./mc146818-registers.js";
import {
  civilFromSeconds,
  decodeField,
  decodeHours,
  encodeField,
  encodeHours,
  mod,
  SECONDS_PER_DAY,
  secondsFromCivil,
} from "./rtc-calendar.js";
import type { Trigger } from "./trigger.js";

/** A monotonic host virtual clock, in nanoseconds (any origin). */
export interface RtcClock {
  nowNs(): number;
}

export interface Mc146818RtcOptions {
  /** IRQ 8: high while register C's IRQF is set. */
  irq: Trigger;
  clock: RtcClock;
  /** The RTC's time at the clock's current reading; its UTC fields become the registers (QEMU's -rtc base=utc). */
  startTime: Date;
  /** Called when bit 7 of an index write changes the NMI mask (on a PC that bit gates NMIs to the CPU). */
  onNmiMaskChange?: (masked: boolean) => void;
}

/** Snapshot of an Mc146818Rtc (plain, JSON-serialisable). Clock readings refer to the RtcClock's time line. */
export interface Mc146818RtcState {
  /** The index register (bits 0-6). */
  index: number;
  nmiMasked: boolean;
  /** The 128 CMOS bytes. Register A's UIP, register C and register D are computed and not taken from here. */
  cmos: number[];
  /** RTC time (seconds since 1970-01-01, no zone) at secondOriginNs while running; unused while stopped. */
  baseSeconds: number;
  /** A clock reading at which the divider chain started a second. */
  secondOriginNs: number;
  /** The clock reading up to which flags are accounted. */
  lastSyncNs: number;
  /** Register C flags PF, AF, UF (bits 4-6). */
  flags: number;
  /** Day-of-week register minus the weekday of the date, mod 7. */
  dayOfWeekOffset: number;
  /** The RTC second the time registers show while running; null if they must be regenerated. */
  registersSecond: number | null;
}

const CMOS_SIZE = 128;
const NS_PER_SECOND = 1e9;
const HALF_SECOND_NS = 5e8;
const TICKS_PER_SECOND = 32_768;
/** 1e9 / 32768: exact in binary floating point, so tick edges have exact nanosecond times. */
const NS_PER_TICK = 30_517.578125;
/** UIP rises 8 ticks (244.14 us) before the update. */
const UIP_TICKS = 8;
/** 1 at the CMOS indices the clock keeps (time, date, century). */
const TIME_INDEX = new Uint8Array(CMOS_SIZE);
for (const index of [
  RtcIndex.Seconds,
  RtcIndex.Minutes,
  RtcIndex.Hours,
  RtcIndex.DayOfWeek,
  RtcIndex.DayOfMonth,
  RtcIndex.Month,
  RtcIndex.Year,
  RtcIndex.Century,
]) {
  TIME_INDEX[index] = 1;
}
const INTERRUPT_FLAGS = RtcRegC.Periodic | RtcRegC.Alarm | RtcRegC.UpdateEnded;
/** Alarm bytes with both top bits set match any value. */
const DONT_CARE = 0xc0;
/** What an alarm byte matches besides one value. */
const MATCHES_ANY = -1;
const MATCHES_NONE = -2;

/**
 * An MC146818 RTC and CMOS RAM at two offsets: 0 = index (write-only; bit 7 is the PC's NMI mask), 1 = data.
 * Offsets alias modulo 2. A wider access is a sequence of byte accesses at consecutive offsets (an `outw` to the
 * index port writes the index and then the data, as the ISA bus splits it). Register accesses never throw.
 */
export class Mc146818Rtc implements BusDevice {
  private readonly irq: Trigger;
  private readonly clock: RtcClock;
  private readonly onNmiMaskChange: ((masked: boolean) => void) | undefined;
  private readonly cmos = new Uint8Array(CMOS_SIZE);
  private index = 0;
  private nmiMask = false;
  private baseSeconds = 0;
  private secondOriginNs = 0;
  private lastSyncNs = 0;
  private flags = 0;
  private dayOfWeekOffset = 0;
  /** NaN: the time registers must be regenerated. */
  private registersSecond = Number.NaN;
  private irqLevel = false;

  constructor(options: Mc146818RtcOptions) {
    this.irq = options.irq;
    this.clock = options.clock;
    this.onNmiMaskChange = options.onNmiMaskChange;
    const startMs = options.startTime.getTime();
    if (!Number.isFinite(startMs)) throw new RangeError("Mc146818Rtc: startTime is not a valid date");
    const now = this.clock.nowNs();
    this.lastSyncNs = Number.isFinite(now) ? now : 0;
    this.baseSeconds = Math.floor(startMs / 1000);
    this.secondOriginNs = this.lastSyncNs - (startMs - this.baseSeconds * 1000) * 1e6;
    this.cmos[RtcIndex.RegisterA] = RtcRegA.Divider32Khz | 0x06; // 1024 Hz periodic rate, as a BIOS leaves it
    this.cmos[RtcIndex.RegisterB] = RtcRegB.TwentyFourHour;
  }

  read(_base: number, offset: number, data: Uint8Array): void {
    for (let i = 0; i < data.length; i++) data[i] = ((offset + i) & 1) === 0 ? 0xff : this.readData();
  }

  write(_base: number, offset: number, data: Uint8Array): void {
    for (let i = 0; i < data.length; i++) {
      if (((offset + i) & 1) === 0) this.writeIndex(data[i]);
      else this.writeData(data[i]);
    }
  }

  /** Whether the last index write had bit 7 set (NMIs masked on a PC). */
  get nmiMasked(): boolean {
    return this.nmiMask;
  }

  /** Brings the flags up to the clock's current reading and drives IRQ 8. */
  poll(): void {
    this.sync();
  }

  /**
   * Brings the device up to date, then returns the clock reading at which IRQ 8 will next rise if nothing else
   * happens, or undefined if it will not (IRQ 8 already high, or no enabled interrupt can occur). Guest accesses
   * change the answer, so ask again after them.
   */
  nextEventNs(): number | undefined {
    const now = this.sync();
    if (this.irqLevel) return undefined;
    const b = this.cmos[RtcIndex.RegisterB];
    let next = Number.POSITIVE_INFINITY;
    if ((b & RtcRegB.PeriodicInterruptEnable) !== 0) next = Math.min(next, this.nextPeriodicEdgeNs(now));
    if (this.clockRunning()) {
      const elapsed = this.elapsedSeconds(now);
      if ((b & RtcRegB.UpdateEndedInterruptEnable) !== 0) {
        next = Math.min(next, this.secondOriginNs + (elapsed + 1) * NS_PER_SECOND);
      }
      if ((b & RtcRegB.AlarmInterruptEnable) !== 0) {
        const alarm = this.nextAlarmSecond(this.baseSeconds + elapsed);
        if (alarm !== undefined) {
          next = Math.min(next, this.secondOriginNs + (alarm - this.baseSeconds) * NS_PER_SECOND);
        }
      }
    }
    return next === Number.POSITIVE_INFINITY ? undefined : next;
  }

  /** The RTC's current time, its UTC fields being the register values (whatever the data mode). */
  getTime(): Date {
    const now = this.sync();
    const seconds = this.clockRunning()
      ? this.baseSeconds + this.elapsedSeconds(now)
      : this.parseTimeRegisters();
    return new Date(seconds * 1000);
  }

  /** Reads a CMOS RAM byte (0x0E-0x7F, not the century) without guest-visible side effects. */
  getNvram(index: number): number {
    return this.cmos[checkNvramIndex(index)];
  }

  /** Writes a CMOS RAM byte (0x0E-0x7F, not the century), e.g. the configuration a BIOS would store. */
  setNvram(index: number, value: number): void {
    this.cmos[checkNvramIndex(index)] = value & 0xff;
  }

  /** The RESET pin (system reset): clears PIE, AIE, UIE, SQWE and the interrupt flags; time and RAM survive. */
  reset(): void {
    this.sync();
    this.cmos[RtcIndex.RegisterB] &= ~(
      RtcRegB.PeriodicInterruptEnable |
      RtcRegB.AlarmInterruptEnable |
      RtcRegB.UpdateEndedInterruptEnable |
      RtcRegB.SquareWaveEnable
    );
    this.flags = 0;
    this.updateInterrupt();
  }

  getState(): Mc146818RtcState {
    this.sync();
    return {
      index: this.index,
      nmiMasked: this.nmiMask,
      cmos: Array.from(this.cmos),
      baseSeconds: this.baseSeconds,
      secondOriginNs: this.secondOriginNs,
      lastSyncNs: this.lastSyncNs,
      flags: this.flags,
      dayOfWeekOffset: this.dayOfWeekOffset,
      registersSecond: Number.isNaN(this.registersSecond) ? null : this.registersSecond,
    };
  }

  /** Restores a snapshot taken on the same clock time line. Malformed fields are replaced, never thrown on. */
  setState(state: Mc146818RtcState): void {
    const s: Partial<Mc146818RtcState> = state !== null && typeof state === "object" ? state : {};
    const cmos = Array.isArray(s.cmos) ? s.cmos : [];
    for (let i = 0; i < CMOS_SIZE; i++) this.cmos[i] = typeof cmos[i] === "number" ? cmos[i] & 0xff : 0;
    this.cmos[RtcIndex.RegisterA] &= ~RtcRegA.UpdateInProgress;
    this.index = typeof s.index === "number" ? s.index & 0x7f : 0;
    this.nmiMask = s.nmiMasked === true;
    const now = this.clock.nowNs();
    this.lastSyncNs = finiteOr(s.lastSyncNs, Number.isFinite(now) ? now : 0);
    this.baseSeconds = Math.floor(finiteOr(s.baseSeconds, 0));
    this.secondOriginNs = finiteOr(s.secondOriginNs, this.lastSyncNs);
    this.flags = typeof s.flags === "number" ? s.flags & INTERRUPT_FLAGS : 0;
    this.dayOfWeekOffset = mod(Math.floor(finiteOr(s.dayOfWeekOffset, 0)), 7);
    this.registersSecond = typeof s.registersSecond === "number" ? s.registersSecond : Number.NaN;
    this.updateInterrupt();
  }

  private writeIndex(value: number): void {
    this.index = value & 0x7f;
    const masked = (value & 0x80) !== 0;
    if (masked === this.nmiMask) return;
    this.nmiMask = masked;
    this.onNmiMaskChange?.(masked);
  }

  private readData(): number {
    const index = this.index;
    switch (index) {
      case RtcIndex.RegisterA: {
        const now = this.sync();
        return this.cmos[index] | (this.updateInProgress(now) ? RtcRegA.UpdateInProgress : 0);
      }
      case RtcIndex.RegisterC: {
        this.sync();
        const value = this.flags | (this.irqLevel ? RtcRegC.InterruptRequest : 0);
        this.flags = 0;
        this.updateInterrupt();
        return value;
      }
      case RtcIndex.RegisterD:
        return RtcRegD.ValidRamAndTime;
      default:
        if (TIME_INDEX[index] === 1) this.refreshTimeRegisters(this.sync());
        return this.cmos[index];
    }
  }

  private writeData(value: number): void {
    const index = this.index;
    switch (index) {
      case RtcIndex.RegisterA:
        this.writeControl(value & ~RtcRegA.UpdateInProgress, this.cmos[RtcIndex.RegisterB]);
        return;
      case RtcIndex.RegisterB:
        // Setting SET clears UIE.
        this.writeControl(
          this.cmos[RtcIndex.RegisterA],
          (value & RtcRegB.Set) !== 0 ? value & ~RtcRegB.UpdateEndedInterruptEnable : value,
        );
        return;
      case RtcIndex.RegisterC:
      case RtcIndex.RegisterD:
        return; // read-only
      default:
        if (TIME_INDEX[index] === 1) this.writeTimeRegister(index, value);
        else this.cmos[index] = value;
    }
  }

  /** Writes registers A and B, stopping or starting the clock as DV and SET say. */
  private writeControl(a: number, b: number): void {
    const now = this.sync();
    const dividerWasRunning = this.dividerRunning();
    const clockWasRunning = this.clockRunning();
    // Freeze the registers at the current time before anything changes.
    if (clockWasRunning) this.refreshTimeRegisters(now);
    const modeChanged =
      ((this.cmos[RtcIndex.RegisterB] ^ b) & (RtcRegB.DataModeBinary | RtcRegB.TwentyFourHour)) !== 0;
    this.cmos[RtcIndex.RegisterA] = a;
    this.cmos[RtcIndex.RegisterB] = b;
    const dividerRuns = this.dividerRunning();
    // Leaving divider reset: the chain starts half-way through a second, so the first update is 500 ms away.
    if (dividerRuns && !dividerWasRunning) this.secondOriginNs = now - HALF_SECOND_NS;
    const clockRuns = this.clockRunning();
    if (clockRuns && !clockWasRunning) this.resumeFromRegisters(now);
    else if (clockRuns && modeChanged) this.registersSecond = Number.NaN;
    this.updateInterrupt();
  }

  private writeTimeRegister(index: number, value: number): void {
    if (!this.clockRunning()) {
      this.cmos[index] = value;
      return;
    }
    const now = this.sync();
    this.refreshTimeRegisters(now);
    this.cmos[index] = value;
    this.resumeFromRegisters(now);
  }

  /** Restarts the clock from the time registers, keeping the divider chain's phase. */
  private resumeFromRegisters(now: number): void {
    this.secondOriginNs += this.elapsedSeconds(now) * NS_PER_SECOND;
    const seconds = this.parseTimeRegisters();
    this.baseSeconds = seconds;
    const binary = (this.cmos[RtcIndex.RegisterB] & RtcRegB.DataModeBinary) !== 0;
    const dayOfWeek = decodeField(this.cmos[RtcIndex.DayOfWeek], binary);
    this.dayOfWeekOffset = mod(dayOfWeek - 1 - civilFromSeconds(seconds).dayOfWeek, 7);
    // The registers stay as written until the next update.
    this.registersSecond = seconds;
  }

  /** The time the registers hold, in seconds since 1970 (out-of-range fields carry over). */
  private parseTimeRegisters(): number {
    const b = this.cmos[RtcIndex.RegisterB];
    const binary = (b & RtcRegB.DataModeBinary) !== 0;
    const h24 = (b & RtcRegB.TwentyFourHour) !== 0;
    const c = this.cmos;
    return secondsFromCivil({
      year: decodeField(c[RtcIndex.Century], binary) * 100 + decodeField(c[RtcIndex.Year], binary),
      month: decodeField(c[RtcIndex.Month], binary),
      day: decodeField(c[RtcIndex.DayOfMonth], binary),
      hours: decodeHours(c[RtcIndex.Hours], binary, h24),
      minutes: decodeField(c[RtcIndex.Minutes], binary),
      seconds: decodeField(c[RtcIndex.Seconds], binary),
    });
  }

  /** While the clock runs, makes the time registers show the current second (in the current data mode). */
  private refreshTimeRegisters(now: number): void {
    if (!this.clockRunning()) return;
    const seconds = this.baseSeconds + this.elapsedSeconds(now);
    if (seconds === this.registersSecond) return;
    this.registersSecond = seconds;
    const b = this.cmos[RtcIndex.RegisterB];
    const binary = (b & RtcRegB.DataModeBinary) !== 0;
    const t = civilFromSeconds(seconds);
    const c = this.cmos;
    c[RtcIndex.Seconds] = encodeField(t.seconds, binary);
    c[RtcIndex.Minutes] = encodeField(t.minutes, binary);
    c[RtcIndex.Hours] = encodeHours(t.hours, binary, (b & RtcRegB.TwentyFourHour) !== 0);
    c[RtcIndex.DayOfWeek] = encodeField(mod(t.dayOfWeek + this.dayOfWeekOffset, 7) + 1, binary);
    c[RtcIndex.DayOfMonth] = encodeField(t.day, binary);
    c[RtcIndex.Month] = encodeField(t.month, binary);
    c[RtcIndex.Year] = encodeField(mod(t.year, 100), binary);
    c[RtcIndex.Century] = encodeField(mod(Math.floor(t.year / 100), 100), binary);
  }

  /** Accounts the periodic, update and alarm events since the last sync; returns the clock reading used. */
  private sync(): number {
    const reading = this.clock.nowNs();
    const from = this.lastSyncNs;
    // A clock that stalls, goes backwards or returns garbage simply lets no time pass.
    if (!(reading > from)) return from;
    this.lastSyncNs = reading;
    if (!this.dividerRunning()) return reading;
    let flags = this.flags;
    const period = this.periodTicks();
    if (period !== 0 && this.periodIndex(reading, period) > this.periodIndex(from, period))
      flags |= RtcRegC.Periodic;
    if (this.clockRunning()) {
      const before = this.elapsedSeconds(from);
      const after = this.elapsedSeconds(reading);
      if (after > before) {
        flags |= RtcRegC.UpdateEnded;
        const alarm = this.nextAlarmSecond(this.baseSeconds + before);
        if (alarm !== undefined && alarm <= this.baseSeconds + after) flags |= RtcRegC.Alarm;
      }
    }
    if (flags !== this.flags) {
      this.flags = flags;
      this.updateInterrupt();
    }
    return reading;
  }

  private dividerRunning(): boolean {
    return (this.cmos[RtcIndex.RegisterA] & RtcRegA.DividerMask) <= RtcRegA.Divider32Khz;
  }

  /** The time advances (and updates happen) while the divider runs and SET is off. */
  private clockRunning(): boolean {
    return this.dividerRunning() && (this.cmos[RtcIndex.RegisterB] & RtcRegB.Set) === 0;
  }

  /** UIP: the 244 us before each update. */
  private updateInProgress(now: number): boolean {
    if (!this.clockRunning()) return false;
    return this.ticksIntoSecond(now) >= TICKS_PER_SECOND - UIP_TICKS;
  }

  /** Whole seconds the divider chain has counted from secondOriginNs to a clock reading. */
  private elapsedSeconds(reading: number): number {
    const d = reading - this.secondOriginNs;
    let s = Math.floor(d / NS_PER_SECOND);
    const r = d - s * NS_PER_SECOND;
    // Guard against the division rounding across a second boundary.
    if (r < 0) s--;
    else if (r >= NS_PER_SECOND) s++;
    return s;
  }

  /** 32.768 kHz ticks since the start of the divider chain's current second (0-32767). */
  private ticksIntoSecond(reading: number): number {
    const remainder = reading - this.secondOriginNs - this.elapsedSeconds(reading) * NS_PER_SECOND;
    // Exact: the quotient of a whole nanosecond count by NS_PER_TICK never rounds across an integer.
    return Math.floor(remainder / NS_PER_TICK);
  }

  /** The periodic interrupt's period in 32.768 kHz ticks (0 = off). Rates 1 and 2 repeat rates 8 and 9. */
  private periodTicks(): number {
    const rs = this.cmos[RtcIndex.RegisterA] & RtcRegA.RateSelectMask;
    if (rs === 0) return 0;
    return 1 << ((rs <= 2 ? rs + 7 : rs) - 1);
  }

  /** How many periodic edges the divider chain has produced since secondOriginNs. */
  private periodIndex(reading: number, periodTicks: number): number {
    const perSecond = TICKS_PER_SECOND / periodTicks;
    return this.elapsedSeconds(reading) * perSecond + Math.floor(this.ticksIntoSecond(reading) / periodTicks);
  }

  private nextPeriodicEdgeNs(now: number): number {
    const period = this.periodTicks();
    if (period === 0 || !this.dividerRunning()) return Number.POSITIVE_INFINITY;
    const perSecond = TICKS_PER_SECOND / period;
    const edge = this.periodIndex(now, period) + 1;
    const seconds = Math.floor(edge / perSecond);
    const tick = (edge - seconds * perSecond) * period;
    return this.secondOriginNs + seconds * NS_PER_SECOND + Math.ceil(tick * NS_PER_TICK);
  }

  /**
   * The first RTC second after `after` whose hours, minutes and seconds registers would equal the alarm registers
   * (bytes 0xC0-0xFF match anything), or undefined if the alarm can never match.
   */
  private nextAlarmSecond(after: number): number | undefined {
    const b = this.cmos[RtcIndex.RegisterB];
    const binary = (b & RtcRegB.DataModeBinary) !== 0;
    const h24 = (b & RtcRegB.TwentyFourHour) !== 0;
    const hour = alarmTarget(this.cmos[RtcIndex.HoursAlarm], 24, (v) => encodeHours(v, binary, h24));
    const minute = alarmTarget(this.cmos[RtcIndex.MinutesAlarm], 60, (v) => encodeField(v, binary));
    const second = alarmTarget(this.cmos[RtcIndex.SecondsAlarm], 60, (v) => encodeField(v, binary));
    if (hour === MATCHES_NONE || minute === MATCHES_NONE || second === MATCHES_NONE) return undefined;
    const timeOfDay = mod(after, SECONDS_PER_DAY);
    const dayStart = after - timeOfDay;
    // Candidates in increasing order over today and tomorrow; the first one past timeOfDay wins.
    for (let day = 0; day <= 1; day++) {
      const dayOffset = day * SECONDS_PER_DAY;
      for (let h = hour === MATCHES_ANY ? 0 : hour; h <= (hour === MATCHES_ANY ? 23 : hour); h++) {
        if (dayOffset + h * 3600 + 3599 <= timeOfDay) continue;
        for (let m = minute === MATCHES_ANY ? 0 : minute; m <= (minute === MATCHES_ANY ? 59 : minute); m++) {
          if (dayOffset + h * 3600 + m * 60 + 59 <= timeOfDay) continue;
          for (
            let s = second === MATCHES_ANY ? 0 : second;
            s <= (second === MATCHES_ANY ? 59 : second);
            s++
          ) {
            const t = dayOffset + h * 3600 + m * 60 + s;
            if (t > timeOfDay) return dayStart + t;
          }
        }
      }
    }
    return undefined;
  }

  private updateInterrupt(): void {
    const asserted = (this.flags & this.cmos[RtcIndex.RegisterB] & INTERRUPT_FLAGS) !== 0;
    if (asserted === this.irqLevel) return;
    this.irqLevel = asserted;
    this.irq.set(asserted);
  }
}

/**
 * The one value in 0..count-1 whose register encoding equals an alarm byte, MATCHES_ANY for a don't-care byte or
 * MATCHES_NONE if no value encodes to it (the chip compares bytes, so such an alarm never fires).
 */
function alarmTarget(alarm: number, count: number, encode: (value: number) => number): number {
  if ((alarm & DONT_CARE) === DONT_CARE) return MATCHES_ANY;
  for (let v = 0; v < count; v++) if (encode(v) === alarm) return v;
  return MATCHES_NONE;
}

function checkNvramIndex(index: number): number {
  if (
    !Number.isInteger(index) ||
    index < RtcIndex.RegisterD + 1 ||
    index >= CMOS_SIZE ||
    index === RtcIndex.Century
  ) {
    throw new RangeError(`Mc146818Rtc: CMOS index ${index} is not NVRAM`);
  }
  return index;
}

function finiteOr(value: unknown, fallback: number): number {
  return typeof value === "number" && Number.isFinite(value) ? value : fallback;
}

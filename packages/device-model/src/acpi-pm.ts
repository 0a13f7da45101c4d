// The ACPI fixed-hardware power-management registers of a PIIX4-style chipset: the PM1a event block
// (PM1_STS/PM1_EN), the PM1a control block (PM1_CNT), the 24-bit PM timer and the GPE0 block, laid out as the
// PIIX4's PMBA block is (QEMU maps it at port 0x600). An FADT points the OS at each block.
//
// The machine has no SMM and no legacy (non-ACPI) mode: the FADT says SMI_CMD = 0, so the OS finds the system
// already in ACPI mode, and SCI_EN reads 1 whatever is written. The SCI is level-triggered, active high (IRQ 9 on
// a PC, declared level/high in the MADT).
//
// The PM timer counts at 3.579545 MHz on the host's virtual clock and is computed when read: nothing runs per
// tick. TMR_STS is set each time bit 23 of the count changes (every 2^23 ticks, about 2.34 s); the host keeps the
// SCI current by calling poll() at the time nextEventNs() names.

import type { BusDevice } from "./bus-device.js";
import { nsAtTick, ticksAtNs } from "./clock-ticks.js";
import type { Trigger } from "./trigger.js";

/** A monotonic host virtual clock, in nanoseconds (any origin). */
export interface AcpiPmClock {
  nowNs(): number;
}

export interface AcpiPmOptions {
  clock: AcpiPmClock;
  /** The SCI wire (IRQ 9 on a PC), driven high while an enabled event is pending. */
  sci: Trigger;
  /** The guest wrote SLP_EN with the S5 sleep type: cut the power. */
  onPowerOff: () => void;
}

/** Snapshot of an AcpiPm (plain, JSON-serialisable). */
export interface AcpiPmState {
  pm1Status: number;
  pm1Enable: number;
  /** PM1_CNT as stored: BM_RLD and SLP_TYP (SCI_EN reads 1 regardless). */
  pm1Control: number;
  gpe0Status: number;
  gpe0Enable: number;
  /** PM timer ticks elapsed on the clock's time line, as last seen. */
  timerTick: number;
}

/** Register offsets inside the block (the PIIX4's PMBA layout, 16 bytes). */
export const AcpiPmOffset = {
  /** PM1a_EVT_BLK: PM1_STS (16 bits, write 1 to clear), then PM1_EN (16 bits). */
  Pm1Status: 0x00,
  Pm1Enable: 0x02,
  /** PM1a_CNT_BLK: PM1_CNT (16 bits). */
  Pm1Control: 0x04,
  /** PM_TMR_BLK: the timer (32 bits, read-only; bits 24-31 read 0). */
  Timer: 0x08,
  /** GPE0_BLK: GPE0_STS (16 bits, write 1 to clear), then GPE0_EN (16 bits). */
  Gpe0Status: 0x0c,
  Gpe0Enable: 0x0e,
} as const;

/** Bytes the block occupies: map it with this length. */
export const ACPI_PM_IO_LENGTH = 0x10;

/** The FADT's block lengths for this layout (PM1_EVT_LEN, PM1_CNT_LEN, PM_TMR_LEN, GPE0_BLK_LEN). */
export const ACPI_PM_BLOCK_LENGTHS = { pm1Event: 4, pm1Control: 2, timer: 4, gpe0: 4 } as const;

/** The PM timer's input clock (a 14.31818 MHz crystal divided by 4). */
export const ACPI_PM_TIMER_HZ = 3_579_545;
/** Width of the PM timer: 24 bits, so the FADT's TMR_VAL_EXT flag is clear. */
export const ACPI_PM_TIMER_BITS = 24;
/** The SLP_TYP value that powers off (the PIIX4's "soft off", QEMU's too): the DSDT's \_S5 package names it. */
export const ACPI_PM_S5_SLEEP_TYPE = 0;

/** PM1_STS bits this chipset sets. */
export const Pm1Status = {
  /** The timer's bit 23 changed. */
  Timer: 0x0001,
  PowerButton: 0x0100,
} as const;

/** PM1_EN bits (the PIIX4's PMEN: timer, global lock release, power button, RTC alarm). */
export const Pm1Enable = {
  Timer: 0x0001,
  Global: 0x0020,
  PowerButton: 0x0100,
  Rtc: 0x0400,
} as const;

/** PM1_CNT bits. */
export const Pm1Control = {
  /** Reads 1: there is no legacy mode to leave. */
  SciEnable: 0x0001,
  BusMasterReload: 0x0002,
  /** Write-only: would ask SMM firmware to release the global lock; there is none, so it is ignored. */
  GlobalRelease: 0x0004,
  SleepTypeMask: 0x1c00,
  SleepTypeShift: 10,
  /** Write-only: enter the sleep state in SLP_TYP. */
  SleepEnable: 0x2000,
} as const;

const PM1_STATUS_MASK = Pm1Status.Timer | Pm1Status.PowerButton;
const PM1_ENABLE_MASK = Pm1Enable.Timer | Pm1Enable.Global | Pm1Enable.PowerButton | Pm1Enable.Rtc;
const PM1_CONTROL_STORED = Pm1Control.BusMasterReload | Pm1Control.SleepTypeMask;
/** GPE0 has 16 events: 2 bytes of status, 2 of enable. */
const GPE0_MASK = 0xffff;
const TIMER_MASK = 2 ** ACPI_PM_TIMER_BITS - 1;
/** TMR_STS is set whenever the timer's top bit changes, i.e. every half period. */
const TIMER_HALF_PERIOD = 2 ** (ACPI_PM_TIMER_BITS - 1);

/**
 * PIIX4-style ACPI PM registers. Every register is 16 or 32 bits but any access width works: an access is the run of
 * bytes it covers (a 32-bit write at offset 0 writes PM1_STS and PM1_EN; the timer is sampled once per access).
 * Bytes 6-7 and offsets past the block read 0 and ignore writes. Accesses never throw.
 */
export class AcpiPm implements BusDevice {
  private readonly clock: AcpiPmClock;
  private readonly sci: Trigger;
  private readonly onPowerOff: () => void;
  private pm1Status = 0;
  private pm1Enable = 0;
  private pm1Control = 0;
  private gpe0Status = 0;
  private gpe0Enable = 0;
  private timerTick = 0;
  private sciLevel = false;

  constructor(options: AcpiPmOptions) {
    this.clock = options.clock;
    this.sci = options.sci;
    this.onPowerOff = options.onPowerOff;
    this.timerTick = ticksAtNs(this.clock.nowNs(), ACPI_PM_TIMER_HZ);
  }

  read(_base: number, offset: number, data: Uint8Array): void {
    this.advance();
    const timer = this.timerTick & TIMER_MASK;
    for (let i = 0; i < data.length; i++) data[i] = this.readByte(offset + i, timer);
  }

  write(_base: number, offset: number, data: Uint8Array): void {
    this.advance();
    let sleep = false;
    for (let i = 0; i < data.length; i++) {
      if (this.writeByte(offset + i, data[i])) sleep = true;
    }
    this.updateSci();
    // SLP_EN acts on the SLP_TYP now in the register, which the same write may have set.
    if (sleep && this.sleepType === ACPI_PM_S5_SLEEP_TYPE) this.onPowerOff();
  }

  /** The power button was pressed: sets PWRBTN_STS (an SCI if PWRBTN_EN is set). */
  powerButton(): void {
    this.advance();
    this.pm1Status |= Pm1Status.PowerButton;
    this.updateSci();
  }

  /** A general-purpose event `index` (0-15) happened: sets its GPE0_STS bit. Other indexes are ignored. */
  raiseGpe(index: number): void {
    if (!Number.isInteger(index) || index < 0 || index > 15) return;
    this.advance();
    this.gpe0Status |= 1 << index;
    this.updateSci();
  }

  /** Brings TMR_STS and the SCI up to the clock's current reading. */
  poll(): void {
    this.advance();
  }

  /**
   * Brings the device up to date, then returns the clock reading (ns) at which the SCI will next rise, or undefined
   * if it is already high or nothing enabled can raise it by itself (only the timer does: TMR_EN set). Guest
   * accesses change the answer, so ask again after them.
   */
  nextEventNs(): number | undefined {
    this.advance();
    if (this.sciLevel || (this.pm1Enable & Pm1Enable.Timer) === 0) return undefined;
    const nextHalf = (Math.floor(this.timerTick / TIMER_HALF_PERIOD) + 1) * TIMER_HALF_PERIOD;
    return nsAtTick(nextHalf, ACPI_PM_TIMER_HZ);
  }

  /** Power-on state: no events pending or enabled, SLP_TYP 0. The timer keeps counting (it follows the clock). */
  reset(): void {
    this.advance();
    this.pm1Status = 0;
    this.pm1Enable = 0;
    this.pm1Control = 0;
    this.gpe0Status = 0;
    this.gpe0Enable = 0;
    this.updateSci();
  }

  getState(): AcpiPmState {
    return {
      pm1Status: this.pm1Status,
      pm1Enable: this.pm1Enable,
      pm1Control: this.pm1Control,
      gpe0Status: this.gpe0Status,
      gpe0Enable: this.gpe0Enable,
      timerTick: this.timerTick,
    };
  }

  /**
   * Restores a snapshot taken on the same clock time line (the host restores its virtual clock too). Malformed fields
   * are masked or replaced, never thrown on; the SCI is driven to match the restored registers (it is derived from
   * them, so the snapshot does not carry it).
   */
  setState(state: AcpiPmState): void {
    const s: Partial<AcpiPmState> = state !== null && typeof state === "object" ? state : {};
    const field = (value: unknown, mask: number) => (typeof value === "number" ? value & mask : 0);
    this.pm1Status = field(s.pm1Status, PM1_STATUS_MASK);
    this.pm1Enable = field(s.pm1Enable, PM1_ENABLE_MASK);
    this.pm1Control = field(s.pm1Control, PM1_CONTROL_STORED);
    this.gpe0Status = field(s.gpe0Status, GPE0_MASK);
    this.gpe0Enable = field(s.gpe0Enable, GPE0_MASK);
    const tick = s.timerTick;
    // The timer never runs ahead of the clock: a snapshot tick beyond it restarts from the clock's reading.
    const now = ticksAtNs(this.clock.nowNs(), ACPI_PM_TIMER_HZ);
    this.timerTick =
      typeof tick === "number" && Number.isFinite(tick) && tick >= 0 ? Math.min(Math.floor(tick), now) : now;
    this.advance();
    // Drive the wire even if the level looks unchanged: the host side may have been rebuilt with the snapshot.
    this.sciLevel = this.eventPending();
    this.sci.set(this.sciLevel);
  }

  private get sleepType(): number {
    return (this.pm1Control & Pm1Control.SleepTypeMask) >> Pm1Control.SleepTypeShift;
  }

  private readByte(offset: number, timer: number): number {
    switch (offset) {
      case AcpiPmOffset.Pm1Status:
      case AcpiPmOffset.Pm1Status + 1:
        return byteOf(this.pm1Status, offset - AcpiPmOffset.Pm1Status);
      case AcpiPmOffset.Pm1Enable:
      case AcpiPmOffset.Pm1Enable + 1:
        return byteOf(this.pm1Enable, offset - AcpiPmOffset.Pm1Enable);
      case AcpiPmOffset.Pm1Control:
      case AcpiPmOffset.Pm1Control + 1:
        return byteOf(this.pm1Control | Pm1Control.SciEnable, offset - AcpiPmOffset.Pm1Control);
      case AcpiPmOffset.Timer:
      case AcpiPmOffset.Timer + 1:
      case AcpiPmOffset.Timer + 2:
      case AcpiPmOffset.Timer + 3:
        return byteOf(timer, offset - AcpiPmOffset.Timer);
      case AcpiPmOffset.Gpe0Status:
      case AcpiPmOffset.Gpe0Status + 1:
        return byteOf(this.gpe0Status, offset - AcpiPmOffset.Gpe0Status);
      case AcpiPmOffset.Gpe0Enable:
      case AcpiPmOffset.Gpe0Enable + 1:
        return byteOf(this.gpe0Enable, offset - AcpiPmOffset.Gpe0Enable);
      default:
        return 0;
    }
  }

  /** Writes one byte of the block; returns true when it set SLP_EN. */
  private writeByte(offset: number, value: number): boolean {
    switch (offset) {
      case AcpiPmOffset.Pm1Status:
      case AcpiPmOffset.Pm1Status + 1:
        this.pm1Status &= ~(value << (8 * (offset - AcpiPmOffset.Pm1Status)));
        return false;
      case AcpiPmOffset.Pm1Enable:
      case AcpiPmOffset.Pm1Enable + 1:
        this.pm1Enable = withByte(this.pm1Enable, offset - AcpiPmOffset.Pm1Enable, value) & PM1_ENABLE_MASK;
        return false;
      case AcpiPmOffset.Pm1Control:
      case AcpiPmOffset.Pm1Control + 1: {
        const shift = offset - AcpiPmOffset.Pm1Control;
        this.pm1Control = withByte(this.pm1Control, shift, value) & PM1_CONTROL_STORED;
        return ((value << (8 * shift)) & Pm1Control.SleepEnable) !== 0;
      }
      case AcpiPmOffset.Gpe0Status:
      case AcpiPmOffset.Gpe0Status + 1:
        this.gpe0Status &= ~(value << (8 * (offset - AcpiPmOffset.Gpe0Status)));
        return false;
      case AcpiPmOffset.Gpe0Enable:
      case AcpiPmOffset.Gpe0Enable + 1:
        this.gpe0Enable = withByte(this.gpe0Enable, offset - AcpiPmOffset.Gpe0Enable, value);
        return false;
      default:
        // The timer is read-only; the reserved bytes and anything past the block ignore writes.
        return false;
    }
  }

  /** Samples the clock: the timer never goes back, and TMR_STS is set if its top bit changed since the last look. */
  private advance(): void {
    const tick = ticksAtNs(this.clock.nowNs(), ACPI_PM_TIMER_HZ);
    if (tick <= this.timerTick) return;
    if (Math.floor(tick / TIMER_HALF_PERIOD) !== Math.floor(this.timerTick / TIMER_HALF_PERIOD)) {
      this.pm1Status |= Pm1Status.Timer;
    }
    this.timerTick = tick;
    this.updateSci();
  }

  /** The SCI's level: an event whose enable bit is set is pending (SCI_EN is always 1). */
  private eventPending(): boolean {
    return (this.pm1Status & this.pm1Enable) !== 0 || (this.gpe0Status & this.gpe0Enable) !== 0;
  }

  private updateSci(): void {
    const level = this.eventPending();
    if (level === this.sciLevel) return;
    this.sciLevel = level;
    this.sci.set(level);
  }
}

function byteOf(value: number, index: number): number {
  return (value >>> (8 * index)) & 0xff;
}

function withByte(value: number, index: number, byte: number): number {
  const shift = 8 * index;
  return ((value & ~(0xff << shift)) | ((byte & 0xff) << shift)) >>> 0;
}

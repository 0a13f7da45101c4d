// CMOS indices and register bits of the MC146818 RTC (Motorola MC146818A datasheet) and the PC's use of its RAM.

/** CMOS RAM indices of the clock, alarm and control registers, and the PC century byte. */
export const RtcIndex = {
  Seconds: 0x00,
  SecondsAlarm: 0x01,
  Minutes: 0x02,
  MinutesAlarm: 0x03,
  Hours: 0x04,
  HoursAlarm: 0x05,
  /** 1-7, 1 = Sunday. */
  DayOfWeek: 0x06,
  DayOfMonth: 0x07,
  Month: 0x08,
  /** Year within the century, 0-99. */
  Year: 0x09,
  RegisterA: 0x0a,
  RegisterB: 0x0b,
  RegisterC: 0x0c,
  RegisterD: 0x0d,
  /** The century (19, 20, ...), kept by the clock like the year (IBM PC/AT convention; ACPI FADT CENTURY). */
  Century: 0x32,
} as const;

/** Register A bits. */
export const RtcRegA = {
  /** Rate select RS3-RS0: 0 = no periodic interrupt, 1-2 = 256/128 Hz, n = 65536 >> n Hz for 3-15. */
  RateSelectMask: 0x0f,
  /** Divider control DV2-DV0 (bits 4-6): 0x20 is the 32.768 kHz time base; 0x60/0x70 hold the divider in reset. */
  DividerMask: 0x70,
  Divider32Khz: 0x20,
  /** Update in progress: set 244 us before each update. Read-only. */
  UpdateInProgress: 0x80,
} as const;

/** Register B bits. */
export const RtcRegB = {
  DaylightSavingsEnable: 0x01,
  /** 1 = 24-hour mode, 0 = 12-hour mode with the PM flag in bit 7 of the hours. */
  TwentyFourHour: 0x02,
  /** Data mode: 1 = binary, 0 = BCD. */
  DataModeBinary: 0x04,
  SquareWaveEnable: 0x08,
  UpdateEndedInterruptEnable: 0x10,
  AlarmInterruptEnable: 0x20,
  PeriodicInterruptEnable: 0x40,
  /** Halts updates so software can set the time; writing it clears UIE. */
  Set: 0x80,
} as const;

/** Register C bits (read-only; reading clears them). */
export const RtcRegC = {
  UpdateEnded: 0x10,
  Alarm: 0x20,
  Periodic: 0x40,
  /** Set while any flag is set together with its enable bit; drives the IRQ output. */
  InterruptRequest: 0x80,
} as const;

/** Register D bits. */
export const RtcRegD = {
  /** Valid RAM and time: the battery is good. */
  ValidRamAndTime: 0x80,
} as const;

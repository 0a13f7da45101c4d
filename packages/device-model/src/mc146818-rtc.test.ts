import { describe, expect, it } from "vitest";
import { RtcIndex as I, RtcRegA, RtcRegB, RtcRegC } from "./mc146818-registers.js";
import { Mc146818Rtc, type Mc146818RtcState } from "./mc146818-rtc.js";

const MS = 1_000_000;
const S = 1_000_000_000;

/** An RTC on a fake clock, with guest-side port helpers. Thursday 2024-02-29 23:59:58.000 by default. */
function setup(start = "2024-02-29T23:59:58.000Z") {
  const clock = { t: 1_000 * S, nowNs: () => clock.t };
  const edges: boolean[] = [];
  const nmi: boolean[] = [];
  const h = {
    clock,
    edges,
    nmi,
    irq: false,
    rtc: undefined as unknown as Mc146818Rtc,
    advance(ns: number) {
      clock.t += ns;
    },
    read(index: number): number {
      h.rtc.write(0x70, 0, Uint8Array.of(index));
      const data = new Uint8Array(1);
      h.rtc.read(0x70, 1, data);
      return data[0];
    },
    write(index: number, value: number): void {
      h.rtc.write(0x70, 0, Uint8Array.of(index));
      h.rtc.write(0x70, 1, Uint8Array.of(value));
    },
    time(): number[] {
      return [I.Century, I.Year, I.Month, I.DayOfMonth, I.DayOfWeek, I.Hours, I.Minutes, I.Seconds].map(
        h.read,
      );
    },
  };
  h.rtc = new Mc146818Rtc({
    irq: {
      set: (asserted) => {
        h.irq = asserted;
        edges.push(asserted);
      },
    },
    clock,
    startTime: new Date(start),
    onNmiMaskChange: (masked) => nmi.push(masked),
  });
  return h;
}

describe("Mc146818Rtc registers", () => {
  it("powers on with the BIOS's register A/B, a valid register D and no flags", () => {
    const h = setup();
    expect(h.read(I.RegisterA)).toBe(0x26);
    expect(h.read(I.RegisterB)).toBe(RtcRegB.TwentyFourHour);
    expect(h.read(I.RegisterC)).toBe(0);
    expect(h.read(I.RegisterD)).toBe(0x80);
    expect(h.irq).toBe(false);
  });

  it("shows the start time in BCD, with the century and Sunday-based weekday", () => {
    const h = setup();
    // century, year, month, day, weekday (Thursday = 5), hours, minutes, seconds
    expect(h.time()).toEqual([0x20, 0x24, 0x02, 0x29, 0x05, 0x23, 0x59, 0x58]);
  });

  it("counts through a leap day, month end and weekday", () => {
    const h = setup();
    h.advance(2 * S);
    expect(h.time()).toEqual([0x20, 0x24, 0x03, 0x01, 0x06, 0x00, 0x00, 0x00]);
    expect(h.rtc.getTime().toISOString()).toBe("2024-03-01T00:00:00.000Z");
  });

  it("carries the century", () => {
    const h = setup("2099-12-31T23:59:59.500Z");
    expect(h.time()).toEqual([0x20, 0x99, 0x12, 0x31, 0x05, 0x23, 0x59, 0x59]);
    h.advance(500 * MS);
    expect(h.time()).toEqual([0x21, 0x00, 0x01, 0x01, 0x06, 0x00, 0x00, 0x00]);
  });

  it("shows binary values when DM is set", () => {
    const h = setup();
    h.write(I.RegisterB, RtcRegB.TwentyFourHour | RtcRegB.DataModeBinary);
    expect(h.time()).toEqual([20, 24, 2, 29, 5, 23, 59, 58]);
  });

  it("shows 12-hour time with the PM bit, in BCD and binary", () => {
    const h = setup("2024-03-01T23:59:59.000Z");
    h.write(I.RegisterB, 0);
    expect(h.read(I.Hours)).toBe(0x91); // 11 PM
    h.advance(S);
    expect(h.read(I.Hours)).toBe(0x12); // midnight is 12 AM
    h.advance(3600 * S);
    expect(h.read(I.Hours)).toBe(0x01);
    h.advance(11 * 3600 * S);
    expect(h.read(I.Hours)).toBe(0x92); // noon is 12 PM
    h.write(I.RegisterB, RtcRegB.DataModeBinary);
    h.advance(3600 * S);
    expect(h.read(I.Hours)).toBe(0x81); // 1 PM, binary
    h.advance(10 * 3600 * S);
    expect(h.read(I.Hours)).toBe(0x8b); // 11 PM, binary
  });

  it("reads back register A except UIP, and ignores writes to C and D", () => {
    const h = setup();
    h.write(I.RegisterA, 0xff & ~RtcRegA.DividerMask); // UIP cannot be written
    expect(h.read(I.RegisterA) & 0x7f).toBe(0x0f);
    h.write(I.RegisterC, 0xff);
    h.write(I.RegisterD, 0x00);
    expect(h.read(I.RegisterC)).toBe(0);
    expect(h.read(I.RegisterD)).toBe(0x80);
  });

  it("keeps 114 bytes of RAM, and the host can reach the NVRAM", () => {
    const h = setup();
    for (let i = 0x0e; i < 0x80; i++) if (i !== I.Century) h.write(i, (i * 7) & 0xff);
    for (let i = 0x0e; i < 0x80; i++) if (i !== I.Century) expect(h.read(i)).toBe((i * 7) & 0xff);
    expect(h.rtc.getNvram(0x40)).toBe((0x40 * 7) & 0xff);
    h.rtc.setNvram(0x7f, 0xab);
    expect(h.read(0x7f)).toBe(0xab);
    expect(() => h.rtc.setNvram(0x0b, 0)).toThrow(RangeError);
    expect(() => h.rtc.getNvram(0x80)).toThrow(RangeError);
    expect(() => h.rtc.getNvram(I.Century)).toThrow(RangeError);
  });

  it("keeps the alarm registers as plain bytes", () => {
    const h = setup();
    h.write(I.SecondsAlarm, 0x12);
    h.write(I.MinutesAlarm, 0xc5);
    h.write(I.HoursAlarm, 0xff);
    expect([h.read(I.SecondsAlarm), h.read(I.MinutesAlarm), h.read(I.HoursAlarm)]).toEqual([
      0x12, 0xc5, 0xff,
    ]);
  });
});

describe("Mc146818Rtc index port", () => {
  it("exposes the NMI-mask bit and selects registers with bits 0-6", () => {
    const h = setup();
    h.rtc.write(0x70, 0, Uint8Array.of(0x80 | I.RegisterD));
    expect(h.rtc.nmiMasked).toBe(true);
    const data = new Uint8Array(1);
    h.rtc.read(0x70, 1, data);
    expect(data[0]).toBe(0x80);
    h.rtc.write(0x70, 0, Uint8Array.of(0x80 | I.RegisterB)); // no change: no callback
    h.rtc.write(0x70, 0, Uint8Array.of(I.RegisterB));
    expect(h.rtc.nmiMasked).toBe(false);
    expect(h.nmi).toEqual([true, false]);
  });

  it("reads 0xFF from the write-only index port; offsets alias modulo 2", () => {
    const h = setup();
    const data = new Uint8Array(1);
    h.rtc.read(0x70, 0, data);
    expect(data[0]).toBe(0xff);
    h.rtc.write(0x70, 2, Uint8Array.of(0x40));
    h.rtc.write(0x70, 3, Uint8Array.of(0x5a));
    expect(h.read(0x40)).toBe(0x5a);
  });

  it("splits a word access into the index and then the data byte", () => {
    const h = setup();
    h.rtc.write(0x70, 0, Uint8Array.of(0x41, 0x77)); // outw 0x70, 0x7741
    expect(h.read(0x41)).toBe(0x77);
    h.rtc.write(0x70, 0, Uint8Array.of(0x41));
    const word = new Uint8Array(2);
    h.rtc.read(0x70, 0, word); // inw 0x70: the index port, then the data port
    expect([...word]).toEqual([0xff, 0x77]);
  });
});

describe("Mc146818Rtc setting the time", () => {
  it("holds the registers while SET is on and starts from them with the divider's phase kept", () => {
    const h = setup("2024-02-29T23:59:58.250Z");
    h.write(I.RegisterB, RtcRegB.Set | RtcRegB.TwentyFourHour);
    const written: Array<[number, number]> = [
      [I.Seconds, 0x30],
      [I.Minutes, 0x15],
      [I.Hours, 0x10],
      [I.DayOfWeek, 0x02],
      [I.DayOfMonth, 0x04],
      [I.Month, 0x07],
      [I.Year, 0x25],
      [I.Century, 0x20],
    ];
    for (const [index, value] of written) h.write(index, value);
    h.advance(5 * S); // frozen: nothing moves
    expect(h.time()).toEqual([0x20, 0x25, 0x07, 0x04, 0x02, 0x10, 0x15, 0x30]);
    expect(h.read(I.RegisterA) & RtcRegA.UpdateInProgress).toBe(0);
    h.write(I.RegisterB, RtcRegB.TwentyFourHour);
    expect(h.rtc.getTime().toISOString()).toBe("2025-07-04T10:15:30.000Z");
    // The divider chain kept running: its seconds still end at .250 of the original time line.
    h.advance(749 * MS);
    expect(h.read(I.Seconds)).toBe(0x30);
    h.advance(1 * MS);
    expect(h.read(I.Seconds)).toBe(0x31);
    // The weekday register counts on its own (the guest said Monday; 2025-07-04 is a Friday).
    h.advance(13 * 3600 * S + 44 * 60 * S + 29 * S);
    expect(h.time()).toEqual([0x20, 0x25, 0x07, 0x05, 0x03, 0x00, 0x00, 0x00]);
  });

  it("sets the time offset when a time register is written while the clock runs", () => {
    const h = setup("2024-02-29T12:00:00.600Z");
    h.write(I.Minutes, 0x45);
    expect(h.rtc.getTime().toISOString()).toBe("2024-02-29T12:45:00.000Z");
    h.advance(400 * MS);
    expect(h.read(I.Seconds)).toBe(0x01);
    expect(h.read(I.Minutes)).toBe(0x45);
    h.advance(3600 * S);
    expect(h.read(I.Hours)).toBe(0x13);
  });

  it("reads back garbage as written until the next update, then carries it over", () => {
    const h = setup("2024-12-15T08:00:00.000Z");
    h.write(I.RegisterB, RtcRegB.Set | RtcRegB.TwentyFourHour);
    h.write(I.Month, 0x13); // month 13
    h.write(I.RegisterB, RtcRegB.TwentyFourHour);
    expect(h.read(I.Month)).toBe(0x13);
    h.advance(S);
    // 2025-01-15; the weekday register keeps counting from what it held (Sunday), it does not follow the date.
    expect(h.time()).toEqual([0x20, 0x25, 0x01, 0x15, 0x01, 0x08, 0x00, 0x01]);
  });

  it("interprets bytes written during SET in the data mode in force when SET ends", () => {
    const h = setup(); // 2024-02-29 in BCD
    h.write(I.RegisterB, RtcRegB.Set | RtcRegB.TwentyFourHour | RtcRegB.DataModeBinary);
    h.write(I.Hours, 7);
    h.write(I.Minutes, 59);
    h.write(I.Seconds, 10);
    h.write(I.RegisterB, RtcRegB.TwentyFourHour | RtcRegB.DataModeBinary);
    expect([h.read(I.Hours), h.read(I.Minutes), h.read(I.Seconds)]).toEqual([7, 59, 10]);
    // The date bytes were left in BCD and now read as binary: century 0x20 = 32, year 0x24 = 36, and day 0x29 = 41,
    // so February 41st carries to March 12th — the chip would be just as confused.
    expect(h.rtc.getTime().toISOString()).toBe("3236-03-12T07:59:10.000Z");
  });

  it("re-encodes the time registers when DM or 24/12 changes while running", () => {
    const h = setup("2024-02-29T15:04:05.000Z");
    expect(h.read(I.Hours)).toBe(0x15);
    h.write(I.RegisterB, RtcRegB.DataModeBinary);
    expect([h.read(I.Hours), h.read(I.Minutes), h.read(I.Seconds)]).toEqual([0x83, 4, 5]);
  });

  it("clears UIE whenever SET is written", () => {
    const h = setup();
    h.write(I.RegisterB, RtcRegB.Set | RtcRegB.UpdateEndedInterruptEnable | RtcRegB.TwentyFourHour);
    expect(h.read(I.RegisterB)).toBe(RtcRegB.Set | RtcRegB.TwentyFourHour);
  });

  it("stops in divider reset and makes the first update half a second after the reset ends", () => {
    const h = setup("2024-02-29T10:00:00.900Z");
    h.write(I.RegisterA, 0x70 | 6);
    h.advance(10 * S);
    expect(h.read(I.Seconds)).toBe(0x00);
    h.write(I.RegisterA, RtcRegA.Divider32Khz | 6);
    h.advance(499 * MS);
    expect(h.read(I.Seconds)).toBe(0x00);
    h.advance(1 * MS);
    expect(h.read(I.Seconds)).toBe(0x01);
  });
});

describe("Mc146818Rtc update-in-progress", () => {
  it("is set for the 244 us before each update", () => {
    const h = setup("2024-02-29T10:00:00.000Z");
    const uip = () => h.read(I.RegisterA) & RtcRegA.UpdateInProgress;
    // 32760 ticks of 30517.578125 ns: UIP rises at 999,755,859.375 ns into the second.
    h.advance(999_755_859);
    expect(uip()).toBe(0);
    h.advance(1);
    expect(uip()).toBe(RtcRegA.UpdateInProgress);
    expect(h.read(I.Seconds)).toBe(0x00); // the registers still hold the old second
    h.advance(244_139);
    expect(uip()).toBe(RtcRegA.UpdateInProgress);
    h.advance(1);
    expect(uip()).toBe(0);
    expect(h.read(I.Seconds)).toBe(0x01);
  });

  it("stays clear while SET is on or the divider is stopped", () => {
    const h = setup("2024-02-29T10:00:00.999900Z");
    h.write(I.RegisterB, RtcRegB.Set | RtcRegB.TwentyFourHour);
    expect(h.read(I.RegisterA) & RtcRegA.UpdateInProgress).toBe(0);
    h.write(I.RegisterB, RtcRegB.TwentyFourHour);
    h.write(I.RegisterA, 0x60 | 6);
    expect(h.read(I.RegisterA) & RtcRegA.UpdateInProgress).toBe(0);
  });
});

describe("Mc146818Rtc interrupts", () => {
  it("raises the periodic flag at the programmed rate and IRQ 8 with PIE", () => {
    const h = setup("2024-02-29T10:00:00.000Z");
    h.write(I.RegisterA, RtcRegA.Divider32Khz | 6); // 1024 Hz: 976,562.5 ns
    h.write(I.RegisterB, RtcRegB.TwentyFourHour | RtcRegB.PeriodicInterruptEnable);
    expect(h.rtc.nextEventNs()).toBe(h.clock.t + 976_563);
    h.advance(976_562);
    h.rtc.poll();
    expect(h.irq).toBe(false);
    h.advance(1);
    h.rtc.poll();
    expect(h.irq).toBe(true);
    expect(h.rtc.nextEventNs()).toBeUndefined(); // already high until register C is read
    expect(h.read(I.RegisterC)).toBe(RtcRegC.InterruptRequest | RtcRegC.Periodic);
    expect(h.irq).toBe(false);
    expect(h.read(I.RegisterC)).toBe(0);
    expect(h.rtc.nextEventNs()).toBe(h.clock.t + 976_562); // second edge at 1,953,125 ns
  });

  it("maps every rate select value to its period", () => {
    const periodNs = (rs: number): number | undefined => {
      const h = setup("2024-02-29T10:00:00.000Z");
      h.write(I.RegisterA, RtcRegA.Divider32Khz | rs);
      h.write(I.RegisterB, RtcRegB.TwentyFourHour | RtcRegB.PeriodicInterruptEnable);
      const next = h.rtc.nextEventNs();
      return next === undefined ? undefined : next - h.clock.t;
    };
    expect(periodNs(0)).toBeUndefined();
    expect(periodNs(1)).toBe(3_906_250); // 256 Hz
    expect(periodNs(2)).toBe(7_812_500); // 128 Hz
    expect(periodNs(3)).toBe(122_071); // 8192 Hz: 122,070.3125 ns
    expect(periodNs(6)).toBe(976_563);
    expect(periodNs(15)).toBe(500_000_000); // 2 Hz
  });

  it("counts a periodic interrupt at every edge in 8192 Hz bursts", () => {
    const h = setup("2024-02-29T10:00:00.000Z");
    h.write(I.RegisterA, RtcRegA.Divider32Khz | 3);
    h.write(I.RegisterB, RtcRegB.TwentyFourHour | RtcRegB.PeriodicInterruptEnable);
    let interrupts = 0;
    for (let i = 0; i < 8192; i++) {
      const next = h.rtc.nextEventNs();
      if (next === undefined) throw new Error("no periodic event");
      h.clock.t = next;
      h.rtc.poll();
      if (h.irq) interrupts++;
      h.read(I.RegisterC);
    }
    expect(interrupts).toBe(8192);
    expect(h.clock.t - 1_000 * S).toBe(S); // exactly one second of edges
  });

  it("sets flags without their enable bits and raises IRQ 8 as soon as one is enabled", () => {
    const h = setup("2024-02-29T10:00:00.000Z");
    h.advance(S);
    h.rtc.poll();
    expect(h.irq).toBe(false);
    expect(h.rtc.nextEventNs()).toBeUndefined(); // nothing enabled
    h.write(I.RegisterB, RtcRegB.TwentyFourHour | RtcRegB.UpdateEndedInterruptEnable);
    expect(h.irq).toBe(true);
    expect(h.read(I.RegisterC)).toBe(RtcRegC.InterruptRequest | RtcRegC.Periodic | RtcRegC.UpdateEnded);
  });

  it("raises the update-ended interrupt once per second", () => {
    const h = setup("2024-02-29T10:00:00.300Z");
    h.write(I.RegisterA, RtcRegA.Divider32Khz); // no periodic flag
    h.write(I.RegisterB, RtcRegB.TwentyFourHour | RtcRegB.UpdateEndedInterruptEnable);
    expect(h.rtc.nextEventNs()).toBe(h.clock.t + 700 * MS);
    h.advance(700 * MS - 1);
    h.rtc.poll();
    expect(h.irq).toBe(false);
    h.advance(1);
    h.rtc.poll();
    expect(h.irq).toBe(true);
    expect(h.read(I.RegisterC)).toBe(RtcRegC.InterruptRequest | RtcRegC.UpdateEnded);
    expect(h.rtc.nextEventNs()).toBe(h.clock.t + S);
  });

  it("raises the alarm interrupt when hours, minutes and seconds match", () => {
    const h = setup("2024-02-29T10:00:00.000Z");
    h.write(I.RegisterA, RtcRegA.Divider32Khz);
    h.write(I.HoursAlarm, 0x10);
    h.write(I.MinutesAlarm, 0x00);
    h.write(I.SecondsAlarm, 0x03);
    h.write(I.RegisterB, RtcRegB.TwentyFourHour | RtcRegB.AlarmInterruptEnable);
    expect(h.rtc.nextEventNs()).toBe(h.clock.t + 3 * S);
    h.advance(3 * S - 1);
    h.rtc.poll();
    expect(h.irq).toBe(false);
    h.advance(1);
    h.rtc.poll();
    expect(h.irq).toBe(true);
    expect(h.read(I.RegisterC)).toBe(RtcRegC.InterruptRequest | RtcRegC.Alarm | RtcRegC.UpdateEnded);
    // Next match is tomorrow.
    expect(h.rtc.nextEventNs()).toBe(h.clock.t + 86_400 * S);
  });

  it("treats alarm bytes 0xC0-0xFF as don't-care", () => {
    const h = setup("2024-02-29T10:00:40.000Z");
    h.write(I.RegisterA, RtcRegA.Divider32Khz);
    h.write(I.HoursAlarm, 0xc0);
    h.write(I.MinutesAlarm, 0xff);
    h.write(I.SecondsAlarm, 0x30); // every minute at :30
    h.write(I.RegisterB, RtcRegB.TwentyFourHour | RtcRegB.AlarmInterruptEnable);
    expect(h.rtc.nextEventNs()).toBe(h.clock.t + 50 * S);
    h.write(I.SecondsAlarm, 0xd7); // every second
    expect(h.rtc.nextEventNs()).toBe(h.clock.t + S);
    h.write(I.HoursAlarm, 0x11);
    h.write(I.SecondsAlarm, 0x00); // 11:xx:00: first at 11:00:00
    expect(h.rtc.nextEventNs()).toBe(h.clock.t + (59 * 60 + 20) * S);
  });

  it("never fires an alarm byte that no time encodes to", () => {
    const h = setup("2024-02-29T10:00:40.000Z");
    h.write(I.RegisterA, RtcRegA.Divider32Khz);
    h.write(I.HoursAlarm, 0xc0);
    h.write(I.MinutesAlarm, 0xc0);
    h.write(I.SecondsAlarm, 0x60); // BCD 60 is not a second
    h.write(I.RegisterB, RtcRegB.TwentyFourHour | RtcRegB.AlarmInterruptEnable);
    expect(h.rtc.nextEventNs()).toBeUndefined();
    h.advance(2 * 86_400 * S);
    expect(h.read(I.RegisterC) & RtcRegC.Alarm).toBe(0);
  });

  it("compares alarm hours in 12-hour encoding", () => {
    const h = setup("2024-02-29T12:59:59.000Z");
    h.write(I.RegisterA, RtcRegA.Divider32Khz);
    h.write(I.RegisterB, RtcRegB.AlarmInterruptEnable); // 12-hour, BCD
    h.write(I.HoursAlarm, 0x81); // 1 PM
    h.write(I.MinutesAlarm, 0x00);
    h.write(I.SecondsAlarm, 0x00);
    expect(h.rtc.nextEventNs()).toBe(h.clock.t + S);
    h.write(I.HoursAlarm, 0x01); // 1 AM
    expect(h.rtc.nextEventNs()).toBe(h.clock.t + 12 * 3600 * S + S);
  });

  it("finds an alarm that passed during a long gap without polls", () => {
    const h = setup("2024-02-29T10:00:00.000Z");
    h.write(I.RegisterA, RtcRegA.Divider32Khz);
    h.write(I.HoursAlarm, 0x09);
    h.write(I.MinutesAlarm, 0x30);
    h.write(I.SecondsAlarm, 0x00);
    h.advance(23 * 3600 * S); // 09:00 next day: not yet
    expect(h.read(I.RegisterC)).toBe(RtcRegC.UpdateEnded);
    h.advance(3 * 86_400 * S);
    expect(h.read(I.RegisterC)).toBe(RtcRegC.Alarm | RtcRegC.UpdateEnded);
  });

  it("has no updates or alarms while SET is on, but keeps the periodic interrupt", () => {
    const h = setup("2024-02-29T10:00:00.000Z");
    h.write(I.HoursAlarm, 0xff);
    h.write(I.MinutesAlarm, 0xff);
    h.write(I.SecondsAlarm, 0xff);
    h.write(I.RegisterB, RtcRegB.Set | RtcRegB.TwentyFourHour);
    h.advance(5 * S);
    expect(h.read(I.RegisterC)).toBe(RtcRegC.Periodic);
  });

  it("has no periodic interrupt while the divider is in reset", () => {
    const h = setup("2024-02-29T10:00:00.000Z");
    h.write(I.RegisterA, 0x70 | 6);
    h.write(I.RegisterB, RtcRegB.TwentyFourHour | RtcRegB.PeriodicInterruptEnable);
    expect(h.rtc.nextEventNs()).toBeUndefined();
    h.advance(5 * S);
    expect(h.read(I.RegisterC)).toBe(0);
  });

  it("drops IRQ 8 when the enable bit is cleared and reports IRQF only with an enabled flag", () => {
    const h = setup("2024-02-29T10:00:00.000Z");
    h.write(I.RegisterB, RtcRegB.TwentyFourHour | RtcRegB.PeriodicInterruptEnable);
    h.advance(MS);
    h.rtc.poll();
    expect(h.irq).toBe(true);
    h.write(I.RegisterB, RtcRegB.TwentyFourHour);
    expect(h.irq).toBe(false);
    expect(h.read(I.RegisterC)).toBe(RtcRegC.Periodic);
    expect(h.edges).toEqual([true, false]);
  });

  it("reset() clears the enables and flags but keeps time and RAM", () => {
    const h = setup("2024-02-29T10:00:00.000Z");
    h.write(0x50, 0x99);
    h.write(
      I.RegisterB,
      RtcRegB.TwentyFourHour |
        RtcRegB.PeriodicInterruptEnable |
        RtcRegB.SquareWaveEnable |
        RtcRegB.DataModeBinary,
    );
    h.advance(MS);
    h.rtc.poll();
    expect(h.irq).toBe(true);
    h.rtc.reset();
    expect(h.irq).toBe(false);
    expect(h.read(I.RegisterB)).toBe(RtcRegB.TwentyFourHour | RtcRegB.DataModeBinary);
    expect(h.read(I.RegisterC)).toBe(0);
    expect(h.read(0x50)).toBe(0x99);
    expect(h.read(I.Hours)).toBe(10);
  });
});

describe("Mc146818Rtc clock and snapshots", () => {
  it("lets no time pass when the clock goes backwards or returns garbage", () => {
    const h = setup("2024-02-29T10:00:00.000Z");
    h.advance(5 * S);
    expect(h.read(I.Seconds)).toBe(0x05);
    h.advance(-3 * S);
    expect(h.read(I.Seconds)).toBe(0x05);
    h.clock.t = Number.NaN;
    expect(h.read(I.Seconds)).toBe(0x05);
    h.clock.t = 1_006 * S;
    expect(h.read(I.Seconds)).toBe(0x06);
  });

  it("round-trips its state through JSON and continues identically", () => {
    const a = setup("2024-02-29T10:00:00.123Z");
    a.write(I.RegisterA, RtcRegA.Divider32Khz | 15);
    a.write(I.RegisterB, RtcRegB.TwentyFourHour | RtcRegB.UpdateEndedInterruptEnable);
    a.write(0x60, 0x42);
    a.rtc.write(0x70, 0, Uint8Array.of(0x80 | 0x61));
    a.advance(1_500 * MS);
    a.rtc.poll();
    const state = JSON.parse(JSON.stringify(a.rtc.getState())) as Mc146818RtcState;
    const b = setup("1999-01-01T00:00:00.000Z");
    b.clock.t = a.clock.t;
    b.rtc.setState(state);
    expect(b.irq).toBe(true);
    expect(b.rtc.nmiMasked).toBe(true);
    for (const h of [a, b]) h.advance(2_345 * MS);
    expect(b.time()).toEqual(a.time());
    expect(b.read(I.RegisterC)).toBe(a.read(I.RegisterC));
    expect(b.read(0x60)).toBe(0x42);
    expect(b.rtc.nextEventNs()).toBe(a.rtc.nextEventNs());
  });

  it("sanitises a malformed snapshot", () => {
    const h = setup();
    h.rtc.setState(null as unknown as Mc146818RtcState);
    expect(h.read(I.RegisterD)).toBe(0x80);
    h.rtc.setState({ cmos: ["x", 300], flags: 0xff, baseSeconds: Number.NaN } as unknown as Mc146818RtcState);
    expect(h.read(I.SecondsAlarm)).toBe(300 & 0xff);
    expect(() => h.time()).not.toThrow();
  });

  it("rejects an invalid start time", () => {
    expect(
      () =>
        new Mc146818Rtc({ irq: { set: () => {} }, clock: { nowNs: () => 0 }, startTime: new Date("nope") }),
    ).toThrow(RangeError);
  });
});

import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { RtcIndex as I, RtcRegB, RtcRegC } from "./mc146818-registers.js";
import { Mc146818Rtc } from "./mc146818-rtc.js";
import { decodeField, decodeHours, encodeField, encodeHours } from "./rtc-calendar.js";

const S = 1_000_000_000;

function harness(startMs: number) {
  const clock = { t: 5 * S, nowNs: () => clock.t };
  const h = {
    clock,
    irq: false,
    rtc: undefined as unknown as Mc146818Rtc,
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
  };
  h.rtc = new Mc146818Rtc({ irq: { set: (a) => (h.irq = a) }, clock, startTime: new Date(startMs) });
  return h;
}

type Op =
  | { kind: "write"; offset: number; bytes: number[] }
  | { kind: "read"; offset: number; width: number }
  | { kind: "advance"; ns: number }
  | { kind: "poll" }
  | { kind: "reset" };

const op: fc.Arbitrary<Op> = fc.oneof(
  {
    weight: 6,
    arbitrary: fc.record({
      kind: fc.constant("write" as const),
      offset: fc.nat(3),
      bytes: fc.array(fc.nat(255), { minLength: 1, maxLength: 4 }),
    }),
  },
  {
    weight: 4,
    arbitrary: fc.record({
      kind: fc.constant("read" as const),
      offset: fc.nat(3),
      width: fc.constantFrom(1, 2, 4, 8),
    }),
  },
  {
    weight: 3,
    arbitrary: fc.record({
      kind: fc.constant("advance" as const),
      ns: fc.oneof(fc.nat(2_000_000), fc.nat(3 * S), fc.constant(86_400 * S)),
    }),
  },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant("poll" as const) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant("reset" as const) }) },
);

/** Dates the RTC can hold: century 19-21 in either encoding. */
const startMs = fc.integer({ min: Date.UTC(1900, 0, 1), max: Date.UTC(2199, 11, 31) });

describe("Mc146818Rtc properties", () => {
  it("survives random register traffic with IRQ 8 following the enabled flags", () => {
    fc.assert(
      fc.property(startMs, fc.array(op, { maxLength: 80 }), (start, ops) => {
        const h = harness(start);
        for (const o of ops) {
          if (o.kind === "write") h.rtc.write(0x70, o.offset, Uint8Array.from(o.bytes));
          else if (o.kind === "read") h.rtc.read(0x70, o.offset, new Uint8Array(o.width));
          else if (o.kind === "advance") h.clock.t += o.ns;
          else if (o.kind === "poll") h.rtc.poll();
          else h.rtc.reset();
          const state = h.rtc.getState();
          expect(h.irq).toBe((state.flags & state.cmos[I.RegisterB] & 0x70) !== 0);
          const next = h.rtc.nextEventNs();
          if (next !== undefined) expect(next).toBeGreaterThan(h.clock.t);
        }
        // Reading register C reports IRQF exactly when the line was high, and lowers it.
        const level = h.irq;
        expect((h.read(I.RegisterC) & RtcRegC.InterruptRequest) !== 0).toBe(level);
        expect(h.irq).toBe(false);
      }),
    );
  });

  it("schedules exactly: IRQ 8 rises at nextEventNs() and not a nanosecond before", () => {
    fc.assert(
      fc.property(
        startMs,
        fc.nat(15),
        fc.constantFrom(0x40, 0x20, 0x10, 0x70, 0x60, 0x30),
        fc.tuple(fc.nat(255), fc.nat(255), fc.nat(255)),
        fc.boolean(),
        fc.nat(3 * S),
        (start, rate, enables, [hours, minutes, seconds], binary, delay) => {
          const h = harness(start);
          h.write(I.RegisterA, 0x20 | rate);
          h.write(I.HoursAlarm, hours);
          h.write(I.MinutesAlarm, minutes);
          h.write(I.SecondsAlarm, seconds);
          h.write(I.RegisterB, RtcRegB.TwentyFourHour | (binary ? RtcRegB.DataModeBinary : 0) | enables);
          h.clock.t += delay;
          h.read(I.RegisterC); // start from a clear IRQF
          const next = h.rtc.nextEventNs();
          if (next === undefined) {
            // The update-ended interrupt always comes; the periodic one needs a rate, the alarm a matching byte.
            expect(enables & RtcRegB.UpdateEndedInterruptEnable).toBe(0);
            if (rate !== 0) expect(enables & RtcRegB.PeriodicInterruptEnable).toBe(0);
            h.clock.t += 2 * 86_400 * S;
            h.rtc.poll();
            expect(h.irq).toBe(false);
            return;
          }
          h.clock.t = next - 1;
          h.rtc.poll();
          expect(h.irq).toBe(false);
          h.clock.t = next;
          h.rtc.poll();
          expect(h.irq).toBe(true);
        },
      ),
      { numRuns: 300 },
    );
  });

  it("reads back a time the guest set, advanced by the whole seconds elapsed since", () => {
    fc.assert(
      fc.property(
        startMs,
        startMs,
        fc.boolean(),
        fc.boolean(),
        fc.nat(400 * 86_400 * S),
        (start, setMs, binary, h24, elapsed) => {
          const h = harness(start);
          const mode = (binary ? RtcRegB.DataModeBinary : 0) | (h24 ? RtcRegB.TwentyFourHour : 0);
          // The divider chain's phase when SET ends: the sub-second part of the original time line.
          h.write(I.RegisterB, RtcRegB.Set | mode);
          const set = new Date(Math.floor(setMs / 1000) * 1000);
          h.write(I.Seconds, encodeField(set.getUTCSeconds(), binary));
          h.write(I.Minutes, encodeField(set.getUTCMinutes(), binary));
          h.write(I.Hours, encodeHours(set.getUTCHours(), binary, h24));
          h.write(I.DayOfWeek, encodeField(set.getUTCDay() + 1, binary));
          h.write(I.DayOfMonth, encodeField(set.getUTCDate(), binary));
          h.write(I.Month, encodeField(set.getUTCMonth() + 1, binary));
          h.write(I.Year, encodeField(set.getUTCFullYear() % 100, binary));
          h.write(I.Century, encodeField(Math.floor(set.getUTCFullYear() / 100), binary));
          h.write(I.RegisterB, mode);
          const phaseNs = (((start % 1000) + 1000) % 1000) * 1_000_000;
          h.clock.t += elapsed;
          const expected = new Date(set.getTime() + Math.floor((phaseNs + elapsed) / S) * 1000);
          expect(h.rtc.getTime().toISOString()).toBe(expected.toISOString());
          const field = (index: number) => decodeField(h.read(index), binary);
          expect(field(I.Seconds)).toBe(expected.getUTCSeconds());
          expect(field(I.Minutes)).toBe(expected.getUTCMinutes());
          expect(decodeHours(h.read(I.Hours), binary, h24)).toBe(expected.getUTCHours());
          expect(field(I.DayOfWeek)).toBe(expected.getUTCDay() + 1);
          expect(field(I.DayOfMonth)).toBe(expected.getUTCDate());
          expect(field(I.Month)).toBe(expected.getUTCMonth() + 1);
          expect(field(I.Century) * 100 + field(I.Year)).toBe(expected.getUTCFullYear());
        },
      ),
    );
  });
});

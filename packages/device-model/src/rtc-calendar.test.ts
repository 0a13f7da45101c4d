import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  civilFromDays,
  civilFromSeconds,
  daysFromCivil,
  decodeField,
  decodeHours,
  encodeField,
  encodeHours,
  fromBcd,
  secondsFromCivil,
  toBcd,
} from "./rtc-calendar.js";

describe("civil calendar", () => {
  it("counts days from 1970-01-01", () => {
    expect(daysFromCivil(1970, 1, 1)).toBe(0);
    expect(daysFromCivil(2000, 3, 1)).toBe(11_017);
    expect(daysFromCivil(1969, 12, 31)).toBe(-1);
    expect(civilFromDays(19_782)).toEqual({ year: 2024, month: 2, day: 29 });
  });

  it("agrees with Date.UTC, weekday included, over ten thousand years", () => {
    fc.assert(
      fc.property(fc.integer({ min: -3_000_000, max: 3_000_000 }), (days) => {
        const date = new Date(days * 86_400_000);
        const civil = civilFromDays(days);
        expect(civil).toEqual({
          year: date.getUTCFullYear(),
          month: date.getUTCMonth() + 1,
          day: date.getUTCDate(),
        });
        expect(daysFromCivil(civil.year, civil.month, civil.day)).toBe(days);
        expect(civilFromSeconds(days * 86_400 + 3_723).dayOfWeek).toBe(date.getUTCDay());
      }),
    );
  });

  it("carries out-of-range months and days like Date.UTC", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1900, max: 2200 }),
        fc.integer({ min: -30, max: 170 }),
        fc.integer({ min: -40, max: 170 }),
        (year, month, day) => {
          expect(daysFromCivil(year, month, day) * 86_400_000).toBe(Date.UTC(year, month - 1, day));
        },
      ),
    );
  });

  it("breaks seconds into fields and back", () => {
    const t = civilFromSeconds(Date.UTC(2024, 1, 29, 23, 59, 58) / 1000);
    expect(t).toEqual({ year: 2024, month: 2, day: 29, hours: 23, minutes: 59, seconds: 58, dayOfWeek: 4 });
    expect(secondsFromCivil(t)).toBe(Date.UTC(2024, 1, 29, 23, 59, 58) / 1000);
    expect(secondsFromCivil({ year: 2024, month: 2, day: 29, hours: 23, minutes: 59, seconds: 62 })).toBe(
      Date.UTC(2024, 2, 1, 0, 0, 2) / 1000,
    );
  });
});

describe("register encodings", () => {
  it("converts BCD", () => {
    expect(toBcd(0)).toBe(0x00);
    expect(toBcd(59)).toBe(0x59);
    expect(toBcd(99)).toBe(0x99);
    expect(fromBcd(0x47)).toBe(47);
    expect(fromBcd(0xff)).toBe(165); // invalid digits still decode to something defined
    for (let v = 0; v < 100; v++) expect(fromBcd(toBcd(v))).toBe(v);
  });

  it("encodes BCD or binary by the DM bit", () => {
    expect(encodeField(45, false)).toBe(0x45);
    expect(encodeField(45, true)).toBe(45);
    expect(decodeField(0x45, false)).toBe(45);
    expect(decodeField(0x45, true)).toBe(0x45);
  });

  it("encodes 12-hour mode with the PM bit: 12 AM is midnight, 12 PM noon", () => {
    expect(encodeHours(0, false, false)).toBe(0x12);
    expect(encodeHours(1, false, false)).toBe(0x01);
    expect(encodeHours(11, false, false)).toBe(0x11);
    expect(encodeHours(12, false, false)).toBe(0x92);
    expect(encodeHours(13, false, false)).toBe(0x81);
    expect(encodeHours(23, false, false)).toBe(0x91);
    expect(encodeHours(23, true, false)).toBe(0x8b);
    expect(encodeHours(0, true, false)).toBe(12);
    expect(encodeHours(23, false, true)).toBe(0x23);
    expect(encodeHours(23, true, true)).toBe(23);
    for (const binary of [false, true]) {
      for (const h24 of [false, true]) {
        for (let h = 0; h < 24; h++) expect(decodeHours(encodeHours(h, binary, h24), binary, h24)).toBe(h);
      }
    }
  });
});

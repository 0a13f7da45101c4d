import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { maxExactNs, nsAtTick, ticksAtNs } from "./clock-ticks.js";

const PM_HZ = 3_579_545;

describe("clock ticks", () => {
  it("counts whole ticks: one second is hz ticks, and partial ticks round down", () => {
    expect(ticksAtNs(1e9, PM_HZ)).toBe(PM_HZ);
    expect(ticksAtNs(279, PM_HZ)).toBe(0); // one tick is 279.36 ns
    expect(ticksAtNs(280, PM_HZ)).toBe(1);
    expect(ticksAtNs(3600e9 + 280, PM_HZ)).toBe(3600 * PM_HZ + 1);
  });

  it("treats NaN, negative and zero readings as no time", () => {
    expect(ticksAtNs(Number.NaN, PM_HZ)).toBe(0);
    expect(ticksAtNs(-5, PM_HZ)).toBe(0);
    expect(ticksAtNs(0, PM_HZ)).toBe(0);
    expect(nsAtTick(0, PM_HZ)).toBe(0);
    expect(nsAtTick(Number.NaN, PM_HZ)).toBe(0);
  });

  it("clamps readings past the exact range instead of losing integer ticks", () => {
    const limit = ticksAtNs(maxExactNs(PM_HZ), PM_HZ);
    expect(Number.isSafeInteger(limit)).toBe(true);
    expect(ticksAtNs(Number.MAX_VALUE, PM_HZ)).toBe(limit);
    expect(ticksAtNs(Number.POSITIVE_INFINITY, PM_HZ)).toBe(limit);
  });

  it("matches exact rational arithmetic and inverts exactly (property)", () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 2 ** 52 }), fc.integer({ min: 1, max: 9_000_000 }), (ns, hz) => {
        const ticks = ticksAtNs(ns, hz);
        expect(BigInt(ticks)).toBe((BigInt(ns) * BigInt(hz)) / 1_000_000_000n);
        const first = nsAtTick(ticks, hz);
        expect(ticksAtNs(first, hz)).toBe(ticks);
        if (first > 0) expect(ticksAtNs(first - 1, hz)).toBe(ticks - 1);
      }),
    );
  });
});

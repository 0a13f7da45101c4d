import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  E820_RAM,
  E820_RESERVED,
  type E820Entry,
  findFreeRange,
  findFreeRangeBelow,
  type GuestRange,
  isUsableRam,
  overlaps,
  pcE820Map,
} from "./boot-memory-map.js";

describe("pcE820Map", () => {
  it("describes addPcRam's layout and the firmware below 4 GiB", () => {
    expect(pcE820Map(0x4000000, 0x40000)).toEqual([
      { address: 0, size: 0x9fc00, type: E820_RAM },
      { address: 0x9fc00, size: 0x60400, type: E820_RESERVED },
      { address: 0x100000, size: 0x3f00000, type: E820_RAM },
      { address: 0xfffc0000, size: 0x40000, type: E820_RESERVED },
    ]);
    expect(pcE820Map(0x4000000)).toHaveLength(3);
  });

  it("rejects sizes the PC builder cannot make", () => {
    expect(() => pcE820Map(0x100000)).toThrow(RangeError);
    expect(() => pcE820Map(0xf0000000)).toThrow(RangeError);
    expect(() => pcE820Map(0x4000000, -1)).toThrow(RangeError);
    expect(() => pcE820Map(Number.NaN)).toThrow(RangeError);
  });

  it("answers isUsableRam only for ranges inside one RAM entry", () => {
    const map = pcE820Map(0x4000000);
    expect(isUsableRam(map, 0, 0x9fc00)).toBe(true);
    expect(isUsableRam(map, 0x9f000, 0x1000)).toBe(false); // runs into the EBDA
    expect(isUsableRam(map, 0x100000, 0x3f00000)).toBe(true);
    expect(isUsableRam(map, 0x100000, 0x3f00001)).toBe(false);
    expect(isUsableRam(map, -1, 1)).toBe(false);
    expect(isUsableRam(map, 0x100000, Number.POSITIVE_INFINITY)).toBe(false);
  });
});

/** Brute force over every aligned address, for checking the sweeps on small maps. */
function bruteForce(
  map: E820Entry[],
  occupied: GuestRange[],
  size: number,
  alignment: number,
  fits: (address: number) => boolean,
  highest: boolean,
): number {
  const candidates: number[] = [];
  for (let address = 0; address <= 0x10000; address += alignment) {
    const range = { start: address, end: address + size };
    if (
      fits(address) &&
      isUsableRam(map, address, size) &&
      !occupied.some((other) => overlaps(range, other))
    ) {
      candidates.push(address);
    }
  }
  if (candidates.length === 0) return -1;
  return highest ? candidates[candidates.length - 1] : candidates[0];
}

describe("free-range search", () => {
  const smallMap: E820Entry[] = [
    { address: 0x1000, size: 0x4000, type: E820_RAM },
    { address: 0x5000, size: 0x1000, type: E820_RESERVED },
    { address: 0x8000, size: 0x8000, type: E820_RAM },
  ];
  const occupiedArbitrary = fc.array(
    fc
      .tuple(fc.integer({ min: 0, max: 0x10000 }), fc.integer({ min: 1, max: 0x3000 }))
      .map(([start, length]) => ({
        start,
        end: start + length,
      })),
    { maxLength: 8 },
  );

  it("finds the lowest free aligned range (property, against brute force)", () => {
    fc.assert(
      fc.property(
        occupiedArbitrary,
        fc.integer({ min: 1, max: 0x5000 }),
        fc.constantFrom(0x100, 0x1000),
        fc.integer({ min: 0, max: 0x10000 }),
        (occupied, size, alignment, lowest) => {
          const found = findFreeRange(smallMap, occupied, size, alignment, lowest);
          expect(found).toBe(bruteForce(smallMap, occupied, size, alignment, (a) => a >= lowest, false));
        },
      ),
    );
  });

  it("finds the highest free aligned range below a limit (property, against brute force)", () => {
    fc.assert(
      fc.property(
        occupiedArbitrary,
        fc.integer({ min: 1, max: 0x5000 }),
        fc.constantFrom(0x100, 0x1000),
        fc.integer({ min: 0, max: 0x11000 }),
        (occupied, size, alignment, limit) => {
          const found = findFreeRangeBelow(smallMap, occupied, size, alignment, limit);
          expect(found).toBe(bruteForce(smallMap, occupied, size, alignment, (a) => a + size <= limit, true));
        },
      ),
    );
  });
});

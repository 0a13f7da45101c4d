import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { firstDifference, RAM_SIZE, runString, type StringSetup } from "./string-fast-path.test-support.js";

const OPCODES = [
  [0xaa], // stosb
  [0x66, 0xab], // stosw
  [0xab], // stosd
  [0xa4], // movsb
  [0x66, 0xa5], // movsw
  [0xa5], // movsd
];

/** Offsets near page edges, the 64 KiB wrap, the end of RAM (MMIO beyond) and each other. */
const offset = fc.oneof(
  fc.integer({ min: 0x10000, max: 0x80000 }),
  fc.integer({ min: -8, max: 8 }).map((d) => 0x23000 + d),
  fc.integer({ min: -40, max: 8 }).map((d) => 0xfff0 + d),
  fc.integer({ min: -64, max: 0 }).map((d) => RAM_SIZE - 0x10000 + d),
);

const setup: fc.Arbitrary<StringSetup> = fc
  .record({
    opcode: fc.constantFrom(...OPCODES),
    rep: fc.constantFrom(0xf3, 0xf2),
    address16: fc.boolean(),
    eax: fc.oneof(fc.constant(0), fc.integer({ min: -(2 ** 31), max: 2 ** 31 - 1 })),
    ecx: fc.oneof(fc.integer({ min: 0, max: 64 }), fc.integer({ min: 0, max: 0x2400 })),
    esi: offset,
    edi: offset,
    overlap: fc.option(fc.integer({ min: -9, max: 9 }), { nil: undefined }),
    df: fc.boolean(),
    paging: fc.boolean(),
    notPresent: fc.option(fc.integer({ min: 0x10, max: 0x90 }), { nil: undefined }),
    esLimit: fc.option(fc.integer({ min: 0xffff, max: 0x90000 }), { nil: undefined }),
    dsLimit: fc.option(fc.integer({ min: 0xffff, max: 0x90000 }), { nil: undefined }),
    esBase: fc.constantFrom(0, 0x10000),
    logDirty: fc.boolean(),
    seed: fc.integer({ min: 1, max: 1000 }),
  })
  .map((r) => ({
    code: [...(r.address16 ? [0x67] : []), r.rep, ...r.opcode],
    eax: r.eax,
    ecx: r.ecx,
    esi: r.esi,
    edi: r.overlap === undefined ? r.edi : r.esi + r.overlap,
    df: r.df,
    paging: r.paging,
    notPresent: r.notPresent === undefined ? [] : [r.notPresent],
    esLimit: r.esLimit,
    dsLimit: r.dsLimit,
    esBase: r.overlap === undefined ? r.esBase : 0,
    logDirty: r.logDirty,
    seed: r.seed,
  }));

describe("REP MOVS/STOS fast path (property)", () => {
  it("matches the element loop in memory, registers, faults, exits and dirty log", () => {
    fc.assert(
      fc.property(setup, (s) => {
        const fast = runString(s, true);
        const slow = runString(s, false);
        expect(fast.observations).toEqual(slow.observations);
        expect(firstDifference(fast.ram, slow.ram)).toBe(-1);
        expect(fast.dirtyLog).toEqual(slow.dirtyLog);
      }),
      { numRuns: 150 },
    );
  });
});

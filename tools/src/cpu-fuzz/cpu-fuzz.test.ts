// The host CPU as oracle: a fixed-seed differential run of cpu-x86 against native execution, plus
// checks of the fuzzer's own parts that need no compiler.
import { describe, expect, it } from "vitest";
import { compareResults } from "./compare.js";
import { formatReport, fuzz } from "./fuzz.js";
import { generateCase } from "./generator.js";
import { buildOracle } from "./native.js";
import { CASE_BYTES, CODE_ENTRY, encodeCases, fillMemory, type MachineResult } from "./protocol.js";

/** The size of the run in `pnpm test`; `pnpm fuzz:cpu --count N --seed S` runs longer ones. */
const FIXED_SEED = 20_260_101;
const FIXED_COUNT = 200_000;

const build = buildOracle();
if (build.binary === undefined) {
  console.warn(`cpu-fuzz.test.ts: SKIPPING the host-CPU differential run: ${build.reason}`);
}

describe("cpu-x86 against the host CPU", () => {
  it.skipIf(build.binary === undefined)(
    `agrees on ${FIXED_COUNT} fixed-seed cases`,
    () => {
      const report = fuzz({ binary: build.binary!, seed: FIXED_SEED, count: FIXED_COUNT });
      for (const mismatch of report.mismatches) console.log(mismatch);
      console.log(formatReport(report));
      expect(report.executed).toBe(FIXED_COUNT);
      // Most cases complete; the rest end in the exception both sides raise.
      expect(report.vectors.get(3) ?? 0).toBeGreaterThan(FIXED_COUNT * 0.8);
      expect(report.mismatches).toEqual([]);
    },
    900_000,
  );
});

describe("the fuzzer's parts", () => {
  it("generates the same case for the same seed and index, and different ones otherwise", () => {
    expect(generateCase(5, 17)).toEqual(generateCase(5, 17));
    expect(generateCase(5, 17)).not.toEqual(generateCase(5, 18));
  });

  it("never branches into the instruction's own bytes", () => {
    for (let i = 0; i < 5000; i++) {
      const c = generateCase(9, i);
      const op = c.code[0];
      const rel8 = (op >= 0x70 && op < 0x80) || (op >= 0xe0 && op <= 0xe3) || op === 0xeb;
      if (!rel8 || c.code.length !== 2) continue;
      const target = CODE_ENTRY + 2 + ((c.code[1] << 24) >> 24);
      expect(target < CODE_ENTRY || target >= CODE_ENTRY + 2).toBe(true);
    }
  });

  it("encodes cases in the harness's fixed layout and fills memory as the harness does", () => {
    const cases = [generateCase(1, 0), generateCase(1, 1)];
    expect(encodeCases(cases).length).toBe(2 * CASE_BYTES);
    const bytes = new Uint8Array(8);
    fillMemory(bytes, 1);
    // xorshift32(1) = 270369, then 67634689: the same words host-oracle.c writes.
    expect(Array.from(bytes)).toEqual([0x21, 0x20, 0x04, 0x00, 0x01, 0x06, 0x08, 0x04]);
  });

  it("reports a difference in any checked register, flag or byte, and ignores undefined ones", () => {
    const c = { ...generateCase(3, 0), flagsChecked: 0x1, regsUnchecked: 1 << 2, memoryUnchecked: [8] };
    const host: MachineResult = {
      vector: 3,
      eip: 1,
      regs: [0, 0, 0, 0, 0, 0, 0, 0],
      eflags: 2,
      changes: new Map(),
    };
    const same = { ...host, regs: [...host.regs], changes: new Map() };
    expect(compareResults(c, host, same)).toEqual([]);
    expect(compareResults(c, host, { ...same, regs: [0, 0, 7, 0, 0, 0, 0, 0] })).toEqual([]);
    expect(compareResults(c, host, { ...same, eflags: 2 | 0x40 })).toEqual([]);
    expect(compareResults(c, host, { ...same, changes: new Map([[8, 1]]) })).toEqual([]);
    expect(compareResults(c, host, { ...same, regs: [1, 0, 0, 0, 0, 0, 0, 0] })).toHaveLength(1);
    expect(compareResults(c, host, { ...same, eflags: 3 })).toHaveLength(1);
    expect(compareResults(c, host, { ...same, changes: new Map([[9, 1]]) })).toHaveLength(1);
    expect(compareResults(c, host, { ...same, vector: 0 })).toHaveLength(1);
  });
});

import { describe, expect, it } from "vitest";
import { STOP_BUDGET, STOP_HLT, STOP_MMIO } from "./cpu.js";
import { ECX, EDI, ES, ESI } from "./registers.js";
import { repeatWithinPage } from "./string-fast-path.js";
import {
  buildMachine,
  CODE,
  firstDifference,
  runString,
  type StringRun,
  type StringSetup,
} from "./string-fast-path.test-support.js";

const REP_STOSB = [0xf3, 0xaa];
const REP_STOSW = [0x66, 0xf3, 0xab];
const REP_STOSD = [0xf3, 0xab];
const REP_MOVSB = [0xf3, 0xa4];
const REP_MOVSW = [0x66, 0xf3, 0xa5];
const REP_MOVSD = [0xf3, 0xa5];
const HANDLER = 0x900;

/** Runs the setup with and without the fast path and checks that nothing observable differs. */
function bothWays(setup: StringSetup): StringRun {
  const fast = runString(setup, true);
  const slow = runString(setup, false);
  expect(fast.observations).toEqual(slow.observations);
  expect(firstDifference(fast.ram, slow.ram)).toBe(-1);
  expect(fast.dirtyLog).toEqual(slow.dirtyLog);
  expect(fast.observations.at(-1)?.stop).toBe(STOP_HLT);
  return fast;
}

function last(run: StringRun) {
  const observation = run.observations.at(-1);
  if (observation === undefined) throw new Error("no observation");
  return observation;
}

describe("REP MOVS/STOS page-at-a-time fast path", () => {
  it.each([
    ["stosb", REP_STOSB, 1],
    ["stosw", REP_STOSW, 2],
    ["stosd", REP_STOSD, 4],
  ])("%s fills across pages, with and without paging", (_name, code, bytes) => {
    for (const paging of [false, true]) {
      const run = bothWays({ code, eax: 0x1234_56a7, ecx: 3000, edi: 0x10ffd, paging, seed: 7 });
      const end = 0x10ffd + 3000 * bytes;
      expect(last(run).regs[EDI]).toBe(end);
      expect(last(run).regs[ECX]).toBe(0);
      expect(run.ram[0x10ffd]).toBe(0xa7);
      expect(run.ram[end - bytes]).toBe(0xa7);
      expect(run.ram[end]).not.toBe(0xa7 + 1); // seeded, untouched past the end
    }
  });

  it("zero fill of a large buffer matches and yields every 4096 iterations with EIP on the REP", () => {
    const run = bothWays({ code: REP_STOSD, ecx: 0x3000, edi: 0x20000, paging: true, seed: 3 });
    const yields = run.observations.filter((o) => o.stop === STOP_BUDGET && o.eip === CODE);
    expect(yields.map((o) => o.regs[ECX])).toEqual([0x2000, 0x1000]);
    expect(run.ram.subarray(0x20000, 0x2c000).every((b) => b === 0)).toBe(true);
  });

  it.each([
    ["movsb", REP_MOVSB, 1],
    ["movsw", REP_MOVSW, 2],
    ["movsd", REP_MOVSD, 4],
  ])("%s copies misaligned runs across pages", (_name, code, bytes) => {
    for (const paging of [false, true]) {
      const run = bothWays({ code, ecx: 2500, esi: 0x30ff3, edi: 0x40a05, paging, seed: 11 });
      expect(last(run).regs[ESI]).toBe(0x30ff3 + 2500 * bytes);
      expect(run.ram.subarray(0x40a05, 0x40a05 + 2500 * bytes)).toEqual(
        run.ram.subarray(0x30ff3, 0x30ff3 + 2500 * bytes),
      );
    }
  });

  it.each([1, 2, 3, 4, 5, 8, -1, -4, -4095])(
    "overlapping movs with destination = source + %d",
    (distance) => {
      for (const code of [REP_MOVSB, REP_MOVSW, REP_MOVSD]) {
        bothWays({ code, ecx: 1500, esi: 0x50100, edi: 0x50100 + distance, seed: 5 });
      }
    },
  );

  it("a byte MOVS one ahead of its source replicates the first byte, as element by element", () => {
    const run = bothWays({ code: REP_MOVSB, ecx: 5000, esi: 0x50000, edi: 0x50001, seed: 5 });
    const first = run.ram[0x50000];
    expect(run.ram.subarray(0x50000, 0x50000 + 5001).every((b) => b === first)).toBe(true);
  });

  it("a segment limit fault mid-string leaves ECX/EDI at the faulting iteration", () => {
    const run = bothWays({ code: REP_STOSD, eax: -1, ecx: 0x800, edi: 0x15000, esLimit: 0x15fff, seed: 9 });
    const end = last(run);
    expect(end.eip).toBe(HANDLER + 1);
    expect(end.regs[ECX]).toBe(0x400);
    expect(end.regs[EDI]).toBe(0x16000);
    expect(run.ram.subarray(0x15000, 0x16000).every((b) => b === 0xff)).toBe(true);
  });

  it("a limit that ends mid-element faults on that element", () => {
    const run = bothWays({ code: REP_MOVSD, ecx: 0x800, esi: 0x30000, edi: 0x15002, dsLimit: 0x30ffe });
    expect(last(run).regs[ESI]).toBe(0x30ffc);
    expect(last(run).regs[ECX]).toBe(0x800 - 0x3ff);
  });

  it("a not-present page in the middle faults with the registers of that iteration and CR2", () => {
    const run = bothWays({
      code: REP_STOSD,
      eax: 0x01020304,
      ecx: 0x400,
      edi: 0x16800,
      paging: true,
      notPresent: [0x17],
    });
    const end = last(run);
    expect(end.eip).toBe(HANDLER + 1);
    expect(end.regs[ECX]).toBe(0x200);
    expect(end.regs[EDI]).toBe(0x17000);
    expect(end.cr2).toBe(0x17000);
  });

  it("a not-present source page faults MOVS before the destination is written", () => {
    const run = bothWays({
      code: REP_MOVSB,
      ecx: 0x3000,
      esi: 0x33000,
      edi: 0x40000,
      paging: true,
      notPresent: [0x35],
      seed: 2,
    });
    expect(last(run).regs[ESI]).toBe(0x35000);
    expect(last(run).regs[ECX]).toBe(0x1000);
    expect(last(run).cr2).toBe(0x35000);
  });

  it("REP STOS over code that was executed drops the decoded instructions", () => {
    // call sub; rep stosb (sub's INC EBXs become DEC EDXs); call sub; hlt
    const sub = 0xb00;
    const code = [0xe8, ...le32(sub - (CODE + 5)), ...REP_STOSB, 0xe8, ...le32(sub - (CODE + 12))];
    const run = bothWays({
      code,
      eax: 0x4a,
      ecx: 8,
      edi: sub,
      memory: [[sub, [0x43, 0x43, 0x43, 0x43, 0x43, 0x43, 0x43, 0x43, 0xc3]]],
    });
    expect(last(run).regs[3]).toBe(8);
    expect(last(run).regs[2]).toBe(-8);
  });

  it("REP MOVS over code that was executed drops the decoded instructions, with paging", () => {
    const sub = 0xb00;
    const code = [0xe8, ...le32(sub - (CODE + 5)), ...REP_MOVSD, 0xe8, ...le32(sub - (CODE + 12))];
    const run = bothWays({
      code,
      ecx: 2,
      esi: 0x30000,
      edi: sub,
      paging: true,
      memory: [
        [sub, [0x43, 0x43, 0x43, 0x43, 0x43, 0x43, 0x43, 0x43, 0xc3]],
        [0x30000, [0x4a, 0x4a, 0x4a, 0x4a, 0x4a, 0x4a, 0x4a, 0x4a]],
      ],
    });
    expect(last(run).regs[3]).toBe(8);
    expect(last(run).regs[2]).toBe(-8);
  });

  it("MMIO destinations still exit once per element", () => {
    const run = bothWays({ code: REP_STOSD, eax: 0x11223344, ecx: 6, edi: 0x100000 - 8 });
    const writes = run.observations.filter((o) => o.stop === STOP_MMIO).map((o) => o.access);
    expect(writes).toEqual(
      [0x100000, 0x100004, 0x100008, 0x10000c].map((address) => ({
        address,
        size: 4,
        write: true,
        value: 0x11223344,
      })),
    );
  });

  it("MMIO sources still exit once per element", () => {
    const run = bothWays({ code: REP_MOVSW, ecx: 6, esi: 0x100000 - 4, edi: 0x60000, paging: true });
    const reads = run.observations.filter((o) => o.stop === STOP_MMIO);
    expect(reads.map((o) => o.access?.address)).toEqual([0x100000, 0x100002, 0x100004, 0x100006]);
  });

  it("16-bit address size wraps DI and SI within the segment and keeps the high halves", () => {
    for (const code of [
      [0x67, ...REP_STOSD],
      [0x67, ...REP_MOVSB],
      [0x67, ...REP_MOVSD],
    ]) {
      const run = bothWays({
        code,
        eax: 0x55aa55aa,
        ecx: 0xabcd0100,
        esi: 0x7777ff00,
        edi: 0x1234ffc0,
        esBase: 0x40000,
        dsBase: 0x60000,
        seed: 4,
      });
      expect(last(run).regs[ECX]).toBe(0xabcd0000 | 0);
      expect(last(run).regs[EDI] >>> 16).toBe(0x1234);
    }
  });

  it("dirty logging records the same pages", () => {
    const run = bothWays({
      code: REP_MOVSD,
      ecx: 0x1800,
      esi: 0x30000,
      edi: 0x41800,
      logDirty: true,
      paging: true,
    });
    expect(run.dirtyLog?.[(0x41 >> 3) | 0]).not.toBe(0);
  });

  it("DF=1 is left to the element loop and gives the same results", () => {
    bothWays({ code: REP_STOSD, ecx: 0x900, edi: 0x23000, df: true, seed: 1 });
    bothWays({ code: REP_MOVSB, ecx: 0x1900, esi: 0x33000, edi: 0x33004, df: true, seed: 1 });
  });

  it("does whole pages at once when the TLB already allows the access, and nothing otherwise", () => {
    const { cpu } = buildMachine({ code: REP_STOSD, ecx: 0x2000, edi: 0x20000, paging: true }, true);
    expect(repeatWithinPage(cpu, cpu.insn, false, 2, -1, 4096)).toBe(0); // not walked yet
    cpu.write32(ES, 0x20000, 0); // walks the page and opens its write tag
    expect(repeatWithinPage(cpu, cpu.insn, false, 2, -1, 4096)).toBe(1024);
    expect(cpu.regs[ECX]).toBe(0x1c00);
    expect(cpu.regs[EDI]).toBe(0x21000);
    expect(cpu.regs[ESI]).toBe(0);
  });
});

function le32(value: number): number[] {
  return [value & 0xff, (value >>> 8) & 0xff, (value >>> 16) & 0xff, (value >>> 24) & 0xff];
}

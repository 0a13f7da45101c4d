// Straight-line runs (Cpu.runInPage) against one full step per instruction: random loops of straight-line
// instructions mixed with ones that must end a run (POPF, port I/O, writes into the code, faults, MMIO),
// run with random run() budgets. Everything the host or the guest can observe must be the same.
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { STOP_HLT, STOP_IO, STOP_MMIO, STOP_SHUTDOWN } from "./cpu.js";
import {
  buildMachine,
  CODE,
  firstDifference,
  RAM_SIZE,
  type StringSetup,
} from "./string-fast-path.test-support.js";

const COUNTER = 0x4000;
const reg = fc.constantFrom(0, 1, 2, 3, 5, 6, 7); // not ESP
const cc = fc.nat(15);
const imm8 = fc.nat(255);
const le32 = (v: number) => [v & 0xff, (v >>> 8) & 0xff, (v >>> 16) & 0xff, v >>> 24];

const instruction: fc.Arbitrary<readonly number[]> = fc.oneof(
  {
    weight: 8,
    arbitrary: fc
      .tuple(
        fc.constantFrom(0x01, 0x03, 0x09, 0x11, 0x19, 0x21, 0x29, 0x31, 0x39, 0x85, 0x87, 0x89),
        reg,
        reg,
      )
      .map(([op, a, b]) => [op, 0xc0 | (a << 3) | b]),
  },
  {
    weight: 5,
    arbitrary: fc
      .tuple(fc.constantFrom(0x01, 0x03, 0x29, 0x31, 0x39, 0x89, 0x8b, 0x87), reg, imm8)
      .map(([op, r, d]) => [op, 0x43 | (r << 3), d]), // op [ebx+d8], r
  },
  { weight: 3, arbitrary: fc.tuple(fc.constantFrom(0x40, 0x48, 0x50, 0x58), reg).map(([op, r]) => [op + r]) },
  {
    weight: 2,
    arbitrary: fc.tuple(fc.nat(7), reg, imm8).map(([sub, r, n]) => [0xc1, 0xc0 | (sub << 3) | r, n]),
  },
  { weight: 2, arbitrary: fc.tuple(reg, reg, imm8).map(([a, b, n]) => [0x6b, 0xc0 | (a << 3) | b, n]) },
  { weight: 1, arbitrary: fc.tuple(reg, imm8).map(([r, d]) => [0x8d, 0x44 | (r << 3), 0x73, d]) }, // lea r,[ebx+esi*2+d8]
  { weight: 2, arbitrary: fc.tuple(reg, imm8).map(([r, d]) => [0x0f, 0xb6, 0x43 | (r << 3), d]) }, // movzx r, byte [ebx+d8]
  { weight: 2, arbitrary: fc.tuple(cc, fc.nat(7)).map(([c, r]) => [0x0f, 0x90 + c, 0xc0 | r]) }, // setcc
  { weight: 2, arbitrary: fc.tuple(cc, reg, reg).map(([c, a, b]) => [0x0f, 0x40 + c, 0xc0 | (a << 3) | b]) }, // cmovcc
  { weight: 3, arbitrary: fc.tuple(cc, fc.nat(6)).map(([c, k]) => [0x70 + c, k]) }, // jcc forward, maybe mid-instruction
  { weight: 1, arbitrary: reg.map((r) => [0xf7, 0xf0 | r]) }, // div r: #DE sometimes
  { weight: 2, arbitrary: fc.constantFrom([0xaa], [0xad], [0xa4], [0xa7]) }, // stosb, lodsd, movsb, cmpsd
  { weight: 2, arbitrary: fc.tuple(reg, fc.nat(0xffffffff)).map(([r, v]) => [0xb8 + r, ...le32(v)]) },
  { weight: 1, arbitrary: reg.map((r) => [0xe8, 0, 0, 0, 0, 0x58 + r]) }, // call next; pop r
  { weight: 1, arbitrary: fc.tuple(reg, reg).map(([a, b]) => [0x0f, 0xbc, 0xc0 | (a << 3) | b]) }, // bsf
  { weight: 1, arbitrary: reg.map((r) => [0x0f, 0xc8 + r]) }, // bswap
  // Instructions that end a straight-line run.
  { weight: 1, arbitrary: fc.constantFrom([0x9c, 0x9d], [0x9d], [0xe6, 0x80], [0xe4, 0x71], [0xfa], [0xfb]) },
  // A write into the loop's own code on one iteration only, once the code is decoded and cached:
  // cmp dword [COUNTER], n; jne +7; mov byte [CODE + at], v
  {
    weight: 1,
    arbitrary: fc
      .tuple(fc.integer({ min: 1, max: 3 }), fc.nat(60), imm8)
      .map(([n, at, v]) => [0x83, 0x3d, ...le32(COUNTER), n, 0x75, 7, 0xc6, 0x05, ...le32(CODE + at), v]),
  },
);

const program = fc.record({
  body: fc.array(instruction, { minLength: 1, maxLength: 24 }),
  iterations: fc.integer({ min: 1, max: 40 }),
  ebx: fc.constantFrom(0x5000, 0x5080, RAM_SIZE - 0x40, CODE + 0x10),
  paging: fc.boolean(),
  budgets: fc.array(fc.constantFrom(1, 2, 3, 17, 100, 5000), { minLength: 1, maxLength: 5 }),
  seed: fc.integer({ min: 1, max: 1000 }),
});

interface Observation {
  stop: number;
  eip: number;
  flags: number;
  instructions: number;
  regs: number[];
  access?: number[];
}

function run(p: ProgramSetup, straightLineRuns: boolean) {
  const body = p.body.flat();
  // body; dec dword [COUNTER]; jnz body (rel32); hlt (appended by the machine)
  const back = -(body.length + 6 + 6);
  const code = [...body, 0xff, 0x0d, ...le32(COUNTER), 0x0f, 0x85, ...le32(back)];
  const setup: StringSetup = {
    code,
    ecx: 0x1234,
    ebx: p.ebx,
    esi: 0x6000,
    edi: 0x7000,
    paging: p.paging,
    seed: p.seed,
    memory: [[COUNTER, le32(p.iterations)]],
  };
  const { cpu, memory } = buildMachine(setup, true, { straightLineRuns });
  const observations: Observation[] = [];
  for (let call = 0; call < 3000 && cpu.instructionCount < 5000; call++) {
    const stop = cpu.run(p.budgets[call % p.budgets.length]);
    const o: Observation = {
      stop,
      eip: cpu.eip,
      flags: cpu.flags.get(),
      instructions: cpu.instructionCount,
      regs: Array.from(cpu.regs.subarray(0, 8)),
    };
    if (stop === STOP_IO || stop === STOP_MMIO) {
      const a = cpu.pendingAccess;
      o.access = [a.address, a.size, a.write ? 1 : 0, a.value];
      if (!a.write) cpu.completeRead((Math.imul(a.address, 0x9e3779b1) ^ 0x5a5a5a5a) | 0);
    }
    observations.push(o);
    if (stop === STOP_HLT || stop === STOP_SHUTDOWN) break;
  }
  const ram = new Uint8Array(RAM_SIZE);
  memory.read(0, ram);
  return { observations, ram };
}

type ProgramSetup = typeof program extends fc.Arbitrary<infer T> ? T : never;

describe("straight-line runs (property)", () => {
  it("match one full step per instruction: exits, registers, flags, counts and memory", () => {
    fc.assert(
      fc.property(program, (p) => {
        const fast = run(p, true);
        const slow = run(p, false);
        expect(fast.observations).toEqual(slow.observations);
        expect(firstDifference(fast.ram, slow.ram)).toBe(-1);
      }),
      { numRuns: 300 },
    );
  });
});

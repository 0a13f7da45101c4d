// x87 instruction groups, one behaviour per test, run as real-mode code through the whole CPU.
import { describe, expect, it } from "vitest";
import { FLAG_CF, FLAG_PF, FLAG_ZF } from "../registers.js";
import { SW_C0, SW_C1, SW_C2, SW_C3, SW_IE, SW_PE } from "./x87.js";
import {
  DATA,
  doubleBytes,
  extendedBytes,
  integerBytes,
  mem,
  readBytes,
  readDouble,
  runX87,
  st,
  stBits,
} from "./x87.test-support.js";

const A = DATA;
const B = DATA + 0x10;
const C = DATA + 0x20;
const CW = DATA + 0x30;

/** Runs code with memory preset: a list of [address, bytes]. */
function run(code: number[], preset: [number, number[]][] = []) {
  return runX87(code, {
    setup: ({ memory }) => {
      for (const [address, bytes] of preset) memory.write(address, Uint8Array.from(bytes));
    },
  });
}

/** FLDCW [CW] with the given control word, as code plus the preset it needs. */
function withControlWord(cw: number): { code: number[]; preset: [number, number[]] } {
  return { code: [0xd9, ...mem(5, CW)], preset: [CW, [cw & 0xff, cw >> 8]] };
}

const FLD_M64 = (address: number) => [0xdd, ...mem(0, address)];
const FSTP_M64 = (address: number) => [0xdd, ...mem(3, address)];
const FLD1 = [0xd9, 0xe8];

describe("loads, stores and arithmetic", () => {
  it("adds, subtracts, multiplies and divides with every operand form", () => {
    // fld [A]=6; fld [B]=4; fsubp (st1 = st1 - st0 = 2); fmul qword [A] (12); fdivr qword [B] (4/12)
    const { cpu, memory } = run(
      [...FLD_M64(A), ...FLD_M64(B), 0xde, 0xe9, 0xdc, ...mem(1, A), 0xdc, ...mem(7, B), ...FSTP_M64(C)],
      [
        [A, doubleBytes(6)],
        [B, doubleBytes(4)],
      ],
    );
    expect(cpu.internalError).toBe("");
    expect(readDouble(memory, C)).toBe(1 / 3);
    // fild word [A]=-7; fiadd dword [B]=10; fisubr word [A] (-7 - 3 = -10); fidiv dword [B] (-1)
    const ints = run(
      [0xdf, ...mem(0, A), 0xda, ...mem(0, B), 0xde, ...mem(5, A), 0xda, ...mem(6, B), ...FSTP_M64(C)],
      [
        [A, integerBytes(-7, 2)],
        [B, integerBytes(10, 4)],
      ],
    );
    expect(readDouble(ints.memory, C)).toBe(-1);
  });

  it("keeps 64 significant bits under PC=64 and rounds to 53 under PC=53", () => {
    // 1 + 2^-60 - 1
    const code = (cw: number[]) => [
      ...cw,
      ...FLD1,
      ...FLD_M64(A),
      0xde,
      0xc1,
      ...FLD1,
      0xde,
      0xe9,
      ...FSTP_M64(C),
    ];
    const preset: [number, number[]] = [A, doubleBytes(2 ** -60)];
    expect(readDouble(run(code([]), [preset]).memory, C)).toBe(2 ** -60);
    const pc53 = withControlWord(0x027f);
    expect(readDouble(run(code(pc53.code), [preset, pc53.preset]).memory, C)).toBe(0);
  });

  it("rounds by RC: 1/10 rounds up to nearest, down under chop and down", () => {
    const tenth = (cw: number) => {
      const control = withControlWord(cw);
      const { memory } = run(
        [...control.code, ...FLD1, ...FLD_M64(A), 0xde, 0xf9, ...FSTP_M64(C)],
        [[A, doubleBytes(10)], control.preset],
      );
      return readDouble(memory, C);
    };
    const nearest = 1 / 10; // rounded up from the exact value
    expect(tenth(0x037f)).toBe(nearest);
    expect(tenth(0x0f7f)).toBe(nearest - 2 ** -56); // chop: the double below
    expect(tenth(0x077f)).toBe(nearest - 2 ** -56); // down
    expect(tenth(0x0b7f)).toBe(nearest); // up
  });

  it("converts to integers by RC, with the integer indefinite when out of range", () => {
    const fist = (value: number, cw: number) => {
      const control = withControlWord(cw);
      const { memory } = run(
        [...control.code, ...FLD_M64(A), 0xdf, ...mem(3, C)],
        [[A, doubleBytes(value)], control.preset],
      );
      const word = readBytes(memory, C, 2);
      return ((word[0] | (word[1] << 8)) << 16) >> 16;
    };
    expect([2.5, 3.5, -2.5].map((v) => fist(v, 0x037f))).toEqual([2, 4, -2]);
    expect([2.5, -2.5].map((v) => fist(v, 0x077f))).toEqual([2, -3]);
    expect([2.5, -2.5].map((v) => fist(v, 0x0b7f))).toEqual([3, -2]);
    expect([2.7, -2.7].map((v) => fist(v, 0x0f7f))).toEqual([2, -2]);
    expect(fist(40000, 0x037f)).toBe(-32768); // indefinite
    expect(fist(-32768, 0x037f)).toBe(-32768);
  });

  it("loads and stores 64-bit integers exactly, beyond double precision", () => {
    const big = [0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f]; // 2^63 - 1
    const { cpu, memory } = run([0xdf, ...mem(5, A), 0xdf, ...mem(7, C)], [[A, big]]);
    expect(Array.from(readBytes(memory, C, 8))).toEqual(big);
    expect(cpu.fpu.statusWord & SW_PE).toBe(0);
  });

  it("round-trips packed BCD", () => {
    // -123456789012345678: digits in bytes 0 (least significant) to 8, sign in byte 9.
    const bcd = [0x78, 0x56, 0x34, 0x12, 0x90, 0x78, 0x56, 0x34, 0x12, 0x80];
    const { memory } = run(
      [0xdf, ...mem(4, A), 0xd9, 0xc0, 0xdf, ...mem(6, B), 0xdf, ...mem(7, C)],
      [[A, bcd]],
    );
    expect(Array.from(readBytes(memory, B, 10))).toEqual(bcd);
    const value = readBytes(memory, C, 8);
    const n = new DataView(value.buffer).getBigInt64(0, true);
    expect(n).toBe(-123456789012345678n);
  });

  it("stores the BCD indefinite for values of 19 digits", () => {
    const { memory } = run([...FLD_M64(A), 0xdf, ...mem(6, B)], [[A, doubleBytes(1e18)]]);
    expect(Array.from(readBytes(memory, B, 10))).toEqual([0, 0, 0, 0, 0, 0, 0, 0xc0, 0xff, 0xff]);
  });

  it("moves 80-bit values bit for bit: NaN payloads, pseudo-denormals, unnormals", () => {
    for (const value of [
      extendedBytes(0x7fff, 0xc1234567, 0x89abcdef), // QNaN with payload
      extendedBytes(0xffff, 0x80000000, 1), // SNaN: FLD m80 does not quiet it
      extendedBytes(0x0000, 0x80000000, 5), // pseudo-denormal
      extendedBytes(0x1234, 0x40000000, 0), // unnormal
      extendedBytes(0x7fff, 0x00000000, 0), // pseudo-infinity
    ]) {
      const { cpu, memory } = run([0xdb, ...mem(5, A), 0xdb, ...mem(7, B)], [[A, value]]);
      expect(Array.from(readBytes(memory, B, 10))).toEqual(value);
      expect(cpu.fpu.statusWord & 0x3f).toBe(0);
    }
  });

  it("quiets a signalling NaN loaded from m64 and flags invalid", () => {
    const snan = [1, 0, 0, 0, 0, 0, 0xf0, 0x7f];
    const { cpu } = run([0xdd, ...mem(0, A)], [[A, snan]]);
    expect(stBits(cpu, 0)).toEqual([0x7fff, 0xc0000000, 0x800]);
    expect(cpu.fpu.statusWord & SW_IE).toBe(SW_IE);
  });
});

describe("constants", () => {
  it("loads pi rounded by RC from its 66-bit internal value", () => {
    expect(stBits(run([0xd9, 0xeb]).cpu, 0)).toEqual([0x4000, 0xc90fdaa2, 0x2168c235]);
    const chop = withControlWord(0x0f7f);
    expect(stBits(run([...chop.code, 0xd9, 0xeb], [chop.preset]).cpu, 0)).toEqual([
      0x4000, 0xc90fdaa2, 0x2168c234,
    ]);
    const up = withControlWord(0x0b7f);
    expect(stBits(run([...up.code, 0xd9, 0xe9], [up.preset]).cpu, 0)).toEqual([
      0x4000, 0xd49a784b, 0xcd1b8aff,
    ]);
  });

  it("loads 1, 0, log2(e), log10(2) and ln(2)", () => {
    const { cpu } = run([0xd9, 0xe8, 0xd9, 0xee, 0xd9, 0xea, 0xd9, 0xec, 0xd9, 0xed]);
    expect([st(cpu, 4), st(cpu, 3)]).toEqual([1, 0]);
    expect(st(cpu, 2)).toBe(Math.LOG2E);
    expect(st(cpu, 1)).toBe(Math.LOG10E ** -1 / Math.log2(10) / Math.LOG10E ** -1);
    expect(st(cpu, 0)).toBe(Math.LN2);
  });
});

describe("comparisons", () => {
  const codes = (sw: number) => sw & (SW_C3 | SW_C2 | SW_C0);

  it("sets C3 C2 C0 for greater, less, equal and unordered", () => {
    const compare = (a: number, b: number) =>
      codes(
        run(
          [...FLD_M64(B), ...FLD_M64(A), 0xde, 0xd9],
          [
            [A, doubleBytes(a)],
            [B, doubleBytes(b)],
          ],
        ).cpu.fpu.statusWord,
      );
    expect(compare(2, 1)).toBe(0);
    expect(compare(1, 2)).toBe(SW_C0);
    expect(compare(0, -0)).toBe(SW_C3);
    expect(compare(Number.NaN, 1)).toBe(SW_C3 | SW_C2 | SW_C0);
  });

  it("FCOM signals invalid on a QNaN, FUCOM does not", () => {
    const nan: [number, number[]] = [A, doubleBytes(Number.NaN)];
    const fcom = run([...FLD_M64(A), ...FLD1, 0xd8, 0xd1], [nan]).cpu.fpu.statusWord;
    const fucom = run([...FLD_M64(A), ...FLD1, 0xdd, 0xe1], [nan]).cpu.fpu.statusWord;
    expect(fcom & SW_IE).toBe(SW_IE);
    expect(fucom & SW_IE).toBe(0);
    expect(codes(fucom)).toBe(SW_C3 | SW_C2 | SW_C0);
  });

  it("FCOMI and FUCOMIP set ZF, PF and CF", () => {
    const flags = (a: number, b: number, opcode: number[]) => {
      const { cpu } = run(
        [...FLD_M64(B), ...FLD_M64(A), ...opcode],
        [
          [A, doubleBytes(a)],
          [B, doubleBytes(b)],
        ],
      );
      return { eflags: cpu.flags.get() & (FLAG_ZF | FLAG_PF | FLAG_CF), top: cpu.fpu.top };
    };
    expect(flags(1, 2, [0xdb, 0xf1]).eflags).toBe(FLAG_CF);
    expect(flags(2, 1, [0xdb, 0xf1]).eflags).toBe(0);
    expect(flags(2, 2, [0xdb, 0xf1]).eflags).toBe(FLAG_ZF);
    const unordered = flags(Number.NaN, 2, [0xdf, 0xe9]);
    expect(unordered.eflags).toBe(FLAG_ZF | FLAG_PF | FLAG_CF);
    expect(unordered.top).toBe(7); // popped once
  });

  it("classifies with FXAM", () => {
    const fxam = (bytes: number[]) =>
      run([0xdb, ...mem(5, A), 0xd9, 0xe5], [[A, bytes]]).cpu.fpu.statusWord & 0x4700;
    expect(fxam(extendedBytes(0x3fff, 0x80000000, 0))).toBe(SW_C2);
    expect(fxam(extendedBytes(0x8000, 0, 0))).toBe(SW_C3 | SW_C1);
    expect(fxam(extendedBytes(0x7fff, 0x80000000, 0))).toBe(SW_C2 | SW_C0);
    expect(fxam(extendedBytes(0x7fff, 0xc0000000, 0))).toBe(SW_C0);
    expect(fxam(extendedBytes(0x0000, 0x00000001, 0))).toBe(SW_C3 | SW_C2);
    expect(fxam(extendedBytes(0x3fff, 0x00000001, 0))).toBe(0); // unnormal: unsupported
    expect(run([0xd9, 0xe5]).cpu.fpu.statusWord & (SW_C3 | SW_C2 | SW_C0)).toBe(SW_C3 | SW_C0); // empty
  });

  it("FTST compares with zero", () => {
    expect(run([...FLD_M64(A), 0xd9, 0xe4], [[A, doubleBytes(-3)]]).cpu.fpu.statusWord & SW_C0).toBe(SW_C0);
  });
});

describe("stack and register operations", () => {
  it("FXCH, FLD ST(i), FSTP ST(i), FFREE, FINCSTP, FDECSTP", () => {
    const { cpu } = run([...FLD1, 0xd9, 0xee, 0xd9, 0xc9, 0xd9, 0xc1, 0xdd, 0xda]);
    // fld1; fldz; fxch -> st0=1 st1=0; fld st1 -> 0 1 0; fstp st2 -> 1 0
    expect([st(cpu, 0), st(cpu, 1)]).toEqual([1, 0]);
    expect(cpu.fpu.isEmpty(2)).toBe(true);
    const free = run([...FLD1, ...FLD1, 0xdd, 0xc1, 0xd9, 0xf7, 0xd9, 0xf6]).cpu;
    // ffree st1 then fincstp, fdecstp: TOP back where it was, ST(1) empty
    expect(free.fpu.isEmpty(1)).toBe(true);
    expect(free.fpu.isEmpty(0)).toBe(false);
    expect(free.fpu.top).toBe(6);
  });

  it("FCMOVcc moves on the EFLAGS condition", () => {
    // fld1; fldz; stc; fcmovb st1 -> 1; clc; fcmovnb... (db c1) -> st0 = st1 = 1
    const moved = run([...FLD1, 0xd9, 0xee, 0xf9, 0xda, 0xc1]).cpu;
    expect(st(moved, 0)).toBe(1);
    const kept = run([...FLD1, 0xd9, 0xee, 0xf8, 0xda, 0xc1]).cpu;
    expect(st(kept, 0)).toBe(0);
    const nb = run([...FLD1, 0xd9, 0xee, 0xf8, 0xdb, 0xc1]).cpu;
    expect(st(nb, 0)).toBe(1);
  });

  it("FCHS and FABS flip and clear the sign bit only", () => {
    const { cpu } = run([...FLD_M64(A), 0xd9, 0xe0, 0xd9, 0xc0, 0xd9, 0xe1], [[A, doubleBytes(2.5)]]);
    expect([st(cpu, 0), st(cpu, 1)]).toEqual([2.5, -2.5]);
  });

  it("FNSTSW AX, FNSTSW m16 and FNSTCW", () => {
    const { cpu, memory } = run([...FLD1, 0xdf, 0xe0, 0xdd, ...mem(7, A), 0xd9, ...mem(7, B)]);
    expect(cpu.regs16[0]).toBe(7 << 11);
    expect(Array.from(readBytes(memory, A, 2))).toEqual([0, 0x38]);
    expect(Array.from(readBytes(memory, B, 2))).toEqual([0x7f, 0x03]);
  });

  it("FNCLEX clears the exception flags, ES and B", () => {
    const { cpu } = run([0xd9, 0xe8, 0xd9, 0xee, 0xde, 0xf9, 0xdb, 0xe2]); // 1/0 masked -> ZE
    expect(cpu.fpu.statusWord & 0x80ff).toBe(0);
  });
});

describe("the D9 F0-FF group", () => {
  it("FSQRT, FRNDINT, FSCALE and FXTRACT are exact", () => {
    expect(st(run([...FLD_M64(A), 0xd9, 0xfa], [[A, doubleBytes(2)]]).cpu, 0)).toBe(Math.SQRT2);
    expect(st(run([...FLD_M64(A), 0xd9, 0xfc], [[A, doubleBytes(-2.5)]]).cpu, 0)).toBe(-2);
    // fld [B]=3; fld [A]=1.5; fscale -> 12
    const scaled = run(
      [...FLD_M64(B), ...FLD_M64(A), 0xd9, 0xfd],
      [
        [A, doubleBytes(1.5)],
        [B, doubleBytes(3.9)],
      ],
    ).cpu;
    expect(st(scaled, 0)).toBe(12);
    const parts = run([...FLD_M64(A), 0xd9, 0xf4], [[A, doubleBytes(-40)]]).cpu;
    expect([st(parts, 0), st(parts, 1)]).toEqual([-1.25, 5]);
  });

  it("FPREM and FPREM1 report the quotient's low bits in C0 C3 C1", () => {
    const remainder = (a: number, b: number, opcode: number) => {
      const { cpu } = run(
        [...FLD_M64(B), ...FLD_M64(A), 0xd9, opcode],
        [
          [A, doubleBytes(a)],
          [B, doubleBytes(b)],
        ],
      );
      const sw = cpu.fpu.statusWord;
      const q = ((sw & SW_C0) !== 0 ? 4 : 0) | ((sw & SW_C3) !== 0 ? 2 : 0) | ((sw & SW_C1) !== 0 ? 1 : 0);
      return { value: st(cpu, 0), q, incomplete: (sw & SW_C2) !== 0 };
    };
    expect(remainder(11, 3, 0xf8)).toEqual({ value: 2, q: 3, incomplete: false });
    expect(remainder(11, 3, 0xf5)).toEqual({ value: -1, q: 4, incomplete: false });
    expect(remainder(-7.5, 2, 0xf8)).toEqual({ value: -1.5, q: 3, incomplete: false });
    expect(remainder(2 ** 100, 3, 0xf8).incomplete).toBe(true);
  });

  it("computes the transcendental functions", () => {
    const unary = (x: number, opcode: number) =>
      st(run([...FLD_M64(A), 0xd9, opcode], [[A, doubleBytes(x)]]).cpu, 0);
    expect(unary(Math.PI / 6, 0xfe)).toBeCloseTo(0.5, 15);
    expect(unary(0, 0xff)).toBe(1);
    expect(unary(0.5, 0xf0)).toBeCloseTo(Math.SQRT2 - 1, 15);
    // fld [B]=1 (y); fld [A]=8 (x); fyl2x -> 3
    expect(
      st(
        run(
          [...FLD_M64(B), ...FLD_M64(A), 0xd9, 0xf1],
          [
            [A, doubleBytes(8)],
            [B, doubleBytes(1)],
          ],
        ).cpu,
        0,
      ),
    ).toBe(3);
    // fpatan(1, 1) = pi/4
    expect(st(run([...FLD1, ...FLD1, 0xd9, 0xf3]).cpu, 0)).toBeCloseTo(Math.PI / 4, 15);
    const tan = run([...FLD_M64(A), 0xd9, 0xf2], [[A, doubleBytes(Math.PI / 4)]]).cpu;
    expect([st(tan, 0), st(tan, 1)].map((v) => Number(v.toFixed(12)))).toEqual([1, 1]);
    const sincos = run([...FLD_M64(A), 0xd9, 0xfb], [[A, doubleBytes(1)]]).cpu;
    expect([st(sincos, 0), st(sincos, 1)]).toEqual([Math.cos(1), Math.sin(1)]);
  });

  it("leaves operands of 2^63 and more alone with C2 set", () => {
    const { cpu } = run([...FLD_M64(A), 0xd9, 0xfe], [[A, doubleBytes(2 ** 70)]]);
    expect(st(cpu, 0)).toBe(2 ** 70);
    expect(cpu.fpu.statusWord & SW_C2).toBe(SW_C2);
  });
});

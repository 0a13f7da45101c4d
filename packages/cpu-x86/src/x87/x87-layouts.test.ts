// The memory images of FSTENV/FLDENV, FSAVE/FRSTOR (16/32-bit, real and protected layouts) and
// FXSAVE/FXRSTOR, checked byte by byte.
import { describe, expect, it } from "vitest";
import { NO_REG } from "../decoder.js";
import { SIZE16 } from "../flags.js";
import { CR0_PE, DS } from "../registers.js";
import { executeGroup15 } from "./execute-x87.js";
import { DATA, doubleBytes, extendedBytes, FNINIT, mem, readBytes, runX87, st } from "./x87.test-support.js";

const A = DATA;
const IMAGE = 0x5000;
const START = 0x1000 + FNINIT.length;

/** fld qword [A] (FOP 0x506, data pointer A); fld1; then the instruction under test. */
function prepared(tail: number[], options: { protectedMode?: boolean; preset?: [number, number[]][] } = {}) {
  return runX87([0xdd, ...mem(0, A), 0xd9, 0xe8, ...tail], {
    setup: ({ cpu, memory }) => {
      memory.write(A, Uint8Array.from(doubleBytes(-2)));
      memory.write(IMAGE, new Uint8Array(600).fill(0xaa));
      for (const [address, bytes] of options.preset ?? []) memory.write(address, Uint8Array.from(bytes));
      // The layouts only look at CR0.PE; segment caches stay as real mode left them.
      if (options.protectedMode) cpu.cr0 |= CR0_PE;
    },
  });
}

const words = (...values: number[]) => values.flatMap((v) => [v & 0xff, (v >>> 8) & 0xff]);
const dwords = (...values: number[]) =>
  values.flatMap((v) => [v & 0xff, (v >>> 8) & 0xff, (v >>> 16) & 0xff, v >>> 24]);

// After fld qword [A]; fld1: CW 037F, SW with TOP=6, tags: ST0 (phys 6) valid, ST1 (phys 7) valid.
const SW = 6 << 11;
const TW = 0x0fff;
/** FLD1 at START+4 is the last non-control instruction; FOP of FLD1 is D9 E8 -> 0x1E8. */
const FIP = START + 4;
const FOP = 0x1e8;

describe("FNSTENV", () => {
  it("writes the 14-byte real-mode layout: 20-bit linear pointers split across words", () => {
    const { memory } = prepared([0xd9, ...mem(6, IMAGE)]);
    expect(Array.from(readBytes(memory, IMAGE, 16))).toEqual([
      ...words(0x037f, SW, TW, FIP, FOP, A, 0),
      0xaa,
      0xaa,
    ]);
  });

  it("writes the 28-byte real-mode layout with a 66 prefix", () => {
    const { memory } = prepared([0x66, 0xd9, ...mem(6, IMAGE)]);
    expect(Array.from(readBytes(memory, IMAGE, 28))).toEqual(
      dwords(0xffff037f, 0xffff0000 | SW, 0xffff0000 | TW, 0xffff0000 | FIP, FOP, 0xffff0000 | A, 0),
    );
  });

  it("writes the protected-mode layouts: offsets and selectors, FOP beside FCS in the 32-bit one", () => {
    const short = prepared([0xd9, ...mem(6, IMAGE)], { protectedMode: true }).memory;
    expect(Array.from(readBytes(short, IMAGE, 14))).toEqual(words(0x037f, SW, TW, FIP, 0, A, 0));
    const long = prepared([0x66, 0xd9, ...mem(6, IMAGE)], { protectedMode: true }).memory;
    expect(Array.from(readBytes(long, IMAGE, 28))).toEqual(
      dwords(0xffff037f, 0xffff0000 | SW, 0xffff0000 | TW, FIP, FOP << 16, A, 0xffff0000),
    );
  });

  it("masks all exceptions afterwards, and FLDENV loads the image back", () => {
    const { cpu } = prepared([0xd9, ...mem(6, IMAGE), 0xdb, 0xe3, 0xd9, ...mem(4, IMAGE)]);
    expect(cpu.fpu.controlWord).toBe(0x037f);
    expect(cpu.fpu.top).toBe(6);
    expect(cpu.fpu.tagWord).toBe(TW);
    expect(cpu.fpu.instructionOffset).toBe(FIP);
    expect(cpu.fpu.opcode).toBe(FOP);
    expect(cpu.fpu.dataOffset).toBe(A);
    expect([st(cpu, 0), st(cpu, 1)]).toEqual([1, -2]);
  });
});

describe("FNSAVE and FRSTOR", () => {
  const ONE = extendedBytes(0x3fff, 0x80000000, 0);
  const MINUS_TWO = extendedBytes(0xc000, 0x80000000, 0);

  it("saves the environment and the registers in stack order, then initializes", () => {
    const { cpu, memory } = prepared([0xdd, ...mem(6, IMAGE)]);
    const image = Array.from(readBytes(memory, IMAGE, 94));
    expect(image.slice(0, 14)).toEqual(words(0x037f, SW, TW, FIP, FOP, A, 0));
    expect(image.slice(14, 24)).toEqual(ONE);
    expect(image.slice(24, 34)).toEqual(MINUS_TWO);
    // ST(2)..ST(7) are the power-on +0 contents left by FNINIT (it empties but does not clear).
    expect(image.slice(34, 94)).toEqual(Array(60).fill(0));
    expect(cpu.fpu.controlWord).toBe(0x037f);
    expect(cpu.fpu.tagWord).toBe(0xffff);
    expect(cpu.fpu.top).toBe(0);
  });

  it("uses the 28-byte environment with a 66 prefix (108 bytes in all)", () => {
    const { memory } = prepared([0x66, 0xdd, ...mem(6, IMAGE)]);
    const image = Array.from(readBytes(memory, IMAGE, 110));
    expect(image.slice(28, 38)).toEqual(ONE);
    expect(image.slice(38, 48)).toEqual(MINUS_TWO);
    expect(image.slice(108, 110)).toEqual([0xaa, 0xaa]);
  });

  it("FRSTOR brings back everything FNSAVE took", () => {
    const { cpu } = prepared([0x66, 0xdd, ...mem(6, IMAGE), 0x66, 0xdd, ...mem(4, IMAGE)]);
    expect([st(cpu, 0), st(cpu, 1)]).toEqual([1, -2]);
    expect(cpu.fpu.statusWord).toBe(SW);
    expect(cpu.fpu.tagWord).toBe(TW);
    expect(cpu.fpu.instructionOffset).toBe(FIP);
  });
});

describe("FXSAVE and FXRSTOR", () => {
  /** Runs FXSAVE (reg 0) or FXRSTOR (reg 1) on IMAGE directly (the decoder accepts them only when the model has FXSR). */
  function group15(cpu: ReturnType<typeof prepared>["cpu"], reg: number): void {
    const insn = cpu.insn;
    insn.opcode = 0x1ae;
    insn.mod = 0;
    insn.reg = reg;
    insn.rm = 6;
    insn.base = NO_REG;
    insn.index = NO_REG;
    insn.displacement = IMAGE;
    insn.addressSize = SIZE16;
    insn.segment = DS;
    executeGroup15(cpu, insn);
  }

  it("writes the 512-byte image: abridged tags, FOP, pointers, registers in 16-byte slots", () => {
    const machine = prepared([]);
    group15(machine.cpu, 0);
    const image = Array.from(readBytes(machine.memory, IMAGE, 512));
    expect(image.slice(0, 24)).toEqual([
      ...words(0x037f, SW),
      0xc0, // physical registers 6 and 7 in use
      0,
      ...words(FOP),
      ...dwords(FIP, 0, A, 0),
    ]);
    expect(image.slice(24, 32)).toEqual(Array(8).fill(0xaa)); // MXCSR: no SSE, untouched
    expect(image.slice(32, 48)).toEqual([...extendedBytes(0x3fff, 0x80000000, 0), 0, 0, 0, 0, 0, 0]);
    expect(image.slice(48, 64)).toEqual([...extendedBytes(0xc000, 0x80000000, 0), 0, 0, 0, 0, 0, 0]);
    expect(image.slice(160)).toEqual(Array(352).fill(0xaa)); // XMM area: untouched
    // Unlike FNSAVE, the FPU keeps its state.
    expect(machine.cpu.fpu.top).toBe(6);
  });

  it("FXRSTOR loads the image: abridged tags select the registers in use", () => {
    const machine = prepared([]);
    const { cpu, memory } = machine;
    group15(cpu, 0);
    memory.write(IMAGE + 4, Uint8Array.from([0x40])); // only physical 6 (ST0) in use
    memory.write(IMAGE + 32, Uint8Array.from(extendedBytes(0x4000, 0xc0000000, 0))); // ST0 = 3
    cpu.fpu.init();
    group15(cpu, 1);
    expect(cpu.fpu.top).toBe(6);
    expect(st(cpu, 0)).toBe(3);
    expect(cpu.fpu.isEmpty(1)).toBe(true);
    expect(cpu.fpu.tagWord).toBe(0xcfff);
    expect(cpu.fpu.dataOffset).toBe(A);
  });
});

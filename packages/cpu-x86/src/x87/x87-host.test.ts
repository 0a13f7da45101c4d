// Differential test against the host's x87: the same instruction on the same FPU image runs on the
// real FPU and in the interpreter; everything the instruction defines must match bit for bit
// (registers, status word, tags, memory written, EFLAGS, AX). The transcendental instructions,
// computed here with host doubles, are compared by distance in units of the last place instead.
import { beforeAll, describe, expect, it } from "vitest";
import { STOP_HLT } from "../cpu.js";
import { CODE_BASE, realModeCpu } from "../machine.test-support.js";
import { executeGroup15 } from "./execute-x87.js";
import {
  AX_OUT,
  BLOCK,
  buildHostRunner,
  FLAGS,
  hostCode,
  hostMemoryOperand,
  IMAGE_IN,
  IMAGE_OUT,
  OPERAND,
  runOnHost,
} from "./host-x87.test-support.js";
import type { X87State } from "./x87.js";

const DATA = 0x4000;

let runner: string | null = null;
let skipReason = "";
beforeAll(() => {
  const built = buildHostRunner();
  if ("path" in built) runner = built.path;
  else {
    skipReason = built.reason;
    console.log(`x87 host differential test skipped: ${built.reason}`);
  }
});

/** A deterministic generator (xorshift32). */
class Random {
  constructor(private state: number) {}
  next(): number {
    let x = this.state;
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    this.state = x;
    return x >>> 0;
  }
  below(n: number): number {
    return this.next() % n;
  }
  chance(p: number): boolean {
    return this.next() / 4294967296 < p;
  }
}

type Value = [signExponent: number, high: number, low: number];

/** Operand profiles: how to pick register values. */
const WIDE = 0; // anything, specials included
const MODERATE = 1; // finite normals near 1
const UNIT = 2; // |x| <= 1
const SMALL = 3; // |x| < 0.29 (FYL2XP1)
const POSITIVE = 4; // positive normals

function randomValue(random: Random, profile: number): Value {
  const sign = random.chance(0.5) ? 0x8000 : 0;
  const high = (random.next() | 0x80000000) >>> 0;
  const low = random.next();
  if (profile === WIDE && random.chance(0.25)) {
    switch (random.below(14)) {
      case 0:
        return [sign, 0, 0];
      case 1:
        return [sign | 0x7fff, 0x80000000, 0];
      case 2:
        return [0xffff, 0xc0000000, 0];
      case 3:
        return [sign | 0x7fff, (high | 0x40000000) >>> 0, low]; // QNaN
      case 4:
        return [sign | 0x7fff, (high & ~0x40000000) >>> 0 || 0x80000001, low | 1]; // SNaN
      case 5:
        return [sign, high & 0x7fffffff, low]; // denormal
      case 6:
        return [sign, high, low]; // pseudo-denormal
      case 7:
        return [sign | (1 + random.below(0x7ffe)), high & 0x7fffffff, low]; // unnormal
      case 8:
        return [sign | 0x7fff, high & 0x7fffffff, low]; // pseudo-NaN / pseudo-infinity
      case 9:
        return [sign | 0x7ffe, 0xffffffff, 0xffffffff];
      case 10:
        return [sign | 1, 0x80000000, 0];
      case 11:
        return [sign | 0x3fff, 0x80000000, 0];
      case 12:
        return [sign | (0x3fff + random.below(64)), high, 0]; // an integer-ish value
      default:
        return [
          sign | (random.below(2) ? 0x3c00 + random.below(0x800) : 0x0001 + random.below(0x7ffe)),
          high,
          low,
        ];
    }
  }
  switch (profile) {
    case UNIT:
      return [sign | (0x3fff - random.below(20)), high, low];
    case SMALL:
      return [sign | (0x3ffc - random.below(30)), high, low];
    case POSITIVE:
      return [0x3fff - 30 + random.below(60), high, low];
    case MODERATE:
      return [sign | (0x3fff - 20 + random.below(40)), high, random.chance(0.3) ? low & 0xfffff800 : low];
    default: {
      const exponent = random.chance(0.7) ? 0x3fff - 40 + random.below(80) : 1 + random.below(0x7ffe);
      const l = random.chance(0.3) ? low & 0xfffff800 : random.chance(0.2) ? 0 : low;
      return [sign | exponent, high, l];
    }
  }
}

/** Memory operand kinds. */
type OperandKind = "m16int" | "m32int" | "m64int" | "m32real" | "m64real" | "m80" | "bcd" | "cw" | "none";

function randomOperand(random: Random, kind: OperandKind): number[] {
  const bytes: number[] = [];
  const word = () => random.next();
  const push32 = (v: number) => bytes.push(v & 0xff, (v >>> 8) & 0xff, (v >>> 16) & 0xff, v >>> 24);
  switch (kind) {
    case "m16int": {
      const v = random.chance(0.2) ? [0, 1, 0xffff, 0x8000, 0x7fff][random.below(5)] : word() & 0xffff;
      bytes.push(v & 0xff, v >> 8);
      break;
    }
    case "m32int":
      push32(
        random.chance(0.2) ? [0, 1, -1, 0x80000000, 0x7fffffff][random.below(5)] : word() >> random.below(32),
      );
      break;
    case "m64int":
      push32(word());
      push32(random.chance(0.5) ? word() >> random.below(32) : word());
      break;
    case "m32real": {
      const sign = random.chance(0.5) ? 0x80000000 : 0;
      const exponent = random.chance(0.2) ? [0, 0xff][random.below(2)] : 127 - 20 + random.below(40);
      push32(sign | (exponent << 23) | (random.chance(0.1) ? 0 : word() & 0x7fffff));
      break;
    }
    case "m64real": {
      const sign = random.chance(0.5) ? 0x80000000 : 0;
      const exponent = random.chance(0.2) ? [0, 0x7ff][random.below(2)] : 1023 - 20 + random.below(40);
      push32(random.chance(0.1) ? 0 : word());
      push32(sign | (exponent << 20) | (random.chance(0.1) ? 0 : word() & 0xfffff));
      break;
    }
    case "m80": {
      const [se, high, low] = randomValue(random, WIDE);
      push32(low);
      push32(high);
      bytes.push(se & 0xff, se >> 8);
      break;
    }
    case "bcd": {
      for (let i = 0; i < 9; i++) bytes.push(random.below(10) | (random.below(10) << 4));
      bytes.push(random.chance(0.5) ? 0x80 : 0);
      break;
    }
    case "cw":
      bytes.push(word() & 0xff, (word() & 0xff) | 0);
      break;
    case "none":
      break;
  }
  while (bytes.length < 16) bytes.push(random.below(256));
  return bytes;
}

interface Form {
  name: string;
  escapeCode: number;
  reg: number;
  /** Register form with this rm, or a memory form when undefined. */
  rm?: number;
  operand: OperandKind;
  profile: number;
  /** Minimum number of stack entries in use (to exercise the operation rather than faults). */
  depth: number;
  approximate?: boolean;
}

const ARITH = ["fadd", "fmul", "fcom", "fcomp", "fsub", "fsubr", "fdiv", "fdivr"];

function forms(): Form[] {
  const list: Form[] = [];
  const memoryOps: [number, string, OperandKind][] = [
    [0xd8, "m32", "m32real"],
    [0xdc, "m64", "m64real"],
    [0xda, "m32i", "m32int"],
    [0xde, "m16i", "m16int"],
  ];
  for (const [escapeCode, suffix, operand] of memoryOps) {
    for (let reg = 0; reg < 8; reg++) {
      list.push({ name: `${ARITH[reg]} ${suffix}`, escapeCode, reg, operand, profile: WIDE, depth: 1 });
    }
  }
  for (const escapeCode of [0xd8, 0xdc, 0xde]) {
    for (let reg = 0; reg < 8; reg++) {
      for (const rm of [0, 1, 3]) {
        if (escapeCode === 0xde && reg === 3) continue; // DE D8+i is undefined but for FCOMPP (DE D9)
        list.push({
          name: `${escapeCode.toString(16)} ${ARITH[reg]} st${rm}`,
          escapeCode,
          reg,
          rm,
          operand: "none",
          profile: WIDE,
          depth: 2,
        });
      }
    }
  }
  const memory = (name: string, escapeCode: number, reg: number, operand: OperandKind, depth = 1) =>
    list.push({ name, escapeCode, reg, operand, profile: WIDE, depth });
  memory("fld m32", 0xd9, 0, "m32real", 0);
  memory("fst m32", 0xd9, 2, "none");
  memory("fstp m32", 0xd9, 3, "none");
  memory("fldcw", 0xd9, 5, "cw", 0);
  memory("fnstcw", 0xd9, 7, "none", 0);
  memory("fild m32", 0xdb, 0, "m32int", 0);
  memory("fist m32", 0xdb, 2, "none");
  memory("fistp m32", 0xdb, 3, "none");
  memory("fld m80", 0xdb, 5, "m80", 0);
  memory("fstp m80", 0xdb, 7, "none");
  memory("fld m64", 0xdd, 0, "m64real", 0);
  memory("fst m64", 0xdd, 2, "none");
  memory("fstp m64", 0xdd, 3, "none");
  memory("fnstsw m16", 0xdd, 7, "none", 0);
  memory("fild m16", 0xdf, 0, "m16int", 0);
  memory("fist m16", 0xdf, 2, "none");
  memory("fistp m16", 0xdf, 3, "none");
  memory("fbld", 0xdf, 4, "bcd", 0);
  memory("fild m64", 0xdf, 5, "m64int", 0);
  memory("fbstp", 0xdf, 6, "none");
  memory("fistp m64", 0xdf, 7, "none");
  const register = (
    name: string,
    escapeCode: number,
    reg: number,
    rms: number[],
    depth: number,
    profile = WIDE,
    approximate = false,
  ) => {
    for (const rm of rms)
      list.push({
        name: `${name}${rms.length > 1 ? ` ${rm}` : ""}`,
        escapeCode,
        reg,
        rm,
        operand: "none",
        profile,
        depth,
        approximate,
      });
  };
  const some = [0, 1, 2, 7];
  register("fld st", 0xd9, 0, some, 1);
  register("fxch", 0xd9, 1, some, 2);
  register("fnop", 0xd9, 2, [0], 0);
  register("fstp1", 0xd9, 3, some, 1);
  const d9e = ["fchs", "fabs", "", "", "ftst", "fxam"];
  d9e.forEach((name, rm) => {
    if (name) register(name, 0xd9, 4, [rm], 1);
  });
  ["fld1", "fldl2t", "fldl2e", "fldpi", "fldlg2", "fldln2", "fldz"].forEach((name, rm) => {
    register(name, 0xd9, 5, [rm], 0);
  });
  register("fxtract", 0xd9, 6, [4], 1);
  register("fprem1", 0xd9, 6, [5], 2);
  register("fdecstp", 0xd9, 6, [6], 0);
  register("fincstp", 0xd9, 6, [7], 0);
  register("fprem", 0xd9, 7, [0], 2);
  register("fsqrt", 0xd9, 7, [2], 1);
  register("frndint", 0xd9, 7, [4], 1);
  register("fscale", 0xd9, 7, [5], 2);
  register("f2xm1", 0xd9, 6, [0], 1, UNIT, true);
  register("fyl2x", 0xd9, 6, [1], 2, POSITIVE, true);
  register("fptan", 0xd9, 6, [2], 1, MODERATE, true);
  register("fpatan", 0xd9, 6, [3], 2, MODERATE, true);
  register("fyl2xp1", 0xd9, 7, [1], 2, SMALL, true);
  register("fsincos", 0xd9, 7, [3], 1, MODERATE, true);
  register("fsin", 0xd9, 7, [6], 1, MODERATE, true);
  register("fcos", 0xd9, 7, [7], 1, MODERATE, true);
  for (let reg = 0; reg < 4; reg++) {
    register(`fcmov da/${reg}`, 0xda, reg, [1, 2], 2);
    register(`fcmovn db/${reg}`, 0xdb, reg, [1, 2], 2);
  }
  register("fucompp", 0xda, 5, [1], 2);
  register("fnclex", 0xdb, 4, [2], 0);
  register("fucomi", 0xdb, 5, some, 2);
  register("fcomi", 0xdb, 6, some, 2);
  register("ffree", 0xdd, 0, some, 1);
  register("fxch4", 0xdd, 1, some, 2);
  register("fst st", 0xdd, 2, some, 1);
  register("fstp st", 0xdd, 3, some, 1);
  register("fucom", 0xdd, 4, some, 2);
  register("fucomp", 0xdd, 5, some, 2);
  register("ffreep", 0xdf, 0, some, 1);
  register("fxch7", 0xdf, 1, some, 2);
  register("fstp8", 0xdf, 2, some, 1);
  register("fstp9", 0xdf, 3, some, 1);
  register("fnstsw ax", 0xdf, 4, [0], 0);
  register("fucomip", 0xdf, 5, some, 2);
  register("fcomip", 0xdf, 6, some, 2);
  register("fcompp", 0xde, 3, [1], 2);
  return list;
}

interface Case {
  form: Form;
  block: Uint8Array;
  hostCode: number[];
  guestCode: number[];
}

function makeCase(random: Random, form: Form): Case {
  const block = new Uint8Array(BLOCK);
  const view = new DataView(block.buffer);
  const top = random.below(8);
  // How many registers are in use: usually enough for the instruction, sometimes fewer or all.
  const depth = random.chance(0.08)
    ? random.below(form.depth + 1)
    : random.chance(0.08)
      ? 8
      : form.depth + random.below(8 - form.depth);
  let controlWord = 0x037f;
  if (random.chance(0.3)) controlWord = (controlWord & ~0x3f) | (random.next() & 0x3f);
  controlWord = (controlWord & ~0xc00) | (random.below(4) << 10);
  controlWord = (controlWord & ~0x300) | ([0, 2, 3, 3][random.below(4)] << 8);
  const statusWord = (top << 11) | (random.next() & 0x4700);
  let tagWord = 0;
  for (let i = 0; i < 8; i++) {
    const physical = (top + i) & 7;
    const used = i < depth;
    tagWord |= (used ? 0 : 3) << (2 * physical);
    const profile = form.profile !== WIDE && random.chance(0.05) ? WIDE : form.profile;
    const [se, high, low] = randomValue(random, profile);
    view.setUint32(IMAGE_IN + 28 + 10 * i, low, true);
    view.setUint32(IMAGE_IN + 28 + 10 * i + 4, high, true);
    view.setUint16(IMAGE_IN + 28 + 10 * i + 8, se, true);
  }
  view.setUint32(IMAGE_IN, 0xffff0000 | controlWord, true);
  view.setUint32(IMAGE_IN + 4, 0xffff0000 | statusWord, true);
  view.setUint32(IMAGE_IN + 8, 0xffff0000 | tagWord, true);
  view.setUint32(FLAGS, 2 | (random.next() & 0x8d5), true);
  block.set(randomOperand(random, form.operand), OPERAND);
  const memoryForm = form.rm === undefined;
  const modrm = 0xc0 | (form.reg << 3) | (form.rm ?? 0);
  const host = [form.escapeCode, ...(memoryForm ? hostMemoryOperand(form.reg) : [modrm])];
  const address = DATA + OPERAND;
  const guest = [
    form.escapeCode,
    ...(memoryForm ? [(form.reg << 3) | 6, address & 0xff, address >> 8] : [modrm]),
  ];
  return { form, block, hostCode: hostCode(host), guestCode: guest };
}

interface Observed {
  controlWord: number;
  statusWord: number;
  tagWord: number;
  registers: Value[];
  operand: number[];
  flags: number;
  ax: number;
}

function observeHost(out: Uint8Array): Observed {
  const view = new DataView(out.buffer, out.byteOffset);
  const registers: Value[] = [];
  for (let i = 0; i < 8; i++) {
    const at = IMAGE_OUT + 28 + 10 * i;
    registers.push([view.getUint16(at + 8, true), view.getUint32(at + 4, true), view.getUint32(at, true)]);
  }
  return {
    controlWord: view.getUint16(IMAGE_OUT, true),
    statusWord: view.getUint16(IMAGE_OUT + 4, true),
    tagWord: view.getUint16(IMAGE_OUT + 8, true),
    registers,
    operand: Array.from(out.slice(OPERAND, OPERAND + 16)),
    flags: view.getUint32(FLAGS, true) & 0x8d5,
    ax: view.getUint16(AX_OUT, true),
  };
}

const machine = realModeCpu([]);

function runGuest(c: Case): Observed | string {
  const { cpu, memory } = machine;
  const view = new DataView(c.block.buffer);
  const statusWord = view.getUint16(IMAGE_IN + 4, true);
  const top = (statusWord >> 11) & 7;
  const tagWord = view.getUint16(IMAGE_IN + 8, true);
  const state: X87State = {
    controlWord: view.getUint16(IMAGE_IN, true),
    statusWord,
    emptyMask: 0,
    signExponent: [0, 0, 0, 0, 0, 0, 0, 0],
    significandHigh: [0, 0, 0, 0, 0, 0, 0, 0],
    significandLow: [0, 0, 0, 0, 0, 0, 0, 0],
    instructionOffset: 0,
    instructionSelector: 0,
    opcode: 0,
    dataOffset: 0,
    dataSelector: 0,
    ignne: false,
  };
  for (let p = 0; p < 8; p++) if (((tagWord >> (2 * p)) & 3) === 3) state.emptyMask |= 1 << p;
  for (let i = 0; i < 8; i++) {
    const p = (top + i) & 7;
    const at = IMAGE_IN + 28 + 10 * i;
    state.significandLow[p] = view.getUint32(at, true) | 0;
    state.significandHigh[p] = view.getUint32(at + 4, true) | 0;
    state.signExponent[p] = view.getUint16(at + 8, true);
  }
  cpu.fpu.setState(state);
  cpu.flags.load(view.getUint32(FLAGS, true));
  cpu.regs[0] = 0;
  cpu.cr0 = 0x10 | 0x20;
  cpu.halted = false;
  cpu.eip = CODE_BASE;
  memory.write(CODE_BASE, Uint8Array.from([...c.guestCode, 0xf4]));
  memory.write(DATA + OPERAND, c.block.slice(OPERAND, OPERAND + 16));
  const stop = cpu.run(10);
  if (stop !== STOP_HLT || cpu.eip !== CODE_BASE + c.guestCode.length + 1) {
    return `stopped with ${stop} at ${cpu.eip.toString(16)} ${cpu.internalError}`;
  }
  const fpu = cpu.fpu;
  const registers: Value[] = [];
  for (let i = 0; i < 8; i++) {
    const p = fpu.physical(i);
    registers.push([fpu.signExponent[p], fpu.significandHigh[p] >>> 0, fpu.significandLow[p] >>> 0]);
  }
  const operand = new Uint8Array(16);
  memory.read(DATA + OPERAND, operand);
  return {
    controlWord: fpu.controlWord,
    statusWord: fpu.statusWord,
    tagWord: fpu.tagWord,
    registers,
    operand: Array.from(operand),
    flags: cpu.flags.get() & 0x8d5,
    ax: cpu.regs16[0],
  };
}

/** Distance between two 80-bit values in units of the last place (same sign and nearby exponent). */
function ulpDistance(a: Value, b: Value): number {
  if (a[0] !== b[0] && Math.abs((a[0] & 0x7fff) - (b[0] & 0x7fff)) > 1) return Number.POSITIVE_INFINITY;
  if ((a[0] & 0x8000) !== (b[0] & 0x8000)) return Number.POSITIVE_INFINITY;
  const scale = (v: Value) => ((v[1] * 4294967296 + v[2]) / 2 ** 63) * 2 ** ((v[0] & 0x7fff) - 16383);
  const x = scale(a);
  const y = scale(b);
  if (x === y) return 0;
  const ulp = 2 ** ((Math.max(a[0], b[0]) & 0x7fff) - 16383 - 63);
  return Math.abs(x - y) / ulp;
}

function hex(v: Value): string {
  return `${v[0].toString(16).padStart(4, "0")}:${v[1].toString(16).padStart(8, "0")}${v[2].toString(16).padStart(8, "0")}`;
}

function describeDifference(c: Case, host: Observed, guest: Observed): string {
  const lines = [`${c.form.name}: cw ${host.controlWord.toString(16)}`];
  const view = new DataView(c.block.buffer);
  lines.push(
    `  in: cw ${view.getUint16(IMAGE_IN, true).toString(16)} sw ${view.getUint16(IMAGE_IN + 4, true).toString(16)} tw ${view.getUint16(IMAGE_IN + 8, true).toString(16)}`,
  );
  for (let i = 0; i < 3; i++) {
    const at = IMAGE_IN + 28 + 10 * i;
    lines.push(
      `  in st${i} ${hex([view.getUint16(at + 8, true), view.getUint32(at + 4, true), view.getUint32(at, true)])}`,
    );
  }
  lines.push(
    `  operand ${Array.from(c.block.slice(OPERAND, OPERAND + 10))
      .map((b) => b.toString(16).padStart(2, "0"))
      .join(" ")}`,
  );
  if (host.statusWord !== guest.statusWord)
    lines.push(`  sw host ${host.statusWord.toString(16)} guest ${guest.statusWord.toString(16)}`);
  if (host.controlWord !== guest.controlWord)
    lines.push(`  cw host ${host.controlWord.toString(16)} guest ${guest.controlWord.toString(16)}`);
  if (host.tagWord !== guest.tagWord)
    lines.push(`  tw host ${host.tagWord.toString(16)} guest ${guest.tagWord.toString(16)}`);
  for (let i = 0; i < 8; i++) {
    if (hex(host.registers[i]) !== hex(guest.registers[i]))
      lines.push(`  st${i} host ${hex(host.registers[i])} guest ${hex(guest.registers[i])}`);
  }
  if (host.operand.join() !== guest.operand.join())
    lines.push(
      `  mem host ${host.operand.slice(0, 10).join(",")} guest ${guest.operand.slice(0, 10).join(",")}`,
    );
  if (host.flags !== guest.flags)
    lines.push(`  eflags host ${host.flags.toString(16)} guest ${guest.flags.toString(16)}`);
  if (host.ax !== guest.ax) lines.push(`  ax host ${host.ax.toString(16)} guest ${guest.ax.toString(16)}`);
  return lines.join("\n");
}

/** Finite operands outside a function's documented domain give undefined results: not compared. */
function outsideDomain(c: Case): boolean {
  const view = new DataView(c.block.buffer);
  const top = view.getUint16(IMAGE_IN + 28 + 8, true);
  const exponent = (top & 0x7fff) - 16383;
  if ((top & 0x7fff) === 0 || (top & 0x7fff) === 0x7fff) return false;
  if (c.form.name === "f2xm1") return exponent >= 0;
  if (c.form.name === "fyl2xp1") return exponent >= -2;
  return false;
}

describe("x87 against the host FPU", () => {
  it("matches the host bit for bit on every exactly specified instruction form", (context) => {
    if (runner === null) {
      console.log(`skipped: ${skipReason}`);
      context.skip();
      return;
    }
    const random = new Random(0x87654321);
    const cases: Case[] = [];
    for (const form of forms()) {
      if (form.approximate) continue;
      for (let n = 0; n < 150; n++) cases.push(makeCase(random, form));
    }
    if (process.env.X87_PROBE) {
      for (const c of cases) {
        try {
          runOnHost(runner, [{ code: c.hostCode, block: c.block }]);
        } catch (e) {
          console.log("PROBE", c.form.name, String(e), c.hostCode.map((b) => b.toString(16)).join(" "));
        }
      }
    }
    const outputs = runOnHost(
      runner,
      cases.map((c) => ({ code: c.hostCode, block: c.block })),
    );
    const failures = new Map<string, string[]>();
    cases.forEach((c, index) => {
      const host = observeHost(outputs[index]);
      const guest = runGuest(c);
      const problem =
        typeof guest === "string"
          ? guest
          : JSON.stringify(host) !== JSON.stringify(guest)
            ? describeDifference(c, host, guest)
            : "";
      if (problem) {
        const list = failures.get(c.form.name) ?? [];
        list.push(problem);
        failures.set(c.form.name, list);
      }
    });
    const summary = [...failures].map(
      ([name, list]) => `${name}: ${list.length} mismatches\n${list.slice(0, 2).join("\n")}`,
    );
    console.log(`x87 host differential: ${cases.length} cases, ${failures.size} forms with mismatches`);
    if (summary.length > 0) console.log(summary.join("\n"));
    expect(summary.length).toBe(0);
  });

  it("stays within double-precision accuracy on the transcendental instructions", (context) => {
    if (runner === null) {
      console.log(`skipped: ${skipReason}`);
      context.skip();
      return;
    }
    const random = new Random(0x1234567);
    const cases: Case[] = [];
    for (const form of forms()) {
      if (!form.approximate) continue;
      for (let n = 0; n < 400; n++) cases.push(makeCase(random, form));
    }
    const outputs = runOnHost(
      runner,
      cases.map((c) => ({ code: c.hostCode, block: c.block })),
    );
    const stats = new Map<
      string,
      { total: number; exact: number; worst: number; within: number; failures: string[] }
    >();
    cases.forEach((c, index) => {
      const host = observeHost(outputs[index]);
      const guest = runGuest(c);
      const entry = stats.get(c.form.name) ?? { total: 0, exact: 0, worst: 0, within: 0, failures: [] };
      stats.set(c.form.name, entry);
      if (outsideDomain(c)) return;
      entry.total++;
      if (typeof guest === "string") {
        entry.failures.push(guest);
        return;
      }
      // Everything but the result registers' low bits and the inexact-related bits must match.
      const mask = ~(0x0020 | 0x0200);
      let worst = 0;
      for (let i = 0; i < 8; i++) worst = Math.max(worst, ulpDistance(host.registers[i], guest.registers[i]));
      const sameShape =
        (host.statusWord & mask) === (guest.statusWord & mask) &&
        host.tagWord === guest.tagWord &&
        host.controlWord === guest.controlWord;
      if (!sameShape) entry.failures.push(describeDifference(c, host, guest));
      if (worst === 0) entry.exact++;
      if (worst <= 2 ** 12) entry.within++;
      entry.worst = Math.max(entry.worst, worst);
    });
    const lines: string[] = [];
    let problems = "";
    for (const [name, s] of stats) {
      lines.push(
        `${name.padEnd(8)} exact ${((100 * s.exact) / s.total).toFixed(1)}%, within 2^12 ulp ${((100 * s.within) / s.total).toFixed(1)}%, worst ${s.worst === Number.POSITIVE_INFINITY ? "inf" : `2^${Math.log2(s.worst || 1).toFixed(1)}`} ulp`,
      );
      if (s.failures.length > 0)
        problems += `${name}: ${s.failures.length}\n${s.failures.slice(0, 2).join("\n")}\n`;
      // Double-precision evaluation: within 2^12 80-bit ulps (about one double ulp) except near the
      // functions' poles and zeros, where the x87's own argument reduction differs.
      if (s.within < 0.85 * s.total) problems += `${name}: only ${s.within} of ${s.total} within 2^12 ulp\n`;
    }
    console.log(`x87 transcendental accuracy vs host (80-bit ulps):\n${lines.join("\n")}`);
    expect(problems).toBe("");
  });

  it("writes FNSTENV (32-bit protected layout) and FXSAVE images as the host does", (context) => {
    if (runner === null) {
      console.log(`skipped: ${skipReason}`);
      context.skip();
      return;
    }
    const random = new Random(0x5eed);
    const form: Form = {
      name: "images",
      escapeCode: 0xd9,
      reg: 0,
      rm: 0,
      operand: "none",
      profile: WIDE,
      depth: 3,
    };
    for (let n = 0; n < 50; n++) {
      const c = makeCase(random, form);
      // The pointers restored by FRSTOR are what FNSTENV/FXSAVE store back: keep them zero on both.
      const fnstenv = [0xdd, 0x27, 0xd9, 0xb7, 0x00, 0x01, 0, 0, 0xdb, 0xe3, 0xc3];
      const fxsave = [0xdd, 0x27, 0x0f, 0xae, 0x87, 0x00, 0x01, 0, 0, 0xdb, 0xe3, 0xc3];
      const [envOut, fxOut] = runOnHost(runner, [
        { code: fnstenv, block: c.block },
        { code: fxsave, block: c.block },
      ]);
      const { cpu, memory } = machine;
      const image = DATA + 0x200;
      memory.write(image, c.block.slice(IMAGE_IN, IMAGE_IN + 108));
      const frstor = [0x66, 0xdd, 0x26, image & 0xff, image >> 8];
      const out = DATA + OPERAND;
      // frstor; fnstenv [out]; frstor (FNSTENV masked the exceptions); hlt
      memory.write(
        CODE_BASE,
        Uint8Array.from([...frstor, 0x66, 0xd9, 0x36, out & 0xff, out >> 8, ...frstor, 0xf4]),
      );
      cpu.cr0 = 0x10 | 0x20 | 1;
      cpu.fpu.init(); // nothing pending from earlier tests: FRSTOR is a waiting instruction
      cpu.eip = CODE_BASE;
      cpu.halted = false;
      expect(cpu.run(10)).toBe(STOP_HLT);
      const env = new Uint8Array(28);
      memory.read(DATA + OPERAND, env);
      expect(Array.from(env)).toEqual(Array.from(envOut.slice(OPERAND, OPERAND + 28)));
      // FXSAVE after the same FRSTOR.
      const fx = new Uint8Array(512).fill(0xaa);
      memory.write(DATA + 0x400, fx);
      cpu.insn.opcode = 0x1ae;
      cpu.insn.mod = 0;
      cpu.insn.reg = 0;
      cpu.insn.rm = 6;
      cpu.insn.base = -1;
      cpu.insn.index = -1;
      cpu.insn.displacement = DATA + 0x400;
      cpu.insn.addressSize = 1;
      cpu.insn.segment = 3;
      executeGroup15(cpu, cpu.insn);
      memory.read(DATA + 0x400, fx);
      const host = fxOut.slice(OPERAND, OPERAND + 512);
      expect(Array.from(fx.slice(0, 24))).toEqual(Array.from(host.slice(0, 24)));
      expect(Array.from(fx.slice(32, 160))).toEqual(Array.from(host.slice(32, 160)));
    }
  });
});

// Random 32-bit user-mode integer instructions with random register/flags/memory states, and for each
// the results the SDM defines (flags it leaves undefined for those operands are not checked).
import { CODE_ENTRY, DATA_BASE, DATA_SIZE, type FuzzCase, initialMemory, MAX_POKES } from "./protocol.js";

export const CF = 0x1;
export const PF = 0x4;
export const AF = 0x10;
export const ZF = 0x40;
export const SF = 0x80;
export const TF = 0x100;
export const IF = 0x200;
export const DF = 0x400;
export const OF = 0x800;
const NT = 0x4000;
const AC = 0x40000;
const ID = 0x200000;
const ARITH = CF | PF | AF | ZF | SF | OF;
/** Compared by default: the arithmetic flags and DF (IF is always 1 in user mode, TF/AC stay 0). */
export const CHECKED_FLAGS = ARITH | DF;

const EAX = 0;
const ECX = 1;
const EDX = 2;
const EBX = 3;
const ESP = 4;
const EBP = 5;
const ESI = 6;
const EDI = 7;

const S8 = 8;
const S16 = 16;
const S32 = 32;
type Size = 8 | 16 | 32;
const MASK = { 8: 0xff, 16: 0xffff, 32: 0xffffffff } as const;

/** xorshift128: the fuzzer's deterministic source of randomness. */
export class Random {
  private a: number;
  private b: number;
  private c: number;
  private d: number;

  constructor(seed: number, stream = 0) {
    this.a = (seed ^ 0x9e3779b9) >>> 0 || 1;
    this.b = (stream * 0x85ebca6b + 0x243f6a88) >>> 0;
    this.c = 0xb7e15162;
    this.d = (seed * 0xc2b2ae35 + stream) >>> 0;
    for (let i = 0; i < 12; i++) this.next();
  }

  next(): number {
    let t = this.d;
    const s = this.a;
    this.d = this.c;
    this.c = this.b;
    this.b = s;
    t ^= t << 11;
    t ^= t >>> 8;
    this.a = (t ^ s ^ (s >>> 19)) >>> 0;
    return this.a;
  }

  int(n: number): number {
    return this.next() % n;
  }

  chance(p: number): boolean {
    return this.next() / 0x1_0000_0000 < p;
  }

  pick<T>(items: readonly T[]): T {
    return items[this.int(items.length)];
  }

  /** A 32-bit value biased to edge cases: small numbers, signs, all-ones. */
  value(): number {
    switch (this.int(8)) {
      case 0:
        return this.int(256);
      case 1:
        return this.pick([0, 1, -1, 0x7fffffff, 0x80000000, 0x7fff, 0x8000, 0x7f, 0x80, 0xff, 0xffff]) | 0;
      case 2:
        return -this.int(256) | 0;
      default:
        return this.next() | 0;
    }
  }
}

/** A ModRM operand as generated: a register, or memory at a known effective address. */
interface Operand {
  memory: boolean;
  /** Register number (for register operands). */
  reg: number;
  /** Effective address (for memory operands). */
  address: number;
}

/** Builds one case: instruction bytes, the state it runs from, and what is checked afterwards. */
class Builder {
  readonly bytes: number[] = [];
  readonly regs: number[] = [];
  eflags: number;
  /** The data region's initial bytes, filled on first use (most cases never read them). */
  private filled: Uint8Array | undefined;
  readonly pokes: [number, number][] = [];
  flagsChecked = CHECKED_FLAGS;
  regsUnchecked = 0;
  readonly memoryUnchecked: number[] = [];
  /** Registers whose value the instruction's own setup fixed; memory operands avoid them. */
  private locked = 0;
  name = "";

  constructor(
    readonly rng: Random,
    readonly memorySeed: number,
  ) {
    for (let r = 0; r < 8; r++) this.regs.push(rng.value());
    this.regs[ESP] = DATA_BASE + 0x1000 + rng.int(0x2000);
    if (rng.chance(0.7)) this.regs[ESP] &= ~3;
    this.eflags = (rng.next() & (ARITH | DF)) | IF | 2;
  }

  get memory(): Uint8Array {
    if (this.filled === undefined) {
      this.filled = new Uint8Array(DATA_SIZE);
      initialMemory(this.filled, { memorySeed: this.memorySeed, pokes: this.pokes });
    }
    return this.filled;
  }

  emit(...bytes: number[]): void {
    for (const b of bytes) this.bytes.push(b & 0xff);
  }

  emit16(v: number): void {
    this.emit(v, v >> 8);
  }

  emit32(v: number): void {
    this.emit(v, v >> 8, v >> 16, v >> 24);
  }

  /** Emits an immediate of `size` bits with value v. */
  immediate(size: Size, v: number): void {
    if (size === S8) this.emit(v);
    else if (size === S16) this.emit16(v);
    else this.emit32(v);
  }

  /** Random 16 or 32 bit operand size, emitting the 66 prefix for 16. */
  operandSize(): 16 | 32 {
    if (this.rng.chance(0.35)) {
      this.emit(0x66);
      return S16;
    }
    return S32;
  }

  setReg(r: number, value: number): void {
    this.regs[r] = value | 0;
    this.locked |= 1 << r;
  }

  /** Sets a register unless a memory operand's address already depends on it. */
  trySetReg(r: number, value: number): void {
    if ((this.locked & (1 << r)) === 0) this.setReg(r, value);
  }

  getReg(size: Size, r: number): number {
    if (size === S32) return this.regs[r] >>> 0;
    if (size === S16) return this.regs[r] & 0xffff;
    return r < 4 ? this.regs[r] & 0xff : (this.regs[r - 4] >> 8) & 0xff;
  }

  readMemory(address: number, size: Size): number {
    const offset = address - DATA_BASE;
    const memory = this.memory;
    let v = 0;
    for (let i = size / 8 - 1; i >= 0; i--) {
      const o = offset + i;
      v = v * 256 + (o >= 0 && o < DATA_SIZE ? memory[o] : 0);
    }
    return v;
  }

  /** Writes a 32-bit value into the initial memory (sent to both sides as a poke). */
  poke(address: number, value: number): void {
    const offset = address - DATA_BASE;
    if (offset < 0 || offset > DATA_SIZE - 4 || this.pokes.length >= MAX_POKES) return;
    const memory = this.memory;
    this.pokes.push([offset, value >>> 0]);
    for (let i = 0; i < 4; i++) memory[offset + i] = (value >>> (8 * i)) & 0xff;
  }

  operandValue(op: Operand, size: Size): number {
    return op.memory ? this.readMemory(op.address, size) : this.getReg(size, op.reg);
  }

  /** An address in the data region with room for `span` bytes; now and then one that runs off it. */
  dataAddress(span: number): number {
    if (this.rng.chance(0.01))
      return DATA_BASE + (this.rng.chance(0.5) ? -this.rng.int(4) : DATA_SIZE - span + 1);
    const address = DATA_BASE + this.rng.int(DATA_SIZE - span + 1);
    return this.rng.chance(0.6) ? Math.max(DATA_BASE, address & ~(Math.min(span, 4) - 1)) : address;
  }

  private freeRegister(exclude: number): number {
    for (let tries = 0; tries < 32; tries++) {
      const r = this.rng.int(8);
      if (r !== ESP && ((this.locked | exclude) & (1 << r)) === 0) return r;
    }
    return -1;
  }

  /**
   * Optional segment override: ES, SS or DS, which have base 0 in a flat user process. (CS is not
   * writable, which the interpreter does not check before protected mode arrives; FS/GS have bases.)
   */
  maybeSegmentOverride(): void {
    if (this.rng.chance(0.1)) this.emit(this.rng.pick([0x26, 0x36, 0x3e]));
  }

  /**
   * Emits ModRM (+SIB, displacement) with `regField`; a register operand with probability 1-pMemory,
   * else memory at an address with room for `span` bytes, set up through free base/index registers.
   */
  modrm(regField: number, span: number, pMemory = 0.5): Operand {
    if (!this.rng.chance(pMemory)) {
      const rm = this.rng.int(8);
      this.emit(0xc0 | (regField << 3) | rm);
      return { memory: false, reg: rm, address: 0 };
    }
    const target = this.dataAddress(span);
    const form = this.rng.int(5);
    const base = this.freeRegister(1 << EBP);
    if (form === 0 || base < 0) {
      this.emit((regField << 3) | 5);
      this.emit32(target);
      return { memory: true, reg: 0, address: target };
    }
    if (form <= 2) {
      // [base], [base+disp8], [base+disp32]
      const mod = form === 1 ? this.rng.int(2) : 2;
      const displacement = mod === 0 ? 0 : mod === 1 ? (this.rng.int(256) << 24) >> 24 : this.rng.value();
      this.emit((mod << 6) | (regField << 3) | base);
      if (mod === 1) this.emit(displacement);
      else if (mod === 2) this.emit32(displacement);
      this.setReg(base, target - displacement);
      return { memory: true, reg: 0, address: target };
    }
    // SIB: [base + index*scale + disp], index or base possibly absent.
    const scale = this.rng.int(4);
    let index = this.freeRegister((1 << base) | (1 << ESP));
    if (index < 0 || this.rng.chance(0.15)) index = 4; // no index
    const noBase = this.rng.chance(0.2);
    const mod = noBase ? 0 : this.rng.int(3);
    const displacement =
      noBase || mod === 2 ? this.rng.value() : mod === 1 ? (this.rng.int(256) << 24) >> 24 : 0;
    this.emit((mod << 6) | (regField << 3) | 4);
    this.emit((scale << 6) | (index << 3) | (noBase ? 5 : base));
    if (mod === 1) this.emit(displacement);
    else if (noBase || mod === 2) this.emit32(displacement);
    if (index === 4) {
      if (noBase) {
        // [disp32] through SIB: the displacement is the address.
        this.bytes.splice(this.bytes.length - 4, 4);
        this.emit32(target);
      } else this.setReg(base, target - displacement);
      return { memory: true, reg: 0, address: target };
    }
    const indexValue = this.rng.value();
    if (noBase) {
      this.setReg(index, indexValue);
      this.bytes.splice(this.bytes.length - 4, 4);
      this.emit32(target - indexValue * 2 ** scale);
      return { memory: true, reg: 0, address: target };
    }
    this.setReg(index, indexValue);
    this.setReg(base, target - displacement - indexValue * 2 ** scale);
    return { memory: true, reg: 0, address: target };
  }

  /**
   * A relative branch displacement (bits: 8 or 32) whose target is in the code page but not inside
   * the instruction itself, whose `length` bytes would then run as code. Emits it.
   */
  branchDisplacement(bits: 8 | 32, length: number): void {
    let displacement = bits === 8 ? (this.rng.int(256) << 24) >> 24 : this.rng.int(0xe00) - 0x700;
    if (displacement < 0 && displacement >= -length) displacement = -length - 1 - this.rng.int(64);
    if (bits === 8) this.emit(displacement);
    else this.emit32(displacement);
  }

  /** An absolute branch target in the code page, clear of the instruction at CODE_ENTRY. */
  codeTarget(): number {
    const offset = this.rng.chance(0.5) ? -0x10 - this.rng.int(0x6f0) : 0x20 + this.rng.int(0x6e0);
    return CODE_ENTRY + offset;
  }

  /** Marks the flags the SDM leaves undefined here. */
  undefinedFlags(mask: number): void {
    this.flagsChecked &= ~mask;
  }

  build(): FuzzCase {
    return {
      name: this.name,
      code: this.bytes,
      regs: this.regs.map((v) => v | 0),
      eflags: this.eflags,
      memorySeed: this.memorySeed,
      pokes: this.pokes,
      flagsChecked: this.flagsChecked,
      regsUnchecked: this.regsUnchecked,
      memoryUnchecked: this.memoryUnchecked,
    };
  }
}

const ALU_NAMES = ["add", "or", "adc", "sbb", "and", "sub", "xor", "cmp"];
const SHIFT_NAMES = ["rol", "ror", "rcl", "rcr", "shl", "shr", "sal", "sar"];
const CONDITIONS = ["o", "no", "b", "ae", "e", "ne", "be", "a", "s", "ns", "p", "np", "l", "ge", "le", "g"];

function sizeName(size: Size): string {
  return String(size);
}

/** Byte or full-size form of a w-bit opcode pair (even: 8-bit). */
function byteOrFull(b: Builder): Size {
  return b.rng.chance(0.3) ? S8 : b.operandSize();
}

/** LOCK on a read-modify-write memory form is legal; elsewhere it must raise #UD on both sides. */
function maybeLock(b: Builder, p = 0.08): boolean {
  if (!b.rng.chance(p)) return false;
  b.bytes.unshift(0xf0);
  return true;
}

function alu(b: Builder): void {
  const op = b.rng.int(8);
  const form = b.rng.int(9);
  b.maybeSegmentOverride();
  let size: Size;
  if (form < 4) {
    size = (form & 1) === 0 ? S8 : b.operandSize();
    b.emit(op * 8 + form);
    b.modrm(b.rng.int(8), size / 8);
    b.name = `${ALU_NAMES[op]} ${form < 2 ? "r/m, r" : "r, r/m"}${sizeName(size)}`;
  } else if (form === 4) {
    size = S8;
    b.emit(op * 8 + 4, b.rng.next());
    b.name = `${ALU_NAMES[op]} al, imm8`;
  } else if (form === 5) {
    size = b.operandSize();
    b.emit(op * 8 + 5);
    b.immediate(size, b.rng.value());
    b.name = `${ALU_NAMES[op]} eax, imm${size}`;
  } else {
    const opcode = b.rng.pick([0x80, 0x81, 0x82, 0x83]);
    size = opcode === 0x80 || opcode === 0x82 ? S8 : b.operandSize();
    b.emit(opcode);
    b.modrm(op, size / 8);
    if (opcode === 0x81) b.immediate(size, b.rng.value());
    else b.emit(b.rng.next());
    b.name = `${ALU_NAMES[op]} r/m${size}, imm (${opcode.toString(16)})`;
  }
  maybeLock(b);
  if (op === 1 || op === 4 || op === 6) b.undefinedFlags(AF);
}

function incDecNegNot(b: Builder): void {
  const kind = b.rng.int(4);
  if (kind === 0) {
    const size = b.operandSize();
    const opcode = 0x40 + b.rng.int(16);
    b.emit(opcode);
    b.name = `${opcode < 0x48 ? "inc" : "dec"} r${size}`;
    return;
  }
  b.maybeSegmentOverride();
  const size = byteOrFull(b);
  if (kind === 1) {
    const reg = b.rng.int(2);
    b.emit(size === S8 ? 0xfe : 0xff);
    b.modrm(reg, size / 8);
    b.name = `${reg === 0 ? "inc" : "dec"} r/m${size}`;
  } else {
    const reg = kind === 2 ? 2 : 3;
    b.emit(size === S8 ? 0xf6 : 0xf7);
    b.modrm(reg, size / 8);
    b.name = `${reg === 2 ? "not" : "neg"} r/m${size}`;
  }
  maybeLock(b);
}

function test(b: Builder): void {
  const size = byteOrFull(b);
  const form = b.rng.int(3);
  if (form === 0) {
    b.emit(size === S8 ? 0x84 : 0x85);
    b.modrm(b.rng.int(8), size / 8);
  } else if (form === 1) {
    b.emit(size === S8 ? 0xa8 : 0xa9);
    b.immediate(size, b.rng.value());
  } else {
    b.emit(size === S8 ? 0xf6 : 0xf7);
    b.modrm(b.rng.int(2), size / 8); // /1 is an alias of /0
    b.immediate(size, b.rng.value());
  }
  b.name = `test form ${form} ${size}`;
  b.undefinedFlags(AF);
}

function shiftOrRotate(b: Builder): void {
  b.maybeSegmentOverride();
  const size = byteOrFull(b);
  const op = b.rng.int(8);
  const form = b.rng.int(3); // imm8, 1, CL
  let count: number;
  if (form === 0) {
    b.emit(size === S8 ? 0xc0 : 0xc1);
    count = b.rng.chance(0.5) ? b.rng.int(40) : b.rng.int(256);
  } else if (form === 1) {
    b.emit(size === S8 ? 0xd0 : 0xd1);
    count = 1;
  } else {
    b.emit(size === S8 ? 0xd2 : 0xd3);
    count = b.rng.chance(0.5) ? b.rng.int(40) : b.rng.int(256);
  }
  if (form === 2) b.setReg(ECX, (b.regs[ECX] & ~0xff) | count);
  const operand = b.modrm(op, size / 8);
  if (form === 0) b.emit(count);
  if (form === 2 && !operand.memory && operand.reg === ECX && size === S8) {
    // shifting CL itself by CL: the count is CL's initial value, as set above
  }
  b.name = `${SHIFT_NAMES[op]} r/m${size}, ${["imm8", "1", "cl"][form]}`;
  const masked = count & 31;
  if (masked === 0) return; // nothing changes, every flag is defined (unchanged)
  if (op < 4) {
    if (masked !== 1) b.undefinedFlags(OF);
    return;
  }
  b.undefinedFlags(AF);
  if (masked !== 1) b.undefinedFlags(OF);
  if (op !== 7 && masked >= size) b.undefinedFlags(CF);
}

function doubleShift(b: Builder): void {
  b.maybeSegmentOverride();
  const size = b.operandSize();
  const left = b.rng.chance(0.5);
  const byCl = b.rng.chance(0.5);
  const count = b.rng.chance(0.6) ? b.rng.int(34) : b.rng.int(256);
  if (byCl) b.setReg(ECX, (b.regs[ECX] & ~0xff) | count);
  b.emit(0x0f, (left ? 0xa4 : 0xac) + (byCl ? 1 : 0));
  const operand = b.modrm(b.rng.int(8), size / 8);
  if (!byCl) b.emit(count);
  b.name = `${left ? "shld" : "shrd"} r/m${size}, r, ${byCl ? "cl" : "imm8"}`;
  const masked = count & 31;
  if (masked === 0) return;
  b.undefinedFlags(AF);
  if (masked !== 1) b.undefinedFlags(OF);
  if (masked > size) {
    // Count beyond the operand size: the result and all the arithmetic flags are undefined.
    b.undefinedFlags(ARITH);
    if (operand.memory)
      for (let i = 0; i < size / 8; i++) b.memoryUnchecked.push(operand.address - DATA_BASE + i);
    else b.regsUnchecked |= 1 << operand.reg;
  }
}

function multiplyDivide(b: Builder): void {
  b.maybeSegmentOverride();
  const size = byteOrFull(b);
  const reg = 4 + b.rng.int(4);
  b.emit(size === S8 ? 0xf6 : 0xf7);
  const operand = b.modrm(reg, size / 8);
  b.name = `${["mul", "imul", "div", "idiv"][reg - 4]} r/m${size}`;
  if (reg < 6) {
    b.undefinedFlags(SF | ZF | AF | PF);
    return;
  }
  b.undefinedFlags(ARITH);
  // Keep most divisions in range: a dividend high part below the divisor.
  if (b.rng.chance(0.7)) {
    const divisor = b.operandValue(operand, size);
    const rng = b.rng;
    if (size === S8) {
      if (operand.memory || operand.reg % 4 !== EAX) {
        const high = divisor === 0 ? 0 : rng.int(Math.max(1, divisor >> (reg === 7 ? 1 : 0)));
        b.trySetReg(EAX, (b.regs[EAX] & ~0xffff) | (high << 8) | rng.int(256));
      }
    } else {
      const modulus = size === S16 ? divisor & 0xffff : divisor >>> 0;
      if (operand.memory || (operand.reg !== EDX && operand.reg !== EAX)) {
        let high = modulus === 0 ? 0 : rng.int(Math.max(1, Math.floor(modulus / (reg === 7 ? 2 : 1))));
        if (reg === 7 && rng.chance(0.5)) high = -high - 1; // negative dividends
        if (size === S16) b.trySetReg(EDX, (b.regs[EDX] & ~0xffff) | (high & 0xffff));
        else b.trySetReg(EDX, high);
      }
    }
  }
}

function imulForms(b: Builder): void {
  b.maybeSegmentOverride();
  const size = b.operandSize();
  const form = b.rng.int(3);
  if (form === 0) {
    b.emit(0x0f, 0xaf);
    b.modrm(b.rng.int(8), size / 8);
  } else if (form === 1) {
    b.emit(0x69);
    b.modrm(b.rng.int(8), size / 8);
    b.immediate(size, b.rng.value());
  } else {
    b.emit(0x6b);
    b.modrm(b.rng.int(8), size / 8);
    b.emit(b.rng.next());
  }
  b.name = `imul ${["r, r/m", "r, r/m, imm", "r, r/m, imm8"][form]}${size}`;
  b.undefinedFlags(SF | ZF | AF | PF);
}

function bcd(b: Builder): void {
  const op = b.rng.pick([0x27, 0x2f, 0x37, 0x3f, 0xd4, 0xd5]);
  b.emit(op);
  if (op === 0xd4 || op === 0xd5) b.emit(b.rng.chance(0.7) ? 10 : b.rng.int(256));
  b.name = { 39: "daa", 47: "das", 55: "aaa", 63: "aas", 212: "aam", 213: "aad" }[op]!;
  if (op === 0x27 || op === 0x2f) b.undefinedFlags(OF);
  else if (op === 0x37 || op === 0x3f) b.undefinedFlags(OF | SF | ZF | PF);
  else b.undefinedFlags(OF | AF | CF);
}

function bitTest(b: Builder): void {
  b.maybeSegmentOverride();
  const size = b.operandSize();
  const kind = b.rng.int(4);
  const immediate = b.rng.chance(0.4);
  if (immediate) {
    b.emit(0x0f, 0xba);
    b.modrm(4 + kind, size / 8);
    b.emit(b.rng.int(256));
  } else {
    // A register bit offset addresses a bit string around the operand: keep it within +-64 bytes.
    const regField = b.rng.int(8);
    const offset = b.rng.int(1024) - 512;
    b.emit(0x0f, [0xa3, 0xab, 0xb3, 0xbb][kind]);
    const before = b.bytes.length;
    b.setReg(regField, offset);
    const operand = b.modrm(regField, size / 8 + 1, 0.5);
    if (operand.memory) {
      // Move the operand away from the region's edges so the addressed bit string stays inside.
      const room = 80;
      const start = operand.address - DATA_BASE;
      if (start < room || start > DATA_SIZE - room) {
        b.bytes.length = before;
        b.emit(0x05 | (regField << 3));
        b.emit32(DATA_BASE + room + b.rng.int(DATA_SIZE - 2 * room));
      }
    }
  }
  b.name = `${["bt", "bts", "btr", "btc"][kind]} r/m${size}, ${immediate ? "imm8" : "r"}`;
  if (kind !== 0) maybeLock(b);
  b.undefinedFlags(OF | SF | AF | PF);
}

function bitScan(b: Builder): void {
  b.maybeSegmentOverride();
  const size = b.operandSize();
  const reverse = b.rng.chance(0.5);
  const destination = b.rng.int(8);
  b.emit(0x0f, reverse ? 0xbd : 0xbc);
  const operand = b.modrm(destination, size / 8);
  if (!operand.memory && b.rng.chance(0.2)) b.setReg(operand.reg, 0);
  b.name = `${reverse ? "bsr" : "bsf"} r${size}, r/m`;
  b.undefinedFlags(CF | OF | SF | AF | PF);
  // With a zero source the destination is undefined (Intel; AMD documents it unchanged).
  if (b.operandValue(operand, size) === 0) b.regsUnchecked |= 1 << destination;
}

function bswap(b: Builder): void {
  const size = b.rng.chance(0.15) ? S16 : S32;
  if (size === S16) b.emit(0x66);
  const r = b.rng.int(8);
  b.emit(0x0f, 0xc8 + r);
  b.name = `bswap r${size}`;
  if (size === S16) b.regsUnchecked |= 1 << r;
}

function exchangeAndCompare(b: Builder): void {
  b.maybeSegmentOverride();
  const kind = b.rng.int(4);
  if (kind === 3) {
    // CMPXCHG8B m64: EDX:EAX equal to memory about half the time.
    b.emit(0x0f, 0xc7);
    const operand = b.modrm(1, 8, 1);
    if (b.rng.chance(0.5)) {
      b.trySetReg(EAX, b.readMemory(operand.address, S32));
      b.trySetReg(EDX, b.readMemory(operand.address + 4, S32));
    }
    maybeLock(b, 0.3);
    b.name = "cmpxchg8b m64";
    return;
  }
  const size = byteOrFull(b);
  if (kind === 0) {
    b.emit(0x0f, size === S8 ? 0xc0 : 0xc1);
    b.modrm(b.rng.int(8), size / 8);
    b.name = `xadd r/m${size}, r`;
  } else if (kind === 1) {
    b.emit(0x0f, size === S8 ? 0xb0 : 0xb1);
    const operand = b.modrm(b.rng.int(8), size / 8);
    if (b.rng.chance(0.5)) {
      const value = b.operandValue(operand, size);
      if (!(operand.memory === false && operand.reg % 4 === EAX && size === S8))
        b.trySetReg(EAX, size === S32 ? value : (b.regs[EAX] & ~MASK[size]) | value);
    }
    b.name = `cmpxchg r/m${size}, r`;
  } else {
    b.emit(size === S8 ? 0x86 : 0x87);
    b.modrm(b.rng.int(8), size / 8);
    b.name = `xchg r/m${size}, r`;
  }
  maybeLock(b, 0.2);
}

function conditional(b: Builder): void {
  const cc = b.rng.int(16);
  const kind = b.rng.int(4);
  b.maybeSegmentOverride();
  if (kind === 0) {
    const size = b.operandSize();
    b.emit(0x0f, 0x40 + cc);
    b.modrm(b.rng.int(8), size / 8);
    b.name = `cmov${CONDITIONS[cc]} r${size}, r/m`;
  } else if (kind === 1) {
    b.emit(0x0f, 0x90 + cc);
    b.modrm(0, 1);
    b.name = `set${CONDITIONS[cc]} r/m8`;
  } else if (kind === 2) {
    b.emit(0x70 + cc);
    b.branchDisplacement(8, b.bytes.length + 1);
    b.name = `j${CONDITIONS[cc]} rel8`;
  } else {
    b.emit(0x0f, 0x80 + cc);
    b.branchDisplacement(32, b.bytes.length + 4);
    b.name = `j${CONDITIONS[cc]} rel32`;
  }
}

function moves(b: Builder): void {
  b.maybeSegmentOverride();
  const kind = b.rng.int(8);
  switch (kind) {
    case 0: {
      const op = 0x88 + b.rng.int(4);
      const size = (op & 1) === 0 ? S8 : b.operandSize();
      b.emit(op);
      b.modrm(b.rng.int(8), size / 8);
      b.name = `mov (${op.toString(16)}) ${size}`;
      return;
    }
    case 1: {
      const size = byteOrFull(b);
      b.emit(size === S8 ? 0xc6 : 0xc7);
      b.modrm(0, size / 8);
      b.immediate(size, b.rng.value());
      b.name = `mov r/m${size}, imm`;
      return;
    }
    case 2: {
      const r = b.rng.int(8);
      const byte = b.rng.chance(0.3);
      const size = byte ? S8 : b.operandSize();
      b.emit((byte ? 0xb0 : 0xb8) + r);
      b.immediate(size, b.rng.value());
      b.name = `mov r${size}, imm`;
      return;
    }
    case 3: {
      const op = 0xa0 + b.rng.int(4);
      const size = (op & 1) === 0 ? S8 : b.operandSize();
      b.emit(op);
      b.emit32(b.dataAddress(size / 8));
      b.name = `mov moffs (${op.toString(16)}) ${size}`;
      return;
    }
    case 4: {
      const op = b.rng.pick([0xb6, 0xb7, 0xbe, 0xbf]);
      const size = b.operandSize();
      b.emit(0x0f, op);
      b.modrm(b.rng.int(8), op & 1 ? 2 : 1);
      b.name = `${op < 0xb8 ? "movzx" : "movsx"} r${size}, r/m${op & 1 ? 16 : 8}`;
      return;
    }
    case 5: {
      // LEA, also with 16-bit addressing (67): it computes the address without touching memory.
      const size = b.operandSize();
      if (b.rng.chance(0.3)) {
        b.emit(0x67, 0x8d);
        const mod = b.rng.int(3);
        b.emit((mod << 6) | (b.rng.int(8) << 3) | b.rng.int(8));
        if (mod === 1) b.emit(b.rng.next());
        if (mod === 2 || (mod === 0 && (b.bytes[b.bytes.length - 1] & 7) === 6)) b.emit16(b.rng.next());
        b.name = `lea r${size}, m (16-bit address)`;
        return;
      }
      b.emit(0x8d);
      b.modrm(b.rng.int(8), 1, 1);
      b.name = `lea r${size}, m`;
      return;
    }
    case 6: {
      const op = b.rng.pick([
        0x98, 0x99, 0x9e, 0x9f, 0xf5, 0xf8, 0xf9, 0xfc, 0xfd, 0x90, 0xd6, 0x91, 0x95, 0x97,
      ]);
      if (op === 0x98 || op === 0x99 || op > 0x90) b.operandSize();
      b.emit(op);
      b.name = `one-byte ${op.toString(16)}`;
      return;
    }
    default: {
      // XLAT: EBX points at a table, AL indexes it.
      b.setReg(EBX, b.dataAddress(256));
      b.emit(0xd7);
      b.name = "xlat";
    }
  }
}

function strings(b: Builder): void {
  const op = b.rng.pick([0xa4, 0xa5, 0xa6, 0xa7, 0xaa, 0xab, 0xac, 0xad, 0xae, 0xaf]);
  const size: Size = (op & 1) === 0 ? S8 : b.rng.chance(0.4) ? S16 : S32;
  const prefix = b.rng.pick([0, 0xf3, 0xf2]);
  if (prefix !== 0) b.emit(prefix);
  if (b.rng.chance(0.2)) b.emit(b.rng.pick([0x26, 0x2e, 0x36, 0x3e]));
  if (size === S16) b.emit(0x66);
  b.emit(op);
  const count = prefix === 0 ? b.rng.value() : b.rng.chance(0.1) ? 0 : b.rng.int(40);
  b.setReg(ECX, count);
  const down = b.rng.chance(0.5);
  b.eflags = down ? b.eflags | DF : b.eflags & ~DF;
  const reach = (prefix === 0 ? 1 : count) * (size / 8) + 8;
  const place = () => DATA_BASE + reach + b.rng.int(DATA_SIZE - 2 * reach);
  b.setReg(ESI, place());
  b.setReg(EDI, place());
  if ((op === 0xa6 || op === 0xa7) && b.rng.chance(0.5)) {
    // CMPS over equal data for a while: point both at the same bytes, offset by nothing.
    b.setReg(EDI, b.regs[ESI]);
  }
  b.name = `${prefix === 0xf3 ? "rep " : prefix === 0xf2 ? "repne " : ""}${
    { 164: "movs", 166: "cmps", 170: "stos", 172: "lods", 174: "scas" }[op & ~1]
  }${size}`;
}

function stack(b: Builder): void {
  const kind = b.rng.int(10);
  const esp = b.regs[ESP];
  b.setReg(ESP, esp);
  switch (kind) {
    case 0: {
      const size = b.operandSize();
      const form = b.rng.int(3);
      if (form === 0) b.emit(0x50 + b.rng.int(8));
      else if (form === 1) {
        b.emit(0x68);
        b.immediate(size, b.rng.value());
      } else b.emit(0x6a, b.rng.next());
      b.name = `push ${["r", "imm", "imm8"][form]}${size}`;
      return;
    }
    case 1: {
      const size = b.operandSize();
      b.emit(0x58 + b.rng.int(8));
      b.name = `pop r${size}`;
      return;
    }
    case 2: {
      const size = b.operandSize();
      b.maybeSegmentOverride();
      b.emit(0xff);
      b.modrm(6, size / 8);
      b.name = `push r/m${size}`;
      return;
    }
    case 3: {
      const size = b.operandSize();
      b.maybeSegmentOverride();
      b.emit(0x8f);
      b.modrm(0, size / 8);
      b.name = `pop r/m${size}`;
      return;
    }
    case 4: {
      const size = b.operandSize();
      b.emit(b.rng.chance(0.5) ? 0x60 : 0x61);
      b.name = `pusha/popa ${size}`;
      return;
    }
    case 5: {
      const size = b.operandSize();
      const pop = b.rng.chance(0.6);
      b.emit(pop ? 0x9d : 0x9c);
      b.name = `${pop ? "popf" : "pushf"} ${size}`;
      if (pop) {
        // The popped image: no TF (it would single-step into the harness); IF/IOPL cannot change at CPL 3.
        b.poke(esp, b.rng.next() & ~(TF | AC) & 0x3fffff);
        b.flagsChecked = CHECKED_FLAGS | NT | (size === S32 ? ID : 0);
      }
      return;
    }
    case 6: {
      const size = b.operandSize();
      b.setReg(EBP, DATA_BASE + 0x1000 + b.rng.int(0x2000));
      b.emit(0xc8);
      b.emit16(b.rng.chance(0.5) ? b.rng.int(64) : b.rng.int(0x800));
      b.emit(b.rng.chance(0.6) ? b.rng.int(4) : b.rng.int(256));
      b.name = `enter ${size}`;
      return;
    }
    case 7: {
      const size = b.operandSize();
      b.setReg(EBP, DATA_BASE + 0x800 + b.rng.int(0x3000));
      b.emit(0xc9);
      b.name = `leave ${size}`;
      return;
    }
    case 8: {
      if (b.rng.chance(0.4)) {
        // MOV r/m, Sreg: a 16-bit store to memory; a register gets the selector (zero-extended at 32).
        const size = b.operandSize();
        b.emit(0x8c);
        b.modrm(b.rng.int(4), 2);
        b.name = `mov r/m${size}, sreg`;
        return;
      }
      if (b.rng.chance(0.3)) {
        // PUSH/POP [ESP+disp8]: POP computes the address with the incremented ESP.
        const size = b.operandSize();
        const pop = b.rng.chance(0.5);
        b.emit(pop ? 0x8f : 0xff, pop ? 0x44 : 0x74, 0x24, b.rng.int(64) - 32);
        b.name = `${pop ? "pop" : "push"} [esp+disp8] ${size}`;
        return;
      }
      // PUSH CS/SS/DS/ES: a 32-bit push writes the selector; the upper half is model-specific.
      const size = b.operandSize();
      const op = b.rng.pick([0x06, 0x0e, 0x16, 0x1e]);
      b.emit(op);
      b.name = `push sreg ${op.toString(16)} ${size}`;
      if (size === S32) b.memoryUnchecked.push(esp - 2 - DATA_BASE, esp - 1 - DATA_BASE);
      return;
    }
    default: {
      // Near CALL/RET/JMP with targets inside the code page (filled with INT3).
      const form = b.rng.int(5);
      const target = b.codeTarget();
      if (form === 0) {
        b.emit(0xe8);
        b.branchDisplacement(32, 5);
        b.name = "call rel32";
      } else if (form === 1 || form === 2) {
        b.poke(esp, target);
        b.emit(form === 1 ? 0xc3 : 0xc2);
        if (form === 2) b.emit16(b.rng.int(64));
        b.name = form === 1 ? "ret" : "ret imm16";
      } else {
        const call = form === 3;
        b.emit(0xff);
        if (b.rng.chance(0.5)) {
          const r = b.rng.pick([EAX, ECX, EDX, EBX, EBP, ESI, EDI]);
          b.emit(0xc0 | ((call ? 2 : 4) << 3) | r);
          b.setReg(r, target);
        } else {
          const operand = b.modrm(call ? 2 : 4, 4, 1);
          b.poke(operand.address, target);
        }
        b.name = `${call ? "call" : "jmp"} r/m32`;
      }
    }
  }
}

function loops(b: Builder): void {
  const op = b.rng.pick([0xe0, 0xe1, 0xe2, 0xe3, 0xeb, 0xe9]);
  if (op <= 0xe3 && b.rng.chance(0.25)) b.emit(0x67); // CX instead of ECX
  b.emit(op);
  if (op === 0xe9) b.branchDisplacement(32, b.bytes.length + 4);
  else b.branchDisplacement(8, b.bytes.length + 1);
  if (b.rng.chance(0.3)) b.setReg(ECX, b.rng.int(3));
  b.name = `branch ${op.toString(16)}`;
}

function exceptions(b: Builder): void {
  const kind = b.rng.int(4);
  if (kind === 0) {
    b.emit(0xce);
    b.name = "into";
  } else if (kind === 1) {
    const size = b.operandSize();
    b.emit(0x62);
    const operand = b.modrm(b.rng.int(8), (size / 8) * 2, 1);
    if (b.rng.chance(0.5)) {
      // Bounds that hold the index about half the time.
      const lower = b.rng.int(1000) - 500;
      b.poke(operand.address, size === S32 ? lower : (lower & 0xffff) | (((lower + 600) & 0xffff) << 16));
      if (size === S32) b.poke(operand.address + 4, lower + 600);
    }
    b.name = `bound r${size}, m`;
  } else if (kind === 2) {
    b.emit(0x0f, 0x0b);
    b.name = "ud2";
  } else {
    b.emit(0x0f, 0x1f);
    b.modrm(0, 1);
    b.name = "nop r/m";
  }
}

const TEMPLATES: [number, (b: Builder) => void][] = [
  [14, alu],
  [6, incDecNegNot],
  [3, test],
  [12, shiftOrRotate],
  [5, doubleShift],
  [8, multiplyDivide],
  [4, imulForms],
  [4, bcd],
  [5, bitTest],
  [3, bitScan],
  [1, bswap],
  [6, exchangeAndCompare],
  [6, conditional],
  [8, moves],
  [6, strings],
  [8, stack],
  [2, loops],
  [2, exceptions],
];
const TOTAL_WEIGHT = TEMPLATES.reduce((sum, [w]) => sum + w, 0);

/** Case `index` of the run with `seed`: the same pair always gives the same case. */
export function generateCase(seed: number, index: number): FuzzCase {
  const rng = new Random(seed, index);
  const b = new Builder(rng, rng.next());
  let pick = rng.int(TOTAL_WEIGHT);
  for (const [weight, template] of TEMPLATES) {
    if (pick < weight) {
      template(b);
      break;
    }
    pick -= weight;
  }
  return b.build();
}

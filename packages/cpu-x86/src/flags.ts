import {
  ARITH_FLAGS,
  FLAG_AF,
  FLAG_CF,
  FLAG_FIXED1,
  FLAG_OF,
  FLAG_PF,
  FLAG_SF,
  FLAG_ZF,
} from "./registers.js";

/** Which operation last set the arithmetic flags; the flags are derived from its operands on demand. */
export const CC_EFLAGS = 0; // arithmetic flags are materialised in `bits`
export const CC_ADD = 1;
export const CC_ADC = 2;
export const CC_SUB = 3;
export const CC_SBB = 4;
export const CC_LOGIC = 5;
export const CC_INC = 6;
export const CC_DEC = 7;

/** Operand sizes, as log2 of the byte count. */
export const SIZE8 = 0;
export const SIZE16 = 1;
export const SIZE32 = 2;

const SIGN_BIT = [0x80, 0x8000, 0x80000000 | 0];
const MASK = [0xff, 0xffff, -1];

/** PARITY[b] is FLAG_PF when b has an even number of set bits. */
const PARITY = new Uint8Array(256);
for (let b = 0; b < 256; b++) {
  let ones = 0;
  for (let v = b; v !== 0; v >>= 1) ones += v & 1;
  PARITY[b] = (ones & 1) === 0 ? FLAG_PF : 0;
}

/**
 * EFLAGS with lazy evaluation of CF/PF/AF/ZF/SF/OF: arithmetic instructions record their operation,
 * operands and result, and flags are computed only when something reads them (Jcc, PUSHF, ADC...).
 */
export class Flags {
  /** All EFLAGS bits; the arithmetic ones are valid only when op === CC_EFLAGS. */
  bits = FLAG_FIXED1;
  op = CC_EFLAGS;
  size = SIZE32;
  /** First operand, second operand, result (int32, only the low `size` bits matter). */
  a = 0;
  b = 0;
  result = 0;
  /** Carry-in for ADC/SBB, or the preserved CF for INC/DEC. */
  carryIn = 0;
  /** Bits that always read as 1 besides bit 1 (the CPU model's: FLAGS 12-15 on the 8086). */
  fixedOne = 0;

  /** Records an arithmetic result; returns it for chaining. */
  set(op: number, size: number, a: number, b: number, result: number): number {
    this.op = op;
    this.size = size;
    this.a = a;
    this.b = b;
    this.result = result;
    return result;
  }

  /** INC/DEC keep CF: capture it before recording the new operation. */
  setIncDec(op: number, size: number, a: number, result: number): number {
    this.carryIn = this.cf();
    return this.set(op, size, a, 1, result);
  }

  cf(): number {
    const m = MASK[this.size];
    switch (this.op) {
      case CC_EFLAGS:
        return this.bits & FLAG_CF;
      case CC_ADD:
        return (this.result & m) >>> 0 < (this.a & m) >>> 0 ? 1 : 0;
      case CC_ADC:
        return this.carryIn !== 0
          ? (this.result & m) >>> 0 <= (this.a & m) >>> 0
            ? 1
            : 0
          : (this.result & m) >>> 0 < (this.a & m) >>> 0
            ? 1
            : 0;
      case CC_SUB:
        return (this.a & m) >>> 0 < (this.b & m) >>> 0 ? 1 : 0;
      case CC_SBB:
        return (this.a & m) >>> 0 < ((this.b & m) >>> 0) + this.carryIn ? 1 : 0;
      case CC_LOGIC:
        return 0;
      default: // INC, DEC
        return this.carryIn;
    }
  }

  zf(): boolean {
    if (this.op === CC_EFLAGS) return (this.bits & FLAG_ZF) !== 0;
    return (this.result & MASK[this.size]) === 0;
  }

  sf(): boolean {
    if (this.op === CC_EFLAGS) return (this.bits & FLAG_SF) !== 0;
    return (this.result & SIGN_BIT[this.size]) !== 0;
  }

  pf(): boolean {
    if (this.op === CC_EFLAGS) return (this.bits & FLAG_PF) !== 0;
    return PARITY[this.result & 0xff] !== 0;
  }

  af(): boolean {
    switch (this.op) {
      case CC_EFLAGS:
        return (this.bits & FLAG_AF) !== 0;
      case CC_LOGIC:
        return false;
      default:
        return ((this.a ^ this.b ^ this.result) & 0x10) !== 0;
    }
  }

  of(): boolean {
    const s = SIGN_BIT[this.size];
    switch (this.op) {
      case CC_EFLAGS:
        return (this.bits & FLAG_OF) !== 0;
      case CC_ADD:
      case CC_ADC:
      case CC_INC:
        return ((this.a ^ this.result) & (this.b ^ this.result) & s) !== 0;
      case CC_SUB:
      case CC_SBB:
      case CC_DEC:
        return ((this.a ^ this.b) & (this.a ^ this.result) & s) !== 0;
      default:
        return false;
    }
  }

  /** The six arithmetic flags as EFLAGS bits. */
  arith(): number {
    if (this.op === CC_EFLAGS) return this.bits & ARITH_FLAGS;
    return (
      this.cf() |
      (this.pf() ? FLAG_PF : 0) |
      (this.af() ? FLAG_AF : 0) |
      (this.zf() ? FLAG_ZF : 0) |
      (this.sf() ? FLAG_SF : 0) |
      (this.of() ? FLAG_OF : 0)
    );
  }

  /** The whole EFLAGS value. */
  get(): number {
    return (this.bits & ~ARITH_FLAGS) | this.arith();
  }

  /** Replaces the whole EFLAGS value (bit 1 always reads as 1). */
  load(value: number): void {
    this.bits = value | FLAG_FIXED1 | this.fixedOne;
    this.op = CC_EFLAGS;
  }

  /** Replaces only the arithmetic flags named in `mask`, keeping the others. */
  setArith(mask: number, value: number): void {
    const current = this.get();
    this.bits = (current & ~mask) | (value & mask);
    this.op = CC_EFLAGS;
  }

  /** Sets SF, ZF and PF from a result, with the given CF/OF/AF bits: used by eager instructions. */
  setResultFlags(size: number, result: number, cfOfAf: number): void {
    const r = result & MASK[size];
    let f = cfOfAf & (FLAG_CF | FLAG_OF | FLAG_AF);
    if (r === 0) f |= FLAG_ZF;
    if ((r & SIGN_BIT[size]) !== 0) f |= FLAG_SF;
    f |= PARITY[r & 0xff];
    this.bits = (this.bits & ~ARITH_FLAGS) | f;
    this.op = CC_EFLAGS;
  }

  /** Evaluates condition code cc (0-15, the low nibble of Jcc/SETcc/CMOVcc). */
  condition(cc: number): boolean {
    let r: boolean;
    switch (cc >> 1) {
      case 0:
        r = this.of();
        break;
      case 1:
        r = this.cf() !== 0;
        break;
      case 2:
        r = this.zf();
        break;
      case 3:
        r = this.cf() !== 0 || this.zf();
        break;
      case 4:
        r = this.sf();
        break;
      case 5:
        r = this.pf();
        break;
      case 6:
        r = this.sf() !== this.of();
        break;
      default:
        r = this.zf() || this.sf() !== this.of();
        break;
    }
    return (cc & 1) !== 0 ? !r : r;
  }
}

export function parity(byte: number): number {
  return PARITY[byte & 0xff];
}

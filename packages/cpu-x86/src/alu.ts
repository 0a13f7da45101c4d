import {
  CC_ADC,
  CC_ADD,
  CC_DEC,
  CC_INC,
  CC_LOGIC,
  CC_SBB,
  CC_SUB,
  type Flags,
  SIZE8,
  SIZE16,
  SIZE32,
} from "./flags.js";
import { FLAG_AF, FLAG_CF, FLAG_OF } from "./registers.js";

export const ALU_ADD = 0;
export const ALU_OR = 1;
export const ALU_ADC = 2;
export const ALU_SBB = 3;
export const ALU_AND = 4;
export const ALU_SUB = 5;
export const ALU_XOR = 6;
export const ALU_CMP = 7;

export const SIZE_BITS = [8, 16, 32];
export const SIZE_MASK = [0xff, 0xffff, -1];
const SIGN = [0x80, 0x8000, 0x80000000 | 0];

/** The eight classic ALU operations (the reg field of group 1); CMP computes but its caller discards. */
export function alu(f: Flags, op: number, size: number, a: number, b: number): number {
  switch (op) {
    case ALU_ADD:
      return f.set(CC_ADD, size, a, b, (a + b) | 0);
    case ALU_OR:
      return f.set(CC_LOGIC, size, a, b, a | b);
    case ALU_ADC: {
      const carry = f.cf();
      f.carryIn = carry;
      return f.set(CC_ADC, size, a, b, (a + b + carry) | 0);
    }
    case ALU_SBB: {
      const carry = f.cf();
      f.carryIn = carry;
      return f.set(CC_SBB, size, a, b, (a - b - carry) | 0);
    }
    case ALU_AND:
      return f.set(CC_LOGIC, size, a, b, a & b);
    case ALU_XOR:
      return f.set(CC_LOGIC, size, a, b, a ^ b);
    default: // SUB, CMP
      return f.set(CC_SUB, size, a, b, (a - b) | 0);
  }
}

export function inc(f: Flags, size: number, a: number): number {
  return f.setIncDec(CC_INC, size, a, (a + 1) | 0);
}

export function dec(f: Flags, size: number, a: number): number {
  return f.setIncDec(CC_DEC, size, a, (a - 1) | 0);
}

export function neg(f: Flags, size: number, a: number): number {
  return f.set(CC_SUB, size, 0, a, -a | 0);
}

/** Sign-extends the low `size` bits of v to int32. */
export function signExtend(size: number, v: number): number {
  if (size === SIZE8) return (v << 24) >> 24;
  if (size === SIZE16) return (v << 16) >> 16;
  return v | 0;
}

export function zeroExtend(size: number, v: number): number {
  return size === SIZE32 ? v >>> 0 : v & SIZE_MASK[size];
}

export const SHIFT_ROL = 0;
export const SHIFT_ROR = 1;
export const SHIFT_RCL = 2;
export const SHIFT_RCR = 3;
export const SHIFT_SHL = 4;
export const SHIFT_SHR = 5;
export const SHIFT_SAL = 6;
export const SHIFT_SAR = 7;

/**
 * Group 2 shifts and rotates. `count` is already masked as the CPU model requires; a count of 0
 * changes neither the operand nor the flags. Returns the new value (low `size` bits significant).
 */
export function shift(f: Flags, op: number, size: number, value: number, count: number): number {
  if (count === 0) return value;
  const bits = SIZE_BITS[size];
  const mask = SIZE_MASK[size];
  const sign = SIGN[size];
  const v = value & mask;
  let result: number;
  let cf: number;
  let of: number;
  switch (op) {
    case SHIFT_ROL: {
      const n = count % bits;
      result = n === 0 ? v : ((v << n) | (v >>> (bits - n))) & mask;
      cf = result & 1;
      of = ((result & sign) !== 0 ? 1 : 0) ^ cf;
      f.setArith(FLAG_CF | FLAG_OF, cf | (of ? FLAG_OF : 0));
      return result;
    }
    case SHIFT_ROR: {
      const n = count % bits;
      result = n === 0 ? v : ((v >>> n) | (v << (bits - n))) & mask;
      cf = (result & sign) !== 0 ? 1 : 0;
      of = cf ^ ((result & (sign >>> 1)) !== 0 ? 1 : 0);
      f.setArith(FLAG_CF | FLAG_OF, cf | (of ? FLAG_OF : 0));
      return result;
    }
    case SHIFT_RCL: {
      const n = count % (bits + 1);
      cf = f.cf();
      result = v;
      for (let i = 0; i < n; i++) {
        const out = (result & sign) !== 0 ? 1 : 0;
        result = ((result << 1) | cf) & mask;
        cf = out;
      }
      of = ((result & sign) !== 0 ? 1 : 0) ^ cf;
      f.setArith(FLAG_CF | FLAG_OF, cf | (of ? FLAG_OF : 0));
      return result;
    }
    case SHIFT_RCR: {
      const n = count % (bits + 1);
      cf = f.cf();
      result = v;
      for (let i = 0; i < n; i++) {
        const out = result & 1;
        result = ((result >>> 1) | (cf !== 0 ? sign : 0)) & mask;
        cf = out;
      }
      // OF is the XOR of the two top bits of the result: the SDM's rule for a count of 1, and what
      // the 80286 also gives for larger counts (undefined there by the SDM).
      of = ((result & sign) !== 0 ? 1 : 0) ^ ((result & (sign >>> 1)) !== 0 ? 1 : 0);
      f.setArith(FLAG_CF | FLAG_OF, cf | (of ? FLAG_OF : 0));
      return result;
    }
    case SHIFT_SHL:
    case SHIFT_SAL:
      if (count < bits) {
        result = (v << count) & mask;
        cf = (v >>> (bits - count)) & 1;
      } else {
        result = 0;
        cf = count === bits ? v & 1 : 0;
      }
      of = ((result & sign) !== 0 ? 1 : 0) ^ cf;
      f.setResultFlags(size, result, cf | (of ? FLAG_OF : 0) | FLAG_AF);
      return result;
    case SHIFT_SHR:
      if (count < bits) {
        result = v >>> count;
        cf = (v >>> (count - 1)) & 1;
      } else {
        result = 0;
        cf = count === bits ? (v >>> (bits - 1)) & 1 : 0;
      }
      of = (v & sign) !== 0 ? 1 : 0;
      f.setResultFlags(size, result, cf | (count === 1 && of ? FLAG_OF : 0) | FLAG_AF);
      return result;
    default: {
      // SAR
      const s = signExtend(size, v);
      if (count < bits) {
        result = (s >> count) & mask;
        cf = (s >> (count - 1)) & 1;
      } else {
        result = s < 0 ? mask : 0;
        cf = s < 0 ? 1 : 0;
      }
      f.setResultFlags(size, result, cf | FLAG_AF);
      return result;
    }
  }
}

/** Scratch for 64-bit results: [low, high]. */
export const wide = new Int32Array(2);

/** Unsigned 32x32 -> 64 multiply into wide[]. */
export function mulU32(a: number, b: number): void {
  const al = a & 0xffff;
  const ah = a >>> 16;
  const bl = b & 0xffff;
  const bh = b >>> 16;
  const ll = al * bl;
  const lh = al * bh;
  const hl = ah * bl;
  const hh = ah * bh;
  const mid = (ll >>> 16) + (lh & 0xffff) + (hl & 0xffff);
  wide[0] = (ll & 0xffff) | (mid << 16);
  wide[1] = hh + (lh >>> 16) + (hl >>> 16) + Math.floor(mid / 65536);
}

/** Signed 32x32 -> 64 multiply into wide[]. */
export function mulS32(a: number, b: number): void {
  mulU32(a, b);
  // Correct the unsigned high half for negative operands (two's complement identity).
  let high = wide[1];
  if (a < 0) high = (high - b) | 0;
  if (b < 0) high = (high - a) | 0;
  wide[1] = high;
}

/**
 * Unsigned (high:low) / divisor for high < divisor, so the quotient fits in 32 bits. Splitting the
 * dividend into 16-bit steps keeps every intermediate below 2^48, exact in a double.
 * Returns the quotient; the remainder goes to wide[1].
 */
export function divU64by32(high: number, low: number, divisor: number): number {
  const d = divisor >>> 0;
  const n1 = (high >>> 0) * 65536 + (low >>> 16);
  const q1 = Math.floor(n1 / d);
  const r1 = n1 - q1 * d;
  const n2 = r1 * 65536 + (low & 0xffff);
  const q2 = Math.floor(n2 / d);
  wide[1] = n2 - q2 * d;
  return (q1 * 65536 + q2) | 0;
}

/**
 * The 80-bit extended-precision format and its rounding, on 32-bit integer halves (no BigInt).
 *
 * An `Ext` is the unpacked working form of a value: a class, a sign, an unbiased exponent and a
 * 64-bit significand as two unsigned 32-bit halves. Finite values are kept normalized (bit 63 set),
 * with `exponent` possibly below the format's minimum: encoding turns those into denormals.
 * Rounding (`roundExt`) works on the integer significand plus the exact value's fraction below it
 * (guard and sticky bits), so it rounds exactly in every mode and precision.
 */

export const KIND_ZERO = 0;
export const KIND_FINITE = 1;
export const KIND_INFINITY = 2;
export const KIND_QNAN = 3;
export const KIND_SNAN = 4;
/** Pseudo-NaN, pseudo-infinity and unnormal encodings: invalid operands on the 387 and later. */
export const KIND_UNSUPPORTED = 5;

/** Rounding control (CW bits 10-11). */
export const RC_NEAREST = 0;
export const RC_DOWN = 1;
export const RC_UP = 2;
export const RC_CHOP = 3;

/** Exponent ranges (unbiased) of the formats the FPU rounds to. */
export const EXT_EMIN = -16382;
export const EXT_EMAX = 16383;
export const DOUBLE_EMIN = -1022;
export const DOUBLE_EMAX = 1023;
export const SINGLE_EMIN = -126;
export const SINGLE_EMAX = 127;
export const EXT_BIAS = 16383;

/** roundExt() result bits. */
export const ROUND_INEXACT = 1;
/** The result's magnitude is larger than the exact value's (the x87 reports this in C1). */
export const ROUND_UP = 2;
/** The result is tiny (below the smallest normal number, judged after rounding). */
export const ROUND_TINY = 4;

const TWO32 = 4294967296;

export class Ext {
  kind = KIND_ZERO;
  /** 0 or 1. */
  sign = 0;
  /** Unbiased exponent: a finite value is (high:low / 2^63) * 2^exponent. */
  exponent = 0;
  /** Significand bits 63-32 and 31-0, unsigned. */
  high = 0;
  low = 0;
  /** The operand was a denormal or pseudo-denormal (the x87 reports #D for it). */
  denormal = false;

  copyFrom(other: Ext): void {
    this.kind = other.kind;
    this.sign = other.sign;
    this.exponent = other.exponent;
    this.high = other.high;
    this.low = other.low;
    this.denormal = other.denormal;
  }

  setZero(sign: number): void {
    this.kind = KIND_ZERO;
    this.sign = sign;
    this.exponent = 0;
    this.high = 0;
    this.low = 0;
    this.denormal = false;
  }

  setInfinity(sign: number): void {
    this.kind = KIND_INFINITY;
    this.sign = sign;
    this.exponent = EXT_EMAX + 1;
    this.high = 0x80000000;
    this.low = 0;
    this.denormal = false;
  }

  /** The default QNaN ("real indefinite"): negative, significand C000000000000000. */
  setIndefinite(): void {
    this.kind = KIND_QNAN;
    this.sign = 1;
    this.exponent = EXT_EMAX + 1;
    this.high = 0xc0000000;
    this.low = 0;
    this.denormal = false;
  }

  /** A finite value from a 64-bit unsigned significand that need not be normalized; 0 gives zero. */
  setFinite(sign: number, exponent: number, high: number, low: number): void {
    this.sign = sign;
    this.denormal = false;
    high >>>= 0;
    low >>>= 0;
    if (high === 0 && low === 0) {
      this.setZero(sign);
      return;
    }
    this.kind = KIND_FINITE;
    if (high === 0) {
      high = low;
      low = 0;
      exponent -= 32;
    }
    const shift = Math.clz32(high);
    if (shift !== 0) {
      high = ((high << shift) | (low >>> (32 - shift))) >>> 0;
      low = (low << shift) >>> 0;
      exponent -= shift;
    }
    this.exponent = exponent;
    this.high = high;
    this.low = low;
  }

  /** Sets the value of an unsigned integer given as 32-bit halves (exact). */
  setInteger(sign: number, high: number, low: number): void {
    this.setFinite(sign, 63, high, low);
  }

  get isNaN(): boolean {
    return this.kind === KIND_QNAN || this.kind === KIND_SNAN;
  }
}

/** Unpacks the 80-bit encoding (sign+exponent word, significand halves) into `out`. */
export function unpackExt(signExponent: number, high: number, low: number, out: Ext): void {
  const biased = signExponent & 0x7fff;
  const sign = (signExponent >> 15) & 1;
  high >>>= 0;
  low >>>= 0;
  out.sign = sign;
  out.denormal = false;
  if (biased === 0) {
    if (high === 0 && low === 0) {
      out.setZero(sign);
      return;
    }
    // Denormal (J=0) or pseudo-denormal (J=1): both have the exponent of the smallest normal.
    out.setFinite(sign, EXT_EMIN, high, low);
    out.denormal = true;
    return;
  }
  out.high = high;
  out.low = low;
  out.exponent = biased - EXT_BIAS;
  if (high < 0x80000000) {
    out.kind = KIND_UNSUPPORTED;
  } else if (biased === 0x7fff) {
    if (high === 0x80000000 && low === 0) out.kind = KIND_INFINITY;
    else out.kind = high >= 0xc0000000 ? KIND_QNAN : KIND_SNAN;
  } else {
    out.kind = KIND_FINITE;
  }
}

/** Sign+exponent word of the 80-bit encoding of `v` (v rounded, exponent in range or denormal). */
export function encodedSignExponent(v: Ext): number {
  const s = v.sign << 15;
  switch (v.kind) {
    case KIND_ZERO:
      return s;
    case KIND_FINITE:
      return v.exponent < EXT_EMIN ? s : s | (v.exponent + EXT_BIAS);
    case KIND_UNSUPPORTED:
      return s | ((v.exponent + EXT_BIAS) & 0x7fff);
    default:
      return s | 0x7fff;
  }
}

/** Significand halves of the encoding: denormals are shifted right to the fixed minimum exponent. */
export function encodedHigh(v: Ext): number {
  if (v.kind === KIND_ZERO) return 0;
  if (v.kind === KIND_FINITE && v.exponent < EXT_EMIN)
    return shiftRightHigh(v.high, v.low, EXT_EMIN - v.exponent);
  return v.high | 0;
}

export function encodedLow(v: Ext): number {
  if (v.kind === KIND_ZERO) return 0;
  if (v.kind === KIND_FINITE && v.exponent < EXT_EMIN)
    return shiftRightLow(v.high, v.low, EXT_EMIN - v.exponent);
  return v.low | 0;
}

export function shiftRightHigh(high: number, _low: number, n: number): number {
  if (n <= 0) return high | 0;
  if (n >= 32) return 0;
  return (high >>> n) | 0;
}

export function shiftRightLow(high: number, low: number, n: number): number {
  if (n <= 0) return low | 0;
  if (n >= 64) return 0;
  if (n >= 32) return (high >>> (n - 32)) | 0;
  return (low >>> n) | (high << (32 - n)) | 0;
}

/** A mask of the low n bits (0..32) of a 32-bit word. */
function lowMask(n: number): number {
  return n <= 0 ? 0 : n >= 32 ? 0xffffffff : 0xffffffff >>> (32 - n);
}

/** Bit n (0..63) of high:low; 0 beyond. */
function bitAt(high: number, low: number, n: number): number {
  if (n < 0 || n > 63) return 0;
  return n < 32 ? (low >>> n) & 1 : (high >>> (n - 32)) & 1;
}

/** Whether any of the low n bits of high:low are set. */
function lowBitsSet(high: number, low: number, n: number): boolean {
  if (n <= 0) return false;
  if (n <= 32) return (low & lowMask(n)) !== 0;
  if (n < 64) return low !== 0 || (high & lowMask(n - 32)) !== 0;
  return low !== 0 || high !== 0;
}

/**
 * Rounds the finite value `v` (normalized) to `precision` significant bits (24, 53 or 64; any value
 * works, FRNDINT and FIST pass the integer grid) with rounding control `rc`. `fraction` in [0, 1) is
 * the part of the exact value below bit 0 of v's significand, in units of that bit: 0.5 is exactly
 * half, and callers encode guard and sticky bits into it. Below `emin` the result is denormalized
 * (the grid stays that of emin) unless `denormalize` is false (unbounded exponent: unmasked
 * underflow). Leaves `v` rounded (possibly zero, possibly with an exponent past the format's maximum:
 * overflow is the caller's) and returns ROUND_* bits.
 */
export function roundExt(
  v: Ext,
  fraction: number,
  precision: number,
  rc: number,
  emin: number,
  denormalize: boolean,
): number {
  let tiny = v.exponent < emin;
  if (tiny && v.exponent === emin - 1 && denormalize) {
    // Tininess is judged after rounding with an unbounded exponent: it may round up to 2^emin.
    const e = v.exponent;
    const h = v.high;
    const l = v.low;
    roundExt(v, fraction, precision, rc, emin, false);
    tiny = v.exponent < emin;
    v.exponent = e;
    v.high = h;
    v.low = l;
    v.kind = KIND_FINITE;
  }
  let shift = 64 - precision;
  if (denormalize && v.exponent < emin) shift += emin - v.exponent;
  if (shift < 0) shift = 0;
  let high = v.high;
  let low = v.low;
  // The discarded part compared with half a unit of the rounding position.
  let exact: boolean;
  let aboveHalf: boolean;
  let half: boolean;
  if (shift === 0) {
    exact = fraction === 0;
    aboveHalf = fraction > 0.5;
    half = fraction === 0.5;
  } else {
    const guard = shift <= 64 ? bitAt(high, low, shift - 1) : 0;
    const rest = shift > 64 || lowBitsSet(high, low, shift - 1) || fraction > 0;
    exact = guard === 0 && !rest;
    aboveHalf = guard === 1 && rest;
    half = guard === 1 && !rest;
  }
  if (exact) return tiny ? ROUND_TINY : 0;

  // Truncate to the rounding position.
  if (shift >= 64) {
    high = 0;
    low = 0;
  } else if (shift >= 32) {
    low = 0;
    high = (high & ~lowMask(shift - 32)) >>> 0;
  } else {
    low = (low & ~lowMask(shift)) >>> 0;
  }
  let roundUp: boolean;
  switch (rc) {
    case RC_NEAREST:
      roundUp = aboveHalf || (half && shift < 64 && bitAt(high, low, shift) === 1);
      break;
    case RC_CHOP:
      roundUp = false;
      break;
    case RC_DOWN:
      roundUp = v.sign === 1;
      break;
    default:
      roundUp = v.sign === 0;
      break;
  }
  if (roundUp) {
    addUnit(v, high, low, shift);
  } else if (high === 0 && low === 0) {
    v.setZero(v.sign);
  } else {
    v.high = high;
    v.low = low;
  }
  // With an unbounded exponent, tininess is simply the rounded result's exponent.
  if (!denormalize) tiny = v.kind === KIND_FINITE && v.exponent < emin;
  return ROUND_INEXACT | (roundUp ? ROUND_UP : 0) | (tiny ? ROUND_TINY : 0);
}

/** v = (high:low + 2^shift), renormalized. */
function addUnit(v: Ext, high: number, low: number, shift: number): void {
  v.kind = KIND_FINITE;
  if (shift >= 64) {
    // The truncation is zero and one unit is 2^shift in significand units.
    v.exponent += shift - 63;
    v.high = 0x80000000;
    v.low = 0;
    return;
  }
  if (shift < 32) {
    const sum = low + 2 ** shift;
    if (sum >= TWO32) {
      low = sum - TWO32;
      high += 1;
    } else {
      low = sum;
    }
  } else {
    high += 2 ** (shift - 32);
  }
  if (high >= TWO32) {
    // Carried out of bit 63: the significand is 2^64, i.e. 1.0 at the next exponent.
    v.exponent += 1;
    v.high = 0x80000000;
    v.low = 0;
    return;
  }
  v.setFinite(v.sign, v.exponent, high, low);
}

/** The largest finite value with `precision` bits and exponent emax, with the sign of v. */
export function setLargestFinite(v: Ext, precision: number, emax: number): void {
  v.kind = KIND_FINITE;
  v.exponent = emax;
  if (precision >= 64) {
    v.high = 0xffffffff;
    v.low = 0xffffffff;
  } else if (precision > 32) {
    v.high = 0xffffffff;
    v.low = (0xffffffff & ~lowMask(64 - precision)) >>> 0;
  } else {
    v.high = (0xffffffff & ~lowMask(32 - precision)) >>> 0;
    v.low = 0;
  }
}

/**
 * The masked response to overflow: infinity or the largest finite value, by rounding control and
 * sign. Returns true when the result is infinity (the magnitude was rounded up).
 */
export function overflowResult(v: Ext, precision: number, rc: number, emax: number): boolean {
  const toInfinity = rc === RC_NEAREST || (rc === RC_UP && v.sign === 0) || (rc === RC_DOWN && v.sign === 1);
  if (toInfinity) v.setInfinity(v.sign);
  else setLargestFinite(v, precision, emax);
  return toInfinity;
}

/** Compares magnitudes of two finite or zero values: -1, 0 or 1. */
export function compareMagnitude(a: Ext, b: Ext): number {
  const aZero = a.kind === KIND_ZERO;
  const bZero = b.kind === KIND_ZERO;
  if (aZero || bZero) return aZero && bZero ? 0 : aZero ? -1 : 1;
  if (a.exponent !== b.exponent) return a.exponent < b.exponent ? -1 : 1;
  if (a.high !== b.high) return a.high < b.high ? -1 : 1;
  if (a.low !== b.low) return a.low < b.low ? -1 : 1;
  return 0;
}

/**
 * Orders two non-NaN values (zeros of either sign are equal, infinities at the ends): -1, 0 or 1.
 * Unsupported encodings must be screened out by the caller.
 */
export function compareOrdered(a: Ext, b: Ext): number {
  const aZero = a.kind === KIND_ZERO;
  const bZero = b.kind === KIND_ZERO;
  if (aZero && bZero) return 0;
  if (aZero) return b.sign === 1 ? 1 : -1;
  if (bZero) return a.sign === 1 ? -1 : 1;
  if (a.sign !== b.sign) return a.sign === 1 ? -1 : 1;
  const aInf = a.kind === KIND_INFINITY;
  const bInf = b.kind === KIND_INFINITY;
  let magnitude: number;
  if (aInf || bInf) magnitude = aInf && bInf ? 0 : aInf ? 1 : -1;
  else magnitude = compareMagnitude(a, b);
  return a.sign === 1 ? -magnitude : magnitude;
}

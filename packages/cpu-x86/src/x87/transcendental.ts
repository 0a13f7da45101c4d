import type { Cpu } from "../cpu.js";
import { type Ext, KIND_FINITE, KIND_INFINITY, KIND_ZERO } from "./float80.js";
import { scaleByPowerOfTwo } from "./formats.js";
import {
  abortsOnUnmasked,
  commitResult,
  propagateNaN,
  roundToInteger,
  STACK_OVERFLOW,
  STACK_UNDERFLOW,
  stackFault,
} from "./responses.js";
import { SW_C0, SW_C1, SW_C2, SW_C3, SW_CONDITION, SW_DE, SW_IE, SW_PE, SW_ZE, type X87 } from "./x87.js";

/*
 * The D9 F0-FF group. FSQRT, FRNDINT, FSCALE, FXTRACT, FPREM and FPREM1 are exact (integer
 * arithmetic on the 64-bit significand). F2XM1, FYL2X, FYL2XP1, FPTAN, FPATAN, FSIN, FCOS and
 * FSINCOS are computed with the host's double-precision functions: see the README's precision notes.
 */

const TWO32 = 4294967296;

/** `index` is ModRM & 0x0f for D9 F0-FF. */
export function transcendental(_cpu: Cpu, fpu: X87, index: number): void {
  switch (index) {
    case 0:
      unaryOnTop(fpu, twoToXMinusOne);
      return;
    case 1:
      binaryPopping(fpu, yLog2X);
      return;
    case 2:
      twoResults(fpu, partialTangent, true);
      return;
    case 3:
      binaryPopping(fpu, partialArctangent);
      return;
    case 4:
      twoResults(fpu, extract);
      return;
    case 5:
      partialRemainder(fpu, true);
      return;
    case 6: // FDECSTP
      fpu.top = (fpu.top - 1) & 7;
      fpu.setConditionCodes(SW_C1, 0);
      return;
    case 7: // FINCSTP
      fpu.top = (fpu.top + 1) & 7;
      fpu.setConditionCodes(SW_C1, 0);
      return;
    case 8:
      partialRemainder(fpu, false);
      return;
    case 9:
      binaryPopping(fpu, yLog2XPlusOne);
      return;
    case 10:
      unaryOnTop(fpu, squareRoot);
      return;
    case 11:
      twoResults(fpu, sineAndCosine, true);
      return;
    case 12:
      unaryOnTop(fpu, roundToIntegral);
      return;
    case 13:
      scale(fpu);
      return;
    case 14:
      unaryOnTop(fpu, sine, true);
      return;
    default:
      unaryOnTop(fpu, cosine, true);
      return;
  }
}

/** Result of an operation that found its operand out of range (|x| >= 2^63): C2=1, nothing changes. */
const OUT_OF_RANGE = -2;
/** Result of an operation that leaves its operand as it is, flags and codes included. */
const UNCHANGED = -4;

/**
 * ST(0) = f(ST(0)); f returns SW_* flags or OUT_OF_RANGE and leaves its result in fpu.r. C2 is
 * defined only for the trigonometric functions (`reportsRange`).
 */
function unaryOnTop(fpu: X87, f: (fpu: X87, a: Ext) => number, reportsRange = false): void {
  if (fpu.isEmpty(0)) {
    if (reportsRange) fpu.setConditionCodes(SW_C2, 0);
    if (stackFault(fpu, STACK_UNDERFLOW)) fpu.writeIndefinite(0);
    return;
  }
  fpu.read(0, fpu.a);
  const flags = f(fpu, fpu.a);
  if (flags === UNCHANGED) return;
  if (flags === OUT_OF_RANGE) {
    fpu.setConditionCodes(SW_C2, SW_C2);
    return;
  }
  if (abortsOnUnmasked(fpu, flags)) return;
  if (reportsRange) fpu.setConditionCodes(SW_C2, 0);
  commitResult(fpu, flags, 0, false);
}

/** ST(1) = f(ST(0), ST(1)), then pop. */
function binaryPopping(fpu: X87, f: (fpu: X87, x: Ext, y: Ext) => number): void {
  if (fpu.isEmpty(0) || fpu.isEmpty(1)) {
    if (!stackFault(fpu, STACK_UNDERFLOW)) return;
    fpu.writeIndefinite(1);
    fpu.pop();
    return;
  }
  fpu.read(0, fpu.a);
  fpu.read(1, fpu.b);
  commitResult(fpu, f(fpu, fpu.a, fpu.b), 1, true);
}

/**
 * FPTAN, FSINCOS, FXTRACT: ST(0) is replaced by one result (fpu.r2) and another (fpu.r) is pushed.
 * Needs ST(0) in use and ST(7) free.
 */
function twoResults(fpu: X87, f: (fpu: X87, a: Ext) => number, reportsRange = false): void {
  const empty = fpu.isEmpty(0);
  if (empty || !fpu.isEmpty(7)) {
    if (reportsRange) fpu.setConditionCodes(SW_C2, 0);
    if (stackFault(fpu, empty ? STACK_UNDERFLOW : STACK_OVERFLOW)) {
      fpu.writeIndefinite(0);
      fpu.push();
      fpu.writeIndefinite(0);
    }
    return;
  }
  fpu.read(0, fpu.a);
  const flags = f(fpu, fpu.a);
  if (flags === OUT_OF_RANGE) {
    fpu.setConditionCodes(SW_C2, SW_C2);
    return;
  }
  if (abortsOnUnmasked(fpu, flags)) return;
  fpu.setConditionCodes(reportsRange ? SW_C2 | SW_C1 : SW_C1, flags & SW_C1);
  fpu.write(0, fpu.r2);
  fpu.push();
  fpu.write(0, fpu.r);
  fpu.signal(flags);
}

// -----------------------------------------------------------------------------------------------
// Host-double helpers.

/** The significand of a finite value as a double in [1, 2), rounded to 53 bits. */
function significand(a: Ext): number {
  return (a.high * TWO32 + a.low) / 2 ** 63;
}

/**
 * The part of a's significand lost when rounding it to a double, in the same units as
 * significand(a) (exact): a = (significand(a) + significandTail(a)) * 2^exponent.
 */
function significandTail(a: Ext): number {
  const rounded = a.high * TWO32 + a.low;
  return (a.high * TWO32 - rounded + a.low) / 2 ** 63;
}

/** Stores a host double times 2^exponentAdjust into fpu.r as a register result (inexact). */
function fromHost(fpu: X87, x: number, exponentAdjust: number, exact: boolean): number {
  const r = fpu.r;
  fpu.hostDoubles.toExt(x, r);
  if (r.kind === KIND_FINITE) r.exponent += exponentAdjust;
  if (r.kind !== KIND_FINITE) return exact ? 0 : SW_PE;
  return fpu.roundForRegister(r, 0, 64) | (exact ? 0 : SW_PE);
}

/**
 * Rounds r (finite) for a register as the value just below it in magnitude (by far less than a
 * 64-bit ulp): sin x and cos x for tiny x, which round to x or 1 except when rounding toward zero.
 */
function roundJustBelow(fpu: X87, r: Ext): number {
  if (r.high === 0x80000000 && r.low === 0) {
    r.exponent -= 1;
    r.high = 0xffffffff;
    r.low = 0xffffffff;
  } else if (r.low === 0) {
    r.low = 0xffffffff;
    r.high -= 1;
  } else {
    r.low -= 1;
  }
  return SW_PE | fpu.roundForRegister(r, 0.75, 64);
}

// -----------------------------------------------------------------------------------------------
// Unary functions of ST(0).

function twoToXMinusOne(fpu: X87, a: Ext): number {
  const nan = propagateNaN(fpu, a, null);
  if (nan >= 0) return nan;
  const r = fpu.r;
  if (a.kind === KIND_ZERO) {
    r.copyFrom(a);
    return 0;
  }
  if (a.kind === KIND_INFINITY) {
    // Outside the documented domain; the limits of 2^x - 1.
    if (a.sign === 0) r.setInfinity(0);
    else r.setFinite(1, 0, 0x80000000, 0);
    return 0;
  }
  // Outside -1..1 the result is undefined; from 2 up the host x87 leaves the operand unchanged, and so do we.
  if (a.exponent >= 1) return UNCHANGED;
  const denormal = a.denormal ? SW_DE : 0;
  if (a.exponent < -70) {
    // 2^x - 1 = x ln 2 (1 + x ln2 / 2 + ...): the product is exact enough.
    fpu.r2.setFinite(0, -1, 0xb17217f7, 0xd1cf79ac);
    fpu.arithmetic.multiply(a, fpu.r2, r);
    return denormal | SW_PE | fpu.roundForRegister(r, fpu.arithmetic.fraction, 64);
  }
  const x = fpu.hostDoubles.fromExt(a);
  if (x === 1 || x === -1)
    return denormal | fromHost(fpu, x === 1 ? 1 : -0.5, 0, a.low === 0 && (a.high & 0x7ff) === 0);
  return denormal | fromHost(fpu, Math.expm1(x * Math.LN2), 0, false);
}

function squareRoot(fpu: X87, a: Ext): number {
  const nan = propagateNaN(fpu, a, null);
  if (nan >= 0) return nan;
  const r = fpu.r;
  if (a.kind === KIND_ZERO) {
    r.copyFrom(a);
    return 0;
  }
  if (a.sign === 1) {
    r.setIndefinite();
    return SW_IE;
  }
  if (a.kind === KIND_INFINITY) {
    r.setInfinity(0);
    return 0;
  }
  fpu.arithmetic.squareRoot(a, r);
  return (a.denormal ? SW_DE : 0) | fpu.roundForRegister(r, fpu.arithmetic.fraction, fpu.precision);
}

function roundToIntegral(fpu: X87, a: Ext): number {
  const nan = propagateNaN(fpu, a, null);
  if (nan >= 0) return nan;
  const r = fpu.r;
  r.copyFrom(a);
  if (a.kind !== KIND_FINITE) return 0;
  r.denormal = false;
  return (a.denormal ? SW_DE : 0) | roundToInteger(fpu, r);
}

/** The argument checks common to sin, cos and tan: NaN, infinity, and out of range from 2^63. */
const CONTINUE = -3;

function trigonometricArgument(fpu: X87, a: Ext): number {
  const nan = propagateNaN(fpu, a, null);
  if (nan >= 0) return nan;
  if (a.kind === KIND_INFINITY) {
    fpu.r.setIndefinite();
    return SW_IE;
  }
  if (a.kind === KIND_FINITE && a.exponent >= 63) return OUT_OF_RANGE;
  return CONTINUE;
}

function sine(fpu: X87, a: Ext): number {
  const special = trigonometricArgument(fpu, a);
  if (special !== CONTINUE) return special;
  const r = fpu.r;
  if (a.kind === KIND_ZERO) {
    r.copyFrom(a);
    return 0;
  }
  const denormal = a.denormal ? SW_DE : 0;
  if (a.exponent < -33) {
    // sin x = x - x^3/6: below half an ulp of x.
    r.copyFrom(a);
    r.denormal = false;
    return denormal | roundJustBelow(fpu, r);
  }
  const x = scaleByPowerOfTwo(significand(a), a.exponent) * (a.sign === 1 ? -1 : 1);
  const tail = scaleByPowerOfTwo(significandTail(a), a.exponent) * (a.sign === 1 ? -1 : 1);
  return denormal | fromHost(fpu, Math.sin(x) + Math.cos(x) * tail, 0, false);
}

function cosine(fpu: X87, a: Ext): number {
  const special = trigonometricArgument(fpu, a);
  if (special !== CONTINUE) return special;
  const r = fpu.r;
  if (a.kind === KIND_ZERO) {
    r.setFinite(0, 0, 0x80000000, 0);
    return 0;
  }
  const denormal = a.denormal ? SW_DE : 0;
  if (a.exponent < -33) {
    // cos x = 1 - x^2/2
    r.setFinite(0, 0, 0x80000000, 0);
    return denormal | roundJustBelow(fpu, r);
  }
  const x = scaleByPowerOfTwo(significand(a), a.exponent) * (a.sign === 1 ? -1 : 1);
  const tail = scaleByPowerOfTwo(significandTail(a), a.exponent) * (a.sign === 1 ? -1 : 1);
  return denormal | fromHost(fpu, Math.cos(x) - Math.sin(x) * tail, 0, false);
}

/** FSINCOS: fpu.r2 = sin (stays in ST(1)), fpu.r = cos (pushed). */
function sineAndCosine(fpu: X87, a: Ext): number {
  const special = trigonometricArgument(fpu, a);
  if (special === OUT_OF_RANGE) return special;
  if (special !== CONTINUE) {
    fpu.r2.copyFrom(fpu.r);
    return special;
  }
  const sineFlags = sine(fpu, a);
  fpu.r2.copyFrom(fpu.r);
  const cosineFlags = cosine(fpu, a);
  return (sineFlags | cosineFlags) & ~SW_C1;
}

/** FPTAN: fpu.r2 = tan (stays), fpu.r = 1.0 (pushed). */
function partialTangent(fpu: X87, a: Ext): number {
  const special = trigonometricArgument(fpu, a);
  if (special === OUT_OF_RANGE) return special;
  if (special !== CONTINUE) {
    fpu.r2.copyFrom(fpu.r);
    return special;
  }
  let flags: number;
  if (a.kind === KIND_ZERO) {
    fpu.r.copyFrom(a);
    flags = 0;
  } else if (a.exponent < -33) {
    // tan x = x + x^3/3: just above x.
    fpu.r.copyFrom(a);
    fpu.r.denormal = false;
    flags = (a.denormal ? SW_DE : 0) | SW_PE | fpu.roundForRegister(fpu.r, 0.25, 64);
  } else {
    const x = scaleByPowerOfTwo(significand(a), a.exponent) * (a.sign === 1 ? -1 : 1);
    const tail = scaleByPowerOfTwo(significandTail(a), a.exponent) * (a.sign === 1 ? -1 : 1);
    const t = Math.tan(x);
    flags = (a.denormal ? SW_DE : 0) | fromHost(fpu, t + (1 + t * t) * tail, 0, false);
  }
  fpu.r2.copyFrom(fpu.r);
  fpu.r.setFinite(0, 0, 0x80000000, 0);
  return flags;
}

/** FXTRACT: fpu.r2 = the exponent (stays in ST(1)), fpu.r = the significand (pushed). */
function extract(fpu: X87, a: Ext): number {
  const nan = propagateNaN(fpu, a, null);
  if (nan >= 0) {
    fpu.r2.copyFrom(fpu.r);
    return nan;
  }
  const r = fpu.r;
  const exponent = fpu.r2;
  switch (a.kind) {
    case KIND_ZERO:
      exponent.setInfinity(1);
      r.copyFrom(a);
      return SW_ZE;
    case KIND_INFINITY:
      exponent.setInfinity(0);
      r.copyFrom(a);
      return 0;
    default: {
      const e = a.exponent;
      exponent.setInteger(e < 0 ? 1 : 0, 0, Math.abs(e));
      r.copyFrom(a);
      r.exponent = 0;
      r.denormal = false;
      return a.denormal ? SW_DE : 0;
    }
  }
}

// -----------------------------------------------------------------------------------------------
// Functions of ST(0) and ST(1).

/** FYL2X: y * log2(x) with x = ST(0), y = ST(1). */
function yLog2X(fpu: X87, x: Ext, y: Ext): number {
  const nan = propagateNaN(fpu, x, y);
  if (nan >= 0) return nan;
  const r = fpu.r;
  const denormal = x.denormal || y.denormal ? SW_DE : 0;
  if (x.sign === 1 && x.kind !== KIND_ZERO) {
    r.setIndefinite();
    return SW_IE;
  }
  if (x.kind === KIND_ZERO) {
    if (y.kind === KIND_ZERO) {
      r.setIndefinite();
      return SW_IE;
    }
    r.setInfinity(y.sign ^ 1);
    return denormal | (y.kind === KIND_FINITE ? SW_ZE : 0);
  }
  if (x.kind === KIND_INFINITY) {
    if (y.kind === KIND_ZERO) {
      r.setIndefinite();
      return SW_IE;
    }
    r.setInfinity(y.sign);
    return denormal;
  }
  // log2(x) for finite positive x: exponent plus the log of the significand.
  const isOne = x.exponent === 0 && x.high === 0x80000000 && x.low === 0;
  let log: number;
  if (x.exponent === 0 || x.exponent === -1) {
    log = Math.log2(scaleByPowerOfTwo(significand(x) + significandTail(x), x.exponent));
  } else {
    log = x.exponent + Math.log2(significand(x));
  }
  if (y.kind === KIND_INFINITY) {
    if (isOne) {
      r.setIndefinite();
      return SW_IE;
    }
    r.setInfinity(y.sign ^ (log < 0 ? 1 : 0));
    return denormal;
  }
  if (y.kind === KIND_ZERO) {
    r.setZero(y.sign ^ (log < 0 ? 1 : 0));
    return denormal;
  }
  if (isOne) {
    r.setZero(y.sign);
    return denormal;
  }
  const ySignificand = significand(y) * (y.sign === 1 ? -1 : 1);
  return denormal | fromHost(fpu, ySignificand * log, y.exponent, false);
}

/** FYL2XP1: y * log2(x + 1) for small x = ST(0), y = ST(1). */
function yLog2XPlusOne(fpu: X87, x: Ext, y: Ext): number {
  const nan = propagateNaN(fpu, x, y);
  if (nan >= 0) return nan;
  const r = fpu.r;
  const denormal = x.denormal || y.denormal ? SW_DE : 0;
  if (x.kind === KIND_INFINITY || (x.kind === KIND_FINITE && x.sign === 1 && x.exponent >= 0)) {
    r.setIndefinite(); // x <= -1 or infinite: outside the function's domain
    return SW_IE;
  }
  if (x.kind === KIND_ZERO) {
    if (y.kind === KIND_INFINITY) {
      r.setIndefinite();
      return SW_IE;
    }
    r.setZero(x.sign ^ y.sign);
    return denormal;
  }
  if (y.kind === KIND_ZERO) {
    r.setZero(x.sign ^ y.sign);
    return denormal;
  }
  if (y.kind === KIND_INFINITY) {
    r.setInfinity(x.sign ^ y.sign);
    return denormal;
  }
  const ySignificand = significand(y) * (y.sign === 1 ? -1 : 1);
  const xSignificand = (significand(x) + significandTail(x)) * (x.sign === 1 ? -1 : 1);
  if (x.exponent < -60) {
    // log2(1 + x) = x / ln 2 (1 - x/2 + ...)
    return denormal | fromHost(fpu, (ySignificand * xSignificand) / Math.LN2, y.exponent + x.exponent, false);
  }
  const log = Math.log1p(scaleByPowerOfTwo(xSignificand, x.exponent)) / Math.LN2;
  return denormal | fromHost(fpu, ySignificand * log, y.exponent, false);
}

/** FPATAN: atan2(ST(1), ST(0)) with the full quadrant rules (IEEE atan2 semantics). */
function partialArctangent(fpu: X87, x: Ext, y: Ext): number {
  const nan = propagateNaN(fpu, y, x);
  if (nan >= 0) return nan;
  const denormal = x.denormal || y.denormal ? SW_DE : 0;
  if (x.kind === KIND_FINITE && y.kind === KIND_FINITE) {
    const d = y.exponent - x.exponent;
    if (x.sign === 0 && d < -64) {
      // atan(t) = t (1 - t^2/3 ...) for tiny t = y/x: the exact quotient, rounded.
      fpu.arithmetic.divide(y, x, fpu.r);
      return denormal | SW_PE | fpu.roundForRegister(fpu.r, fpu.arithmetic.fraction, 64);
    }
    const yd = significand(y) * (y.sign === 1 ? -1 : 1);
    const xd = scaleByPowerOfTwo(significand(x), Math.max(-1100, Math.min(1100, x.exponent - y.exponent)));
    return denormal | fromHost(fpu, Math.atan2(yd, x.sign === 1 ? -xd : xd), 0, false);
  }
  const yd = fpu.hostDoubles.fromExt(y.kind === KIND_FINITE ? oneWithSign(fpu, y.sign) : y);
  const xd = fpu.hostDoubles.fromExt(x.kind === KIND_FINITE ? oneWithSign(fpu, x.sign) : x);
  const result = Math.atan2(yd, xd);
  // Exact only for the zero results.
  return denormal | fromHost(fpu, result, 0, result === 0);
}

function oneWithSign(fpu: X87, sign: number): Ext {
  fpu.r2.setFinite(sign, 0, 0x80000000, 0);
  return fpu.r2;
}

/**
 * FPREM / FPREM1: exact partial remainder. With an exponent difference of 64 or more, only a part
 * of the quotient is taken, N = 32 + (difference mod 32) bits of it, and C2 says "incomplete".
 */
function partialRemainder(fpu: X87, nearest: boolean): void {
  if (fpu.isEmpty(0) || fpu.isEmpty(1)) {
    fpu.setConditionCodes(SW_C2, 0);
    if (stackFault(fpu, STACK_UNDERFLOW)) fpu.writeIndefinite(0);
    return;
  }
  const a = fpu.a;
  const b = fpu.b;
  const r = fpu.r;
  fpu.read(0, a);
  fpu.read(1, b);
  let flags = propagateNaN(fpu, a, b);
  // Invalid and NaN operands clear C2 and C1 and leave C0 and C3 alone.
  let codes = fpu.statusFlags & (SW_C0 | SW_C3);
  if (flags < 0) {
    codes = 0;
    flags = a.denormal || b.denormal ? SW_DE : 0;
    if (a.kind === KIND_INFINITY || b.kind === KIND_ZERO) {
      r.setIndefinite();
      flags = SW_IE;
      codes = fpu.statusFlags & (SW_C0 | SW_C3);
    } else if (a.kind === KIND_ZERO || b.kind === KIND_INFINITY) {
      r.copyFrom(a);
    } else {
      const arithmetic = fpu.arithmetic;
      const difference = a.exponent - b.exponent;
      arithmetic.remainder(a, b, nearest, (difference & 31) | 32, r);
      if (r.kind === KIND_FINITE) flags |= fpu.roundForRegister(r, 0, 64) & ~SW_C1;
      if (arithmetic.partial) {
        codes = SW_C2;
      } else {
        const q = arithmetic.quotientBits;
        codes = (q & 4 ? SW_C0 : 0) | (q & 2 ? SW_C3 : 0) | (q & 1 ? SW_C1 : 0);
      }
    }
  }
  if (abortsOnUnmasked(fpu, flags)) {
    fpu.setConditionCodes(SW_C2, 0);
    return;
  }
  fpu.write(0, r);
  fpu.setConditionCodes(SW_CONDITION, codes);
  fpu.signal(flags);
}

/** FSCALE: ST(0) * 2^trunc(ST(1)), exact up to the range limits. */
function scale(fpu: X87): void {
  if (fpu.isEmpty(0) || fpu.isEmpty(1)) {
    if (stackFault(fpu, STACK_UNDERFLOW)) fpu.writeIndefinite(0);
    return;
  }
  const a = fpu.a;
  const b = fpu.b;
  const r = fpu.r;
  fpu.read(0, a);
  fpu.read(1, b);
  let flags = propagateNaN(fpu, a, b);
  if (flags < 0) {
    flags = a.denormal || b.denormal ? SW_DE : 0;
    r.copyFrom(a);
    r.denormal = false;
    if (b.kind === KIND_INFINITY) {
      if ((a.kind === KIND_ZERO && b.sign === 0) || (a.kind === KIND_INFINITY && b.sign === 1)) {
        r.setIndefinite();
        flags = SW_IE;
      } else if (a.kind === KIND_FINITE) {
        if (b.sign === 0) r.setInfinity(a.sign);
        else r.setZero(a.sign);
      }
    } else if (a.kind === KIND_FINITE && b.kind === KIND_FINITE && b.exponent >= 0) {
      // |trunc(ST(1))| beyond 2^20 already over- or underflows any operand; clamp to keep it small.
      const n = b.exponent >= 20 ? 1 << 20 : b.high >>> (31 - b.exponent);
      r.exponent += b.sign === 1 ? -n : n;
      flags |= fpu.roundForRegister(r, 0, 64);
    } else if (a.kind === KIND_FINITE) {
      flags |= fpu.roundForRegister(r, 0, 64);
    }
  }
  if (abortsOnUnmasked(fpu, flags)) return;
  commitResult(fpu, flags, 0, false);
}

import {
  DOUBLE_EMIN,
  EXT_EMAX,
  type Ext,
  KIND_FINITE,
  KIND_INFINITY,
  KIND_QNAN,
  KIND_SNAN,
  KIND_ZERO,
  SINGLE_EMIN,
  shiftRightHigh,
  shiftRightLow,
} from "./float80.js";

/**
 * Conversions between the unpacked extended form and the memory formats the x87 loads and stores:
 * single and double reals (as raw bit patterns), two's-complement integers as 32-bit halves, and the
 * host's own doubles (for transcendental functions). All exact; rounding happens before encoding.
 */

/** Unpacks a single-precision bit pattern exactly (denormals are normalized and marked). */
export function singleToExt(bits: number, out: Ext): void {
  const sign = bits >>> 31;
  const biased = (bits >>> 23) & 0xff;
  const fraction = bits & 0x7fffff;
  if (biased === 0) {
    if (fraction === 0) {
      out.setZero(sign);
      return;
    }
    out.setFinite(sign, 63 - 149, 0, fraction);
    out.denormal = true;
    return;
  }
  out.sign = sign;
  out.denormal = false;
  out.low = 0;
  out.high = (0x80000000 | (fraction << 8)) >>> 0;
  if (biased === 0xff) {
    out.exponent = EXT_EMAX + 1;
    out.kind = fraction === 0 ? KIND_INFINITY : (fraction & 0x400000) !== 0 ? KIND_QNAN : KIND_SNAN;
    return;
  }
  out.kind = KIND_FINITE;
  out.exponent = biased - 127;
}

/** Unpacks a double-precision bit pattern given as its high and low words. */
export function doubleToExt(high: number, low: number, out: Ext): void {
  const sign = high >>> 31;
  const biased = (high >>> 20) & 0x7ff;
  const fractionHigh = high & 0xfffff;
  if (biased === 0) {
    if (fractionHigh === 0 && low === 0) {
      out.setZero(sign);
      return;
    }
    out.setFinite(sign, 63 - 1074, fractionHigh, low);
    out.denormal = true;
    return;
  }
  out.sign = sign;
  out.denormal = false;
  out.high = (0x80000000 | (fractionHigh << 11) | (low >>> 21)) >>> 0;
  out.low = (low << 11) >>> 0;
  if (biased === 0x7ff) {
    out.exponent = EXT_EMAX + 1;
    const nonzero = fractionHigh !== 0 || low !== 0;
    out.kind = !nonzero ? KIND_INFINITY : (fractionHigh & 0x80000) !== 0 ? KIND_QNAN : KIND_SNAN;
    return;
  }
  out.kind = KIND_FINITE;
  out.exponent = biased - 1023;
}

/**
 * Encodes v as a single: v must already be rounded to 24 bits and within single range (denormals
 * below SINGLE_EMIN), or be a zero, an infinity or a NaN (whose payload is truncated).
 */
export function extToSingle(v: Ext): number {
  const sign = v.sign << 31;
  switch (v.kind) {
    case KIND_ZERO:
      return sign;
    case KIND_FINITE: {
      if (v.exponent < SINGLE_EMIN) {
        return sign | shiftRightLow(v.high, v.low, 40 + SINGLE_EMIN - v.exponent);
      }
      return sign | ((v.exponent + 127) << 23) | ((v.high >>> 8) & 0x7fffff);
    }
    case KIND_INFINITY:
      return sign | 0x7f800000;
    default:
      return sign | 0x7f800000 | ((v.high >>> 8) & 0x7fffff);
  }
}

/** The high word of v encoded as a double (same preconditions as extToSingle, for 53 bits). */
export function extToDoubleHigh(v: Ext): number {
  const sign = v.sign << 31;
  switch (v.kind) {
    case KIND_ZERO:
      return sign;
    case KIND_FINITE:
      if (v.exponent < DOUBLE_EMIN)
        return sign | shiftRightHigh(v.high, v.low, 11 + DOUBLE_EMIN - v.exponent);
      return sign | ((v.exponent + 1023) << 20) | ((v.high >>> 11) & 0xfffff);
    case KIND_INFINITY:
      return sign | 0x7ff00000;
    default:
      return sign | 0x7ff00000 | ((v.high >>> 11) & 0xfffff);
  }
}

export function extToDoubleLow(v: Ext): number {
  switch (v.kind) {
    case KIND_ZERO:
    case KIND_INFINITY:
      return 0;
    case KIND_FINITE:
      if (v.exponent < DOUBLE_EMIN) return shiftRightLow(v.high, v.low, 11 + DOUBLE_EMIN - v.exponent);
      return (v.high << 21) | (v.low >>> 11) | 0;
    default:
      return (v.high << 21) | (v.low >>> 11) | 0;
  }
}

/** A signed 64-bit integer (two's complement halves) as an exact extended value. */
export function int64ToExt(high: number, low: number, out: Ext): void {
  if (high < 0) {
    // Negate: ~x + 1
    let l = (~low >>> 0) + 1;
    let h = ~high >>> 0;
    if (l > 0xffffffff) {
      l = 0;
      h = (h + 1) >>> 0;
    }
    out.setInteger(1, h, l);
  } else {
    out.setInteger(0, high, low);
  }
}

/** Reads and writes the host's doubles bit by bit: the bridge for transcendental functions. */
export class HostDoubles {
  private readonly view = new DataView(new ArrayBuffer(8));

  /** The exact value of a host double as an extended value. */
  toExt(x: number, out: Ext): void {
    this.view.setFloat64(0, x, true);
    doubleToExt(this.view.getUint32(4, true) | 0, this.view.getUint32(0, true), out);
    out.denormal = false;
  }

  /**
   * v (finite or zero) as a host double, rounded to nearest; beyond the double range the result is
   * an infinity or zero. Significand bits beyond 53 are rounded once.
   */
  fromExt(v: Ext): number {
    if (v.kind === KIND_ZERO) return v.sign === 1 ? -0 : 0;
    if (v.kind === KIND_INFINITY) return v.sign === 1 ? -Infinity : Infinity;
    if (v.kind !== KIND_FINITE) return Number.NaN;
    const significand = v.high * 4294967296 + v.low; // rounded to 53 bits once
    const magnitude = scaleByPowerOfTwo(significand, v.exponent - 63);
    return v.sign === 1 ? -magnitude : magnitude;
  }
}

/** x * 2^n without intermediate overflow or underflow (in steps, so huge |n| still works). */
export function scaleByPowerOfTwo(x: number, n: number): number {
  while (n > 1000) {
    x *= 2 ** 1000;
    n -= 1000;
    if (!Number.isFinite(x)) return x;
  }
  while (n < -1000) {
    // Keep the last step the only one that may round (into the denormal range).
    if (n > -2000) {
      x *= 2 ** (n + 1000);
      n = -1000;
      break;
    }
    x *= 2 ** -1000;
    n += 1000;
    if (x === 0) return x;
  }
  return x * 2 ** n;
}

import { type Ext, KIND_FINITE } from "./float80.js";

const TWO32 = 4294967296;

/**
 * Exact arithmetic on finite, non-zero extended values: the significands are 64-bit integers held
 * as 32-bit halves, and every operation produces the exact result's top 64 bits plus `fraction`,
 * the rest of it (guard and sticky bits) in units of the last bit, for roundExt(). Nothing here
 * allocates; the object keeps its scratch words between calls.
 */
export class ExtArithmetic {
  /** The exact result's part below the significand (see roundExt), set by every operation. */
  fraction = 0;
  /** FPREM/FPREM1: the low three bits of the quotient, and whether the reduction was partial. */
  quotientBits = 0;
  partial = false;

  // 96-bit (w0 high) and 128-bit scratch words.
  private w0 = 0;
  private w1 = 0;
  private w2 = 0;
  private productHigh = 0;
  private productLow = 0;

  /** out = a + b, or a - b when `subtract`. Returns false when the exact result is zero. */
  add(a: Ext, b: Ext, subtract: boolean, out: Ext): boolean {
    const bSign = subtract ? b.sign ^ 1 : b.sign;
    // Order by magnitude: x is the larger.
    let aLarger: boolean;
    if (a.exponent !== b.exponent) aLarger = a.exponent > b.exponent;
    else if (a.high !== b.high) aLarger = a.high > b.high;
    else aLarger = a.low >= b.low;
    const x = aLarger ? a : b;
    const y = aLarger ? b : a;
    const xSign = aLarger ? a.sign : bSign;
    const ySign = aLarger ? bSign : a.sign;
    // y's significand shifted right by the exponent difference into three words, lost bits jammed
    // into the lowest bit: they lie far below the rounding position whenever any are lost.
    this.shiftRight96(y.high, y.low, x.exponent - y.exponent);
    let h = x.high;
    let m = x.low;
    let l = 0;
    let exponent = x.exponent;
    if (xSign === ySign) {
      l += this.w2;
      let carry = l >= TWO32 ? 1 : 0;
      l -= carry * TWO32;
      m += this.w1 + carry;
      carry = m >= TWO32 ? 1 : 0;
      m -= carry * TWO32;
      h += this.w0 + carry;
      if (h >= TWO32) {
        // Carry out of bit 63: shift right one, keeping the lost bit sticky.
        const lost = l & 1;
        l = ((l >>> 1) | ((m & 1) << 31) | lost) >>> 0;
        m = ((m >>> 1) | ((h & 1) << 31)) >>> 0;
        h = Math.floor(h / 2);
        exponent += 1;
      }
    } else {
      l -= this.w2;
      let borrow = l < 0 ? 1 : 0;
      l += borrow * TWO32;
      m -= this.w1 + borrow;
      borrow = m < 0 ? 1 : 0;
      m += borrow * TWO32;
      h -= this.w0 + borrow;
      if (h === 0 && m === 0 && l === 0) return false;
      // Normalize: a large shift happens only for close exponents, where nothing was lost.
      while (h === 0) {
        h = m;
        m = l;
        l = 0;
        exponent -= 32;
      }
      const shift = Math.clz32(h);
      if (shift !== 0) {
        h = ((h << shift) | (m >>> (32 - shift))) >>> 0;
        m = ((m << shift) | (l >>> (32 - shift))) >>> 0;
        l = (l << shift) >>> 0;
        exponent -= shift;
      }
    }
    out.kind = KIND_FINITE;
    out.sign = xSign;
    out.exponent = exponent;
    out.high = h >>> 0;
    out.low = m >>> 0;
    out.denormal = false;
    this.fraction = l / TWO32;
    return true;
  }

  /** w0:w1:w2 = (high:low:0) >> n, with any lost bit ORed into bit 0 of w2. */
  private shiftRight96(high: number, low: number, n: number): void {
    let w0 = high;
    let w1 = low;
    let w2 = 0;
    let lost = 0;
    if (n >= 96) {
      lost = high | low;
      w0 = w1 = w2 = 0;
    } else {
      while (n >= 32) {
        lost |= w2;
        w2 = w1;
        w1 = w0;
        w0 = 0;
        n -= 32;
      }
      if (n > 0) {
        lost |= w2 & ((1 << n) - 1);
        w2 = ((w2 >>> n) | (w1 << (32 - n))) >>> 0;
        w1 = ((w1 >>> n) | (w0 << (32 - n))) >>> 0;
        w0 = w0 >>> n;
      }
    }
    this.w0 = w0;
    this.w1 = w1;
    this.w2 = (w2 | (lost !== 0 ? 1 : 0)) >>> 0;
  }

  /** productHigh:productLow = a * b for unsigned 32-bit a, b (exact, through 16-bit pieces). */
  private multiply32(a: number, b: number): void {
    const a0 = a & 0xffff;
    const a1 = a >>> 16;
    const b0 = b & 0xffff;
    const b1 = b >>> 16;
    const middle = a0 * b1 + a1 * b0; // < 2^33
    const middleLow = middle % 65536;
    const low = a0 * b0 + middleLow * 65536; // < 2^33
    const carry = Math.floor(low / TWO32);
    this.productLow = low - carry * TWO32;
    this.productHigh = a1 * b1 + Math.floor(middle / 65536) + carry;
  }

  /** out = a * b (signs and exponents combined; the 128-bit product's tail goes to `fraction`). */
  multiply(a: Ext, b: Ext, out: Ext): void {
    // r3:r2:r1:r0 = (a.high:a.low) * (b.high:b.low)
    this.multiply32(a.low, b.low);
    const r0 = this.productLow;
    let r1 = this.productHigh;
    this.multiply32(a.low, b.high);
    r1 += this.productLow;
    let r2 = this.productHigh;
    this.multiply32(a.high, b.low);
    r1 += this.productLow;
    r2 += this.productHigh;
    this.multiply32(a.high, b.high);
    r2 += this.productLow;
    let r3 = this.productHigh;
    // Propagate carries (each word < 2^35 here).
    let carry = Math.floor(r1 / TWO32);
    r1 -= carry * TWO32;
    r2 += carry;
    carry = Math.floor(r2 / TWO32);
    r2 -= carry * TWO32;
    r3 += carry;
    let exponent = a.exponent + b.exponent;
    let rest = r0;
    if (r3 >= 0x80000000) {
      exponent += 1;
    } else {
      r3 = ((r3 << 1) | (r2 >>> 31)) >>> 0;
      r2 = ((r2 << 1) | (r1 >>> 31)) >>> 0;
      r1 = ((r1 << 1) | (r0 >>> 31)) >>> 0;
      rest = (r0 << 1) >>> 0;
    }
    out.kind = KIND_FINITE;
    out.sign = a.sign ^ b.sign;
    out.exponent = exponent;
    out.high = r3 >>> 0;
    out.low = r2 >>> 0;
    out.denormal = false;
    // The next 32 bits, and whether anything below them is set: exactly representable as a double.
    this.fraction = (r1 * 2 + (rest !== 0 ? 1 : 0)) / (TWO32 * 2);
  }

  /** out = a / b, by restoring long division: 64 quotient bits plus a guard bit and a sticky bit. */
  divide(a: Ext, b: Ext, out: Ext): void {
    const bh = b.high;
    const bl = b.low;
    let rh = a.high;
    let rl = a.low;
    let rc = 0; // bit 64 of the partial remainder
    let exponent = a.exponent - b.exponent;
    if (rh < bh || (rh === bh && rl < bl)) {
      exponent -= 1;
      rc = rh >>> 31;
      rh = ((rh << 1) | (rl >>> 31)) >>> 0;
      rl = (rl << 1) >>> 0;
    }
    let qh = 0;
    let ql = 0;
    let guard = 0;
    for (let i = 0; i < 65; i++) {
      let bit = 0;
      if (rc !== 0 || rh > bh || (rh === bh && rl >= bl)) {
        let low = rl - bl;
        const borrow = low < 0 ? 1 : 0;
        low += borrow * TWO32;
        rl = low;
        rh = (rh - bh - borrow + TWO32) % TWO32;
        rc = 0;
        bit = 1;
      }
      if (i < 64) {
        qh = ((qh << 1) | (ql >>> 31)) >>> 0;
        ql = ((ql << 1) | bit) >>> 0;
      } else {
        guard = bit;
      }
      rc = rh >>> 31;
      rh = ((rh << 1) | (rl >>> 31)) >>> 0;
      rl = (rl << 1) >>> 0;
    }
    const sticky = rc !== 0 || rh !== 0 || rl !== 0;
    out.kind = KIND_FINITE;
    out.sign = a.sign ^ b.sign;
    out.exponent = exponent;
    out.high = qh;
    out.low = ql;
    out.denormal = false;
    this.fraction = guard * 0.5 + (sticky ? 0.25 : 0);
  }

  /** out = sqrt(a) for positive a, digit by digit: 65 root bits of a 130-bit radicand. */
  squareRoot(a: Ext, out: Ext): void {
    // Radicand M = significand * 2^s with s in {65, 66} so that the exponent left over is even.
    const s = ((a.exponent - 63 - 65) & 1) === 0 ? 65 : 66;
    // Remainder and root as three words each (bit 64+ in the top word).
    let r2 = 0;
    let r1 = 0;
    let r0 = 0;
    let q2 = 0;
    let q1 = 0;
    let q0 = 0;
    const high = a.high;
    const low = a.low;
    for (let pair = 64; pair >= 0; pair--) {
      // The next two radicand bits: positions 2*pair+1 and 2*pair of M.
      const top = radicandBit(high, low, 2 * pair + 1 - s);
      const bottom = radicandBit(high, low, 2 * pair - s);
      // rem = rem * 4 + bits
      r2 = ((r2 << 2) | (r1 >>> 30)) >>> 0;
      r1 = ((r1 << 2) | (r0 >>> 30)) >>> 0;
      r0 = ((r0 << 2) | (top << 1) | bottom) >>> 0;
      // trial = root * 4 + 1
      const t2 = ((q2 << 2) | (q1 >>> 30)) >>> 0;
      const t1 = ((q1 << 2) | (q0 >>> 30)) >>> 0;
      const t0 = ((q0 << 2) | 1) >>> 0;
      const fits = r2 !== t2 ? r2 > t2 : r1 !== t1 ? r1 > t1 : r0 >= t0;
      // root = root * 2 + fits
      q2 = ((q2 << 1) | (q1 >>> 31)) >>> 0;
      q1 = ((q1 << 1) | (q0 >>> 31)) >>> 0;
      q0 = ((q0 << 1) | (fits ? 1 : 0)) >>> 0;
      if (fits) {
        let d0 = r0 - t0;
        let borrow = d0 < 0 ? 1 : 0;
        d0 += borrow * TWO32;
        let d1 = r1 - t1 - borrow;
        borrow = d1 < 0 ? 1 : 0;
        d1 += borrow * TWO32;
        r2 = (r2 - t2 - borrow) >>> 0;
        r1 = d1;
        r0 = d0;
      }
    }
    // root has 65 bits (q2 holds bit 64): the significand is root >> 1, the guard is bit 0.
    const guard = q0 & 1;
    const sticky = r2 !== 0 || r1 !== 0 || r0 !== 0;
    out.kind = KIND_FINITE;
    out.sign = 0;
    out.exponent = (a.exponent - 63 - s) / 2 + 64;
    out.high = ((q2 << 31) | (q1 >>> 1)) >>> 0;
    out.low = ((q1 << 31) | (q0 >>> 1)) >>> 0;
    out.denormal = false;
    this.fraction = guard * 0.5 + (sticky ? 0.25 : 0);
  }

  /**
   * FPREM (truncating quotient) or FPREM1 (nearest quotient): out = a - q*b, exact. When the
   * exponents differ by 64 or more only a partial reduction is made (`partial`), as the x87 does:
   * the quotient is then computed for `partialBits` bits only. Returns false when the remainder is 0.
   */
  remainder(a: Ext, b: Ext, nearest: boolean, partialBits: number, out: Ext): boolean {
    let difference = a.exponent - b.exponent;
    this.partial = false;
    this.quotientBits = 0;
    out.kind = KIND_FINITE;
    out.denormal = false;
    out.sign = a.sign;
    if (difference < 0) {
      // |a| < |b|: the quotient is 0, except that FPREM1 rounds a quotient above one half to 1.
      if (nearest && difference === -1 && (a.high > b.high || (a.high === b.high && a.low > b.low))) {
        // r = b - a, computed as b - (a - b) with a and b scaled to a's exponent (b doubled).
        const dl = a.low - b.low;
        const borrow = dl < 0 ? 1 : 0;
        const excessLow = dl + borrow * TWO32;
        const excessHigh = a.high - b.high - borrow;
        let low = b.low - excessLow;
        const borrow2 = low < 0 ? 1 : 0;
        low += borrow2 * TWO32;
        const high = b.high - excessHigh - borrow2;
        out.setFinite(a.sign ^ 1, a.exponent, high, low);
        this.quotientBits = 1;
        return true;
      }
      out.exponent = a.exponent;
      out.high = a.high;
      out.low = a.low;
      return true;
    }
    let bits = difference + 1;
    if (difference >= 64) {
      this.partial = true;
      bits = partialBits + 1;
      difference = partialBits;
    }
    // Long division of a's significand by b's, `bits` quotient bits; the remainder is at b's scale.
    const bh = b.high;
    const bl = b.low;
    let rh = a.high;
    let rl = a.low;
    let rc = 0;
    let q = 0; // low 32 quotient bits suffice for the reported bits and FPREM1's rounding
    for (let i = 0; i < bits; i++) {
      let bit = 0;
      if (rc !== 0 || rh > bh || (rh === bh && rl >= bl)) {
        let low = rl - bl;
        const borrow = low < 0 ? 1 : 0;
        low += borrow * TWO32;
        rl = low;
        rh = (rh - bh - borrow + TWO32) % TWO32;
        rc = 0;
        bit = 1;
      }
      q = ((q << 1) | bit) >>> 0;
      if (i < bits - 1) {
        rc = rh >>> 31;
        rh = ((rh << 1) | (rl >>> 31)) >>> 0;
        rl = (rl << 1) >>> 0;
      }
    }
    // The remainder r = rh:rl at exponent scale of b, shifted by what the partial reduction left.
    const remainderExponent = b.exponent + (a.exponent - b.exponent - difference);
    let sign = a.sign;
    if (nearest && !this.partial) {
      // Round the quotient to nearest: compare 2r with b.
      const twiceHigh = rh * 2 + (rl >>> 31);
      const twiceLow = (rl << 1) >>> 0;
      const above = twiceHigh !== bh ? twiceHigh > bh : twiceLow > bl;
      const tie = twiceHigh === bh && twiceLow === bl;
      if (above || (tie && (q & 1) === 1)) {
        // r = b - r, quotient + 1
        let low = bl - rl;
        const borrow = low < 0 ? 1 : 0;
        low += borrow * TWO32;
        rh = bh - rh - borrow;
        rl = low;
        q = (q + 1) >>> 0;
        sign ^= 1;
      }
    }
    this.quotientBits = q & 7;
    if (rh === 0 && rl === 0) {
      out.setZero(a.sign);
      return false;
    }
    out.setFinite(sign, remainderExponent, rh, rl);
    return true;
  }
}

/** Bit n of the 64-bit significand high:low (0 outside 0..63): the radicand's bits. */
function radicandBit(high: number, low: number, n: number): number {
  if (n < 0 || n > 63) return 0;
  return n < 32 ? (low >>> n) & 1 : (high >>> (n - 32)) & 1;
}

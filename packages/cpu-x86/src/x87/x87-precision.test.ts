// How exact are FADD, FSUB, FMUL, FDIV and FSQRT? Random 80-bit operands with full 64-bit
// significands; the reference is exact rational arithmetic (BigInt) rounded to nearest-even at the
// precision control's width. The same operands computed in host doubles are measured too, to show
// what a double-based FPU would give.
import { describe, expect, it } from "vitest";
import { STOP_HLT } from "../cpu.js";
import { CODE_BASE, realModeCpu } from "../machine.test-support.js";

const BIAS = 16383n;

/** A positive finite 80-bit value: significand m (bit 63 set) and biased exponent e. */
interface Value {
  m: bigint;
  e: number;
}

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
}

/** value = m * 2^(e - 16383 - 63), as numerator/denominator. */
function toRational(v: Value): [bigint, bigint] {
  const shift = BigInt(v.e) - BIAS - 63n;
  return shift >= 0n ? [v.m << shift, 1n] : [v.m, 1n << -shift];
}

/** Rounds n/d (positive) to `p` significant bits, to nearest-even: returns [significand, exponent]. */
function roundRational(n: bigint, d: bigint, p: number): [bigint, bigint] {
  // Find k with 2^(p-1) <= n / (d 2^k) < 2^p.
  let k = BigInt(n.toString(2).length - d.toString(2).length - p);
  const scaled = (kk: bigint): [bigint, bigint] => (kk >= 0n ? [n, d << kk] : [n << -kk, d]);
  for (;;) {
    const [nn, dd] = scaled(k);
    const q = nn / dd;
    if (q >= 1n << BigInt(p)) k += 1n;
    else if (q < 1n << BigInt(p - 1)) k -= 1n;
    else {
      const remainder2 = 2n * (nn - q * dd);
      let m = q;
      if (remainder2 > dd || (remainder2 === dd && (q & 1n) === 1n)) m += 1n;
      return [m, k];
    }
  }
}

/** Rounds sqrt(n/d) to `p` bits, to nearest (a square root of a dyadic value is never a tie here). */
function roundSquareRoot(n: bigint, d: bigint, p: number): [bigint, bigint] {
  // sqrt(n/d) = sqrt(n d) / d; find k with the root scaled by 2^-k in [2^(p-1), 2^p), one guard bit.
  const radicand = n * d;
  let k = BigInt(Math.floor(radicand.toString(2).length / 2) - d.toString(2).length + 1 - p);
  for (;;) {
    // q2 = floor(sqrt(radicand) * 2 / (d 2^k)) = floor(sqrt(radicand * 4 / (d^2 4^k)))
    const denominator = k >= 0n ? d * d * (1n << (2n * k)) : d * d;
    const numerator = k >= 0n ? radicand * 4n : radicand * 4n * (1n << (-2n * k));
    const q2 = isqrt(numerator / denominator);
    const q = q2 >> 1n;
    if (q >= 1n << BigInt(p)) k += 1n;
    else if (q < 1n << BigInt(p - 1)) k -= 1n;
    else return [(q2 & 1n) === 1n ? q + 1n : q, k];
  }
}

/** floor(sqrt(x)), by Newton's method from above. */
function isqrt(x: bigint): bigint {
  if (x < 2n) return x;
  let y = 1n << BigInt((x.toString(2).length + 1) >> 1);
  for (;;) {
    const next = (y + x / y) >> 1n;
    if (next >= y) return y;
    y = next;
  }
}

/** The canonical form of m * 2^k: odd significand (or zero). */
function canonical(m: bigint, k: bigint): string {
  if (m === 0n) return "0";
  while ((m & 1n) === 0n) {
    m >>= 1n;
    k += 1n;
  }
  return `${m}p${k}`;
}

const OPERATIONS = [
  { name: "fadd", code: [0xde, 0xc1] }, // faddp: st1 = st1 + st0
  { name: "fsub", code: [0xde, 0xe9] }, // fsubp: st1 = st1 - st0
  { name: "fmul", code: [0xde, 0xc9] },
  { name: "fdiv", code: [0xde, 0xf9] }, // fdivp: st1 = st1 / st0
  { name: "fsqrt", code: [0xd9, 0xfa] }, // st0 = sqrt(st0)
];

const machine = realModeCpu([]);

/** Runs one operation on a (ST1) and b (ST0) at precision control pc; returns the canonical result. */
function emulate(code: number[], a: Value, b: Value, pc: number): string {
  const { cpu, memory } = machine;
  memory.write(CODE_BASE, Uint8Array.from([...code, 0xf4]));
  const fpu = cpu.fpu;
  fpu.init();
  fpu.setControlWord(0x007f | (pc << 8));
  for (const v of [a, b]) {
    fpu.push();
    fpu.writeRaw(0, v.e, Number(v.m >> 32n) | 0, Number(v.m & 0xffffffffn) | 0);
  }
  cpu.eip = CODE_BASE;
  cpu.halted = false;
  if (cpu.run(5) !== STOP_HLT) throw new Error(cpu.internalError);
  const p = fpu.physical(0);
  const e = fpu.signExponent[p] & 0x7fff;
  const m = (BigInt(fpu.significandHigh[p] >>> 0) << 32n) | BigInt(fpu.significandLow[p] >>> 0);
  const sign = (fpu.signExponent[p] & 0x8000) !== 0 && m !== 0n ? "-" : "";
  return sign + canonical(m, BigInt(e) - BIAS - 63n);
}

/** The exactly rounded result. */
function reference(name: string, a: Value, b: Value, p: number): string {
  const [an, ad] = toRational(a);
  const [bn, bd] = toRational(b);
  let n: bigint;
  let d: bigint;
  switch (name) {
    case "fadd":
      [n, d] = [an * bd + bn * ad, ad * bd];
      break;
    case "fsub":
      [n, d] = [an * bd - bn * ad, ad * bd];
      break;
    case "fmul":
      [n, d] = [an * bn, ad * bd];
      break;
    case "fdiv":
      [n, d] = [an * bd, ad * bn];
      break;
    default: {
      const [m, k] = roundSquareRoot(bn, bd, p);
      return canonical(m, k);
    }
  }
  if (n === 0n) return "0";
  const sign = n < 0n ? "-" : "";
  const [m, k] = roundRational(n < 0n ? -n : n, d, p);
  return sign + canonical(m, k);
}

/** The same operation in host doubles (operands rounded to doubles first). */
function inDoubles(name: string, a: Value, b: Value): string {
  const x = Number(a.m) * 2 ** (a.e - 16383 - 63);
  const y = Number(b.m) * 2 ** (b.e - 16383 - 63);
  const r =
    name === "fadd"
      ? x + y
      : name === "fsub"
        ? x - y
        : name === "fmul"
          ? x * y
          : name === "fdiv"
            ? x / y
            : Math.sqrt(y);
  if (r === 0) return "0";
  const view = new DataView(new ArrayBuffer(8));
  view.setFloat64(0, Math.abs(r));
  const bits = view.getBigUint64(0);
  const exponent = Number((bits >> 52n) & 0x7ffn);
  const m = (bits & ((1n << 52n) - 1n)) | (1n << 52n);
  return (r < 0 ? "-" : "") + canonical(m, BigInt(exponent - 1023 - 52));
}

describe("x87 precision", () => {
  it("rounds +, -, *, / and sqrt exactly at 64-bit and 53-bit precision control", () => {
    const random = new Random(0xc0ffee);
    const value = (): Value => ({
      m: (BigInt((random.next() | 0x80000000) >>> 0) << 32n) | BigInt(random.next()),
      e: 16383 - 8 + (random.next() % 16),
    });
    const lines: string[] = [];
    let failures = 0;
    for (const { name, code } of OPERATIONS) {
      const samples = Number(process.env.X87_SAMPLES ?? 2000);
      let exact64 = 0;
      let exact53 = 0;
      let doubles64 = 0;
      let doubles53 = 0;
      for (let i = 0; i < samples; i++) {
        const a = value();
        const b = value();
        const want64 = reference(name, a, b, 64);
        const want53 = reference(name, a, b, 53);
        if (emulate(code, a, b, 3) === want64) exact64++;
        if (emulate(code, a, b, 2) === want53) exact53++;
        const host = inDoubles(name, a, b);
        if (host === want64) doubles64++;
        if (host === want53) doubles53++;
      }
      failures += 2 * samples - exact64 - exact53;
      const percent = (n: number) => `${((100 * n) / samples).toFixed(1)}%`.padStart(6);
      lines.push(
        `${name.padEnd(5)} exactly rounded: PC=64 ${percent(exact64)}, PC=53 ${percent(exact53)}` +
          ` | host doubles would give: PC=64 ${percent(doubles64)}, PC=53 ${percent(doubles53)}`,
      );
    }
    console.log(
      `x87 precision (2000 random 64-bit-significand operands per operation):\n${lines.join("\n")}`,
    );
    expect(failures).toBe(0);
  });
});

import {
  type Ext,
  KIND_QNAN,
  KIND_SNAN,
  KIND_UNSUPPORTED,
  ROUND_INEXACT,
  ROUND_UP,
  roundExt,
} from "./float80.js";
import { SW_C1, SW_DE, SW_IE, SW_PE, SW_SF, SW_ZE, type X87 } from "./x87.js";

/** Responses shared by x87 instructions: stack faults, masked/unmasked exception handling, NaNs. */

/** Stack faults: IE|SF, with C1 telling overflow (1) from underflow (0). */
export const STACK_UNDERFLOW = SW_IE | SW_SF;
export const STACK_OVERFLOW = SW_IE | SW_SF | SW_C1;

/**
 * Signals a stack fault. Returns true when it is masked, so the caller delivers the masked
 * response (the QNaN indefinite); false when unmasked: nothing else changes.
 */
export function stackFault(fpu: X87, flags: number): boolean {
  fpu.setConditionCodes(SW_C1, flags & SW_C1);
  fpu.signal(flags);
  return (fpu.controlWord & SW_IE) !== 0;
}

/** Checks that a push has room (ST(7) empty). On a masked overflow, pushes the indefinite. */
export function checkPush(fpu: X87): boolean {
  if (fpu.isEmpty(7)) return true;
  if (stackFault(fpu, STACK_OVERFLOW)) {
    fpu.push();
    fpu.writeIndefinite(0);
  }
  return false;
}

/**
 * Writes fpu.r to ST(dest) unless an unmasked pre-computation exception (IE, DE, ZE) forbids it,
 * records the flags and C1, and pops if asked.
 */
export function commitResult(fpu: X87, flags: number, dest: number, pop: boolean): void {
  if (abortsOnUnmasked(fpu, flags)) return;
  fpu.write(dest, fpu.r);
  fpu.setConditionCodes(SW_C1, flags & SW_C1);
  fpu.signal(flags);
  if (pop) fpu.pop();
}

/**
 * An unmasked invalid-operation, denormal or zero-divide exception stops the instruction before it
 * writes anything: only that exception is recorded. Returns true in that case.
 */
export function abortsOnUnmasked(fpu: X87, flags: number): boolean {
  const unmasked = flags & ~fpu.controlWord & (SW_IE | SW_DE | SW_ZE);
  if (unmasked === 0) return false;
  fpu.signal((flags & SW_IE) !== 0 ? SW_IE : flags & (SW_DE | SW_ZE));
  fpu.setConditionCodes(SW_C1, 0);
  return true;
}

/**
 * Propagates NaN operands into fpu.r as the x87 does (SNaNs quieted; of two NaNs the one with the
 * larger significand, a QNaN before an SNaN); unsupported encodings give the indefinite. Returns
 * the flags, or -1 when neither operand is a NaN or unsupported. `b` may be null for unary operations.
 */
export function propagateNaN(fpu: X87, a: Ext, b: Ext | null): number {
  const r = fpu.r;
  if (a.kind === KIND_UNSUPPORTED || (b !== null && b.kind === KIND_UNSUPPORTED)) {
    r.setIndefinite();
    return SW_IE;
  }
  const aNaN = a.kind === KIND_QNAN || a.kind === KIND_SNAN;
  const bNaN = b !== null && (b.kind === KIND_QNAN || b.kind === KIND_SNAN);
  if (!aNaN && !bNaN) return -1;
  const signaling = a.kind === KIND_SNAN || (b !== null && b.kind === KIND_SNAN);
  let pick = a;
  if (b !== null && bNaN) {
    if (!aNaN) pick = b;
    else if (a.kind !== b.kind) pick = a.kind === KIND_QNAN ? a : b;
    else if (b.high > a.high || (b.high === a.high && b.low > a.low)) pick = b;
    else if (b.high === a.high && b.low === a.low && a.sign === 1 && b.sign === 0) pick = b;
  }
  r.copyFrom(pick);
  r.kind = KIND_QNAN;
  r.high = (r.high | 0x40000000) >>> 0;
  return signaling ? SW_IE : 0;
}

/**
 * Rounds fpu.r (finite) to an integer by RC in place. Returns SW_PE | SW_C1 (rounded up) bits.
 */
export function roundToInteger(fpu: X87, v: Ext): number {
  const round = roundExt(v, 0, v.exponent + 1, fpu.roundingControl, -0x7fffffff, false);
  return ((round & ROUND_INEXACT) !== 0 ? SW_PE : 0) | ((round & ROUND_UP) !== 0 ? SW_C1 : 0);
}

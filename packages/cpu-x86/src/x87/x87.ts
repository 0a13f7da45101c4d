import { ExtArithmetic } from "./ext-arithmetic.js";
import {
  EXT_EMAX,
  EXT_EMIN,
  Ext,
  encodedHigh,
  encodedLow,
  encodedSignExponent,
  KIND_FINITE,
  KIND_ZERO,
  overflowResult,
  ROUND_INEXACT,
  ROUND_TINY,
  ROUND_UP,
  roundExt,
  unpackExt,
} from "./float80.js";
import { HostDoubles } from "./formats.js";

/** Status word bits. */
export const SW_IE = 0x0001;
export const SW_DE = 0x0002;
export const SW_ZE = 0x0004;
export const SW_OE = 0x0008;
export const SW_UE = 0x0010;
export const SW_PE = 0x0020;
export const SW_SF = 0x0040;
export const SW_ES = 0x0080;
export const SW_C0 = 0x0100;
export const SW_C1 = 0x0200;
export const SW_C2 = 0x0400;
export const SW_TOP = 0x3800;
export const SW_C3 = 0x4000;
export const SW_B = 0x8000;
export const SW_EXCEPTIONS = 0x3f;
export const SW_CONDITION = SW_C0 | SW_C1 | SW_C2 | SW_C3;

/** Control word: exception masks in bits 0-5 (as SW_*), precision control, rounding control. */
export const CW_PC_SHIFT = 8;
export const CW_RC_SHIFT = 10;
/** Bits that always read as 0 (7, 13-15) and bit 6, which always reads as 1. */
const CW_RESERVED = 0xe0c0;
const CW_ALWAYS_ONE = 0x0040;

/** FNINIT's control word: all exceptions masked, 64-bit precision, round to nearest. */
export const CW_INIT = 0x037f;

/** Tag values (two bits per physical register in the full tag word). */
export const TAG_VALID = 0;
export const TAG_ZERO = 1;
export const TAG_SPECIAL = 2;
export const TAG_EMPTY = 3;

/** Unmasked OE/UE on a register destination: the exponent is wrapped by this bias adjustment. */
export const BIAS_ADJUST = 24576;

/** Precision control values -> significand bits (PC=1 is reserved and behaves as 24 bits here). */
const PRECISION_BITS = [24, 24, 53, 64];

/** The FPU state as plain data, for snapshots. Registers are indexed physically (not by ST(i)). */
export interface X87State {
  controlWord: number;
  /** Including TOP in bits 11-13. */
  statusWord: number;
  /** Bit i set: physical register i is empty. */
  emptyMask: number;
  signExponent: number[];
  significandHigh: number[];
  significandLow: number[];
  instructionOffset: number;
  instructionSelector: number;
  opcode: number;
  dataOffset: number;
  dataSelector: number;
  ignne: boolean;
}

/**
 * The x87 FPU's architectural state and the primitives instructions are built from: the register
 * stack (80-bit registers kept bit-exact as a sign/exponent word and two significand halves),
 * control/status words, the abridged tag (empty bits; full tags are derived from the contents, as
 * P6 processors do), the last-instruction pointers, and exception signalling (ES, FERR#).
 */
export class X87 {
  controlWord = CW_ALWAYS_ONE;
  /** The status word without TOP. */
  statusFlags = 0;
  top = 0;
  /** Bit i set: physical register i is empty. */
  emptyMask = 0;
  readonly signExponent = new Uint16Array(8);
  readonly significandHigh = new Int32Array(8);
  readonly significandLow = new Int32Array(8);
  /** FPU instruction pointer (offset and CS selector), last opcode (11 bits), data pointer. */
  instructionOffset = 0;
  instructionSelector = 0;
  opcode = 0;
  dataOffset = 0;
  dataSelector = 0;

  /** IGNNE# input: while asserted (and CR0.NE=0), waiting instructions ignore a pending exception. */
  ignne = false;
  /** FERR# output, for a host that routes it to IRQ13 (CR0.NE=0, MS-DOS compatible error reporting). */
  onFerr: ((asserted: boolean) => void) | undefined = undefined;
  private ferrAsserted = false;

  /** Scratch values and arithmetic for the executor: reused, so instructions allocate nothing. */
  readonly a = new Ext();
  readonly b = new Ext();
  readonly r = new Ext();
  readonly r2 = new Ext();
  readonly arithmetic = new ExtArithmetic();
  readonly hostDoubles = new HostDoubles();
  /** Scratch for FRSTOR/FXRSTOR, which read everything before changing anything. */
  readonly loadSignExponent = new Uint16Array(8);
  readonly loadHigh = new Int32Array(8);
  readonly loadLow = new Int32Array(8);

  constructor() {
    this.reset();
  }

  /** Power-on (RESET) state of P6-family processors: CW 0040, tags valid, registers +0. */
  reset(): void {
    this.controlWord = CW_ALWAYS_ONE;
    this.statusFlags = 0;
    this.top = 0;
    this.emptyMask = 0;
    this.signExponent.fill(0);
    this.significandHigh.fill(0);
    this.significandLow.fill(0);
    this.clearPointers();
    this.updateFerr(0);
  }

  /** FNINIT: CW 037F, SW 0, all registers empty, pointers cleared. */
  init(): void {
    this.controlWord = CW_INIT;
    this.statusFlags = 0;
    this.top = 0;
    this.emptyMask = 0xff;
    this.clearPointers();
  }

  private clearPointers(): void {
    this.instructionOffset = 0;
    this.instructionSelector = 0;
    this.opcode = 0;
    this.dataOffset = 0;
    this.dataSelector = 0;
  }

  get statusWord(): number {
    return ((this.statusFlags & ~SW_TOP) | (this.top << 11)) & 0xffff;
  }

  /** Loads the status word (FLDENV, FRSTOR, FXRSTOR); ES and B follow the unmasked flags. */
  setStatusWord(value: number): void {
    this.top = (value >> 11) & 7;
    this.statusFlags = value & ~SW_TOP & 0xffff;
    this.syncSummary();
  }

  setControlWord(value: number): void {
    this.controlWord = ((value & ~CW_RESERVED) | CW_ALWAYS_ONE) & 0xffff;
    this.syncSummary();
  }

  get roundingControl(): number {
    return (this.controlWord >> CW_RC_SHIFT) & 3;
  }

  /** Significand bits that precision control selects (24, 53 or 64). */
  get precision(): number {
    return PRECISION_BITS[(this.controlWord >> CW_PC_SHIFT) & 3];
  }

  /** ES (and its copy B) are set exactly when an exception flag is set whose mask bit is clear. */
  syncSummary(): void {
    if ((this.statusFlags & ~this.controlWord & SW_EXCEPTIONS) !== 0) this.statusFlags |= SW_ES | SW_B;
    else this.statusFlags &= ~(SW_ES | SW_B);
  }

  /** Records exception flags (SW_IE..SW_PE, SW_SF) from an instruction. */
  signal(flags: number): void {
    this.statusFlags |= flags & (SW_EXCEPTIONS | SW_SF);
    this.syncSummary();
  }

  /** Sets C0-C3 from `codes` (SW_C* bits) within `mask`. */
  setConditionCodes(mask: number, codes: number): void {
    this.statusFlags = (this.statusFlags & ~mask) | (codes & mask);
  }

  /** A pending unmasked exception waits for the next waiting instruction. */
  get exceptionPending(): boolean {
    return (this.statusFlags & SW_ES) !== 0;
  }

  /** Drives FERR#: asserted while an unmasked exception is pending in MS-DOS compatible mode. */
  updateFerr(cr0: number): void {
    const asserted = (this.statusFlags & SW_ES) !== 0 && (cr0 & 0x20) === 0;
    if (asserted !== this.ferrAsserted) {
      this.ferrAsserted = asserted;
      this.onFerr?.(asserted);
    }
  }

  get ferr(): boolean {
    return this.ferrAsserted;
  }

  // ---------------------------------------------------------------------------------------------
  // The register stack.

  /** Physical register of ST(i). */
  physical(i: number): number {
    return (this.top + i) & 7;
  }

  isEmpty(i: number): boolean {
    return ((this.emptyMask >> ((this.top + i) & 7)) & 1) !== 0;
  }

  /** Unpacks ST(i) into `out` (regardless of its tag). */
  read(i: number, out: Ext): void {
    const p = (this.top + i) & 7;
    unpackExt(this.signExponent[p], this.significandHigh[p], this.significandLow[p], out);
  }

  /** Writes an encoded value to ST(i) and marks it in use. */
  writeRaw(i: number, signExponent: number, high: number, low: number): void {
    const p = (this.top + i) & 7;
    this.signExponent[p] = signExponent;
    this.significandHigh[p] = high;
    this.significandLow[p] = low;
    this.emptyMask &= ~(1 << p);
  }

  /** Writes a (rounded) value to ST(i). */
  write(i: number, value: Ext): void {
    this.writeRaw(i, encodedSignExponent(value), encodedHigh(value), encodedLow(value));
  }

  /** The QNaN indefinite, the masked response to invalid operations. */
  writeIndefinite(i: number): void {
    this.writeRaw(i, 0xffff, 0xc0000000 | 0, 0);
  }

  /** Copies ST(from) to ST(to) bit for bit. */
  copy(from: number, to: number): void {
    const p = (this.top + from) & 7;
    this.writeRaw(to, this.signExponent[p], this.significandHigh[p], this.significandLow[p]);
  }

  push(): void {
    this.top = (this.top - 1) & 7;
    this.emptyMask &= ~(1 << this.top);
  }

  pop(): void {
    this.emptyMask |= 1 << this.top;
    this.top = (this.top + 1) & 7;
  }

  /** Marks ST(i) empty (FFREE). */
  free(i: number): void {
    this.emptyMask |= 1 << ((this.top + i) & 7);
  }

  /** The tag of physical register p, derived from its contents (FSTENV, FSAVE). */
  tagOf(p: number): number {
    if (((this.emptyMask >> p) & 1) !== 0) return TAG_EMPTY;
    const exponent = this.signExponent[p] & 0x7fff;
    const high = this.significandHigh[p];
    if (exponent === 0) return high === 0 && this.significandLow[p] === 0 ? TAG_ZERO : TAG_SPECIAL;
    if (exponent === 0x7fff || high >= 0) return TAG_SPECIAL; // NaN, infinity, unnormal (J=0)
    return TAG_VALID;
  }

  /** The full tag word, two bits per physical register. */
  get tagWord(): number {
    let word = 0;
    for (let p = 0; p < 8; p++) word |= this.tagOf(p) << (2 * p);
    return word;
  }

  /** Loads a full tag word: only "empty" matters, the rest is derived from contents when read. */
  setTagWord(word: number): void {
    let mask = 0;
    for (let p = 0; p < 8; p++) if (((word >> (2 * p)) & 3) === TAG_EMPTY) mask |= 1 << p;
    this.emptyMask = mask;
  }

  // ---------------------------------------------------------------------------------------------
  // Rounding results for a register destination.

  /**
   * Rounds `v` (finite, unrounded, with `fraction` below its significand) to `precision` bits for
   * a register: handles overflow and underflow with the masked responses, or with the exponent
   * wrapped by BIAS_ADJUST when unmasked. Returns the SW_* flags raised, with SW_C1 meaning "rounded up".
   */
  roundForRegister(v: Ext, fraction: number, precision: number): number {
    const cw = this.controlWord;
    const rc = (cw >> CW_RC_SHIFT) & 3;
    const underflowMasked = (cw & SW_UE) !== 0;
    const bits = roundExt(v, fraction, precision, rc, EXT_EMIN, underflowMasked);
    let flags = 0;
    if ((bits & ROUND_INEXACT) !== 0) flags |= SW_PE;
    if ((bits & ROUND_UP) !== 0) flags |= SW_C1;
    if (v.kind === KIND_FINITE && v.exponent > EXT_EMAX) {
      if ((cw & SW_OE) !== 0) {
        flags = SW_OE | SW_PE | (overflowResult(v, precision, rc, EXT_EMAX) ? SW_C1 : 0);
      } else if (v.exponent - BIAS_ADJUST > EXT_EMAX) {
        // Beyond even the wrapped range (FSCALE can get here): infinity.
        v.setInfinity(v.sign);
        flags = SW_OE | SW_PE | SW_C1;
      } else {
        v.exponent -= BIAS_ADJUST;
        flags |= SW_OE;
      }
    } else if ((bits & ROUND_TINY) !== 0) {
      if (!underflowMasked) {
        v.exponent += BIAS_ADJUST;
        flags |= SW_UE;
        if (v.exponent < EXT_EMIN) {
          // Still tiny after wrapping (FSCALE can get here): zero.
          v.setZero(v.sign);
          flags = SW_UE | SW_PE;
        }
      } else if ((bits & ROUND_INEXACT) !== 0) {
        flags |= SW_UE;
      }
    }
    if (v.kind === KIND_ZERO) v.exponent = 0;
    return flags;
  }

  // ---------------------------------------------------------------------------------------------
  // Snapshots.

  getState(): X87State {
    return {
      controlWord: this.controlWord,
      statusWord: this.statusWord,
      emptyMask: this.emptyMask,
      signExponent: Array.from(this.signExponent),
      significandHigh: Array.from(this.significandHigh),
      significandLow: Array.from(this.significandLow),
      instructionOffset: this.instructionOffset,
      instructionSelector: this.instructionSelector,
      opcode: this.opcode,
      dataOffset: this.dataOffset,
      dataSelector: this.dataSelector,
      ignne: this.ignne,
    };
  }

  /** Restores a snapshot; out-of-range fields are masked to their architectural width. */
  setState(state: X87State): void {
    this.controlWord = ((state.controlWord & ~CW_RESERVED) | CW_ALWAYS_ONE) & 0xffff;
    this.top = (state.statusWord >> 11) & 7;
    this.statusFlags = state.statusWord & ~SW_TOP & 0xffff;
    this.emptyMask = state.emptyMask & 0xff;
    for (let p = 0; p < 8; p++) {
      this.signExponent[p] = state.signExponent[p] ?? 0;
      this.significandHigh[p] = state.significandHigh[p] ?? 0;
      this.significandLow[p] = state.significandLow[p] ?? 0;
    }
    this.instructionOffset = state.instructionOffset | 0;
    this.instructionSelector = state.instructionSelector & 0xffff;
    this.opcode = state.opcode & 0x7ff;
    this.dataOffset = state.dataOffset | 0;
    this.dataSelector = state.dataSelector & 0xffff;
    this.ignne = state.ignne === true;
  }
}

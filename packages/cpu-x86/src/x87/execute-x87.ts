import type { Cpu } from "../cpu.js";
import type { Instruction } from "../decoder.js";
import { SIZE32 } from "../flags.js";
import {
  CR0_EM,
  CR0_NE,
  CR0_PE,
  CR0_TS,
  CS,
  EXC_GP,
  EXC_MF,
  EXC_NM,
  FLAG_AF,
  FLAG_CF,
  FLAG_OF,
  FLAG_PF,
  FLAG_SF,
  FLAG_VM,
  FLAG_ZF,
} from "../registers.js";
import {
  compareOrdered,
  DOUBLE_EMAX,
  DOUBLE_EMIN,
  type Ext,
  KIND_FINITE,
  KIND_INFINITY,
  KIND_QNAN,
  KIND_SNAN,
  KIND_UNSUPPORTED,
  KIND_ZERO,
  overflowResult,
  RC_DOWN,
  ROUND_INEXACT,
  ROUND_TINY,
  ROUND_UP,
  roundExt,
  SINGLE_EMAX,
  SINGLE_EMIN,
  shiftRightHigh,
  shiftRightLow,
} from "./float80.js";
import {
  doubleToExt,
  extToDoubleHigh,
  extToDoubleLow,
  extToSingle,
  int64ToExt,
  singleToExt,
} from "./formats.js";
import {
  abortsOnUnmasked,
  checkPush,
  commitResult,
  propagateNaN,
  roundToInteger,
  STACK_UNDERFLOW,
  stackFault,
} from "./responses.js";
import { transcendental } from "./transcendental.js";
import {
  SW_C0,
  SW_C1,
  SW_C2,
  SW_C3,
  SW_CONDITION,
  SW_DE,
  SW_IE,
  SW_OE,
  SW_PE,
  SW_SF,
  SW_UE,
  SW_ZE,
  type X87,
} from "./x87.js";

/*
 * The x87 instruction set (escapeCode opcodes D8-DF), WAIT, and FXSAVE/FXRSTOR (0F AE /0 /1).
 *
 * Every instruction follows the x87's exception discipline: an unmasked invalid-operation, denormal
 * or divide-by-zero exception leaves the destination and the stack unchanged; unmasked overflow and
 * underflow still deliver a result to a register (exponent wrapped) but store nothing to memory; the
 * exception itself is taken (#MF, or FERR#) at the next waiting instruction.
 */

// Operations of the arithmetic group (ModRM.reg of D8/DC/DA/DE).
const OP_ADD = 0;
const OP_MUL = 1;
const OP_COM = 2;
const OP_COMP = 3;
const OP_SUB = 4;
const OP_SUBR = 5;
// 6 is OP_DIV: divisions are the default case of binaryOperation().
const OP_DIVR = 7;

/** Comparison outcomes, as C3 C2 C0 codes. */
const CMP_GREATER = 0;
const CMP_LESS = SW_C0;
const CMP_EQUAL = SW_C3;
const CMP_UNORDERED = SW_C3 | SW_C2 | SW_C0;

/** Integer indefinite values and the packed BCD indefinite. */
const FLAGS_FCOMI = FLAG_ZF | FLAG_PF | FLAG_CF | FLAG_OF | FLAG_SF | FLAG_AF;

// -----------------------------------------------------------------------------------------------
// Entry points.

/** D8-DF. The caller has already raised #NM for CR0.EM/TS. */
export function executeX87(cpu: Cpu, insn: Instruction): void {
  const fpu = cpu.fpu;
  const escapeCode = insn.opcode & 7;
  const memory = insn.mod !== 3;
  if (
    memory
      ? isUndefinedMemoryForm(escapeCode, insn.reg)
      : isUndefinedRegisterForm(escapeCode, insn.reg, insn.rm)
  ) {
    cpu.undefinedOpcode();
  }
  const control = memory
    ? isControlMemoryForm(escapeCode, insn.reg)
    : isControlRegisterForm(escapeCode, insn.reg, insn.rm);
  const waiting = !(memory
    ? isNoWaitMemoryForm(escapeCode, insn.reg)
    : isNoWaitRegisterForm(escapeCode, insn.reg, insn.rm));
  if (waiting && !checkPendingException(cpu)) return;
  if (memory) executeMemoryForm(cpu, fpu, insn, escapeCode);
  else executeRegisterForm(cpu, fpu, insn, escapeCode);
  if (!control) {
    // The last non-control instruction: its address, opcode and memory operand, for handlers.
    fpu.instructionOffset = cpu.instructionStart;
    fpu.instructionSelector = cpu.segSelector[CS];
    fpu.opcode = (escapeCode << 8) | (insn.mod << 6) | (insn.reg << 3) | insn.rm;
    if (memory) {
      fpu.dataOffset = cpu.effectiveAddress(insn);
      fpu.dataSelector = cpu.segSelector[insn.segment];
    }
  }
  fpu.updateFerr(cpu.cr0);
}

/** WAIT/FWAIT (after the caller's #NM check): reports a pending unmasked exception. */
export function executeWait(cpu: Cpu): void {
  checkPendingException(cpu);
  cpu.fpu.updateFerr(cpu.cr0);
}

/**
 * A waiting instruction with an unmasked exception pending: #MF when CR0.NE=1. With CR0.NE=0 the
 * P6 has asserted FERR# and now freezes until an external interrupt (the PC routes FERR# to IRQ13),
 * unless IGNNE# is asserted: the CPU halts at this instruction so that it runs again after the
 * handler. Returns true when the instruction may proceed.
 */
function checkPendingException(cpu: Cpu): boolean {
  const fpu = cpu.fpu;
  if (!fpu.exceptionPending) return true;
  if ((cpu.cr0 & CR0_NE) !== 0) cpu.raise(EXC_MF);
  fpu.updateFerr(cpu.cr0);
  if (fpu.ignne) return true;
  cpu.eip = cpu.instructionStart;
  cpu.halted = true;
  return false;
}

/** 0F AE: FXSAVE (/0) and FXRSTOR (/1) with a memory operand; everything else in group 15 is #UD here. */
export function executeGroup15(cpu: Cpu, insn: Instruction): void {
  if (insn.mod === 3 || insn.reg > 1) cpu.undefinedOpcode();
  if ((cpu.cr0 & (CR0_EM | CR0_TS)) !== 0) cpu.raise(EXC_NM);
  const offset = cpu.effectiveAddress(insn);
  const linear = cpu.linear(insn.segment, offset, 512);
  if ((linear & 15) !== 0) cpu.raise(EXC_GP, 0);
  if (insn.reg === 0) fxsave(cpu, insn, offset);
  else fxrstor(cpu, insn, offset);
  cpu.fpu.updateFerr(cpu.cr0);
}

// -----------------------------------------------------------------------------------------------
// Encoding classes.

function isUndefinedMemoryForm(escapeCode: number, reg: number): boolean {
  switch (escapeCode) {
    case 1:
      return reg === 1;
    case 3:
      return reg === 1 || reg === 4 || reg === 6; // FISTTP is SSE3
    case 5:
      return reg === 1 || reg === 5;
    case 7:
      return reg === 1;
    default:
      return false;
  }
}

function isUndefinedRegisterForm(escapeCode: number, reg: number, rm: number): boolean {
  switch (escapeCode) {
    case 1:
      if (reg === 2) return rm !== 0; // D9 D0 FNOP
      if (reg === 4) return rm === 2 || rm === 3 || rm === 6 || rm === 7;
      if (reg === 5) return rm === 7;
      return false;
    case 2:
      return reg >= 4 && !(reg === 5 && rm === 1); // DA E9 FUCOMPP
    case 3:
      if (reg === 4) return rm > 4; // FENI FDISI FNCLEX FNINIT FSETPM
      return reg === 7;
    case 5:
      return reg >= 6;
    case 6:
      return reg === 3 && rm !== 1; // DE D9 FCOMPP
    case 7:
      if (reg === 4) return rm !== 0; // DF E0 FNSTSW AX
      return reg === 7;
    default:
      return false;
  }
}

/** Control instructions leave the last-instruction pointers alone. */
function isControlMemoryForm(escapeCode: number, reg: number): boolean {
  return (escapeCode === 1 && reg >= 4) || (escapeCode === 5 && (reg === 4 || reg >= 6));
}

function isControlRegisterForm(escapeCode: number, reg: number, rm: number): boolean {
  return (escapeCode === 3 && reg === 4) || (escapeCode === 7 && reg === 4 && rm === 0);
}

/** FNSTENV, FNSTCW, FNSAVE, FNSTSW: they run with an exception pending. */
function isNoWaitMemoryForm(escapeCode: number, reg: number): boolean {
  return (escapeCode === 1 && reg >= 6) || (escapeCode === 5 && reg >= 6);
}

/** FNCLEX, FNINIT (and the obsolete FNENI, FNDISI, FNSETPM), FNSTSW AX. */
function isNoWaitRegisterForm(escapeCode: number, reg: number, rm: number): boolean {
  return (escapeCode === 3 && reg === 4) || (escapeCode === 7 && reg === 4 && rm === 0);
}

// -----------------------------------------------------------------------------------------------
// Memory operands.

function nextOffset(insn: Instruction, offset: number, delta: number): number {
  return insn.addressSize === SIZE32 ? (offset + delta) | 0 : (offset + delta) & 0xffff;
}

function executeMemoryForm(cpu: Cpu, fpu: X87, insn: Instruction, escapeCode: number): void {
  const segment = insn.segment;
  const offset = cpu.effectiveAddress(insn);
  const reg = insn.reg;
  const a = fpu.a;
  switch (escapeCode) {
    case 0: // D8: arithmetic with m32real
      singleToExt(cpu.read32(segment, offset), fpu.b);
      arithmeticWithOperand(fpu, reg, fpu.b);
      return;
    case 2: // DA: arithmetic with m32int
      int64ToExt(cpu.read32(segment, offset) >> 31, cpu.read32(segment, offset), fpu.b);
      arithmeticWithOperand(fpu, reg, fpu.b);
      return;
    case 4: // DC: arithmetic with m64real
      doubleToExt(cpu.read32(segment, nextOffset(insn, offset, 4)), cpu.read32(segment, offset), fpu.b);
      arithmeticWithOperand(fpu, reg, fpu.b);
      return;
    case 6: {
      // DE: arithmetic with m16int
      const value = (cpu.read16(segment, offset) << 16) >> 16;
      int64ToExt(value >> 31, value, fpu.b);
      arithmeticWithOperand(fpu, reg, fpu.b);
      return;
    }
    case 1:
      switch (reg) {
        case 0:
          singleToExt(cpu.read32(segment, offset), a);
          loadConverted(fpu, a);
          return;
        case 2:
        case 3:
          storeReal(cpu, fpu, insn, offset, 24, reg === 3);
          return;
        case 4:
          loadEnvironment(cpu, fpu, insn, offset);
          return;
        case 5:
          fpu.setControlWord(cpu.read16(segment, offset));
          return;
        case 6:
          storeEnvironment(cpu, fpu, insn, offset);
          fpu.controlWord |= 0x3f;
          return;
        default:
          cpu.write16(segment, offset, fpu.controlWord);
          return;
      }
    case 3:
      switch (reg) {
        case 0: {
          const value = cpu.read32(segment, offset);
          int64ToExt(value >> 31, value, a);
          loadConverted(fpu, a);
          return;
        }
        case 2:
        case 3:
          storeInteger(cpu, fpu, insn, offset, 32, reg === 3);
          return;
        case 5: {
          // FLD m80: bit for bit, no exceptions but stack overflow.
          const low = cpu.read32(segment, offset);
          const high = cpu.read32(segment, nextOffset(insn, offset, 4));
          const signExponent = cpu.read16(segment, nextOffset(insn, offset, 8));
          if (!checkPush(fpu)) return;
          fpu.push();
          fpu.writeRaw(0, signExponent, high, low);
          fpu.setConditionCodes(SW_C1, 0);
          return;
        }
        default: {
          // FSTP m80: bit for bit.
          cpu.linear(segment, offset, 10);
          if (fpu.isEmpty(0)) {
            if (!stackFault(fpu, STACK_UNDERFLOW)) return;
            writeExtended(cpu, insn, offset, 0xffff, 0xc0000000 | 0, 0);
          } else {
            const p = fpu.physical(0);
            writeExtended(
              cpu,
              insn,
              offset,
              fpu.signExponent[p],
              fpu.significandHigh[p],
              fpu.significandLow[p],
            );
            fpu.setConditionCodes(SW_C1, 0);
          }
          fpu.pop();
          return;
        }
      }
    case 5:
      switch (reg) {
        case 0:
          doubleToExt(cpu.read32(segment, nextOffset(insn, offset, 4)), cpu.read32(segment, offset), a);
          loadConverted(fpu, a);
          return;
        case 2:
        case 3:
          storeReal(cpu, fpu, insn, offset, 53, reg === 3);
          return;
        case 4:
          restoreState(cpu, fpu, insn, offset);
          return;
        case 6:
          saveState(cpu, fpu, insn, offset);
          return;
        default:
          cpu.write16(segment, offset, fpu.statusWord);
          return;
      }
    default:
      switch (reg) {
        case 0: {
          const value = (cpu.read16(segment, offset) << 16) >> 16;
          int64ToExt(value >> 31, value, a);
          loadConverted(fpu, a);
          return;
        }
        case 2:
        case 3:
          storeInteger(cpu, fpu, insn, offset, 16, reg === 3);
          return;
        case 4:
          loadBcd(cpu, fpu, insn, offset);
          return;
        case 5: {
          const low = cpu.read32(segment, offset);
          const high = cpu.read32(segment, nextOffset(insn, offset, 4));
          int64ToExt(high, low, a);
          loadConverted(fpu, a);
          return;
        }
        case 6:
          storeBcd(cpu, fpu, insn, offset);
          return;
        default:
          storeInteger(cpu, fpu, insn, offset, 64, true);
          return;
      }
  }
}

function writeExtended(
  cpu: Cpu,
  insn: Instruction,
  offset: number,
  signExponent: number,
  high: number,
  low: number,
) {
  cpu.write32(insn.segment, offset, low);
  cpu.write32(insn.segment, nextOffset(insn, offset, 4), high);
  cpu.write16(insn.segment, nextOffset(insn, offset, 8), signExponent);
}

// -----------------------------------------------------------------------------------------------
// Register forms.

function executeRegisterForm(cpu: Cpu, fpu: X87, insn: Instruction, escapeCode: number): void {
  const reg = insn.reg;
  const i = insn.rm;
  switch (escapeCode) {
    case 0: // D8: ST(0) = ST(0) op ST(i)
      arithmeticRegisters(fpu, reg, 0, i, false);
      return;
    case 4: // DC: ST(i) = ST(i) op ST(0); /2 /3 are FCOM/FCOMP aliases
      if (reg === OP_COM || reg === OP_COMP) arithmeticRegisters(fpu, reg, 0, i, false);
      else arithmeticRegisters(fpu, reg, i, i, false);
      return;
    case 6: // DE: the popping forms
      if (reg === OP_COMP && i === 1) {
        compareRegisters(fpu, 1, false, 2); // FCOMPP
      } else if (reg === OP_COM) {
        compareRegisters(fpu, i, false, 1); // FCOMP alias
      } else {
        arithmeticRegisters(fpu, reg, i, i, true);
      }
      return;
    case 1:
      executeD9Register(cpu, fpu, reg, i);
      return;
    case 2:
      if (reg < 4) conditionalMove(cpu, fpu, i, DA_CONDITIONS[reg], true);
      else compareRegisters(fpu, 1, true, 2); // DA E9 FUCOMPP
      return;
    case 3:
      if (reg < 4) conditionalMove(cpu, fpu, i, DA_CONDITIONS[reg], false);
      else if (reg === 4) {
        if (i === 2) {
          fpu.statusFlags &= ~(0x3f | SW_SF | 0x80 | 0x8000); // FNCLEX: exceptions, SF, ES, B
        } else if (i === 3) {
          fpu.init();
        }
        // FNENI, FNDISI, FNSETPM: no-ops since the 387.
      } else {
        compareToEflags(cpu, fpu, i, reg === 5, false); // FUCOMI (E8), FCOMI (F0)
      }
      return;
    case 5:
      switch (reg) {
        case 0: // FFREE
          fpu.free(i);
          fpu.setConditionCodes(SW_C1, 0);
          return;
        case 1: // FXCH alias
          exchange(fpu, i);
          return;
        case 2: // FST ST(i)
        case 3: // FSTP ST(i)
          storeRegister(fpu, i, reg === 3);
          return;
        case 4: // FUCOM
          compareRegisters(fpu, i, true, 0);
          return;
        default: // FUCOMP
          compareRegisters(fpu, i, true, 1);
          return;
      }
    default:
      switch (reg) {
        case 0: // FFREEP
          fpu.free(i);
          fpu.setConditionCodes(SW_C1, 0);
          fpu.pop();
          return;
        case 1: // FXCH alias
          exchange(fpu, i);
          return;
        case 2: // FSTP aliases
        case 3:
          storeRegister(fpu, i, true);
          return;
        case 4: // FNSTSW AX
          cpu.regs16[0] = fpu.statusWord;
          return;
        default:
          compareToEflags(cpu, fpu, i, reg === 5, true); // FUCOMIP (E8), FCOMIP (F0)
          return;
      }
  }
}

/** FCMOVcc conditions by ModRM.reg: B, E, BE, U (the DB forms are the negations). */
const DA_CONDITIONS = [2, 4, 6, 10];

function executeD9Register(cpu: Cpu, fpu: X87, reg: number, i: number): void {
  switch (reg) {
    case 0: {
      // FLD ST(i)
      if (!checkPush(fpu)) return;
      if (fpu.isEmpty(i)) {
        if (!stackFault(fpu, STACK_UNDERFLOW)) return;
        fpu.push();
        fpu.writeIndefinite(0);
        return;
      }
      const p = fpu.physical(i);
      fpu.push();
      fpu.writeRaw(0, fpu.signExponent[p], fpu.significandHigh[p], fpu.significandLow[p]);
      fpu.setConditionCodes(SW_C1, 0);
      return;
    }
    case 1:
      exchange(fpu, i);
      return;
    case 2: // FNOP
      return;
    case 3: // FSTP1, an undocumented alias of FSTP: with ST(0) empty it only pops, without a fault
      if (!fpu.isEmpty(0)) fpu.copy(0, i);
      fpu.setConditionCodes(SW_C1, 0);
      fpu.pop();
      return;
    case 4:
      switch (i) {
        case 0: // FCHS
        case 1: // FABS
          if (fpu.isEmpty(0)) {
            if (stackFault(fpu, STACK_UNDERFLOW)) fpu.writeIndefinite(0);
            return;
          }
          {
            const p = fpu.physical(0);
            fpu.signExponent[p] = i === 0 ? fpu.signExponent[p] ^ 0x8000 : fpu.signExponent[p] & 0x7fff;
          }
          fpu.setConditionCodes(SW_C1, 0);
          return;
        case 4: // FTST
          compareWithZero(fpu);
          return;
        default: // FXAM
          examine(fpu);
          return;
      }
    case 5:
      loadConstant(fpu, i);
      return;
    default:
      transcendental(cpu, fpu, (reg - 6) * 8 + i);
      return;
  }
}

// -----------------------------------------------------------------------------------------------
// Stack faults and loads.

/** Pushes a value converted from memory (single, double, integer): SNaN and denormal checks. */
function loadConverted(fpu: X87, value: Ext): void {
  if (!checkPush(fpu)) return;
  let flags = 0;
  if (value.kind === KIND_SNAN) {
    flags = SW_IE;
    value.high = (value.high | 0x40000000) >>> 0;
    value.kind = KIND_QNAN;
  } else if (value.denormal) {
    flags = SW_DE;
  }
  if ((flags & SW_IE & ~fpu.controlWord) !== 0) {
    // An unmasked SNaN loads nothing; a denormal loads even when #D is unmasked.
    fpu.setConditionCodes(SW_C1, 0);
    fpu.signal(flags);
    return;
  }
  fpu.push();
  fpu.write(0, value);
  fpu.setConditionCodes(SW_C1, 0);
  fpu.signal(flags);
}

/** Constant significands, rounded by RC from the 66-bit internal values as P6 processors do. */
const CONSTANT_EXPONENT = [0x3fff, 0x4000, 0x3fff, 0x4000, 0x3ffd, 0x3ffe, 0];
const CONSTANT_HIGH = [0x80000000, 0xd49a784b, 0xb8aa3b29, 0xc90fdaa2, 0x9a209a84, 0xb17217f7, 0];
const CONSTANT_LOW = [0, 0xcd1b8afe, 0x5c17f0bb, 0x2168c234, 0xfbcff798, 0xd1cf79ab, 0];
/** Whether the truncated constant is below the value (its extra bits are nonzero) and where they lie. */
const CONSTANT_ROUNDS_UP_NEAREST = [false, false, true, true, true, true, false];
const CONSTANT_INEXACT = [false, true, true, true, true, true, false];

function loadConstant(fpu: X87, index: number): void {
  if (!checkPush(fpu)) return;
  let low = CONSTANT_LOW[index];
  if (CONSTANT_INEXACT[index]) {
    const rc = fpu.roundingControl;
    // All five transcendental constants are positive: up rounds up, down and chop truncate.
    if (rc === 2 || (rc === 0 && CONSTANT_ROUNDS_UP_NEAREST[index])) low += 1;
  }
  fpu.push();
  fpu.writeRaw(0, CONSTANT_EXPONENT[index], CONSTANT_HIGH[index] | 0, low | 0);
  fpu.setConditionCodes(SW_C1, 0);
}

function exchange(fpu: X87, i: number): void {
  const empty0 = fpu.isEmpty(0);
  const emptyI = fpu.isEmpty(i);
  if (empty0 || emptyI) {
    if (!stackFault(fpu, STACK_UNDERFLOW)) return;
    if (empty0) fpu.writeIndefinite(0);
    if (emptyI) fpu.writeIndefinite(i);
  }
  const p0 = fpu.physical(0);
  const pi = fpu.physical(i);
  const se = fpu.signExponent[p0];
  const high = fpu.significandHigh[p0];
  const low = fpu.significandLow[p0];
  fpu.signExponent[p0] = fpu.signExponent[pi];
  fpu.significandHigh[p0] = fpu.significandHigh[pi];
  fpu.significandLow[p0] = fpu.significandLow[pi];
  fpu.signExponent[pi] = se;
  fpu.significandHigh[pi] = high;
  fpu.significandLow[pi] = low;
  fpu.setConditionCodes(SW_C1, 0);
}

/** FST/FSTP ST(i): an exact copy of ST(0). */
function storeRegister(fpu: X87, i: number, pop: boolean): void {
  if (fpu.isEmpty(0)) {
    if (!stackFault(fpu, STACK_UNDERFLOW)) return;
    fpu.writeIndefinite(i);
  } else {
    fpu.copy(0, i);
    fpu.setConditionCodes(SW_C1, 0);
  }
  if (pop) fpu.pop();
}

function conditionalMove(cpu: Cpu, fpu: X87, i: number, condition: number, whenTrue: boolean): void {
  if (fpu.isEmpty(0) || fpu.isEmpty(i)) {
    if (stackFault(fpu, STACK_UNDERFLOW)) fpu.writeIndefinite(0);
    return;
  }
  if (cpu.flags.condition(condition) === whenTrue) fpu.copy(i, 0);
}

// -----------------------------------------------------------------------------------------------
// Arithmetic.

/** D8/DC/DA/DE with a memory operand: ST(0) = ST(0) op operand, or a comparison. */
function arithmeticWithOperand(fpu: X87, op: number, operand: Ext): void {
  if (op === OP_COM || op === OP_COMP) {
    if (fpu.isEmpty(0)) {
      fpu.setConditionCodes(SW_CONDITION, CMP_UNORDERED);
      if (!stackFault(fpu, STACK_UNDERFLOW)) return;
    } else {
      fpu.read(0, fpu.a);
      const result = compare(fpu, fpu.a, operand, false);
      fpu.setConditionCodes(SW_CONDITION, result);
      if ((result & COMPARE_ABORTED) !== 0) return;
    }
    if (op === OP_COMP) fpu.pop();
    return;
  }
  if (fpu.isEmpty(0)) {
    if (stackFault(fpu, STACK_UNDERFLOW)) fpu.writeIndefinite(0);
    return;
  }
  fpu.read(0, fpu.a);
  const flags = binaryOperation(fpu, op, fpu.a, operand);
  commitResult(fpu, flags, 0, false);
}

/** Register forms: ST(dest) = ST(0) op ST(i) (op order as encoded), optionally popping. */
function arithmeticRegisters(fpu: X87, op: number, dest: number, i: number, pop: boolean): void {
  if (op === OP_COM || op === OP_COMP) {
    compareRegisters(fpu, i, false, op === OP_COMP ? 1 : 0);
    return;
  }
  if (fpu.isEmpty(0) || fpu.isEmpty(i)) {
    if (!stackFault(fpu, STACK_UNDERFLOW)) return;
    fpu.writeIndefinite(dest);
    if (pop) fpu.pop();
    return;
  }
  fpu.read(0, fpu.a);
  fpu.read(i, fpu.b);
  const flags = binaryOperation(fpu, op, fpu.a, fpu.b);
  commitResult(fpu, flags, dest, pop);
}

/** a op b into fpu.r, rounded for a register under precision control. Returns SW_* flags. */
function binaryOperation(fpu: X87, op: number, a: Ext, b: Ext): number {
  const nan = propagateNaN(fpu, a, b);
  if (nan >= 0) return nan;
  const r = fpu.r;
  let x = a;
  let y = b;
  if (op === OP_SUBR || op === OP_DIVR) {
    x = b;
    y = a;
  }
  const denormal = a.denormal || b.denormal ? SW_DE : 0;
  const xKind = x.kind;
  const yKind = y.kind;
  const sign = x.sign ^ y.sign;
  switch (op) {
    case OP_ADD:
    case OP_SUB:
    case OP_SUBR: {
      const subtract = op !== OP_ADD;
      const ySign = subtract ? y.sign ^ 1 : y.sign;
      if (xKind === KIND_INFINITY || yKind === KIND_INFINITY) {
        if (xKind === KIND_INFINITY && yKind === KIND_INFINITY && x.sign !== ySign) {
          r.setIndefinite();
          return SW_IE;
        }
        r.setInfinity(xKind === KIND_INFINITY ? x.sign : ySign);
        return denormal;
      }
      if (xKind === KIND_ZERO && yKind === KIND_ZERO) {
        // Zeros: equal signs keep it; opposite signs give +0, or -0 when rounding down.
        r.setZero(x.sign === ySign ? x.sign : fpu.roundingControl === RC_DOWN ? 1 : 0);
        return denormal;
      }
      if (yKind === KIND_ZERO || xKind === KIND_ZERO) {
        r.copyFrom(yKind === KIND_ZERO ? x : y);
        if (xKind === KIND_ZERO) r.sign = ySign;
        return denormal | fpu.roundForRegister(r, 0, fpu.precision);
      }
      if (!fpu.arithmetic.add(x, y, subtract, r)) {
        r.setZero(fpu.roundingControl === RC_DOWN ? 1 : 0);
        return denormal;
      }
      return denormal | fpu.roundForRegister(r, fpu.arithmetic.fraction, fpu.precision);
    }
    case OP_MUL:
      if (xKind === KIND_INFINITY || yKind === KIND_INFINITY) {
        if (xKind === KIND_ZERO || yKind === KIND_ZERO) {
          r.setIndefinite();
          return SW_IE;
        }
        r.setInfinity(sign);
        return denormal;
      }
      if (xKind === KIND_ZERO || yKind === KIND_ZERO) {
        r.setZero(sign);
        return denormal;
      }
      fpu.arithmetic.multiply(x, y, r);
      return denormal | fpu.roundForRegister(r, fpu.arithmetic.fraction, fpu.precision);
    default: // divisions
      if (xKind === KIND_INFINITY) {
        if (yKind === KIND_INFINITY) {
          r.setIndefinite();
          return SW_IE;
        }
        r.setInfinity(sign);
        return denormal;
      }
      if (yKind === KIND_INFINITY) {
        r.setZero(sign);
        return denormal;
      }
      if (yKind === KIND_ZERO) {
        if (xKind === KIND_ZERO) {
          r.setIndefinite();
          return SW_IE;
        }
        r.setInfinity(sign);
        return denormal | SW_ZE;
      }
      if (xKind === KIND_ZERO) {
        r.setZero(sign);
        return denormal;
      }
      fpu.arithmetic.divide(x, y, r);
      return denormal | fpu.roundForRegister(r, fpu.arithmetic.fraction, fpu.precision);
  }
}

// -----------------------------------------------------------------------------------------------
// Comparisons.

/** Set in compare()'s result when an unmasked exception stops the instruction (no pop). */
const COMPARE_ABORTED = 0x10000;

/**
 * Compares a with b: returns CMP_* codes, plus COMPARE_ABORTED when an unmasked exception stops
 * the instruction (the codes are still reported: unordered when invalid, the true order when only
 * the denormal exception is unmasked). Ordinary compares (FCOM, FICOM, FTST, FCOMI) signal invalid
 * for any NaN; unordered compares (FUCOM, FUCOMI) only for signalling NaNs. Unsupported encodings
 * are always invalid.
 */
function compare(fpu: X87, a: Ext, b: Ext, unordered: boolean): number {
  let flags = 0;
  let result: number;
  if (a.kind === KIND_UNSUPPORTED || b.kind === KIND_UNSUPPORTED) {
    flags = SW_IE;
    result = CMP_UNORDERED;
  } else if (a.isNaN || b.isNaN) {
    const signaling = a.kind === KIND_SNAN || b.kind === KIND_SNAN;
    if (signaling || !unordered) flags = SW_IE;
    result = CMP_UNORDERED;
  } else {
    if (a.denormal || b.denormal) flags = SW_DE;
    const order = compareOrdered(a, b);
    result = order > 0 ? CMP_GREATER : order < 0 ? CMP_LESS : CMP_EQUAL;
  }
  if (abortsOnUnmasked(fpu, flags)) return result | COMPARE_ABORTED;
  fpu.signal(flags);
  return result;
}

/** FCOM/FCOMP/FCOMPP/FUCOM... ST(0) with ST(i), then `pops` pops. */
function compareRegisters(fpu: X87, i: number, unordered: boolean, pops: number): void {
  if (fpu.isEmpty(0) || fpu.isEmpty(i)) {
    fpu.setConditionCodes(SW_CONDITION, CMP_UNORDERED);
    if (!stackFault(fpu, STACK_UNDERFLOW)) return;
  } else {
    fpu.read(0, fpu.a);
    fpu.read(i, fpu.b);
    const result = compare(fpu, fpu.a, fpu.b, unordered);
    fpu.setConditionCodes(SW_CONDITION, result);
    if ((result & COMPARE_ABORTED) !== 0) return;
  }
  for (let n = 0; n < pops; n++) fpu.pop();
}

/** FCOMI/FUCOMI(P): the outcome in ZF, PF, CF (OF, SF, AF cleared); C0-C3 are left alone. */
function compareToEflags(cpu: Cpu, fpu: X87, i: number, unordered: boolean, pop: boolean): void {
  // An unmasked exception still leaves its outcome in EFLAGS, but nothing is popped.
  let result: number;
  if (fpu.isEmpty(0) || fpu.isEmpty(i)) {
    const masked = stackFault(fpu, STACK_UNDERFLOW);
    cpu.flags.setArith(FLAGS_FCOMI, FLAG_ZF | FLAG_PF | FLAG_CF);
    if (!masked) return;
    result = CMP_UNORDERED;
  } else {
    fpu.read(0, fpu.a);
    fpu.read(i, fpu.b);
    const c1 = fpu.statusFlags & SW_C1;
    result = compare(fpu, fpu.a, fpu.b, unordered);
    fpu.setConditionCodes(SW_C1, c1);
  }
  const eflags =
    (result & SW_C3 ? FLAG_ZF : 0) | (result & SW_C2 ? FLAG_PF : 0) | (result & SW_C0 ? FLAG_CF : 0);
  cpu.flags.setArith(FLAGS_FCOMI, eflags);
  if (pop && (result & COMPARE_ABORTED) === 0) fpu.pop();
}

function compareWithZero(fpu: X87): void {
  if (fpu.isEmpty(0)) {
    fpu.setConditionCodes(SW_CONDITION, CMP_UNORDERED);
    stackFault(fpu, STACK_UNDERFLOW);
    return;
  }
  fpu.read(0, fpu.a);
  fpu.b.setZero(0);
  fpu.setConditionCodes(SW_CONDITION, compare(fpu, fpu.a, fpu.b, false));
}

/** FXAM: the class of ST(0) in C3 C2 C0 and its sign in C1; an empty register is a class of its own. */
function examine(fpu: X87): void {
  const a = fpu.a;
  fpu.read(0, a);
  let codes: number;
  if (fpu.isEmpty(0)) codes = SW_C3 | SW_C0;
  else {
    switch (a.kind) {
      case KIND_UNSUPPORTED:
        codes = 0;
        break;
      case KIND_QNAN:
      case KIND_SNAN:
        codes = SW_C0;
        break;
      case KIND_INFINITY:
        codes = SW_C2 | SW_C0;
        break;
      case KIND_ZERO:
        codes = SW_C3;
        break;
      default:
        codes = a.denormal ? SW_C3 | SW_C2 : SW_C2;
    }
  }
  fpu.setConditionCodes(SW_CONDITION, codes | (a.sign === 1 ? SW_C1 : 0));
}

// -----------------------------------------------------------------------------------------------
// Stores to memory.

/** FST/FSTP m32/m64: rounds ST(0) to the format with RC (precision control does not apply). */
function storeReal(cpu: Cpu, fpu: X87, insn: Instruction, offset: number, bits: number, pop: boolean): void {
  const size = bits === 24 ? 4 : 8;
  cpu.linear(insn.segment, offset, size);
  const v = fpu.r;
  let flags = 0;
  if (fpu.isEmpty(0)) {
    if (!stackFault(fpu, STACK_UNDERFLOW)) return;
    v.setIndefinite();
  } else {
    fpu.read(0, v);
    switch (v.kind) {
      case KIND_UNSUPPORTED:
        v.setIndefinite();
        flags = SW_IE;
        break;
      case KIND_SNAN:
        v.kind = KIND_QNAN;
        v.high = (v.high | 0x40000000) >>> 0;
        flags = SW_IE;
        break;
      case KIND_FINITE: {
        const cw = fpu.controlWord;
        const rc = fpu.roundingControl;
        const emin = bits === 24 ? SINGLE_EMIN : DOUBLE_EMIN;
        const emax = bits === 24 ? SINGLE_EMAX : DOUBLE_EMAX;
        const round = roundExt(v, 0, bits, rc, emin, true);
        if ((round & ROUND_INEXACT) !== 0) flags |= SW_PE;
        if ((round & ROUND_UP) !== 0) flags |= SW_C1;
        if (v.kind === KIND_FINITE && v.exponent > emax) {
          flags = SW_OE | SW_PE;
          if ((cw & SW_OE) === 0) {
            // Unmasked: nothing stored, nothing popped; only OE is reported.
            fpu.setConditionCodes(SW_C1, 0);
            fpu.signal(SW_OE);
            return;
          }
          if (overflowResult(v, bits, rc, emax)) flags |= SW_C1;
        } else if ((round & ROUND_TINY) !== 0) {
          if ((cw & SW_UE) === 0) {
            fpu.setConditionCodes(SW_C1, 0);
            fpu.signal(SW_UE);
            return;
          }
          if ((round & ROUND_INEXACT) !== 0) flags |= SW_UE;
        }
        break;
      }
    }
    if (abortsOnUnmasked(fpu, flags)) return;
  }
  if (bits === 24) {
    cpu.write32(insn.segment, offset, extToSingle(v));
  } else {
    cpu.write32(insn.segment, offset, extToDoubleLow(v));
    cpu.write32(insn.segment, nextOffset(insn, offset, 4), extToDoubleHigh(v));
  }
  if (!fpu.isEmpty(0)) {
    fpu.setConditionCodes(SW_C1, flags & SW_C1);
    fpu.signal(flags);
  }
  if (pop) fpu.pop();
}

/** FIST/FISTP m16/m32/m64. */
function storeInteger(
  cpu: Cpu,
  fpu: X87,
  insn: Instruction,
  offset: number,
  bits: number,
  pop: boolean,
): void {
  cpu.linear(insn.segment, offset, bits >> 3);
  let high = 0;
  let low = 0;
  let flags = 0;
  let indefinite = false;
  if (fpu.isEmpty(0)) {
    if (!stackFault(fpu, STACK_UNDERFLOW)) return;
    indefinite = true;
  } else {
    const v = fpu.r;
    fpu.read(0, v);
    if (v.kind === KIND_FINITE) flags = roundToInteger(fpu, v);
    if (v.kind === KIND_FINITE && fitsInteger(v, bits)) {
      high = shiftRightHigh(v.high, v.low, 63 - v.exponent);
      low = shiftRightLow(v.high, v.low, 63 - v.exponent);
      if (v.sign === 1) {
        low = -low | 0;
        high = low === 0 ? -high | 0 : ~high;
      }
    } else if (v.kind !== KIND_ZERO) {
      // NaN, infinity, unsupported or out of range: invalid, the integer indefinite if masked.
      flags = SW_IE;
      indefinite = true;
    }
    if (abortsOnUnmasked(fpu, flags)) return;
  }
  const segment = insn.segment;
  if (bits === 16) {
    cpu.write16(segment, offset, indefinite ? 0x8000 : low);
  } else if (bits === 32) {
    cpu.write32(segment, offset, indefinite ? 0x80000000 | 0 : low);
  } else {
    cpu.write32(segment, offset, indefinite ? 0 : low);
    cpu.write32(segment, nextOffset(insn, offset, 4), indefinite ? 0x80000000 | 0 : high);
  }
  if (!fpu.isEmpty(0)) {
    fpu.setConditionCodes(SW_C1, flags & SW_C1);
    fpu.signal(flags);
  }
  if (pop) fpu.pop();
}

/** Whether a rounded integer value fits a signed integer of `bits` bits. */
function fitsInteger(v: Ext, bits: number): boolean {
  if (v.exponent < bits - 1) return true;
  // Only -2^(bits-1) fits at the top exponent.
  return v.exponent === bits - 1 && v.sign === 1 && v.high === 0x80000000 && v.low === 0;
}

// -----------------------------------------------------------------------------------------------
// Packed BCD.

function loadBcd(cpu: Cpu, fpu: X87, insn: Instruction, offset: number): void {
  let high = 0;
  let low = 0;
  // 18 digits, most significant in byte 8; digits above 9 are taken at face value (undefined).
  for (let byteIndex = 8; byteIndex >= 0; byteIndex--) {
    const byte = cpu.read8(insn.segment, nextOffset(insn, offset, byteIndex));
    for (let nibble = 1; nibble >= 0; nibble--) {
      const digit = (byte >> (4 * nibble)) & 15;
      const lowTimesTen = low * 10 + digit;
      const carry = Math.floor(lowTimesTen / 4294967296);
      low = lowTimesTen - carry * 4294967296;
      high = (high * 10 + carry) % 4294967296;
    }
  }
  const signByte = cpu.read8(insn.segment, nextOffset(insn, offset, 9));
  const a = fpu.a;
  a.setInteger(signByte >> 7, high, low);
  if (!checkPush(fpu)) return;
  fpu.push();
  fpu.write(0, a);
  fpu.setConditionCodes(SW_C1, 0);
}

/** FBSTP: rounds ST(0) to an integer by RC and stores 18 BCD digits and a sign byte. */
function storeBcd(cpu: Cpu, fpu: X87, insn: Instruction, offset: number): void {
  cpu.linear(insn.segment, offset, 10);
  let flags = 0;
  let high = 0;
  let low = 0;
  let sign = 0;
  let indefinite = false;
  if (fpu.isEmpty(0)) {
    if (!stackFault(fpu, STACK_UNDERFLOW)) return;
    indefinite = true;
  } else {
    const v = fpu.r;
    fpu.read(0, v);
    sign = v.sign;
    if (v.kind === KIND_FINITE) flags = roundToInteger(fpu, v);
    if (v.kind === KIND_FINITE) {
      if (v.exponent < 60) {
        high = shiftRightHigh(v.high, v.low, 63 - v.exponent) >>> 0;
        low = shiftRightLow(v.high, v.low, 63 - v.exponent) >>> 0;
      } else {
        high = 0xffffffff;
      }
      // 10^18 - 1 is the largest value: 10^18 = 0DE0B6B3 A7640000.
      if (high > 0x0de0b6b3 || (high === 0x0de0b6b3 && low >= 0xa7640000)) {
        flags = SW_IE;
        indefinite = true;
      }
    } else if (v.kind !== KIND_ZERO) {
      flags = SW_IE;
      indefinite = true;
    }
    if (abortsOnUnmasked(fpu, flags)) return;
  }
  const segment = insn.segment;
  if (indefinite) {
    for (let i = 0; i < 7; i++) cpu.write8(segment, nextOffset(insn, offset, i), 0);
    cpu.write8(segment, nextOffset(insn, offset, 7), 0xc0);
    cpu.write8(segment, nextOffset(insn, offset, 8), 0xff);
    cpu.write8(segment, nextOffset(insn, offset, 9), 0xff);
  } else {
    for (let i = 0; i < 9; i++) {
      let byte = 0;
      for (let nibble = 0; nibble < 2; nibble++) {
        // Divide high:low by 10.
        const highQuotient = Math.floor(high / 10);
        const highRemainder = high - highQuotient * 10;
        const partial = highRemainder * 4294967296 + low;
        const lowQuotient = Math.floor(partial / 10);
        const digit = partial - lowQuotient * 10;
        high = highQuotient;
        low = lowQuotient;
        byte |= digit << (4 * nibble);
      }
      cpu.write8(segment, nextOffset(insn, offset, i), byte);
    }
    cpu.write8(segment, nextOffset(insn, offset, 9), sign << 7);
  }
  if (!fpu.isEmpty(0)) {
    fpu.setConditionCodes(SW_C1, flags & SW_C1);
    fpu.signal(flags);
  }
  fpu.pop();
}

// -----------------------------------------------------------------------------------------------
// Environment and state images.

/** Real-address or virtual-8086 mode use the real-mode layout of FSTENV/FSAVE. */
function protectedLayout(cpu: Cpu): boolean {
  return (cpu.cr0 & CR0_PE) !== 0 && (cpu.flags.bits & FLAG_VM) === 0;
}

/** Writes the 14- or 28-byte environment; returns its size. */
function storeEnvironment(cpu: Cpu, fpu: X87, insn: Instruction, offset: number): number {
  const segment = insn.segment;
  const wide = insn.operandSize === SIZE32;
  const size = wide ? 28 : 14;
  cpu.linear(segment, offset, size);
  const pm = protectedLayout(cpu);
  const fip = fpu.instructionOffset;
  const fdp = fpu.dataOffset;
  if (wide) {
    // Reserved upper halves of the 32-bit slots are written as ones (as the host x87 does: x87-host.test.ts).
    cpu.write32(segment, nextOffset(insn, offset, 0), fpu.controlWord | 0xffff0000);
    cpu.write32(segment, nextOffset(insn, offset, 4), fpu.statusWord | 0xffff0000);
    cpu.write32(segment, nextOffset(insn, offset, 8), fpu.tagWord | 0xffff0000);
    if (pm) {
      cpu.write32(segment, nextOffset(insn, offset, 12), fip);
      cpu.write32(segment, nextOffset(insn, offset, 16), fpu.instructionSelector | (fpu.opcode << 16));
      cpu.write32(segment, nextOffset(insn, offset, 20), fdp);
      cpu.write32(segment, nextOffset(insn, offset, 24), fpu.dataSelector | 0xffff0000);
    } else {
      const ip = (fpu.instructionSelector << 4) + fip;
      const dp = (fpu.dataSelector << 4) + fdp;
      cpu.write32(segment, nextOffset(insn, offset, 12), (ip & 0xffff) | 0xffff0000);
      cpu.write32(segment, nextOffset(insn, offset, 16), ((ip >>> 4) & 0x0ffff000) | fpu.opcode);
      cpu.write32(segment, nextOffset(insn, offset, 20), (dp & 0xffff) | 0xffff0000);
      cpu.write32(segment, nextOffset(insn, offset, 24), (dp >>> 4) & 0x0ffff000);
    }
  } else {
    cpu.write16(segment, nextOffset(insn, offset, 0), fpu.controlWord);
    cpu.write16(segment, nextOffset(insn, offset, 2), fpu.statusWord);
    cpu.write16(segment, nextOffset(insn, offset, 4), fpu.tagWord);
    if (pm) {
      cpu.write16(segment, nextOffset(insn, offset, 6), fip);
      cpu.write16(segment, nextOffset(insn, offset, 8), fpu.instructionSelector);
      cpu.write16(segment, nextOffset(insn, offset, 10), fdp);
      cpu.write16(segment, nextOffset(insn, offset, 12), fpu.dataSelector);
    } else {
      const ip = (fpu.instructionSelector << 4) + fip;
      const dp = (fpu.dataSelector << 4) + fdp;
      cpu.write16(segment, nextOffset(insn, offset, 6), ip);
      cpu.write16(segment, nextOffset(insn, offset, 8), ((ip >>> 4) & 0xf000) | fpu.opcode);
      cpu.write16(segment, nextOffset(insn, offset, 10), dp);
      cpu.write16(segment, nextOffset(insn, offset, 12), (dp >>> 4) & 0xf000);
    }
  }
  return size;
}

/** Reads the environment into the FPU (callers have validated the whole image's limits). */
function loadEnvironment(cpu: Cpu, fpu: X87, insn: Instruction, offset: number): number {
  const segment = insn.segment;
  const wide = insn.operandSize === SIZE32;
  const size = wide ? 28 : 14;
  cpu.linear(segment, offset, size);
  const pm = protectedLayout(cpu);
  const step = wide ? 4 : 2;
  const controlWord = cpu.read16(segment, nextOffset(insn, offset, 0));
  const statusWord = cpu.read16(segment, nextOffset(insn, offset, step));
  const tagWord = cpu.read16(segment, nextOffset(insn, offset, 2 * step));
  let ip: number;
  let cs: number;
  let opcode: number;
  let dp: number;
  let ds: number;
  if (wide) {
    const w3 = cpu.read32(segment, nextOffset(insn, offset, 12));
    const w4 = cpu.read32(segment, nextOffset(insn, offset, 16));
    const w5 = cpu.read32(segment, nextOffset(insn, offset, 20));
    const w6 = cpu.read32(segment, nextOffset(insn, offset, 24));
    if (pm) {
      ip = w3;
      cs = w4 & 0xffff;
      opcode = (w4 >>> 16) & 0x7ff;
      dp = w5;
      ds = w6 & 0xffff;
    } else {
      ip = (w3 & 0xffff) | ((w4 << 4) & 0xffff0000);
      opcode = w4 & 0x7ff;
      dp = (w5 & 0xffff) | ((w6 << 4) & 0xffff0000);
      cs = ds = 0;
    }
  } else {
    const w3 = cpu.read16(segment, nextOffset(insn, offset, 6));
    const w4 = cpu.read16(segment, nextOffset(insn, offset, 8));
    const w5 = cpu.read16(segment, nextOffset(insn, offset, 10));
    const w6 = cpu.read16(segment, nextOffset(insn, offset, 12));
    if (pm) {
      ip = w3;
      cs = w4;
      opcode = fpu.opcode;
      dp = w5;
      ds = w6;
    } else {
      ip = w3 | ((w4 & 0xf000) << 4);
      opcode = w4 & 0x7ff;
      dp = w5 | ((w6 & 0xf000) << 4);
      cs = ds = 0;
    }
  }
  fpu.setControlWord(controlWord);
  fpu.setStatusWord(statusWord);
  fpu.setTagWord(tagWord);
  // In the real-mode layout the pointers are linear addresses: kept as offsets with selector 0.
  fpu.instructionOffset = ip;
  fpu.instructionSelector = cs;
  fpu.opcode = opcode;
  fpu.dataOffset = dp;
  fpu.dataSelector = ds;
  return size;
}

/** FNSAVE: the environment and the eight registers in stack order, then FNINIT. */
function saveState(cpu: Cpu, fpu: X87, insn: Instruction, offset: number): void {
  const envSize = insn.operandSize === SIZE32 ? 28 : 14;
  cpu.linear(insn.segment, offset, envSize + 80);
  storeEnvironment(cpu, fpu, insn, offset);
  for (let i = 0; i < 8; i++) {
    const p = fpu.physical(i);
    writeExtended(
      cpu,
      insn,
      nextOffset(insn, offset, envSize + 10 * i),
      fpu.signExponent[p],
      fpu.significandHigh[p],
      fpu.significandLow[p],
    );
  }
  fpu.init();
}

/** FRSTOR: reads everything first, so a fault leaves the FPU unchanged. */
function restoreState(cpu: Cpu, fpu: X87, insn: Instruction, offset: number): void {
  const envSize = insn.operandSize === SIZE32 ? 28 : 14;
  cpu.linear(insn.segment, offset, envSize + 80);
  const segment = insn.segment;
  for (let i = 0; i < 8; i++) {
    const at = nextOffset(insn, offset, envSize + 10 * i);
    fpu.loadLow[i] = cpu.read32(segment, at);
    fpu.loadHigh[i] = cpu.read32(segment, nextOffset(insn, at, 4));
    fpu.loadSignExponent[i] = cpu.read16(segment, nextOffset(insn, at, 8));
  }
  loadEnvironment(cpu, fpu, insn, offset);
  for (let i = 0; i < 8; i++) {
    const p = fpu.physical(i);
    fpu.signExponent[p] = fpu.loadSignExponent[i];
    fpu.significandHigh[p] = fpu.loadHigh[i];
    fpu.significandLow[p] = fpu.loadLow[i];
  }
}

/**
 * FXSAVE (no SSE state: this CPU has no SSE, so MXCSR and the XMM area are left untouched). The
 * pointers are stored as offsets and selectors in every mode; reserved bytes are written as zero.
 */
function fxsave(cpu: Cpu, insn: Instruction, offset: number): void {
  const fpu = cpu.fpu;
  const segment = insn.segment;
  let abridged = 0;
  for (let p = 0; p < 8; p++) if (((fpu.emptyMask >> p) & 1) === 0) abridged |= 1 << p;
  cpu.write32(segment, nextOffset(insn, offset, 0), fpu.controlWord | (fpu.statusWord << 16));
  cpu.write32(segment, nextOffset(insn, offset, 4), abridged | (fpu.opcode << 16));
  cpu.write32(segment, nextOffset(insn, offset, 8), fpu.instructionOffset);
  cpu.write32(segment, nextOffset(insn, offset, 12), fpu.instructionSelector);
  cpu.write32(segment, nextOffset(insn, offset, 16), fpu.dataOffset);
  cpu.write32(segment, nextOffset(insn, offset, 20), fpu.dataSelector);
  for (let i = 0; i < 8; i++) {
    const p = fpu.physical(i);
    const base = 32 + 16 * i;
    cpu.write32(segment, nextOffset(insn, offset, base), fpu.significandLow[p]);
    cpu.write32(segment, nextOffset(insn, offset, base + 4), fpu.significandHigh[p]);
    cpu.write32(segment, nextOffset(insn, offset, base + 8), fpu.signExponent[p]);
    cpu.write32(segment, nextOffset(insn, offset, base + 12), 0);
  }
}

function fxrstor(cpu: Cpu, insn: Instruction, offset: number): void {
  const fpu = cpu.fpu;
  const segment = insn.segment;
  const word0 = cpu.read32(segment, nextOffset(insn, offset, 0));
  const word1 = cpu.read32(segment, nextOffset(insn, offset, 4));
  const fip = cpu.read32(segment, nextOffset(insn, offset, 8));
  const fcs = cpu.read16(segment, nextOffset(insn, offset, 12));
  const fdp = cpu.read32(segment, nextOffset(insn, offset, 16));
  const fds = cpu.read16(segment, nextOffset(insn, offset, 20));
  for (let i = 0; i < 8; i++) {
    const base = 32 + 16 * i;
    fpu.loadLow[i] = cpu.read32(segment, nextOffset(insn, offset, base));
    fpu.loadHigh[i] = cpu.read32(segment, nextOffset(insn, offset, base + 4));
    fpu.loadSignExponent[i] = cpu.read16(segment, nextOffset(insn, offset, base + 8));
  }
  fpu.setControlWord(word0 & 0xffff);
  fpu.setStatusWord(word0 >>> 16);
  fpu.emptyMask = ~word1 & 0xff;
  fpu.opcode = (word1 >>> 16) & 0x7ff;
  fpu.instructionOffset = fip;
  fpu.instructionSelector = fcs;
  fpu.dataOffset = fdp;
  fpu.dataSelector = fds;
  for (let i = 0; i < 8; i++) {
    const p = fpu.physical(i);
    fpu.signExponent[p] = fpu.loadSignExponent[i];
    fpu.significandHigh[p] = fpu.loadHigh[i];
    fpu.significandLow[p] = fpu.loadLow[i];
  }
}

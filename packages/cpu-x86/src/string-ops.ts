import { ALU_CMP, alu } from "./alu.js";
import type { Cpu } from "./cpu.js";
import type { Instruction } from "./decoder.js";
import { SIZE32 } from "./flags.js";
import { ECX, EDI, ES, ESI, EXC_GP, FLAG_DF } from "./registers.js";
import { repeatWithinPage } from "./string-fast-path.js";

export const STRING_MOVS = 0;
export const STRING_CMPS = 1;
export const STRING_STOS = 2;
export const STRING_LODS = 3;
export const STRING_SCAS = 4;
export const STRING_INS = 5;
export const STRING_OUTS = 6;

/**
 * REP-prefixed string instructions yield after this many iterations, with EIP left on the instruction
 * and the registers showing the progress: interrupts are taken between iterations, as on hardware.
 */
const ITERATIONS_PER_STEP = 4096;

/**
 * MOVS/CMPS/STOS/LODS/SCAS/INS/OUTS at `size`, with or without REP/REPE/REPNE. The source segment is
 * DS (overridable), the destination is always ES. Each iteration commits SI/DI/CX before the next
 * one starts, so a fault or a host stop in iteration n resumes at iteration n.
 */
export function stringInstruction(cpu: Cpu, insn: Instruction, kind: number, size: number): void {
  const bytes = 1 << size;
  const step = (cpu.flags.bits & FLAG_DF) !== 0 ? -bytes : bytes;
  const address32 = insn.addressSize === SIZE32;
  const addressMask = address32 ? -1 : 0xffff;
  const regs = cpu.regs;
  if (insn.rep === 0) {
    iteration(cpu, insn, kind, size, step, addressMask);
    return;
  }
  const conditional = kind === STRING_CMPS || kind === STRING_SCAS;
  const untilEqual = insn.rep === 0xf2; // REPNE stops on ZF=1, REPE on ZF=0
  // Ascending MOVS/STOS over RAM run a page at a time (string-fast-path.ts); the 80286's late limit
  // check stays element by element.
  const wholePages =
    (kind === STRING_MOVS || kind === STRING_STOS) &&
    step > 0 &&
    cpu.stringFastPath &&
    !cpu.model.stringOverrunAfterUpdate;
  for (let n = 0; ; n++) {
    const count = address32 ? regs[ECX] : regs[ECX] & 0xffff;
    if (count === 0) return;
    if (n === ITERATIONS_PER_STEP) {
      cpu.eip = cpu.instructionStart;
      return;
    }
    if (wholePages) {
      const done = repeatWithinPage(
        cpu,
        insn,
        kind === STRING_MOVS,
        size,
        addressMask,
        ITERATIONS_PER_STEP - n,
      );
      if (done > 0) {
        n += done - 1; // the loop's n++ counts the last one
        continue;
      }
    }
    iteration(cpu, insn, kind, size, step, addressMask);
    if (address32) regs[ECX] = count - 1;
    else cpu.regs16[ECX << 1] = count - 1;
    cpu.checkpoint();
    if (conditional && cpu.flags.zf() === untilEqual) return;
  }
}

function iteration(
  cpu: Cpu,
  insn: Instruction,
  kind: number,
  size: number,
  step: number,
  mask: number,
): void {
  const regs = cpu.regs;
  const si = regs[ESI] & mask;
  const di = regs[EDI] & mask;
  if (cpu.model.stringOverrunAfterUpdate) checkOverrunAfterUpdate(cpu, insn, kind, size, step, mask, si, di);
  switch (kind) {
    case STRING_MOVS:
      cpu.write(size, ES, di, cpu.read(size, insn.segment, si));
      advance(cpu, ESI, si, step, mask);
      advance(cpu, EDI, di, step, mask);
      return;
    case STRING_CMPS: {
      const a = cpu.read(size, insn.segment, si);
      const b = cpu.read(size, ES, di);
      alu(cpu.flags, ALU_CMP, size, a, b);
      advance(cpu, ESI, si, step, mask);
      advance(cpu, EDI, di, step, mask);
      return;
    }
    case STRING_STOS:
      cpu.write(size, ES, di, cpu.getReg(size, 0));
      advance(cpu, EDI, di, step, mask);
      return;
    case STRING_LODS:
      cpu.setReg(size, 0, cpu.read(size, insn.segment, si));
      advance(cpu, ESI, si, step, mask);
      return;
    case STRING_SCAS:
      alu(cpu.flags, ALU_CMP, size, cpu.getReg(size, 0), cpu.read(size, ES, di));
      advance(cpu, EDI, di, step, mask);
      return;
    case STRING_INS: {
      // The destination is checked before the port is read, as on hardware.
      cpu.linear(ES, di, 1 << size);
      cpu.write(size, ES, di, cpu.ioRead(cpu.regs16[4], 1 << size));
      advance(cpu, EDI, di, step, mask);
      return;
    }
    default:
      cpu.ioWrite(cpu.regs16[4], 1 << size, cpu.read(size, insn.segment, si));
      advance(cpu, ESI, si, step, mask);
      return;
  }
}

/**
 * The 80286 detects a string access past the segment limit late: the pointer of the faulting access
 * (and of any access before it in the iteration) has already advanced, and under REP the count has
 * usually been decremented too (twice for INS) when #GP is raised. CMPS accesses ES:DI before DS:SI.
 * These rules are what the captured 80286 tests show.
 */
function checkOverrunAfterUpdate(
  cpu: Cpu,
  insn: Instruction,
  kind: number,
  size: number,
  step: number,
  mask: number,
  si: number,
  di: number,
): void {
  const bytes = 1 << size;
  const sourceOverrun = overruns(cpu, insn.segment, si, bytes);
  const destinationOverrun = overruns(cpu, ES, di, bytes);
  let advanceSi = false;
  let advanceDi = false;
  switch (kind) {
    case STRING_MOVS:
      advanceSi = sourceOverrun || destinationOverrun;
      advanceDi = !sourceOverrun && destinationOverrun;
      break;
    case STRING_CMPS:
      advanceDi = sourceOverrun || destinationOverrun;
      advanceSi = !destinationOverrun && sourceOverrun;
      break;
    case STRING_LODS:
    case STRING_OUTS:
      advanceSi = sourceOverrun;
      break;
    default: // STOS, SCAS, INS
      advanceDi = destinationOverrun;
  }
  if (!advanceSi && !advanceDi) return;
  if (advanceSi) advance(cpu, ESI, si, step, mask);
  if (advanceDi) advance(cpu, EDI, di, step, mask);
  // CMPS faulting on its first access (ES:DI) has not reached its count update yet.
  const countUpdated = kind !== STRING_CMPS || advanceSi;
  if (insn.rep !== 0 && countUpdated) {
    const decrement = kind === STRING_INS ? 2 : 1;
    if (mask === -1) cpu.regs[ECX] -= decrement;
    else cpu.regs16[ECX << 1] -= decrement;
  }
  cpu.raise(EXC_GP, 0);
}

function overruns(cpu: Cpu, segment: number, offset: number, bytes: number): boolean {
  return (offset >>> 0) + bytes - 1 > cpu.segLimit[segment] >>> 0;
}

function advance(cpu: Cpu, reg: number, value: number, step: number, mask: number): void {
  if (mask === -1) cpu.regs[reg] = (value + step) | 0;
  else cpu.regs16[reg << 1] = value + step;
}

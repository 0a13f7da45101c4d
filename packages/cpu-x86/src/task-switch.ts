import type { Cpu } from "./cpu.js";
import {
  ATTR_P,
  ATTR_S,
  attributeDpl,
  descriptorAttributes,
  descriptorBase,
  descriptorLimit,
  fetchDescriptor,
  SYS_LDT,
  SYS_TASK_GATE,
  SYS_TSS16_AVAILABLE,
  SYS_TSS16_BUSY,
  SYS_TSS32_AVAILABLE,
  SYS_TSS32_BUSY,
  TYPE_CODE,
  TYPE_CONFORMING,
} from "./descriptors.js";
import { pushRaw } from "./far-transfer.js";
import {
  CR0_PG,
  CR0_TS,
  CS,
  DS,
  ES,
  EXC_GP,
  EXC_NP,
  EXC_TS,
  FLAG_NT,
  FLAG_VM,
  FS,
  GS,
  SS,
} from "./registers.js";
import {
  checkCodeLimit,
  loadCodeSegment,
  loadDataSegmentProtected,
  loadNullSegment,
} from "./segment-load.js";

export const TASK_JMP = 0;
export const TASK_CALL = 1;
export const TASK_IRET = 2;
export const TASK_INTERRUPT = 3;

/** Offsets in a 32-bit TSS. */
const TSS32 = { link: 0, cr3: 28, eip: 32, eflags: 36, regs: 40, segs: 72, ldt: 96, minLimit: 0x67 };
/** Offsets in a 16-bit TSS. */
const TSS16 = { link: 0, ip: 14, flags: 16, regs: 18, segs: 34, ldt: 42, minLimit: 0x2b };
const SEGMENT_ORDER = [ES, CS, SS, DS, FS, GS] as const;

/**
 * A hardware task switch (SDM "Task Switching"): through a task gate or TSS descriptor by JMP, CALL,
 * an interrupt/exception, or back by IRET with NT set. `selector`/`address` name the new TSS, or a
 * task gate that names it. State is saved into the current TSS, then loaded from the new one; faults
 * after the commit point are taken in the context of the new task, as on hardware.
 */
export function taskSwitch(
  cpu: Cpu,
  selector: number,
  address: number,
  reason: number,
  errorCode: number,
): void {
  let attributes = descriptorAttributes(cpu.descriptorHigh);
  if ((attributes & ATTR_S) === 0 && (attributes & 15) === SYS_TASK_GATE) {
    selector = cpu.descriptorLow >>> 16;
    if ((selector & 4) !== 0) cpu.raise(EXC_GP, selector & 0xfffc);
    address = fetchDescriptor(cpu, selector, EXC_GP);
    attributes = descriptorAttributes(cpu.descriptorHigh);
  }
  const type = attributes & 15;
  const busyExpected = reason === TASK_IRET;
  const tss32 = type === SYS_TSS32_AVAILABLE || type === SYS_TSS32_BUSY;
  const validType = busyExpected
    ? type === SYS_TSS32_BUSY || type === SYS_TSS16_BUSY
    : type === SYS_TSS32_AVAILABLE || type === SYS_TSS16_AVAILABLE;
  if ((attributes & ATTR_S) !== 0 || !validType || (selector & 4) !== 0) {
    cpu.raise(reason === TASK_IRET ? EXC_TS : EXC_GP, selector & 0xfffc);
  }
  if ((attributes & ATTR_P) === 0) cpu.raise(EXC_NP, selector & 0xfffc);
  const newBase = descriptorBase(cpu.descriptorLow, cpu.descriptorHigh);
  const newLimit = descriptorLimit(cpu.descriptorLow, cpu.descriptorHigh);
  if (newLimit >>> 0 < (tss32 ? TSS32.minLimit : TSS16.minLimit)) cpu.raise(EXC_TS, selector & 0xfffc);
  const newHigh = cpu.descriptorHigh;

  // Read the new task's state before touching anything, so a fault here leaves the old task intact.
  const state = cpu.scratchTaskState;
  if (tss32) {
    state[0] = cpu.readLinearSystem32((newBase + TSS32.cr3) | 0);
    state[1] = cpu.readLinearSystem32((newBase + TSS32.eip) | 0);
    state[2] = cpu.readLinearSystem32((newBase + TSS32.eflags) | 0);
    for (let r = 0; r < 8; r++) state[3 + r] = cpu.readLinearSystem32((newBase + TSS32.regs + r * 4) | 0);
    for (let s = 0; s < 6; s++) state[11 + s] = cpu.readLinearSystem16((newBase + TSS32.segs + s * 4) | 0);
    state[17] = cpu.readLinearSystem16((newBase + TSS32.ldt) | 0);
  } else {
    state[0] = cpu.cr3;
    state[1] = cpu.readLinearSystem16((newBase + TSS16.ip) | 0);
    state[2] = cpu.readLinearSystem16((newBase + TSS16.flags) | 0);
    for (let r = 0; r < 8; r++)
      state[3 + r] = cpu.readLinearSystem16((newBase + TSS16.regs + r * 2) | 0) | 0xffff0000;
    const order16 = [ES, CS, SS, DS];
    for (let s = 0; s < 4; s++)
      state[11 + order16[s]] = cpu.readLinearSystem16((newBase + TSS16.segs + s * 2) | 0);
    state[11 + FS] = 0;
    state[11 + GS] = 0;
    state[17] = cpu.readLinearSystem16((newBase + TSS16.ldt) | 0);
  }

  // Save the outgoing task.
  const oldBase = cpu.trBase;
  const oldTss32 = (cpu.trAttributes & 8) !== 0;
  let oldFlags = cpu.flags.get();
  if (reason === TASK_IRET) oldFlags &= ~FLAG_NT;
  if (oldTss32) {
    cpu.writeLinearSystem32((oldBase + TSS32.eip) | 0, cpu.eip);
    cpu.writeLinearSystem32((oldBase + TSS32.eflags) | 0, oldFlags);
    for (let r = 0; r < 8; r++) cpu.writeLinearSystem32((oldBase + TSS32.regs + r * 4) | 0, cpu.regs[r]);
    for (let s = 0; s < 6; s++)
      cpu.writeLinearSystem16((oldBase + TSS32.segs + s * 4) | 0, cpu.segSelector[s]);
  } else {
    cpu.writeLinearSystem16((oldBase + TSS16.ip) | 0, cpu.eip);
    cpu.writeLinearSystem16((oldBase + TSS16.flags) | 0, oldFlags);
    for (let r = 0; r < 8; r++) cpu.writeLinearSystem16((oldBase + TSS16.regs + r * 2) | 0, cpu.regs[r]);
    const order16 = [ES, CS, SS, DS];
    for (let s = 0; s < 4; s++)
      cpu.writeLinearSystem16((oldBase + TSS16.segs + s * 2) | 0, cpu.segSelector[order16[s]]);
  }
  // Busy bits: the old task stays busy only when it is nested (CALL, interrupt).
  if (reason === TASK_JMP || reason === TASK_IRET) setBusy(cpu, cpu.trSelector, false);
  if (reason === TASK_CALL || reason === TASK_INTERRUPT) {
    cpu.writeLinearSystem16((newBase + (tss32 ? TSS32.link : TSS16.link)) | 0, cpu.trSelector);
    state[2] |= FLAG_NT;
  }
  if (reason !== TASK_IRET) setBusy(cpu, selector, true);

  // Commit point: from here on the new task is current, and a fault is taken in its context: the
  // faulting "instruction" is the new task's first, so the exception pushes its CS:EIP.
  cpu.trSelector = selector;
  cpu.trBase = newBase;
  cpu.trLimit = newLimit;
  cpu.trAttributes = descriptorAttributes(newHigh) | (reason !== TASK_IRET ? 2 : 0);
  cpu.cr0 |= CR0_TS;
  if (tss32 && (cpu.cr0 & CR0_PG) !== 0) cpu.setCr3(state[0]);
  cpu.eip = state[1];
  cpu.instructionStart = state[1];
  cpu.flags.load(state[2]);
  for (let r = 0; r < 8; r++) {
    if (tss32) cpu.regs[r] = state[3 + r];
    else cpu.regs16[r << 1] = state[3 + r];
  }
  loadTaskLdt(cpu, state[17]);
  if ((state[2] & FLAG_VM) !== 0) {
    cpu.cpl = 3;
    for (const s of SEGMENT_ORDER) cpu.loadVirtual8086Segment(s, state[11 + s]);
    cpu.updateCodeMode();
  } else {
    loadTaskSegments(cpu, state);
  }
  if (errorCode >= 0) pushRaw(cpu, tss32 ? 4 : 2, errorCode);
}

function setBusy(cpu: Cpu, selector: number, busy: boolean): void {
  const address = (cpu.gdtBase + (selector & 0xfff8) + 5) | 0;
  const access = cpu.readLinearSystem8(address);
  cpu.writeLinearSystem8(address, busy ? access | 2 : access & ~2);
}

function loadTaskLdt(cpu: Cpu, selector: number): void {
  if ((selector & 0xfffc) === 0) {
    cpu.ldtSelector = 0;
    cpu.ldtBase = 0;
    cpu.ldtLimit = 0;
    return;
  }
  if ((selector & 4) !== 0) cpu.raise(EXC_TS, selector & 0xfffc);
  fetchDescriptor(cpu, selector, EXC_TS);
  const attributes = descriptorAttributes(cpu.descriptorHigh);
  if ((attributes & ATTR_S) !== 0 || (attributes & 15) !== SYS_LDT) cpu.raise(EXC_TS, selector & 0xfffc);
  if ((attributes & ATTR_P) === 0) cpu.raise(EXC_TS, selector & 0xfffc);
  cpu.ldtSelector = selector;
  cpu.ldtBase = descriptorBase(cpu.descriptorLow, cpu.descriptorHigh);
  cpu.ldtLimit = descriptorLimit(cpu.descriptorLow, cpu.descriptorHigh);
}

/**
 * Loads CS (its RPL is the new CPL), SS and the data segments of the new task. Failed checks are
 * #TS(selector) (SDM table 7-1); a segment that is not present is #NP, or #SS for SS.
 */
function loadTaskSegments(cpu: Cpu, state: Int32Array): void {
  const cs = state[11 + CS];
  const cpl = cs & 3;
  if ((cs & 0xfffc) === 0) cpu.raise(EXC_TS, 0);
  const address = fetchDescriptor(cpu, cs, EXC_TS);
  const attributes = descriptorAttributes(cpu.descriptorHigh);
  if ((attributes & ATTR_S) === 0 || (attributes & TYPE_CODE) === 0) cpu.raise(EXC_TS, cs & 0xfffc);
  const dpl = attributeDpl(attributes);
  if ((attributes & TYPE_CONFORMING) !== 0 ? dpl > cpl : dpl !== cpl) cpu.raise(EXC_TS, cs & 0xfffc);
  if ((attributes & ATTR_P) === 0) cpu.raise(EXC_NP, cs & 0xfffc);
  checkCodeLimit(cpu, cpu.eip);
  loadCodeSegment(cpu, cs, address, cpl);
  for (const s of [SS, ES, DS, FS, GS] as const) {
    const selector = state[11 + s];
    if (s !== SS && (selector & 0xfffc) === 0) {
      loadNullSegment(cpu, s, selector);
      continue;
    }
    loadDataSegmentProtected(cpu, s, selector, EXC_TS);
  }
}

import type { Cpu } from "./cpu.js";
import {
  ATTR_P,
  ATTR_S,
  attributeDpl,
  descriptorAttributes,
  fetchDescriptor,
  gateOffset,
  gateSelector,
  SYS_CALL_GATE16,
  SYS_CALL_GATE32,
  SYS_TASK_GATE,
  SYS_TSS16_AVAILABLE,
  SYS_TSS32_AVAILABLE,
  TYPE_CODE,
  TYPE_CONFORMING,
} from "./descriptors.js";
import { SIZE32 } from "./flags.js";
import {
  CR0_PE,
  CS,
  DS,
  ES,
  EXC_GP,
  EXC_NP,
  EXC_SS,
  EXC_TS,
  FLAG_NT,
  FLAG_VM,
  FS,
  GS,
  SS,
} from "./registers.js";
import {
  checkCodeLimit,
  checkDirectCodeTarget,
  invalidateSegmentsForCpl,
  loadCodeSegment,
  loadStackSegmentProtected,
  setSegmentCache,
} from "./segment-load.js";
import { TASK_CALL, TASK_IRET, TASK_JMP, taskSwitch } from "./task-switch.js";

const DATA_SEGMENTS = [ES, DS, FS, GS] as const;

export function isProtected(cpu: Cpu): boolean {
  return (cpu.cr0 & CR0_PE) !== 0 && (cpu.flags.bits & FLAG_VM) === 0;
}

/** Far JMP in protected mode: to a code segment directly, through a call gate, or to a task. */
export function jumpFarProtected(cpu: Cpu, selector: number, offset: number): void {
  if ((selector & 0xfffc) === 0) cpu.raise(EXC_GP, 0);
  const address = fetchDescriptor(cpu, selector);
  const attributes = descriptorAttributes(cpu.descriptorHigh);
  if ((attributes & ATTR_S) !== 0) {
    checkDirectCodeTarget(cpu, selector);
    checkCodeLimit(cpu, offset);
    loadCodeSegment(cpu, selector, address, cpu.cpl);
    cpu.eip = offset;
    return;
  }
  const type = attributes & 15;
  const dpl = attributeDpl(attributes);
  if (dpl < cpu.cpl || dpl < (selector & 3)) cpu.raise(EXC_GP, selector & 0xfffc);
  if ((attributes & ATTR_P) === 0) cpu.raise(EXC_NP, selector & 0xfffc);
  if (type === SYS_TASK_GATE || type === SYS_TSS16_AVAILABLE || type === SYS_TSS32_AVAILABLE) {
    taskSwitch(cpu, selector, address, TASK_JMP, -1);
    return;
  }
  if (type !== SYS_CALL_GATE16 && type !== SYS_CALL_GATE32) cpu.raise(EXC_GP, selector & 0xfffc);
  // Through a call gate a JMP may only reach code at the same privilege (or conforming code).
  const gateLow = cpu.descriptorLow;
  const gateHigh = cpu.descriptorHigh;
  const target = gateSelector(gateLow);
  if ((target & 0xfffc) === 0) cpu.raise(EXC_GP, 0);
  const targetAddress = fetchDescriptor(cpu, target);
  const targetAttributes = descriptorAttributes(cpu.descriptorHigh);
  const targetDpl = attributeDpl(targetAttributes);
  const targetType = targetAttributes & 15;
  if ((targetAttributes & ATTR_S) === 0 || (targetType & TYPE_CODE) === 0) cpu.raise(EXC_GP, target & 0xfffc);
  if ((targetType & TYPE_CONFORMING) !== 0 ? targetDpl > cpu.cpl : targetDpl !== cpu.cpl) {
    cpu.raise(EXC_GP, target & 0xfffc);
  }
  if ((targetAttributes & ATTR_P) === 0) cpu.raise(EXC_NP, target & 0xfffc);
  const newOffset = gateOffset(gateLow, gateHigh, type === SYS_CALL_GATE32);
  checkCodeLimit(cpu, newOffset);
  loadCodeSegment(cpu, target, targetAddress, cpu.cpl);
  cpu.eip = newOffset;
}

/** Far CALL in protected mode, including call gates to more privileged code (with a stack switch). */
export function callFarProtected(cpu: Cpu, size: number, selector: number, offset: number): void {
  if ((selector & 0xfffc) === 0) cpu.raise(EXC_GP, 0);
  const address = fetchDescriptor(cpu, selector);
  const attributes = descriptorAttributes(cpu.descriptorHigh);
  const returnSelector = cpu.segSelector[CS];
  const returnOffset = cpu.eip;
  if ((attributes & ATTR_S) !== 0) {
    checkDirectCodeTarget(cpu, selector);
    checkCodeLimit(cpu, offset);
    const sp = pushPair(cpu, size, returnSelector, returnOffset);
    loadCodeSegment(cpu, selector, address, cpu.cpl);
    cpu.setStackPointer(sp);
    cpu.eip = offset;
    return;
  }
  const type = attributes & 15;
  const dpl = attributeDpl(attributes);
  if (dpl < cpu.cpl || dpl < (selector & 3)) cpu.raise(EXC_GP, selector & 0xfffc);
  if ((attributes & ATTR_P) === 0) cpu.raise(EXC_NP, selector & 0xfffc);
  if (type === SYS_TASK_GATE || type === SYS_TSS16_AVAILABLE || type === SYS_TSS32_AVAILABLE) {
    taskSwitch(cpu, selector, address, TASK_CALL, -1);
    return;
  }
  if (type !== SYS_CALL_GATE16 && type !== SYS_CALL_GATE32) cpu.raise(EXC_GP, selector & 0xfffc);
  const gate32 = type === SYS_CALL_GATE32;
  const gateLow = cpu.descriptorLow;
  const gateHigh = cpu.descriptorHigh;
  const parameterCount = gateHigh & 31;
  const target = gateSelector(gateLow);
  const newOffset = gateOffset(gateLow, gateHigh, gate32);
  if ((target & 0xfffc) === 0) cpu.raise(EXC_GP, 0);
  const targetAddress = fetchDescriptor(cpu, target);
  const targetAttributes = descriptorAttributes(cpu.descriptorHigh);
  const targetType = targetAttributes & 15;
  const targetDpl = attributeDpl(targetAttributes);
  if ((targetAttributes & ATTR_S) === 0 || (targetType & TYPE_CODE) === 0 || targetDpl > cpu.cpl) {
    cpu.raise(EXC_GP, target & 0xfffc);
  }
  if ((targetAttributes & ATTR_P) === 0) cpu.raise(EXC_NP, target & 0xfffc);
  checkCodeLimit(cpu, newOffset);
  const targetLow = cpu.descriptorLow;
  const targetHigh = cpu.descriptorHigh;
  const bytes = gate32 ? 4 : 2;
  if ((targetType & TYPE_CONFORMING) === 0 && targetDpl < cpu.cpl) {
    // More privileged: switch to the inner stack from the TSS and copy the parameters across.
    const oldSs = cpu.segSelector[SS];
    const oldSp = cpu.getStackPointer();
    const oldStackBase = cpu.segBase[SS];
    const oldStackMask = cpu.stack32 ? -1 : 0xffff;
    const { selector: newSs, pointer: newSp } = innerStack(cpu, targetDpl);
    const parameters = cpu.scratchParameters;
    for (let i = 0; i < parameterCount; i++) {
      const from = (oldSp + i * bytes) & oldStackMask;
      parameters[i] = gate32
        ? cpu.readLinear32((oldStackBase + from) | 0)
        : cpu.readLinear16((oldStackBase + from) | 0);
    }
    const snapshot = cpu.saveStackState();
    try {
      loadStackSegmentProtected(cpu, newSs, targetDpl, EXC_TS);
      cpu.setStackPointer(newSp);
      // The inner stack is written with the new privilege's rights.
      cpu.cpl = targetDpl;
      pushRaw(cpu, bytes, oldSs);
      pushRaw(cpu, bytes, oldSp);
      for (let i = parameterCount - 1; i >= 0; i--) pushRaw(cpu, bytes, parameters[i]);
      pushRaw(cpu, bytes, returnSelector);
      pushRaw(cpu, bytes, returnOffset);
    } catch (e) {
      cpu.restoreStackState(snapshot);
      throw e;
    }
    cpu.descriptorLow = targetLow;
    cpu.descriptorHigh = targetHigh;
    loadCodeSegment(cpu, target, targetAddress, targetDpl);
    cpu.eip = newOffset;
    return;
  }
  const sp = pushPair(cpu, gate32 ? SIZE32 : 1, returnSelector, returnOffset);
  cpu.descriptorLow = targetLow;
  cpu.descriptorHigh = targetHigh;
  loadCodeSegment(cpu, target, targetAddress, cpu.cpl);
  cpu.setStackPointer(sp);
  cpu.eip = newOffset;
}

/** Far RET in protected mode, to the same or an outer privilege level. */
export function returnFarProtected(cpu: Cpu, size: number, release: number): void {
  const bytes = size === SIZE32 ? 4 : 2;
  const mask = cpu.stack32 ? -1 : 0xffff;
  const sp = cpu.getStackPointer();
  const offset = bytes === 4 ? cpu.read32(SS, sp) : cpu.read16(SS, sp);
  const selector = cpu.read16(SS, (sp + bytes) & mask);
  const rpl = selector & 3;
  if ((selector & 0xfffc) === 0) cpu.raise(EXC_GP, 0);
  if (rpl < cpu.cpl) cpu.raise(EXC_GP, selector & 0xfffc);
  const address = fetchDescriptor(cpu, selector);
  const attributes = descriptorAttributes(cpu.descriptorHigh);
  const type = attributes & 15;
  const dpl = attributeDpl(attributes);
  if ((attributes & ATTR_S) === 0 || (type & TYPE_CODE) === 0) cpu.raise(EXC_GP, selector & 0xfffc);
  if ((type & TYPE_CONFORMING) !== 0 ? dpl > rpl : dpl !== rpl) cpu.raise(EXC_GP, selector & 0xfffc);
  if ((attributes & ATTR_P) === 0) cpu.raise(EXC_NP, selector & 0xfffc);
  checkCodeLimit(cpu, offset);
  const codeLow = cpu.descriptorLow;
  const codeHigh = cpu.descriptorHigh;
  if (rpl === cpu.cpl) {
    loadCodeSegment(cpu, selector, address, rpl);
    cpu.eip = offset;
    cpu.setStackPointer((sp + 2 * bytes + release) & mask);
    return;
  }
  // To an outer level: the caller's SS:ESP follow the return address (and the released parameters).
  const stackAt = (sp + 2 * bytes + release) & mask;
  const newSp = bytes === 4 ? cpu.read32(SS, stackAt) : cpu.read16(SS, stackAt);
  const newSs = cpu.read16(SS, (stackAt + bytes) & mask);
  loadStackSegmentProtected(cpu, newSs, rpl);
  cpu.descriptorLow = codeLow;
  cpu.descriptorHigh = codeHigh;
  loadCodeSegment(cpu, selector, address, rpl);
  cpu.eip = offset;
  cpu.setStackPointer(newSp + release);
  invalidateSegmentsForCpl(cpu, DATA_SEGMENTS);
}

/** IRET in protected mode: same level, outer level, back to virtual-8086 mode, or a task return. */
export function iretProtected(cpu: Cpu, size: number): void {
  if ((cpu.flags.bits & FLAG_NT) !== 0) {
    const backLink = cpu.readLinearSystem16(cpu.trBase);
    taskSwitch(cpu, backLink, fetchDescriptor(cpu, backLink, EXC_TS), TASK_IRET, -1);
    return;
  }
  const bytes = size === SIZE32 ? 4 : 2;
  const mask = cpu.stack32 ? -1 : 0xffff;
  const sp = cpu.getStackPointer();
  const offset = bytes === 4 ? cpu.read32(SS, sp) : cpu.read16(SS, sp);
  const selector = cpu.read16(SS, (sp + bytes) & mask);
  const newFlags =
    bytes === 4 ? cpu.read32(SS, (sp + 2 * bytes) & mask) : cpu.read16(SS, (sp + 2 * bytes) & mask);
  if (bytes === 4 && (newFlags & FLAG_VM) !== 0 && cpu.cpl === 0) {
    returnToVirtual8086(cpu, sp, offset, selector, newFlags);
    return;
  }
  const rpl = selector & 3;
  if ((selector & 0xfffc) === 0) cpu.raise(EXC_GP, 0);
  if (rpl < cpu.cpl) cpu.raise(EXC_GP, selector & 0xfffc);
  const address = fetchDescriptor(cpu, selector);
  const attributes = descriptorAttributes(cpu.descriptorHigh);
  const type = attributes & 15;
  const dpl = attributeDpl(attributes);
  if ((attributes & ATTR_S) === 0 || (type & TYPE_CODE) === 0) cpu.raise(EXC_GP, selector & 0xfffc);
  if ((type & TYPE_CONFORMING) !== 0 ? dpl > rpl : dpl !== rpl) cpu.raise(EXC_GP, selector & 0xfffc);
  if ((attributes & ATTR_P) === 0) cpu.raise(EXC_NP, selector & 0xfffc);
  checkCodeLimit(cpu, offset);
  const codeLow = cpu.descriptorLow;
  const codeHigh = cpu.descriptorHigh;
  const oldCpl = cpu.cpl;
  if (rpl === cpu.cpl) {
    loadCodeSegment(cpu, selector, address, rpl);
    cpu.eip = offset;
    cpu.setStackPointer((sp + 3 * bytes) & mask);
    cpu.setFlagsForIret(newFlags, bytes, oldCpl);
    return;
  }
  const newSp =
    bytes === 4 ? cpu.read32(SS, (sp + 3 * bytes) & mask) : cpu.read16(SS, (sp + 3 * bytes) & mask);
  const newSs = cpu.read16(SS, (sp + 4 * bytes) & mask);
  loadStackSegmentProtected(cpu, newSs, rpl);
  cpu.descriptorLow = codeLow;
  cpu.descriptorHigh = codeHigh;
  loadCodeSegment(cpu, selector, address, rpl);
  cpu.eip = offset;
  cpu.setStackPointer(bytes === 4 ? newSp : newSp & 0xffff);
  cpu.setFlagsForIret(newFlags, bytes, oldCpl);
  invalidateSegmentsForCpl(cpu, DATA_SEGMENTS);
}

function returnToVirtual8086(cpu: Cpu, sp: number, offset: number, selector: number, newFlags: number): void {
  const mask = cpu.stack32 ? -1 : 0xffff;
  const at = (i: number) => (sp + i * 4) & mask;
  const newEsp = cpu.read32(SS, at(3));
  const newSs = cpu.read16(SS, at(4));
  const es = cpu.read16(SS, at(5));
  const ds = cpu.read16(SS, at(6));
  const fs = cpu.read16(SS, at(7));
  const gs = cpu.read16(SS, at(8));
  cpu.setFlagsForIret(newFlags, 4, 0);
  cpu.cpl = 3;
  for (const [segment, value] of [
    [CS, selector],
    [SS, newSs],
    [ES, es],
    [DS, ds],
    [FS, fs],
    [GS, gs],
  ] as const) {
    cpu.loadVirtual8086Segment(segment, value);
  }
  cpu.updateCodeMode();
  cpu.regs[4] = newEsp;
  cpu.eip = offset & 0xffff;
}

/** The stack for privilege level `dpl` from the current TSS (32- or 16-bit format). */
export function innerStack(cpu: Cpu, dpl: number): { selector: number; pointer: number } {
  const tss32 = (cpu.trAttributes & 8) !== 0;
  const entry = tss32 ? 4 + dpl * 8 : 2 + dpl * 4;
  const width = tss32 ? 8 : 4;
  if (entry + width - 1 > cpu.trLimit >>> 0) cpu.raise(EXC_TS, cpu.trSelector & 0xfffc);
  const base = (cpu.trBase + entry) | 0;
  if (tss32)
    return { selector: cpu.readLinearSystem16((base + 4) | 0), pointer: cpu.readLinearSystem32(base) };
  return { selector: cpu.readLinearSystem16((base + 2) | 0), pointer: cpu.readLinearSystem16(base) };
}

/** Pushes selector then offset at `size`; returns the new stack pointer without committing it. */
function pushPair(cpu: Cpu, size: number, selector: number, offset: number): number {
  const bytes = size === SIZE32 ? 4 : 2;
  const mask = cpu.stack32 ? -1 : 0xffff;
  const sp = cpu.getStackPointer();
  const selectorSlot = (sp - bytes) & mask;
  const offsetSlot = (sp - 2 * bytes) & mask;
  if (bytes === 4) {
    cpu.write32(SS, selectorSlot, selector);
    cpu.write32(SS, offsetSlot, offset);
  } else {
    cpu.write16(SS, selectorSlot, selector);
    cpu.write16(SS, offsetSlot, offset);
  }
  return offsetSlot;
}

/** Pushes onto the (already switched) stack, committing the stack pointer; #SS on a limit fault. */
export function pushRaw(cpu: Cpu, bytes: number, value: number): void {
  const mask = cpu.stack32 ? -1 : 0xffff;
  const sp = (cpu.getStackPointer() - bytes) & mask;
  if (bytes === 4) cpu.write32(SS, sp, value);
  else cpu.write16(SS, sp, value);
  cpu.setStackPointer(sp);
}

export { EXC_SS, setSegmentCache };

import type { Cpu } from "./cpu.js";
import {
  ATTR_P,
  ATTR_S,
  attributeDpl,
  descriptorAttributes,
  fetchDescriptor,
  gateOffset,
  gateSelector,
  SYS_INTERRUPT_GATE16,
  SYS_INTERRUPT_GATE32,
  SYS_TASK_GATE,
  SYS_TRAP_GATE16,
  SYS_TRAP_GATE32,
  TYPE_CODE,
  TYPE_CONFORMING,
} from "./descriptors.js";
import { innerStack, pushRaw } from "./far-transfer.js";
import {
  CS,
  DS,
  ES,
  EXC_GP,
  EXC_NP,
  EXC_TS,
  FLAG_IF,
  FLAG_NT,
  FLAG_RF,
  FLAG_TF,
  FLAG_VM,
  FS,
  GS,
  SS,
} from "./registers.js";
import {
  checkCodeLimit,
  loadCodeSegment,
  loadNullSegment,
  loadStackSegmentProtected,
} from "./segment-load.js";
import { TASK_INTERRUPT, taskSwitch } from "./task-switch.js";

/** Interrupt sources, for the checks that differ between them. */
export const SOURCE_EXTERNAL = 0; // hardware interrupt or exception: EXT=1 in error codes
export const SOURCE_SOFTWARE = 1; // INT n, INT3, INTO: the gate's DPL is checked against the CPL

/**
 * Delivers an interrupt or exception through the IDT in protected (or virtual-8086) mode: interrupt
 * and trap gates (16/32-bit, with a switch to the inner stack from the TSS when the privilege rises)
 * and task gates. EIP is already the return address. errorCode < 0 means none is pushed.
 */
export function deliverProtected(cpu: Cpu, vector: number, errorCode: number, source: number): void {
  const ext = source === SOURCE_EXTERNAL ? 1 : 0;
  const idtError = vector * 8 + 2 + ext;
  if (vector * 8 + 7 > cpu.idtLimit >>> 0) cpu.raise(EXC_GP, idtError);
  const address = (cpu.idtBase + vector * 8) | 0;
  const low = cpu.readLinearSystem32(address);
  const high = cpu.readLinearSystem32((address + 4) | 0);
  const attributes = descriptorAttributes(high);
  const type = attributes & 15;
  if (
    (attributes & ATTR_S) !== 0 ||
    (type !== SYS_TASK_GATE &&
      type !== SYS_INTERRUPT_GATE16 &&
      type !== SYS_TRAP_GATE16 &&
      type !== SYS_INTERRUPT_GATE32 &&
      type !== SYS_TRAP_GATE32)
  ) {
    cpu.raise(EXC_GP, idtError);
  }
  if (source === SOURCE_SOFTWARE && attributeDpl(attributes) < cpu.cpl) cpu.raise(EXC_GP, idtError);
  if ((attributes & ATTR_P) === 0) cpu.raise(EXC_NP, idtError);

  if (type === SYS_TASK_GATE) {
    const tss = gateSelector(low);
    const tssAddress = fetchDescriptor(cpu, tss, EXC_TS);
    taskSwitch(cpu, tss, tssAddress, TASK_INTERRUPT, errorCode);
    return;
  }

  const gate32 = type === SYS_INTERRUPT_GATE32 || type === SYS_TRAP_GATE32;
  const target = gateSelector(low);
  const offset = gateOffset(low, high, gate32);
  if ((target & 0xfffc) === 0) cpu.raise(EXC_GP, ext);
  const targetAddress = fetchDescriptor(cpu, target);
  const targetAttributes = descriptorAttributes(cpu.descriptorHigh);
  const targetType = targetAttributes & 15;
  const dpl = attributeDpl(targetAttributes);
  if ((targetAttributes & ATTR_S) === 0 || (targetType & TYPE_CODE) === 0 || dpl > cpu.cpl) {
    cpu.raise(EXC_GP, (target & 0xfffc) | ext);
  }
  if ((targetAttributes & ATTR_P) === 0) cpu.raise(EXC_NP, (target & 0xfffc) | ext);
  checkCodeLimit(cpu, offset);
  const codeLow = cpu.descriptorLow;
  const codeHigh = cpu.descriptorHigh;
  const bytes = gate32 ? 4 : 2;
  const flags = cpu.flags.get();
  const fromVirtual8086 = (flags & FLAG_VM) !== 0;
  const returnCs = cpu.segSelector[CS];
  const returnEip = cpu.eip;

  const snapshot = cpu.saveStackState();
  try {
    if ((targetType & TYPE_CONFORMING) === 0 && dpl < cpu.cpl) {
      if (fromVirtual8086 && dpl !== 0) cpu.raise(EXC_GP, (target & 0xfffc) | ext);
      const oldSs = cpu.segSelector[SS];
      const oldEsp = cpu.regs[4];
      const { selector: newSs, pointer: newSp } = innerStack(cpu, dpl);
      loadStackSegmentProtected(cpu, newSs, dpl, EXC_TS);
      cpu.setStackPointer(newSp);
      // The new stack is written with the new privilege's rights (it is usually supervisor-only).
      cpu.cpl = dpl;
      if (fromVirtual8086) {
        pushRaw(cpu, bytes, cpu.segSelector[GS]);
        pushRaw(cpu, bytes, cpu.segSelector[FS]);
        pushRaw(cpu, bytes, cpu.segSelector[DS]);
        pushRaw(cpu, bytes, cpu.segSelector[ES]);
      }
      pushRaw(cpu, bytes, oldSs);
      pushRaw(cpu, bytes, oldEsp);
    } else if (fromVirtual8086) {
      cpu.raise(EXC_GP, (target & 0xfffc) | ext);
    }
    pushRaw(cpu, bytes, flags);
    pushRaw(cpu, bytes, returnCs);
    pushRaw(cpu, bytes, returnEip);
    if (errorCode >= 0) pushRaw(cpu, bytes, errorCode);
  } catch (e) {
    cpu.restoreStackState(snapshot);
    throw e;
  }
  if (fromVirtual8086) {
    // The handler runs in protected mode with the data segments of virtual-8086 mode cleared.
    for (const segment of [ES, DS, FS, GS]) loadNullSegment(cpu, segment, 0);
  }
  cpu.descriptorLow = codeLow;
  cpu.descriptorHigh = codeHigh;
  loadCodeSegment(
    cpu,
    target,
    targetAddress,
    dpl < cpu.cpl && (targetType & TYPE_CONFORMING) === 0 ? dpl : cpu.cpl,
  );
  cpu.eip = offset;
  let newFlags = flags & ~(FLAG_TF | FLAG_NT | FLAG_RF | FLAG_VM);
  if (type === SYS_INTERRUPT_GATE16 || type === SYS_INTERRUPT_GATE32) newFlags &= ~FLAG_IF;
  cpu.flags.load(newFlags);
  cpu.updateCodeMode();
}

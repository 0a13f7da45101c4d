import type { Cpu } from "./cpu.js";
import type { Instruction } from "./decoder.js";
import {
  ATTR_P,
  ATTR_S,
  attributeDpl,
  descriptorAttributes,
  descriptorBase,
  descriptorLimit,
  fetchDescriptor,
  SYS_CALL_GATE16,
  SYS_CALL_GATE32,
  SYS_LDT,
  SYS_TASK_GATE,
  SYS_TSS16_AVAILABLE,
  SYS_TSS16_BUSY,
  SYS_TSS32_AVAILABLE,
  SYS_TSS32_BUSY,
  TYPE_CODE,
  TYPE_CONFORMING,
  TYPE_READABLE,
  TYPE_WRITABLE,
} from "./descriptors.js";
import { SIZE16, SIZE32 } from "./flags.js";
import { MSR_EFER, MSR_SYSENTER_CS, MSR_SYSENTER_EIP, MSR_SYSENTER_ESP, MSR_TSC } from "./msr.js";
import {
  CR0_PE,
  CS,
  EAX,
  ECX,
  EDX,
  EXC_GP,
  EXC_NP,
  EXC_UD,
  FLAG_IF,
  FLAG_RF,
  FLAG_VM,
  FLAG_ZF,
  SS,
} from "./registers.js";

/** Instructions only CPL 0 may run raise #GP(0) elsewhere (virtual-8086 mode runs at CPL 3). */
export function requirePrivilege0(cpu: Cpu): void {
  if ((cpu.cr0 & CR0_PE) !== 0 && cpu.cpl !== 0) cpu.raise(EXC_GP, 0);
}

/** IOPL-sensitive instructions (CLI, STI; PUSHF/POPF/IRET/INT n in virtual-8086 mode). */
export function iopl(cpu: Cpu): number {
  return (cpu.flags.bits >> 12) & 3;
}

/** CLI/STI: in protected mode they need CPL <= IOPL, in virtual-8086 mode IOPL = 3. */
export function checkInterruptFlagAccess(cpu: Cpu): void {
  if ((cpu.cr0 & CR0_PE) === 0) return;
  if ((cpu.flags.bits & FLAG_VM) !== 0 ? iopl(cpu) !== 3 : cpu.cpl > iopl(cpu)) cpu.raise(EXC_GP, 0);
}

/** Virtual-8086 mode without VME: PUSHF, POPF, INT n and IRET fault unless IOPL is 3. */
export function checkVirtual8086Iopl(cpu: Cpu): void {
  if ((cpu.flags.bits & FLAG_VM) !== 0 && iopl(cpu) !== 3) cpu.raise(EXC_GP, 0);
}

/**
 * Port access permission: in protected mode with CPL > IOPL, and always in virtual-8086 mode, every
 * port bit in the TSS I/O permission bitmap must be clear; a bitmap past the TSS limit means #GP.
 */
export function checkIoPermission(cpu: Cpu, port: number, size: number): void {
  if ((cpu.cr0 & CR0_PE) === 0) return;
  if ((cpu.flags.bits & FLAG_VM) === 0 && cpu.cpl <= iopl(cpu)) return;
  // Only a 32-bit TSS has a bitmap.
  if ((cpu.trAttributes & 8) === 0 || cpu.trLimit >>> 0 < 0x67) cpu.raise(EXC_GP, 0);
  const bitmap = cpu.readLinearSystem16((cpu.trBase + 0x66) | 0);
  const byteOffset = bitmap + (port >>> 3);
  if (byteOffset + 1 > cpu.trLimit >>> 0) cpu.raise(EXC_GP, 0);
  const bits = cpu.readLinearSystem16((cpu.trBase + byteOffset) | 0);
  const mask = ((1 << size) - 1) << (port & 7);
  if ((bits & mask) !== 0) cpu.raise(EXC_GP, 0);
}

function requireProtectedMode(cpu: Cpu): void {
  if ((cpu.cr0 & CR0_PE) === 0 || (cpu.flags.bits & FLAG_VM) !== 0) cpu.raise(EXC_UD);
}

/** 0F 00: SLDT, STR, LLDT, LTR, VERR, VERW. */
export function group6(cpu: Cpu, insn: Instruction): void {
  requireProtectedMode(cpu);
  switch (insn.reg) {
    case 0: // SLDT
    case 1: {
      // STR: a register destination gets the zero-extended selector.
      const value = insn.reg === 0 ? cpu.ldtSelector : cpu.trSelector;
      if (insn.mod === 3) cpu.setReg(insn.operandSize, insn.rm, value);
      else cpu.write16(insn.segment, cpu.effectiveAddress(insn), value);
      return;
    }
    case 2:
      loadLdt(cpu, cpu.readModrm(insn, SIZE16));
      return;
    case 3:
      loadTaskRegister(cpu, cpu.readModrm(insn, SIZE16));
      return;
    case 4:
    case 5:
      verify(cpu, cpu.readModrm(insn, SIZE16), insn.reg === 5);
      return;
    default:
      cpu.raise(EXC_UD);
  }
}

function loadLdt(cpu: Cpu, selector: number): void {
  requirePrivilege0(cpu);
  if ((selector & 0xfffc) === 0) {
    cpu.ldtSelector = selector;
    cpu.ldtBase = 0;
    cpu.ldtLimit = 0;
    return;
  }
  if ((selector & 4) !== 0) cpu.raise(EXC_GP, selector & 0xfffc);
  fetchDescriptor(cpu, selector);
  const attributes = descriptorAttributes(cpu.descriptorHigh);
  if ((attributes & ATTR_S) !== 0 || (attributes & 15) !== SYS_LDT) cpu.raise(EXC_GP, selector & 0xfffc);
  if ((attributes & ATTR_P) === 0) cpu.raise(EXC_NP, selector & 0xfffc);
  cpu.ldtSelector = selector;
  cpu.ldtBase = descriptorBase(cpu.descriptorLow, cpu.descriptorHigh);
  cpu.ldtLimit = descriptorLimit(cpu.descriptorLow, cpu.descriptorHigh);
}

function loadTaskRegister(cpu: Cpu, selector: number): void {
  requirePrivilege0(cpu);
  if ((selector & 0xfffc) === 0) cpu.raise(EXC_GP, 0);
  if ((selector & 4) !== 0) cpu.raise(EXC_GP, selector & 0xfffc);
  const address = fetchDescriptor(cpu, selector);
  const attributes = descriptorAttributes(cpu.descriptorHigh);
  const type = attributes & 15;
  if ((attributes & ATTR_S) !== 0 || (type !== SYS_TSS16_AVAILABLE && type !== SYS_TSS32_AVAILABLE)) {
    cpu.raise(EXC_GP, selector & 0xfffc);
  }
  if ((attributes & ATTR_P) === 0) cpu.raise(EXC_NP, selector & 0xfffc);
  // LTR marks the TSS busy in its descriptor.
  cpu.writeLinearSystem8((address + 5) | 0, (cpu.descriptorHigh >>> 8) | 2);
  cpu.trSelector = selector;
  cpu.trBase = descriptorBase(cpu.descriptorLow, cpu.descriptorHigh);
  cpu.trLimit = descriptorLimit(cpu.descriptorLow, cpu.descriptorHigh);
  cpu.trAttributes = attributes | 2;
}

/** Reads the descriptor for LAR/LSL/VERR/VERW without faulting; false when it is not accessible. */
function probeDescriptor(cpu: Cpu, selector: number): boolean {
  if ((selector & 0xfffc) === 0) return false;
  const table = (selector & 4) !== 0 ? cpu.ldtLimit : cpu.gdtLimit;
  if ((selector & 4) !== 0 && (cpu.ldtSelector & 0xfffc) === 0) return false;
  if ((selector & 0xfff8) + 7 > table >>> 0) return false;
  fetchDescriptor(cpu, selector);
  const attributes = descriptorAttributes(cpu.descriptorHigh);
  const type = attributes & 15;
  const conformingCode =
    (attributes & ATTR_S) !== 0 && (type & (TYPE_CODE | TYPE_CONFORMING)) === (TYPE_CODE | TYPE_CONFORMING);
  const dpl = attributeDpl(attributes);
  if (!conformingCode && (dpl < cpu.cpl || dpl < (selector & 3))) return false;
  return true;
}

function verify(cpu: Cpu, selector: number, forWrite: boolean): void {
  let ok = probeDescriptor(cpu, selector);
  if (ok) {
    const attributes = descriptorAttributes(cpu.descriptorHigh);
    const type = attributes & 15;
    if ((attributes & ATTR_S) === 0) ok = false;
    else if (forWrite) ok = (type & TYPE_CODE) === 0 && (type & TYPE_WRITABLE) !== 0;
    else ok = (type & TYPE_CODE) === 0 || (type & TYPE_READABLE) !== 0;
  }
  cpu.flags.setArith(FLAG_ZF, ok ? FLAG_ZF : 0);
}

/** System descriptor types LAR (and, without gates, LSL) accept. */
function systemTypeValid(type: number, forLimit: boolean): boolean {
  switch (type) {
    case SYS_TSS16_AVAILABLE:
    case SYS_LDT:
    case SYS_TSS16_BUSY:
    case SYS_TSS32_AVAILABLE:
    case SYS_TSS32_BUSY:
      return true;
    case SYS_CALL_GATE16:
    case SYS_TASK_GATE:
    case SYS_CALL_GATE32:
      return !forLimit;
    default:
      return false;
  }
}

/** LAR (0F 02) and LSL (0F 03): ZF=1 and the access rights / limit when the descriptor is visible. */
export function loadAccessRightsOrLimit(cpu: Cpu, insn: Instruction, forLimit: boolean): void {
  requireProtectedMode(cpu);
  const selector = cpu.readModrm(insn, SIZE16);
  let ok = probeDescriptor(cpu, selector);
  if (ok) {
    const attributes = descriptorAttributes(cpu.descriptorHigh);
    if ((attributes & ATTR_S) === 0 && !systemTypeValid(attributes & 15, forLimit)) ok = false;
  }
  if (!ok) {
    cpu.flags.setArith(FLAG_ZF, 0);
    return;
  }
  const size = insn.operandSize;
  if (forLimit) {
    cpu.setReg(size, insn.reg, descriptorLimit(cpu.descriptorLow, cpu.descriptorHigh));
  } else {
    const rights = cpu.descriptorHigh & (size === SIZE32 ? 0x00f0ff00 : 0xff00);
    cpu.setReg(size, insn.reg, rights);
  }
  cpu.flags.setArith(FLAG_ZF, FLAG_ZF);
}

/** ARPL (63): raises the destination selector's RPL to the source's. */
export function arpl(cpu: Cpu, insn: Instruction): void {
  requireProtectedMode(cpu);
  const destination = cpu.readModrm(insn, SIZE16);
  const source = cpu.getReg(SIZE16, insn.reg);
  if ((destination & 3) < (source & 3)) {
    cpu.writeModrm(insn, SIZE16, (destination & ~3) | (source & 3));
    cpu.flags.setArith(FLAG_ZF, FLAG_ZF);
  } else {
    cpu.flags.setArith(FLAG_ZF, 0);
  }
}

/** RDMSR: ECX selects the MSR; the value goes to EDX:EAX. */
export function rdmsr(cpu: Cpu): void {
  requirePrivilege0(cpu);
  const index = cpu.regs[ECX];
  // MSRs owned outside the CPU (the local APIC) come first: the hook may take any index.
  if (!cpu.msrs.ownedByHook(index)) {
    if (index === MSR_TSC) {
      cpu.readTimeStampCounter();
      return;
    }
    if (index === MSR_EFER) {
      cpu.regs[EAX] = cpu.efer;
      cpu.regs[EDX] = 0;
      return;
    }
  }
  if (!cpu.msrs.read(index)) cpu.raise(EXC_GP, 0);
  cpu.regs[EAX] = cpu.msrs.resultLow;
  cpu.regs[EDX] = cpu.msrs.resultHigh;
}

/** WRMSR: EDX:EAX into the MSR ECX selects. */
export function wrmsr(cpu: Cpu): void {
  requirePrivilege0(cpu);
  const index = cpu.regs[ECX];
  const low = cpu.regs[EAX];
  const high = cpu.regs[EDX];
  if (!cpu.msrs.ownedByHook(index)) {
    if (index === MSR_TSC) {
      cpu.writeTimeStampCounter(low, high);
      return;
    }
    if (index === MSR_EFER) {
      // Only NXE (bit 11) exists on a 32-bit CPU with NX; other bits are reserved.
      if (high !== 0 || (low & ~cpu.eferWritableMask) !== 0) cpu.raise(EXC_GP, 0);
      cpu.setEfer(low);
      return;
    }
  }
  if (!cpu.msrs.write(index, low, high)) cpu.raise(EXC_GP, 0);
}

/** SYSENTER: to CPL 0 at SYSENTER_CS:SYSENTER_EIP with SYSENTER_ESP, flat segments. */
export function sysenter(cpu: Cpu): void {
  if ((cpu.cr0 & CR0_PE) === 0) cpu.raise(EXC_GP, 0);
  cpu.msrs.read(MSR_SYSENTER_CS);
  const cs = cpu.msrs.resultLow & 0xfffc;
  if (cs === 0) cpu.raise(EXC_GP, 0);
  cpu.msrs.read(MSR_SYSENTER_EIP);
  const eip = cpu.msrs.resultLow;
  cpu.msrs.read(MSR_SYSENTER_ESP);
  const esp = cpu.msrs.resultLow;
  cpu.flags.load(cpu.flags.get() & ~(FLAG_VM | FLAG_IF | FLAG_RF));
  loadFlatSegment(cpu, CS, cs, 0, 0x9b);
  loadFlatSegment(cpu, SS, cs + 8, 0, 0x93);
  cpu.cpl = 0;
  cpu.regs[4] = esp;
  cpu.eip = eip;
}

/** SYSEXIT: back to CPL 3 at EDX with stack ECX, segments SYSENTER_CS+16 and +24. */
export function sysexit(cpu: Cpu): void {
  if ((cpu.cr0 & CR0_PE) === 0 || (cpu.flags.bits & FLAG_VM) !== 0 || cpu.cpl !== 0) cpu.raise(EXC_GP, 0);
  cpu.msrs.read(MSR_SYSENTER_CS);
  const base = cpu.msrs.resultLow & 0xfffc;
  if (base === 0) cpu.raise(EXC_GP, 0);
  loadFlatSegment(cpu, CS, (base + 16) | 3, 3, 0xfb);
  loadFlatSegment(cpu, SS, (base + 24) | 3, 3, 0xf3);
  cpu.cpl = 3;
  cpu.regs[4] = cpu.regs[ECX];
  cpu.eip = cpu.regs[EDX];
}

/** SYSENTER/SYSEXIT load fixed flat 4 GiB segments without reading descriptors. */
function loadFlatSegment(cpu: Cpu, segment: number, selector: number, _dpl: number, access: number): void {
  cpu.segSelector[segment] = selector;
  cpu.segBase[segment] = 0;
  cpu.segLimit[segment] = -1;
  cpu.segAttributes[segment] = access | 0xc000; // 32-bit, 4 KiB granularity
  cpu.updateSegmentChecks(segment);
  if (segment === CS) cpu.updateCodeMode();
  else cpu.stack32 = true;
}

import type { Cpu } from "./cpu.js";
import {
  ATTR_P,
  ATTR_S,
  attributeDpl,
  descriptorAttributes,
  descriptorBase,
  descriptorLimit,
  fetchDescriptor,
  markAccessed,
  TYPE_CODE,
  TYPE_CONFORMING,
  TYPE_READABLE,
  TYPE_WRITABLE,
} from "./descriptors.js";
import { CS, EXC_GP, EXC_NP, EXC_SS, SS } from "./registers.js";

/**
 * Protected-mode loads of DS/ES/FS/GS and SS (MOV, POP, LDS...), with every check the SDM lists:
 * null selectors, table limits, descriptor types, privilege (CPL, RPL, DPL) and presence. A failed
 * check raises `vector` (#GP; a task switch passes #TS), absence #NP (#SS for SS).
 */
export function loadDataSegmentProtected(cpu: Cpu, segment: number, selector: number, vector = EXC_GP): void {
  if (segment === SS) {
    loadStackSegmentProtected(cpu, selector, cpu.cpl, vector);
    return;
  }
  if ((selector & 0xfffc) === 0) {
    loadNullSegment(cpu, segment, selector);
    return;
  }
  const address = fetchDescriptor(cpu, selector, vector);
  const attributes = descriptorAttributes(cpu.descriptorHigh);
  const type = attributes & 15;
  // Data, or readable code; anything else (system descriptors, execute-only code) is refused.
  if ((attributes & ATTR_S) === 0 || (type & (TYPE_CODE | TYPE_READABLE)) === TYPE_CODE) {
    cpu.raise(vector, selector & 0xfffc);
  }
  const dpl = attributeDpl(attributes);
  const conformingCode = (type & (TYPE_CODE | TYPE_CONFORMING)) === (TYPE_CODE | TYPE_CONFORMING);
  if (!conformingCode && ((selector & 3) > dpl || cpu.cpl > dpl)) cpu.raise(vector, selector & 0xfffc);
  if ((attributes & ATTR_P) === 0) cpu.raise(EXC_NP, selector & 0xfffc);
  markAccessed(cpu, address);
  setSegmentCache(cpu, segment, selector);
}

/** SS: RPL and DPL must equal the (new) CPL, and it must be a writable data segment. */
export function loadStackSegmentProtected(cpu: Cpu, selector: number, cpl: number, vector = EXC_GP): void {
  if ((selector & 0xfffc) === 0) cpu.raise(vector, 0);
  const address = fetchDescriptor(cpu, selector, vector);
  const attributes = descriptorAttributes(cpu.descriptorHigh);
  const type = attributes & 15;
  if (
    (selector & 3) !== cpl ||
    attributeDpl(attributes) !== cpl ||
    (attributes & ATTR_S) === 0 ||
    (type & (TYPE_CODE | TYPE_WRITABLE)) !== TYPE_WRITABLE
  ) {
    cpu.raise(vector, selector & 0xfffc);
  }
  if ((attributes & ATTR_P) === 0) cpu.raise(EXC_SS, selector & 0xfffc);
  markAccessed(cpu, address);
  setSegmentCache(cpu, SS, selector);
}

/** A null selector in DS/ES/FS/GS is allowed; using the segment then raises #GP(0). */
export function loadNullSegment(cpu: Cpu, segment: number, selector: number): void {
  cpu.segSelector[segment] = selector;
  cpu.segBase[segment] = 0;
  cpu.segLimit[segment] = 0;
  cpu.segAttributes[segment] = 0;
  cpu.updateSegmentChecks(segment);
}

/** Copies cpu.descriptorLow/High into the hidden cache of `segment`. */
export function setSegmentCache(cpu: Cpu, segment: number, selector: number): void {
  const low = cpu.descriptorLow;
  const high = cpu.descriptorHigh;
  cpu.segSelector[segment] = selector;
  cpu.segBase[segment] = descriptorBase(low, high);
  cpu.segLimit[segment] = descriptorLimit(low, high);
  cpu.segAttributes[segment] = descriptorAttributes(high);
  cpu.updateSegmentChecks(segment);
  if (segment === CS) cpu.updateCodeMode();
  else if (segment === SS) cpu.stack32 = (cpu.segAttributes[SS] & 0x4000) !== 0;
}

/**
 * Checks a code-segment descriptor (already in cpu.descriptorLow/High) as a direct far JMP/CALL
 * target: conforming code needs DPL <= CPL; non-conforming code needs RPL <= CPL and DPL = CPL.
 */
export function checkDirectCodeTarget(cpu: Cpu, selector: number): void {
  const attributes = descriptorAttributes(cpu.descriptorHigh);
  const type = attributes & 15;
  if ((attributes & ATTR_S) === 0 || (type & TYPE_CODE) === 0) cpu.raise(EXC_GP, selector & 0xfffc);
  const dpl = attributeDpl(attributes);
  if ((type & TYPE_CONFORMING) !== 0) {
    if (dpl > cpu.cpl) cpu.raise(EXC_GP, selector & 0xfffc);
  } else if ((selector & 3) > cpu.cpl || dpl !== cpu.cpl) {
    cpu.raise(EXC_GP, selector & 0xfffc);
  }
  if ((attributes & ATTR_P) === 0) cpu.raise(EXC_NP, selector & 0xfffc);
}

/** Loads CS from cpu.descriptorLow/High with the given CPL as its RPL, and sets the CPL. */
export function loadCodeSegment(cpu: Cpu, selector: number, address: number, cpl: number): void {
  markAccessed(cpu, address);
  setSegmentCache(cpu, CS, (selector & 0xfffc) | cpl);
  cpu.cpl = cpl;
}

/** Checks an offset against the limit of the code segment about to be loaded (cached descriptor). */
export function checkCodeLimit(cpu: Cpu, offset: number): void {
  if (offset >>> 0 > descriptorLimit(cpu.descriptorLow, cpu.descriptorHigh) >>> 0) cpu.raise(EXC_GP, 0);
}

/**
 * After a return to an outer privilege level, data segment registers the new CPL may not use are
 * loaded with null (SDM: RET/IRET to outer level).
 */
export function invalidateSegmentsForCpl(cpu: Cpu, segments: readonly number[]): void {
  for (const segment of segments) {
    const attributes = cpu.segAttributes[segment];
    if ((attributes & ATTR_P) === 0) continue;
    const type = attributes & 15;
    const conformingCode = (type & (TYPE_CODE | TYPE_CONFORMING)) === (TYPE_CODE | TYPE_CONFORMING);
    if (!conformingCode && attributeDpl(attributes) < cpu.cpl) loadNullSegment(cpu, segment, 0);
  }
}

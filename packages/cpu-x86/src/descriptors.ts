import type { Cpu } from "./cpu.js";
import { EXC_GP } from "./registers.js";

/**
 * Segment and gate descriptors as the CPU reads them from the GDT/LDT/IDT: two 32-bit words. These
 * helpers decode the fields; `fetchDescriptor` reads one for a selector, with the table-limit check.
 */

/** Attribute bits as kept in Cpu.segAttributes (descriptor bits 40-47 and 52-55). */
export const ATTR_TYPE = 0x0f;
export const ATTR_S = 0x10;
export const ATTR_DPL_SHIFT = 5;
export const ATTR_P = 0x80;
export const ATTR_AVL = 0x1000;
export const ATTR_L = 0x2000;
export const ATTR_DB = 0x4000;
export const ATTR_G = 0x8000;

/** Type bits of code/data descriptors (S = 1). */
export const TYPE_ACCESSED = 1;
export const TYPE_WRITABLE = 2; // data
export const TYPE_READABLE = 2; // code
export const TYPE_EXPAND_DOWN = 4; // data
export const TYPE_CONFORMING = 4; // code
export const TYPE_CODE = 8;

/** System descriptor types (S = 0). */
export const SYS_TSS16_AVAILABLE = 1;
export const SYS_LDT = 2;
export const SYS_TSS16_BUSY = 3;
export const SYS_CALL_GATE16 = 4;
export const SYS_TASK_GATE = 5;
export const SYS_INTERRUPT_GATE16 = 6;
export const SYS_TRAP_GATE16 = 7;
export const SYS_TSS32_AVAILABLE = 9;
export const SYS_TSS32_BUSY = 11;
export const SYS_CALL_GATE32 = 12;
export const SYS_INTERRUPT_GATE32 = 14;
export const SYS_TRAP_GATE32 = 15;

export function descriptorBase(low: number, high: number): number {
  return (low >>> 16) | ((high & 0xff) << 16) | (high & 0xff000000) | 0;
}

/** The limit in bytes (granularity applied). */
export function descriptorLimit(low: number, high: number): number {
  const raw = (low & 0xffff) | (high & 0xf0000);
  return (high & 0x800000) !== 0 ? (raw << 12) | 0xfff : raw;
}

export function descriptorAttributes(high: number): number {
  return (high >>> 8) & 0xf0ff;
}

export function attributeDpl(attributes: number): number {
  return (attributes >> ATTR_DPL_SHIFT) & 3;
}

/** Gate descriptors: the target offset and selector. */
export function gateOffset(low: number, high: number, is32: boolean): number {
  return is32 ? (low & 0xffff) | (high & 0xffff0000) : low & 0xffff;
}

export function gateSelector(low: number): number {
  return low >>> 16;
}

/**
 * Reads the descriptor `selector` names (GDT, or LDT when TI is set) into cpu.descriptorLow/High and
 * returns its linear address. A selector past the table's limit raises `vector` (#GP by default)
 * with the selector as error code.
 */
export function fetchDescriptor(cpu: Cpu, selector: number, vector = EXC_GP): number {
  const index = selector & 0xfff8;
  let base: number;
  let limit: number;
  if ((selector & 4) !== 0) {
    if ((cpu.ldtSelector & 0xfffc) === 0) cpu.raise(vector, selector & 0xfffc);
    base = cpu.ldtBase;
    limit = cpu.ldtLimit;
  } else {
    base = cpu.gdtBase;
    limit = cpu.gdtLimit;
  }
  if (index + 7 > limit >>> 0) cpu.raise(vector, selector & 0xfffc);
  const address = (base + index) | 0;
  cpu.descriptorLow = cpu.readLinearSystem32(address);
  cpu.descriptorHigh = cpu.readLinearSystem32((address + 4) | 0);
  return address;
}

/** Sets the accessed bit of a code/data descriptor in memory, as the CPU does on a load. */
export function markAccessed(cpu: Cpu, address: number): void {
  const high = cpu.descriptorHigh;
  if ((high & 0x100) === 0) {
    cpu.descriptorHigh = high | 0x100;
    cpu.writeLinearSystem8((address + 5) | 0, (high >>> 8) | 1);
  }
}

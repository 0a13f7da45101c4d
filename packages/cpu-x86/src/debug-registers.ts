import type { Cpu } from "./cpu.js";
import { EXC_DB, EXC_UD } from "./registers.js";
import { requirePrivilege0 } from "./system-instructions.js";

/** DR6 bits that always read as 1 on a P6 (reserved), and DR7's reserved-as-1 bit 10. */
const DR6_FIXED = 0xffff0ff0 | 0;
const DR7_FIXED = 0x400;
/** CR4.DE: DR4/DR5 are reserved (#UD) instead of aliasing DR6/DR7. */
const CR4_DE = 1 << 3;
/** DR7.GD (general detect) and the DR6.BD bit it reports through. */
const DR7_GD = 1 << 13;
const DR6_BD = 1 << 13;

/**
 * The debug registers: DR0-DR3 (breakpoint addresses), DR6 (status), DR7 (control). MOV to/from DRn
 * at CPL 0; DR4/DR5 alias DR6/DR7 unless CR4.DE is set; with DR7.GD set, any MOV to or from a debug
 * register is a #DB fault instead (DR6.BD set, GD cleared). Instruction breakpoints and single-step are
 * raised by the CPU's run loop (see Cpu.step); data breakpoints are not checked yet.
 */
export class DebugRegisters {
  readonly address = new Int32Array(4);
  status = DR6_FIXED;
  control = DR7_FIXED;

  reset(): void {
    this.address.fill(0);
    this.status = DR6_FIXED;
    this.control = DR7_FIXED;
    this.dataArmedValue = false;
  }

  /** Whether any DR0-DR3 is enabled as an instruction breakpoint (R/W = 00) in DR7. */
  get instructionBreakpoints(): boolean {
    const control = this.control;
    for (let i = 0; i < 4; i++) {
      if ((control & (3 << (i * 2))) !== 0 && ((control >>> (16 + i * 4)) & 3) === 0) return true;
    }
    return false;
  }

  /** Whether DR7 arms a data breakpoint (R/W = 01 write, or 11 read/write): accesses must be checked. */
  get dataArmed(): boolean {
    return this.dataArmedValue;
  }

  private dataArmedValue = false;

  /** Recomputes dataArmed after DR7 changes. */
  updateArmed(): void {
    let armed = false;
    for (let i = 0; i < 4; i++) {
      const type = (this.control >>> (16 + i * 4)) & 3;
      if ((this.control & (3 << (i * 2))) !== 0 && (type === 1 || type === 3)) armed = true;
    }
    this.dataArmedValue = armed;
  }

  /** DR6 bits B0-B3 for data breakpoints hit by an access of `size` bytes at `linear`. */
  matchData(linear: number, size: number, write: boolean): number {
    let hits = 0;
    const control = this.control;
    for (let i = 0; i < 4; i++) {
      if ((control & (3 << (i * 2))) === 0) continue;
      const type = (control >>> (16 + i * 4)) & 3;
      if (type === 0 || type === 2 || (type === 1 && !write)) continue;
      const lengthBits = (control >>> (18 + i * 4)) & 3;
      const length = lengthBits === 0 ? 1 : lengthBits === 1 ? 2 : lengthBits === 3 ? 4 : 8;
      const start = (this.address[i] & ~(length - 1)) >>> 0;
      const first = linear >>> 0;
      if (first < start + length && start < first + size) hits |= 1 << i;
    }
    return hits;
  }

  /** DR6 bits B0-B3 for instruction breakpoints that match `linear`. */
  matchInstruction(linear: number): number {
    let hits = 0;
    const control = this.control;
    for (let i = 0; i < 4; i++) {
      if ((control & (3 << (i * 2))) === 0 || ((control >>> (16 + i * 4)) & 3) !== 0) continue;
      if (this.address[i] === linear) hits |= 1 << i;
    }
    return hits;
  }
}

export function readDebugRegister(cpu: Cpu, n: number): number {
  requirePrivilege0(cpu);
  const dr = cpu.debugRegisters;
  if ((n === 4 || n === 5) && (cpu.cr4 & CR4_DE) !== 0) cpu.raise(EXC_UD);
  checkGeneralDetect(cpu, dr);
  if (n < 4) return dr.address[n];
  return n === 4 || n === 6 ? dr.status : dr.control;
}

export function writeDebugRegister(cpu: Cpu, n: number, value: number): void {
  requirePrivilege0(cpu);
  const dr = cpu.debugRegisters;
  if ((n === 4 || n === 5) && (cpu.cr4 & CR4_DE) !== 0) cpu.raise(EXC_UD);
  checkGeneralDetect(cpu, dr);
  if (n < 4) {
    dr.address[n] = value;
    return;
  }
  if (n === 4 || n === 6) dr.status = (value & 0xe00f) | DR6_FIXED;
  else {
    dr.control = (value & ~0xd800) | DR7_FIXED; // bits 11, 12, 14, 15 are reserved as 0
    dr.updateArmed();
  }
}

/**
 * DR7.GD: the access is a #DB fault before it happens. The processor clears GD as it enters the
 * handler so the handler can use the debug registers, and sets DR6.BD to say why.
 */
function checkGeneralDetect(cpu: Cpu, dr: DebugRegisters): void {
  if ((dr.control & DR7_GD) === 0) return;
  dr.control &= ~DR7_GD;
  dr.status |= DR6_BD;
  cpu.raise(EXC_DB);
}

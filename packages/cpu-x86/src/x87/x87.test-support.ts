// Test support for the x87: run code in real mode and move values between the FPU, memory and
// host doubles. Memory operands live at DATA (DS = 0).

import type { CpuOptions } from "../cpu.js";
import { STOP_HLT } from "../cpu.js";
import { CODE_BASE, realModeCpu } from "../machine.test-support.js";
import { Ext, KIND_UNSUPPORTED } from "./float80.js";
import type { X87 } from "./x87.js";

export const DATA = 0x4000;

/** FNINIT: the FPU's power-on state has every exception unmasked and every register in use. */
export const FNINIT = [0xdb, 0xe3];

/** Runs FNINIT, `code`, HLT with CR0.NE set; returns the CPU, memory and whether it reached HLT. */
export function runX87(
  code: number[],
  options: { setup?: (m: ReturnType<typeof realModeCpu>) => void; cpu?: CpuOptions; init?: boolean } = {},
) {
  const machine = realModeCpu([...(options.init === false ? [] : FNINIT), ...code, 0xf4], options.cpu);
  machine.cpu.cr0 |= 0x20; // NE: native #MF reporting
  options.setup?.(machine);
  const stop = machine.cpu.run(10_000);
  return { ...machine, stop, halted: stop === STOP_HLT };
}

/** Little-endian bytes of a host double. */
export function doubleBytes(x: number): number[] {
  const view = new DataView(new ArrayBuffer(8));
  view.setFloat64(0, x, true);
  return Array.from(new Uint8Array(view.buffer));
}

interface Memory {
  read(address: number, destination: Uint8Array): void;
  write(address: number, source: Uint8Array): void;
}

export function readBytes(memory: Memory, address: number, length: number): Uint8Array {
  const bytes = new Uint8Array(length);
  memory.read(address, bytes);
  return bytes;
}

export function readDouble(memory: Memory, address: number): number {
  return new DataView(readBytes(memory, address, 8).buffer).getFloat64(0, true);
}

export function writeDouble(memory: Memory, address: number, x: number): void {
  memory.write(address, Uint8Array.from(doubleBytes(x)));
}

/** [disp16] addressing in 16-bit code: ModRM with mod=00 rm=110 and the given reg. */
export function mem(reg: number, address = DATA): number[] {
  return [(reg << 3) | 6, address & 0xff, address >> 8];
}

export { CODE_BASE };

/** ST(i) as a host double (rounded to nearest when it has more than 53 significant bits). */
export function st(cpu: { fpu: X87 }, i: number): number {
  const fpu = cpu.fpu;
  const value = new Ext();
  fpu.read(i, value);
  if (value.isNaN || value.kind === KIND_UNSUPPORTED) return Number.NaN;
  return fpu.hostDoubles.fromExt(value);
}

/** ST(i)'s 80-bit encoding as [signExponent, high, low] (unsigned). */
export function stBits(cpu: { fpu: X87 }, i: number): [number, number, number] {
  const fpu = cpu.fpu;
  const p = fpu.physical(i);
  return [fpu.signExponent[p], fpu.significandHigh[p] >>> 0, fpu.significandLow[p] >>> 0];
}

/** The 10 bytes of an 80-bit value. */
export function extendedBytes(signExponent: number, high: number, low: number): number[] {
  return [
    low,
    low >>> 8,
    low >>> 16,
    low >>> 24,
    high,
    high >>> 8,
    high >>> 16,
    high >>> 24,
    signExponent,
    signExponent >>> 8,
  ].map((b) => b & 0xff);
}

/** Little-endian bytes of an integer of `size` bytes (numbers up to 2^53). */
export function integerBytes(value: number, size: number): number[] {
  const bytes: number[] = [];
  let v = value < 0 ? 2 ** (8 * size) + value : value;
  for (let i = 0; i < size; i++) {
    bytes.push(v % 256);
    v = Math.floor(v / 256);
  }
  return bytes;
}

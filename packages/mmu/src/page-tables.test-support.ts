// Helpers for the tests: guest RAM and raw page-table entries.
import { PhysicalMemory } from "@tsvmm/ept";
import { Mmu, type MmuOptions } from "./index.js";

export const CR0_PE = 1;

/** 16 MiB of RAM at 0 (slot 0); everything else is unbacked (MMIO). */
export function ram(size = 16 << 20): PhysicalMemory {
  const memory = new PhysicalMemory();
  memory.setUserMemoryRegion({ slot: 0, guestPhysAddr: 0, memorySize: size });
  return memory;
}

export function newMmu(memory: PhysicalMemory, options: MmuOptions = {}): Mmu {
  return new Mmu(memory, options);
}

export function write32(memory: PhysicalMemory, address: number, value: number): void {
  memory.writeU32(address, value >>> 0);
}

export function read32(memory: PhysicalMemory, address: number): number {
  return memory.readU32(address);
}

export function write64(memory: PhysicalMemory, address: number, low: number, high: number): void {
  memory.writeU64(address, low >>> 0, high >>> 0);
}

export function readHigh32(memory: PhysicalMemory, address: number): number {
  return memory.readU32(address + 4);
}

/** The byte the TLB entry `e` gives for `linear`. */
export function hostByte(mmu: Mmu, e: number, linear: number): number {
  return mmu.tlb.bytes[e][mmu.tlb.offset[e] + (linear & 0xfff)];
}

import { PhysicalMemory } from "@tsvmm/ept";
import { describe, expect, it } from "vitest";
import { ACCESS_WRITE, CR0_PG, PTE_A, PTE_D, PTE_P, PTE_RW } from "./index.js";
import { PageTableMemory } from "./page-table-memory.js";
import { CR0_PE, newMmu, read32, write32, write64 } from "./page-tables.test-support.js";

function memoryWith(bytes: Uint8Array, readOnly = false): PhysicalMemory {
  const memory = new PhysicalMemory();
  memory.setUserMemoryRegion({
    slot: 0,
    guestPhysAddr: 0,
    memorySize: bytes.length,
    userspaceMemory: bytes,
    readOnly,
  });
  return memory;
}

describe.each([
  ["an ArrayBuffer", () => new Uint8Array(0x10000)],
  ["a SharedArrayBuffer", () => new Uint8Array(new SharedArrayBuffer(0x10000))],
])("PageTableMemory over %s", (_name, makeBytes) => {
  it("reads 4- and 8-byte entries and reports entries outside RAM", () => {
    const memory = memoryWith(makeBytes());
    write64(memory, 0x100, 0x8765_4321, 0x0fed_cba9);
    const tables = new PageTableMemory(memory);
    expect(tables.read(0x100, 0, true)).toBe(true);
    expect([tables.low >>> 0, tables.high]).toEqual([0x8765_4321, 0x0fed_cba9]);
    expect(tables.read(0x100, 0, false)).toBe(true);
    expect(tables.high).toBe(0);
    expect(tables.read(0x10000, 0, false)).toBe(false);
    expect(tables.read(0x100, 1, false)).toBe(false);
  });

  it("sets bits only if the entry still holds what was read", () => {
    const memory = memoryWith(makeBytes());
    write32(memory, 0x200, 0x1003);
    const tables = new PageTableMemory(memory);
    tables.read(0x200, 0, false);
    const slot = tables.slot!;
    write32(memory, 0x200, 0x2003); // changed meanwhile (another vCPU)
    expect(tables.setBits(slot, 0x200, 0x1003, PTE_A, false)).toBe(false);
    expect(read32(memory, 0x200)).toBe(0x2003);
    expect(tables.setBits(slot, 0x200, 0x2003, PTE_A | PTE_D, false)).toBe(true);
    expect(read32(memory, 0x200)).toBe(0x2003 | PTE_A | PTE_D);
    write32(memory, 0x200, 0x3003);
    expect(tables.setBits(slot, 0x200, 0x1003, PTE_A, true)).toBe(true); // forced: ORed in
    expect(read32(memory, 0x200)).toBe(0x3003 | PTE_A);
    expect(tables.writeBacks).toBe(2);
  });

  it("lets a walk set A and D through it", () => {
    const memory = memoryWith(makeBytes());
    write32(memory, 0x1000, 0x2000 | PTE_P | PTE_RW);
    write32(memory, 0x2000, 0x3000 | PTE_P | PTE_RW);
    const mmu = newMmu(memory);
    mmu.setControlRegisters(CR0_PE | CR0_PG, 0x1000, 0, 0);
    expect(mmu.translate(0x10, ACCESS_WRITE, false)).toBe(0x3010);
    expect(read32(memory, 0x1000)).toBe(0x2000 | PTE_P | PTE_RW | PTE_A);
    expect(read32(memory, 0x2000)).toBe(0x3000 | PTE_P | PTE_RW | PTE_A | PTE_D);
  });
});

it("drops A/D writes to page tables in ROM, as ROM drops writes", () => {
  const bytes = new Uint8Array(0x10000);
  new DataView(bytes.buffer).setUint32(0x1000, 0x2000 | PTE_P | PTE_RW, true);
  new DataView(bytes.buffer).setUint32(0x2000, 0x3000 | PTE_P | PTE_RW, true);
  const memory = memoryWith(bytes, true);
  const mmu = newMmu(memory);
  mmu.setControlRegisters(CR0_PE | CR0_PG, 0x1000, 0, 0);
  expect(mmu.translate(0x10, ACCESS_WRITE, false)).toBe(0x3010);
  expect(read32(memory, 0x2000)).toBe(0x3000 | PTE_P | PTE_RW);
});

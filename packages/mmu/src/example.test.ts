import { PhysicalMemory } from "@tsvmm/ept";
import { expect, it } from "vitest";
import { ACCESS_WRITE, CR0_PG, MMU_NOT_RAM, MMU_PAGE_FAULT, Mmu } from "./index.js";

// The README example, kept here so it cannot rot.
it("README example", () => {
  const memory = new PhysicalMemory();
  memory.setUserMemoryRegion({ slot: 0, guestPhysAddr: 0, memorySize: 4 << 20 }); // 4 MiB of RAM

  // 32-bit paging: page directory at 0x1000, one page table at 0x2000.
  memory.writeU32(0x1000 + 1 * 4, 0x2000 | 0x7); // PDE 1: present, writable, user -> PT at 0x2000
  memory.writeU32(0x2000 + 0 * 4, 0x5000 | 0x7); // PTE 0: linear 0x0040_0000 -> physical 0x5000
  memory.writeU32(0x2000 + 1 * 4, 0xfee0_0000 | 0x3); // PTE 1: an MMIO page, supervisor only
  memory.writeU8(0x5123, 0xab);

  const mmu = new Mmu(memory, { physicalAddressBits: 36 });
  mmu.setControlRegisters(CR0_PG | 1, 0x1000, 0, 0); // CR0 = PE|PG, CR3, CR4, EFER

  // Slow path: a physical address, with the A bits (and D, for a write) set in the tables.
  const physical = mmu.translate(0x0040_0123, ACCESS_WRITE, true); // 0x5123
  const pte = memory.readU32(0x2000); // 0x5067: A and D now set

  // Fast path: an index into the TLB's host views of guest RAM.
  const e = mmu.lookupRead(0x0040_0123);
  const byte = mmu.tlb.bytes[e][mmu.tlb.offset[e] + 0x123]; // 0xab

  // Not RAM: the CPU emulates the access at mmu.physicalAddress.
  const mmio = mmu.lookupWrite(0x0040_1010); // MMU_NOT_RAM, physicalAddress 0xfee0_0010

  // Faults come back as a code, with the details in fields.
  mmu.setUserMode(true); // CPL 3
  const fault = mmu.lookupRead(0x0040_1010); // MMU_PAGE_FAULT
  const errorCode = mmu.faultErrorCode; // 0b101: protection violation (P=1), read, user
  const cr2 = mmu.faultAddress; // 0x0040_1010

  expect([physical, pte, byte]).toEqual([0x5123, 0x5067, 0xab]);
  expect([mmio, mmu.physicalAddress]).toEqual([MMU_NOT_RAM, 0xfee0_0010]);
  expect([fault, errorCode, cr2]).toEqual([MMU_PAGE_FAULT, 0b101, 0x0040_1010]);
  expect(mmu.getCounters()).toMatchObject({ walks: 3, accessedDirtyWrites: 3 });
});

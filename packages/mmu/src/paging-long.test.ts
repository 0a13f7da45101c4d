import { describe, expect, it } from "vitest";
import {
  ACCESS_EXECUTE,
  ACCESS_READ,
  ACCESS_WRITE,
  CR0_PG,
  CR4_PAE,
  CR4_PGE,
  EFER_LMA,
  EFER_LME,
  EFER_NXE,
  ENTRY_GLOBAL,
  HIGH_HALF_MARK,
  MMU_NON_CANONICAL,
  MMU_PAGE_FAULT,
  MMU_TABLE_NOT_RAM,
  type MmuOptions,
  PAGING_LONG,
  PAGING_PAE,
  PF_I,
  PF_P,
  PF_RSVD,
  PF_U,
  PF_W,
  PTE_A,
  PTE_D,
  PTE_G,
  PTE_P,
  PTE_PCD,
  PTE_PS,
  PTE_PWT,
  PTE_RW,
  PTE_US,
  pagingModeFor,
  TLB_MASK,
} from "./index.js";
import { CR0_PE, hostByte, newMmu, ram, read32, write64 } from "./page-tables.test-support.js";

// 0xffff_ff80_4060_3123: PML4E 511 (0x1ff8) -> PDPT 0x2000; PDPTE 1 -> PD 0x3000; PDE 3 -> PT 0x4000;
// PTE 3 -> frame 0x50_0000. PDPTE 2 maps a 1 GiB page; PDE 4 a 2 MiB page.
const HIGH = 0xffff_ff80 | 0;
const LOW = 0x4060_3123;
const PML4 = 0x1000;
const PML4E = PML4 + 511 * 8;
const PDPT = 0x2000;
const PDPTE = PDPT + 8;
const PD = 0x3000;
const PDE = PD + 3 * 8;
const PT = 0x4000;
const PTE = PT + 3 * 8;
const FRAME = 0x50_0000;
const GIANT_PDPTE = PDPT + 2 * 8;
const GIANT_LOW = 0x8012_3456 | 0;
const ALL = PTE_P | PTE_RW | PTE_US;
const XD = 1 << 31;

type Entry = [number, number];

interface Layout {
  pml4e?: Entry;
  pdpte?: Entry;
  pde?: Entry;
  pte?: Entry;
  giant?: Entry;
  efer?: number;
  options?: MmuOptions;
}

function setup({
  pml4e = [ALL, 0],
  pdpte = [ALL, 0],
  pde = [ALL, 0],
  pte = [ALL, 0],
  giant,
  efer = 0,
  options,
}: Layout = {}) {
  const memory = ram();
  write64(memory, PML4E, PDPT | pml4e[0], pml4e[1]);
  write64(memory, PDPTE, PD | pdpte[0], pdpte[1]);
  write64(memory, PDE, PT | pde[0], pde[1]);
  write64(memory, PTE, FRAME | pte[0], pte[1]);
  if (giant !== undefined) write64(memory, GIANT_PDPTE, giant[0] | PTE_PS, giant[1]);
  const mmu = newMmu(memory, options);
  expect(mmu.setControlRegisters(CR0_PE | CR0_PG, PML4, CR4_PAE, EFER_LME | EFER_LMA | efer)).toBe(true);
  expect(mmu.mode).toBe(PAGING_LONG);
  return { memory, mmu };
}

describe("4-level paging", () => {
  it("is selected by CR0.PG, CR4.PAE and EFER.LME/LMA", () => {
    expect(pagingModeFor(CR0_PG, CR4_PAE, EFER_LME | EFER_LMA)).toBe(PAGING_LONG);
    expect(pagingModeFor(CR0_PG, CR4_PAE, EFER_LMA)).toBe(PAGING_LONG);
    expect(pagingModeFor(CR0_PG, CR4_PAE, EFER_NXE)).toBe(PAGING_PAE);
  });

  it("walks four levels, setting A in each and D in the PTE", () => {
    const { memory, mmu } = setup();
    expect(mmu.translateLong(LOW, HIGH, ACCESS_WRITE, true)).toBe(FRAME + 0x123);
    expect(read32(memory, PML4E)).toBe(PDPT | ALL | PTE_A);
    expect(read32(memory, PDPTE)).toBe(PD | ALL | PTE_A);
    expect(read32(memory, PDE)).toBe(PT | ALL | PTE_A);
    expect(read32(memory, PTE)).toBe(FRAME | ALL | PTE_A | PTE_D);
  });

  it("refuses non-canonical addresses", () => {
    const { mmu } = setup();
    expect(mmu.translateLong(LOW, 0x0000_8000, ACCESS_READ, false)).toBe(MMU_NON_CANONICAL);
    expect(mmu.translateLong(LOW, 0xffff_7fff | 0, ACCESS_READ, false)).toBe(MMU_NON_CANONICAL);
    expect(mmu.lookupLong(LOW, 0x0001_0000, ACCESS_READ)).toBe(MMU_NON_CANONICAL);
  });

  it("faults with P=0 at each level and reports CR2 in two halves", () => {
    for (const layout of [
      { pml4e: [0, 0] },
      { pdpte: [0, 0] },
      { pde: [0, 0] },
      { pte: [0, 0] },
    ] as Layout[]) {
      const { mmu } = setup(layout);
      expect(mmu.translateLong(LOW, HIGH, ACCESS_WRITE, true)).toBe(MMU_PAGE_FAULT);
      expect(mmu.faultErrorCode).toBe(PF_W | PF_U);
      expect([mmu.faultAddress, mmu.faultAddressHigh]).toEqual([LOW, HIGH]);
    }
  });

  it("combines U/S and R/W over all four levels", () => {
    for (const level of ["pml4e", "pdpte", "pde", "pte"] as const) {
      const userDenied = setup({ [level]: [PTE_P | PTE_RW, 0] }).mmu;
      expect(userDenied.translateLong(LOW, HIGH, ACCESS_READ, true)).toBe(MMU_PAGE_FAULT);
      expect(userDenied.faultErrorCode).toBe(PF_P | PF_U);
      expect(userDenied.translateLong(LOW, HIGH, ACCESS_READ, false)).toBe(FRAME + 0x123);
      const readOnly = setup({ [level]: [PTE_P | PTE_US, 0] }).mmu;
      expect(readOnly.translateLong(LOW, HIGH, ACCESS_WRITE, true)).toBe(MMU_PAGE_FAULT);
      expect(readOnly.faultErrorCode).toBe(PF_P | PF_W | PF_U);
    }
  });

  it("honours XD at any level with EFER.NXE, and treats it as reserved without", () => {
    for (const level of ["pml4e", "pdpte", "pde", "pte"] as const) {
      const nx = setup({ [level]: [ALL, XD], efer: EFER_NXE }).mmu;
      expect(nx.translateLong(LOW, HIGH, ACCESS_READ, true)).toBe(FRAME + 0x123);
      expect(nx.translateLong(LOW, HIGH, ACCESS_EXECUTE, true)).toBe(MMU_PAGE_FAULT);
      expect(nx.faultErrorCode).toBe(PF_P | PF_U | PF_I);
      const reserved = setup({ [level]: [ALL, XD] }).mmu;
      expect(reserved.translateLong(LOW, HIGH, ACCESS_READ, true)).toBe(MMU_PAGE_FAULT);
      expect(reserved.faultErrorCode).toBe(PF_P | PF_U | PF_RSVD);
    }
  });

  it("ignores bits 62:52 (unlike PAE) but not address bits at or above MAXPHYADDR", () => {
    const { mmu } = setup({ pml4e: [ALL, 0x7ff0_0000], pte: [ALL, 0x7ff0_0000] });
    expect(mmu.translateLong(LOW, HIGH, ACCESS_READ, false)).toBe(FRAME + 0x123);
    const wide = setup({ pde: [ALL, 1 << 4] }).mmu;
    expect(wide.translateLong(LOW, HIGH, ACCESS_READ, false)).toBe(MMU_PAGE_FAULT);
    expect(wide.faultErrorCode).toBe(PF_P | PF_RSVD);
  });

  it("ignores PWT/PCD at every level and makes a leaf with G global under CR4.PGE", () => {
    const flags = ALL | PTE_PWT | PTE_PCD;
    const { mmu } = setup({
      pml4e: [flags | PTE_G, 0],
      pdpte: [flags, 0],
      pde: [flags, 0],
      pte: [flags | PTE_G, 0],
    });
    expect(mmu.translateLong(LOW, HIGH, ACCESS_WRITE, true)).toBe(FRAME + 0x123);
    const e = (LOW >>> 12) & TLB_MASK;
    expect(mmu.tlb.rights[e] & ENTRY_GLOBAL).toBe(0); // CR4.PGE is off
    mmu.setCr4(mmu.cr4 | CR4_PGE);
    mmu.translateLong(LOW, HIGH, ACCESS_READ, false);
    expect(mmu.tlb.rights[e] & ENTRY_GLOBAL).toBe(ENTRY_GLOBAL);
    mmu.setCr3(PML4);
    const walks = mmu.walks;
    mmu.translateLong(LOW, HIGH, ACCESS_READ, false);
    expect(mmu.walks).toBe(walks);
  });

  it("treats PS in a PML4E as reserved", () => {
    const { mmu } = setup({ pml4e: [ALL | PTE_PS, 0] });
    expect(mmu.translateLong(LOW, HIGH, ACCESS_READ, false)).toBe(MMU_PAGE_FAULT);
    expect(mmu.faultErrorCode).toBe(PF_P | PF_RSVD);
  });

  it("takes the PML4 address from CR3 bits 51:12", () => {
    const { mmu } = setup();
    mmu.setCr3(PML4, 1);
    expect(mmu.translateLong(LOW, HIGH, ACCESS_READ, false)).toBe(MMU_TABLE_NOT_RAM);
    expect(mmu.faultPhysical).toBe(2 ** 32 + PML4E);
  });

  describe("1 GiB pages", () => {
    it("maps 1 GiB through a PDPTE with PS and sets its A and D bits", () => {
      const { memory, mmu } = setup({ giant: [0x4000_0000 | ALL, 0] });
      expect(mmu.translateLong(GIANT_LOW, HIGH, ACCESS_WRITE, false)).toBe(0x4012_3456);
      expect(read32(memory, GIANT_PDPTE)).toBe(0x4000_0000 | PTE_PS | ALL | PTE_A | PTE_D);
    });

    it.each([1 << 13, 1 << 29])("faults with RSVD on reserved bit mask %i", (bit) => {
      const { mmu } = setup({ giant: [ALL | bit, 0] });
      expect(mmu.translateLong(GIANT_LOW, HIGH, ACCESS_READ, true)).toBe(MMU_PAGE_FAULT);
      expect(mmu.faultErrorCode).toBe(PF_P | PF_RSVD | PF_U);
    });

    it("accepts PAT (bit 12), and treats PS as reserved without 1 GiB page support", () => {
      expect(setup({ giant: [ALL | 0x1000, 0] }).mmu.translateLong(GIANT_LOW, HIGH, ACCESS_READ, true)).toBe(
        0x12_3456,
      );
      const { mmu } = setup({ giant: [ALL, 0], options: { pages1G: false } });
      expect(mmu.translateLong(GIANT_LOW, HIGH, ACCESS_READ, true)).toBe(MMU_PAGE_FAULT);
      expect(mmu.faultErrorCode).toBe(PF_P | PF_RSVD | PF_U);
    });

    it("is served by host bytes through the 64-bit lookup", () => {
      const { memory, mmu } = setup({ giant: [ALL, 0] });
      memory.writeU8(0x12_3456, 0xab);
      const e = mmu.lookupLong(GIANT_LOW, HIGH, ACCESS_READ);
      expect(e).toBeGreaterThanOrEqual(0);
      expect(hostByte(mmu, e, GIANT_LOW)).toBe(0xab);
    });
  });

  describe("TLB tags above 4 GiB", () => {
    it("marks them so that a 32-bit lookup of the same low half misses", () => {
      const { memory, mmu } = setup();
      write64(memory, PML4, PDPT | ALL, 0); // the low half maps the same tables (PML4E 0)
      const e = mmu.lookupLong(LOW, HIGH, ACCESS_READ);
      expect(e).toBe((LOW >>> 12) & TLB_MASK);
      expect(mmu.tlb.readTag[e]).toBe((LOW >>> 12) | HIGH_HALF_MARK);
      expect(mmu.tlb.highTag[e]).toBe(HIGH);
      const walks = mmu.walks;
      expect(mmu.lookupRead(LOW)).toBe(e);
      expect(mmu.walks).toBe(walks + 1);
      expect(mmu.tlb.readTag[e]).toBe(LOW >>> 12);
      expect(mmu.lookupLong(LOW, HIGH, ACCESS_READ)).toBe(e);
      expect(mmu.walks).toBe(walks + 2);
      expect(mmu.lookupLong(LOW, HIGH, ACCESS_READ)).toBe(e);
      expect(mmu.walks).toBe(walks + 2);
    });

    it("invalidates a page above 4 GiB with INVLPG", () => {
      const { mmu } = setup();
      mmu.lookupLong(LOW, HIGH, ACCESS_READ);
      mmu.invalidatePage(LOW, 0); // another page: kept
      const walks = mmu.walks;
      mmu.lookupLong(LOW, HIGH, ACCESS_READ);
      expect(mmu.walks).toBe(walks);
      mmu.invalidatePage(LOW, HIGH);
      mmu.lookupLong(LOW, HIGH, ACCESS_READ);
      expect(mmu.walks).toBe(walks + 1);
    });
  });
});

import { describe, expect, it } from "vitest";
import {
  ACCESS_EXECUTE,
  ACCESS_READ,
  ACCESS_WRITE,
  CR0_PG,
  CR0_WP,
  CR4_PAE,
  CR4_PGE,
  EFER_NXE,
  ENTRY_GLOBAL,
  MMU_NOT_RAM,
  MMU_PAGE_FAULT,
  type MmuOptions,
  PAGING_32,
  PAGING_NONE,
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
  TLB_MASK,
} from "./index.js";
import { CR0_PE, newMmu, ram, read32, readHigh32, write64 } from "./page-tables.test-support.js";

// PDPT at 0x1000; PDPTE 1 -> PD at 0x3000; PDE 3 -> PT at 0x4000; PTE 3 -> frame 0x50_0000.
// 0x4080_0000: PDE 4, a 2 MiB page at 0x60_0000.
const PDPT = 0x1000;
const PD = 0x3000;
const PT = 0x4000;
const LINEAR = 0x4060_3123;
const PDPTE_ADDRESS = PDPT + 8;
const PDE_ADDRESS = PD + 3 * 8;
const PTE_ADDRESS = PT + 3 * 8;
const FRAME = 0x50_0000;
const LARGE_LINEAR = 0x4080_0000;
const LARGE_PDE_ADDRESS = PD + 4 * 8;
const LARGE_FRAME = 0x60_0000;
const ALL = PTE_P | PTE_RW | PTE_US;
const XD = 1 << 31;

interface Entries {
  pde?: [number, number];
  pte?: [number, number];
  large?: [number, number];
  efer?: number;
  cr0?: number;
  cr4?: number;
  options?: MmuOptions;
}

function setup({ pde = [ALL, 0], pte = [ALL, 0], large, efer = 0, cr0 = 0, cr4 = 0, options }: Entries = {}) {
  const memory = ram();
  write64(memory, PDPTE_ADDRESS, PD | PTE_P, 0);
  write64(memory, PDE_ADDRESS, PT | pde[0], pde[1]);
  write64(memory, PTE_ADDRESS, FRAME | pte[0], pte[1]);
  if (large !== undefined) write64(memory, LARGE_PDE_ADDRESS, LARGE_FRAME | PTE_PS | large[0], large[1]);
  const mmu = newMmu(memory, options);
  expect(mmu.setControlRegisters(CR0_PE | CR0_PG | cr0, PDPT, CR4_PAE | cr4, efer)).toBe(true);
  expect(mmu.mode).toBe(PAGING_PAE);
  return { memory, mmu };
}

describe("PAE paging", () => {
  it("translates through PDPTE register, PDE and PTE, setting A (not in the PDPTE) and D", () => {
    const { memory, mmu } = setup();
    expect(mmu.translate(LINEAR, ACCESS_READ, true)).toBe(FRAME + 0x123);
    expect(read32(memory, PDPTE_ADDRESS)).toBe(PD | PTE_P);
    expect(read32(memory, PDE_ADDRESS)).toBe(PT | ALL | PTE_A);
    expect(read32(memory, PTE_ADDRESS)).toBe(FRAME | ALL | PTE_A);
    expect(mmu.translate(LINEAR, ACCESS_WRITE, true)).toBe(FRAME + 0x123);
    expect(read32(memory, PDE_ADDRESS)).toBe(PT | ALL | PTE_A);
    expect(read32(memory, PTE_ADDRESS)).toBe(FRAME | ALL | PTE_A | PTE_D);
  });

  it("uses the PDPTEs loaded with CR3, not the ones in memory now", () => {
    const { memory, mmu } = setup();
    write64(memory, PDPTE_ADDRESS, 0, 0);
    expect(mmu.translate(LINEAR, ACCESS_READ, false)).toBe(FRAME + 0x123);
    expect(mmu.pdpteLow[1]).toBe(PD | PTE_P);
    expect(mmu.setCr3(PDPT)).toBe(true);
    expect(mmu.translate(LINEAR, ACCESS_READ, false)).toBe(MMU_PAGE_FAULT);
    expect(mmu.faultErrorCode).toBe(0);
  });

  it("takes the PDPT address from CR3 bits 31:5", () => {
    const { memory, mmu } = setup();
    write64(memory, 0x1fe0 + 8, PD | PTE_P, 0);
    expect(mmu.setCr3(0x1fe0 | 0x18)).toBe(true);
    expect(mmu.translate(LINEAR, ACCESS_READ, false)).toBe(FRAME + 0x123);
  });

  it.each([
    ["bit 1", 1 << 1, 0],
    ["bit 2", 1 << 2, 0],
    ["bit 5", 1 << 5, 0],
    ["bit 8", 1 << 8, 0],
    ["bit 36 (MAXPHYADDR 36)", 0, 1 << 4],
    ["bit 52", 0, 1 << 20],
    ["bit 63 (no XD in PDPTEs)", 0, XD],
  ])(
    "rejects a present PDPTE with reserved %s: the MOV to CR3 raises #GP and nothing changes",
    (_n, low, high) => {
      const { memory, mmu } = setup();
      mmu.translate(LINEAR, ACCESS_READ, false);
      write64(memory, PDPT + 3 * 8, 0x8000 | PTE_P | low, high);
      expect(mmu.setCr3(PDPT + 0x20)).toBe(true); // another PDPT, all zero: fine
      expect(mmu.setCr3(PDPT)).toBe(false);
      expect(mmu.cr3).toBe(PDPT + 0x20);
      write64(memory, PDPT + 3 * 8, 0x8000 | low, high); // not present: reserved bits do not matter
      expect(mmu.setCr3(PDPT)).toBe(true);
    },
  );

  it("accepts PWT, PCD and ignored bits 11:9 in PDPTEs, and address bits below MAXPHYADDR", () => {
    const { memory, mmu } = setup();
    write64(memory, PDPT + 2 * 8, 0x8000 | PTE_P | PTE_PWT | PTE_PCD | 0xe00, 0xf);
    expect(mmu.setCr3(PDPT)).toBe(true);
    expect(mmu.pdpteHigh[2]).toBe(0xf);
  });

  it("rejects a PDPT outside RAM", () => {
    const { mmu } = setup();
    expect(mmu.setCr3(0xfee0_0000)).toBe(false);
    expect(mmu.cr3).toBe(PDPT);
  });

  it("loads the PDPTEs when PAE paging becomes active through CR0 or CR4", () => {
    const memory = ram();
    write64(memory, PDPTE_ADDRESS, PD | PTE_P, 0);
    write64(memory, PDE_ADDRESS, PT | ALL, 0);
    write64(memory, PTE_ADDRESS, FRAME | ALL, 0);
    const mmu = newMmu(memory);
    mmu.setControlRegisters(CR0_PE, PDPT, CR4_PAE, 0);
    expect(mmu.mode).toBe(PAGING_NONE);
    expect(mmu.pdpteLow[1]).toBe(0);
    expect(mmu.setCr0(CR0_PE | CR0_PG)).toBe(true);
    expect(mmu.pdpteLow[1]).toBe(PD | PTE_P);
    expect(mmu.translate(LINEAR, ACCESS_READ, false)).toBe(FRAME + 0x123);

    // From 32-bit paging, setting CR4.PAE loads them too; invalid ones refuse the switch.
    mmu.setControlRegisters(CR0_PE | CR0_PG, PDPT, 0, 0);
    expect(mmu.mode).toBe(PAGING_32);
    write64(memory, PDPT, PTE_P | (1 << 7), 0);
    expect(mmu.setCr4(CR4_PAE)).toBe(false);
    expect(mmu.mode).toBe(PAGING_32);
    write64(memory, PDPT, 0, 0);
    expect(mmu.setCr4(CR4_PAE)).toBe(true);
    expect(mmu.mode).toBe(PAGING_PAE);
  });

  it("faults with P=0 on a not-present PDPTE, PDE or PTE", () => {
    const { mmu } = setup({ pte: [PTE_RW, 0] });
    expect(mmu.translate(LINEAR, ACCESS_WRITE, true)).toBe(MMU_PAGE_FAULT);
    expect(mmu.faultErrorCode).toBe(PF_W | PF_U);
    expect(mmu.translate(0x0000_1000, ACCESS_READ, false)).toBe(MMU_PAGE_FAULT); // PDPTE 0 empty
    expect(mmu.faultErrorCode).toBe(0);
    expect(mmu.translate(0x4000_0000, ACCESS_READ, true)).toBe(MMU_PAGE_FAULT); // PDE 0 empty
    expect(mmu.faultErrorCode).toBe(PF_U);
  });

  it("combines U/S and R/W over PDE and PTE, with CR0.WP for the supervisor", () => {
    const { mmu } = setup({ pde: [PTE_P | PTE_US, 0] });
    expect(mmu.translate(LINEAR, ACCESS_WRITE, true)).toBe(MMU_PAGE_FAULT);
    expect(mmu.faultErrorCode).toBe(PF_P | PF_W | PF_U);
    expect(mmu.translate(LINEAR, ACCESS_WRITE, false)).toBe(FRAME + 0x123);
    mmu.setCr0(mmu.cr0 | CR0_WP);
    expect(mmu.translate(LINEAR, ACCESS_WRITE, false)).toBe(MMU_PAGE_FAULT);
    expect(mmu.faultErrorCode).toBe(PF_P | PF_W);
    const supervisorOnly = setup({ pte: [PTE_P | PTE_RW, 0] }).mmu;
    expect(supervisorOnly.translate(LINEAR, ACCESS_READ, true)).toBe(MMU_PAGE_FAULT);
    expect(supervisorOnly.faultErrorCode).toBe(PF_P | PF_U);
  });

  it.each([
    ["PTE", [ALL, 0], [ALL, XD]],
    ["PDE", [ALL, XD], [ALL, 0]],
  ] as [string, [number, number], [number, number]][])(
    "with EFER.NXE, XD in the %s forbids instruction fetches (I/D=1)",
    (_level, pde, pte) => {
      const { mmu } = setup({ pde, pte, efer: EFER_NXE });
      expect(mmu.translate(LINEAR, ACCESS_READ, true)).toBe(FRAME + 0x123);
      expect(mmu.translate(LINEAR, ACCESS_WRITE, true)).toBe(FRAME + 0x123);
      expect(mmu.translate(LINEAR, ACCESS_EXECUTE, false)).toBe(MMU_PAGE_FAULT);
      expect(mmu.faultErrorCode).toBe(PF_P | PF_I);
      expect(mmu.translate(LINEAR, ACCESS_EXECUTE, true)).toBe(MMU_PAGE_FAULT);
      expect(mmu.faultErrorCode).toBe(PF_P | PF_I | PF_U);
    },
  );

  it("sets I/D for fetch faults only with EFER.NXE", () => {
    const withNx = setup({ pte: [PTE_RW, 0], efer: EFER_NXE }).mmu;
    expect(withNx.translate(LINEAR, ACCESS_EXECUTE, true)).toBe(MMU_PAGE_FAULT);
    expect(withNx.faultErrorCode).toBe(PF_I | PF_U);
    const withoutNx = setup({ pte: [PTE_RW, 0] }).mmu;
    expect(withoutNx.translate(LINEAR, ACCESS_EXECUTE, true)).toBe(MMU_PAGE_FAULT);
    expect(withoutNx.faultErrorCode).toBe(PF_U);
  });

  it.each([
    ["XD without EFER.NXE, in the PTE", [ALL, 0], [ALL, XD]],
    ["XD without EFER.NXE, in the PDE", [ALL, XD], [ALL, 0]],
    ["bit 52", [ALL, 0], [ALL, 1 << 20]],
    ["bit 62", [ALL, 1 << 30], [ALL, 0]],
    ["bit 36 with MAXPHYADDR 36", [ALL, 0], [ALL, 1 << 4]],
  ] as [string, [number, number], [number, number]][])("faults with RSVD on %s", (_name, pde, pte) => {
    const { mmu } = setup({ pde, pte });
    expect(mmu.translate(LINEAR, ACCESS_READ, false)).toBe(MMU_PAGE_FAULT);
    expect(mmu.faultErrorCode).toBe(PF_P | PF_RSVD);
    expect(mmu.translate(LINEAR, ACCESS_EXECUTE, true)).toBe(MMU_PAGE_FAULT);
    expect(mmu.faultErrorCode).toBe(PF_P | PF_RSVD | PF_U);
  });

  it("reports I/D with RSVD for an instruction fetch under EFER.NXE", () => {
    const { mmu } = setup({ pte: [ALL, 1 << 20], efer: EFER_NXE });
    expect(mmu.translate(LINEAR, ACCESS_EXECUTE, false)).toBe(MMU_PAGE_FAULT);
    expect(mmu.faultErrorCode).toBe(PF_P | PF_RSVD | PF_I);
  });

  it("maps physical addresses above 4 GiB below MAXPHYADDR", () => {
    const { mmu } = setup({ pte: [ALL, 0xf] });
    expect(mmu.translate(LINEAR, ACCESS_READ, false)).toBe(0xf * 2 ** 32 + FRAME + 0x123);
    expect(mmu.fillEntry(LINEAR, 0, ACCESS_READ, false)).toBe(MMU_NOT_RAM);
    const wide = setup({ pte: [ALL, 0xfffff], options: { physicalAddressBits: 52 } }).mmu;
    expect(wide.translate(LINEAR, ACCESS_READ, false)).toBe(0xfffff * 2 ** 32 + FRAME + 0x123);
  });

  it("makes a 4 KiB page global only with G in the PTE and CR4.PGE", () => {
    const e = (LINEAR >>> 12) & TLB_MASK;
    const global = setup({ pte: [ALL | PTE_G, 0], cr4: CR4_PGE }).mmu;
    global.translate(LINEAR, ACCESS_READ, false);
    expect(global.tlb.rights[e] & ENTRY_GLOBAL).toBe(ENTRY_GLOBAL);
    const directoryOnly = setup({ pde: [ALL | PTE_G, 0], cr4: CR4_PGE }).mmu;
    directoryOnly.translate(LINEAR, ACCESS_READ, false);
    expect(directoryOnly.tlb.rights[e] & ENTRY_GLOBAL).toBe(0);
  });

  it("ignores PWT, PCD and bits 11:9", () => {
    const { mmu } = setup({
      pde: [ALL | PTE_PWT | PTE_PCD | 0xe00, 0],
      pte: [ALL | PTE_PWT | PTE_PCD | 0xe00, 0],
    });
    expect(mmu.translate(LINEAR, ACCESS_WRITE, true)).toBe(FRAME + 0x123);
  });

  describe("2 MiB pages", () => {
    it("maps 2 MiB through a PDE with PS, whatever CR4.PSE, setting A and D in it", () => {
      const { memory, mmu } = setup({ large: [ALL, 0] });
      expect(mmu.translate(LARGE_LINEAR + 0x1f_f456, ACCESS_WRITE, true)).toBe(LARGE_FRAME + 0x1f_f456);
      expect(read32(memory, LARGE_PDE_ADDRESS)).toBe(LARGE_FRAME | PTE_PS | ALL | PTE_A | PTE_D);
      expect(readHigh32(memory, LARGE_PDE_ADDRESS)).toBe(0);
    });

    it.each([
      [1 << 13, 0],
      [1 << 20, 0],
      [0, 1 << 4],
    ])("faults with RSVD on reserved bits %i:%i", (low, high) => {
      const { mmu } = setup({ large: [ALL | low, high] });
      expect(mmu.translate(LARGE_LINEAR, ACCESS_WRITE, false)).toBe(MMU_PAGE_FAULT);
      expect(mmu.faultErrorCode).toBe(PF_P | PF_RSVD | PF_W);
    });

    it("treats bit 12 as PAT", () => {
      expect(setup({ large: [ALL | 0x1000, 0] }).mmu.translate(LARGE_LINEAR, ACCESS_READ, false)).toBe(
        LARGE_FRAME,
      );
      const { mmu } = setup({ large: [ALL | 0x1000, 0], options: { pat: false } });
      expect(mmu.translate(LARGE_LINEAR, ACCESS_READ, false)).toBe(MMU_PAGE_FAULT);
      expect(mmu.faultErrorCode).toBe(PF_P | PF_RSVD);
    });

    it("honours XD, U/S, R/W and G", () => {
      const { mmu } = setup({ large: [PTE_P | PTE_G, XD], efer: EFER_NXE, cr4: CR4_PGE });
      expect(mmu.translate(LARGE_LINEAR, ACCESS_READ, true)).toBe(MMU_PAGE_FAULT);
      expect(mmu.faultErrorCode).toBe(PF_P | PF_U);
      expect(mmu.translate(LARGE_LINEAR, ACCESS_EXECUTE, false)).toBe(MMU_PAGE_FAULT);
      expect(mmu.faultErrorCode).toBe(PF_P | PF_I);
      expect(mmu.translate(LARGE_LINEAR, ACCESS_WRITE, false)).toBe(LARGE_FRAME);
      expect(mmu.tlb.rights[(LARGE_LINEAR >>> 12) & TLB_MASK] & ENTRY_GLOBAL).toBe(ENTRY_GLOBAL);
    });
  });
});

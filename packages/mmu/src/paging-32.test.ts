import { describe, expect, it } from "vitest";
import {
  ACCESS_EXECUTE,
  ACCESS_READ,
  ACCESS_WRITE,
  CR0_PG,
  CR0_WP,
  CR4_PGE,
  CR4_PSE,
  ENTRY_GLOBAL,
  MMU_NOT_RAM,
  MMU_PAGE_FAULT,
  MMU_TABLE_NOT_RAM,
  type MmuOptions,
  PAGING_32,
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
import { CR0_PE, newMmu, ram, read32, write32 } from "./page-tables.test-support.js";

// Page directory at 0x1000, page table at 0x2000.
// 0x0040_3123: PDE 1 -> PT, PTE 3 -> frame 0x50_0000. 0x0080_0000 + x: PDE 2, a 4 MiB page at 0xc0_0000.
const PD = 0x1000;
const PT = 0x2000;
const LINEAR = 0x0040_3123;
const PDE_ADDRESS = PD + 1 * 4;
const PTE_ADDRESS = PT + 3 * 4;
const FRAME = 0x50_0000;
const LARGE_LINEAR = 0x0080_0000;
const LARGE_PDE_ADDRESS = PD + 2 * 4;
const LARGE_FRAME = 0xc0_0000;
const ALL = PTE_P | PTE_RW | PTE_US;

function setup(pdeFlags: number, pteFlags: number, cr0 = 0, cr4 = CR4_PSE, options: MmuOptions = {}) {
  const memory = ram();
  write32(memory, PDE_ADDRESS, PT | pdeFlags);
  write32(memory, PTE_ADDRESS, FRAME | pteFlags);
  const mmu = newMmu(memory, options);
  expect(mmu.setControlRegisters(CR0_PE | CR0_PG | cr0, PD, cr4, 0)).toBe(true);
  expect(mmu.mode).toBe(PAGING_32);
  return { memory, mmu };
}

function setupLarge(pdeFlags: number, cr4 = CR4_PSE, options: MmuOptions = {}) {
  const memory = ram();
  write32(memory, LARGE_PDE_ADDRESS, pdeFlags);
  const mmu = newMmu(memory, options);
  mmu.setControlRegisters(CR0_PE | CR0_PG, PD, cr4, 0);
  return { memory, mmu };
}

describe("32-bit paging: 4 KiB pages", () => {
  it("translates through the PDE and the PTE", () => {
    const { mmu } = setup(ALL, ALL);
    expect(mmu.translate(LINEAR, ACCESS_READ, false)).toBe(FRAME + 0x123);
    expect(mmu.translate(LINEAR, ACCESS_WRITE, true)).toBe(FRAME + 0x123);
    expect(mmu.translate(LINEAR, ACCESS_EXECUTE, true)).toBe(FRAME + 0x123);
  });

  it("sets A in both levels on a read, and D only in the PTE on a write", () => {
    const { memory, mmu } = setup(ALL, ALL);
    mmu.translate(LINEAR, ACCESS_READ, false);
    expect(read32(memory, PDE_ADDRESS)).toBe(PT | ALL | PTE_A);
    expect(read32(memory, PTE_ADDRESS)).toBe(FRAME | ALL | PTE_A);
    mmu.translate(LINEAR, ACCESS_WRITE, false);
    expect(read32(memory, PDE_ADDRESS)).toBe(PT | ALL | PTE_A);
    expect(read32(memory, PTE_ADDRESS)).toBe(FRAME | ALL | PTE_A | PTE_D);
  });

  it("writes A/D back only when they change", () => {
    const { mmu } = setup(ALL, ALL);
    mmu.translate(LINEAR, ACCESS_READ, false);
    expect(mmu.getCounters().accessedDirtyWrites).toBe(2);
    mmu.flush(true);
    mmu.translate(LINEAR, ACCESS_READ, false);
    expect(mmu.getCounters().accessedDirtyWrites).toBe(2);
    mmu.translate(LINEAR, ACCESS_WRITE, false);
    expect(mmu.getCounters().accessedDirtyWrites).toBe(3);
    mmu.flush(true);
    mmu.translate(LINEAR, ACCESS_WRITE, false);
    expect(mmu.getCounters()).toMatchObject({ accessedDirtyWrites: 3, walks: 4 });
  });

  it("does not touch A/D when the access faults", () => {
    const { memory, mmu } = setup(ALL, PTE_P | PTE_US);
    expect(mmu.translate(LINEAR, ACCESS_WRITE, true)).toBe(MMU_PAGE_FAULT);
    expect(read32(memory, PDE_ADDRESS)).toBe(PT | ALL);
    expect(read32(memory, PTE_ADDRESS)).toBe(FRAME | PTE_P | PTE_US);
  });

  it.each([
    ["PDE", 0, ALL],
    ["PTE", ALL, 0],
  ])("a not-present %s faults with P=0 and the access bits", (_level, pde, pte) => {
    const { mmu } = setup(pde | (pde === 0 ? PTE_RW | PTE_US : 0), pte | (pte === 0 ? PTE_RW | PTE_US : 0));
    const cases: [number, boolean, number][] = [
      [ACCESS_READ, false, 0],
      [ACCESS_WRITE, false, PF_W],
      [ACCESS_READ, true, PF_U],
      [ACCESS_WRITE, true, PF_U | PF_W],
      [ACCESS_EXECUTE, true, PF_U], // no I/D bit outside PAE/4-level paging with NXE
    ];
    for (const [access, user, code] of cases) {
      expect(mmu.translate(LINEAR, access, user)).toBe(MMU_PAGE_FAULT);
      expect(mmu.faultErrorCode).toBe(code);
      expect(mmu.faultAddress).toBe(LINEAR);
    }
  });

  it.each([
    ["PDE", PTE_P | PTE_RW, ALL],
    ["PTE", ALL, PTE_P | PTE_RW],
  ])("U/S=0 in the %s denies user accesses (P=1) and allows supervisor ones", (_level, pde, pte) => {
    const { mmu } = setup(pde, pte);
    expect(mmu.translate(LINEAR, ACCESS_READ, true)).toBe(MMU_PAGE_FAULT);
    expect(mmu.faultErrorCode).toBe(PF_P | PF_U);
    expect(mmu.translate(LINEAR, ACCESS_WRITE, true)).toBe(MMU_PAGE_FAULT);
    expect(mmu.faultErrorCode).toBe(PF_P | PF_U | PF_W);
    expect(mmu.translate(LINEAR, ACCESS_EXECUTE, true)).toBe(MMU_PAGE_FAULT);
    expect(mmu.faultErrorCode).toBe(PF_P | PF_U);
    expect(mmu.translate(LINEAR, ACCESS_READ, false)).toBe(FRAME + 0x123);
    expect(mmu.translate(LINEAR, ACCESS_WRITE, false)).toBe(FRAME + 0x123);
  });

  it.each([
    ["PDE", PTE_P | PTE_US, ALL],
    ["PTE", ALL, PTE_P | PTE_US],
  ])(
    "R/W=0 in the %s makes the page read-only for users; CR0.WP extends that to the supervisor",
    (_l, pde, pte) => {
      const { mmu } = setup(pde, pte);
      expect(mmu.translate(LINEAR, ACCESS_READ, true)).toBe(FRAME + 0x123);
      expect(mmu.translate(LINEAR, ACCESS_WRITE, true)).toBe(MMU_PAGE_FAULT);
      expect(mmu.faultErrorCode).toBe(PF_P | PF_W | PF_U);
      expect(mmu.translate(LINEAR, ACCESS_WRITE, false)).toBe(FRAME + 0x123); // WP=0
      mmu.setCr0(mmu.cr0 | CR0_WP);
      expect(mmu.translate(LINEAR, ACCESS_WRITE, false)).toBe(MMU_PAGE_FAULT);
      expect(mmu.faultErrorCode).toBe(PF_P | PF_W);
      expect(mmu.translate(LINEAR, ACCESS_READ, false)).toBe(FRAME + 0x123);
    },
  );

  it("ignores PWT and PCD, and G without CR4.PGE", () => {
    const { mmu } = setup(ALL | PTE_PWT | PTE_PCD, ALL | PTE_PWT | PTE_PCD | PTE_G);
    expect(mmu.translate(LINEAR, ACCESS_WRITE, true)).toBe(FRAME + 0x123);
    expect(mmu.tlb.rights[(LINEAR >>> 12) & TLB_MASK] & ENTRY_GLOBAL).toBe(0);
  });

  it("makes a page with G global under CR4.PGE, and only through the leaf", () => {
    const { mmu } = setup(ALL, ALL | PTE_G, 0, CR4_PSE | CR4_PGE);
    mmu.translate(LINEAR, ACCESS_READ, false);
    expect(mmu.tlb.rights[(LINEAR >>> 12) & TLB_MASK] & ENTRY_GLOBAL).toBe(ENTRY_GLOBAL);
    const other = setup(ALL | PTE_G, ALL, 0, CR4_PSE | CR4_PGE).mmu;
    other.translate(LINEAR, ACCESS_READ, false);
    expect(other.tlb.rights[(LINEAR >>> 12) & TLB_MASK] & ENTRY_GLOBAL).toBe(0);
  });

  it("has no reserved bits in 4 KiB entries when PAT exists; without PAT, PTE bit 7 is reserved", () => {
    expect(setup(ALL | 0xf00, ALL | 0xe80).mmu.translate(LINEAR, ACCESS_READ, false)).toBe(FRAME + 0x123);
    const { mmu } = setup(ALL, ALL | 0x80, 0, CR4_PSE, { pat: false });
    expect(mmu.translate(LINEAR, ACCESS_WRITE, true)).toBe(MMU_PAGE_FAULT);
    expect(mmu.faultErrorCode).toBe(PF_P | PF_RSVD | PF_W | PF_U);
  });

  it("reads tables from outside RAM as MMU_TABLE_NOT_RAM", () => {
    const memory = ram();
    const mmu = newMmu(memory);
    mmu.setControlRegisters(CR0_PE | CR0_PG, 0xfee0_0000, 0, 0);
    expect(mmu.translate(LINEAR, ACCESS_READ, false)).toBe(MMU_TABLE_NOT_RAM);
    expect(mmu.faultPhysical).toBe(0xfee0_0004);
    write32(memory, PD, 0xfee0_0000 | ALL);
    mmu.setCr3(PD);
    expect(mmu.translate(0x5000, ACCESS_READ, false)).toBe(MMU_TABLE_NOT_RAM);
    expect(mmu.faultPhysical).toBe(0xfee0_0014);
  });

  it("returns MMU_NOT_RAM from fillEntry for a frame outside RAM, and the physical address", () => {
    const { memory, mmu } = setup(ALL, ALL);
    write32(memory, PTE_ADDRESS, 0xfed0_0000 | ALL);
    expect(mmu.translate(LINEAR, ACCESS_READ, false)).toBe(0xfed0_0123);
    expect(mmu.fillEntry(LINEAR, 0, ACCESS_READ, false)).toBe(MMU_NOT_RAM);
    expect(mmu.physicalAddress).toBe(0xfed0_0123);
  });

  it("masks physical bit 20 of table reads and frames while A20 is off", () => {
    const memory = ram();
    write32(memory, PD + 0x10_0000 + 4, 0x7000 | ALL); // what the gate would expose with A20 on
    write32(memory, PDE_ADDRESS, PT | ALL);
    write32(memory, PTE_ADDRESS, 0x15_0000 | ALL);
    const mmu = newMmu(memory);
    mmu.setA20(false);
    mmu.setControlRegisters(CR0_PE | CR0_PG, PD + 0x10_0000, 0, 0);
    expect(mmu.translate(LINEAR, ACCESS_READ, false)).toBe(0x5_0123);
    mmu.setA20(true);
    expect(mmu.translate(LINEAR, ACCESS_READ, false)).toBe(MMU_PAGE_FAULT); // PT at 0x7000 is empty
  });
});

describe("32-bit paging: 4 MiB pages", () => {
  it("maps 4 MiB with CR4.PSE and sets A, then D, in the PDE", () => {
    const { memory, mmu } = setupLarge(LARGE_FRAME | PTE_PS | ALL);
    expect(mmu.translate(LARGE_LINEAR + 0x2f_f123, ACCESS_READ, true)).toBe(LARGE_FRAME + 0x2f_f123);
    expect(read32(memory, LARGE_PDE_ADDRESS)).toBe(LARGE_FRAME | PTE_PS | ALL | PTE_A);
    expect(mmu.translate(LARGE_LINEAR + 0x1000, ACCESS_WRITE, true)).toBe(LARGE_FRAME + 0x1000);
    expect(read32(memory, LARGE_PDE_ADDRESS)).toBe(LARGE_FRAME | PTE_PS | ALL | PTE_A | PTE_D);
  });

  it("ignores PS without CR4.PSE: the PDE points to a page table", () => {
    const memory = ram();
    write32(memory, LARGE_PDE_ADDRESS, PT | PTE_PS | ALL);
    write32(memory, PT + 5 * 4, FRAME | ALL);
    const mmu = newMmu(memory);
    mmu.setControlRegisters(CR0_PE | CR0_PG, PD, 0, 0);
    expect(mmu.translate(LARGE_LINEAR + 0x5010, ACCESS_READ, false)).toBe(FRAME + 0x10);
  });

  it("applies U/S, R/W and WP to 4 MiB pages", () => {
    const { mmu } = setupLarge(LARGE_FRAME | PTE_PS | PTE_P | PTE_US);
    expect(mmu.translate(LARGE_LINEAR, ACCESS_WRITE, true)).toBe(MMU_PAGE_FAULT);
    expect(mmu.faultErrorCode).toBe(PF_P | PF_W | PF_U);
    expect(mmu.translate(LARGE_LINEAR, ACCESS_WRITE, false)).toBe(LARGE_FRAME);
    mmu.setCr0(mmu.cr0 | CR0_WP);
    expect(mmu.translate(LARGE_LINEAR, ACCESS_WRITE, false)).toBe(MMU_PAGE_FAULT);
    expect(mmu.faultErrorCode).toBe(PF_P | PF_W);
  });

  it("maps physical bits 39:32 from PDE bits 20:13 (PSE-36), up to MAXPHYADDR", () => {
    const { mmu } = setupLarge(LARGE_FRAME | (0x3 << 13) | PTE_PS | ALL); // physical bits 33:32 = 3
    expect(mmu.translate(LARGE_LINEAR + 0x456, ACCESS_READ, false)).toBe(3 * 2 ** 32 + LARGE_FRAME + 0x456);
    expect(mmu.fillEntry(LARGE_LINEAR + 0x456, 0, ACCESS_READ, false)).toBe(MMU_NOT_RAM);
    const wide = setupLarge(LARGE_FRAME | (0xff << 13) | PTE_PS | ALL, CR4_PSE, { physicalAddressBits: 40 });
    expect(wide.mmu.translate(LARGE_LINEAR, ACCESS_READ, false)).toBe(0xff * 2 ** 32 + LARGE_FRAME);
  });

  it.each([
    [36, true, 1 << 17],
    [36, true, 1 << 21],
    [40, true, 1 << 21],
    [32, true, 1 << 13],
    [36, false, 1 << 13], // without PSE-36 bits 21:13 are all reserved
  ])("with MAXPHYADDR %i (PSE-36 %s), PDE bit mask %i is reserved", (bits, pse36, bit) => {
    const { mmu } = setupLarge(LARGE_FRAME | bit | PTE_PS | ALL, CR4_PSE, {
      physicalAddressBits: bits,
      pse36,
    });
    expect(mmu.translate(LARGE_LINEAR, ACCESS_READ, true)).toBe(MMU_PAGE_FAULT);
    expect(mmu.faultErrorCode).toBe(PF_P | PF_RSVD | PF_U);
    expect(mmu.translate(LARGE_LINEAR, ACCESS_WRITE, false)).toBe(MMU_PAGE_FAULT);
    expect(mmu.faultErrorCode).toBe(PF_P | PF_RSVD | PF_W);
  });

  it("treats PDE bit 12 as PAT (ignored), or reserved without PAT", () => {
    expect(
      setupLarge(LARGE_FRAME | 0x1000 | PTE_PS | ALL).mmu.translate(LARGE_LINEAR, ACCESS_READ, false),
    ).toBe(LARGE_FRAME);
    const { mmu } = setupLarge(LARGE_FRAME | 0x1000 | PTE_PS | ALL, CR4_PSE, { pat: false });
    expect(mmu.translate(LARGE_LINEAR, ACCESS_READ, false)).toBe(MMU_PAGE_FAULT);
    expect(mmu.faultErrorCode).toBe(PF_P | PF_RSVD);
  });

  it("checks reserved bits only in present entries", () => {
    const { mmu } = setupLarge(LARGE_FRAME | (1 << 21) | PTE_PS);
    expect(mmu.translate(LARGE_LINEAR, ACCESS_READ, false)).toBe(MMU_PAGE_FAULT);
    expect(mmu.faultErrorCode).toBe(0);
  });
});

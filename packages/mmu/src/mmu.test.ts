import { PhysicalMemory } from "@tsvmm/ept";
import { describe, expect, it } from "vitest";
import {
  ACCESS_EXECUTE,
  ACCESS_READ,
  ACCESS_WRITE,
  CR0_PG,
  CR0_WP,
  CR4_PAE,
  CR4_PGE,
  CR4_PSE,
  EFER_NXE,
  INVALID_TAG,
  MMU_NOT_RAM,
  MMU_PAGE_FAULT,
  Mmu,
  PAGING_32,
  PAGING_NONE,
  PAGING_PAE,
  PF_P,
  PF_W,
  PTE_D,
  PTE_G,
  PTE_P,
  PTE_PS,
  PTE_RW,
  PTE_US,
  TLB_MASK,
} from "./index.js";
import { CR0_PE, hostByte, newMmu, ram, read32, write32, write64 } from "./page-tables.test-support.js";

// 32-bit paging: PD at 0x1000, PT at 0x2000 maps linear 0x0040_0000 + n * 0x1000 (n < 16) to
// 0x0050_0000 + n * 0x1000; PDE 2 maps a 4 MiB page at 0x00c0_0000.
const PD = 0x1000;
const PT = 0x2000;
const BASE = 0x0040_0000;
const FRAMES = 0x0050_0000;
const LARGE = 0x0080_0000;
const LARGE_FRAME = 0x00c0_0000;
const ALL = PTE_P | PTE_RW | PTE_US;

function pteAddress(n: number): number {
  return PT + n * 4;
}

function setup(pteFlags = ALL, { cr0 = 0, cr4 = CR4_PSE, largeFlags = ALL } = {}) {
  const memory = ram();
  write32(memory, PD + 4, PT | ALL);
  write32(memory, PD + 8, LARGE_FRAME | PTE_PS | largeFlags);
  for (let n = 0; n < 16; n++) {
    write32(memory, pteAddress(n), (FRAMES + n * 0x1000) | pteFlags);
    memory.writeU8(FRAMES + n * 0x1000, 0x10 + n);
  }
  const mmu = newMmu(memory);
  mmu.setControlRegisters(CR0_PE | CR0_PG | cr0, PD, cr4, 0);
  return { memory, mmu };
}

function linear(n: number): number {
  return BASE + n * 0x1000;
}

describe("the fast path", () => {
  it("serves repeated accesses from the tag arrays without walking", () => {
    const { mmu } = setup();
    const e = mmu.lookupRead(linear(3));
    expect(e).toBe((linear(3) >>> 12) & TLB_MASK);
    expect(hostByte(mmu, e, linear(3))).toBe(0x13);
    expect(mmu.tlb.readTag[e]).toBe(linear(3) >>> 12);
    expect(mmu.getCounters()).toMatchObject({ hits: 0, misses: 1, walks: 1 });
    expect(mmu.lookupRead(linear(3) + 0xfff)).toBe(e);
    expect(mmu.lookupExecute(linear(3))).toBe(e);
    expect(mmu.getCounters()).toMatchObject({ hits: 2, misses: 1, walks: 1 });
  });

  it("opens the write path only once the dirty bit is set", () => {
    const { memory, mmu } = setup();
    const e = mmu.lookupRead(linear(1));
    expect(mmu.tlb.writeTag[e]).toBe(INVALID_TAG);
    expect(mmu.lookupWrite(linear(1))).toBe(e);
    expect(read32(memory, pteAddress(1)) & PTE_D).toBe(PTE_D);
    expect(mmu.walks).toBe(2);
    expect(mmu.tlb.writeTag[e]).toBe(linear(1) >>> 12);
    mmu.tlb.bytes[e][mmu.tlb.offset[e] + 5] = 0x77;
    expect(memory.readU8(FRAMES + 0x1005)).toBe(0x77);
    expect(mmu.lookupWrite(linear(1))).toBe(e);
    expect(mmu.walks).toBe(2);
  });

  it("opens the write path at once when the PTE is already dirty", () => {
    const { mmu } = setup(ALL | PTE_D);
    const e = mmu.lookupRead(linear(2));
    expect(mmu.tlb.writeTag[e]).toBe(linear(2) >>> 12);
  });

  it("keeps separate tags per privilege and selects them with setUserMode", () => {
    const { memory, mmu } = setup();
    write32(memory, pteAddress(4), (FRAMES + 0x4000) | PTE_P | PTE_RW | PTE_D);
    const e = mmu.lookupRead(linear(4));
    expect(e).toBeGreaterThanOrEqual(0);
    expect(mmu.tlb.userReadTag[e]).toBe(INVALID_TAG);
    mmu.setUserMode(true);
    expect(mmu.tlb.readTag).toBe(mmu.tlb.userReadTag);
    expect(mmu.lookupRead(linear(4))).toBe(MMU_PAGE_FAULT);
    expect(mmu.faultErrorCode).toBe(PF_P | 4);
    expect(mmu.lookupRead(linear(5))).toBeGreaterThanOrEqual(0);
    mmu.setUserMode(false);
    expect(mmu.lookupWrite(linear(4))).toBe(e);
  });

  it("keeps a separate execute tag (XD pages are readable, not executable)", () => {
    const memory = ram();
    write64(memory, 0x1000, 0x3000 | PTE_P, 0);
    write64(memory, 0x3000, 0x4000 | ALL, 0);
    write64(memory, 0x4000, 0x5000 | ALL, 1 << 31);
    const mmu = newMmu(memory);
    mmu.setControlRegisters(CR0_PE | CR0_PG, 0x1000, CR4_PAE, EFER_NXE);
    const e = mmu.lookupRead(0);
    expect(e).toBe(0);
    expect(mmu.tlb.executeTag[e]).toBe(INVALID_TAG);
    expect(mmu.lookupExecute(0)).toBe(MMU_PAGE_FAULT);
    expect(mmu.faultErrorCode).toBe(0x11);
  });

  it("sends writes to ROM and accesses to MMIO back to the caller, without walking again", () => {
    const memory = ram();
    memory.setUserMemoryRegion({
      slot: 1,
      guestPhysAddr: 0x0100_0000,
      memorySize: 0x1000,
      userspaceMemory: new Uint8Array(0x1000).fill(0xee),
      readOnly: true,
    });
    write32(memory, PD, PT | ALL);
    write32(memory, PT, 0x0100_0000 | ALL | PTE_D);
    write32(memory, PT + 4, 0xfee0_0000 | ALL);
    const mmu = newMmu(memory);
    mmu.setControlRegisters(CR0_PE | CR0_PG, PD, 0, 0);
    const e = mmu.lookupRead(0x10);
    expect(hostByte(mmu, e, 0x10)).toBe(0xee);
    expect(mmu.tlb.writeTag[e]).toBe(INVALID_TAG);
    expect(mmu.lookupWrite(0x10)).toBe(MMU_NOT_RAM);
    expect(mmu.physicalAddress).toBe(0x0100_0010);
    expect(mmu.lookupRead(0x1abc)).toBe(MMU_NOT_RAM);
    expect(mmu.physicalAddress).toBe(0xfee0_0abc);
    const walks = mmu.walks;
    expect(mmu.lookupRead(0x1abc)).toBe(MMU_NOT_RAM);
    expect(mmu.lookupWrite(0x10)).toBe(MMU_NOT_RAM);
    expect(mmu.walks).toBe(walks);
  });
});

describe("invalidation", () => {
  it("INVLPG drops one 4 KiB page, global or not", () => {
    const { memory, mmu } = setup(ALL | PTE_G, { cr4: CR4_PSE | CR4_PGE });
    mmu.lookupRead(linear(1));
    mmu.lookupRead(linear(2));
    write32(memory, pteAddress(1), (FRAMES + 0x8000) | ALL);
    write32(memory, pteAddress(2), (FRAMES + 0x8000) | ALL);
    mmu.invalidatePage(linear(1) + 0x123);
    expect(hostByte(mmu, mmu.lookupRead(linear(1)), linear(1))).toBe(0x18);
    expect(hostByte(mmu, mmu.lookupRead(linear(2)), linear(2))).toBe(0x12); // still cached
  });

  it("INVLPG drops every 4 KiB piece of a large page", () => {
    const { memory, mmu } = setup();
    mmu.lookupRead(LARGE + 0x1000);
    mmu.lookupRead(LARGE + 0x3f_f000);
    mmu.lookupRead(linear(0));
    write32(memory, PD + 8, 0);
    mmu.invalidatePage(LARGE + 0x20_0000);
    expect(mmu.lookupRead(LARGE + 0x1000)).toBe(MMU_PAGE_FAULT);
    expect(mmu.lookupRead(LARGE + 0x3f_f000)).toBe(MMU_PAGE_FAULT);
    const walks = mmu.walks;
    expect(mmu.lookupRead(linear(0))).toBeGreaterThanOrEqual(0);
    expect(mmu.walks).toBe(walks);
  });

  it("a CR3 load drops non-global pages and keeps global ones", () => {
    const { memory, mmu } = setup(ALL, { cr4: CR4_PSE | CR4_PGE });
    write32(memory, pteAddress(1), (FRAMES + 0x1000) | ALL | PTE_G);
    mmu.lookupRead(linear(1));
    mmu.lookupRead(linear(2));
    write32(memory, pteAddress(1), 0);
    write32(memory, pteAddress(2), 0);
    expect(mmu.setCr3(PD)).toBe(true);
    expect(mmu.lookupRead(linear(1))).toBeGreaterThanOrEqual(0); // global: the stale translation stays
    expect(mmu.lookupRead(linear(2))).toBe(MMU_PAGE_FAULT);
  });

  it("without CR4.PGE, the G bit does not survive a CR3 load", () => {
    const { memory, mmu } = setup(ALL | PTE_G);
    mmu.lookupRead(linear(1));
    write32(memory, pteAddress(1), 0);
    mmu.setCr3(PD);
    expect(mmu.lookupRead(linear(1))).toBe(MMU_PAGE_FAULT);
  });

  it.each([
    ["toggling CR4.PGE", (mmu: Mmu) => mmu.setCr4(CR4_PSE)],
    ["toggling CR0.WP", (mmu: Mmu) => mmu.setCr0(mmu.cr0 | CR0_WP)],
    ["toggling EFER.NXE", (mmu: Mmu) => mmu.setEfer(EFER_NXE)],
    ["closing the A20 gate", (mmu: Mmu) => mmu.setA20(false)],
    ["flush(true)", (mmu: Mmu) => mmu.flush(true)],
  ])("%s drops global pages too", (_name, change) => {
    const { memory, mmu } = setup(ALL | PTE_G, { cr4: CR4_PSE | CR4_PGE });
    mmu.lookupRead(linear(1));
    write32(memory, pteAddress(1), 0);
    change(mmu);
    expect(mmu.lookupRead(linear(1))).toBe(MMU_PAGE_FAULT);
  });

  it("changes that do not affect translation keep the TLB", () => {
    const { memory, mmu } = setup();
    mmu.lookupRead(linear(1));
    write32(memory, pteAddress(1), 0);
    mmu.setCr0(mmu.cr0 | (1 << 3)); // CR0.TS
    mmu.setCr4(mmu.cr4 | (1 << 9)); // CR4.OSFXSR
    mmu.setA20(true); // already open
    expect(mmu.lookupRead(linear(1))).toBeGreaterThanOrEqual(0);
  });

  it("CR0.WP takes effect on cached supervisor writes", () => {
    const { mmu } = setup(PTE_P | PTE_US | PTE_D);
    const e = mmu.lookupWrite(linear(1));
    expect(e).toBeGreaterThanOrEqual(0);
    mmu.setCr0(mmu.cr0 | CR0_WP);
    expect(mmu.lookupWrite(linear(1))).toBe(MMU_PAGE_FAULT);
    expect(mmu.faultErrorCode).toBe(PF_P | PF_W);
  });

  it("turning paging off and on flushes everything", () => {
    const { memory, mmu } = setup();
    mmu.lookupRead(linear(1));
    mmu.setCr0(CR0_PE);
    expect(mmu.mode).toBe(PAGING_NONE);
    expect(mmu.translate(linear(1), ACCESS_READ, false)).toBe(linear(1));
    write32(memory, pteAddress(1), 0);
    mmu.setCr0(CR0_PE | CR0_PG);
    expect(mmu.mode).toBe(PAGING_32);
    expect(mmu.lookupRead(linear(1))).toBe(MMU_PAGE_FAULT);
  });

  it("a memory-slot change drops translations to the changed range and releases its bytes", () => {
    const memory = new PhysicalMemory();
    memory.setUserMemoryRegion({ slot: 0, guestPhysAddr: 0, memorySize: 0x10_0000 });
    memory.setUserMemoryRegion({ slot: 1, guestPhysAddr: 0x10_0000, memorySize: 0x1000 });
    write32(memory, PD, PT | ALL);
    write32(memory, PT, 0x10_0000 | ALL);
    write32(memory, PT + 4, 0x5000 | ALL);
    const mmu = newMmu(memory);
    mmu.setControlRegisters(CR0_PE | CR0_PG, PD, 0, 0);
    const e = mmu.lookupRead(0);
    const other = mmu.lookupRead(0x1000);
    const replacement = new Uint8Array(0x1000).fill(0x42);
    memory.setUserMemoryRegion({
      slot: 1,
      guestPhysAddr: 0x10_0000,
      memorySize: 0x1000,
      userspaceMemory: replacement,
    });
    expect(mmu.tlb.readTag[e]).toBe(INVALID_TAG);
    expect(mmu.tlb.bytes[e].length).toBe(0);
    expect(mmu.tlb.readTag[other]).toBe(1);
    expect(hostByte(mmu, mmu.lookupRead(0), 0)).toBe(0x42);
    memory.setUserMemoryRegion({ slot: 1, guestPhysAddr: 0x10_0000, memorySize: 0 });
    expect(mmu.lookupRead(0)).toBe(MMU_NOT_RAM);
    mmu.dispose();
    memory.setUserMemoryRegion({ slot: 1, guestPhysAddr: 0x10_0000, memorySize: 0x1000 });
    expect(mmu.lookupRead(0)).toBe(MMU_NOT_RAM); // no longer listening: the cached answer stays
  });

  it("invalidatePhysicalPage drops every linear page mapped to that frame", () => {
    const { memory, mmu } = setup();
    write32(memory, pteAddress(7), FRAMES | ALL); // linear 0 and 7 share frame 0
    mmu.lookupRead(linear(0));
    mmu.lookupRead(linear(7));
    mmu.lookupRead(linear(1));
    const walks = mmu.walks;
    mmu.invalidatePhysicalPage(FRAMES + 0x321);
    mmu.lookupRead(linear(0));
    mmu.lookupRead(linear(7));
    mmu.lookupRead(linear(1));
    expect(mmu.walks).toBe(walks + 2);
    mmu.invalidatePhysicalPage(Number.NaN); // ignored
  });

  it("a page fault drops the stale translation it met", () => {
    const { memory, mmu } = setup();
    mmu.lookupRead(linear(1));
    write32(memory, pteAddress(1), 0); // no INVLPG: the TLB may still use the old translation
    expect(mmu.lookupRead(linear(1))).toBeGreaterThanOrEqual(0);
    expect(mmu.lookupWrite(linear(1))).toBe(MMU_PAGE_FAULT); // needs D: walks, finds P=0
    expect(mmu.lookupRead(linear(1))).toBe(MMU_PAGE_FAULT);
  });
});

describe("code pages", () => {
  it("routes writes to watched pages through the listener and keeps their write path closed", () => {
    const { mmu } = setup(ALL | PTE_D);
    const writes: number[] = [];
    mmu.setCodeWriteListener((address) => writes.push(address));
    const e = mmu.lookupWrite(linear(3));
    expect(mmu.tlb.writeTag[e]).toBe(linear(3) >>> 12);
    mmu.watchCodePage(FRAMES + 0x3000);
    expect(mmu.isCodePage(FRAMES + 0x3fff)).toBe(true);
    expect(mmu.tlb.writeTag[e]).toBe(INVALID_TAG);
    expect(mmu.lookupRead(linear(3))).toBe(e);
    expect(writes).toEqual([]);
    expect(mmu.lookupWrite(linear(3) + 0x10)).toBe(e);
    expect(mmu.lookupWrite(linear(3) + 0x20)).toBe(e);
    expect(mmu.translate(linear(3) + 0x30, ACCESS_WRITE, false)).toBe(FRAMES + 0x3030);
    expect(writes).toEqual([FRAMES + 0x3010, FRAMES + 0x3020, FRAMES + 0x3030]);
    expect(mmu.walks).toBe(1);
    mmu.unwatchCodePage(FRAMES + 0x3000);
    expect(mmu.lookupWrite(linear(3))).toBe(e);
    expect(mmu.tlb.writeTag[e]).toBe(linear(3) >>> 12);
    expect(writes.length).toBe(3);
  });

  it("watches pages above 4 GiB too", () => {
    const { mmu } = setup();
    mmu.watchCodePage(5 * 2 ** 32 + 0x1000);
    expect(mmu.isCodePage(5 * 2 ** 32 + 0x1fff)).toBe(true);
    expect(mmu.isCodePage(5 * 2 ** 32)).toBe(false);
    mmu.unwatchCodePage(5 * 2 ** 32 + 0x1000);
    expect(mmu.isCodePage(5 * 2 ** 32 + 0x1000)).toBe(false);
    mmu.watchCodePage(-1); // ignored
    expect(mmu.isCodePage(-1)).toBe(false);
  });
});

describe("paging off", () => {
  it("maps linear to physical through the A20 gate and the address width", () => {
    const memory = ram();
    memory.writeU8(0x1234, 0x5a);
    const mmu = newMmu(memory);
    expect(mmu.mode).toBe(PAGING_NONE);
    expect(mmu.translate(0x0010_1234, ACCESS_WRITE, true)).toBe(0x0010_1234);
    mmu.setA20(false);
    expect(mmu.translate(0x0010_1234, ACCESS_READ, false)).toBe(0x1234);
    expect(hostByte(mmu, mmu.lookupRead(0x0010_1234), 0x0010_1234)).toBe(0x5a);
    expect(mmu.walks).toBe(0);
    const narrow = newMmu(memory, { physicalAddressBits: 20 });
    expect(narrow.translate(0x0010_1234, ACCESS_READ, false)).toBe(0x1234);
    expect(narrow.translate(-1, ACCESS_READ, false)).toBe(0xf_ffff);
  });
});

describe("state and bad input", () => {
  it("round-trips its state, PDPTE registers included", () => {
    const memory = ram();
    write64(memory, 0x1000, 0x3000 | PTE_P, 0);
    write64(memory, 0x3000, 0x4000 | ALL, 0);
    write64(memory, 0x4000, 0x5000 | ALL, 0);
    const mmu = newMmu(memory);
    mmu.setControlRegisters(CR0_PE | CR0_PG | CR0_WP, 0x1000, CR4_PAE | CR4_PGE, EFER_NXE);
    mmu.setA20(false);
    mmu.setUserMode(true);
    const state = JSON.parse(JSON.stringify(mmu.getState()));
    expect(state.cr0).toBe((CR0_PE | CR0_PG | CR0_WP) >>> 0);
    write64(memory, 0x1000, 0, 0); // the snapshot's PDPTEs win over memory
    const restored = newMmu(memory);
    restored.setState(state);
    expect(restored.getState()).toEqual(state);
    expect(restored.mode).toBe(PAGING_PAE);
    expect(restored.translate(0x10, ACCESS_READ, true)).toBe(0x5010);
  });

  it("coerces garbage register values and rejects malformed options and state", () => {
    const mmu = newMmu(ram());
    expect(mmu.setCr0(Number.NaN)).toBe(true);
    expect(mmu.setCr4(1.5e300)).toBe(true);
    expect(mmu.setCr3(-0.5)).toBe(true);
    expect(mmu.mode).toBe(PAGING_NONE);
    expect(() => new Mmu(ram(), { physicalAddressBits: 64 })).toThrow(RangeError);
    expect(() => new Mmu(ram(), { physicalAddressBits: 35.5 })).toThrow(RangeError);
    expect(() => mmu.setState({ ...mmu.getState(), pdptes: [1, 2] })).toThrow(TypeError);
    expect(mmu.translate(Number.NaN, ACCESS_EXECUTE, false)).toBe(0);
  });
});

it("translate() and the lookups agree on faults and CR2", () => {
  const { memory, mmu } = setup();
  write32(memory, pteAddress(9), 0);
  expect(mmu.translate(linear(9) + 4, ACCESS_READ, false)).toBe(MMU_PAGE_FAULT);
  const code = mmu.faultErrorCode;
  mmu.faultErrorCode = -1;
  expect(mmu.lookupRead(linear(9) + 4)).toBe(MMU_PAGE_FAULT);
  expect([mmu.faultErrorCode, mmu.faultAddress]).toEqual([code, linear(9) + 4]);
  expect(mmu.fillEntry(linear(9), 0, ACCESS_EXECUTE, true)).toBe(MMU_PAGE_FAULT);
  expect(mmu.faultErrorCode).toBe(4);
});

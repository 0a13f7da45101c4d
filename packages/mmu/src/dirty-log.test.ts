import { PhysicalMemory } from "@tsvmm/ept";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { ACCESS_READ, ACCESS_WRITE, CR0_PG, Mmu, PTE_A, PTE_D, TLB_MASK } from "./index.js";
import { CR0_PE } from "./page-tables.test-support.js";

// Dirty logging seen from the MMU: the CPU's stores go straight into slot bytes through the TLB's
// write tags, so the MMU must keep those closed for clean pages of logging slots, record the first
// write, and close them again when the log is fetched. The helpers below access memory exactly the
// way cpu-x86 does: one tag compare, else fillEntry().

const PAGE = 0x1000;
const PD = 0x1000;
const PT = 0x2000;
/** Linear base of the pages the tests map. */
const LINEAR = 0x0040_0000;

function cpuWrite(mmu: Mmu, linear: number, value: number): boolean {
  const tlb = mmu.tlb;
  const page = linear >>> 12;
  let e = page & TLB_MASK;
  if (tlb.writeTag[e] !== page) {
    e = mmu.fillEntry(linear, 0, ACCESS_WRITE, mmu.userMode);
    if (e < 0) return false;
  }
  tlb.bytes[e][tlb.offset[e] + (linear & 0xfff)] = value;
  return true;
}

function cpuRead(mmu: Mmu, linear: number): number {
  const tlb = mmu.tlb;
  const page = linear >>> 12;
  let e = page & TLB_MASK;
  if (tlb.readTag[e] !== page) {
    e = mmu.fillEntry(linear, 0, ACCESS_READ, mmu.userMode);
    if (e < 0) return -1;
  }
  return tlb.bytes[e][tlb.offset[e] + (linear & 0xfff)];
}

function writeOpen(mmu: Mmu, linear: number): boolean {
  const page = linear >>> 12;
  return mmu.tlb.writeTag[page & TLB_MASK] === page;
}

function pagesIn(bitmap: Uint8Array): number[] {
  const pages: number[] = [];
  for (let i = 0; i < bitmap.length * 8; i++) if ((bitmap[i >>> 3] & (1 << (i & 7))) !== 0) pages.push(i);
  return pages;
}

/** 1 MiB of RAM at 0 in slot 0, logging when asked; 32-bit paging tables at PD/PT when `paging`. */
function machine(
  logDirtyPages: boolean,
  paging: boolean,
): { memory: PhysicalMemory; mmu: Mmu; ram: Uint8Array } {
  const memory = new PhysicalMemory();
  const ram = new Uint8Array(0x10_0000);
  memory.setUserMemoryRegion({ slot: 0, guestPhysAddr: 0, memorySize: ram.length, userspaceMemory: ram });
  const mmu = new Mmu(memory);
  if (paging) {
    memory.writeU32(PD + (LINEAR >>> 22) * 4, PT | 0x7 | PTE_A);
    // Linear page i -> frame 0x40 + i, present, writable, user; D already set (so reads open writes).
    for (let i = 0; i < 16; i++) memory.writeU32(PT + i * 4, ((0x40 + i) * PAGE) | 0x7 | PTE_A | PTE_D);
    // Linear page 16 maps the page table itself, so the guest can rewrite its PTEs.
    memory.writeU32(PT + 16 * 4, PT | 0x7 | PTE_A | PTE_D);
    mmu.setControlRegisters(CR0_PE | CR0_PG, PD, 0, 0);
  }
  if (logDirtyPages) {
    memory.setUserMemoryRegion({
      slot: 0,
      guestPhysAddr: 0,
      memorySize: ram.length,
      userspaceMemory: ram,
      logDirtyPages: true,
    });
  }
  return { memory, mmu, ram };
}

describe("dirty logging through the TLB", () => {
  it("keeps the write fast path closed for clean pages, logs the first write, then opens it", () => {
    const { memory, mmu, ram } = machine(true, false);
    cpuRead(mmu, 0x5000); // a read entry: writes stay closed while page 5 is clean
    expect(writeOpen(mmu, 0x5000)).toBe(false);
    expect(cpuWrite(mmu, 0x5010, 0xaa)).toBe(true);
    expect(ram[0x5010]).toBe(0xaa);
    expect(writeOpen(mmu, 0x5000)).toBe(true);
    expect(pagesIn(memory.getDirtyLog(0))).toEqual([5]);
    // The fetch closed it again: the next write is logged too.
    expect(writeOpen(mmu, 0x5000)).toBe(false);
    cpuWrite(mmu, 0x5020, 1);
    cpuWrite(mmu, 0x5030, 2);
    expect(pagesIn(memory.getDirtyLog(0))).toEqual([5]);
    expect(pagesIn(memory.getDirtyLog(0))).toEqual([]);
  });

  it("opens writes on a read fill when the slot does not log", () => {
    const { mmu } = machine(false, false);
    cpuRead(mmu, 0x5000);
    expect(writeOpen(mmu, 0x5000)).toBe(true);
  });

  it("closes open write tags when logging is switched on in place", () => {
    const { memory, mmu, ram } = machine(false, false);
    cpuWrite(mmu, 0x7000, 1);
    expect(writeOpen(mmu, 0x7000)).toBe(true);
    memory.setUserMemoryRegion({
      slot: 0,
      guestPhysAddr: 0,
      memorySize: ram.length,
      userspaceMemory: ram,
      logDirtyPages: true,
    });
    expect(writeOpen(mmu, 0x7000)).toBe(false);
    cpuWrite(mmu, 0x7001, 1);
    expect(pagesIn(memory.getDirtyLog(0))).toEqual([7]);
  });

  it("logs the frames of aliased linear pages, and the page tables the walker sets A/D bits in", () => {
    const { memory, mmu } = machine(true, true);
    memory.writeU32(PT + 5 * 4, (0x40 * PAGE) | 0x7); // linear page 5 aliases page 0's frame, A and D clear
    memory.getDirtyLog(0);
    expect(cpuRead(mmu, LINEAR + 3 * PAGE)).toBe(0); // A and D already set: no write-back
    expect(pagesIn(memory.getDirtyLog(0))).toEqual([]);
    memory.writeU32(PD + 2 * 4, PT | 0x7); // linear 8 MiB-12 MiB through the same table, PDE.A clear
    memory.getDirtyLog(0);
    cpuRead(mmu, 0x40_0000 + 5 * PAGE); // sets A in the PTE only: the PT page is written
    expect(pagesIn(memory.getDirtyLog(0))).toEqual([PT / PAGE]);
    cpuRead(mmu, 0x80_0000 + 4 * PAGE); // sets A in the second PDE: the PD page is written
    expect(pagesIn(memory.getDirtyLog(0))).toEqual([PD / PAGE]);
    cpuWrite(mmu, LINEAR + 5 * PAGE + 8, 1); // sets D in the PTE, and writes frame 0x40
    expect(pagesIn(memory.getDirtyLog(0))).toEqual([PT / PAGE, 0x40]);
    expect(mmu.getCounters().accessedDirtyWrites).toBe(3);
  });

  it("logs writes to watched code pages after telling the code-write listener", () => {
    const { memory, mmu } = machine(true, false);
    const events: string[] = [];
    mmu.setCodeWriteListener((address) => {
      events.push(`code ${address.toString(16)}`);
      mmu.unwatchCodePage(address);
    });
    mmu.watchCodePage(0x9000);
    cpuWrite(mmu, 0x9004, 1);
    events.push(...pagesIn(memory.getDirtyLog(0)).map((p) => `dirty ${p}`));
    expect(events).toEqual(["code 9004", "dirty 9"]);
  });

  it("does not log writes that fault or go to ROM or MMIO", () => {
    const memory = new PhysicalMemory();
    memory.setUserMemoryRegion({ slot: 0, guestPhysAddr: 0, memorySize: 0x10000, logDirtyPages: true });
    memory.setUserMemoryRegion({
      slot: 1,
      guestPhysAddr: 0x10000,
      memorySize: 0x1000,
      readOnly: true,
      logDirtyPages: true,
    });
    const mmu = new Mmu(memory);
    expect(cpuWrite(mmu, 0x10000, 1)).toBe(false); // ROM: an MMIO exit
    expect(cpuWrite(mmu, 0x20000, 1)).toBe(false); // no RAM
    memory.writeU32(PD, PT | 0x7);
    memory.writeU32(PT, 0x3000 | 0x5); // read-only page
    mmu.setControlRegisters(CR0_PE | CR0_PG | 0x10000, PD, 0, 0); // CR0.WP
    memory.getDirtyLog(0);
    expect(cpuWrite(mmu, 0x10, 1)).toBe(false); // #PF: a faulting walk changes nothing
    expect(pagesIn(memory.getDirtyLog(0))).toEqual([]);
    expect(pagesIn(memory.getDirtyLog(1))).toEqual([]);
  });

  it("matches a reference over random CPU and device writes, reads and log fetches", () => {
    const op = fc.oneof(
      fc.record({
        kind: fc.constantFrom("cpu-write", "cpu-read"),
        page: fc.integer({ min: 0, max: 15 }),
        offset: fc.integer({ min: 0, max: 0xfff }),
      }),
      fc.record({
        kind: fc.constant("device-write"),
        address: fc.integer({ min: 0x3000, max: 0xf_fff0 }), // not over the page tables
        length: fc.integer({ min: 1, max: 0x2000 }),
      }),
      fc.record({
        kind: fc.constant("remap"),
        page: fc.integer({ min: 0, max: 15 }),
        frame: fc.integer({ min: 0x40, max: 0x47 }),
        dirty: fc.boolean(),
      }),
      fc.record({ kind: fc.constant("fetch") }),
      fc.record({ kind: fc.constant("flush") }),
    );
    const accessedDirty = fc.array(fc.constantFrom(0, PTE_A, PTE_A | PTE_D), {
      minLength: 16,
      maxLength: 16,
    });
    fc.assert(
      fc.property(fc.boolean(), accessedDirty, fc.array(op, { maxLength: 80 }), (paging, bits, ops) => {
        const { memory, mmu, ram } = machine(true, paging);
        // Initial A/D bits at random, so walks write some of them back.
        for (let i = 0; i < 16; i++) memory.writeU32(PT + i * 4, ((0x40 + i) * PAGE) | 0x7 | bits[i]);
        memory.getDirtyLog(0);
        // Pages that must be logged: those written on purpose, and any whose bytes changed (A/D bits).
        let snapshot = ram.slice();
        const written = new Set<number>();
        let value = 1;
        const linearOf = (page: number, offset: number) =>
          (paging ? LINEAR : 0x40 * PAGE) + page * PAGE + offset;
        for (const o of ops) {
          if (o.kind === "cpu-write") {
            const linear = linearOf(o.page, o.offset);
            expect(cpuWrite(mmu, linear, value++ & 0xff)).toBe(true);
            written.add(mmu.translate(linear, ACCESS_READ, false) >>> 12);
          } else if (o.kind === "cpu-read") {
            cpuRead(mmu, linearOf(o.page, o.offset));
          } else if (o.kind === "device-write") {
            const length = Math.min(o.length, ram.length - o.address);
            memory.write(o.address, new Uint8Array(length).fill(value++ & 0xff));
            for (let p = o.address >>> 12; p <= (o.address + length - 1) >>> 12; p++) written.add(p);
          } else if (o.kind === "remap") {
            // The guest rewrites a PTE (a store to the page table) and flushes the page, as INVLPG.
            if (!paging) continue;
            const pte = (o.frame * PAGE) | 0x7 | PTE_A | (o.dirty ? PTE_D : 0);
            for (let i = 0; i < 4; i++) {
              expect(cpuWrite(mmu, LINEAR + 16 * PAGE + o.page * 4 + i, pte >>> (8 * i))).toBe(true);
            }
            written.add(PT >>> 12);
            mmu.invalidatePage(linearOf(o.page, 0));
          } else if (o.kind === "flush") {
            mmu.flush(true);
          } else {
            const expected = new Set(written);
            for (let p = 0; p < ram.length / PAGE; p++) {
              for (let i = p * PAGE; i < (p + 1) * PAGE; i++) {
                if (ram[i] !== snapshot[i]) {
                  expected.add(p);
                  break;
                }
              }
            }
            expect(pagesIn(memory.getDirtyLog(0))).toEqual([...expected].sort((a, b) => a - b));
            snapshot = ram.slice();
            written.clear();
          }
        }
      }),
      { numRuns: 200 },
    );
  });
});

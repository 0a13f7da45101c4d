import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { dirtyBitmapBytes, MemoryRegionError, PAGE_SIZE, PhysicalMemory } from "./index.js";

/** The page numbers whose bits are set in a KVM dirty bitmap. */
function pagesIn(bitmap: Uint8Array): number[] {
  const pages: number[] = [];
  for (let i = 0; i < bitmap.length * 8; i++) if ((bitmap[i >>> 3] & (1 << (i & 7))) !== 0) pages.push(i);
  return pages;
}

describe("dirty-page logging (KVM_MEM_LOG_DIRTY_PAGES, KVM_GET_DIRTY_LOG)", () => {
  it("sizes bitmaps in 64-bit words, one bit per page", () => {
    expect(dirtyBitmapBytes(PAGE_SIZE)).toBe(8);
    expect(dirtyBitmapBytes(64 * PAGE_SIZE)).toBe(8);
    expect(dirtyBitmapBytes(65 * PAGE_SIZE)).toBe(16);
    const mem = new PhysicalMemory();
    mem.setUserMemoryRegion({ slot: 0, guestPhysAddr: 0, memorySize: 100 * PAGE_SIZE, logDirtyPages: true });
    expect(mem.getDirtyLog(0)).toHaveLength(16);
  });

  it("logs every kind of write through PhysicalMemory, in KVM's bit order, and clears on fetch", () => {
    const mem = new PhysicalMemory();
    mem.setUserMemoryRegion({ slot: 0, guestPhysAddr: 0x10000, memorySize: 0x40000, logDirtyPages: true });
    expect(mem.listSlots()[0].logDirtyPages).toBe(true);
    mem.writeU8(0x10000, 1); // page 0
    mem.writeU16(0x19fff, 0x1234); // pages 9 and 10 (crosses)
    mem.writeU32(0x21000, 5); // page 17
    mem.writeU64(0x4f000, 1, 2); // page 63
    mem.write(0x30ffe, new Uint8Array(0x1004)); // pages 32, 33, 34
    expect(mem.tryWrite(0x12000, 4, 7)).toBe(true); // page 2
    mem.readU32(0x13000); // reads do not count
    const bitmap = mem.getDirtyLog(0);
    expect(pagesIn(bitmap)).toEqual([0, 2, 9, 10, 17, 32, 33, 34, 63]);
    expect(bitmap[0]).toBe(0b101); // pages 0 and 2: byte 0, bits 0 and 2
    expect(bitmap[7]).toBe(0x80); // page 63: byte 7, bit 7
    expect(pagesIn(mem.getDirtyLog(0))).toEqual([]);
    mem.writeU8(0x10000, 2);
    expect(pagesIn(mem.getDirtyLog(0))).toEqual([0]);
  });

  it("copies into a caller's buffer, clearing bits past the slot", () => {
    const mem = new PhysicalMemory();
    mem.setUserMemoryRegion({ slot: 4, guestPhysAddr: 0, memorySize: 3 * PAGE_SIZE, logDirtyPages: true });
    mem.writeU8(2 * PAGE_SIZE, 1);
    const into = new Uint8Array(16).fill(0xff);
    expect(mem.getDirtyLog(4, into)).toBe(into);
    expect(Array.from(into)).toEqual([4, ...new Array(15).fill(0)]);
    expect(() => mem.getDirtyLog(4, new Uint8Array(4))).toThrow(/needs 8 bytes/);
  });

  it("rejects slots that do not exist or do not log", () => {
    const mem = new PhysicalMemory();
    mem.setUserMemoryRegion({ slot: 0, guestPhysAddr: 0, memorySize: PAGE_SIZE });
    expect(() => mem.getDirtyLog(0)).toThrow(/does not log/);
    expect(() => mem.getDirtyLog(1)).toThrow(MemoryRegionError);
  });

  it("logs writes that cross from one slot into the next in both slots, and not in a slot without logging", () => {
    const mem = new PhysicalMemory();
    mem.setUserMemoryRegion({ slot: 0, guestPhysAddr: 0, memorySize: 2 * PAGE_SIZE, logDirtyPages: true });
    mem.setUserMemoryRegion({
      slot: 1,
      guestPhysAddr: 2 * PAGE_SIZE,
      memorySize: PAGE_SIZE,
      logDirtyPages: true,
    });
    mem.setUserMemoryRegion({ slot: 2, guestPhysAddr: 3 * PAGE_SIZE, memorySize: PAGE_SIZE });
    mem.writeU32(2 * PAGE_SIZE - 2, 0xffffffff);
    mem.writeU32(3 * PAGE_SIZE - 2, 0xffffffff);
    expect(pagesIn(mem.getDirtyLog(0))).toEqual([1]);
    expect(pagesIn(mem.getDirtyLog(1))).toEqual([0]);
  });

  it("does not log refused writes (read-only slots, non-RAM)", () => {
    const mem = new PhysicalMemory();
    mem.setUserMemoryRegion({
      slot: 0,
      guestPhysAddr: 0,
      memorySize: PAGE_SIZE,
      readOnly: true,
      logDirtyPages: true,
    });
    expect(mem.tryWrite(0x10, 4, 1)).toBe(false);
    expect(() => mem.writeU8(0x10, 1)).toThrow();
    expect(pagesIn(mem.getDirtyLog(0))).toEqual([]);
  });

  it("switches logging on and off in place, telling write-protect listeners when it starts", () => {
    const mem = new PhysicalMemory();
    const bytes = new Uint8Array(4 * PAGE_SIZE);
    mem.setUserMemoryRegion({
      slot: 0,
      guestPhysAddr: 0x8000,
      memorySize: bytes.length,
      userspaceMemory: bytes,
    });
    const changes: number[][] = [];
    const protects: number[][] = [];
    mem.onChange((a, s) => changes.push([a, s]));
    mem.onWriteProtect((a, s) => protects.push([a, s]));
    const generation = mem.generation;
    const region = { slot: 0, guestPhysAddr: 0x8000, memorySize: bytes.length, userspaceMemory: bytes };
    mem.writeU8(0x8000, 1); // before logging: not recorded
    const slot = mem.setUserMemoryRegion({ ...region, logDirtyPages: true });
    expect(slot).toBe(mem.findSlot(0x8000));
    expect(mem.generation).toBe(generation);
    expect(changes).toEqual([]);
    expect(protects).toEqual([[0x8000, bytes.length]]);
    expect(mem.isWriteTracked(0x9000)).toBe(true);
    mem.writeU8(0x9000, 1);
    expect(mem.isWriteTracked(0x9000)).toBe(false);
    expect(pagesIn(mem.getDirtyLog(0))).toEqual([1]);
    expect(protects).toEqual([
      [0x8000, bytes.length],
      [0x8000, bytes.length],
    ]);
    mem.setUserMemoryRegion({ ...region, logDirtyPages: false });
    expect(mem.isWriteTracked(0x9000)).toBe(false);
    expect(() => mem.getDirtyLog(0)).toThrow(/does not log/);
    expect(changes).toEqual([]);
    // Moving the slot replaces it: a new, empty log, and the usual change notification.
    mem.setUserMemoryRegion({ ...region, logDirtyPages: true });
    mem.writeU8(0x8000, 1);
    mem.setUserMemoryRegion({ ...region, guestPhysAddr: 0x20000, logDirtyPages: true });
    expect(changes).toEqual([
      [0x8000, bytes.length],
      [0x20000, bytes.length],
    ]);
    expect(pagesIn(mem.getDirtyLog(0))).toEqual([]);
  });

  it("takes writes made elsewhere through markDirty, and tracks pages until they are dirty", () => {
    const mem = new PhysicalMemory();
    mem.setUserMemoryRegion({ slot: 0, guestPhysAddr: 0, memorySize: 8 * PAGE_SIZE, logDirtyPages: true });
    mem.setUserMemoryRegion({ slot: 1, guestPhysAddr: 8 * PAGE_SIZE, memorySize: 8 * PAGE_SIZE });
    expect(mem.isWriteTracked(3 * PAGE_SIZE + 5)).toBe(true);
    expect(mem.isWriteTracked(9 * PAGE_SIZE)).toBe(false); // slot 1 does not log
    expect(mem.isWriteTracked(100 * PAGE_SIZE)).toBe(false); // not RAM
    mem.markDirty(3 * PAGE_SIZE + 5, 1);
    expect(mem.isWriteTracked(3 * PAGE_SIZE)).toBe(false);
    mem.markDirty(6 * PAGE_SIZE + 1, 4 * PAGE_SIZE); // pages 6, 7 and on into slot 1
    mem.markDirty(-5, 10);
    mem.markDirty(0, Number.NaN);
    mem.markDirty(0, 2 ** 60); // absurd lengths end at the slots' ends
    expect(pagesIn(mem.getDirtyLog(0))).toEqual([0, 1, 2, 3, 4, 5, 6, 7]);
    expect(mem.isWriteTracked(3 * PAGE_SIZE)).toBe(true);
  });

  it("matches a reference set over random writes, fetches and slot flag changes", () => {
    const SLOT_PAGES = [4, 70, 9];
    const bases = [0, 0x10000, 0x100000];
    const op = fc.oneof(
      fc.record({
        kind: fc.constantFrom("u8", "u16", "u32", "u64", "bytes", "try", "mark"),
        address: fc.integer({ min: 0, max: 0x110000 }),
        length: fc.integer({ min: 1, max: 3 * PAGE_SIZE }),
      }),
      fc.record({ kind: fc.constant("fetch"), slot: fc.integer({ min: 0, max: 2 }) }),
      fc.record({ kind: fc.constant("toggle"), slot: fc.integer({ min: 0, max: 2 }) }),
    );
    fc.assert(
      fc.property(fc.array(op, { maxLength: 60 }), (ops) => {
        const mem = new PhysicalMemory();
        const host = SLOT_PAGES.map((pages) => new Uint8Array(pages * PAGE_SIZE));
        const logging = [true, true, false];
        const dirty = SLOT_PAGES.map(() => new Set<number>());
        for (let i = 0; i < 3; i++) {
          mem.setUserMemoryRegion({
            slot: i,
            guestPhysAddr: bases[i],
            memorySize: host[i].length,
            userspaceMemory: host[i],
            logDirtyPages: logging[i],
          });
        }
        const record = (address: number, length: number) => {
          for (let i = 0; i < 3; i++) {
            if (!logging[i]) continue;
            const first = Math.max(address, bases[i]);
            const last = Math.min(address + length - 1, bases[i] + host[i].length - 1);
            for (let a = first; a <= last; a++) dirty[i].add(Math.floor((a - bases[i]) / PAGE_SIZE));
          }
        };
        for (const o of ops) {
          if (o.kind === "fetch") {
            if (!logging[o.slot]) {
              expect(() => mem.getDirtyLog(o.slot)).toThrow(MemoryRegionError);
              continue;
            }
            expect(pagesIn(mem.getDirtyLog(o.slot))).toEqual([...dirty[o.slot]].sort((a, b) => a - b));
            dirty[o.slot].clear();
          } else if (o.kind === "toggle") {
            logging[o.slot] = !logging[o.slot];
            dirty[o.slot].clear();
            mem.setUserMemoryRegion({
              slot: o.slot,
              guestPhysAddr: bases[o.slot],
              memorySize: host[o.slot].length,
              userspaceMemory: host[o.slot],
              logDirtyPages: logging[o.slot],
            });
          } else {
            const size = { u8: 1, u16: 2, u32: 4, u64: 8, try: 4, bytes: o.length, mark: o.length }[o.kind];
            if (o.kind === "mark") {
              mem.markDirty(o.address, size);
              record(o.address, size);
              continue;
            }
            if (!mem.isRam(o.address, size, true)) continue;
            if (o.kind === "u8") mem.writeU8(o.address, 1);
            else if (o.kind === "u16") mem.writeU16(o.address, 1);
            else if (o.kind === "u32") mem.writeU32(o.address, 1);
            else if (o.kind === "u64") mem.writeU64(o.address, 1, 2);
            else if (o.kind === "try") expect(mem.tryWrite(o.address, 4, 1)).toBe(true);
            else mem.write(o.address, new Uint8Array(size));
            record(o.address, size);
          }
        }
        for (let i = 0; i < 3; i++) {
          if (!logging[i]) continue;
          expect(pagesIn(mem.getDirtyLog(i))).toEqual([...dirty[i]].sort((a, b) => a - b));
        }
      }),
      { numRuns: 300 },
    );
  });
});

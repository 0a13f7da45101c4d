import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { GuestMemoryError, MemoryRegionError, PAGE_SIZE, PhysicalMemory } from "./index.js";

function withRam(size = 0x10000, base = 0): PhysicalMemory {
  const mem = new PhysicalMemory();
  mem.setUserMemoryRegion({ slot: 0, guestPhysAddr: base, memorySize: size });
  return mem;
}

describe("memory slots", () => {
  it("adds a slot backed by the given host memory", () => {
    const mem = new PhysicalMemory();
    const host = new Uint8Array(0x2000);
    host[0x1234] = 0xab;
    mem.setUserMemoryRegion({ slot: 3, guestPhysAddr: 0x100000, memorySize: 0x2000, userspaceMemory: host });
    expect(mem.readU8(0x101234)).toBe(0xab);
    mem.writeU8(0x100001, 0x5a);
    expect(host[1]).toBe(0x5a);
    expect(mem.findSlot(0x0fffff)).toBeUndefined();
    expect(mem.findSlot(0x101fff)?.id).toBe(3);
    expect(mem.findSlot(0x102000)).toBeUndefined();
  });

  it("rejects overlapping slots, misaligned ranges and short backing", () => {
    const mem = withRam(0x10000);
    expect(() => mem.setUserMemoryRegion({ slot: 1, guestPhysAddr: 0xf000, memorySize: 0x2000 })).toThrow(
      MemoryRegionError,
    );
    expect(() => mem.setUserMemoryRegion({ slot: 1, guestPhysAddr: 0x10800, memorySize: 0x1000 })).toThrow(
      /page aligned/,
    );
    expect(() => mem.setUserMemoryRegion({ slot: 1, guestPhysAddr: 0x20000, memorySize: 0x1800 })).toThrow(
      /multiple of 4 KiB/,
    );
    expect(() =>
      mem.setUserMemoryRegion({
        slot: 1,
        guestPhysAddr: 0x20000,
        memorySize: 0x2000,
        userspaceMemory: new Uint8Array(0x1000),
      }),
    ).toThrow(/backing memory/);
    expect(() => mem.setUserMemoryRegion({ slot: 9, guestPhysAddr: 0, memorySize: 0 })).toThrow(
      /does not exist/,
    );
    expect(mem.listSlots()).toHaveLength(1);
  });

  it("resizes and moves a slot in place of the old one, and deletes it with size 0", () => {
    const mem = withRam(0x10000);
    const changes: Array<[number, number]> = [];
    mem.onChange((gpa, size) => changes.push([gpa, size]));
    mem.setUserMemoryRegion({ slot: 0, guestPhysAddr: 0, memorySize: 0x4000 });
    expect(mem.isRam(0x3fff, 1)).toBe(true);
    expect(mem.isRam(0x4000, 1)).toBe(false);
    mem.setUserMemoryRegion({ slot: 0, guestPhysAddr: 0x8000, memorySize: 0x1000 });
    expect(mem.isRam(0, 1)).toBe(false);
    expect(mem.isRam(0x8000, 0x1000)).toBe(true);
    mem.setUserMemoryRegion({ slot: 0, guestPhysAddr: 0x8000, memorySize: 0 });
    expect(mem.listSlots()).toHaveLength(0);
    expect(changes).toEqual([
      [0, 0x10000],
      [0, 0x4000],
      [0, 0x4000],
      [0x8000, 0x1000],
      [0x8000, 0x1000],
    ]);
  });

  it("keeps lookups right after deleting a slot in the middle of the list", () => {
    const mem = new PhysicalMemory();
    for (let i = 0; i < 4; i++)
      mem.setUserMemoryRegion({ slot: i, guestPhysAddr: i * 0x10000, memorySize: 0x10000 });
    mem.setUserMemoryRegion({ slot: 1, guestPhysAddr: 0x10000, memorySize: 0 });
    expect(mem.findSlot(0x00000)?.id).toBe(0);
    expect(mem.findSlot(0x10000)).toBeUndefined();
    expect(mem.findSlot(0x20000)?.id).toBe(2);
    expect(mem.findSlot(0x3ffff)?.id).toBe(3);
  });

  it("supports slots above 4 GiB", () => {
    const mem = new PhysicalMemory();
    mem.setUserMemoryRegion({ slot: 1, guestPhysAddr: 0x1_0000_0000, memorySize: 0x1000 });
    mem.writeU32(0x1_0000_0ffc, 0xdeadbeef);
    expect(mem.readU32(0x1_0000_0ffc)).toBe(0xdeadbeef);
    expect(mem.isRam(0x1_0000_0ffc, 8)).toBe(false);
  });
});

describe("little-endian access", () => {
  it("reads and writes 8/16/32/64-bit values", () => {
    const mem = withRam();
    mem.writeU32(0x100, 0x12345678);
    expect(mem.readU8(0x100)).toBe(0x78);
    expect(mem.readU16(0x101)).toBe(0x3456);
    expect(mem.readU32(0x100)).toBe(0x12345678);
    mem.writeU64(0x200, 0x89abcdef, 0x001fffff);
    expect(mem.readU64(0x200)).toBe(0x001fffff * 2 ** 32 + 0x89abcdef);
    mem.writeU64(0x200, 0, 0x00200000);
    expect(() => mem.readU64(0x200)).toThrow(RangeError);
    mem.writeU16(0x300, 0x1ffff);
    expect(mem.readU32(0x300)).toBe(0xffff);
  });

  it("assembles accesses that cross from one slot into the next", () => {
    const mem = new PhysicalMemory();
    mem.setUserMemoryRegion({ slot: 0, guestPhysAddr: 0, memorySize: PAGE_SIZE });
    mem.setUserMemoryRegion({ slot: 1, guestPhysAddr: PAGE_SIZE, memorySize: PAGE_SIZE });
    mem.writeU32(PAGE_SIZE - 2, 0xcafebabe);
    expect(mem.listSlots()[0].bytes[PAGE_SIZE - 1]).toBe(0xba);
    expect(mem.listSlots()[1].bytes[0]).toBe(0xfe);
    expect(mem.readU32(PAGE_SIZE - 2)).toBe(0xcafebabe);
    const buf = new Uint8Array(6);
    mem.read(PAGE_SIZE - 3, buf);
    expect([...buf]).toEqual([0, 0xbe, 0xba, 0xfe, 0xca, 0]);
  });

  it("reports unbacked and read-only addresses instead of touching them", () => {
    const mem = withRam(PAGE_SIZE);
    mem.setUserMemoryRegion({ slot: 1, guestPhysAddr: 0xf0000, memorySize: PAGE_SIZE, readOnly: true });
    expect(mem.tryRead(PAGE_SIZE - 2, 4)).toBe(-1);
    expect(mem.tryRead(PAGE_SIZE - 4, 4)).toBe(0);
    expect(mem.tryWrite(0xf0000, 1, 1)).toBe(false);
    expect(mem.readU8(0xf0000)).toBe(0);
    expect(() => mem.writeU8(0xf0000, 1)).toThrow(GuestMemoryError);
    expect(() => mem.readU32(PAGE_SIZE - 2)).toThrow(GuestMemoryError);
    expect(() => mem.write(PAGE_SIZE - 1, new Uint8Array(2))).toThrow(/outside guest RAM/);
    // A failed write changes nothing, even in the part that was RAM.
    expect(mem.readU8(PAGE_SIZE - 1)).toBe(0);
    expect(mem.isRam(-1, 1)).toBe(false);
    expect(mem.isRam(2 ** 53, 1)).toBe(false);
    expect(mem.isRam(0, Number.NaN)).toBe(false);
  });

  it("round-trips random values at random addresses (property)", () => {
    const mem = withRam(0x4000);
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 0x4000 - 4 }),
        fc.integer({ min: 0, max: 0xffffffff }),
        (gpa, v) => {
          mem.writeU32(gpa, v);
          return (
            mem.readU32(gpa) === v && mem.readU16(gpa) === (v & 0xffff) && mem.readU8(gpa + 3) === v >>> 24
          );
        },
      ),
    );
  });

  it("never lets a random access reach outside its slots (property)", () => {
    const mem = withRam(0x2000, 0x1000);
    fc.assert(
      fc.property(fc.double({ min: -1e16, max: 1e16 }), fc.integer({ min: 0, max: 0x10000 }), (gpa, len) => {
        const ram = mem.isRam(gpa, len);
        const buf = new Uint8Array(len);
        try {
          mem.read(gpa, buf);
          return ram;
        } catch (e) {
          return !ram && e instanceof GuestMemoryError;
        }
      }),
    );
  });
});

import { expect, it } from "vitest";

// The README example, kept here so it cannot rot.
it("README example", async () => {
  const { PhysicalMemory } = await import("./index.js");

  const memory = new PhysicalMemory();
  memory.setUserMemoryRegion({ slot: 0, guestPhysAddr: 0, memorySize: 1 << 20 }); // 1 MiB of RAM
  memory.setUserMemoryRegion({
    slot: 1,
    guestPhysAddr: 0xfffe_0000,
    memorySize: 0x2_0000,
    userspaceMemory: new Uint8Array(0x2_0000).fill(0x90), // a ROM image
    readOnly: true,
  });

  memory.writeU32(0x7c00, 0x1234_5678);
  const value = memory.readU32(0x7c00); // 0x12345678
  const romByte = memory.readU8(0xffff_fff0); // 0x90
  const mmio = memory.tryRead(0xfee0_0000, 4); // -1: not RAM, the caller emulates MMIO

  expect([value, romByte, mmio]).toEqual([0x1234_5678, 0x90, -1]);
  expect(memory.tryWrite(0xffff_fff0, 1, 0)).toBe(false); // ROM: the write becomes an MMIO exit
});

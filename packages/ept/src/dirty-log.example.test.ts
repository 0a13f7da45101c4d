import { expect, it } from "vitest";
import { PhysicalMemory } from "./index.js";

it("runs the README's dirty-logging example", () => {
  const memory = new PhysicalMemory();
  const ram = new Uint8Array(64 * 4096);
  const region = { slot: 0, guestPhysAddr: 0, memorySize: ram.length, userspaceMemory: ram };
  memory.setUserMemoryRegion({ ...region, logDirtyPages: true });

  memory.writeU32(0x3000, 1); // page 3
  memory.write(0x8ffe, new Uint8Array(4)); // pages 8 and 9
  const log = memory.getDirtyLog(0); // 8 bytes: [0b0000_1000, 0b0000_0011, 0, 0, 0, 0, 0, 0]
  const again = memory.getDirtyLog(0); // all zero: the first call cleared it

  memory.setUserMemoryRegion({ ...region, logDirtyPages: false }); // logging off, the slot stays

  expect(Array.from(log)).toEqual([0b0000_1000, 0b0000_0011, 0, 0, 0, 0, 0, 0]);
  expect(Array.from(again)).toEqual([0, 0, 0, 0, 0, 0, 0, 0]);
  expect(memory.listSlots()[0].logDirtyPages).toBe(false);
  expect(memory.listSlots()[0].bytes).toBe(ram);
});

import { expect, it } from "vitest";
import { ACCESS_READ, TLB_MASK } from "./index.js";
import { newMmu, ram } from "./page-tables.test-support.js";

/** A read the way cpu-x86 makes it: its own tag compare, fillEntry() on a miss. */
function cpuRead(mmu: ReturnType<typeof newMmu>, linear: number): number {
  const page = linear >>> 12;
  const e = page & TLB_MASK;
  if (mmu.tlb.readTag[e] === page) return mmu.tlb.bytes[e][mmu.tlb.offset[e] + (linear & 0xfff)];
  return mmu.fillEntry(linear, 0, ACCESS_READ, mmu.userMode);
}

it("counts fast-path lookups only while asked, across privilege switches", () => {
  const mmu = newMmu(ram(1 << 20));
  cpuRead(mmu, 0x1000);
  expect(mmu.getCounters()).toMatchObject({ lookups: 0, misses: 1, hits: 0, walks: 0 });
  mmu.setLookupCounting(true);
  for (let i = 0; i < 10; i++) cpuRead(mmu, 0x1000 + i);
  cpuRead(mmu, 0x2000); // a miss: one lookup, then the slow path
  mmu.setUserMode(true); // swaps the tag arrays (the user ones hit too): still counted
  cpuRead(mmu, 0x1000);
  expect(mmu.getCounters()).toMatchObject({ lookups: 12, misses: 2, walks: 0 });
  mmu.setLookupCounting(false);
  cpuRead(mmu, 0x1000);
  expect(mmu.getCounters().lookups).toBe(12);
  // Plain data properties again, still holding the current privilege's arrays.
  expect(Object.getOwnPropertyDescriptor(mmu.tlb, "readTag")?.value).toBe(mmu.tlb.userReadTag);
  mmu.setUserMode(false);
  expect(mmu.tlb.readTag).toBe(mmu.tlb.supervisorReadTag);
});

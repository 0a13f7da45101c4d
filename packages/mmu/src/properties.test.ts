import { PhysicalMemory } from "@tsvmm/ept";
import fc from "fast-check";
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
  EFER_LMA,
  EFER_LME,
  EFER_NXE,
  MMU_NON_CANONICAL,
  MMU_NOT_RAM,
  MMU_PAGE_FAULT,
  MMU_TABLE_NOT_RAM,
  Mmu,
} from "./index.js";
import { CR0_PE } from "./page-tables.test-support.js";
import {
  type ReferenceAccess,
  type ReferenceContext,
  type ReferenceMode,
  type ReferenceResult,
  referencePdptes,
  referenceWalk,
} from "./reference-walker.test-support.js";

// Random page tables in 8 table pages (0x1000-0x8fff) of 4 MiB of RAM. Entries sit at the indexes the
// linear addresses use, and point at table pages, at data frames, or outside RAM, with random flags
// and, now and then, reserved bits. Every access is checked against a fresh walk of the reference
// model on a second copy of memory, and at the end both copies must hold the same A/D bits.

const RAM_SIZE = 4 << 20;
const TABLE_PAGES = [1, 2, 3, 4, 5, 6, 7, 8].map((n) => n * 0x1000);
const CR3 = 0x1000;
const MAX_PHYS_ADDR = 36;

interface ModeShape {
  mode: ReferenceMode;
  entryBytes: number;
  /** Indexes per level the linear addresses are built from (top level first). */
  indexes: number[][];
  shifts: number[];
}

const SHAPES: Record<ReferenceMode, ModeShape> = {
  "32": {
    mode: "32",
    entryBytes: 4,
    indexes: [
      [0, 1, 2, 1023],
      [0, 1, 2, 1023],
    ],
    shifts: [22, 12],
  },
  pae: {
    mode: "pae",
    entryBytes: 8,
    indexes: [
      [0, 1, 2, 3],
      [0, 1, 2, 511],
      [0, 1, 2, 511],
    ],
    shifts: [30, 21, 12],
  },
  long: {
    mode: "long",
    entryBytes: 8,
    indexes: [
      [0, 1, 256, 511],
      [0, 1, 2, 511],
      [0, 1, 2, 511],
      [0, 1, 2, 511],
    ],
    shifts: [39, 30, 21, 12],
  },
};

const pick = <T>(values: readonly T[]) => fc.constantFrom(...values);

/** An entry's address field: mostly a table page, else a 4 KiB data frame or no RAM at all. */
const entryAddress = fc.oneof(
  { weight: 12, arbitrary: pick(TABLE_PAGES).map((a) => [a, 0]) },
  { weight: 3, arbitrary: fc.integer({ min: 0x10, max: 0x1f }).map((n) => [n * 0x1000, 0]) },
  // 0x10_1000 is 0x1000 (a table page) while A20 is masked.
  {
    weight: 2,
    arbitrary: pick([
      [0xfee0_0000, 0],
      [0x1000, 1],
      [0x20_0000, 0xf],
      [0x10_1000, 0],
    ]),
  },
) as fc.Arbitrary<[number, number]>;

/** A large page's frame: aligned for 4 MiB, 2 MiB or 1 GiB pages (or not, which is reserved somewhere). */
const largeAddress = pick([
  [0, 0],
  [0x20_0000, 0],
  [0x40_0000, 0],
  [0x4000_0000, 0],
  [0, 1],
]) as fc.Arbitrary<[number, number]>;

const entry = fc
  .record({
    address: entryAddress,
    large: largeAddress,
    present: fc.nat(7).map((n) => n !== 0),
    writable: fc.nat(3).map((n) => n !== 0),
    user: fc.nat(3).map((n) => n !== 0),
    flags: fc.nat(0xfff), // PWT PCD A D PS G and the ignored bits
    largeRequested: fc.nat(4).map((n) => n === 0),
    xd: fc.nat(7).map((n) => n === 0),
    reserved: fc.oneof(
      { weight: 12, arbitrary: fc.constant([0, 0]) },
      {
        weight: 1,
        arbitrary: pick([
          [1 << 13, 0],
          [1 << 17, 0],
          [1 << 21, 0],
          [0, 1 << 4],
          [0, 1 << 20],
          [0, 1 << 30],
        ]),
      },
    ) as fc.Arbitrary<[number, number]>,
  })
  .map(({ address: tableAddress, large, present, writable, user, flags, largeRequested, xd, reserved }) => {
    const address = largeRequested ? large : tableAddress;
    let low = (address[0] & ~0xfff) | (flags & 0xf78) | reserved[0];
    low =
      (low & ~0x87) | (present ? 1 : 0) | (writable ? 2 : 0) | (user ? 4 : 0) | (largeRequested ? 0x80 : 0);
    const high = address[1] | reserved[1] | (xd ? 1 << 31 : 0);
    return [low | 0, high | 0] as [number, number];
  });

const pdpte = fc
  .record({
    address: pick(TABLE_PAGES),
    present: fc.nat(7).map((n) => n !== 0),
    flags: fc.oneof(
      { weight: 10, arbitrary: pick([0, 0x8, 0x10, 0xe00]) },
      { weight: 1, arbitrary: pick([0x2, 0x40]) },
    ),
  })
  .map(({ address, present, flags }) => [address | flags | (present ? 1 : 0), 0] as [number, number]);

type Action =
  | { kind: "access"; address: number; access: number; user: boolean; via: "translate" | "fill" | "lookup" }
  | {
      kind: "mutate";
      page: number;
      slot: number;
      value: [number, number];
      invalidation: "invlpg" | "flush" | "cr3";
    }
  | { kind: "wp"; on: boolean }
  | { kind: "a20"; on: boolean };

function actions(slots: number) {
  return fc.array(
    fc.oneof(
      {
        weight: 12,
        arbitrary: fc.record({
          kind: fc.constant("access" as const),
          address: fc.nat(7), // modulo the number of addresses
          access: pick([ACCESS_READ, ACCESS_WRITE, ACCESS_EXECUTE]),
          user: fc.boolean(),
          via: pick(["translate", "fill", "lookup"] as const),
        }),
      },
      {
        weight: 2,
        arbitrary: fc.record({
          kind: fc.constant("mutate" as const),
          page: fc.nat(TABLE_PAGES.length - 1),
          slot: fc.nat(slots - 1),
          value: entry,
          invalidation: pick(["invlpg", "flush", "cr3"] as const),
        }),
      },
      { weight: 1, arbitrary: fc.record({ kind: fc.constant("wp" as const), on: fc.boolean() }) },
      { weight: 1, arbitrary: fc.record({ kind: fc.constant("a20" as const), on: fc.boolean() }) },
    ),
    { minLength: 10, maxLength: 60 },
  ) as fc.Arbitrary<Action[]>;
}

/** A linear address as [low, high]: one index per level, a random offset, sometimes non-canonical. */
function linearAddress(shape: ModeShape) {
  return fc
    .record({
      picks: fc.tuple(...shape.indexes.map((choices) => pick(choices))),
      offset: fc.nat(0xfff),
      noncanonical: fc.nat(15).map((n) => n === 0),
    })
    .map(({ picks, offset, noncanonical }) => {
      let value = BigInt(offset);
      picks.forEach((index, level) => {
        value |= BigInt(index) << BigInt(shape.shifts[level]);
      });
      if (shape.mode === "long") {
        if (value & (1n << 47n)) value |= 0xffffn << 48n;
        if (noncanonical) value ^= 1n << 50n;
      }
      return value;
    });
}

function writeEntry(memory: PhysicalMemory, address: number, bytes: number, value: [number, number]) {
  memory.writeU32(address, value[0] >>> 0);
  if (bytes === 8) memory.writeU32(address + 4, value[1] >>> 0);
}

function entrySlots(shape: ModeShape): number[] {
  const offsets = new Set<number>();
  for (const choices of shape.indexes) for (const index of choices) offsets.add(index * shape.entryBytes);
  return [...offsets];
}

const ACCESS_NAMES: ReferenceAccess[] = ["read", "write", "execute"];

function runScenario(
  shape: ModeShape,
  tables: [number, number][][],
  pdptes: [number, number][],
  addresses: bigint[],
  flags: { pge: boolean; nxe: boolean; wp: boolean },
  script: Action[],
): void {
  const slots = entrySlots(shape);
  const memories = [0, 1].map(() => {
    const memory = new PhysicalMemory();
    memory.setUserMemoryRegion({ slot: 0, guestPhysAddr: 0, memorySize: RAM_SIZE });
    TABLE_PAGES.forEach((page, p) => {
      slots.forEach((offset, s) => {
        writeEntry(memory, page + offset, shape.entryBytes, tables[p][s]);
      });
    });
    if (shape.mode === "pae") {
      pdptes.forEach((value, i) => {
        writeEntry(memory, CR3 + i * 8, 8, value);
      });
    }
    return memory;
  });
  const [memory, referenceMemory] = memories;
  const mmu = new Mmu(memory, { physicalAddressBits: MAX_PHYS_ADDR });
  const context: ReferenceContext = {
    mode: shape.mode,
    cr3: BigInt(CR3),
    pdptes: [0n, 0n, 0n, 0n],
    wp: flags.wp,
    pse: true,
    pge: flags.pge,
    nxe: flags.nxe,
    a20: true,
    maxPhysAddr: MAX_PHYS_ADDR,
  };
  const cr4 = CR4_PSE | (flags.pge ? CR4_PGE : 0) | (shape.mode === "32" ? 0 : CR4_PAE);
  const efer = (flags.nxe ? EFER_NXE : 0) | (shape.mode === "long" ? EFER_LME | EFER_LMA : 0);
  const loaded = mmu.setControlRegisters(CR0_PE | CR0_PG | (flags.wp ? CR0_WP : 0), CR3, cr4, efer);
  if (shape.mode === "pae") {
    const expected = referencePdptes(referenceMemory, context);
    expect(loaded).toBe(expected !== undefined);
    if (expected === undefined) return;
    context.pdptes = expected;
  }

  for (const action of script) {
    if (action.kind === "access") {
      const linear = addresses[action.address % addresses.length];
      const low = Number(linear & 0xffff_ffffn) | 0;
      const high = Number(linear >> 32n) | 0;
      const expected = referenceWalk(
        referenceMemory,
        context,
        linear,
        ACCESS_NAMES[action.access],
        action.user,
      );
      checkAccess(mmu, memory, expected, low, high, action.access, action.user, action.via);
    } else if (action.kind === "mutate") {
      const address = TABLE_PAGES[action.page] + slots[action.slot];
      for (const m of memories) writeEntry(m, address, shape.entryBytes, action.value);
      if (action.invalidation === "flush") mmu.flush(true);
      else if (action.invalidation === "invlpg" || flags.pge) {
        if (action.invalidation === "cr3") reloadCr3(mmu, referenceMemory, context);
        // Every address the script uses: after INVLPG of each, nothing stale may remain.
        for (const linear of addresses)
          mmu.invalidatePage(Number(linear & 0xffff_ffffn) | 0, Number(linear >> 32n) | 0);
      } else {
        reloadCr3(mmu, referenceMemory, context);
      }
    } else if (action.kind === "wp") {
      mmu.setCr0(action.on ? mmu.cr0 | CR0_WP : mmu.cr0 & ~CR0_WP);
      context.wp = action.on;
    } else {
      mmu.setA20(action.on);
      context.a20 = action.on;
    }
  }
  // The same accessed/dirty bits were written back, and nothing else.
  expect(
    Buffer.from(memory.listSlots()[0].bytes.subarray(0, 0x9000)).equals(
      Buffer.from(referenceMemory.listSlots()[0].bytes.subarray(0, 0x9000)),
    ),
  ).toBe(true);
}

function reloadCr3(mmu: Mmu, referenceMemory: PhysicalMemory, context: ReferenceContext): void {
  const ok = mmu.setCr3(CR3);
  if (context.mode === "pae") {
    const pdptes = referencePdptes(referenceMemory, context);
    expect(ok).toBe(pdptes !== undefined);
    if (pdptes !== undefined) context.pdptes = pdptes;
    else mmu.flush(true); // the MOV faulted and flushed nothing: drop what the mutation made stale
  } else {
    expect(ok).toBe(true);
  }
}

function checkAccess(
  mmu: Mmu,
  memory: PhysicalMemory,
  expected: ReferenceResult,
  low: number,
  high: number,
  access: number,
  user: boolean,
  via: "translate" | "fill" | "lookup",
): void {
  let result: number;
  if (via === "translate") result = mmu.translateLong(low, high, access, user);
  else if (via === "fill") result = mmu.fillEntry(low, high, access, user);
  else {
    mmu.setUserMode(user);
    if (high !== 0) result = mmu.lookupLong(low, high, access);
    else if (access === ACCESS_READ) result = mmu.lookupRead(low);
    else if (access === ACCESS_WRITE) result = mmu.lookupWrite(low);
    else result = mmu.lookupExecute(low);
  }
  const where = `${via} ${ACCESS_NAMES[access]} ${user ? "user" : "supervisor"} at ${high.toString(16)}:${(low >>> 0).toString(16)}`;
  switch (expected.kind) {
    case "fault":
      expect(result, where).toBe(MMU_PAGE_FAULT);
      expect(mmu.faultErrorCode, where).toBe(expected.errorCode);
      expect([mmu.faultAddress, mmu.faultAddressHigh], where).toEqual([low, high]);
      return;
    case "table-not-ram":
      expect(result, where).toBe(MMU_TABLE_NOT_RAM);
      expect(mmu.faultPhysical, where).toBe(Number(expected.address));
      return;
    case "non-canonical":
      expect(result, where).toBe(MMU_NON_CANONICAL);
      return;
  }
  const physical = Number(expected.physical);
  if (via === "translate") {
    expect(result, where).toBe(physical);
  } else if (physical < RAM_SIZE) {
    expect(result, where).toBeGreaterThanOrEqual(0);
    expect(mmu.tlb.bytes[result], where).toBe(memory.listSlots()[0].bytes);
    expect(mmu.tlb.offset[result] + (low & 0xfff), where).toBe(physical);
  } else {
    expect(result, where).toBe(MMU_NOT_RAM);
    expect(mmu.physicalAddress, where).toBe(physical);
  }
}

describe.each(["32", "pae", "long"] as ReferenceMode[])("%s paging against the reference walker", (mode) => {
  const shape = SHAPES[mode];
  const slotCount = entrySlots(shape).length;
  it("the TLB always agrees with a fresh walk, including A/D write-back", () => {
    fc.assert(
      fc.property(
        fc.array(fc.array(entry, { minLength: slotCount, maxLength: slotCount }), {
          minLength: TABLE_PAGES.length,
          maxLength: TABLE_PAGES.length,
        }),
        fc.array(pdpte, { minLength: 4, maxLength: 4 }),
        fc.array(linearAddress(shape), { minLength: 1, maxLength: 8 }),
        fc.record({ pge: fc.boolean(), nxe: fc.boolean(), wp: fc.boolean() }),
        actions(slotCount),
        (tables, pdptes, addresses, flags, script) => {
          runScenario(shape, tables, pdptes, addresses, flags, script);
        },
      ),
      { numRuns: 200 },
    );
  });
});

// An independent model of x86 paging for the property tests, written from the SDM's tables with
// BigInt entries and a per-level description, and sharing no code with the walker under test.
import type { PhysicalMemory } from "@tsvmm/ept";

export type ReferenceMode = "32" | "pae" | "long";
export type ReferenceAccess = "read" | "write" | "execute";

export interface ReferenceContext {
  mode: ReferenceMode;
  cr3: bigint;
  /** PAE PDPTE registers. */
  pdptes: bigint[];
  wp: boolean;
  pse: boolean;
  pge: boolean;
  nxe: boolean;
  a20: boolean;
  maxPhysAddr: number;
}

export type ReferenceResult =
  | { kind: "ok"; physical: bigint; global: boolean }
  | { kind: "fault"; errorCode: number }
  | { kind: "table-not-ram"; address: bigint }
  | { kind: "non-canonical" };

interface Level {
  /** Lowest linear-address bit of this level's index. */
  shift: number;
  indexBits: number;
  entryBytes: number;
  /** Page-size shift when PS=1 maps a page here; undefined when PS is not a page size here. */
  largeShift?: number;
  /** PS=1 is a reserved-bit violation here. */
  psReserved?: boolean;
}

const bit = (n: number): bigint => 1n << BigInt(n);
/** Bits high..low inclusive (empty when high < low). */
const bitRange = (high: number, low: number): bigint =>
  high < low ? 0n : ((1n << BigInt(high - low + 1)) - 1n) << BigInt(low);

function levelsFor(context: ReferenceContext): Level[] {
  if (context.mode === "32") {
    return [
      { shift: 22, indexBits: 10, entryBytes: 4, largeShift: context.pse ? 22 : undefined },
      { shift: 12, indexBits: 10, entryBytes: 4 },
    ];
  }
  const lower: Level[] = [
    { shift: 21, indexBits: 9, entryBytes: 8, largeShift: 21 },
    { shift: 12, indexBits: 9, entryBytes: 8 },
  ];
  if (context.mode === "pae") return lower;
  return [
    { shift: 39, indexBits: 9, entryBytes: 8, psReserved: true },
    { shift: 30, indexBits: 9, entryBytes: 8, largeShift: 30 },
    ...lower,
  ];
}

function reservedBits(context: ReferenceContext, level: Level, entry: bigint): bigint {
  const M = context.maxPhysAddr;
  const large = level.largeShift !== undefined && (entry & bit(7)) !== 0n;
  if (context.mode === "32") {
    if (!large) return 0n;
    const pse36Bits = Math.min(M, 40);
    return bitRange(21, pse36Bits - 19);
  }
  let reserved = bitRange(51, M);
  if (context.mode === "pae") reserved |= bitRange(62, 52);
  if (!context.nxe) reserved |= bit(63);
  if (level.psReserved) reserved |= bit(7);
  if (large) reserved |= bitRange(level.largeShift! - 1, 13);
  return reserved;
}

function readEntry(memory: PhysicalMemory, address: bigint, bytes: number): bigint | undefined {
  const a = Number(address);
  if (!memory.isRam(a, bytes)) return undefined;
  const low = BigInt(memory.readU32(a));
  return bytes === 4 ? low : low | (BigInt(memory.readU32(a + 4)) << 32n);
}

function a20(context: ReferenceContext, address: bigint): bigint {
  return context.a20 ? address : address & ~bit(20);
}

/** Whether the four PDPTEs at CR3 can be loaded (MOV to CR3 succeeds), and their values. */
export function referencePdptes(memory: PhysicalMemory, context: ReferenceContext): bigint[] | undefined {
  const base = a20(context, context.cr3 & 0xffff_ffe0n);
  const values: bigint[] = [];
  for (let i = 0n; i < 4n; i++) {
    const entry = readEntry(memory, base + i * 8n, 8);
    if (entry === undefined) return undefined;
    const reserved = bitRange(2, 1) | bitRange(8, 5) | bitRange(63, context.maxPhysAddr);
    if ((entry & 1n) !== 0n && (entry & reserved) !== 0n) return undefined;
    values.push(entry);
  }
  return values;
}

/** Translates one access the way the SDM describes it, setting A/D in `memory` on success. */
export function referenceWalk(
  memory: PhysicalMemory,
  context: ReferenceContext,
  linear: bigint,
  access: ReferenceAccess,
  user: boolean,
): ReferenceResult {
  const errorBase =
    (access === "write" ? 2 : 0) |
    (user ? 4 : 0) |
    (access === "execute" && context.nxe && context.mode !== "32" ? 16 : 0);
  if (context.mode === "long") {
    const top = linear >> 47n;
    if (top !== 0n && top !== (1n << 17n) - 1n) return { kind: "non-canonical" };
  } else {
    linear &= 0xffff_ffffn;
  }
  const addressMask = bitRange(context.maxPhysAddr - 1, 12);
  let table: bigint;
  let userOk = true;
  let writeOk = true;
  let executeDisabled = false;
  if (context.mode === "pae") {
    const pdpte = context.pdptes[Number(linear >> 30n)];
    if ((pdpte & 1n) === 0n) return { kind: "fault", errorCode: errorBase };
    table = pdpte & addressMask;
  } else {
    table = context.mode === "32" ? context.cr3 & 0xffff_f000n : context.cr3 & addressMask;
  }
  const used: bigint[] = [];
  let physical = 0n;
  let leaf = 0n;
  const levels = levelsFor(context);
  for (let i = 0; i < levels.length; i++) {
    const level = levels[i];
    const index = (linear >> BigInt(level.shift)) & ((1n << BigInt(level.indexBits)) - 1n);
    const address = a20(context, table + index * BigInt(level.entryBytes));
    const entry = readEntry(memory, address, level.entryBytes);
    if (entry === undefined) return { kind: "table-not-ram", address };
    if ((entry & 1n) === 0n) return { kind: "fault", errorCode: errorBase };
    if ((entry & reservedBits(context, level, entry)) !== 0n)
      return { kind: "fault", errorCode: errorBase | 1 | 8 };
    used.push(address);
    userOk &&= (entry & 4n) !== 0n;
    writeOk &&= (entry & 2n) !== 0n;
    executeDisabled ||= context.nxe && (entry & bit(63)) !== 0n;
    const large = level.largeShift !== undefined && (entry & bit(7)) !== 0n;
    if (large || i === levels.length - 1) {
      const shift = large ? level.largeShift! : 12;
      let base = entry & bitRange(31, shift);
      if (context.mode === "32" && large) {
        base |= ((entry >> 13n) & bitRange(Math.min(context.maxPhysAddr, 40) - 33, 0)) << 32n;
      } else if (context.mode !== "32") {
        base = entry & addressMask & ~bitRange(shift - 1, 0);
      }
      physical = a20(context, base | (linear & bitRange(shift - 1, 0)));
      leaf = entry;
      break;
    }
    table = context.mode === "32" ? entry & 0xffff_f000n : entry & addressMask;
  }
  const denied =
    (user && !userOk) ||
    (access === "write" && !writeOk && (user || context.wp)) ||
    (access === "execute" && executeDisabled);
  if (denied) return { kind: "fault", errorCode: errorBase | 1 };
  for (let i = 0; i < used.length; i++) {
    const address = Number(used[i]);
    const low = memory.readU32(address);
    const set = 0x20 | (i === used.length - 1 && access === "write" ? 0x40 : 0);
    if ((low | set) !== low) memory.writeU32(address, (low | set) >>> 0);
  }
  return { kind: "ok", physical, global: context.pge && (leaf & bit(8)) !== 0n };
}

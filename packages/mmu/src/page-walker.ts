import type { MemorySlot, PhysicalMemory } from "@tsvmm/ept";
import {
  ACCESS_EXECUTE,
  ACCESS_WRITE,
  MMU_NON_CANONICAL,
  MMU_PAGE_FAULT,
  MMU_TABLE_NOT_RAM,
  PAGING_32,
  PAGING_LONG,
  PAGING_NONE,
  PAGING_PAE,
  type PagingMode,
  PF_I,
  PF_P,
  PF_RSVD,
  PF_U,
  PF_W,
  PTE_A,
  PTE_D,
  PTE_G,
  PTE_P,
  PTE_PAT,
  PTE_PAT_LARGE,
  PTE_PS,
  PTE_RW,
  PTE_US,
  PTE_XD_HIGH,
} from "./constants.js";
import { PageTableMemory } from "./page-table-memory.js";
import {
  ALLOW_ALL,
  ALLOW_SUPERVISOR_EXECUTE,
  ALLOW_SUPERVISOR_READ,
  ALLOW_SUPERVISOR_WRITE,
  ALLOW_USER_EXECUTE,
  ALLOW_USER_READ,
  ALLOW_USER_WRITE,
  ALLOW_WRITE,
  allowBit,
} from "./rights.js";

export const WALK_OK = 0;

/** Which optional paging features the emulated CPU has (CPUID), fixed for the life of an MMU. */
export interface PagingFeatures {
  /** MAXPHYADDR: 20 or 24 on CPUs without paging, 32..52 otherwise. */
  readonly physicalAddressBits: number;
  /** 4 MiB pages map physical bits above 31 through PDE bits 20:13. */
  readonly pse36: boolean;
  /** The PAT bits are attribute bits (ignored here); without PAT they are reserved. */
  readonly pat: boolean;
  /** The 4-level format supports 1 GiB pages; without them, PDPTE.PS is reserved. */
  readonly pages1G: boolean;
}

/** Pages spanned by a large page, as a mask of linear page-number bits (for INVLPG). */
const LARGE_4M = 0x3ff;
const LARGE_2M = 0x1ff;
const LARGE_1G = 0x3ffff;
/** PDPTE-register reserved bits in the low dword (bits 2:1 and 8:5). */
const PDPTE_RESERVED_LOW = 0x1e6;
/** Reserved bits of a PAE/4-level large-page entry below bit 32, besides PAT. */
const LARGE_2M_RESERVED_LOW = 0x001f_e000;
const LARGE_1G_RESERVED_LOW = 0x3fff_e000;
/** Bits 62:52, reserved in PAE entries (ignored in the 4-level format). */
const PAE_HIGH_RESERVED = 0x7ff0_0000;
/** A walk that keeps losing compare-and-set races ends with an unconditional update. */
const MAX_WALK_RETRIES = 8;

/**
 * The guest page-table walker: linear -> physical for one paging context (mode, CR3, the relevant
 * CR0/CR4/EFER bits, the PAE PDPTE registers), with the hardware's checks in hardware order:
 * present, then reserved bits, level by level; then U/S, R/W (with CR0.WP) and XD for the leaf.
 * A successful walk sets the accessed bit of every entry used and, for a write, the leaf's dirty
 * bit. Results are left in fields: nothing is allocated per walk.
 */
export class PageWalker {
  mode: PagingMode = PAGING_NONE;
  cr3Low = 0;
  cr3High = 0;
  writeProtect = false;
  noExecute = false;
  pageSizeExtension = false;
  globalPages = false;
  a20Mask = -1;
  /** PAE: the four PDPTE registers, loaded from memory when CR3 is loaded (see loadPdptes). */
  readonly pdpteLow = new Int32Array(4);
  readonly pdpteHigh = new Int32Array(4);

  /** Result of a successful walk: the 4 KiB frame holding the address, what it allows, its kind. */
  frameLow = 0;
  frameHigh = 0;
  allowed = 0;
  global = false;
  /** Linear page-number bits spanned by the same page: 0 for 4 KiB pages. */
  largeMask = 0;
  /** Result of a failed walk: the #PF error code, or the address of an entry outside RAM. */
  errorCode = 0;
  tablePhysical = 0;

  private readonly tables: PageTableMemory;
  /** Mask applied to linear addresses with paging off (narrow address buses). */
  private readonly noPagingMask: number;
  /** Physical-address bits 51:32 that exist (MAXPHYADDR), as a mask of an entry's high dword. */
  private readonly addressHighMask: number;
  private readonly pdpteReservedHigh: number;
  private readonly large4mReserved: number;
  private readonly large4mHighMask: number;
  private readonly pteReservedLow: number;
  private readonly largePatReserved: number;
  private readonly pages1G: boolean;
  /** Entry reserved bits in the high dword for the current mode (XD depends on EFER.NXE). */
  private reservedHigh = 0;
  private fetchBit = 0;

  /** The entries used by the walk in progress, for the accessed/dirty write-back. */
  private readonly levelSlots: (MemorySlot | undefined)[] = [undefined, undefined, undefined, undefined];
  private readonly levelOffsets = new Float64Array(4);
  private readonly levelLows = new Int32Array(4);
  private levelCount = 0;
  private readonly pdpteScratch = new Int32Array(8);

  constructor(memory: PhysicalMemory, features: PagingFeatures) {
    this.tables = new PageTableMemory(memory);
    const bits = features.physicalAddressBits;
    this.noPagingMask = bits >= 32 ? -1 : (1 << bits) - 1;
    // Paging needs at least 32 physical bits; narrower buses only exist on CPUs without paging.
    const pagingBits = Math.max(32, bits);
    this.addressHighMask = pagingBits >= 52 ? 0xf_ffff : (1 << (pagingBits - 32)) - 1;
    this.pdpteReservedHigh = (~this.addressHighMask & 0xf_ffff) | 0xfff0_0000;
    const pse36Bits = features.pse36 ? Math.min(pagingBits, 40) : 32;
    this.large4mHighMask = (1 << (pse36Bits - 32)) - 1;
    this.largePatReserved = features.pat ? 0 : PTE_PAT_LARGE;
    this.large4mReserved = (((1 << (41 - pse36Bits)) - 1) << (pse36Bits - 19)) | this.largePatReserved;
    this.pteReservedLow = features.pat ? 0 : PTE_PAT;
    this.pages1G = features.pages1G;
  }

  /** A/D write-backs made so far (each changed an entry in guest memory). */
  get writeBacks(): number {
    return this.tables.writeBacks;
  }

  /** Sets the paging context. PDPTEs are not touched: see loadPdptes. */
  configure(
    mode: PagingMode,
    cr3Low: number,
    cr3High: number,
    writeProtect: boolean,
    pageSizeExtension: boolean,
    globalPages: boolean,
    noExecute: boolean,
  ): void {
    this.mode = mode;
    this.cr3Low = cr3Low;
    this.cr3High = cr3High;
    this.writeProtect = writeProtect;
    this.pageSizeExtension = pageSizeExtension;
    this.globalPages = globalPages;
    this.noExecute = noExecute;
    const addressReserved = ~this.addressHighMask & 0xf_ffff;
    const xd = noExecute ? 0 : PTE_XD_HIGH;
    this.reservedHigh = mode === PAGING_PAE ? addressReserved | PAE_HIGH_RESERVED | xd : addressReserved | xd;
    // The I/D error-code bit exists only where XD does (PAE or 4-level paging with EFER.NXE).
    this.fetchBit = noExecute && (mode === PAGING_PAE || mode === PAGING_LONG) ? PF_I : 0;
  }

  /**
   * Reads the four PDPTEs at CR3 (bits 31:5) and, if all are valid, loads them into the PDPTE
   * registers. False (registers unchanged) when the table is not RAM or a present PDPTE has
   * reserved bits set: the MOV that triggered the load raises #GP(0).
   */
  loadPdptes(cr3Low: number): boolean {
    const scratch = this.pdpteScratch;
    const base = cr3Low & ~0x1f & this.a20Mask;
    for (let i = 0; i < 4; i++) {
      if (!this.tables.read(base + i * 8, 0, true)) return false;
      const low = this.tables.low;
      const high = this.tables.high;
      if (
        (low & PTE_P) !== 0 &&
        ((low & PDPTE_RESERVED_LOW) !== 0 || (high & this.pdpteReservedHigh) !== 0)
      ) {
        return false;
      }
      scratch[2 * i] = low;
      scratch[2 * i + 1] = high;
    }
    for (let i = 0; i < 4; i++) {
      this.pdpteLow[i] = scratch[2 * i];
      this.pdpteHigh[i] = scratch[2 * i + 1];
    }
    return true;
  }

  /**
   * Translates (linearHigh:linearLow) for one access. Returns WALK_OK with the frame in
   * frameLow/frameHigh, MMU_PAGE_FAULT (errorCode), MMU_TABLE_NOT_RAM (tablePhysical) or, in long
   * mode, MMU_NON_CANONICAL. Outside long mode linearHigh is ignored.
   */
  walk(linearLow: number, linearHigh: number, access: number, userMode: boolean): number {
    if (this.mode === PAGING_NONE) {
      this.frameLow = linearLow & ~0xfff & this.a20Mask & this.noPagingMask;
      this.frameHigh = 0;
      this.allowed = ALLOW_ALL;
      this.global = false;
      this.largeMask = 0;
      return WALK_OK;
    }
    for (let attempt = 0; ; attempt++) {
      const status = this.walkOnce(linearLow, linearHigh, access, userMode);
      if (status !== WALK_OK) return status;
      if (this.writeBack(access, attempt >= MAX_WALK_RETRIES)) return WALK_OK;
    }
  }

  private walkOnce(linearLow: number, linearHigh: number, access: number, userMode: boolean): number {
    this.levelCount = 0;
    if (this.mode === PAGING_32) return this.walk32(linearLow, access, userMode);
    if (this.mode === PAGING_PAE) return this.walkPae(linearLow, access, userMode);
    return this.walkLong(linearLow, linearHigh, access, userMode);
  }

  private walk32(linear: number, access: number, user: boolean): number {
    if (!this.visit((this.cr3Low & ~0xfff) | ((linear >>> 20) & 0xffc), 0, false)) return MMU_TABLE_NOT_RAM;
    const pde = this.tables.low;
    if ((pde & PTE_P) === 0) return this.fault(0, access, user);
    if ((pde & PTE_PS) !== 0 && this.pageSizeExtension) {
      if ((pde & this.large4mReserved) !== 0) return this.fault(PF_P | PF_RSVD, access, user);
      this.frameLow = (pde & 0xffc0_0000) | (linear & 0x003f_f000);
      this.frameHigh = (pde >>> 13) & this.large4mHighMask;
      return this.leaf(pde, pde, false, LARGE_4M, access, user);
    }
    if (!this.visit((pde & ~0xfff) | ((linear >>> 10) & 0xffc), 0, false)) return MMU_TABLE_NOT_RAM;
    const pte = this.tables.low;
    if ((pte & PTE_P) === 0) return this.fault(0, access, user);
    if ((pte & this.pteReservedLow) !== 0) return this.fault(PF_P | PF_RSVD, access, user);
    this.frameLow = pte & ~0xfff;
    this.frameHigh = 0;
    return this.leaf(pde & pte, pte, false, 0, access, user);
  }

  private walkPae(linear: number, access: number, user: boolean): number {
    const index = linear >>> 30;
    const pdpte = this.pdpteLow[index];
    if ((pdpte & PTE_P) === 0) return this.fault(0, access, user);
    const pdAddressHigh = this.pdpteHigh[index] & this.addressHighMask;
    if (!this.visit((pdpte & ~0xfff) | ((linear >>> 18) & 0xff8), pdAddressHigh, true)) {
      return MMU_TABLE_NOT_RAM;
    }
    // PDPTE registers carry no U/S, R/W or XD: only the PDE and PTE count.
    return this.directoryAndTable(linear, 0, -1, access, user);
  }

  private walkLong(linearLow: number, linearHigh: number, access: number, user: boolean): number {
    if ((linearHigh << 16) >> 16 !== linearHigh) return MMU_NON_CANONICAL;
    const cr3High = this.cr3High & this.addressHighMask;
    if (!this.visit((this.cr3Low & ~0xfff) | ((linearHigh >>> 4) & 0xff8), cr3High, true)) {
      return MMU_TABLE_NOT_RAM;
    }
    const pml4e = this.tables.low;
    const pml4eHigh = this.tables.high;
    if ((pml4e & PTE_P) === 0) return this.fault(0, access, user);
    if ((pml4eHigh & this.reservedHigh) !== 0 || (pml4e & PTE_PS) !== 0) {
      return this.fault(PF_P | PF_RSVD, access, user);
    }
    const pdptIndex = ((linearHigh & 0x7f) << 2) | (linearLow >>> 30);
    if (!this.visit((pml4e & ~0xfff) | (pdptIndex << 3), pml4eHigh & this.addressHighMask, true)) {
      return MMU_TABLE_NOT_RAM;
    }
    const pdpte = this.tables.low;
    const pdpteHigh = this.tables.high;
    if ((pdpte & PTE_P) === 0) return this.fault(0, access, user);
    if ((pdpteHigh & this.reservedHigh) !== 0) return this.fault(PF_P | PF_RSVD, access, user);
    const upperXd = (pml4eHigh | pdpteHigh) & PTE_XD_HIGH;
    const upper = pml4e & pdpte;
    if ((pdpte & PTE_PS) !== 0) {
      if (!this.pages1G || (pdpte & (LARGE_1G_RESERVED_LOW | this.largePatReserved)) !== 0) {
        return this.fault(PF_P | PF_RSVD, access, user);
      }
      this.frameLow = (pdpte & 0xc000_0000) | (linearLow & 0x3fff_f000);
      this.frameHigh = pdpteHigh & this.addressHighMask;
      return this.leaf(upper, pdpte, upperXd !== 0, LARGE_1G, access, user);
    }
    if (
      !this.visit((pdpte & ~0xfff) | ((linearLow >>> 18) & 0xff8), pdpteHigh & this.addressHighMask, true)
    ) {
      return MMU_TABLE_NOT_RAM;
    }
    return this.directoryAndTable(linearLow, upperXd, upper, access, user);
  }

  /**
   * The PDE (just read) and PTE levels shared by PAE and 4-level paging. `upperXd` and `upperRights`
   * fold in the levels above (for U/S and R/W, -1 when they have none).
   */
  private directoryAndTable(
    linear: number,
    upperXd: number,
    upperRights: number,
    access: number,
    user: boolean,
  ): number {
    const pde = this.tables.low;
    const pdeHigh = this.tables.high;
    if ((pde & PTE_P) === 0) return this.fault(0, access, user);
    if ((pdeHigh & this.reservedHigh) !== 0) return this.fault(PF_P | PF_RSVD, access, user);
    const rights = upperRights & pde;
    if ((pde & PTE_PS) !== 0) {
      if ((pde & (LARGE_2M_RESERVED_LOW | this.largePatReserved)) !== 0) {
        return this.fault(PF_P | PF_RSVD, access, user);
      }
      this.frameLow = (pde & 0xffe0_0000) | (linear & 0x001f_f000);
      this.frameHigh = pdeHigh & this.addressHighMask;
      return this.leaf(rights, pde, ((upperXd | pdeHigh) & PTE_XD_HIGH) !== 0, LARGE_2M, access, user);
    }
    if (!this.visit((pde & ~0xfff) | ((linear >>> 9) & 0xff8), pdeHigh & this.addressHighMask, true)) {
      return MMU_TABLE_NOT_RAM;
    }
    const pte = this.tables.low;
    const pteHigh = this.tables.high;
    if ((pte & PTE_P) === 0) return this.fault(0, access, user);
    if ((pteHigh & this.reservedHigh) !== 0 || (pte & this.pteReservedLow) !== 0) {
      return this.fault(PF_P | PF_RSVD, access, user);
    }
    this.frameLow = pte & ~0xfff;
    this.frameHigh = pteHigh & this.addressHighMask;
    const xd = ((upperXd | pdeHigh | pteHigh) & PTE_XD_HIGH) !== 0;
    return this.leaf(rights & pte, pte, xd, 0, access, user);
  }

  /**
   * Checks the access against the combined rights (`rights`: the AND of U/S and R/W over all levels)
   * and records the translation. XD counts only with EFER.NXE (without it, the bit is reserved and
   * has already faulted).
   */
  private leaf(rights: number, entry: number, xd: boolean, largeMask: number, access: number, user: boolean) {
    const writable = (rights & PTE_RW) !== 0;
    const executable = !(xd && this.noExecute);
    let allowed = ALLOW_SUPERVISOR_READ;
    if (writable || !this.writeProtect) allowed |= ALLOW_SUPERVISOR_WRITE;
    if (executable) allowed |= ALLOW_SUPERVISOR_EXECUTE;
    if ((rights & PTE_US) !== 0) {
      allowed |= ALLOW_USER_READ;
      if (writable) allowed |= ALLOW_USER_WRITE;
      if (executable) allowed |= ALLOW_USER_EXECUTE;
    }
    if ((allowed & allowBit(access, user)) === 0) return this.fault(PF_P, access, user);
    // Until the dirty bit is set, writes must come back here to set it.
    if ((entry & PTE_D) === 0 && access !== ACCESS_WRITE) allowed &= ~ALLOW_WRITE;
    this.allowed = allowed;
    this.global = this.globalPages && (entry & PTE_G) !== 0;
    this.largeMask = largeMask;
    this.frameLow &= this.a20Mask;
    return WALK_OK;
  }

  private fault(bits: number, access: number, user: boolean): number {
    this.errorCode =
      bits |
      (access === ACCESS_WRITE ? PF_W : 0) |
      (user ? PF_U : 0) |
      (access === ACCESS_EXECUTE ? this.fetchBit : 0);
    return MMU_PAGE_FAULT;
  }

  /** Reads the entry at (addressHigh:addressLow) (A20 applied) and records it for the write-back. */
  private visit(addressLow: number, addressHigh: number, wide: boolean): boolean {
    const low = addressLow & this.a20Mask;
    if (!this.tables.read(low, addressHigh, wide)) {
      this.tablePhysical = addressHigh * 0x1_0000_0000 + (low >>> 0);
      return false;
    }
    const level = this.levelCount++;
    this.levelSlots[level] = this.tables.slot;
    this.levelOffsets[level] = this.tables.offset;
    this.levelLows[level] = this.tables.low;
    return true;
  }

  /** Sets A in every entry used and D in the leaf for a write; false when an entry changed meanwhile. */
  private writeBack(access: number, force: boolean): boolean {
    const last = this.levelCount - 1;
    for (let level = 0; level <= last; level++) {
      const low = this.levelLows[level];
      const bits = level === last && access === ACCESS_WRITE ? PTE_A | PTE_D : PTE_A;
      if ((low & bits) === bits) continue;
      const slot = this.levelSlots[level]!;
      if (!this.tables.setBits(slot, this.levelOffsets[level], low, bits, force)) return false;
    }
    return true;
  }
}

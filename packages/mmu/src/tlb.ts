import {
  ALLOW_SUPERVISOR_EXECUTE,
  ALLOW_SUPERVISOR_READ,
  ALLOW_SUPERVISOR_WRITE,
  ALLOW_USER_EXECUTE,
  ALLOW_USER_READ,
  ALLOW_USER_WRITE,
} from "./rights.js";

export const TLB_BITS = 10;
export const TLB_SIZE = 1 << TLB_BITS;
export const TLB_MASK = TLB_SIZE - 1;
/** A tag no page number equals: page numbers are 20 bits, plus HIGH_HALF_MARK. */
export const INVALID_TAG = -1;
/**
 * Set in the tag of a long-mode page above 4 GiB (linear bits 63:32 not zero; those bits are kept
 * in highTag). A 32-bit page number never has it, so the one-compare 32-bit lookups cannot hit
 * such an entry; the 64-bit lookups compare highTag as well.
 */
export const HIGH_HALF_MARK = 1 << 31;

/** Entry flags kept with the rights (ALLOW_* bits 0-5). */
export const ENTRY_GLOBAL = 1 << 8;
/** The frame is RAM: bytes/offset address it. */
export const ENTRY_RAM = 1 << 9;
/** The frame is read-only RAM (ROM): writes are emulated at the physical address. */
export const ENTRY_READ_ONLY = 1 << 10;

/** The bytes of an entry that maps no RAM. */
export const EMPTY_PAGE: Uint8Array = new Uint8Array(0);

/** The tag of the page holding (linearHigh:linearLow). */
export function tlbTag(linearLow: number, linearHigh: number): number {
  return linearHigh === 0 ? linearLow >>> 12 : (linearLow >>> 12) | HIGH_HALF_MARK;
}

/**
 * A direct-mapped TLB of 4 KiB translations (large pages are entered one 4 KiB piece at a time),
 * indexed by linear page number. Everything the hot path reads is a typed array, except `bytes`,
 * which holds only Uint8Arrays (one element kind, so loads stay monomorphic).
 *
 * An entry has one tag per (access, privilege) that the CPU may use without asking: a tag equals
 * the page's tag only when that access may go straight to `bytes[e][offset[e] + (linear & 0xfff)]`.
 * Write tags need the dirty bit set, writable RAM and a page not watched for code. `pageTag` says
 * whether the entry holds a translation at all (also for MMIO and for accesses that must take the
 * slow path), with its rights, so those do not walk again.
 */
export class Tlb {
  readonly supervisorReadTag = new Int32Array(TLB_SIZE).fill(INVALID_TAG);
  readonly supervisorWriteTag = new Int32Array(TLB_SIZE).fill(INVALID_TAG);
  readonly supervisorExecuteTag = new Int32Array(TLB_SIZE).fill(INVALID_TAG);
  readonly userReadTag = new Int32Array(TLB_SIZE).fill(INVALID_TAG);
  readonly userWriteTag = new Int32Array(TLB_SIZE).fill(INVALID_TAG);
  readonly userExecuteTag = new Int32Array(TLB_SIZE).fill(INVALID_TAG);
  /** The tags for the current privilege (see selectPrivilege): the ones the CPU's fast path reads. */
  readTag = this.supervisorReadTag;
  writeTag = this.supervisorWriteTag;
  executeTag = this.supervisorExecuteTag;

  readonly pageTag = new Int32Array(TLB_SIZE).fill(INVALID_TAG);
  /** Linear bits 63:32 of the page (long mode; 0 otherwise). */
  readonly highTag = new Int32Array(TLB_SIZE);
  /** Guest-physical address of the 4 KiB frame. */
  readonly physicalPage = new Float64Array(TLB_SIZE);
  /** ALLOW_* bits and ENTRY_* flags. */
  readonly rights = new Int32Array(TLB_SIZE);
  /** Linear page-number bits spanned by the large page this piece belongs to (0: a 4 KiB page). */
  readonly largeMask = new Int32Array(TLB_SIZE);
  /** Host bytes of the frame's memory slot and the frame's offset in them (RAM entries only). */
  readonly bytes: Uint8Array[] = new Array<Uint8Array>(TLB_SIZE).fill(EMPTY_PAGE);
  readonly offset = new Int32Array(TLB_SIZE);

  /** Reads of readTag/writeTag/executeTag while countLookups(true): the fast-path lookups. */
  lookups = 0;

  /** Whether an entry filled since the last full flush may be global / a large-page piece. */
  private mayHoldGlobal = false;
  private mayHoldLarge = false;
  private counting = false;

  selectPrivilege(userMode: boolean): void {
    this.readTag = userMode ? this.userReadTag : this.supervisorReadTag;
    this.writeTag = userMode ? this.userWriteTag : this.supervisorWriteTag;
    this.executeTag = userMode ? this.userExecuteTag : this.supervisorExecuteTag;
  }

  /** Records a translation in entry `e` (the caller's index for `tag`); fast tags are set by setFastTags. */
  fill(
    e: number,
    tag: number,
    linearHigh: number,
    physicalPage: number,
    rights: number,
    largeMask: number,
    bytes: Uint8Array,
    offset: number,
  ): void {
    this.pageTag[e] = tag;
    this.highTag[e] = linearHigh;
    this.physicalPage[e] = physicalPage;
    this.rights[e] = rights;
    this.largeMask[e] = largeMask;
    this.bytes[e] = bytes;
    this.offset[e] = offset;
    if ((rights & ENTRY_GLOBAL) !== 0) this.mayHoldGlobal = true;
    if (largeMask !== 0) this.mayHoldLarge = true;
  }

  /** Opens the fast paths entry `e` allows; `writable` says whether writes may skip the slow path. */
  setFastTags(e: number, writable: boolean): void {
    const tag = this.pageTag[e];
    const rights = this.rights[e];
    const ram = (rights & ENTRY_RAM) !== 0;
    const canWrite = ram && writable && (rights & ENTRY_READ_ONLY) === 0;
    this.supervisorReadTag[e] = ram && (rights & ALLOW_SUPERVISOR_READ) !== 0 ? tag : INVALID_TAG;
    this.userReadTag[e] = ram && (rights & ALLOW_USER_READ) !== 0 ? tag : INVALID_TAG;
    this.supervisorWriteTag[e] = canWrite && (rights & ALLOW_SUPERVISOR_WRITE) !== 0 ? tag : INVALID_TAG;
    this.userWriteTag[e] = canWrite && (rights & ALLOW_USER_WRITE) !== 0 ? tag : INVALID_TAG;
    this.supervisorExecuteTag[e] = ram && (rights & ALLOW_SUPERVISOR_EXECUTE) !== 0 ? tag : INVALID_TAG;
    this.userExecuteTag[e] = ram && (rights & ALLOW_USER_EXECUTE) !== 0 ? tag : INVALID_TAG;
  }

  invalidate(e: number): void {
    this.pageTag[e] = INVALID_TAG;
    this.supervisorReadTag[e] = INVALID_TAG;
    this.supervisorWriteTag[e] = INVALID_TAG;
    this.supervisorExecuteTag[e] = INVALID_TAG;
    this.userReadTag[e] = INVALID_TAG;
    this.userWriteTag[e] = INVALID_TAG;
    this.userExecuteTag[e] = INVALID_TAG;
  }

  /** Drops every translation, global ones included. */
  flushAll(): void {
    this.pageTag.fill(INVALID_TAG);
    this.supervisorReadTag.fill(INVALID_TAG);
    this.supervisorWriteTag.fill(INVALID_TAG);
    this.supervisorExecuteTag.fill(INVALID_TAG);
    this.userReadTag.fill(INVALID_TAG);
    this.userWriteTag.fill(INVALID_TAG);
    this.userExecuteTag.fill(INVALID_TAG);
    this.mayHoldGlobal = false;
    this.mayHoldLarge = false;
  }

  /** Drops every translation except global ones (a CR3 load). */
  flushNonGlobal(): void {
    if (!this.mayHoldGlobal) {
      this.flushAll();
      return;
    }
    for (let e = 0; e < TLB_SIZE; e++) {
      if (this.pageTag[e] !== INVALID_TAG && (this.rights[e] & ENTRY_GLOBAL) === 0) this.invalidate(e);
    }
  }

  /** INVLPG: drops the translation of the page holding the address, whatever its size or G bit. */
  invalidatePage(linearLow: number, linearHigh: number): void {
    const tag = tlbTag(linearLow, linearHigh);
    const e = (linearLow >>> 12) & TLB_MASK;
    if (this.pageTag[e] === tag && this.highTag[e] === linearHigh) this.invalidate(e);
    if (!this.mayHoldLarge) return;
    // Other 4 KiB pieces of a large page covering the address sit at other indices.
    for (let i = 0; i < TLB_SIZE; i++) {
      const mask = this.largeMask[i];
      if (mask !== 0 && ((this.pageTag[i] ^ tag) & ~mask) === 0 && this.highTag[i] === linearHigh) {
        this.invalidate(i);
      }
    }
  }

  /** Drops translations to frames in [physicalAddress, physicalAddress + size), releasing their bytes. */
  invalidatePhysicalRange(physicalAddress: number, size: number): void {
    const end = physicalAddress + size;
    for (let e = 0; e < TLB_SIZE; e++) {
      const frame = this.physicalPage[e];
      if (frame + 0x1000 > physicalAddress && frame < end) {
        this.invalidate(e);
        this.bytes[e] = EMPTY_PAGE;
      }
    }
  }

  /**
   * Closes the write fast path of every entry mapping a frame in [physicalAddress, physicalAddress +
   * size): writes there must reach the MMU again (their dirty log was cleared).
   */
  closeWritesInRange(physicalAddress: number, size: number): void {
    const end = physicalAddress + size;
    for (let e = 0; e < TLB_SIZE; e++) {
      const frame = this.physicalPage[e];
      if (frame + 0x1000 > physicalAddress && frame < end) {
        this.supervisorWriteTag[e] = INVALID_TAG;
        this.userWriteTag[e] = INVALID_TAG;
      }
    }
  }

  /**
   * Makes the current-privilege tag arrays count their reads in `lookups` (or stops it). The
   * properties become accessors, which is slow: for measurements only.
   */
  countLookups(enabled: boolean): void {
    if (enabled === this.counting) return;
    this.counting = enabled;
    for (const name of ["readTag", "writeTag", "executeTag"] as const) {
      if (enabled) {
        let tags = this[name];
        Object.defineProperty(this, name, {
          configurable: true,
          enumerable: true,
          get: () => {
            this.lookups++;
            return tags;
          },
          set: (value: Int32Array<ArrayBuffer>) => {
            tags = value;
          },
        });
      } else {
        const tags = this[name];
        this.lookups--; // that read was not a lookup
        Object.defineProperty(this, name, {
          configurable: true,
          enumerable: true,
          writable: true,
          value: tags,
        });
      }
    }
  }

  /** Closes the write fast path of every entry on this frame (it now holds code to watch). */
  closeWrites(physicalPage: number): void {
    for (let e = 0; e < TLB_SIZE; e++) {
      if (this.physicalPage[e] === physicalPage) {
        this.supervisorWriteTag[e] = INVALID_TAG;
        this.userWriteTag[e] = INVALID_TAG;
      }
    }
  }
}

import type { PhysicalMemory } from "@tsvmm/ept";
import { CodePageWatch } from "./code-page-watch.js";
import {
  ACCESS_EXECUTE,
  ACCESS_READ,
  ACCESS_WRITE,
  CR0_CD,
  CR0_NW,
  CR0_PG,
  CR0_WP,
  CR4_PAE,
  CR4_PGE,
  CR4_PSE,
  EFER_LMA,
  EFER_LME,
  EFER_NXE,
  MMU_NOT_RAM,
  MMU_PAGE_FAULT,
  MMU_TABLE_NOT_RAM,
  PAGING_LONG,
  PAGING_NONE,
  PAGING_PAE,
  type PagingMode,
  pagingModeFor,
} from "./constants.js";
import { PageWalker, type PagingFeatures, WALK_OK } from "./page-walker.js";
import { allowBit } from "./rights.js";
import { EMPTY_PAGE, ENTRY_GLOBAL, ENTRY_RAM, ENTRY_READ_ONLY, TLB_MASK, Tlb, tlbTag } from "./tlb.js";

const FOUR_GIB = 0x1_0000_0000;
/** Host offsets are int32: a frame further than this into its slot is served as non-RAM. */
const MAX_HOST_OFFSET = 0x7fff_f000;

export interface MmuOptions {
  /** MAXPHYADDR (default 36). 20 and 24 model the 8086 and 80286 address buses (paging off only). */
  physicalAddressBits?: number;
  /** PSE-36 (default: true when physicalAddressBits > 32). */
  pse36?: boolean;
  /** PAT (default true): the PAT bits are ignored; without it they are reserved. */
  pat?: boolean;
  /** 1 GiB pages in the 4-level format (default true). */
  pages1G?: boolean;
}

/** The MMU's architectural state, for snapshots. TLB contents are not architectural and are not kept. */
export interface MmuState {
  cr0: number;
  cr3: number;
  cr3High: number;
  cr4: number;
  efer: number;
  a20Enabled: boolean;
  userMode: boolean;
  /** The PAE PDPTE registers as [low0, high0, low1, high1, low2, high2, low3, high3]. */
  pdptes: number[];
}

export interface MmuCounters {
  /** Accesses served by the TLB without a page walk. */
  hits: number;
  /** Accesses the TLB could not serve (each one walks when paging is on). */
  misses: number;
  /** Page-table walks. */
  walks: number;
  /** Accessed/dirty bits written back to guest page tables (only writes that changed an entry). */
  accessedDirtyWrites: number;
  /** Full or non-global TLB flushes. */
  flushes: number;
  /**
   * Fast-path TLB lookups (reads of the current-privilege tag arrays, the CPU's inlined ones
   * included) made while setLookupCounting(true); 0 otherwise. `hits` counts only the hits the MMU
   * itself sees, so the TLB hit rate is 1 - misses / lookups while counting.
   */
  lookups: number;
}

/** Told of every write through the MMU to a page watched with watchCodePage(), before it happens. */
export type CodeWriteListener = (physicalAddress: number) => void;

/**
 * Linear -> guest-physical translation for one vCPU: the control-register semantics (mode
 * selection, PDPTE loads, which changes flush what), the page walker and the TLB.
 *
 * The CPU's hot path reads the TLB's current-privilege tag arrays directly (or calls the tiny
 * lookup* methods); everything else goes through fillEntry()/translate(), which return an entry
 * index or physical address (>= 0) or a negative MMU_* code with details in fields.
 */
export class Mmu {
  readonly tlb = new Tlb();
  readonly features: PagingFeatures;

  /** Counters (see MmuCounters). */
  hits = 0;
  misses = 0;
  walks = 0;
  flushes = 0;

  /** MMU_PAGE_FAULT: the #PF error code, and CR2 (linear bits 31:0 and 63:32). */
  faultErrorCode = 0;
  faultAddress = 0;
  faultAddressHigh = 0;
  /** MMU_TABLE_NOT_RAM: the guest-physical address of the entry that is not in RAM. */
  faultPhysical = 0;
  /** MMU_NOT_RAM: the guest-physical address of the access, for the CPU to emulate (MMIO, ROM write). */
  physicalAddress = 0;

  private cr0Value = 0;
  private cr3Value = 0;
  private cr3HighValue = 0;
  private cr4Value = 0;
  private eferValue = 0;
  private modeValue: PagingMode = PAGING_NONE;
  private userModeValue = false;
  private a20 = true;

  private readonly memory: PhysicalMemory;
  private readonly walker: PageWalker;
  private readonly codePages = new CodePageWatch();
  private codeWriteListener: CodeWriteListener | undefined = undefined;
  private readonly stopListening: () => void;

  constructor(memory: PhysicalMemory, options: MmuOptions = {}) {
    const physicalAddressBits = options.physicalAddressBits ?? 36;
    if (!Number.isInteger(physicalAddressBits) || physicalAddressBits < 20 || physicalAddressBits > 52) {
      throw new RangeError(`physicalAddressBits must be an integer in [20, 52], got ${physicalAddressBits}`);
    }
    this.features = {
      physicalAddressBits,
      pse36: options.pse36 ?? physicalAddressBits > 32,
      pat: options.pat ?? true,
      pages1G: options.pages1G ?? true,
    };
    this.memory = memory;
    this.walker = new PageWalker(memory, this.features);
    const stopChanges = memory.onChange((address, size) => this.tlb.invalidatePhysicalRange(address, size));
    // A dirty log was fetched (or logging started): writes to the range must come here again.
    const stopProtects = memory.onWriteProtect((address, size) => this.tlb.closeWritesInRange(address, size));
    this.stopListening = () => {
      stopChanges();
      stopProtects();
    };
  }

  get cr0(): number {
    return this.cr0Value;
  }
  get cr3(): number {
    return this.cr3Value;
  }
  get cr3High(): number {
    return this.cr3HighValue;
  }
  get cr4(): number {
    return this.cr4Value;
  }
  get efer(): number {
    return this.eferValue;
  }
  get mode(): PagingMode {
    return this.modeValue;
  }
  get userMode(): boolean {
    return this.userModeValue;
  }
  get a20Enabled(): boolean {
    return this.a20;
  }
  /** The PAE PDPTE registers (low and high dwords). */
  get pdpteLow(): Int32Array {
    return this.walker.pdpteLow;
  }
  get pdpteHigh(): Int32Array {
    return this.walker.pdpteHigh;
  }

  // ---------------------------------------------------------------------------------------------
  // The fast path: current privilege, 32-bit linear addresses. Each returns a TLB entry index (the
  // access goes to tlb.bytes[e][tlb.offset[e] + (linear & 0xfff)]) or a negative MMU_* code.

  lookupRead(linear: number): number {
    const page = linear >>> 12;
    const e = page & TLB_MASK;
    if (this.tlb.readTag[e] === page) {
      this.hits++;
      return e;
    }
    return this.fillEntry(linear, 0, ACCESS_READ, this.userModeValue);
  }

  lookupWrite(linear: number): number {
    const page = linear >>> 12;
    const e = page & TLB_MASK;
    if (this.tlb.writeTag[e] === page) {
      this.hits++;
      return e;
    }
    return this.fillEntry(linear, 0, ACCESS_WRITE, this.userModeValue);
  }

  lookupExecute(linear: number): number {
    const page = linear >>> 12;
    const e = page & TLB_MASK;
    if (this.tlb.executeTag[e] === page) {
      this.hits++;
      return e;
    }
    return this.fillEntry(linear, 0, ACCESS_EXECUTE, this.userModeValue);
  }

  /** The same for a 64-bit linear address (long mode), at the current privilege. */
  lookupLong(linearLow: number, linearHigh: number, access: number): number {
    const tlb = this.tlb;
    const tags =
      access === ACCESS_WRITE ? tlb.writeTag : access === ACCESS_EXECUTE ? tlb.executeTag : tlb.readTag;
    const e = (linearLow >>> 12) & TLB_MASK;
    if (tags[e] === tlbTag(linearLow, linearHigh) && tlb.highTag[e] === linearHigh) {
      this.hits++;
      return e;
    }
    return this.fillEntry(linearLow, linearHigh, access, this.userModeValue);
  }

  // ---------------------------------------------------------------------------------------------
  // The slow path.

  /**
   * Makes sure the TLB holds a translation of the page that permits this access, walking if it
   * does not, and returns its entry index when the access can use the host bytes. Otherwise:
   * MMU_PAGE_FAULT, MMU_TABLE_NOT_RAM, MMU_NON_CANONICAL, or MMU_NOT_RAM (MMIO, or a write to ROM).
   * A write to a watched code page is reported to the code-write listener first. A write to RAM is
   * recorded in the memory's dirty log (when its slot logs), after which the write fast path opens
   * unless the page still holds watched code: the returned entry is valid for this one access.
   */
  fillEntry(linearLow: number, linearHigh: number, access: number, userMode: boolean): number {
    if (this.modeValue !== PAGING_LONG) linearHigh = 0;
    const tlb = this.tlb;
    const tag = tlbTag(linearLow, linearHigh);
    const e = (linearLow >>> 12) & TLB_MASK;
    if (
      tlb.pageTag[e] === tag &&
      tlb.highTag[e] === linearHigh &&
      (tlb.rights[e] & allowBit(access, userMode)) !== 0
    ) {
      this.hits++;
    } else {
      const status = this.refill(linearLow, linearHigh, access, userMode, e, tag);
      if (status < 0) return status;
    }
    const rights = tlb.rights[e];
    if (access === ACCESS_WRITE) {
      if (this.codePages.count !== 0) this.checkCodeWrite(e, linearLow);
      if ((rights & (ENTRY_RAM | ENTRY_READ_ONLY)) === ENTRY_RAM) {
        const frame = tlb.physicalPage[e];
        this.memory.markDirty(frame, 1);
        // The page is dirty now and its code (if any) dropped: later writes may take the fast path.
        tlb.setFastTags(e, this.writesMayBypass(frame));
      }
    }
    if ((rights & ENTRY_RAM) === 0 || (access === ACCESS_WRITE && (rights & ENTRY_READ_ONLY) !== 0)) {
      this.physicalAddress = tlb.physicalPage[e] + (linearLow & 0xfff);
      return MMU_NOT_RAM;
    }
    return e;
  }

  /**
   * Linear -> guest-physical for one access (32-bit linear address), through the TLB. Returns the
   * physical address, or MMU_PAGE_FAULT / MMU_TABLE_NOT_RAM. RAM or not does not matter here.
   */
  translate(linear: number, access: number, userMode: boolean): number {
    return this.translateLong(linear, 0, access, userMode);
  }

  /** translate() for a 64-bit linear address; may also return MMU_NON_CANONICAL in long mode. */
  translateLong(linearLow: number, linearHigh: number, access: number, userMode: boolean): number {
    if (this.modeValue !== PAGING_LONG) linearHigh = 0;
    const tlb = this.tlb;
    const tag = tlbTag(linearLow, linearHigh);
    const e = (linearLow >>> 12) & TLB_MASK;
    if (
      tlb.pageTag[e] === tag &&
      tlb.highTag[e] === linearHigh &&
      (tlb.rights[e] & allowBit(access, userMode)) !== 0
    ) {
      this.hits++;
    } else {
      const status = this.refill(linearLow, linearHigh, access, userMode, e, tag);
      if (status < 0) return status;
    }
    if (access === ACCESS_WRITE && this.codePages.count !== 0) this.checkCodeWrite(e, linearLow);
    return tlb.physicalPage[e] + (linearLow & 0xfff);
  }

  /** Walks and enters the translation into entry `e`; a negative MMU_* code when the walk fails. */
  private refill(
    linearLow: number,
    linearHigh: number,
    access: number,
    userMode: boolean,
    e: number,
    tag: number,
  ): number {
    this.misses++;
    if (this.modeValue !== PAGING_NONE) this.walks++;
    const walker = this.walker;
    const tlb = this.tlb;
    const status = walker.walk(linearLow, linearHigh, access, userMode);
    if (status !== WALK_OK) {
      if (status === MMU_PAGE_FAULT) {
        this.faultErrorCode = walker.errorCode;
        this.faultAddress = linearLow | 0;
        this.faultAddressHigh = linearHigh;
        // A page fault drops whatever the TLB held for the address, as on hardware.
        if (tlb.pageTag[e] === tag && tlb.highTag[e] === linearHigh) tlb.invalidate(e);
      } else if (status === MMU_TABLE_NOT_RAM) {
        this.faultPhysical = walker.tablePhysical;
      }
      return status;
    }
    const frame = walker.frameHigh * FOUR_GIB + (walker.frameLow >>> 0);
    let rights = walker.allowed | (walker.global ? ENTRY_GLOBAL : 0);
    let bytes: Uint8Array = EMPTY_PAGE;
    let offset = 0;
    const slot = this.memory.findSlot(frame);
    if (slot !== undefined && frame - slot.guestPhysAddr <= MAX_HOST_OFFSET) {
      rights |= ENTRY_RAM | (slot.readOnly ? ENTRY_READ_ONLY : 0);
      bytes = slot.bytes;
      offset = frame - slot.guestPhysAddr;
    }
    tlb.fill(e, tag, linearHigh, frame, rights, walker.largeMask, bytes, offset);
    tlb.setFastTags(e, this.writesMayBypass(frame));
    return WALK_OK;
  }

  /**
   * Whether writes to this frame may go straight to its bytes: not while it holds watched code, nor
   * while its slot logs dirty pages and it is clean (the first write must reach markDirty).
   */
  private writesMayBypass(frame: number): boolean {
    return !this.codePages.isWatched(frame) && !this.memory.isWriteTracked(frame);
  }

  private checkCodeWrite(e: number, linearLow: number): void {
    const frame = this.tlb.physicalPage[e];
    if (this.codePages.isWatched(frame)) this.codeWriteListener?.(frame + (linearLow & 0xfff));
  }

  // ---------------------------------------------------------------------------------------------
  // Control registers. Each setter has the semantics of the MOV that writes the register; a false
  // result means the PAE PDPTEs it had to load are invalid: the MOV raises #GP(0), nothing changed.

  setCr0(value: number): boolean {
    return this.update(
      value | 0,
      this.cr3Value,
      this.cr3HighValue,
      this.cr4Value,
      this.eferValue,
      false,
      false,
    );
  }

  /** MOV to CR3 (high: bits 63:32, long mode). Flushes non-global translations. */
  setCr3(low: number, high = 0): boolean {
    return this.update(this.cr0Value, low | 0, high | 0, this.cr4Value, this.eferValue, true, false);
  }

  setCr4(value: number): boolean {
    return this.update(
      this.cr0Value,
      this.cr3Value,
      this.cr3HighValue,
      value | 0,
      this.eferValue,
      false,
      false,
    );
  }

  /** WRMSR to EFER. The CPU keeps LMA = LME && CR0.PG and passes the result. */
  setEfer(value: number): boolean {
    return this.update(
      this.cr0Value,
      this.cr3Value,
      this.cr3HighValue,
      this.cr4Value,
      value | 0,
      false,
      false,
    );
  }

  /**
   * Loads every register at once (reset, KVM_SET_SREGS): PDPTEs are loaded if PAE paging results,
   * and the whole TLB is flushed. False (nothing changed) when those PDPTEs are invalid.
   */
  setControlRegisters(cr0: number, cr3: number, cr4: number, efer: number, cr3High = 0): boolean {
    return this.update(cr0 | 0, cr3 | 0, cr3High | 0, cr4 | 0, efer | 0, true, true);
  }

  private update(
    cr0: number,
    cr3: number,
    cr3High: number,
    cr4: number,
    efer: number,
    cr3Loaded: boolean,
    everything: boolean,
  ): boolean {
    const mode = pagingModeFor(cr0, cr4, efer);
    const cr0Changed = cr0 ^ this.cr0Value;
    const cr4Changed = cr4 ^ this.cr4Value;
    const eferChanged = efer ^ this.eferValue;
    // SDM 4.4.1: these changes (and CR3 loads) reload the PDPTEs while PAE paging is or becomes active.
    const reloadPdptes =
      everything ||
      cr3Loaded ||
      mode !== this.modeValue ||
      (cr0Changed & (CR0_PG | CR0_CD | CR0_NW)) !== 0 ||
      (cr4Changed & (CR4_PAE | CR4_PGE | CR4_PSE)) !== 0;
    if (mode === PAGING_PAE && reloadPdptes && !this.walker.loadPdptes(cr3)) return false;
    // Entries hold rights computed under CR0.WP and EFER.NXE, so those changes flush too.
    const pagingChanged =
      mode !== this.modeValue ||
      (cr0Changed & (CR0_PG | CR0_WP)) !== 0 ||
      (cr4Changed & (CR4_PSE | CR4_PAE | CR4_PGE)) !== 0 ||
      (eferChanged & (EFER_NXE | EFER_LME | EFER_LMA)) !== 0;
    this.cr0Value = cr0;
    this.cr3Value = cr3;
    this.cr3HighValue = cr3High;
    this.cr4Value = cr4;
    this.eferValue = efer;
    this.modeValue = mode;
    this.configureWalker();
    if (everything || pagingChanged) this.flush(true);
    else if (cr3Loaded) this.flush(false);
    return true;
  }

  private configureWalker(): void {
    this.walker.configure(
      this.modeValue,
      this.cr3Value,
      this.cr3HighValue,
      (this.cr0Value & CR0_WP) !== 0,
      (this.cr4Value & CR4_PSE) !== 0,
      (this.cr4Value & CR4_PGE) !== 0,
      (this.eferValue & EFER_NXE) !== 0,
    );
  }

  /** A20M#: with the gate closed, physical address bit 20 reads as 0 (page-table reads included). */
  setA20(enabled: boolean): void {
    if (enabled === this.a20) return;
    this.a20 = enabled;
    this.walker.a20Mask = enabled ? -1 : ~(1 << 20);
    this.flush(true);
  }

  /** CPL 3 (true) or 0-2: selects the tag arrays the lookups use. */
  setUserMode(userMode: boolean): void {
    this.userModeValue = userMode;
    this.tlb.selectPrivilege(userMode);
  }

  // ---------------------------------------------------------------------------------------------
  // Invalidation.

  /** INVLPG: drops the page holding the address (every size of page covering it, global or not). */
  invalidatePage(linearLow: number, linearHigh = 0): void {
    this.tlb.invalidatePage(linearLow, this.modeValue === PAGING_LONG ? linearHigh | 0 : 0);
  }

  /** Drops every translation, or every non-global one (what a CR3 load does). */
  flush(includeGlobal: boolean): void {
    this.flushes++;
    if (includeGlobal) this.tlb.flushAll();
    else this.tlb.flushNonGlobal();
  }

  /** Drops every translation to the guest-physical page holding `physicalAddress`. */
  invalidatePhysicalPage(physicalAddress: number): void {
    if (!(physicalAddress >= 0)) return;
    this.tlb.invalidatePhysicalRange(Math.floor(physicalAddress / 0x1000) * 0x1000, 0x1000);
  }

  /**
   * Marks the guest-physical page holding `physicalAddress` as holding translated code: writes to it
   * through this MMU take the slow path and call the code-write listener first.
   */
  watchCodePage(physicalAddress: number): void {
    if (this.codePages.watch(physicalAddress)) {
      this.tlb.closeWrites(Math.floor(physicalAddress / 0x1000) * 0x1000);
    }
  }

  /** Ends the watch; the write fast path reopens on the next write. */
  unwatchCodePage(physicalAddress: number): void {
    this.codePages.unwatch(physicalAddress);
  }

  isCodePage(physicalAddress: number): boolean {
    return this.codePages.isWatched(physicalAddress);
  }

  setCodeWriteListener(listener: CodeWriteListener | undefined): void {
    this.codeWriteListener = listener;
  }

  // ---------------------------------------------------------------------------------------------
  // Counters, state, teardown.

  getCounters(): MmuCounters {
    return {
      hits: this.hits,
      misses: this.misses,
      walks: this.walks,
      accessedDirtyWrites: this.walker.writeBacks,
      flushes: this.flushes,
      lookups: this.tlb.lookups,
    };
  }

  /**
   * Counts every fast-path lookup (see MmuCounters.lookups), for measuring the TLB hit rate. It
   * turns the tag arrays into accessors, which slows every lookup several times over: for
   * measurements, not for runs that are timed.
   */
  setLookupCounting(enabled: boolean): void {
    this.tlb.countLookups(enabled);
  }

  getState(): MmuState {
    const pdptes: number[] = [];
    for (let i = 0; i < 4; i++) pdptes.push(this.walker.pdpteLow[i] >>> 0, this.walker.pdpteHigh[i] >>> 0);
    return {
      cr0: this.cr0Value >>> 0,
      cr3: this.cr3Value >>> 0,
      cr3High: this.cr3HighValue >>> 0,
      cr4: this.cr4Value >>> 0,
      efer: this.eferValue >>> 0,
      a20Enabled: this.a20,
      userMode: this.userModeValue,
      pdptes,
    };
  }

  /** Restores a getState() snapshot. PDPTE registers come from the snapshot, not from memory. */
  setState(state: MmuState): void {
    if (!Array.isArray(state.pdptes) || state.pdptes.length !== 8) {
      throw new TypeError("MmuState.pdptes must hold 8 numbers");
    }
    this.cr0Value = state.cr0 | 0;
    this.cr3Value = state.cr3 | 0;
    this.cr3HighValue = state.cr3High | 0;
    this.cr4Value = state.cr4 | 0;
    this.eferValue = state.efer | 0;
    this.modeValue = pagingModeFor(this.cr0Value, this.cr4Value, this.eferValue);
    for (let i = 0; i < 4; i++) {
      this.walker.pdpteLow[i] = state.pdptes[2 * i] | 0;
      this.walker.pdpteHigh[i] = state.pdptes[2 * i + 1] | 0;
    }
    this.a20 = state.a20Enabled !== false;
    this.walker.a20Mask = this.a20 ? -1 : ~(1 << 20);
    this.configureWalker();
    this.setUserMode(state.userMode === true);
    this.flush(true);
  }

  /** Stops listening to the memory's slot changes. */
  dispose(): void {
    this.stopListening();
  }
}

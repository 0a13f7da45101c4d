import type { Instruction } from "./decoder.js";

/** Decoded instructions of one 4 KiB guest-physical page, indexed by offset in the page. */
export type CodePage = Array<Instruction | undefined>;

const FOUR_GIB_PAGES = 1 << 20;

/**
 * Where code lives: decoded instructions cached per guest-physical page, so hot code is decoded
 * once. A page that holds cached code is write-protected in the CPU's page cache; the first write
 * to it (by the CPU, or by a device through ept) drops the page's instructions. The same
 * page-granular bookkeeping is what a block translator will hang its translations on.
 */
export class InstructionCache {
  private readonly pages = new Map<number, CodePage>();
  /** 1 for pages (below 4 GiB) that hold cached instructions: the write path checks it. */
  readonly hasCode = new Uint8Array(FOUR_GIB_PAGES);
  /** Incremented whenever a page is dropped, so holders of CodePage references can refresh them. */
  generation = 0;
  /** Statistics: decodes avoided and performed, pages invalidated. */
  hits = 0;
  misses = 0;
  invalidations = 0;

  /** The code page for a guest-physical page number, created on first use. */
  page(physicalPage: number): CodePage {
    let page = this.pages.get(physicalPage);
    if (page === undefined) {
      page = new Array<Instruction | undefined>(4096);
      this.pages.set(physicalPage, page);
      if (physicalPage < FOUR_GIB_PAGES) this.hasCode[physicalPage] = 1;
    }
    return page;
  }

  /** True when the page holds cached instructions (pages above 4 GiB are tracked in the map only). */
  holdsCode(physicalPage: number): boolean {
    return physicalPage < FOUR_GIB_PAGES ? this.hasCode[physicalPage] !== 0 : this.pages.has(physicalPage);
  }

  /** Drops the instructions of a page that was written. */
  invalidatePage(physicalPage: number): void {
    if (!this.pages.delete(physicalPage)) return;
    if (physicalPage < FOUR_GIB_PAGES) this.hasCode[physicalPage] = 0;
    this.invalidations++;
    this.generation++;
  }

  /** Drops the instructions of every page overlapping [address, address + length). */
  invalidateRange(address: number, length: number): void {
    if (length <= 0) return;
    const first = Math.floor(address / 4096);
    const last = Math.floor((address + length - 1) / 4096);
    for (let page = first; page <= last; page++) if (this.holdsCode(page)) this.invalidatePage(page);
  }

  clear(): void {
    for (const page of this.pages.keys()) if (page < FOUR_GIB_PAGES) this.hasCode[page] = 0;
    this.pages.clear();
    this.generation++;
  }
}

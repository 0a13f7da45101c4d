const PAGE_SHIFT = 12;
const LOW_PAGES = 1 << 20;

/**
 * The guest-physical pages that hold translated code: a bitmap for the pages below 4 GiB (128 KiB)
 * and a set for the rare ones above. The TLB never opens a write fast path to a watched page, so
 * every write to it reaches the MMU's slow path, which tells the code cache.
 */
export class CodePageWatch {
  private readonly lowBits = new Int32Array(LOW_PAGES >>> 5);
  private readonly highPages = new Set<number>();
  /** Pages watched. */
  count = 0;

  /** Watches the page holding `physicalAddress`; false if it was already watched. */
  watch(physicalAddress: number): boolean {
    const page = pageOf(physicalAddress);
    if (page < 0) return false;
    if (page < LOW_PAGES) {
      const bit = 1 << (page & 31);
      const word = page >>> 5;
      if ((this.lowBits[word] & bit) !== 0) return false;
      this.lowBits[word] |= bit;
    } else {
      if (this.highPages.has(page)) return false;
      this.highPages.add(page);
    }
    this.count++;
    return true;
  }

  unwatch(physicalAddress: number): boolean {
    const page = pageOf(physicalAddress);
    if (page < 0) return false;
    if (page < LOW_PAGES) {
      const bit = 1 << (page & 31);
      const word = page >>> 5;
      if ((this.lowBits[word] & bit) === 0) return false;
      this.lowBits[word] &= ~bit;
    } else if (!this.highPages.delete(page)) {
      return false;
    }
    this.count--;
    return true;
  }

  isWatched(physicalAddress: number): boolean {
    if (this.count === 0) return false;
    const page = pageOf(physicalAddress);
    if (page < 0) return false;
    if (page < LOW_PAGES) return (this.lowBits[page >>> 5] & (1 << (page & 31))) !== 0;
    return this.highPages.has(page);
  }

  clear(): void {
    this.lowBits.fill(0);
    this.highPages.clear();
    this.count = 0;
  }
}

/** The page number of a guest-physical address, or -1 for anything that is not one. */
function pageOf(physicalAddress: number): number {
  if (!(physicalAddress >= 0 && physicalAddress < 2 ** 52)) return -1;
  return Math.floor(physicalAddress / (1 << PAGE_SHIFT));
}

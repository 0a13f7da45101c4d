/** Control-register, EFER and page-table-entry bits the MMU reads, and the codes its API returns. */

export const CR0_WP = 1 << 16;
export const CR0_NW = 1 << 29;
export const CR0_CD = 1 << 30;
export const CR0_PG = 1 << 31;

export const CR4_PSE = 1 << 4;
export const CR4_PAE = 1 << 5;
export const CR4_PGE = 1 << 7;

export const EFER_LME = 1 << 8;
export const EFER_LMA = 1 << 10;
export const EFER_NXE = 1 << 11;

/** Page-table entry bits (the low dword; XD is bit 31 of the high dword). */
export const PTE_P = 1 << 0;
export const PTE_RW = 1 << 1;
export const PTE_US = 1 << 2;
export const PTE_PWT = 1 << 3;
export const PTE_PCD = 1 << 4;
export const PTE_A = 1 << 5;
export const PTE_D = 1 << 6;
export const PTE_PS = 1 << 7;
export const PTE_G = 1 << 8;
/** PAT in a 4 KiB PTE (bit 7) and in a large-page entry (bit 12). */
export const PTE_PAT = 1 << 7;
export const PTE_PAT_LARGE = 1 << 12;
/** Execute-disable: bit 63 of a 64-bit entry, i.e. bit 31 of its high dword. */
export const PTE_XD_HIGH = 1 << 31;

/** #PF error-code bits. */
export const PF_P = 1 << 0;
export const PF_W = 1 << 1;
export const PF_U = 1 << 2;
export const PF_RSVD = 1 << 3;
export const PF_I = 1 << 4;

/** Kinds of access, as passed to translate() and the lookups. */
export const ACCESS_READ = 0;
export const ACCESS_WRITE = 1;
export const ACCESS_EXECUTE = 2;

/** The paging mode selected by CR0.PG, CR4.PAE and EFER.LME/LMA. */
export const PAGING_NONE = 0;
export const PAGING_32 = 1;
export const PAGING_PAE = 2;
export const PAGING_LONG = 3;
export type PagingMode = typeof PAGING_NONE | typeof PAGING_32 | typeof PAGING_PAE | typeof PAGING_LONG;

/**
 * Negative results of translate() and the lookups (a non-negative result is a physical address or
 * a TLB entry index). Details are left in fields of the Mmu, so nothing is allocated.
 */
/** A page fault: `faultErrorCode` and `faultLinear`/`faultLinearHigh` (CR2) say which. */
export const MMU_PAGE_FAULT = -1;
/** The translation is fine but the page is not (writable) RAM: emulate the access at `physicalAddress`. */
export const MMU_NOT_RAM = -2;
/** A paging-structure entry lies outside RAM (at `faultPhysical`): no guest-visible fault defined. */
export const MMU_TABLE_NOT_RAM = -3;
/** Long mode: the linear address is not canonical; the CPU raises #GP (or #SS). */
export const MMU_NON_CANONICAL = -4;

export function pagingModeFor(cr0: number, cr4: number, efer: number): PagingMode {
  if ((cr0 & CR0_PG) === 0) return PAGING_NONE;
  if ((cr4 & CR4_PAE) === 0) return PAGING_32;
  return (efer & (EFER_LME | EFER_LMA)) !== 0 ? PAGING_LONG : PAGING_PAE;
}

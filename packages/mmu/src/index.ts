export * from "./constants.js";
export { type CodeWriteListener, Mmu, type MmuCounters, type MmuOptions, type MmuState } from "./mmu.js";
export type { PagingFeatures } from "./page-walker.js";
export {
  ALLOW_SUPERVISOR_EXECUTE,
  ALLOW_SUPERVISOR_READ,
  ALLOW_SUPERVISOR_WRITE,
  ALLOW_USER_EXECUTE,
  ALLOW_USER_READ,
  ALLOW_USER_WRITE,
  allowBit,
} from "./rights.js";
export {
  ENTRY_GLOBAL,
  ENTRY_RAM,
  ENTRY_READ_ONLY,
  HIGH_HALF_MARK,
  INVALID_TAG,
  TLB_BITS,
  TLB_MASK,
  TLB_SIZE,
  Tlb,
  tlbTag,
} from "./tlb.js";

export { dirtyBitmapBytes } from "./dirty-log.js";
export { type GuestMemory, GuestMemoryError } from "./guest-memory.js";
export {
  MAX_GUEST_PHYS_ADDR,
  type MemoryRegion,
  MemoryRegionError,
  type MemorySlot,
  PAGE_SHIFT,
  PAGE_SIZE,
  PhysicalMemory,
  type SlotChangeListener,
  type WriteListener,
  type WriteProtectListener,
} from "./physical-memory.js";

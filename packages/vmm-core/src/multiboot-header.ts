import { BootImageError, hex } from "./boot-image-error.js";
import { isElf, parseElf32Executable } from "./elf32.js";

/** Multiboot (version 0.6.96) header magic and the value a loader leaves in EAX. */
export const MULTIBOOT_HEADER_MAGIC = 0x1badb002;
export const MULTIBOOT_BOOTLOADER_MAGIC = 0x2badb002;
/** The header must lie, 4-byte aligned, entirely within the image's first 8 KiB. */
export const MULTIBOOT_SEARCH_LIMIT = 8192;

/** Header flags: bits 0-15 are requirements a loader must meet or refuse, 16-31 optional features. */
export const MULTIBOOT_PAGE_ALIGN = 1 << 0;
export const MULTIBOOT_MEMORY_INFO = 1 << 1;
export const MULTIBOOT_VIDEO_MODE = 1 << 2;
export const MULTIBOOT_AOUT_KLUDGE = 1 << 16;
const UNDERSTOOD_REQUIREMENTS = MULTIBOOT_PAGE_ALIGN | MULTIBOOT_MEMORY_INFO | MULTIBOOT_VIDEO_MODE;

export interface MultibootHeader {
  /** File offset of the magic. */
  offset: number;
  flags: number;
  /** The a.out kludge's address fields (flags bit 16). */
  addresses: MultibootAddresses | undefined;
  /** The requested video mode (flags bit 2). */
  video: { modeType: number; width: number; height: number; depth: number } | undefined;
}

export interface MultibootAddresses {
  headerAddr: number;
  loadAddr: number;
  loadEndAddr: number;
  bssEndAddr: number;
  entryAddr: number;
}

/** A piece of the image to load: `fileSize` bytes from `fileOffset` at `address`, zeroed up to `memorySize`. */
export interface KernelSegment {
  fileOffset: number;
  fileSize: number;
  address: number;
  memorySize: number;
}

/** Where a multiboot kernel goes and where it starts. */
export interface MultibootImage {
  header: MultibootHeader;
  format: "elf" | "a.out kludge";
  segments: KernelSegment[];
  entry: number;
}

/**
 * Finds and validates the multiboot header: the first 4-byte-aligned magic in the first 8 KiB whose
 * checksum is right. A magic with a bad checksum is skipped (it may be data), but if no valid header
 * follows the error names it.
 */
export function findMultibootHeader(image: Uint8Array): MultibootHeader {
  const view = new DataView(image.buffer, image.byteOffset, image.byteLength);
  const searchEnd = Math.min(image.length, MULTIBOOT_SEARCH_LIMIT) - 12;
  let badChecksumAt = -1;
  for (let offset = 0; offset <= searchEnd; offset += 4) {
    if (view.getUint32(offset, true) !== MULTIBOOT_HEADER_MAGIC) continue;
    const flags = view.getUint32(offset + 4, true);
    const checksum = view.getUint32(offset + 8, true);
    if ((MULTIBOOT_HEADER_MAGIC + flags + checksum) % 2 ** 32 !== 0) {
      if (badChecksumAt < 0) badChecksumAt = offset;
      continue;
    }
    return readHeader(view, offset, flags);
  }
  if (badChecksumAt >= 0) {
    throw new BootImageError(`multiboot header at file offset ${hex(badChecksumAt)} has a bad checksum`);
  }
  throw new BootImageError("not a multiboot kernel: no multiboot header in the first 8 KiB");
}

function readHeader(view: DataView, offset: number, flags: number): MultibootHeader {
  const unknown = flags & 0xffff & ~UNDERSTOOD_REQUIREMENTS;
  if (unknown !== 0) {
    throw new BootImageError(
      `multiboot header requires features this loader does not provide (flags ${hex(unknown)})`,
    );
  }
  const length = flags & MULTIBOOT_VIDEO_MODE ? 48 : flags & MULTIBOOT_AOUT_KLUDGE ? 32 : 12;
  if (offset + length > Math.min(view.byteLength, MULTIBOOT_SEARCH_LIMIT)) {
    throw new BootImageError(
      `multiboot header at file offset ${hex(offset)} is truncated: its flags need ${length} bytes within the first 8 KiB of the file`,
    );
  }
  const u32 = (field: number) => view.getUint32(offset + field, true);
  return {
    offset,
    flags,
    addresses:
      flags & MULTIBOOT_AOUT_KLUDGE
        ? {
            headerAddr: u32(12),
            loadAddr: u32(16),
            loadEndAddr: u32(20),
            bssEndAddr: u32(24),
            entryAddr: u32(28),
          }
        : undefined,
    video:
      flags & MULTIBOOT_VIDEO_MODE
        ? { modeType: u32(32), width: u32(36), height: u32(40), depth: u32(44) }
        : undefined,
  };
}

/**
 * Parses a multiboot kernel: its header, then the segments to load, from the header's address fields
 * when flags bit 16 is set (the a.out kludge), else from the ELF program headers.
 */
export function parseMultibootImage(image: Uint8Array): MultibootImage {
  const header = findMultibootHeader(image);
  if (header.addresses)
    return { header, format: "a.out kludge", ...aoutSegments(image, header, header.addresses) };
  if (!isElf(image)) {
    throw new BootImageError(
      "multiboot kernel is neither ELF nor has the a.out kludge's address fields (flags bit 16)",
    );
  }
  const elf = parseElf32Executable(image);
  const segments = elf.segments
    .filter((segment) => segment.memorySize > 0)
    .map((segment) => ({
      fileOffset: segment.offset,
      fileSize: segment.fileSize,
      address: segment.physicalAddress,
      memorySize: segment.memorySize,
    }));
  // e_entry is a virtual address; where a segment is linked at one address and loaded at another, the
  // entry moves with it.
  let entry = elf.entry;
  for (const segment of elf.segments) {
    if (elf.entry >= segment.virtualAddress && elf.entry < segment.virtualAddress + segment.memorySize) {
      entry = segment.physicalAddress + (elf.entry - segment.virtualAddress);
      break;
    }
  }
  checkEntry(entry, segments);
  return { header, format: "elf", segments, entry };
}

function aoutSegments(
  image: Uint8Array,
  header: MultibootHeader,
  a: MultibootAddresses,
): { segments: KernelSegment[]; entry: number } {
  if (a.loadAddr > a.headerAddr) {
    throw new BootImageError(
      `multiboot load_addr ${hex(a.loadAddr)} is above header_addr ${hex(a.headerAddr)}`,
    );
  }
  const fileOffset = header.offset - (a.headerAddr - a.loadAddr);
  if (fileOffset < 0) {
    throw new BootImageError(
      `multiboot header_addr - load_addr (${hex(a.headerAddr - a.loadAddr)}) reaches before the start of the file`,
    );
  }
  let fileSize: number;
  if (a.loadEndAddr === 0) {
    fileSize = image.length - fileOffset;
  } else {
    if (a.loadEndAddr <= a.loadAddr) {
      throw new BootImageError(
        `multiboot load_end_addr ${hex(a.loadEndAddr)} is not above load_addr ${hex(a.loadAddr)}`,
      );
    }
    fileSize = a.loadEndAddr - a.loadAddr;
    if (fileOffset + fileSize > image.length) {
      throw new BootImageError(
        `multiboot kernel is truncated: it should load ${fileSize} bytes from file offset ${hex(fileOffset)}, the file has ${image.length - fileOffset}`,
      );
    }
  }
  const loadEnd = a.loadAddr + fileSize;
  let memorySize = fileSize;
  if (a.bssEndAddr !== 0) {
    if (a.bssEndAddr < loadEnd) {
      throw new BootImageError(
        `multiboot bss_end_addr ${hex(a.bssEndAddr)} is below the loaded image's end ${hex(loadEnd)}`,
      );
    }
    memorySize = a.bssEndAddr - a.loadAddr;
  }
  const segments = [{ fileOffset, fileSize, address: a.loadAddr, memorySize }];
  checkEntry(a.entryAddr, segments);
  return { segments, entry: a.entryAddr };
}

function checkEntry(entry: number, segments: readonly KernelSegment[]): void {
  const inside = segments.some(
    (segment) => entry >= segment.address && entry < segment.address + segment.fileSize,
  );
  if (!inside)
    throw new BootImageError(`multiboot entry point ${hex(entry)} is not inside the kernel's loaded bytes`);
}

import type { Vcpu, Vm } from "@tsvmm/kvm-api";
import { BOOT_GDT_ADDRESS, BOOT_GDT_SIZE, enterFlatProtectedMode } from "./boot-cpu-state.js";
import { BootImageError, hex } from "./boot-image-error.js";
import {
  alignUp,
  type E820Entry,
  findFreeRange,
  type GuestRange,
  isUsableRam,
  LOW_RAM_END,
  pcE820Map,
} from "./boot-memory-map.js";
import { checkLoadPlan, cString, type NamedRange, zeroGuest } from "./guest-load.js";
import {
  type KernelSegment,
  MULTIBOOT_BOOTLOADER_MAGIC,
  type MultibootImage,
  parseMultibootImage,
} from "./multiboot-header.js";
import { PC_LAYOUT } from "./pc-layout.js";

/** A boot module (QEMU passes each -initrd file of a multiboot kernel as one) and its string. */
export interface MultibootModule {
  data: Uint8Array;
  /** Conventionally the module's file name followed by its arguments. */
  string: string;
}

export interface MultibootBootOptions {
  /** The kernel: a 32-bit ELF executable, or any image with the a.out kludge's address fields. */
  kernel: Uint8Array;
  /** The kernel command line (QEMU passes the kernel's file name, a space, then -append). */
  cmdline: string;
  modules?: readonly MultibootModule[];
  /** Guest RAM in bytes, as given to addPcRam. */
  ramSize: number;
  /** Bytes of firmware ROM mapped below 4 GiB (loadFirmware), reported reserved; 0 when none. */
  firmwareSize?: number;
  /** The boot_loader_name the kernel sees. */
  bootLoaderName?: string;
}

export interface MultibootPlacement {
  image: MultibootImage;
  /** Each kernel segment as loaded, bss included. */
  kernel: GuestRange[];
  /** The multiboot information structure; EBX holds its address. */
  info: GuestRange;
  /** The whole block the structure's pointers lead into: structure, memory map, module table, strings. */
  infoBlock: GuestRange;
  mmap: GuestRange;
  cmdline: number;
  bootLoaderName: number;
  modules: Array<{ start: number; end: number; string: number }>;
  e820: E820Entry[];
  gdt: GuestRange;
  entryPoint: number;
  /** Requests in the header that were ignored (a video mode), for the log. */
  warnings: string[];
}

/** The information block's place in low memory, clear of the boot GDT and of kernels loaded at 1 MiB. */
export const MULTIBOOT_INFO_ADDRESS = 0x9000;
export const MULTIBOOT_BOOT_LOADER_NAME = "tsvmm";

/** Multiboot information flags (which fields are valid). */
export const MULTIBOOT_INFO_MEMORY = 1 << 0;
export const MULTIBOOT_INFO_CMDLINE = 1 << 2;
export const MULTIBOOT_INFO_MODS = 1 << 3;
export const MULTIBOOT_INFO_MEM_MAP = 1 << 6;
export const MULTIBOOT_INFO_BOOT_LOADER_NAME = 1 << 9;

/** Offsets in the multiboot information structure. */
const INFO = {
  flags: 0,
  memLower: 4,
  memUpper: 8,
  cmdline: 16,
  modsCount: 20,
  modsAddr: 24,
  mmapLength: 44,
  mmapAddr: 48,
  bootLoaderName: 64,
} as const;
/** The structure up to and including the framebuffer fields, which stay zero. */
const INFO_SIZE = 116;
/** Each memory map entry: a size field (20) then base, length and type. */
const MMAP_ENTRY_SIZE = 24;
const MODULE_ENTRY_SIZE = 16;
const PAGE_SIZE = 0x1000;

/**
 * Loads a multiboot (0.6.96) kernel as GRUB or QEMU's -kernel does: its segments at their physical
 * addresses (bss zeroed), the modules page-aligned after it, and the information structure with the
 * memory map, command line, modules and boot loader name in low memory. Leaves `vcpu` at the entry
 * point in flat 32-bit protected mode with EAX = 0x2BADB002 and EBX = the structure's address.
 * Everything is validated before guest RAM is touched; problems throw BootImageError.
 */
export function loadMultibootKernel(vm: Vm, vcpu: Vcpu, options: MultibootBootOptions): MultibootPlacement {
  const image = parseMultibootImage(options.kernel);
  const e820 = pcE820Map(options.ramSize, options.firmwareSize ?? 0);
  const warnings: string[] = [];
  const video = image.header.video;
  if (video) {
    warnings.push(
      `multiboot kernel asks for video mode type ${video.modeType} (${video.width}x${video.height}x${video.depth}); ` +
        "not supported, booting without video information",
    );
  }

  const kernel = image.segments.map((segment) => ({
    start: segment.address,
    end: segment.address + segment.memorySize,
  }));
  image.segments.forEach((segment, i) => {
    checkSegmentInRam(segment, i, e820, options.ramSize);
  });

  const modules = options.modules ?? [];
  const layout = layOutInfoBlock(options, e820.length, modules);
  const gdt = { start: BOOT_GDT_ADDRESS, end: BOOT_GDT_ADDRESS + BOOT_GDT_SIZE };
  const occupied: GuestRange[] = [...kernel, gdt, layout.block];
  const kernelEnd = kernel.reduce((end, range) => Math.max(end, range.end), 0);
  const moduleRanges = modules.map((module, i) => {
    const size = module.data.length;
    let start = findFreeRange(e820, occupied, size, PAGE_SIZE, alignUp(kernelEnd, PAGE_SIZE));
    if (start < 0) start = findFreeRange(e820, occupied, size, PAGE_SIZE, PC_LAYOUT.extendedStart);
    if (start < 0) {
      throw new BootImageError(
        `module ${i} (${size} bytes) does not fit in the RAM left beside the kernel and earlier modules`,
      );
    }
    const range = { start, end: start + size };
    occupied.push(range);
    return range;
  });

  const plan: NamedRange[] = [
    ...kernel.map((range, i) => ({ what: `kernel segment ${i}`, ...range })),
    { what: "multiboot information", ...layout.block },
    { what: "boot GDT", ...gdt },
    ...moduleRanges.map((range, i) => ({ what: `module ${i}`, ...range })),
  ];
  checkLoadPlan(
    vm.memory,
    plan.filter((range) => range.end > range.start),
  );

  const memory = vm.memory;
  for (const segment of image.segments) {
    memory.write(
      segment.address,
      options.kernel.subarray(segment.fileOffset, segment.fileOffset + segment.fileSize),
    );
    zeroGuest(memory, segment.address + segment.fileSize, segment.memorySize - segment.fileSize);
  }
  modules.forEach((module, i) => {
    memory.write(moduleRanges[i].start, module.data);
  });
  memory.write(layout.block.start, buildInfoBlock(layout, options, e820, moduleRanges));
  enterFlatProtectedMode(vm, vcpu, {
    rip: image.entry,
    rax: MULTIBOOT_BOOTLOADER_MAGIC,
    rbx: layout.block.start,
    rsp: MULTIBOOT_INFO_ADDRESS,
  });
  return {
    image,
    kernel,
    info: { start: layout.block.start, end: layout.block.start + INFO_SIZE },
    infoBlock: layout.block,
    mmap: layout.mmap,
    cmdline: layout.cmdline,
    bootLoaderName: layout.bootLoaderName,
    modules: moduleRanges.map((range, i) => ({ ...range, string: layout.moduleStrings[i] })),
    e820,
    gdt,
    entryPoint: image.entry,
    warnings,
  };
}

function checkSegmentInRam(
  segment: KernelSegment,
  index: number,
  e820: readonly E820Entry[],
  ramSize: number,
): void {
  if (!isUsableRam(e820, segment.address, segment.memorySize)) {
    const end = segment.address + segment.memorySize;
    throw new BootImageError(
      `kernel segment ${index} at ${hex(segment.address)}-${hex(end)} is outside usable RAM ` +
        `(0-${hex(LOW_RAM_END)} and ${hex(PC_LAYOUT.extendedStart)}-${hex(ramSize)})`,
    );
  }
}

interface InfoBlockLayout {
  block: GuestRange;
  mmap: GuestRange;
  modsAddr: number;
  cmdline: number;
  cmdlineBytes: Uint8Array;
  bootLoaderName: number;
  bootLoaderNameBytes: Uint8Array;
  moduleStrings: number[];
  moduleStringBytes: Uint8Array[];
}

/** Structure, memory map, module table, then the strings, packed from MULTIBOOT_INFO_ADDRESS. */
function layOutInfoBlock(
  options: MultibootBootOptions,
  mmapEntries: number,
  modules: readonly MultibootModule[],
): InfoBlockLayout {
  const start = MULTIBOOT_INFO_ADDRESS;
  let at = start + alignUp(INFO_SIZE, 8);
  const mmap = { start: at, end: at + mmapEntries * MMAP_ENTRY_SIZE };
  at = mmap.end;
  const modsAddr = at;
  at += modules.length * MODULE_ENTRY_SIZE;
  const cmdlineBytes = cString(options.cmdline, "kernel command line");
  const cmdline = at;
  at += cmdlineBytes.length;
  const bootLoaderNameBytes = cString(
    options.bootLoaderName ?? MULTIBOOT_BOOT_LOADER_NAME,
    "boot loader name",
  );
  const bootLoaderName = at;
  at += bootLoaderNameBytes.length;
  const moduleStringBytes = modules.map((module, i) => cString(module.string, `module ${i}'s string`));
  const moduleStrings = moduleStringBytes.map((bytes) => {
    const address = at;
    at += bytes.length;
    return address;
  });
  if (at > LOW_RAM_END) {
    throw new BootImageError(
      `multiboot command line, module strings and tables need ${at - start} bytes; ${LOW_RAM_END - start} fit in low memory`,
    );
  }
  return {
    block: { start, end: at },
    mmap,
    modsAddr,
    cmdline,
    cmdlineBytes,
    bootLoaderName,
    bootLoaderNameBytes,
    moduleStrings,
    moduleStringBytes,
  };
}

function buildInfoBlock(
  layout: InfoBlockLayout,
  options: MultibootBootOptions,
  e820: readonly E820Entry[],
  modules: readonly GuestRange[],
): Uint8Array {
  const base = layout.block.start;
  const bytes = new Uint8Array(layout.block.end - base);
  const view = new DataView(bytes.buffer);
  const u32 = (address: number, value: number) => view.setUint32(address - base, value, true);
  u32(
    base + INFO.flags,
    MULTIBOOT_INFO_MEMORY |
      MULTIBOOT_INFO_CMDLINE |
      MULTIBOOT_INFO_MODS |
      MULTIBOOT_INFO_MEM_MAP |
      MULTIBOOT_INFO_BOOT_LOADER_NAME,
  );
  u32(base + INFO.memLower, Math.floor(LOW_RAM_END / 1024));
  u32(base + INFO.memUpper, Math.floor((options.ramSize - PC_LAYOUT.extendedStart) / 1024));
  u32(base + INFO.cmdline, layout.cmdline);
  u32(base + INFO.modsCount, modules.length);
  u32(base + INFO.modsAddr, layout.modsAddr);
  u32(base + INFO.mmapLength, layout.mmap.end - layout.mmap.start);
  u32(base + INFO.mmapAddr, layout.mmap.start);
  u32(base + INFO.bootLoaderName, layout.bootLoaderName);
  e820.forEach((entry, i) => {
    const at = layout.mmap.start + i * MMAP_ENTRY_SIZE;
    u32(at, MMAP_ENTRY_SIZE - 4);
    u32(at + 4, entry.address % 2 ** 32);
    u32(at + 8, Math.floor(entry.address / 2 ** 32));
    u32(at + 12, entry.size % 2 ** 32);
    u32(at + 16, Math.floor(entry.size / 2 ** 32));
    u32(at + 20, entry.type);
  });
  modules.forEach((module, i) => {
    const at = layout.modsAddr + i * MODULE_ENTRY_SIZE;
    u32(at, module.start);
    u32(at + 4, module.end);
    u32(at + 8, layout.moduleStrings[i]);
    u32(at + 12, 0);
  });
  bytes.set(layout.cmdlineBytes, layout.cmdline - base);
  bytes.set(layout.bootLoaderNameBytes, layout.bootLoaderName - base);
  layout.moduleStringBytes.forEach((string, i) => {
    bytes.set(string, layout.moduleStrings[i] - base);
  });
  return bytes;
}

import type { Vcpu, Vm } from "@tsvmm/kvm-api";
import { BOOT_GDT_ADDRESS, BOOT_GDT_SIZE, enterFlatProtectedMode, enterRealMode } from "./boot-cpu-state.js";
import { BootImageError, hex } from "./boot-image-error.js";
import {
  alignUp,
  type E820Entry,
  findFreeRangeBelow,
  type GuestRange,
  isUsableRam,
  LOW_RAM_END,
  pcE820Map,
} from "./boot-memory-map.js";
import { checkLoadPlan, cString, type NamedRange } from "./guest-load.js";
import {
  type BzImageHeader,
  CAN_USE_HEAP,
  DEFAULT_KERNEL_ADDRESS,
  parseBzImageHeader,
  SETUP_HEADER,
} from "./linux-boot-header.js";
import { PC_LAYOUT } from "./pc-layout.js";

export interface LinuxBootOptions {
  /** The bzImage (QEMU's -kernel). */
  kernel: Uint8Array;
  /** The initial ramdisk (QEMU's -initrd); omitted or empty means none. */
  initrd?: Uint8Array;
  /** The kernel command line (QEMU's -append). */
  cmdline: string;
  /** Guest RAM in bytes, as given to addPcRam. */
  ramSize: number;
  /** Bytes of firmware ROM mapped below 4 GiB (loadFirmware), reported reserved; 0 when none. */
  firmwareSize?: number;
  /**
   * "protected" (default): the 32-bit boot protocol, straight into the kernel with a zero page built
   * here. "real": the 16-bit protocol, through the kernel's real-mode setup code, which then asks the
   * BIOS for the memory map and video mode, so it needs firmware that answers INT 15h and INT 10h.
   */
  entry?: "protected" | "real";
  /** What the zero page says about the display: "none" (default) or an 80×25 VGA text mode. */
  display?: "none" | "vga-text";
  /**
   * Where the ACPI RSDP is (writeAcpiTables' rsdpAddress), for the zero page's acpi_rsdp_addr (boot_params offset
   * 0x070, which Linux 5.0 and later reads before scanning the BIOS areas); protected entry only, since the real-mode
   * setup code builds its own zero page. Omitted: 0, and the kernel scans.
   */
  acpiRsdpAddress?: number;
}

/** What the loader put where, and how the vCPU was left. */
export interface LinuxBootPlacement {
  entry: "protected" | "real";
  header: BzImageHeader;
  /** The protected-mode code, as loaded. */
  kernel: GuestRange;
  /** [runtime start, + init_size): where the kernel decompresses and runs before it reads the memory map. */
  kernelRuntime: GuestRange;
  /** The zero page (protected entry) or the real-mode code, whose header the kernel reads (real entry). */
  bootParams: GuestRange;
  /** The command line including its terminating NUL. */
  cmdline: GuestRange;
  initrd: GuestRange | undefined;
  /** The boot GDT (protected entry only). */
  gdt: GuestRange | undefined;
  /** The memory map written into the zero page (protected entry) or the machine's (real entry). */
  e820: E820Entry[];
  /** Linear address of the first instruction: code32_start, or the setup entry at segment + 0x20. */
  entryPoint: number;
}

/** Protected-mode entry: the zero page, its scratch stack below it, and the command line. */
export const LINUX_ZERO_PAGE_ADDRESS = 0x7000;
export const LINUX_CMDLINE_ADDRESS = 0x20000;
/** Real-mode entry: the real-mode code at 0x90000, heap to +0x9800, command line after it (boot.rst's sample). */
export const LINUX_REAL_MODE_ADDRESS = 0x90000;
export const LINUX_REAL_MODE_HEAP_END = 0x9800;

/** type_of_loader for a boot loader without an assigned id. */
export const LOADER_TYPE_UNDEFINED = 0xff;
const ZERO_PAGE_SIZE = 0x1000;
const INITRD_ALIGNMENT = 0x1000;
const E820_TABLE = 0x2d0;
const E820_MAX_ENTRIES = 128;
const E820_ENTRY_SIZE = 20;
const ZERO_PAGE = {
  acpiRsdpAddr: 0x070,
  extRamdiskImage: 0x0c0,
  extRamdiskSize: 0x0c4,
  extCmdLinePtr: 0x0c8,
  altMemK: 0x1e0,
  e820Entries: 0x1e8,
} as const;
/** screen_info, at the start of the zero page. */
const SCREEN_INFO = {
  origVideoMode: 0x06,
  origVideoCols: 0x07,
  origVideoLines: 0x0e,
  origVideoIsVga: 0x0f,
  origVideoPoints: 0x10,
} as const;

/**
 * Loads a bzImage as a boot loader does for Linux's boot protocol (2.06 or later): the protected-mode
 * code at 1 MiB (or at pref_address, for a relocatable kernel that fits there), the initrd as high as
 * the kernel allows, the command line, and either a zero page for the 32-bit entry or the real-mode
 * setup code for the 16-bit one. Leaves `vcpu` at the kernel's entry point. Everything is validated
 * before guest RAM is touched; a bad image or a machine too small throws BootImageError.
 */
export function loadLinuxKernel(vm: Vm, vcpu: Vcpu, options: LinuxBootOptions): LinuxBootPlacement {
  const entry = options.entry ?? "protected";
  const rsdp = options.acpiRsdpAddress;
  if (rsdp !== undefined && !(Number.isInteger(rsdp) && rsdp >= 0 && rsdp < 2 ** 52)) {
    throw new RangeError(`bad ACPI RSDP address ${rsdp}`);
  }
  const header = parseBzImageHeader(options.kernel);
  const e820 = pcE820Map(options.ramSize, options.firmwareSize ?? 0);
  const { kernel, kernelRuntime, entryPoint } = placeKernel(header, e820, options.ramSize);

  const cmdlineBytes = cString(options.cmdline, "kernel command line");
  const cmdlineLength = cmdlineBytes.length - 1;
  if (cmdlineLength > header.cmdlineSize) {
    throw new BootImageError(
      `kernel command line is ${cmdlineLength} bytes; this kernel accepts at most ${header.cmdlineSize}`,
    );
  }
  const bootParamsStart = entry === "protected" ? LINUX_ZERO_PAGE_ADDRESS : LINUX_REAL_MODE_ADDRESS;
  const bootParams = {
    start: bootParamsStart,
    end: bootParamsStart + (entry === "protected" ? ZERO_PAGE_SIZE : header.setupSize),
  };
  const cmdlineStart =
    entry === "protected" ? LINUX_CMDLINE_ADDRESS : LINUX_REAL_MODE_ADDRESS + LINUX_REAL_MODE_HEAP_END;
  const cmdline = { start: cmdlineStart, end: cmdlineStart + cmdlineBytes.length };
  if (cmdline.end > LOW_RAM_END) {
    throw new BootImageError(
      `kernel command line is ${cmdlineLength} bytes; at most ${LOW_RAM_END - cmdlineStart - 1} fit in low memory`,
    );
  }
  const gdt =
    entry === "protected" ? { start: BOOT_GDT_ADDRESS, end: BOOT_GDT_ADDRESS + BOOT_GDT_SIZE } : undefined;
  const initrd = placeInitrd(header, e820, [kernel, kernelRuntime], options.initrd);

  const plan: NamedRange[] = [
    { what: "kernel", ...kernel },
    { what: entry === "protected" ? "zero page" : "real-mode setup code", ...bootParams },
    { what: "command line", ...cmdline },
  ];
  if (entry === "real") {
    plan.push({
      what: "real-mode heap",
      start: bootParams.end,
      end: LINUX_REAL_MODE_ADDRESS + LINUX_REAL_MODE_HEAP_END,
    });
  }
  if (gdt) plan.push({ what: "boot GDT", ...gdt });
  if (initrd) plan.push({ what: "initrd", ...initrd });
  checkLoadPlan(vm.memory, plan);

  const memory = vm.memory;
  memory.write(kernel.start, options.kernel.subarray(header.setupSize));
  if (initrd && options.initrd) memory.write(initrd.start, options.initrd);
  memory.write(cmdline.start, cmdlineBytes);
  const fields: HeaderFields = { entryPoint, cmdline: cmdline.start, initrd };
  if (entry === "protected") {
    memory.write(bootParams.start, buildZeroPage(options, header, fields, e820));
    enterFlatProtectedMode(vm, vcpu, {
      rip: entryPoint,
      rsi: bootParams.start,
      rsp: LINUX_ZERO_PAGE_ADDRESS,
    });
    return { entry, header, kernel, kernelRuntime, bootParams, cmdline, initrd, gdt, e820, entryPoint };
  }
  const setup = options.kernel.slice(0, header.setupSize);
  writeLoaderFields(new DataView(setup.buffer), fields);
  memory.write(bootParams.start, setup);
  const segment = LINUX_REAL_MODE_ADDRESS >> 4;
  enterRealMode(vcpu, { cs: segment + 0x20, ip: 0, dataSegment: segment, sp: LINUX_REAL_MODE_HEAP_END });
  return {
    entry,
    header,
    kernel,
    kernelRuntime,
    bootParams,
    cmdline,
    initrd,
    gdt,
    e820,
    entryPoint: LINUX_REAL_MODE_ADDRESS + 0x200,
  };
}

/**
 * Chooses the load address: pref_address for a relocatable kernel that prefers an address above 1 MiB,
 * else 1 MiB. Either way the kernel needs RAM up to the end of the runtime region boot.rst defines: a
 * relocatable kernel moves itself to align_up(max(load address, pref_address), kernel_alignment), a
 * fixed one to pref_address, and needs init_size bytes from there. (Loading a relocatable kernel at
 * 1 MiB instead would not save memory: it would still move itself up to pref_address.)
 */
function placeKernel(
  header: BzImageHeader,
  e820: readonly E820Entry[],
  ramSize: number,
): { kernel: GuestRange; kernelRuntime: GuestRange; entryPoint: number } {
  const size = header.protectedModeSize;
  const preferred = header.prefAddress;
  const load = header.relocatable && preferred > DEFAULT_KERNEL_ADDRESS ? preferred : DEFAULT_KERNEL_ADDRESS;
  const runtimeStart = header.relocatable
    ? alignUp(Math.max(load, preferred), header.kernelAlignment)
    : preferred || load;
  const kernel = { start: load, end: load + size };
  const runtime = { start: runtimeStart, end: runtimeStart + Math.max(header.initSize, size) };
  const whole = { start: Math.min(kernel.start, runtime.start), end: Math.max(kernel.end, runtime.end) };
  if (!isUsableRam(e820, whole.start, whole.end - whole.start)) {
    throw new BootImageError(
      `kernel does not fit in ${ramSize / 2 ** 20} MiB of RAM: it needs ${hex(whole.start)}-${hex(whole.end)} ` +
        `(${size} bytes loaded at ${hex(kernel.start)}, init_size ${header.initSize} from ${hex(runtime.start)})`,
    );
  }
  // code32_start is where the kernel wants to be entered, relative to its default load address.
  const offset = header.code32Start - DEFAULT_KERNEL_ADDRESS;
  if (offset < 0 || offset >= size) {
    throw new BootImageError(
      `malformed setup header: code32_start ${hex(header.code32Start)} lies outside the ${size}-byte protected-mode code loaded at ${hex(DEFAULT_KERNEL_ADDRESS)}`,
    );
  }
  return { kernel, kernelRuntime: runtime, entryPoint: kernel.start + offset };
}

/**
 * The initrd as high as allowed: below initrd_addr_max and the end of RAM, page aligned, clear of the
 * loaded kernel and of the runtime region it decompresses into.
 */
function placeInitrd(
  header: BzImageHeader,
  e820: readonly E820Entry[],
  kernel: readonly GuestRange[],
  initrd: Uint8Array | undefined,
): GuestRange | undefined {
  if (initrd === undefined || initrd.length === 0) return undefined;
  const limit = Math.min(header.initrdAddrMax + 1, PC_LAYOUT.maximumRam);
  const highMemory = e820.filter((entry) => entry.address >= PC_LAYOUT.extendedStart);
  const start = findFreeRangeBelow(highMemory, kernel, initrd.length, INITRD_ALIGNMENT, limit);
  if (start < 0) {
    throw new BootImageError(
      `initrd of ${initrd.length} bytes does not fit in RAM below ${hex(limit)} (initrd_addr_max ${hex(header.initrdAddrMax)}) ` +
        `beside the kernel (${kernel.map((range) => `${hex(range.start)}-${hex(range.end)}`).join(", ")})`,
    );
  }
  return { start, end: start + initrd.length };
}

interface HeaderFields {
  entryPoint: number;
  cmdline: number;
  initrd: GuestRange | undefined;
}

/** The setup-header fields a boot loader writes (the same for the 16- and 32-bit protocols). */
function writeLoaderFields(view: DataView, fields: HeaderFields): void {
  view.setUint8(SETUP_HEADER.typeOfLoader, LOADER_TYPE_UNDEFINED);
  view.setUint8(SETUP_HEADER.loadflags, view.getUint8(SETUP_HEADER.loadflags) | CAN_USE_HEAP);
  view.setUint16(SETUP_HEADER.heapEndPtr, LINUX_REAL_MODE_HEAP_END - 0x200, true);
  view.setUint32(SETUP_HEADER.cmdLinePtr, fields.cmdline, true);
  view.setUint32(SETUP_HEADER.code32Start, fields.entryPoint, true);
  view.setUint32(SETUP_HEADER.ramdiskImage, fields.initrd?.start ?? 0, true);
  view.setUint32(SETUP_HEADER.ramdiskSize, fields.initrd ? fields.initrd.end - fields.initrd.start : 0, true);
}

/**
 * The zero page for the 32-bit protocol: all zero, the image's setup header copied in and the loader's
 * fields written, then the memory map, the extended-memory size and the display.
 */
function buildZeroPage(
  options: LinuxBootOptions,
  header: BzImageHeader,
  fields: HeaderFields,
  e820: readonly E820Entry[],
): Uint8Array {
  const page = new Uint8Array(ZERO_PAGE_SIZE);
  page.set(options.kernel.subarray(SETUP_HEADER.setupSects, header.headerEnd), SETUP_HEADER.setupSects);
  const view = new DataView(page.buffer);
  writeLoaderFields(view, fields);
  // Everything lies below 4 GiB: the high halves of the 64-bit initrd and command-line addresses are 0.
  view.setUint32(ZERO_PAGE.extRamdiskImage, 0, true);
  view.setUint32(ZERO_PAGE.extRamdiskSize, 0, true);
  view.setUint32(ZERO_PAGE.extCmdLinePtr, 0, true);
  setU64(view, ZERO_PAGE.acpiRsdpAddr, options.acpiRsdpAddress ?? 0);
  view.setUint32(ZERO_PAGE.altMemK, Math.floor((options.ramSize - PC_LAYOUT.extendedStart) / 1024), true);
  if (e820.length > E820_MAX_ENTRIES)
    throw new BootImageError(`memory map has more than ${E820_MAX_ENTRIES} entries`);
  view.setUint8(ZERO_PAGE.e820Entries, e820.length);
  e820.forEach((entry, i) => {
    const at = E820_TABLE + i * E820_ENTRY_SIZE;
    setU64(view, at, entry.address);
    setU64(view, at + 8, entry.size);
    view.setUint32(at + 16, entry.type, true);
  });
  if (options.display === "vga-text") {
    view.setUint8(SCREEN_INFO.origVideoMode, 3);
    view.setUint8(SCREEN_INFO.origVideoCols, 80);
    view.setUint8(SCREEN_INFO.origVideoLines, 25);
    view.setUint8(SCREEN_INFO.origVideoIsVga, 1);
    view.setUint16(SCREEN_INFO.origVideoPoints, 16, true);
  }
  return page;
}

function setU64(view: DataView, offset: number, value: number): void {
  view.setUint32(offset, value % 2 ** 32, true);
  view.setUint32(offset + 4, Math.floor(value / 2 ** 32), true);
}

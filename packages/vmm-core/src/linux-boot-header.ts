import { BootImageError, hex } from "./boot-image-error.js";

/**
 * Offsets of the Linux x86 setup header (Documentation/arch/x86/boot.rst), which sits at 0x1F1 in
 * both the bzImage file and the zero page (struct boot_params).
 */
export const SETUP_HEADER = {
  setupSects: 0x1f1,
  syssize: 0x1f4,
  vidMode: 0x1fa,
  bootFlag: 0x1fe,
  jump: 0x200,
  header: 0x202,
  version: 0x206,
  kernelVersion: 0x20e,
  typeOfLoader: 0x210,
  loadflags: 0x211,
  code32Start: 0x214,
  ramdiskImage: 0x218,
  ramdiskSize: 0x21c,
  heapEndPtr: 0x224,
  extLoaderVer: 0x226,
  extLoaderType: 0x227,
  cmdLinePtr: 0x228,
  initrdAddrMax: 0x22c,
  kernelAlignment: 0x230,
  relocatableKernel: 0x234,
  minAlignment: 0x235,
  xloadflags: 0x236,
  cmdlineSize: 0x238,
  payloadOffset: 0x248,
  payloadLength: 0x24c,
  prefAddress: 0x258,
  initSize: 0x260,
  handoverOffset: 0x264,
  kernelInfoOffset: 0x268,
} as const;

/** "HdrS", little-endian. */
export const SETUP_HEADER_MAGIC = 0x53726448;
export const BOOT_FLAG = 0xaa55;
/** loadflags bits. */
export const LOADED_HIGH = 0x01;
export const CAN_USE_HEAP = 0x80;
/** xloadflags bits. */
export const XLF_KERNEL_64 = 0x01;
export const XLF_CAN_BE_LOADED_ABOVE_4G = 0x02;

/** The oldest protocol we load: 2.06 added cmdline_size, so every limit we need is in the header. */
export const MINIMUM_BOOT_PROTOCOL = 0x0206;
/** The real-mode code (boot sector + setup) may total at most 32 KiB. */
export const MAXIMUM_SETUP_SIZE = 0x8000;
/** Where the protected-mode code of a bzImage goes by default, and what code32_start is relative to. */
export const DEFAULT_KERNEL_ADDRESS = 0x100000;

/** What a loader reads from a bzImage's setup header, already validated. */
export interface BzImageHeader {
  /** Boot protocol version, (major << 8) | minor. */
  version: number;
  /** Setup sectors after the boot sector (0 in the file means 4). */
  setupSects: number;
  /** Bytes of real-mode code (boot sector + setup): where the protected-mode code starts in the file. */
  setupSize: number;
  /** Bytes of protected-mode code in the file (everything after the setup). */
  protectedModeSize: number;
  /** The protected-mode code size the header claims (syssize × 16). */
  syssizeBytes: number;
  /** Offset just past the setup header: 0x202 + the jump's displacement. */
  headerEnd: number;
  loadflags: number;
  xloadflags: number;
  code32Start: number;
  /** Highest address the initrd may occupy (its last byte). */
  initrdAddrMax: number;
  kernelAlignment: number;
  relocatable: boolean;
  minAlignment: number;
  /** Longest command line in bytes, without the terminating NUL. */
  cmdlineSize: number;
  /** 0 before protocol 2.10. May exceed 2^32 (read as lo + hi × 2^32). */
  prefAddress: number;
  /** Memory the kernel needs from its runtime start before it reads the memory map; 0 before 2.10. */
  initSize: number;
  vidMode: number;
  /** The human-readable version string the header points to, if any. */
  kernelVersion: string | undefined;
}

/** The last header byte each protocol version defines (its field list ends there). */
function requiredHeaderEnd(version: number): number {
  if (version >= 0x020f) return SETUP_HEADER.kernelInfoOffset + 4;
  if (version >= 0x020b) return SETUP_HEADER.handoverOffset + 4;
  if (version >= 0x020a) return SETUP_HEADER.initSize + 4;
  if (version >= 0x0209) return SETUP_HEADER.prefAddress;
  if (version >= 0x0208) return SETUP_HEADER.payloadLength + 4;
  if (version >= 0x0207) return SETUP_HEADER.payloadOffset;
  return SETUP_HEADER.cmdlineSize + 4;
}

function isPowerOfTwo(value: number): boolean {
  return value > 0 && (value & (value - 1)) === 0;
}

/**
 * Parses and validates a bzImage's setup header. Throws BootImageError for anything that is not a
 * well-formed bzImage of boot protocol 2.06 or later; reads nothing outside `image`.
 */
export function parseBzImageHeader(image: Uint8Array): BzImageHeader {
  if (image.length < SETUP_HEADER.cmdlineSize + 4) {
    throw new BootImageError(`kernel image is ${image.length} bytes: too short to hold a Linux setup header`);
  }
  const view = new DataView(image.buffer, image.byteOffset, image.byteLength);
  const u8 = (offset: number) => view.getUint8(offset);
  const u16 = (offset: number) => view.getUint16(offset, true);
  const u32 = (offset: number) => view.getUint32(offset, true);

  if (u16(SETUP_HEADER.bootFlag) !== BOOT_FLAG) {
    throw new BootImageError(
      `not a Linux kernel image: no 0xAA55 boot flag at ${hex(SETUP_HEADER.bootFlag)}`,
    );
  }
  if (u32(SETUP_HEADER.header) !== SETUP_HEADER_MAGIC) {
    throw new BootImageError(
      `not a bzImage: no "HdrS" signature at ${hex(SETUP_HEADER.header)} (a pre-2.00 zImage or not a kernel)`,
    );
  }
  const version = u16(SETUP_HEADER.version);
  if (version < MINIMUM_BOOT_PROTOCOL) {
    throw new BootImageError(
      `boot protocol ${versionText(version)} is too old: protocol ${versionText(MINIMUM_BOOT_PROTOCOL)} or later is needed`,
    );
  }
  if (u8(SETUP_HEADER.jump) !== 0xeb || u8(SETUP_HEADER.jump + 1) >= 0x80) {
    throw new BootImageError(`malformed setup header: no forward short jump at ${hex(SETUP_HEADER.jump)}`);
  }
  const headerEnd = SETUP_HEADER.header + u8(SETUP_HEADER.jump + 1);
  const required = requiredHeaderEnd(version);
  // A forward short jump reaches at most 0x281, so the header always fits boot_params' hole (to 0x290).
  if (headerEnd < required) {
    throw new BootImageError(
      `malformed setup header: it ends at ${hex(headerEnd)}, but protocol ${versionText(version)} defines fields up to ${hex(required)}`,
    );
  }

  const setupSects = u8(SETUP_HEADER.setupSects) || 4;
  const setupSize = (setupSects + 1) * 512;
  if (setupSize > MAXIMUM_SETUP_SIZE) {
    throw new BootImageError(
      `malformed setup header: ${setupSects} setup sectors exceed the 32 KiB limit of the real-mode code`,
    );
  }
  if (image.length <= setupSize) {
    throw new BootImageError(
      `kernel image is truncated: ${image.length} bytes, but its setup code alone is ${setupSize} bytes`,
    );
  }
  const loadflags = u8(SETUP_HEADER.loadflags);
  if ((loadflags & LOADED_HIGH) === 0) {
    throw new BootImageError(
      "not a bzImage: LOADED_HIGH is clear (zImage kernels loaded at 64 KiB are not supported)",
    );
  }
  const protectedModeSize = image.length - setupSize;
  const syssizeBytes = u32(SETUP_HEADER.syssize) * 16;
  if (syssizeBytes === 0 || syssizeBytes > protectedModeSize) {
    throw new BootImageError(
      `kernel image is truncated or malformed: syssize says ${syssizeBytes} bytes of protected-mode code, the file has ${protectedModeSize}`,
    );
  }
  const relocatable = u8(SETUP_HEADER.relocatableKernel) !== 0;
  const kernelAlignment = u32(SETUP_HEADER.kernelAlignment);
  if (relocatable && !isPowerOfTwo(kernelAlignment)) {
    throw new BootImageError(
      `malformed setup header: relocatable kernel with kernel_alignment ${hex(kernelAlignment)} (not a power of two)`,
    );
  }
  const atLeast = (minimum: number) => version >= minimum;
  const prefAddress = atLeast(0x020a)
    ? u32(SETUP_HEADER.prefAddress) + u32(SETUP_HEADER.prefAddress + 4) * 2 ** 32
    : 0;
  return {
    version,
    setupSects,
    setupSize,
    protectedModeSize,
    syssizeBytes,
    headerEnd,
    loadflags,
    xloadflags: atLeast(0x020c) ? u16(SETUP_HEADER.xloadflags) : 0,
    code32Start: u32(SETUP_HEADER.code32Start),
    initrdAddrMax: u32(SETUP_HEADER.initrdAddrMax),
    kernelAlignment,
    relocatable,
    minAlignment: atLeast(0x020a) ? u8(SETUP_HEADER.minAlignment) : 0,
    cmdlineSize: u32(SETUP_HEADER.cmdlineSize),
    prefAddress,
    initSize: atLeast(0x020a) ? u32(SETUP_HEADER.initSize) : 0,
    vidMode: u16(SETUP_HEADER.vidMode),
    kernelVersion: readKernelVersion(image, u16(SETUP_HEADER.kernelVersion), setupSize),
  };
}

/** The NUL-terminated version string at kernel_version + 0x200, if it lies inside the setup code. */
function readKernelVersion(image: Uint8Array, pointer: number, setupSize: number): string | undefined {
  if (pointer === 0) return undefined;
  const start = pointer + 0x200;
  if (start >= setupSize) return undefined;
  const end = image.indexOf(0, start);
  const stop = Math.min(end < 0 ? setupSize : end, setupSize, start + 256);
  let text = "";
  for (let i = start; i < stop; i++) {
    const byte = image[i];
    if (byte < 0x20 || byte > 0x7e) return undefined;
    text += String.fromCharCode(byte);
  }
  return text;
}

export function versionText(version: number): string {
  return `${version >> 8}.${(version & 0xff).toString().padStart(2, "0")}`;
}

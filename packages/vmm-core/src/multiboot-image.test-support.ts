/** Synthetic multiboot kernels for tests: a.out-kludge images and 32-bit ELF executables. */

const MAGIC = 0x1badb002;

/** The 12-byte multiboot header (plus address and video fields when given), checksum computed. */
export function multibootHeader(
  flags: number,
  addresses: number[] = [],
  video: number[] = [],
  checksum?: number,
): Uint8Array {
  const fields = [MAGIC, flags >>> 0, checksum ?? (2 ** 32 - ((MAGIC + (flags >>> 0)) % 2 ** 32)) % 2 ** 32];
  fields.push(...addresses, ...video);
  const bytes = new Uint8Array(fields.length * 4);
  const view = new DataView(bytes.buffer);
  fields.forEach((value, i) => {
    view.setUint32(i * 4, value >>> 0, true);
  });
  return bytes;
}

export interface AoutKernelSpec {
  /** Where the header (the start of the file) is loaded. */
  loadAddr?: number;
  code: number[];
  bssSize?: number;
  /** Offset of the entry point from the start of the code. */
  entryOffset?: number;
  extraFlags?: number;
  /** Overrides for header_addr, load_addr, load_end_addr, bss_end_addr, entry_addr. */
  addresses?: Partial<Record<"headerAddr" | "loadAddr" | "loadEndAddr" | "bssEndAddr" | "entryAddr", number>>;
  /** Bytes before the header in the file. */
  leadingBytes?: number;
}

/**
 * A flat binary whose multiboot header (with the a.out kludge) sits at file offset `leadingBytes` and
 * is loaded at `loadAddr + leadingBytes`; the code follows the 32-byte header.
 */
export function buildAoutKernel(spec: AoutKernelSpec): { image: Uint8Array; codeAddress: number } {
  const loadAddr = spec.loadAddr ?? 0x100000;
  const leading = spec.leadingBytes ?? 0;
  const fileLength = leading + 32 + spec.code.length;
  const headerAddr = loadAddr + leading;
  const codeAddress = headerAddr + 32;
  const loadEnd = loadAddr + fileLength;
  const fields = {
    headerAddr,
    loadAddr,
    loadEndAddr: loadEnd,
    bssEndAddr: spec.bssSize ? loadEnd + spec.bssSize : 0,
    entryAddr: codeAddress + (spec.entryOffset ?? 0),
    ...spec.addresses,
  };
  const header = multibootHeader((1 << 16) | (spec.extraFlags ?? 0), [
    fields.headerAddr,
    fields.loadAddr,
    fields.loadEndAddr,
    fields.bssEndAddr,
    fields.entryAddr,
  ]);
  const image = new Uint8Array(fileLength);
  image.set(header, leading);
  image.set(spec.code, leading + 32);
  return { image, codeAddress };
}

export interface ElfSegmentSpec {
  physicalAddress: number;
  virtualAddress?: number;
  data: number[] | Uint8Array;
  memorySize?: number;
  type?: number;
}

export interface ElfKernelSpec {
  segments: ElfSegmentSpec[];
  entry: number;
  headerFlags?: number;
  elfClass?: number;
  machine?: number;
  elfType?: number;
}

/** A 32-bit ELF executable: ELF header, program headers, the multiboot header, then segment data. */
export function buildElfKernel(spec: ElfKernelSpec): Uint8Array {
  // The multiboot header right after the ELF header (room for all 48 bytes of it), so that it stays
  // within the first 8 KiB however many program headers follow.
  const headerOffset = 52;
  const phoff = headerOffset + 48;
  const mbHeader = multibootHeader(spec.headerFlags ?? 0x3);
  let dataOffset = Math.ceil((phoff + 32 * spec.segments.length) / 16) * 16;
  const offsets = spec.segments.map((segment) => {
    const at = dataOffset;
    dataOffset = Math.ceil((dataOffset + segment.data.length) / 16) * 16;
    return at;
  });
  const image = new Uint8Array(dataOffset);
  const view = new DataView(image.buffer);
  image.set([0x7f, 0x45, 0x4c, 0x46, spec.elfClass ?? 1, 1, 1]);
  view.setUint16(16, spec.elfType ?? 2, true);
  view.setUint16(18, spec.machine ?? 3, true);
  view.setUint32(20, 1, true);
  view.setUint32(24, spec.entry, true);
  view.setUint32(28, phoff, true);
  view.setUint16(40, 52, true);
  view.setUint16(42, 32, true);
  view.setUint16(44, spec.segments.length, true);
  spec.segments.forEach((segment, i) => {
    const at = phoff + 32 * i;
    view.setUint32(at, segment.type ?? 1, true);
    view.setUint32(at + 4, offsets[i], true);
    view.setUint32(at + 8, segment.virtualAddress ?? segment.physicalAddress, true);
    view.setUint32(at + 12, segment.physicalAddress, true);
    view.setUint32(at + 16, segment.data.length, true);
    view.setUint32(at + 20, segment.memorySize ?? segment.data.length, true);
    view.setUint32(at + 24, 5, true);
    view.setUint32(at + 28, 0x1000, true);
    image.set(segment.data, offsets[i]);
  });
  image.set(mbHeader, headerOffset);
  return image;
}

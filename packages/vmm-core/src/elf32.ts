import { BootImageError, hex } from "./boot-image-error.js";

/** One PT_LOAD program header: `fileSize` bytes from `offset` go to `physicalAddress`, zero-filled to `memorySize`. */
export interface ElfLoadSegment {
  offset: number;
  virtualAddress: number;
  physicalAddress: number;
  fileSize: number;
  memorySize: number;
  flags: number;
}

export interface Elf32Executable {
  entry: number;
  segments: ElfLoadSegment[];
}

const ELF_MAGIC = 0x464c457f; // "\x7fELF", little-endian
const ELFCLASS32 = 1;
const ELFCLASS64 = 2;
const ELFDATA2LSB = 1;
const ET_EXEC = 2;
const EM_386 = 3;
const PT_LOAD = 1;
const ELF32_HEADER_SIZE = 52;
const ELF32_PROGRAM_HEADER_SIZE = 32;

export function isElf(image: Uint8Array): boolean {
  return (
    image.length >= 4 && new DataView(image.buffer, image.byteOffset, 4).getUint32(0, true) === ELF_MAGIC
  );
}

/**
 * Reads the loadable segments of a 32-bit little-endian i386 ELF executable. Every segment's file bytes
 * must lie inside `image`; throws BootImageError otherwise, or for any other kind of ELF file.
 */
export function parseElf32Executable(image: Uint8Array): Elf32Executable {
  if (!isElf(image)) throw new BootImageError("not an ELF file");
  if (image.length < ELF32_HEADER_SIZE) throw new BootImageError("ELF file is truncated inside its header");
  const view = new DataView(image.buffer, image.byteOffset, image.byteLength);
  const elfClass = view.getUint8(4);
  if (elfClass === ELFCLASS64)
    throw new BootImageError("64-bit ELF kernels cannot be loaded by multiboot; give a 32-bit one");
  if (elfClass !== ELFCLASS32) throw new BootImageError(`unknown ELF class ${elfClass}`);
  if (view.getUint8(5) !== ELFDATA2LSB) throw new BootImageError("ELF file is not little-endian");
  const type = view.getUint16(16, true);
  if (type !== ET_EXEC) throw new BootImageError(`ELF file is not an executable (e_type ${type})`);
  const machine = view.getUint16(18, true);
  if (machine !== EM_386) throw new BootImageError(`ELF file is not for i386 (e_machine ${machine})`);
  const entry = view.getUint32(24, true);
  const phoff = view.getUint32(28, true);
  const phentsize = view.getUint16(42, true);
  const phnum = view.getUint16(44, true);
  if (phnum === 0) throw new BootImageError("ELF file has no program headers");
  if (phentsize < ELF32_PROGRAM_HEADER_SIZE) {
    throw new BootImageError(
      `ELF program header size ${phentsize} is smaller than ${ELF32_PROGRAM_HEADER_SIZE}`,
    );
  }
  if (phoff + phnum * phentsize > image.length) {
    throw new BootImageError(
      `ELF program headers (${phnum} × ${phentsize} bytes at ${hex(phoff)}) run past the end of the ${image.length}-byte file`,
    );
  }
  const segments: ElfLoadSegment[] = [];
  for (let i = 0; i < phnum; i++) {
    const at = phoff + i * phentsize;
    if (view.getUint32(at, true) !== PT_LOAD) continue;
    const segment: ElfLoadSegment = {
      offset: view.getUint32(at + 4, true),
      virtualAddress: view.getUint32(at + 8, true),
      physicalAddress: view.getUint32(at + 12, true),
      fileSize: view.getUint32(at + 16, true),
      memorySize: view.getUint32(at + 20, true),
      flags: view.getUint32(at + 24, true),
    };
    if (segment.fileSize > segment.memorySize) {
      throw new BootImageError(
        `ELF segment ${i} has more file bytes (${segment.fileSize}) than memory bytes (${segment.memorySize})`,
      );
    }
    if (segment.offset + segment.fileSize > image.length) {
      throw new BootImageError(
        `ELF segment ${i} (${segment.fileSize} bytes at file offset ${hex(segment.offset)}) runs past the end of the ${image.length}-byte file`,
      );
    }
    segments.push(segment);
  }
  if (segments.length === 0) throw new BootImageError("ELF file has no loadable (PT_LOAD) segments");
  return { entry, segments };
}

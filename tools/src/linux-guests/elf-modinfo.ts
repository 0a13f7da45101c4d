// Reads the .modinfo section of a Linux kernel module (an ELF relocatable object). The kernel's
// build records each module's dependencies there ("depends=a,b"), which is what depmod turns into
// modules.dep; Debian's kernel packages ship no modules.dep (their postinst runs depmod), so the
// guest builder reads the dependencies straight from the modules instead of needing kmod on the host.

const ELF_MAGIC = [0x7f, 0x45, 0x4c, 0x46]; // "\x7fELF"
const EI_CLASS = 4;
const EI_DATA = 5;
const ELFCLASS32 = 1;
const ELFCLASS64 = 2;
const ELFDATA2LSB = 1;
const ELFDATA2MSB = 2;
const SHT_NOBITS = 8;
const TWO_TO_32 = 0x1_0000_0000;

/** Where the section-table fields sit in the ELF header and in each section header, per class. */
interface ElfLayout {
  headerSize: number;
  shoff: number;
  shentsize: number;
  shnum: number;
  shstrndx: number;
  minSectionHeaderSize: number;
  shName: number;
  shType: number;
  shOffset: number;
  shSize: number;
  wide: boolean;
}

const LAYOUT_32: ElfLayout = {
  headerSize: 52,
  shoff: 0x20,
  shentsize: 0x2e,
  shnum: 0x30,
  shstrndx: 0x32,
  minSectionHeaderSize: 40,
  shName: 0,
  shType: 4,
  shOffset: 16,
  shSize: 20,
  wide: false,
};

const LAYOUT_64: ElfLayout = {
  headerSize: 64,
  shoff: 0x28,
  shentsize: 0x3a,
  shnum: 0x3c,
  shstrndx: 0x3e,
  minSectionHeaderSize: 64,
  shName: 0,
  shType: 4,
  shOffset: 24,
  shSize: 32,
  wide: true,
};

class ElfReader {
  private readonly view: DataView;

  constructor(
    private readonly bytes: Uint8Array,
    readonly layout: ElfLayout,
    private readonly littleEndian: boolean,
    private readonly what: string,
  ) {
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }

  fail(message: string): never {
    throw new Error(`${this.what}: ${message}`);
  }

  private check(offset: number, size: number): void {
    if (offset < 0 || size < 0 || offset + size > this.bytes.length) {
      this.fail(`truncated ELF (needs bytes ${offset}..${offset + size}, has ${this.bytes.length})`);
    }
  }

  u16(offset: number): number {
    this.check(offset, 2);
    return this.view.getUint16(offset, this.littleEndian);
  }

  u32(offset: number): number {
    this.check(offset, 4);
    return this.view.getUint32(offset, this.littleEndian);
  }

  /** A file offset or size: 32 bits, or 64 bits in ELF64 (exact below 2^53, far beyond any module). */
  word(offset: number): number {
    if (!this.layout.wide) return this.u32(offset);
    const low = this.u32(offset + (this.littleEndian ? 0 : 4));
    const high = this.u32(offset + (this.littleEndian ? 4 : 0));
    return high * TWO_TO_32 + low;
  }

  slice(offset: number, size: number): Uint8Array {
    this.check(offset, size);
    return this.bytes.subarray(offset, offset + size);
  }

  cString(offset: number): string {
    this.check(offset, 1);
    let end = offset;
    while (end < this.bytes.length && this.bytes[end] !== 0) end++;
    return new TextDecoder().decode(this.bytes.subarray(offset, end));
  }
}

function openElf(bytes: Uint8Array, what: string): ElfReader {
  if (bytes.length < 16 || ELF_MAGIC.some((byte, i) => bytes[i] !== byte)) {
    throw new Error(`${what}: not an ELF file`);
  }
  const elfClass = bytes[EI_CLASS];
  const layout = elfClass === ELFCLASS32 ? LAYOUT_32 : elfClass === ELFCLASS64 ? LAYOUT_64 : undefined;
  if (layout === undefined) throw new Error(`${what}: unknown ELF class ${elfClass}`);
  const data = bytes[EI_DATA];
  if (data !== ELFDATA2LSB && data !== ELFDATA2MSB)
    throw new Error(`${what}: unknown ELF data encoding ${data}`);
  if (bytes.length < layout.headerSize) throw new Error(`${what}: truncated ELF header`);
  return new ElfReader(bytes, layout, data === ELFDATA2LSB, what);
}

/** The raw bytes of the named section, or undefined when the object has none. */
export function readElfSection(bytes: Uint8Array, sectionName: string, what = "ELF"): Uint8Array | undefined {
  const elf = openElf(bytes, what);
  const layout = elf.layout;
  const tableOffset = elf.word(layout.shoff);
  const entrySize = elf.u16(layout.shentsize);
  const count = elf.u16(layout.shnum);
  const namesIndex = elf.u16(layout.shstrndx);
  if (count === 0) return undefined;
  if (entrySize < layout.minSectionHeaderSize) elf.fail(`section header size ${entrySize} is too small`);
  if (namesIndex >= count)
    elf.fail(`section-name table index ${namesIndex} out of range (${count} sections)`);

  const header = (index: number) => tableOffset + index * entrySize;
  const namesOffset = elf.word(header(namesIndex) + layout.shOffset);
  const namesSize = elf.word(header(namesIndex) + layout.shSize);
  elf.slice(namesOffset, namesSize);

  for (let index = 0; index < count; index++) {
    const base = header(index);
    const nameOffset = elf.u32(base + layout.shName);
    if (nameOffset >= namesSize) elf.fail(`section ${index} has a name offset outside the name table`);
    if (elf.cString(namesOffset + nameOffset) !== sectionName) continue;
    if (elf.u32(base + layout.shType) === SHT_NOBITS) return new Uint8Array(0);
    return elf.slice(elf.word(base + layout.shOffset), elf.word(base + layout.shSize));
  }
  return undefined;
}

/** One "key=value" record of .modinfo; keys repeat (alias, parm, ...), so this is a list, not a map. */
export interface ModinfoField {
  key: string;
  value: string;
}

/** Every key=value record of the module's .modinfo section, in file order (empty when it has none). */
export function readModinfo(bytes: Uint8Array, what = "kernel module"): ModinfoField[] {
  const section = readElfSection(bytes, ".modinfo", what);
  if (section === undefined) return [];
  const fields: ModinfoField[] = [];
  for (const record of new TextDecoder().decode(section).split("\0")) {
    const equals = record.indexOf("=");
    if (equals <= 0) continue; // alignment padding between records, or a malformed record
    fields.push({ key: record.slice(0, equals), value: record.slice(equals + 1) });
  }
  return fields;
}

/** ELF e_machine values of the guest architectures. */
export const EM_386 = 3;
export const EM_X86_64 = 62;

/** The word size and machine an ELF file is built for (e_ident[EI_CLASS], e_machine). */
export function readElfMachine(bytes: Uint8Array, what = "ELF"): { bits: 32 | 64; machine: number } {
  const elf = openElf(bytes, what);
  return { bits: elf.layout.wide ? 64 : 32, machine: elf.u16(0x12) };
}

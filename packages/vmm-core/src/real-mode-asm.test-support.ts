/**
 * A small assembler for the 16-bit real-mode test programs of the platform tests: the handful of
 * instructions they use, with labels (relative jumps and absolute offsets for the IVT). The program
 * runs from the ROM at F000:0000 (see `rom()`), so a label's offset is its IP in segment F000.
 */
export type Condition = "e" | "ne" | "b" | "ae" | "be" | "a";

const CONDITION_CODES: Record<Condition, number> = { b: 2, ae: 3, e: 4, ne: 5, be: 6, a: 7 };
const WORD_REGISTERS = { ax: 0, cx: 1, dx: 2, bx: 3, sp: 4, bp: 5, si: 6, di: 7 } as const;
const SEGMENT_REGISTERS = { es: 0, ss: 2, ds: 3 } as const;
const SEGMENT_PREFIXES = { es: 0x26, cs: 0x2e, ss: 0x36, ds: 0x3e } as const;
export const ROM_SEGMENT = 0xf000;

type Fixup = { at: number; label: string; kind: "rel16" | "abs16" };

export class RealModeAssembler {
  private readonly code: number[] = [];
  private readonly labels = new Map<string, number>();
  private readonly fixups: Fixup[] = [];

  /** Raw bytes. */
  bytes(...values: number[]): this {
    for (const v of values) this.code.push(v & 0xff);
    return this;
  }

  label(name: string): this {
    if (this.labels.has(name)) throw new Error(`label ${name} defined twice`);
    this.labels.set(name, this.code.length);
    return this;
  }

  /** mov reg16, imm16 */
  mov(register: keyof typeof WORD_REGISTERS, value: number): this {
    return this.bytes(0xb8 + WORD_REGISTERS[register]).word(value);
  }

  /** mov al, imm8 */
  movAl(value: number): this {
    return this.bytes(0xb0, value);
  }

  /** mov sreg, ax */
  movSegmentFromAx(segment: keyof typeof SEGMENT_REGISTERS): this {
    return this.bytes(0x8e, 0xc0 | (SEGMENT_REGISTERS[segment] << 3));
  }

  /** xor ax,ax; mov ds,ax; mov ss,ax; mov sp,0x7000: data and stack in the first 64 KiB of RAM. */
  flatDataAndStack(): this {
    return this.bytes(0x31, 0xc0).movSegmentFromAx("ds").movSegmentFromAx("ss").mov("sp", 0x7000);
  }

  /** out imm8, al — or, for ports above 0xFF, mov dx, port; out dx, al. */
  outAl(port: number): this {
    return port <= 0xff ? this.bytes(0xe6, port) : this.mov("dx", port).bytes(0xee);
  }

  /** mov al, value; out port, al */
  outByte(port: number, value: number): this {
    return this.movAl(value).outAl(port);
  }

  /** in al, port (through DX above 0xFF) */
  inAl(port: number): this {
    return port <= 0xff ? this.bytes(0xe4, port) : this.mov("dx", port).bytes(0xec);
  }

  /** mov dx, port; in ax, dx (size 2) or in eax, dx (size 4) */
  inWide(port: number, size: 2 | 4): this {
    this.mov("dx", port);
    return size === 2 ? this.bytes(0xed) : this.bytes(0x66, 0xed);
  }

  /** mov [address], al (with an optional segment override) */
  storeAl(address: number, segment?: keyof typeof SEGMENT_PREFIXES): this {
    if (segment) this.bytes(SEGMENT_PREFIXES[segment]);
    return this.bytes(0xa2).word(address);
  }

  /** mov [address], ax; with size 4: mov [address], eax */
  storeAx(address: number, size: 2 | 4 = 2): this {
    if (size === 4) this.bytes(0x66);
    return this.bytes(0xa3).word(address);
  }

  /** mov al, [address] */
  loadAl(address: number): this {
    return this.bytes(0xa0).word(address);
  }

  /** mov ax, [address] */
  loadAx(address: number): this {
    return this.bytes(0xa1).word(address);
  }

  /** mov byte [segment:address], value */
  storeByte(address: number, value: number, segment?: keyof typeof SEGMENT_PREFIXES): this {
    if (segment) this.bytes(SEGMENT_PREFIXES[segment]);
    return this.bytes(0xc6, 0x06).word(address).bytes(value);
  }

  /** mov word [address], value */
  storeWord(address: number, value: number): this {
    return this.bytes(0xc7, 0x06).word(address).word(value);
  }

  /** inc word [address] */
  incWord(address: number): this {
    return this.bytes(0xff, 0x06).word(address);
  }

  /** inc byte [address] */
  incByte(address: number): this {
    return this.bytes(0xfe, 0x06).word(address);
  }

  /** cmp word [address], imm16 */
  cmpWord(address: number, value: number): this {
    return this.bytes(0x81, 0x3e).word(address).word(value);
  }

  /** cmp byte [address], imm8 */
  cmpByte(address: number, value: number): this {
    return this.bytes(0x80, 0x3e).word(address).bytes(value);
  }

  /** or al, imm8 */
  orAl(value: number): this {
    return this.bytes(0x0c, value);
  }

  /** j<cc> near label */
  j(condition: Condition, label: string): this {
    this.bytes(0x0f, 0x80 | CONDITION_CODES[condition]);
    return this.fixup(label, "rel16");
  }

  /** jmp near label */
  jmp(label: string): this {
    this.bytes(0xe9);
    return this.fixup(label, "rel16");
  }

  /** Points interrupt vector `vector` at `label` (in the ROM segment). */
  setVector(vector: number, label: string): this {
    this.bytes(0xc7, 0x06).word(vector * 4);
    this.fixup(label, "abs16");
    return this.storeWord(vector * 4 + 2, ROM_SEGMENT);
  }

  sti(): this {
    return this.bytes(0xfb);
  }

  cli(): this {
    return this.bytes(0xfa);
  }

  hlt(): this {
    return this.bytes(0xf4);
  }

  iret(): this {
    return this.bytes(0xcf);
  }

  pushAx(): this {
    return this.bytes(0x50);
  }

  popAx(): this {
    return this.bytes(0x58);
  }

  /**
   * Programs the PIC pair as Linux does (master vectors 0x20-0x27, slave 0x28-0x2F, cascade on IR2), then
   * masks every IRQ whose bit is clear in `enabledIrqs` (bit n = IRQ n).
   */
  initPics(enabledIrqs: number): this {
    for (const [port, base, cascade] of [
      [0x20, 0x20, 0x04],
      [0xa0, 0x28, 0x02],
    ]) {
      this.outByte(port, 0x11)
        .outByte(port + 1, base)
        .outByte(port + 1, cascade)
        .outByte(port + 1, 0x01);
    }
    return this.outByte(0x21, ~enabledIrqs & 0xff).outByte(0xa1, (~enabledIrqs >> 8) & 0xff);
  }

  /** The machine code, with labels resolved. */
  assemble(): number[] {
    const code = [...this.code];
    for (const { at, label, kind } of this.fixups) {
      const target = this.labels.get(label);
      if (target === undefined) throw new Error(`undefined label ${label}`);
      const value = kind === "rel16" ? target - (at + 2) : target;
      code[at] = value & 0xff;
      code[at + 1] = (value >> 8) & 0xff;
    }
    return code;
  }

  /** A 64 KiB ROM: the program at F000:0000 and a reset vector jumping to it. */
  rom(): Uint8Array {
    const rom = new Uint8Array(0x10000).fill(0xf4);
    rom.set(this.assemble(), 0);
    rom.set([0xea, 0x00, 0x00, 0x00, 0xf0], 0xfff0); // jmp far F000:0000
    return rom;
  }

  private word(value: number): this {
    return this.bytes(value & 0xff, (value >> 8) & 0xff);
  }

  private fixup(label: string, kind: Fixup["kind"]): this {
    this.fixups.push({ at: this.code.length, label, kind });
    return this.bytes(0, 0);
  }
}

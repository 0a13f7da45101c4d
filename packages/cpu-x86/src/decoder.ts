import { type DecodeProfile, P6_DECODE_PROFILE } from "./decode-profile.js";
import { SIZE16, SIZE32 } from "./flags.js";
import {
  ALL_EXTENSIONS,
  CHILD_SHIFT,
  FORM_ATTRIBUTES,
  HAS_MODRM,
  IMM_B,
  IMM_ENTER,
  IMM_FAR,
  IMM_MOFFS,
  IMM_SHIFT,
  IMM_V,
  IMM_W,
  IMM_Z,
  LOCKABLE,
  MANDATORY_PREFIX,
  MEMORY_ONLY,
  MOD_IGNORED,
  RAISES_UD,
  REGISTER_ONLY,
  SELECT_LEAF,
  SELECT_MASK,
  SELECT_MOD,
  SELECT_PREFIX,
  SELECT_REG,
  SELECTOR_CHILDREN,
  UNDEFINED,
} from "./opcode-table.js";
import { DS, EBP, ESP, SS } from "./registers.js";

/** Where the decoder reads instruction bytes from: byte i of the instruction being decoded. */
export interface CodeSource {
  codeByte(index: number): number;
}

/** The architectural limit on instruction length. */
export const MAX_INSTRUCTION_LENGTH = 15;

/** Decode outcomes other than success: the exception the CPU must raise. */
export const DECODE_OK = 0;
export const DECODE_UD = 6;
export const DECODE_GP = 13;

/** No register in a memory operand (base or index). */
export const NO_REG = -1;

/**
 * One decoded instruction. The CPU owns a single instance and decodes into it, so decoding allocates
 * nothing. The memory operand is kept as its parts (segment, base, index, scale, displacement): the
 * effective address depends on register values at execution time.
 */
export class Instruction {
  /** The code-segment size this was decoded for; set by the CPU's instruction cache. */
  decodedAs32 = false;
  /**
   * STRAIGHT_LINE_16/32 when the CPU may run it in a straight-line run (straight-line.ts) in code of that
   * size, else 0; set by the CPU's instruction cache. One field, so the run checks both with one compare.
   */
  straightLineAs = 0;
  /** 0x00-0xFF: one-byte map; 0x100-0x1FF: 0F map (0F38/0F3A will be 0x200-0x3FF). */
  opcode = 0;
  /**
   * The decoded form (opcode-table.ts): the opcode itself for plain opcodes, else the leaf chosen by
   * ModRM.reg/mod/rm or a mandatory prefix. FORM_OPERANDS/formMnemonic describe it.
   */
  form = 0;
  length = 0;
  /** Operand size: SIZE16 or SIZE32 (SIZE64 with REX.W later). Byte operations use SIZE8 by opcode. */
  operandSize = SIZE32;
  /** Address size: SIZE16 or SIZE32. */
  addressSize = SIZE32;
  /** The last F2/F3 prefix, or 0; also 0 when that prefix selected an SSE form (mandatory prefix). */
  rep = 0;
  lock = false;
  /** The segment override prefix (the last one), or -1. */
  segmentOverride = -1;
  /** The segment of the memory operand: the override, else SS for BP/SP-based addresses, else DS. */
  segment = DS;
  hasModrm = false;
  /** ModRM fields; without ModRM, or when the form ignores mod (MOV CR/DR), mod is 3. */
  mod = 0;
  reg = 0;
  rm = 0;
  base = NO_REG;
  index = NO_REG;
  scale = 0;
  displacement = 0;
  /** The immediate, sign-extended for IMM_B/IMM_Z; the far-pointer offset for IMM_FAR. */
  immediate = 0;
  /** The second immediate: the selector of a far pointer, ENTER's nesting level. */
  immediate2 = 0;
  /** Number of prefix bytes, for diagnostics and the iced tests. */
  prefixCount = 0;
  /** Offset and size of the displacement (or moffs) within the instruction (0 = none). */
  displacementOffset = 0;
  displacementSize = 0;
  /** Offset and size of the first immediate (0 = none); a second one (far selector, ENTER) follows it. */
  immediateOffset = 0;
  immediateSize = 0;

  get isMemory(): boolean {
    return this.hasModrm && this.mod !== 3;
  }
}

/** 16-bit addressing: rm -> base and index registers (BX=3, BP=5, SI=6, DI=7). */
const BASE16 = [3, 3, 5, 5, 6, 7, 5, 3];
const INDEX16 = [6, 7, 6, 7, NO_REG, NO_REG, NO_REG, NO_REG];

/** Legacy prefixes by byte: one table lookup per byte instead of a chain of comparisons. */
const PREFIX_NONE = 0;
const PREFIX_OPERAND_SIZE = 1;
const PREFIX_ADDRESS_SIZE = 2;
const PREFIX_REP = 3;
const PREFIX_LOCK = 4;
const PREFIX_SEGMENT = 5; // + segment register number
const PREFIX_CLASS = new Uint8Array(256);
PREFIX_CLASS[0x66] = PREFIX_OPERAND_SIZE;
PREFIX_CLASS[0x67] = PREFIX_ADDRESS_SIZE;
PREFIX_CLASS[0xf2] = PREFIX_REP;
PREFIX_CLASS[0xf3] = PREFIX_REP;
PREFIX_CLASS[0xf0] = PREFIX_LOCK;
PREFIX_CLASS[0x26] = PREFIX_SEGMENT + 0;
PREFIX_CLASS[0x2e] = PREFIX_SEGMENT + 1;
PREFIX_CLASS[0x36] = PREFIX_SEGMENT + 2;
PREFIX_CLASS[0x3e] = PREFIX_SEGMENT + 3;
PREFIX_CLASS[0x64] = PREFIX_SEGMENT + 4;
PREFIX_CLASS[0x65] = PREFIX_SEGMENT + 5;

/**
 * Decodes the instruction at the source into `insn`. `default32` is the code segment's D bit;
 * `profile` holds the CPU model's decoding differences (the 8086 map; default: P6). `extensions`
 * (EXT_MMX | EXT_FXSR | EXT_SSE | EXT_SSE2 from opcode-table.ts) are the instruction-set extensions
 * the CPU has: forms of the others raise #UD, as on a CPU without them (default: none).
 * Returns DECODE_OK, or the vector of the exception the instruction raises (#UD, #GP for >15 bytes).
 *
 * Steps: legacy prefixes (the last segment override and the last F2/F3 win; 66/67 select the other
 * size, repeating them changes nothing), the opcode (0F escape), ModRM, then a walk through the
 * opcode map's selectors (ModRM.reg/mod/rm, mandatory prefix) to a leaf form, whose attributes give
 * the memory operand's treatment, the immediate and the validity checks. Later extensions slot in
 * here: REX (64-bit mode) is read after the legacy prefixes and widens reg/rm/base/index; 0F 38 and
 * 0F 3A read one more opcode byte into 0x200 | byte and 0x300 | byte.
 */
export function decode(
  insn: Instruction,
  source: CodeSource,
  default32: boolean,
  profile: DecodeProfile = P6_DECODE_PROFILE,
  extensions = 0,
): number {
  const prefixLimit = profile.maxLength === 0 ? Number.POSITIVE_INFINITY : MAX_INSTRUCTION_LENGTH;
  let i = 0;
  let operand32 = default32;
  let address32 = default32;
  let operandPrefix = false;
  let rep = 0;
  let lock = false;
  let segmentOverride = -1;
  let byte = source.codeByte(0);
  // Prefixes.
  for (;;) {
    let prefix = PREFIX_CLASS[byte];
    if (prefix === PREFIX_NONE) {
      if (byte === 0xf1 && profile.lockPrefixF1) prefix = PREFIX_LOCK;
      else break;
    } else if ((byte & 0xfc) === 0x64 && !profile.extendedPrefixes) break; // 8086/80286: opcodes
    switch (prefix) {
      case PREFIX_OPERAND_SIZE:
        operand32 = !default32;
        operandPrefix = true;
        break;
      case PREFIX_ADDRESS_SIZE:
        address32 = !default32;
        break;
      case PREFIX_REP:
        rep = byte;
        break;
      case PREFIX_LOCK:
        lock = true;
        break;
      default:
        segmentOverride = prefix - PREFIX_SEGMENT;
    }
    if (++i >= prefixLimit) return tooLong(insn, i);
    byte = source.codeByte(i);
  }
  insn.prefixCount = i;
  let opcode = profile.opcodeAlias[byte];
  i++;
  if (opcode === 0x0f && profile.twoByteEscape) {
    if (i >= prefixLimit) return tooLong(insn, i);
    opcode = 0x100 | source.codeByte(i++);
  }
  insn.opcode = opcode;
  insn.lock = lock;
  insn.segmentOverride = segmentOverride;
  insn.segment = segmentOverride >= 0 ? segmentOverride : DS;
  insn.base = NO_REG;
  insn.index = NO_REG;
  insn.scale = 0;
  insn.displacement = 0;
  insn.displacementOffset = 0;
  insn.displacementSize = 0;
  insn.immediate = 0;
  insn.immediate2 = 0;
  insn.immediateOffset = 0;
  insn.immediateSize = 0;

  let form = opcode;
  let attributes = FORM_ATTRIBUTES[form];
  let mod = 3;
  let reg = 0;
  let rm = 0;
  const hasModrm = (attributes & HAS_MODRM) !== 0;
  if (hasModrm) {
    if (i >= prefixLimit) return tooLong(insn, i);
    const modrm = source.codeByte(i++);
    mod = modrm >> 6;
    reg = (modrm >> 3) & 7;
    rm = modrm & 7;
  }
  // Walk the selectors down to the leaf form.
  let select = attributes & SELECT_MASK;
  while (select !== SELECT_LEAF) {
    let child: number;
    if (select === SELECT_REG) child = reg;
    else if (select === SELECT_MOD) child = mod === 3 ? 1 : 0;
    else if (select === SELECT_PREFIX) child = rep === 0xf3 ? 2 : rep === 0xf2 ? 3 : operandPrefix ? 1 : 0;
    else child = rm; // SELECT_RM
    form = SELECTOR_CHILDREN[(attributes >>> CHILD_SHIFT) + child];
    attributes = FORM_ATTRIBUTES[form];
    select = attributes & SELECT_MASK;
  }
  if ((attributes & MANDATORY_PREFIX) !== 0) {
    // The prefix that chose this form is part of the opcode, not a REP or operand-size prefix.
    if (rep !== 0) rep = 0;
    else operand32 = default32;
  }
  if ((attributes & MOD_IGNORED) !== 0) mod = 3;
  insn.form = form;
  insn.operandSize = operand32 ? SIZE32 : SIZE16;
  insn.addressSize = address32 ? SIZE32 : SIZE16;
  insn.rep = rep;
  insn.hasModrm = hasModrm;
  insn.mod = mod;
  insn.reg = reg;
  insn.rm = rm;
  if (mod !== 3) {
    i = address32 ? decodeAddress32(insn, source, i, mod, rm) : decodeAddress16(insn, source, i, mod, rm);
    if (i > prefixLimit) return tooLong(insn, i);
    if (segmentOverride < 0 && (insn.base === EBP || insn.base === ESP)) insn.segment = SS;
  }

  switch ((attributes >>> IMM_SHIFT) & 15) {
    case IMM_B:
      insn.immediateOffset = i;
      insn.immediateSize = 1;
      insn.immediate = (source.codeByte(i++) << 24) >> 24;
      break;
    case IMM_W:
      insn.immediateOffset = i;
      insn.immediateSize = 2;
      insn.immediate = source.codeByte(i) | (source.codeByte(i + 1) << 8);
      i += 2;
      break;
    case IMM_Z:
    case IMM_V:
      insn.immediateOffset = i;
      i = readImmediateZ(insn, source, i, operand32);
      break;
    case IMM_FAR:
      insn.immediateOffset = i;
      i = readImmediateZ(insn, source, i, operand32);
      insn.immediate2 = source.codeByte(i) | (source.codeByte(i + 1) << 8);
      i += 2;
      break;
    case IMM_MOFFS:
      insn.displacementOffset = i;
      if (address32) {
        insn.displacementSize = 4;
        insn.displacement = read32(source, i);
        i += 4;
      } else {
        insn.displacementSize = 2;
        insn.displacement = source.codeByte(i) | (source.codeByte(i + 1) << 8);
        i += 2;
      }
      break;
    case IMM_ENTER:
      insn.immediateOffset = i;
      insn.immediateSize = 2;
      insn.immediate = source.codeByte(i) | (source.codeByte(i + 1) << 8);
      insn.immediate2 = source.codeByte(i + 2);
      i += 3;
      break;
  }
  insn.length = i;
  if (i > prefixLimit) return tooLong(insn, i);
  if (!profile.invalidOpcodes) return DECODE_OK;
  // Validity, all from the leaf's attributes.
  if ((attributes & (UNDEFINED | RAISES_UD)) !== 0) return DECODE_UD;
  if ((attributes & ALL_EXTENSIONS & ~extensions) !== 0) return DECODE_UD;
  if ((attributes & (mod === 3 ? MEMORY_ONLY : REGISTER_ONLY)) !== 0) return DECODE_UD;
  // LOCK is legal only on read-modify-write instructions with a memory destination.
  if (lock && profile.invalidLock && (mod === 3 || (attributes & LOCKABLE) === 0)) return DECODE_UD;
  return DECODE_OK;
}

function readImmediateZ(insn: Instruction, source: CodeSource, i: number, operand32: boolean): number {
  if (operand32) {
    insn.immediateSize = 4;
    insn.immediate = read32(source, i);
    return i + 4;
  }
  insn.immediateSize = 2;
  insn.immediate = ((source.codeByte(i) | (source.codeByte(i + 1) << 8)) << 16) >> 16;
  return i + 2;
}

function read32(source: CodeSource, i: number): number {
  return (
    source.codeByte(i) |
    (source.codeByte(i + 1) << 8) |
    (source.codeByte(i + 2) << 16) |
    (source.codeByte(i + 3) << 24)
  );
}

function decodeAddress16(insn: Instruction, source: CodeSource, i: number, mod: number, rm: number): number {
  if (mod === 0 && rm === 6) {
    insn.displacementOffset = i;
    insn.displacementSize = 2;
    insn.displacement = source.codeByte(i) | (source.codeByte(i + 1) << 8);
    return i + 2;
  }
  insn.base = BASE16[rm];
  insn.index = INDEX16[rm];
  if (mod === 1) {
    insn.displacementOffset = i;
    insn.displacementSize = 1;
    insn.displacement = (source.codeByte(i) << 24) >> 24;
    return i + 1;
  }
  if (mod === 2) {
    insn.displacementOffset = i;
    insn.displacementSize = 2;
    insn.displacement = source.codeByte(i) | (source.codeByte(i + 1) << 8);
    return i + 2;
  }
  return i;
}

function decodeAddress32(insn: Instruction, source: CodeSource, i: number, mod: number, rm: number): number {
  let base = rm;
  if (rm === 4) {
    if (i >= MAX_INSTRUCTION_LENGTH) return i + 1;
    const sib = source.codeByte(i++);
    const index = (sib >> 3) & 7;
    insn.scale = sib >> 6;
    insn.index = index === 4 ? NO_REG : index;
    base = sib & 7;
    if (base === 5 && mod === 0) {
      insn.base = NO_REG;
      insn.displacementOffset = i;
      insn.displacementSize = 4;
      insn.displacement = read32(source, i);
      return i + 4;
    }
  } else if (rm === 5 && mod === 0) {
    insn.displacementOffset = i;
    insn.displacementSize = 4;
    insn.displacement = read32(source, i);
    return i + 4;
  }
  insn.base = base;
  if (mod === 1) {
    insn.displacementOffset = i;
    insn.displacementSize = 1;
    insn.displacement = (source.codeByte(i) << 24) >> 24;
    return i + 1;
  }
  if (mod === 2) {
    insn.displacementOffset = i;
    insn.displacementSize = 4;
    insn.displacement = read32(source, i);
    return i + 4;
  }
  return i;
}

function tooLong(insn: Instruction, length: number): number {
  insn.length = Math.min(length, MAX_INSTRUCTION_LENGTH + 1);
  return DECODE_GP;
}

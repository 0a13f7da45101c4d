import { type DecodeProfile, P6_DECODE_PROFILE } from "./decode-profile.js";
import { SIZE16, SIZE32 } from "./flags.js";
import {
  HAS_MODRM,
  IMM_B,
  IMM_ENTER,
  IMM_FAR,
  IMM_GROUP3,
  IMM_MOFFS,
  IMM_NONE,
  IMM_SHIFT,
  IMM_V,
  IMM_W,
  IMM_Z,
  LOCKABLE,
  OPCODE_ATTRIBUTES,
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
  /** 0x00-0xFF: one-byte map; 0x100-0x1FF: 0F map. */
  opcode = 0;
  length = 0;
  /** Operand size: SIZE16 or SIZE32 (SIZE64 with REX.W later). Byte operations use SIZE8 by opcode. */
  operandSize = SIZE32;
  /** Address size: SIZE16 or SIZE32. */
  addressSize = SIZE32;
  /** The last F2/F3 prefix, or 0. */
  rep = 0;
  lock = false;
  /** The segment override prefix, or -1. */
  segmentOverride = -1;
  /** The segment of the memory operand: the override, else SS for BP/SP-based addresses, else DS. */
  segment = DS;
  hasModrm = false;
  mod = 0;
  reg = 0;
  rm = 0;
  base = NO_REG;
  index = NO_REG;
  scale = 0;
  displacement = 0;
  /** The immediate, sign-extended for IMM_B/IMM_Z; the far-pointer offset for IMM_FAR; moffs. */
  immediate = 0;
  /** The second immediate: the selector of a far pointer, ENTER's nesting level. */
  immediate2 = 0;
  /** Number of prefix bytes, for diagnostics and the iced tests. */
  prefixCount = 0;
  /** Offsets of the displacement and immediate within the instruction (0 = none), for tests. */
  displacementOffset = 0;
  immediateOffset = 0;

  get isMemory(): boolean {
    return this.hasModrm && this.mod !== 3;
  }
}

/** 16-bit addressing: rm -> base and index registers (BX=3, BP=5, SI=6, DI=7). */
const BASE16 = [3, 3, 5, 5, 6, 7, 5, 3];
const INDEX16 = [6, 7, 6, 7, NO_REG, NO_REG, NO_REG, NO_REG];

/**
 * Decodes the instruction at the source into `insn`. `default32` is the code segment's D bit;
 * `profile` holds the CPU model's decoding differences (the 8086 map; default: P6).
 * Returns DECODE_OK, or the vector of the exception the instruction raises (#UD, #GP for >15 bytes).
 */
export function decode(
  insn: Instruction,
  source: CodeSource,
  default32: boolean,
  profile: DecodeProfile = P6_DECODE_PROFILE,
): number {
  const prefixLimit = profile.maxLength === 0 ? Number.POSITIVE_INFINITY : MAX_INSTRUCTION_LENGTH;
  let i = 0;
  let operand32 = default32;
  let address32 = default32;
  let rep = 0;
  let lock = false;
  let segmentOverride = -1;
  let byte = source.codeByte(0);
  // Prefixes.
  for (;;) {
    if ((byte & 0xfc) === 0x64 && !profile.extendedPrefixes) break; // 8086/80286: opcodes
    if (byte === 0x66) operand32 = !default32;
    else if (byte === 0x67) address32 = !default32;
    else if (byte === 0xf2 || byte === 0xf3) rep = byte;
    else if (byte === 0xf0 || (byte === 0xf1 && profile.lockPrefixF1)) lock = true;
    else if (byte === 0x26) segmentOverride = 0;
    else if (byte === 0x2e) segmentOverride = 1;
    else if (byte === 0x36) segmentOverride = 2;
    else if (byte === 0x3e) segmentOverride = 3;
    else if (byte === 0x64) segmentOverride = 4;
    else if (byte === 0x65) segmentOverride = 5;
    else break;
    if (++i >= prefixLimit) return tooLong(insn, i);
    byte = source.codeByte(i);
  }
  insn.prefixCount = i;
  let opcode = profile.opcodeAlias[byte];
  i++;
  if (opcode === 0x0f && profile.twoByteEscape) {
    if (i >= MAX_INSTRUCTION_LENGTH) return tooLong(insn, i);
    opcode = 0x100 | source.codeByte(i++);
  }
  insn.opcode = opcode;
  insn.operandSize = operand32 ? SIZE32 : SIZE16;
  insn.addressSize = address32 ? SIZE32 : SIZE16;
  insn.rep = rep;
  insn.lock = lock;
  insn.segmentOverride = segmentOverride;
  insn.segment = segmentOverride >= 0 ? segmentOverride : DS;
  insn.displacementOffset = 0;
  insn.immediateOffset = 0;
  insn.immediate = 0;
  insn.immediate2 = 0;

  const attributes = OPCODE_ATTRIBUTES[opcode];
  insn.hasModrm = (attributes & HAS_MODRM) !== 0;
  insn.base = NO_REG;
  insn.index = NO_REG;
  insn.scale = 0;
  insn.displacement = 0;
  if (insn.hasModrm) {
    if (i >= MAX_INSTRUCTION_LENGTH) return tooLong(insn, i);
    const modrm = source.codeByte(i++);
    const mod = modrm >> 6;
    const rm = modrm & 7;
    insn.mod = mod;
    insn.reg = (modrm >> 3) & 7;
    insn.rm = rm;
    if (mod !== 3) {
      i = address32 ? decodeAddress32(insn, source, i, mod, rm) : decodeAddress16(insn, source, i, mod, rm);
      if (i > MAX_INSTRUCTION_LENGTH) return tooLong(insn, i);
      if (segmentOverride < 0 && (insn.base === EBP || insn.base === ESP)) insn.segment = SS;
    }
  } else {
    insn.mod = 3;
    insn.reg = 0;
    insn.rm = 0;
  }

  switch ((attributes >> IMM_SHIFT) & 15) {
    case IMM_NONE:
      break;
    case IMM_B:
      insn.immediateOffset = i;
      insn.immediate = (source.codeByte(i++) << 24) >> 24;
      break;
    case IMM_W:
      insn.immediateOffset = i;
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
        insn.displacement = read32(source, i);
        i += 4;
      } else {
        insn.displacement = source.codeByte(i) | (source.codeByte(i + 1) << 8);
        i += 2;
      }
      break;
    case IMM_ENTER:
      insn.immediateOffset = i;
      insn.immediate = source.codeByte(i) | (source.codeByte(i + 1) << 8);
      insn.immediate2 = source.codeByte(i + 2);
      i += 3;
      break;
    case IMM_GROUP3:
      if (insn.reg < 2) {
        insn.immediateOffset = i;
        if ((opcode & 1) === 0) insn.immediate = (source.codeByte(i++) << 24) >> 24;
        else i = readImmediateZ(insn, source, i, operand32);
      }
      break;
  }
  insn.length = i;
  if (i > prefixLimit) return tooLong(insn, i);
  if (!profile.invalidOpcodes) return DECODE_OK;
  if (insn.lock && !profile.invalidLock) {
    insn.lock = false; // ignored, as before the 80386
    const status = validate(insn, attributes);
    insn.lock = true;
    return status;
  }
  return validate(insn, attributes);
}

function readImmediateZ(insn: Instruction, source: CodeSource, i: number, operand32: boolean): number {
  if (operand32) {
    insn.immediate = read32(source, i);
    return i + 4;
  }
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
    insn.displacement = source.codeByte(i) | (source.codeByte(i + 1) << 8);
    return i + 2;
  }
  insn.base = BASE16[rm];
  insn.index = INDEX16[rm];
  if (mod === 1) {
    insn.displacementOffset = i;
    insn.displacement = (source.codeByte(i) << 24) >> 24;
    return i + 1;
  }
  if (mod === 2) {
    insn.displacementOffset = i;
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
      insn.displacement = read32(source, i);
      return i + 4;
    }
  } else if (rm === 5 && mod === 0) {
    insn.displacementOffset = i;
    insn.displacement = read32(source, i);
    return i + 4;
  }
  insn.base = base;
  if (mod === 1) {
    insn.displacementOffset = i;
    insn.displacement = (source.codeByte(i) << 24) >> 24;
    return i + 1;
  }
  if (mod === 2) {
    insn.displacementOffset = i;
    insn.displacement = read32(source, i);
    return i + 4;
  }
  return i;
}

function tooLong(insn: Instruction, length: number): number {
  insn.length = Math.min(length, MAX_INSTRUCTION_LENGTH + 1);
  return DECODE_GP;
}

/** Encodings that decode but are undefined raise #UD: checked here so execution need not. */
function validate(insn: Instruction, attributes: number): number {
  if ((attributes & UNDEFINED) !== 0) return DECODE_UD;
  const op = insn.opcode;
  const memory = insn.hasModrm && insn.mod !== 3;
  if (insn.lock) {
    // LOCK is legal only on read-modify-write instructions with a memory destination.
    if ((attributes & LOCKABLE) === 0 || !memory) return DECODE_UD;
    if ((op === 0xf6 || op === 0xf7) && insn.reg !== 2 && insn.reg !== 3) return DECODE_UD;
    if (op === 0xfe || op === 0xff) {
      if (insn.reg > 1) return DECODE_UD;
    }
    if (op === 0x1ba && insn.reg < 5) return DECODE_UD;
  }
  switch (op) {
    case 0x8d: // LEA needs a memory operand
    case 0xc4:
    case 0xc5:
    case 0x62:
    case 0x1b2:
    case 0x1b4:
    case 0x1b5:
      return memory ? DECODE_OK : DECODE_UD;
    case 0x8c:
      return insn.reg > 5 ? DECODE_UD : DECODE_OK;
    case 0x8e:
      return insn.reg > 5 || insn.reg === 1 ? DECODE_UD : DECODE_OK;
    case 0x8f:
    case 0xc6:
    case 0xc7:
      return insn.reg !== 0 ? DECODE_UD : DECODE_OK;
    case 0xfe:
      return insn.reg > 1 ? DECODE_UD : DECODE_OK;
    case 0xff:
      if (insn.reg === 7) return DECODE_UD;
      if ((insn.reg === 3 || insn.reg === 5) && !memory) return DECODE_UD;
      return DECODE_OK;
    case 0x100:
      return insn.reg > 5 ? DECODE_UD : DECODE_OK;
    case 0x1ba:
      return insn.reg < 4 ? DECODE_UD : DECODE_OK;
    case 0x1c7:
      return insn.reg !== 1 || !memory ? DECODE_UD : DECODE_OK;
    case 0x10b:
    case 0x1b9:
    case 0x1ff:
      return DECODE_UD;
    default:
      return DECODE_OK;
  }
}

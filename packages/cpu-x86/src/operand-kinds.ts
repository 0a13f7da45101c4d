/**
 * Operand kinds: what one operand of a decoded form is and where its value comes from. The opcode map
 * (opcode-table.ts) describes every form as up to four of these, so the decoder derives ModRM use,
 * immediates and register/memory restrictions from them, and a disassembler or block translator can
 * read a form's operands as data. Names follow the Intel SDM opcode-map notation (Eb, Gv, Iz, ...).
 */

/** Where an operand lives. */
export const LOC_REG = 1; // ModRM.reg
export const LOC_RM = 2; // ModRM.rm: register (mod = 3) or memory
export const LOC_RM_REGISTER = 3; // ModRM.rm, register only (mod = 3, else #UD)
export const LOC_RM_FORCED_REGISTER = 4; // ModRM.rm as a register whatever mod says (MOV CR/DR)
export const LOC_MEMORY = 5; // ModRM memory only (mod != 3, else #UD)
export const LOC_OPCODE_REGISTER = 6; // the low three opcode bits
export const LOC_FIXED = 7; // a fixed register
export const LOC_IMMEDIATE = 8; // Instruction.immediate
export const LOC_IMMEDIATE2 = 9; // Instruction.immediate2 (ENTER's nesting level)
export const LOC_ONE = 10; // the constant 1 (shift by one)
export const LOC_BRANCH = 11; // near branch: Instruction.immediate is relative to the next instruction
export const LOC_FAR_POINTER = 12; // immediate2 (selector) : immediate (offset)
export const LOC_MOFFS = 13; // memory at Instruction.displacement, no ModRM
export const LOC_STRING_SOURCE = 14; // segment:[(E)SI], the segment overridable
export const LOC_STRING_DESTINATION = 15; // ES:[(E)DI], never overridden
export const LOC_MASKMOV_DESTINATION = 16; // segment:[(E)DI], the segment overridable
export const LOC_XLAT = 17; // segment:[(E)BX + AL]

/** Register files. */
export const REG_GPR = 0;
export const REG_SEGMENT = 1;
export const REG_CONTROL = 2;
export const REG_DEBUG = 3;
export const REG_X87 = 4;
export const REG_MMX = 5;
export const REG_XMM = 6;

/** Sizes in bytes, or one of these operand-size-dependent sizes. */
export const SIZE_V = -1; // the operand size: 2 or 4 (8 with REX.W later)
export const SIZE_BOUND = -2; // BOUND's pair of bounds: twice the operand size
export const SIZE_FAR_POINTER = -3; // selector plus offset: 2 + operand size
export const SIZE_FPU_ENVIRONMENT = -4; // FLDENV/FNSTENV: 14 or 28
export const SIZE_FPU_STATE = -5; // FRSTOR/FNSAVE: 94 or 108

export interface OperandKind {
  readonly name: string;
  readonly location: number;
  /** The register file of a register operand (and of a ModRM.rm register). */
  readonly registerFile: number;
  /** LOC_FIXED: the register number. */
  readonly register: number;
  /** Size of the register or immediate value, in bytes or SIZE_*. */
  readonly size: number;
  /** Size of the memory access for a memory operand, in bytes or SIZE_* (0: none, as for LEA). */
  readonly memorySize: number;
}

function kind(
  name: string,
  location: number,
  registerFile: number,
  size: number,
  memorySize: number,
  register = 0,
): OperandKind {
  return { name, location, registerFile, register, size, memorySize };
}

/** All kinds; a kind's code is its index (0 means "no operand"). */
export const OPERAND_KINDS: readonly OperandKind[] = [
  kind("", 0, 0, 0, 0),
  // General registers or memory through ModRM.
  kind("Eb", LOC_RM, REG_GPR, 1, 1),
  kind("Ew", LOC_RM, REG_GPR, 2, 2),
  kind("Ed", LOC_RM, REG_GPR, 4, 4),
  kind("Ev", LOC_RM, REG_GPR, SIZE_V, SIZE_V),
  kind("Evw", LOC_RM, REG_GPR, SIZE_V, 2), // operand-size register, word in memory (MOV Sreg, SLDT)
  kind("Edw", LOC_RM, REG_GPR, 4, 2), // 32-bit register, word in memory (PINSRW)
  kind("Gb", LOC_REG, REG_GPR, 1, 0),
  kind("Gw", LOC_REG, REG_GPR, 2, 0),
  kind("Gd", LOC_REG, REG_GPR, 4, 0),
  kind("Gv", LOC_REG, REG_GPR, SIZE_V, 0),
  kind("Rd", LOC_RM_FORCED_REGISTER, REG_GPR, 4, 0),
  kind("Zb", LOC_OPCODE_REGISTER, REG_GPR, 1, 0),
  kind("Zv", LOC_OPCODE_REGISTER, REG_GPR, SIZE_V, 0),
  // Fixed registers.
  kind("AL", LOC_FIXED, REG_GPR, 1, 0, 0),
  kind("CL", LOC_FIXED, REG_GPR, 1, 0, 1),
  kind("AX", LOC_FIXED, REG_GPR, 2, 0, 0),
  kind("DX", LOC_FIXED, REG_GPR, 2, 0, 2),
  kind("eAX", LOC_FIXED, REG_GPR, SIZE_V, 0, 0),
  kind("ES", LOC_FIXED, REG_SEGMENT, 2, 0, 0),
  kind("CS", LOC_FIXED, REG_SEGMENT, 2, 0, 1),
  kind("SS", LOC_FIXED, REG_SEGMENT, 2, 0, 2),
  kind("DS", LOC_FIXED, REG_SEGMENT, 2, 0, 3),
  kind("FS", LOC_FIXED, REG_SEGMENT, 2, 0, 4),
  kind("GS", LOC_FIXED, REG_SEGMENT, 2, 0, 5),
  kind("ST", LOC_FIXED, REG_X87, 10, 0, 0),
  // Other register files through ModRM.
  kind("Sw", LOC_REG, REG_SEGMENT, 2, 0),
  kind("Cd", LOC_REG, REG_CONTROL, 4, 0),
  kind("Dd", LOC_REG, REG_DEBUG, 4, 0),
  kind("STi", LOC_RM_REGISTER, REG_X87, 10, 0),
  kind("Pq", LOC_REG, REG_MMX, 8, 0),
  kind("Qq", LOC_RM, REG_MMX, 8, 8),
  kind("Qd", LOC_RM, REG_MMX, 8, 4),
  kind("Nq", LOC_RM_REGISTER, REG_MMX, 8, 0),
  kind("Vx", LOC_REG, REG_XMM, 16, 0),
  kind("Wx", LOC_RM, REG_XMM, 16, 16),
  kind("Wq", LOC_RM, REG_XMM, 16, 8),
  kind("Wd", LOC_RM, REG_XMM, 16, 4),
  kind("Ux", LOC_RM_REGISTER, REG_XMM, 16, 0),
  // Memory only.
  kind("M", LOC_MEMORY, 0, 0, 0),
  kind("Mb", LOC_MEMORY, 0, 0, 1),
  kind("Mw", LOC_MEMORY, 0, 0, 2),
  kind("Md", LOC_MEMORY, 0, 0, 4),
  kind("Mq", LOC_MEMORY, 0, 0, 8),
  kind("Mdq", LOC_MEMORY, 0, 0, 16),
  kind("Mt", LOC_MEMORY, 0, 0, 10), // 80-bit real or packed BCD
  kind("Ms", LOC_MEMORY, 0, 0, 6), // pseudo-descriptor (SGDT...)
  kind("Mp", LOC_MEMORY, 0, 0, SIZE_FAR_POINTER),
  kind("Ma", LOC_MEMORY, 0, 0, SIZE_BOUND),
  kind("Menv", LOC_MEMORY, 0, 0, SIZE_FPU_ENVIRONMENT),
  kind("Mstate", LOC_MEMORY, 0, 0, SIZE_FPU_STATE),
  kind("Mfx", LOC_MEMORY, 0, 0, 512),
  // Immediates and branch targets.
  kind("Ib", LOC_IMMEDIATE, 0, 1, 0),
  kind("Ibs", LOC_IMMEDIATE, 0, SIZE_V, 0), // imm8 sign-extended to the operand size
  kind("Iw", LOC_IMMEDIATE, 0, 2, 0),
  kind("Iz", LOC_IMMEDIATE, 0, SIZE_V, 0), // 16 or 32 bits (32 sign-extended with REX.W later)
  kind("Iv", LOC_IMMEDIATE, 0, SIZE_V, 0), // 16, 32 (or 64) bits: MOV r, imm
  kind("Ib2", LOC_IMMEDIATE2, 0, 1, 0),
  kind("1", LOC_ONE, 0, 1, 0),
  kind("Jb", LOC_BRANCH, 0, SIZE_V, 0),
  kind("Jz", LOC_BRANCH, 0, SIZE_V, 0),
  kind("Ap", LOC_FAR_POINTER, 0, SIZE_V, 0),
  // Memory without ModRM.
  kind("Ob", LOC_MOFFS, 0, 0, 1),
  kind("Ov", LOC_MOFFS, 0, 0, SIZE_V),
  kind("Xb", LOC_STRING_SOURCE, 0, 0, 1),
  kind("Xv", LOC_STRING_SOURCE, 0, 0, SIZE_V),
  kind("Yb", LOC_STRING_DESTINATION, 0, 0, 1),
  kind("Yv", LOC_STRING_DESTINATION, 0, 0, SIZE_V),
  kind("Mdiq", LOC_MASKMOV_DESTINATION, 0, 0, 8),
  kind("Mdidq", LOC_MASKMOV_DESTINATION, 0, 0, 16),
  kind("Mxlat", LOC_XLAT, 0, 0, 1),
];

const codes = new Map<string, number>(OPERAND_KINDS.map((k, code) => [k.name, code]));

/** The code of the kind with this name; throws for an unknown name (a bug in a table). */
export function operandKindCode(name: string): number {
  const code = codes.get(name);
  if (code === undefined || code === 0) throw new Error(`unknown operand kind "${name}"`);
  return code;
}

/** Resolves a SIZE_* value for the operand size (2 or 4 bytes); plain sizes pass through. */
export function resolveSize(size: number, operandBytes: number): number {
  switch (size) {
    case SIZE_V:
      return operandBytes;
    case SIZE_BOUND:
      return 2 * operandBytes;
    case SIZE_FAR_POINTER:
      return 2 + operandBytes;
    case SIZE_FPU_ENVIRONMENT:
      return operandBytes === 2 ? 14 : 28;
    case SIZE_FPU_STATE:
      return operandBytes === 2 ? 94 : 108;
    default:
      return size;
  }
}

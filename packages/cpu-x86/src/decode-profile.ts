import type { CpuModel } from "./cpu-model.js";

/**
 * How a CPU model decodes where models differ; derived once from a CpuModel. The P6 profile is the
 * 80386-and-later map; the 8086 has aliases in place of later opcodes, POP CS at 0x0F, F1 as LOCK,
 * no instruction length limit and no invalid encodings.
 */
export interface DecodeProfile {
  /** One-byte opcode -> the opcode it behaves as (identity unless the model has aliases). */
  readonly opcodeAlias: Uint8Array;
  /** 0x0F escapes to the two-byte map (false on the 8086, where it is POP CS). */
  readonly twoByteEscape: boolean;
  /** 64-67 (FS, GS, operand and address size) are prefixes (80386 and later). */
  readonly extendedPrefixes: boolean;
  /** F1 is a LOCK prefix (8086). */
  readonly lockPrefixF1: boolean;
  /** Undefined encodings and invalid forms raise #UD (80186 and later). */
  readonly invalidOpcodes: boolean;
  /** LOCK on an instruction that cannot be locked raises #UD (80386 and later). */
  readonly invalidLock: boolean;
  /** The longest instruction; 0 means no limit. */
  readonly maxLength: number;
}

function identityAliases(): Uint8Array {
  const aliases = new Uint8Array(256);
  for (let op = 0; op < 256; op++) aliases[op] = op;
  return aliases;
}

export const P6_DECODE_PROFILE: DecodeProfile = {
  opcodeAlias: identityAliases(),
  twoByteEscape: true,
  extendedPrefixes: true,
  lockPrefixF1: false,
  invalidOpcodes: true,
  invalidLock: true,
  maxLength: 15,
};

/** The decode profile a CPU model implies. */
export function decodeProfileFor(model: CpuModel): DecodeProfile {
  const opcodeAlias = identityAliases();
  if (model.jccAliases60To6F) for (let op = 0x60; op < 0x70; op++) opcodeAlias[op] = op + 0x10;
  if (model.returnAliasesC0C1C8C9) {
    opcodeAlias[0xc0] = 0xc2;
    opcodeAlias[0xc1] = 0xc3;
    opcodeAlias[0xc8] = 0xca;
    opcodeAlias[0xc9] = 0xcb;
  }
  return {
    opcodeAlias,
    twoByteEscape: !model.popCsOpcode0F,
    extendedPrefixes: model.segmentRegisterCount === 6,
    lockPrefixF1: model.lockPrefixAliasF1,
    invalidOpcodes: model.invalidOpcodeException,
    invalidLock: model.invalidLockException,
    maxLength: model.maxInstructionLength,
  };
}

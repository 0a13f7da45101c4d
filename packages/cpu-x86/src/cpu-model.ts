/** CPUID leaf 1 EDX feature bits. */
export const FEATURE_FPU = 1 << 0;
export const FEATURE_VME = 1 << 1;
export const FEATURE_DE = 1 << 2;
export const FEATURE_PSE = 1 << 3;
export const FEATURE_TSC = 1 << 4;
export const FEATURE_MSR = 1 << 5;
export const FEATURE_PAE = 1 << 6;
export const FEATURE_MCE = 1 << 7;
export const FEATURE_CX8 = 1 << 8;
export const FEATURE_APIC = 1 << 9;
export const FEATURE_SEP = 1 << 11;
export const FEATURE_MTRR = 1 << 12;
export const FEATURE_PGE = 1 << 13;
export const FEATURE_MCA = 1 << 14;
export const FEATURE_CMOV = 1 << 15;
export const FEATURE_PAT = 1 << 16;
export const FEATURE_PSE36 = 1 << 17;
export const FEATURE_CLFLUSH = 1 << 19;
export const FEATURE_MMX = 1 << 23;
export const FEATURE_FXSR = 1 << 24;
export const FEATURE_SSE = 1 << 25;
export const FEATURE_SSE2 = 1 << 26;

/**
 * What CPU the interpreter presents: CPUID identity and features, plus the named behaviours in which
 * older CPUs differ from the P6 family. The default is a P6-class CPU; the 8086/80286 presets exist so
 * hardware-captured tests of those chips run against the same core. Every difference is one named
 * option, so a preset says exactly how its chip differs.
 */
export interface CpuModel {
  readonly name: string;
  readonly vendor: string;
  readonly family: number;
  readonly model: number;
  readonly stepping: number;
  /** CPUID.1:EDX. Only features the interpreter implements belong here. */
  readonly featuresEdx: number;
  /** CPUID.1:ECX. */
  readonly featuresEcx: number;
  /** CPUID.80000001h:EDX (NX is bit 20). Absent: no extended features. */
  readonly extendedFeaturesEdx?: number;
  /** The processor brand string (CPUID 0x80000002-4), at most 48 characters. */
  readonly brand: string;
  /** Physical address width in bits: 20 on the 8086 (wraps at 1 MiB), 24 on the 80286, 32 or 36 later. */
  readonly physicalAddressBits: number;
  /** Shift and rotate counts are masked to 5 bits (80186 and later); the 8086 uses the full count. */
  readonly maskShiftCount: boolean;
  /** PUSH SP pushes the value of SP after the decrement (8086) instead of before (80286 and later). */
  readonly pushSpAfterDecrement: boolean;
  /** Offsets past the segment limit wrap inside the segment (8086) instead of raising #GP/#SS. */
  readonly wrapSegmentOffsets: boolean;
  /** Real-mode accesses past the limit of SS raise #GP like other segments (80286), not #SS. */
  readonly segmentOverrunIsGp: boolean;
  /**
   * A string instruction's access past the segment limit raises #GP only after the iteration has
   * advanced the pointer(s) and, under REP, decremented the count (80286 microcode).
   */
  readonly stringOverrunAfterUpdate: boolean;
  /**
   * The longest instruction, prefixes included; fetching past it raises #GP. 0 means no limit (the
   * 8086 accepts any number of prefixes). 10 on the 80286, 15 from the 80386 on.
   */
  readonly maxInstructionLength: number;
  /** FLAGS bits that always read as 1 besides bit 1: bits 12-15 on the 8086/80186. */
  readonly flagsFixedOne: number;
  /**
   * FLAGS bits that POPF and IRET can change in real mode: the low 12 defined bits on the 8086 and
   * 80286 (the 80286 cannot hold IOPL/NT in real mode), plus IOPL, NT, AC and ID from the P6 on.
   */
  readonly realModeWritableFlags: number;
  /** Undefined encodings raise #UD (80186 and later). On the 8086 every encoding does something. */
  readonly invalidOpcodeException: boolean;
  /** LOCK on an instruction that cannot be locked raises #UD (80386 and later; earlier CPUs ignore it). */
  readonly invalidLockException: boolean;
  /**
   * Segment registers that exist: 4 (ES CS SS DS) before the 80386; 6 with FS and GS, which come
   * with the 64-67 prefixes (FS, GS, operand size, address size).
   */
  readonly segmentRegisterCount: number;
  /** 0x60-0x6F are aliases of the Jcc rel8 opcodes 0x70-0x7F (8086; PUSHA, BOUND, IMUL... later). */
  readonly jccAliases60To6F: boolean;
  /** C0/C1 alias RET imm16/RET and C8/C9 alias RETF imm16/RETF (8086; shifts, ENTER, LEAVE later). */
  readonly returnAliasesC0C1C8C9: boolean;
  /** 0x0F is POP CS (8086) rather than the two-byte opcode escape. */
  readonly popCsOpcode0F: boolean;
  /** F1 is an alias of the LOCK prefix (8086) rather than INT1 (ICEBP). */
  readonly lockPrefixAliasF1: boolean;
  /** D6 is SALC (AL = CF ? FF : 00), undocumented but present on every CPU of this family. */
  readonly salcOpcodeD6: boolean;
  /** Group 2 /6 (D0-D3 /6) is SETMO/SETMOC (8086: all ones) rather than an alias of SHL. */
  readonly setmoGroup2Reg6: boolean;
  /** The divide error is a trap that pushes the address of the next instruction (8086). */
  readonly divideErrorPushesNextIp: boolean;
  /** IDIV raises #DE for the most negative quotient (-128, -32768) as well (8086 microcode). */
  readonly idivRejectsMostNegativeQuotient: boolean;
  /** A REP/REPNE prefix on the signed IMUL/IDIV negates the product/quotient (8086 microcode). */
  readonly repPrefixNegatesMulDiv: boolean;
  /**
   * DAA/DAS as the 8086 does them: the original AL is compared with 0x9F rather than 0x99 when AF is
   * set, and the low-digit adjustment's carry/borrow does not reach CF.
   */
  readonly decimalAdjust8086: boolean;
  /** AAA/AAS adjust AL by 6 on its own and then AH by 1 (8086), instead of AX by 0x106/-6. */
  readonly asciiAdjust8086: boolean;
  /** An x87 coprocessor is attached; without one, ESC (D8-DF) only computes its address (a NOP). */
  readonly coprocessorPresent: boolean;
}

// FXSR (FXSAVE/FXRSTOR, implemented in x87/) joins once Cpu passes the model's extensions to decode().
export const P6_FEATURES_IMPLEMENTED =
  FEATURE_FPU |
  FEATURE_PSE |
  FEATURE_TSC |
  FEATURE_MSR |
  FEATURE_PAE |
  FEATURE_CX8 |
  FEATURE_SEP |
  FEATURE_MTRR |
  FEATURE_PGE |
  FEATURE_CMOV |
  FEATURE_PAT |
  FEATURE_FXSR;
/** CPUID.80000001h:EDX.NX: execute-disable in PAE page tables (EFER.NXE). */
export const EXTENDED_FEATURE_NX = 1 << 20;

/** FLAGS bits POPF may change in real mode on the P6: all but VM, VIP, VIF, RF and the reserved bits. */
const P6_REAL_MODE_WRITABLE_FLAGS = 0x0024_7fd5;
/** CF PF AF ZF SF TF IF DF OF: the 8086 and 80286 real-mode writable bits. */
const LOW_TWELVE_WRITABLE_FLAGS = 0x0fd5;

/** A P6-family CPU (family 6): the default model. */
export const CPU_MODEL_P6: CpuModel = {
  name: "p6",
  vendor: "GenuineIntel",
  family: 6,
  model: 3,
  stepping: 3,
  featuresEdx: P6_FEATURES_IMPLEMENTED,
  featuresEcx: 0,
  extendedFeaturesEdx: EXTENDED_FEATURE_NX,
  brand: "tsvmm virtual CPU",
  physicalAddressBits: 32,
  maskShiftCount: true,
  pushSpAfterDecrement: false,
  wrapSegmentOffsets: false,
  segmentOverrunIsGp: false,
  stringOverrunAfterUpdate: false,
  maxInstructionLength: 15,
  flagsFixedOne: 0,
  realModeWritableFlags: P6_REAL_MODE_WRITABLE_FLAGS,
  invalidOpcodeException: true,
  invalidLockException: true,
  segmentRegisterCount: 6,
  jccAliases60To6F: false,
  returnAliasesC0C1C8C9: false,
  popCsOpcode0F: false,
  lockPrefixAliasF1: false,
  salcOpcodeD6: true,
  setmoGroup2Reg6: false,
  divideErrorPushesNextIp: false,
  idivRejectsMostNegativeQuotient: false,
  repPrefixNegatesMulDiv: false,
  decimalAdjust8086: false,
  asciiAdjust8086: false,
  coprocessorPresent: true,
};

/**
 * The Intel 8086 (as captured from a P80C86A-2): 20 address lines, no exceptions but the divide
 * error, the original opcode map with its aliases, and no 8087.
 */
export const CPU_MODEL_8086: CpuModel = {
  ...CPU_MODEL_P6,
  name: "8086",
  family: 0,
  model: 0,
  stepping: 0,
  featuresEdx: 0,
  physicalAddressBits: 20,
  maskShiftCount: false,
  pushSpAfterDecrement: true,
  wrapSegmentOffsets: true,
  maxInstructionLength: 0,
  flagsFixedOne: 0xf000,
  realModeWritableFlags: LOW_TWELVE_WRITABLE_FLAGS,
  invalidOpcodeException: false,
  invalidLockException: false,
  segmentRegisterCount: 4,
  jccAliases60To6F: true,
  returnAliasesC0C1C8C9: true,
  popCsOpcode0F: true,
  lockPrefixAliasF1: true,
  setmoGroup2Reg6: true,
  divideErrorPushesNextIp: true,
  idivRejectsMostNegativeQuotient: true,
  repPrefixNegatesMulDiv: true,
  decimalAdjust8086: true,
  asciiAdjust8086: true,
  coprocessorPresent: false,
};

/** The Intel 80286 in real mode (as captured from a Harris N80C286-12): 24 address lines, no 80287. */
export const CPU_MODEL_80286: CpuModel = {
  ...CPU_MODEL_P6,
  name: "80286",
  family: 2,
  model: 0,
  stepping: 0,
  featuresEdx: 0,
  physicalAddressBits: 24,
  maxInstructionLength: 10,
  segmentOverrunIsGp: true,
  stringOverrunAfterUpdate: true,
  realModeWritableFlags: LOW_TWELVE_WRITABLE_FLAGS,
  invalidLockException: false,
  segmentRegisterCount: 4,
  coprocessorPresent: false,
};

/** CPUID.1:EAX, the processor signature (also EDX at reset). */
export function processorSignature(model: CpuModel): number {
  const family = Math.min(model.family, 15);
  const extendedFamily = model.family > 15 ? model.family - 15 : 0;
  return (
    (extendedFamily << 20) |
    ((model.model >> 4) << 16) |
    (family << 8) |
    ((model.model & 15) << 4) |
    (model.stepping & 15)
  );
}

/** Packs four ASCII characters little-endian, as CPUID returns strings. */
function chars(text: string, at: number): number {
  let v = 0;
  for (let i = 3; i >= 0; i--) v = (v << 8) | (text.charCodeAt(at + i) & 0xff || 0);
  return v;
}

/** Fills out[0..3] with EAX, EBX, ECX, EDX of CPUID leaf `leaf`, subleaf `subleaf`. */
export function cpuid(model: CpuModel, leaf: number, _subleaf: number, out: Int32Array): void {
  const vendor = model.vendor.padEnd(12, " ");
  const brand = model.brand.padEnd(48, "\0");
  out[0] = out[1] = out[2] = out[3] = 0;
  switch (leaf >>> 0) {
    case 0:
      out[0] = 1;
      out[1] = chars(vendor, 0);
      out[3] = chars(vendor, 4);
      out[2] = chars(vendor, 8);
      return;
    case 1:
      out[0] = processorSignature(model);
      out[2] = model.featuresEcx;
      out[3] = model.featuresEdx;
      return;
    case 0x80000000:
      out[0] = 0x80000004 | 0;
      return;
    case 0x80000001:
      out[3] = model.extendedFeaturesEdx ?? 0;
      return;
    case 0x80000002:
    case 0x80000003:
    case 0x80000004: {
      const base = ((leaf >>> 0) - 0x80000002) * 16;
      for (let r = 0; r < 4; r++) out[r] = chars(brand, base + r * 4);
      return;
    }
    default:
      // Intel returns the highest basic leaf's data for leaves above the maximum; zeros are the
      // documented behaviour for extended leaves. Leaf 1 is the highest basic leaf here.
      if (leaf >>> 0 < 0x80000000) cpuid(model, 1, 0, out);
      return;
  }
}

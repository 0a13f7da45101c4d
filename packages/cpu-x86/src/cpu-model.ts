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
 * hardware-captured tests of those chips can run against the same core.
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
  /** The processor brand string (CPUID 0x80000002-4), at most 48 characters. */
  readonly brand: string;
  /** Physical address width in bits: 20 on the 8086, 24 on the 80286, 32 or 36 later. */
  readonly physicalAddressBits: number;
  /** Shift and rotate counts are masked to 5 bits (80186 and later); the 8086 uses the full count. */
  readonly maskShiftCount: boolean;
  /** PUSH SP pushes the value of SP after the decrement (8086) instead of before (80286 and later). */
  readonly pushSpAfterDecrement: boolean;
  /** Offsets past the segment limit wrap inside the segment (8086) instead of raising #GP/#SS. */
  readonly wrapSegmentOffsets: boolean;
  /** Instructions may be longer than 15 bytes (8086): no #GP for long prefix chains. */
  readonly unlimitedInstructionLength: boolean;
}

export const P6_FEATURES_IMPLEMENTED = FEATURE_TSC | FEATURE_CX8 | FEATURE_CMOV;

/** A P6-family CPU (family 6): the default model. */
export const CPU_MODEL_P6: CpuModel = {
  name: "p6",
  vendor: "GenuineIntel",
  family: 6,
  model: 3,
  stepping: 3,
  featuresEdx: P6_FEATURES_IMPLEMENTED,
  featuresEcx: 0,
  brand: "tsvmm virtual CPU",
  physicalAddressBits: 32,
  maskShiftCount: true,
  pushSpAfterDecrement: false,
  wrapSegmentOffsets: false,
  unlimitedInstructionLength: false,
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

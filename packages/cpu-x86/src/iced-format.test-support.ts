/**
 * Test support for the iced decoder test vectors (shared/testdata/iced-decoder, see its README.md):
 * line parsing, line classification (in scope or not, and why), and rendering of our decoded
 * operands in a canonical form that iced's operand descriptions normalise to as well.
 */
import { type Instruction, NO_REG } from "./decoder.js";
import { SIZE32 } from "./flags.js";
import { FORM_ATTRIBUTES, IMM_ENTER, IMM_FAR, IMM_SHIFT } from "./opcode-table.js";
import {
  LOC_BRANCH,
  LOC_FAR_POINTER,
  LOC_FIXED,
  LOC_IMMEDIATE,
  LOC_IMMEDIATE2,
  LOC_MASKMOV_DESTINATION,
  LOC_MEMORY,
  LOC_MOFFS,
  LOC_ONE,
  LOC_OPCODE_REGISTER,
  LOC_REG,
  LOC_RM,
  LOC_RM_FORCED_REGISTER,
  LOC_RM_REGISTER,
  LOC_STRING_DESTINATION,
  LOC_STRING_SOURCE,
  LOC_XLAT,
  OPERAND_KINDS,
  REG_CONTROL,
  REG_DEBUG,
  REG_GPR,
  REG_MMX,
  REG_SEGMENT,
  REG_X87,
  REG_XMM,
  resolveSize,
} from "./operand-kinds.js";

export interface IcedLine {
  readonly text: string;
  readonly bytes: Uint8Array;
  readonly code: string;
  readonly mnemonic: string;
  readonly operandCount: number;
  /** Option tokens, e.g. "op0=r;al", "lock", "co=1;1;0;0;0;0". */
  readonly options: readonly string[];
  readonly invalid: boolean;
}

export function parseIcedFile(text: string): IcedLine[] {
  const lines: IcedLine[] = [];
  for (const raw of text.split("\n")) {
    const line = raw.trim();
    if (line === "" || line.startsWith("#")) continue;
    const fields = line.split(",").map((field) => field.trim());
    if (fields.length !== 5) throw new Error(`not five fields: ${line}`);
    const hex = fields[0].replaceAll(" ", "");
    const bytes = new Uint8Array(hex.length / 2);
    for (let i = 0; i < bytes.length; i++) bytes[i] = Number.parseInt(hex.slice(2 * i, 2 * i + 2), 16);
    lines.push({
      text: line,
      bytes,
      code: fields[1],
      mnemonic: fields[2],
      operandCount: Number(fields[3]),
      options: fields[4] === "" ? [] : fields[4].split(/\s+/),
      invalid: fields[1] === "INVALID",
    });
  }
  return lines;
}

/** Reads a line's bytes; bytes past the end read as 0 and are recorded. */
export class ByteSource {
  maxIndex = -1;
  constructor(readonly bytes: Uint8Array) {}
  codeByte(index: number): number {
    if (index > this.maxIndex) this.maxIndex = index;
    return index < this.bytes.length ? this.bytes[index] : 0;
  }
}

const LEGACY_PREFIXES = new Set([0x26, 0x2e, 0x36, 0x3e, 0x64, 0x65, 0x66, 0x67, 0xf0, 0xf2, 0xf3]);

/** Offset of the first byte after the legacy prefixes. */
export function opcodeOffset(bytes: Uint8Array): number {
  let i = 0;
  while (i < bytes.length && LEGACY_PREFIXES.has(bytes[i])) i++;
  return i;
}

/** The opcode bytes as "D9", "0F12" or "0F38F1", for grouping failures. */
export function opcodeKey(bytes: Uint8Array): string {
  const i = opcodeOffset(bytes);
  const hex = (b: number | undefined) => (b ?? 0).toString(16).toUpperCase().padStart(2, "0");
  if (bytes[i] !== 0x0f) return hex(bytes[i]);
  if (bytes[i + 1] === 0x38 || bytes[i + 1] === 0x3a) return `0F${hex(bytes[i + 1])}${hex(bytes[i + 2])}`;
  return `0F${hex(bytes[i + 1])}`;
}

/** VEX/EVEX/XOP (which this CPU must reject with #UD) and maps not decoded yet, by the bytes. */
export function encodingCategory(bytes: Uint8Array): string | undefined {
  const i = opcodeOffset(bytes);
  const op = bytes[i];
  const next = bytes[i + 1] ?? 0;
  if ((op === 0xc4 || op === 0xc5) && next >= 0xc0) return "VEX";
  if (op === 0x62 && next >= 0xc0) return "EVEX";
  if (op === 0x8f && ((next >> 3) & 7) !== 0) return "XOP";
  if (op === 0x0f && next === 0x0f) return "3DNow!";
  if (op === 0x0f && next === 0x38) return "0F38";
  if (op === 0x0f && next === 0x3a) return "0F3A";
  return undefined;
}

/**
 * iced mnemonics of instructions newer than this CPU (P6 family integer + x87 + MMX + SSE + SSE2):
 * on it they are #UD, or an older instruction (REP BSF for TZCNT, a hint NOP for ENDBR32).
 */
export const BEYOND_TARGET_ISA = new Set(
  [
    // SSE3 and SSE4a
    "addsubpd addsubps haddpd haddps hsubpd hsubps lddqu movddup movshdup movsldup fisttp monitor mwait",
    "extrq insertq movntss movntsd",
    // later integer and system extensions
    "popcnt tzcnt lzcnt rdrand rdseed rdpid rdtscp rdpru xgetbv xsetbv xsave xrstor xsaveopt xsavec",
    "xsaves xrstors clflushopt clwb cldemote ptwrite serialize wbnoinvd clac stac xend xtest xabort",
    "xbegin xsusldtrk xresldtrk umonitor umwait tpause mcommit monitorx mwaitx clzero rdpkru wrpkru",
    "pconfig wrmsrns prefetchit0 prefetchit1 prefetch prefetchw prefetchwt1 femms syscall sysret",
    "getsec tdcall",
    // VMX, SVM, SGX, SEV, CET
    "vmcall vmlaunch vmresume vmxoff vmfunc vmptrld vmptrst vmclear vmxon vmread vmwrite vmrun vmmcall",
    "vmload vmsave stgi clgi skinit invlpga invlpgb tlbsync pvalidate vmgexit encls enclu enclv",
    "endbr32 endbr64 rdsspd incsspd setssbsy saveprevssp rstorssp clrssbsy",
    // VIA PadLock
    "montmul xsha1 xsha256 xsha512 xsha512_alt xstore xstore_alt xcryptecb xcryptcbc xcryptctr",
    "xcryptcfb xcryptofb ccs_hash ccs_encrypt undoc",
  ]
    .join(" ")
    .split(" "),
);

/** iced names that differ from ours for the same instruction. */
const MNEMONIC_ALIASES: Record<string, string> = { reservednop: "nop" };

export function normaliseMnemonic(icedMnemonic: string): string {
  const lower = icedMnemonic.toLowerCase();
  return MNEMONIC_ALIASES[lower] ?? lower;
}

/** Option tokens that do not describe decoding (iced encoder/test switches, HLE hints). */
export const IGNORED_OPTIONS = /^(enc=|noencode$|no_opt_disable_test$|xacquire$|xrelease$)/;

const GPR_NAMES: Record<number, readonly string[]> = {
  1: ["al", "cl", "dl", "bl", "ah", "ch", "dh", "bh"],
  2: ["ax", "cx", "dx", "bx", "sp", "bp", "si", "di"],
  4: ["eax", "ecx", "edx", "ebx", "esp", "ebp", "esi", "edi"],
};
export const SEGMENT_NAMES = ["es", "cs", "ss", "ds", "fs", "gs"];

function registerName(file: number, n: number, size: number): string {
  switch (file) {
    case REG_GPR:
      return GPR_NAMES[size][n];
    case REG_SEGMENT:
      return SEGMENT_NAMES[n] ?? `sreg${n}`;
    case REG_CONTROL:
      return `cr${n}`;
    case REG_DEBUG:
      return `dr${n}`;
    case REG_X87:
      return `st${n}`;
    case REG_MMX:
      return `mm${n}`;
    case REG_XMM:
      return `xmm${n}`;
    default:
      return `?${file}:${n}`;
  }
}

const hex = (value: number) => `0x${(value >>> 0).toString(16)}`;

/** iced MemorySize names -> bytes. Unknown names give NaN, which never matches. */
export function icedMemorySize(name: string): number {
  const fixed: Record<string, number> = {
    Unknown: 0,
    Fword6: 6,
    SegPtr16: 4,
    SegPtr32: 6,
    WordOffset: 2,
    DwordOffset: 4,
    Float80: 10,
    Bcd: 10,
    FpuEnv14: 14,
    FpuEnv28: 28,
    FpuState94: 94,
    FpuState108: 108,
    Fxsave_512Byte: 512,
    Bound16_WordWord: 4,
    Bound32_DwordDword: 8,
  };
  if (name in fixed) return fixed[name];
  const packed = /^Packed(\d+)_/.exec(name);
  if (packed) return Number(packed[1]) / 8;
  const scalar = /^(UInt|Int|Float|BFloat)(\d+)$/.exec(name);
  if (scalar) return Number(scalar[2]) / 8;
  return Number.NaN;
}

/** iced's `opN=kind;fields` in canonical form: numbers as hex, memory sizes in bytes. */
export function canonicalIcedOperand(value: string): string {
  const [kind, ...fields] = value.split(";");
  const num = (field: string) => hex(Number(field));
  switch (kind) {
    case "r":
      return `r;${fields[0]}`;
    case "m": {
      const [seg, base, index, scale, displ, displSize, memSize] = fields;
      return `m;${seg};${base};${index};${scale};${num(displ)};${displSize};${icedMemorySize(memSize)}`;
    }
    case "segsi":
    case "segesi":
    case "segdi":
    case "segedi":
      return `${kind};${fields[0]};${icedMemorySize(fields[1])}`;
    case "esdi":
    case "esedi":
      return `${kind};${icedMemorySize(fields[0])}`;
    case "fb16":
    case "fb32":
      return `${kind};${num(fields[0])};${num(fields[1])}`;
    default:
      return `${kind};${num(fields[0])}`;
  }
}

/** Our operand `index` of the decoded instruction, in the same canonical form. */
export function canonicalOperand(insn: Instruction, kindCode: number, startIp: number): string {
  const kind = OPERAND_KINDS[kindCode];
  const operandBytes = insn.operandSize === SIZE32 ? 4 : 2;
  const address32 = insn.addressSize === SIZE32;
  const size = resolveSize(kind.size, operandBytes);
  const memorySize = resolveSize(kind.memorySize, operandBytes);
  const operandMask = operandBytes === 4 ? 0xffffffff : 0xffff;
  const segment = SEGMENT_NAMES[insn.segment];
  switch (kind.location) {
    case LOC_REG:
      return `r;${registerName(kind.registerFile, insn.reg, size)}`;
    case LOC_RM:
      if (insn.mod === 3) return `r;${registerName(kind.registerFile, insn.rm, size)}`;
      return memoryOperand(insn, memorySize);
    case LOC_RM_REGISTER:
    case LOC_RM_FORCED_REGISTER:
      return `r;${registerName(kind.registerFile, insn.rm, size)}`;
    case LOC_MEMORY:
    case LOC_MOFFS:
      return memoryOperand(insn, memorySize);
    case LOC_OPCODE_REGISTER:
      return `r;${registerName(kind.registerFile, insn.opcode & 7, size)}`;
    case LOC_FIXED:
      return `r;${registerName(kind.registerFile, kind.register, size)}`;
    case LOC_IMMEDIATE:
      switch (kind.name) {
        case "Ib":
          return `i8;${hex(insn.immediate & 0xff)}`;
        case "Ibs":
          return `i8to${operandBytes * 8};${hex(insn.immediate & operandMask)}`;
        case "Iw":
          return `i16;${hex(insn.immediate & 0xffff)}`;
        default:
          return `i${operandBytes * 8};${hex(insn.immediate & operandMask)}`;
      }
    case LOC_IMMEDIATE2:
      return `i8_2nd;${hex(insn.immediate2)}`;
    case LOC_ONE:
      return "i8;0x1";
    case LOC_BRANCH:
      return `nb${operandBytes * 8};${hex((startIp + insn.length + insn.immediate) & operandMask)}`;
    case LOC_FAR_POINTER:
      return `fb${operandBytes * 8};${hex(insn.immediate2)};${hex(insn.immediate & operandMask)}`;
    case LOC_STRING_SOURCE:
      return `${address32 ? "segesi" : "segsi"};${segment};${memorySize}`;
    case LOC_STRING_DESTINATION:
      return `${address32 ? "esedi" : "esdi"};${memorySize}`;
    case LOC_MASKMOV_DESTINATION:
      return `${address32 ? "segedi" : "segdi"};${segment};${memorySize}`;
    case LOC_XLAT:
      return `m;${segment};${address32 ? "ebx" : "bx"};al;1;0x0;0;${memorySize}`;
    default:
      return `?kind ${kind.name}`;
  }
}

function memoryOperand(insn: Instruction, memorySize: number): string {
  const names = GPR_NAMES[insn.addressSize === SIZE32 ? 4 : 2];
  const base = insn.base === NO_REG ? "" : names[insn.base];
  const index = insn.index === NO_REG ? "" : names[insn.index];
  const scale = insn.index === NO_REG ? 1 : 1 << insn.scale;
  const mask = insn.addressSize === SIZE32 ? 0xffffffff : 0xffff;
  const displacement = hex(insn.displacement & mask);
  const segment = SEGMENT_NAMES[insn.segment];
  return `m;${segment};${base};${index};${scale};${displacement};${insn.displacementSize};${memorySize}`;
}

/** Our "co=" tuple: immediate, second immediate and displacement offsets and sizes. */
export function constantOffsets(insn: Instruction): string {
  const immediateKind = (FORM_ATTRIBUTES[insn.form] >>> IMM_SHIFT) & 15;
  let second = "0;0";
  if (immediateKind === IMM_FAR) second = `${insn.immediateOffset + insn.immediateSize};2`;
  else if (immediateKind === IMM_ENTER) second = `${insn.immediateOffset + insn.immediateSize};1`;
  return [
    `${insn.immediateOffset};${insn.immediateSize}`,
    second,
    `${insn.displacementOffset};${insn.displacementSize}`,
  ].join(";");
}

/** The prefixes we report, as iced's tokens (sorted): segment override, lock, rep/repne. */
export function reportedPrefixes(insn: Instruction): string {
  const tokens: string[] = [];
  if (insn.segmentOverride >= 0) tokens.push(`${SEGMENT_NAMES[insn.segmentOverride]}:`);
  if (insn.lock) tokens.push("lock");
  if (insn.rep === 0xf3) tokens.push("rep");
  if (insn.rep === 0xf2) tokens.push("repne");
  return tokens.sort().join(" ");
}

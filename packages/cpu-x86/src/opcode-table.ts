/**
 * The opcode map as data: for every opcode a spec string like "add Eb,Gb lock", or a split by ModRM.reg
 * (an array of 8), by ModRM.mod ({ mem, reg }), by ModRM.rm ({ rm: [...] }, register forms only) or by
 * mandatory prefix ({ np, "66", F3, F2 }). At module load this is compiled into typed arrays of
 * *forms*: form n < OPCODE_SPACE is opcode n itself (0x000-0x0FF one-byte map, 0x100-0x1FF 0F map);
 * selector and leaf forms follow. decode() walks selectors from the opcode's form to a leaf; the leaf
 * gives validity, LOCK, the immediate and its operand kinds (operand-kinds.ts).
 *
 * Extending: the 0F38 and 0F3A maps become opcodes 0x200-0x2FF and 0x300-0x3FF (OPCODE_SPACE grows to
 * 0x400, form numbers after it move, nothing else does). 64-bit mode adds leaf flags in the free bits
 * 16-31 (invalid in 64-bit mode, operand size 64 by default, 64-bit only); REX only widens ModRM
 * fields and sets operand size, so it needs no new selectors. VEX/EVEX/XOP would get their own maps.
 */
import {
  LOC_BRANCH,
  LOC_FAR_POINTER,
  LOC_IMMEDIATE,
  LOC_IMMEDIATE2,
  LOC_MEMORY,
  LOC_MOFFS,
  LOC_REG,
  LOC_RM,
  LOC_RM_FORCED_REGISTER,
  LOC_RM_REGISTER,
  OPERAND_KINDS,
  operandKindCode,
  REG_MMX,
  REG_XMM,
} from "./operand-kinds.js";

/** Form attributes (FORM_ATTRIBUTES). Bits 0-2: how a selector picks its child (0: a leaf). */
export const SELECT_MASK = 7;
export const SELECT_LEAF = 0;
export const SELECT_PREFIX = 1; // child 0: no prefix, 1: 66, 2: F3, 3: F2 (the last F2/F3 wins over 66)
export const SELECT_MOD = 2; // child 0: memory (mod != 3), 1: register (mod = 3)
export const SELECT_REG = 3; // child ModRM.reg
export const SELECT_RM = 4; // child ModRM.rm
export const HAS_MODRM = 1 << 3;
export const LOCKABLE = 1 << 4; // LOCK is legal (with a memory operand)
export const UNDEFINED = 1 << 5; // not an instruction: #UD
export const MEMORY_ONLY = 1 << 6; // #UD with mod = 3
export const REGISTER_ONLY = 1 << 7; // #UD with mod != 3
export const MOD_IGNORED = 1 << 8; // ModRM.rm is a register whatever mod says
export const MANDATORY_PREFIX = 1 << 9; // the prefix that selected this form is not a size/REP prefix
export const RAISES_UD = 1 << 10; // a defined instruction whose operation is #UD (UD0, UD1, UD2)
export const MNEMONIC_BY_ADDRESS_SIZE = 1 << 11; // "jcxz/jecxz": pick the name by address size
/** Leaves, bits 16-19: the CPU extension a form needs (#UD without it; decode()'s `extensions`). */
export const EXT_MMX = 1 << 16;
export const EXT_FXSR = 1 << 17; // FXSAVE/FXRSTOR
export const EXT_SSE = 1 << 18; // including the MMX extensions that came with it (PSHUFW, PMINUB...)
export const EXT_SSE2 = 1 << 19; // including CLFLUSH, LFENCE/MFENCE, MOVNTI
export const ALL_EXTENSIONS = EXT_MMX | EXT_FXSR | EXT_SSE | EXT_SSE2;
/** Immediate kinds, bits 12-15. */
export const IMM_SHIFT = 12;
export const IMM_NONE = 0;
export const IMM_B = 1; // 8 bits, sign-extended
export const IMM_W = 2; // 16 bits, zero-extended
export const IMM_Z = 3; // 16 or 32 bits by operand size, sign-extended
export const IMM_V = 4; // 16, 32 (or 64 with REX.W) bits by operand size: MOV r, imm
export const IMM_FAR = 5; // ptr16:16/32 (far JMP/CALL): offset (Z) then selector (W)
export const IMM_MOFFS = 6; // an address-size offset (MOV AL/eAX <-> moffs), into displacement
export const IMM_ENTER = 7; // iw then ib
/** Selectors: the first child's index in SELECTOR_CHILDREN, bits 16-31 (leaves use them for EXT_*). */
export const CHILD_SHIFT = 16;

/** Forms below this are opcodes: 0x000-0x0FF one-byte map, 0x100-0x1FF 0F map. */
export const OPCODE_SPACE = 0x200;

type Spec = string | readonly Spec[] | ModSpec | RmSpec | PrefixSpec;
interface ModSpec {
  readonly mem?: Spec;
  readonly reg?: Spec;
}
interface RmSpec {
  readonly rm: readonly Spec[];
}
interface PrefixSpec {
  readonly np?: Spec;
  readonly "66"?: Spec;
  readonly F3?: Spec;
  readonly F2?: Spec;
}
/** In a prefix split: the prefix selects the same form as no prefix (it stays a size/REP prefix). */
const SAME_AS_NP = "=np";

const CONDITIONS = ["o", "no", "b", "ae", "e", "ne", "be", "a", "s", "ns", "p", "np", "l", "ge", "le", "g"];
const ALU = ["add", "or", "adc", "sbb", "and", "sub", "xor", "cmp"];
const SHIFTS = ["rol", "ror", "rcl", "rcr", "shl", "shr", "sal", "sar"];

function group1(operands: string): Spec[] {
  return ALU.map((name) => `${name} ${operands}${name === "cmp" ? "" : " lock"}`);
}
function group2(operands: string): Spec[] {
  return SHIFTS.map((name) => `${name} ${operands}`);
}

// -------------------------------------------------------------------------------------------------
// One-byte map. Prefix bytes (26 2E 36 3E 64-67 F0 F2 F3) never reach the map on the 80386 and later;
// 0x0F is the 0F escape there and POP CS on the 8086 (see decode-profile.ts).
const ONE_BYTE: [number, Spec][] = [];
for (let row = 0; row < 8; row++) {
  const name = ALU[row];
  const lock = name === "cmp" ? "" : " lock";
  ONE_BYTE.push(
    [row * 8, `${name} Eb,Gb${lock}`],
    [row * 8 + 1, `${name} Ev,Gv${lock}`],
    [row * 8 + 2, `${name} Gb,Eb`],
    [row * 8 + 3, `${name} Gv,Ev`],
    [row * 8 + 4, `${name} AL,Ib`],
    [row * 8 + 5, `${name} eAX,Iz`],
  );
}
for (let r = 0; r < 8; r++) {
  ONE_BYTE.push([0x40 + r, "inc Zv"], [0x48 + r, "dec Zv"], [0x50 + r, "push Zv"], [0x58 + r, "pop Zv"]);
  ONE_BYTE.push([0xb0 + r, "mov Zb,Ib"], [0xb8 + r, "mov Zv,Iv"]);
  if (r > 0) ONE_BYTE.push([0x90 + r, "xchg Zv,eAX"]);
}
for (let cc = 0; cc < 16; cc++) ONE_BYTE.push([0x70 + cc, `j${CONDITIONS[cc]} Jb`]);
ONE_BYTE.push(
  [0x06, "push ES"],
  [0x07, "pop ES"],
  [0x0e, "push CS"],
  [0x0f, "pop CS"], // 8086 only
  [0x16, "push SS"],
  [0x17, "pop SS"],
  [0x1e, "push DS"],
  [0x1f, "pop DS"],
  [0x27, "daa"],
  [0x2f, "das"],
  [0x37, "aaa"],
  [0x3f, "aas"],
  [0x60, "pusha/pushad"],
  [0x61, "popa/popad"],
  [0x62, "bound Gv,Ma"], // mod = 3 is EVEX in later CPUs: #UD here
  [0x63, "arpl Evw,Gv"],
  [0x68, "push Iz"],
  [0x69, "imul Gv,Ev,Iz"],
  [0x6a, "push Ibs"],
  [0x6b, "imul Gv,Ev,Ibs"],
  [0x6c, "insb Yb,DX"],
  [0x6d, "insw/insd Yv,DX"],
  [0x6e, "outsb DX,Xb"],
  [0x6f, "outsw/outsd DX,Xv"],
  [0x80, group1("Eb,Ib")],
  [0x81, group1("Ev,Iz")],
  [0x82, group1("Eb,Ib")], // alias of 0x80, invalid in 64-bit mode
  [0x83, group1("Ev,Ibs")],
  [0x84, "test Eb,Gb"],
  [0x85, "test Ev,Gv"],
  [0x86, "xchg Eb,Gb lock"],
  [0x87, "xchg Ev,Gv lock"],
  [0x88, "mov Eb,Gb"],
  [0x89, "mov Ev,Gv"],
  [0x8a, "mov Gb,Eb"],
  [0x8b, "mov Gv,Ev"],
  [0x8c, ["mov Evw,Sw", "mov Evw,Sw", "mov Evw,Sw", "mov Evw,Sw", "mov Evw,Sw", "mov Evw,Sw", "", ""]],
  [0x8d, "lea Gv,M"],
  [0x8e, ["mov Sw,Evw", "", "mov Sw,Evw", "mov Sw,Evw", "mov Sw,Evw", "mov Sw,Evw", "", ""]],
  [0x8f, ["pop Ev", "", "", "", "", "", "", ""]], // reg != 0 is XOP in later CPUs: #UD here
  [0x90, { np: "nop", "66": SAME_AS_NP, F2: SAME_AS_NP, F3: "pause" }],
  [0x98, "cbw/cwde"],
  [0x99, "cwd/cdq"],
  [0x9a, "call Ap"],
  [0x9b, "wait"],
  [0x9c, "pushf/pushfd"],
  [0x9d, "popf/popfd"],
  [0x9e, "sahf"],
  [0x9f, "lahf"],
  [0xa0, "mov AL,Ob"],
  [0xa1, "mov eAX,Ov"],
  [0xa2, "mov Ob,AL"],
  [0xa3, "mov Ov,eAX"],
  [0xa4, "movsb Yb,Xb"],
  [0xa5, "movsw/movsd Yv,Xv"],
  [0xa6, "cmpsb Xb,Yb"],
  [0xa7, "cmpsw/cmpsd Xv,Yv"],
  [0xa8, "test AL,Ib"],
  [0xa9, "test eAX,Iz"],
  [0xaa, "stosb Yb,AL"],
  [0xab, "stosw/stosd Yv,eAX"],
  [0xac, "lodsb AL,Xb"],
  [0xad, "lodsw/lodsd eAX,Xv"],
  [0xae, "scasb AL,Yb"],
  [0xaf, "scasw/scasd eAX,Yv"],
  [0xc0, group2("Eb,Ib")],
  [0xc1, group2("Ev,Ib")],
  [0xc2, "ret Iw"],
  [0xc3, "ret"],
  [0xc4, "les Gv,Mp"], // mod = 3 is VEX in later CPUs: #UD here
  [0xc5, "lds Gv,Mp"], // likewise
  // C6/C7 /1-/7 keep the immediate so an 8086 profile (no #UD) still gets the length right.
  [0xc6, ["mov Eb,Ib", ...new Array<Spec>(7).fill("mov Eb,Ib undefined")]],
  [0xc7, ["mov Ev,Iz", ...new Array<Spec>(7).fill("mov Ev,Iz undefined")]],
  [0xc8, "enter Iw,Ib2"],
  [0xc9, "leave"],
  [0xca, "retf Iw"],
  [0xcb, "retf"],
  [0xcc, "int3"],
  [0xcd, "int Ib"],
  [0xce, "into"],
  [0xcf, "iret/iretd"],
  [0xd0, group2("Eb,1")],
  [0xd1, group2("Ev,1")],
  [0xd2, group2("Eb,CL")],
  [0xd3, group2("Ev,CL")],
  [0xd4, "aam Ib"],
  [0xd5, "aad Ib"],
  [0xd6, "salc"],
  [0xd7, "xlatb Mxlat"],
  [0xe0, "loopne Jb"],
  [0xe1, "loope Jb"],
  [0xe2, "loop Jb"],
  [0xe3, "jcxz/jecxz Jb asize"],
  [0xe4, "in AL,Ib"],
  [0xe5, "in eAX,Ib"],
  [0xe6, "out Ib,AL"],
  [0xe7, "out Ib,eAX"],
  [0xe8, "call Jz"],
  [0xe9, "jmp Jz"],
  [0xea, "jmp Ap"],
  [0xeb, "jmp Jb"],
  [0xec, "in AL,DX"],
  [0xed, "in eAX,DX"],
  [0xee, "out DX,AL"],
  [0xef, "out DX,eAX"],
  [0xf1, "int1"],
  [0xf4, "hlt"],
  [0xf5, "cmc"],
  [
    0xf6,
    ["test Eb,Ib", "test Eb,Ib", "not Eb lock", "neg Eb lock", "mul Eb", "imul Eb", "div Eb", "idiv Eb"],
  ],
  [
    0xf7,
    ["test Ev,Iz", "test Ev,Iz", "not Ev lock", "neg Ev lock", "mul Ev", "imul Ev", "div Ev", "idiv Ev"],
  ],
  [0xf8, "clc"],
  [0xf9, "stc"],
  [0xfa, "cli"],
  [0xfb, "sti"],
  [0xfc, "cld"],
  [0xfd, "std"],
  [0xfe, ["inc Eb lock", "dec Eb lock", "", "", "", "", "", ""]],
  [0xff, ["inc Ev lock", "dec Ev lock", "call Ev", "call Mp", "jmp Ev", "jmp Mp", "push Ev", ""]],
);

// -------------------------------------------------------------------------------------------------
// x87 escapes D8-DF: memory forms by ModRM.reg, register forms by ModRM.reg and sometimes ModRM.rm.
const ARITH_X87 = ["fadd", "fmul", "fcom", "fcomp", "fsub", "fsubr", "fdiv", "fdivr"];
const rm = (names: readonly string[]): RmSpec => ({ rm: names });
ONE_BYTE.push(
  [
    0xd8,
    {
      mem: ARITH_X87.map((name) => `${name} Md`),
      reg: ARITH_X87.map((name) => `${name} ST,STi`),
    },
  ],
  [
    0xd9,
    {
      mem: ["fld Md", "", "fst Md", "fstp Md", "fldenv Menv", "fldcw Mw", "fnstenv Menv", "fnstcw Mw"],
      reg: [
        "fld STi",
        "fxch ST,STi",
        rm(["fnop", "", "", "", "", "", "", ""]),
        "fstpnce STi", // undocumented alias of FSTP
        rm(["fchs", "fabs", "", "", "ftst", "fxam", "", ""]),
        rm(["fld1", "fldl2t", "fldl2e", "fldpi", "fldlg2", "fldln2", "fldz", ""]),
        rm(["f2xm1", "fyl2x", "fptan", "fpatan", "fxtract", "fprem1", "fdecstp", "fincstp"]),
        rm(["fprem", "fyl2xp1", "fsqrt", "fsincos", "frndint", "fscale", "fsin", "fcos"]),
      ],
    },
  ],
  [
    0xda,
    {
      mem: ["fiadd", "fimul", "ficom", "ficomp", "fisub", "fisubr", "fidiv", "fidivr"].map((n) => `${n} Md`),
      reg: [
        "fcmovb ST,STi",
        "fcmove ST,STi",
        "fcmovbe ST,STi",
        "fcmovu ST,STi",
        "",
        rm(["", "fucompp", "", "", "", "", "", ""]),
        "",
        "",
      ],
    },
  ],
  [
    0xdb,
    {
      // /1 is FISTTP (SSE3), not on this CPU.
      mem: ["fild Md", "", "fist Md", "fistp Md", "", "fld Mt", "", "fstp Mt"],
      reg: [
        "fcmovnb ST,STi",
        "fcmovne ST,STi",
        "fcmovnbe ST,STi",
        "fcmovnu ST,STi",
        rm(["fneni", "fndisi", "fnclex", "fninit", "fnsetpm", "", "", ""]), // ENI/DISI/SETPM: NOPs
        "fucomi ST,STi",
        "fcomi ST,STi",
        "",
      ],
    },
  ],
  [
    0xdc,
    {
      mem: ARITH_X87.map((name) => `${name} Mq`),
      // The register forms of /4-/7 swap SUB/SUBR and DIV/DIVR; /2 and /3 are aliases of D8.
      reg: [
        "fadd STi,ST",
        "fmul STi,ST",
        "fcom ST,STi",
        "fcomp ST,STi",
        "fsubr STi,ST",
        "fsub STi,ST",
        "fdivr STi,ST",
        "fdiv STi,ST",
      ],
    },
  ],
  [
    0xdd,
    {
      mem: ["fld Mq", "", "fst Mq", "fstp Mq", "frstor Mstate", "", "fnsave Mstate", "fnstsw Mw"],
      reg: ["ffree STi", "fxch ST,STi", "fst STi", "fstp STi", "fucom ST,STi", "fucomp ST,STi", "", ""],
    },
  ],
  [
    0xde,
    {
      mem: ["fiadd", "fimul", "ficom", "ficomp", "fisub", "fisubr", "fidiv", "fidivr"].map((n) => `${n} Mw`),
      reg: [
        "faddp STi,ST",
        "fmulp STi,ST",
        "fcomp ST,STi",
        rm(["", "fcompp", "", "", "", "", "", ""]),
        "fsubrp STi,ST",
        "fsubp STi,ST",
        "fdivrp STi,ST",
        "fdivp STi,ST",
      ],
    },
  ],
  [
    0xdf,
    {
      mem: ["fild Mw", "", "fist Mw", "fistp Mw", "fbld Mt", "fild Mq", "fbstp Mt", "fistp Mq"],
      reg: [
        "ffreep STi",
        "fxch ST,STi",
        "fstp STi",
        "fstp STi",
        rm(["fnstsw AX", "", "", "", "", "", "", ""]),
        "fucomip ST,STi",
        "fcomip ST,STi",
        "",
      ],
    },
  ],
);

// -------------------------------------------------------------------------------------------------
// 0F map: integer instructions through the P6 family, MMX, SSE and SSE2. Anything not listed is #UD,
// including later extensions (SSE3, POPCNT, VMX, XSAVE...) and 0F 0F (3DNow!), 0F 38, 0F 3A.
const TWO_BYTE: [number, Spec][] = [];
for (let cc = 0; cc < 16; cc++) {
  TWO_BYTE.push([0x40 + cc, `cmov${CONDITIONS[cc]} Gv,Ev`]);
  TWO_BYTE.push([0x80 + cc, `j${CONDITIONS[cc]} Jz`]);
  TWO_BYTE.push([0x90 + cc, `set${CONDITIONS[cc]} Eb`]);
}
for (let r = 0; r < 8; r++) TWO_BYTE.push([0xc8 + r, "bswap Zv"]);
for (let op = 0x19; op <= 0x1e; op++) TWO_BYTE.push([op, "nop Ev,Gv"]); // reserved-NOP space
const CR_VALID = [true, false, true, true, true, false, false, false]; // CR0, CR2, CR3, CR4
const byCr = (spec: string): Spec[] => CR_VALID.map((valid) => (valid ? spec : ""));

/** MMX instructions with an SSE2 form on 66: `name Pq,Qq` / `name Vx,Wx`. */
function mmxSse2(name: string, mmxSource = "Qq", mmxExtension = "mmx"): PrefixSpec {
  return { np: `${name} Pq,${mmxSource} ${mmxExtension}`, "66": `${name} Vx,Wx sse2` };
}
/** SSE arithmetic in its four forms: ps (np), pd (66), ss (F3), sd (F2). */
function sseArith(name: string): PrefixSpec {
  return {
    np: `${name}ps Vx,Wx sse`,
    "66": `${name}pd Vx,Wx sse2`,
    F3: `${name}ss Vx,Wd sse`,
    F2: `${name}sd Vx,Wq sse2`,
  };
}
/** [opcode, name, extension of the MMX form]; the 66 form is always SSE2. */
const MMX_SSE2: [number, string, string?][] = [
  [0x63, "packsswb"],
  [0x64, "pcmpgtb"],
  [0x65, "pcmpgtw"],
  [0x66, "pcmpgtd"],
  [0x67, "packuswb"],
  [0x68, "punpckhbw"],
  [0x69, "punpckhwd"],
  [0x6a, "punpckhdq"],
  [0x6b, "packssdw"],
  [0x74, "pcmpeqb"],
  [0x75, "pcmpeqw"],
  [0x76, "pcmpeqd"],
  [0xd1, "psrlw"],
  [0xd2, "psrld"],
  [0xd3, "psrlq"],
  [0xd4, "paddq", "sse2"],
  [0xd5, "pmullw"],
  [0xd8, "psubusb"],
  [0xd9, "psubusw"],
  [0xda, "pminub", "sse"],
  [0xdb, "pand"],
  [0xdc, "paddusb"],
  [0xdd, "paddusw"],
  [0xde, "pmaxub", "sse"],
  [0xdf, "pandn"],
  [0xe0, "pavgb", "sse"],
  [0xe1, "psraw"],
  [0xe2, "psrad"],
  [0xe3, "pavgw", "sse"],
  [0xe4, "pmulhuw", "sse"],
  [0xe5, "pmulhw"],
  [0xe8, "psubsb"],
  [0xe9, "psubsw"],
  [0xea, "pminsw", "sse"],
  [0xeb, "por"],
  [0xec, "paddsb"],
  [0xed, "paddsw"],
  [0xee, "pmaxsw", "sse"],
  [0xef, "pxor"],
  [0xf1, "psllw"],
  [0xf2, "pslld"],
  [0xf3, "psllq"],
  [0xf4, "pmuludq", "sse2"],
  [0xf5, "pmaddwd"],
  [0xf6, "psadbw", "sse"],
  [0xf8, "psubb"],
  [0xf9, "psubw"],
  [0xfa, "psubd"],
  [0xfb, "psubq", "sse2"],
  [0xfc, "paddb"],
  [0xfd, "paddw"],
  [0xfe, "paddd"],
];
for (const [op, name, extension] of MMX_SSE2) TWO_BYTE.push([op, mmxSse2(name, "Qq", extension)]);
for (const [op, name] of [
  [0x51, "sqrt"],
  [0x58, "add"],
  [0x59, "mul"],
  [0x5c, "sub"],
  [0x5d, "min"],
  [0x5e, "div"],
  [0x5f, "max"],
] as const) {
  TWO_BYTE.push([op, sseArith(name)]);
}
/** MMX/SSE2 shift-by-immediate groups 0F 71-73: ModRM.reg picks the operation, register forms only. */
function shiftGroup(names: readonly string[]): PrefixSpec {
  return {
    np: names.map((name) => (name === "" || name.endsWith("dq") ? "" : `${name} Nq,Ib mmx`)),
    "66": names.map((name) => (name === "" ? "" : `${name} Ux,Ib sse2`)),
  };
}

TWO_BYTE.push(
  [0x00, ["sldt Evw", "str Evw", "lldt Evw", "ltr Evw", "verr Evw", "verw Evw", "", ""]],
  [
    0x01,
    {
      mem: ["sgdt Ms", "sidt Ms", "lgdt Ms", "lidt Ms", "smsw Evw", "", "lmsw Evw", "invlpg M"],
      // The register forms of /0-/3, /5 and /7 are later extensions (VMX, MONITOR, XGETBV, RDTSCP...).
      reg: ["", "", "", "", "smsw Evw", "", "lmsw Evw", ""],
    },
  ],
  [0x02, "lar Gv,Evw"],
  [0x03, "lsl Gv,Evw"],
  [0x06, "clts"],
  [0x08, "invd"],
  [0x09, "wbinvd"],
  [0x0b, "ud2 ud"],
  [0x0d, "nop Ev"], // hint space (AMD PREFETCH/PREFETCHW)
  [
    0x10,
    { np: "movups Vx,Wx sse", "66": "movupd Vx,Wx sse2", F3: "movss Vx,Wd sse", F2: "movsd Vx,Wq sse2" },
  ],
  [
    0x11,
    { np: "movups Wx,Vx sse", "66": "movupd Wx,Vx sse2", F3: "movss Wd,Vx sse", F2: "movsd Wq,Vx sse2" },
  ],
  [0x12, { np: { mem: "movlps Vx,Mq sse", reg: "movhlps Vx,Ux sse" }, "66": "movlpd Vx,Mq sse2" }],
  [0x13, { np: "movlps Mq,Vx sse", "66": "movlpd Mq,Vx sse2" }],
  [0x14, { np: "unpcklps Vx,Wx sse", "66": "unpcklpd Vx,Wx sse2" }],
  [0x15, { np: "unpckhps Vx,Wx sse", "66": "unpckhpd Vx,Wx sse2" }],
  [0x16, { np: { mem: "movhps Vx,Mq sse", reg: "movlhps Vx,Ux sse" }, "66": "movhpd Vx,Mq sse2" }],
  [0x17, { np: "movhps Mq,Vx sse", "66": "movhpd Mq,Vx sse2" }],
  [
    0x18,
    {
      mem: [
        "prefetchnta Mb sse",
        "prefetcht0 Mb sse",
        "prefetcht1 Mb sse",
        "prefetcht2 Mb sse",
        ...new Array(4).fill("nop Ev,Gv"),
      ],
      reg: "nop Ev,Gv",
    },
  ],
  [0x1f, "nop Ev"],
  [0x20, byCr("mov Rd,Cd")],
  [0x21, "mov Rd,Dd"],
  [0x22, byCr("mov Cd,Rd")],
  [0x23, "mov Dd,Rd"],
  [0x28, { np: "movaps Vx,Wx sse", "66": "movapd Vx,Wx sse2" }],
  [0x29, { np: "movaps Wx,Vx sse", "66": "movapd Wx,Vx sse2" }],
  [
    0x2a,
    {
      np: "cvtpi2ps Vx,Qq sse",
      "66": "cvtpi2pd Vx,Qq sse2",
      F3: "cvtsi2ss Vx,Ed sse",
      F2: "cvtsi2sd Vx,Ed sse2",
    },
  ],
  [0x2b, { np: "movntps Mdq,Vx sse", "66": "movntpd Mdq,Vx sse2" }],
  [
    0x2c,
    {
      np: "cvttps2pi Pq,Wq sse",
      "66": "cvttpd2pi Pq,Wx sse2",
      F3: "cvttss2si Gd,Wd sse",
      F2: "cvttsd2si Gd,Wq sse2",
    },
  ],
  [
    0x2d,
    {
      np: "cvtps2pi Pq,Wq sse",
      "66": "cvtpd2pi Pq,Wx sse2",
      F3: "cvtss2si Gd,Wd sse",
      F2: "cvtsd2si Gd,Wq sse2",
    },
  ],
  [0x2e, { np: "ucomiss Vx,Wd sse", "66": "ucomisd Vx,Wq sse2" }],
  [0x2f, { np: "comiss Vx,Wd sse", "66": "comisd Vx,Wq sse2" }],
  [0x30, "wrmsr"],
  [0x31, "rdtsc"],
  [0x32, "rdmsr"],
  [0x33, "rdpmc"],
  [0x34, "sysenter"],
  [0x35, "sysexit"],
  [0x50, { np: "movmskps Gd,Ux sse", "66": "movmskpd Gd,Ux sse2" }],
  [0x52, { np: "rsqrtps Vx,Wx sse", F3: "rsqrtss Vx,Wd sse" }],
  [0x53, { np: "rcpps Vx,Wx sse", F3: "rcpss Vx,Wd sse" }],
  [0x54, { np: "andps Vx,Wx sse", "66": "andpd Vx,Wx sse2" }],
  [0x55, { np: "andnps Vx,Wx sse", "66": "andnpd Vx,Wx sse2" }],
  [0x56, { np: "orps Vx,Wx sse", "66": "orpd Vx,Wx sse2" }],
  [0x57, { np: "xorps Vx,Wx sse", "66": "xorpd Vx,Wx sse2" }],
  [
    0x5a,
    {
      np: "cvtps2pd Vx,Wq sse2",
      "66": "cvtpd2ps Vx,Wx sse2",
      F3: "cvtss2sd Vx,Wd sse2",
      F2: "cvtsd2ss Vx,Wq sse2",
    },
  ],
  [0x5b, { np: "cvtdq2ps Vx,Wx sse2", "66": "cvtps2dq Vx,Wx sse2", F3: "cvttps2dq Vx,Wx sse2" }],
  [0x60, mmxSse2("punpcklbw", "Qd")],
  [0x61, mmxSse2("punpcklwd", "Qd")],
  [0x62, mmxSse2("punpckldq", "Qd")],
  [0x6c, { "66": "punpcklqdq Vx,Wx sse2" }],
  [0x6d, { "66": "punpckhqdq Vx,Wx sse2" }],
  [0x6e, { np: "movd Pq,Ed mmx", "66": "movd Vx,Ed sse2" }],
  [0x6f, { np: "movq Pq,Qq mmx", "66": "movdqa Vx,Wx sse2", F3: "movdqu Vx,Wx sse2" }],
  [
    0x70,
    {
      np: "pshufw Pq,Qq,Ib sse",
      "66": "pshufd Vx,Wx,Ib sse2",
      F3: "pshufhw Vx,Wx,Ib sse2",
      F2: "pshuflw Vx,Wx,Ib sse2",
    },
  ],
  [0x71, shiftGroup(["", "", "psrlw", "", "psraw", "", "psllw", ""])],
  [0x72, shiftGroup(["", "", "psrld", "", "psrad", "", "pslld", ""])],
  [0x73, shiftGroup(["", "", "psrlq", "psrldq", "", "", "psllq", "pslldq"])],
  [0x77, { np: "emms mmx" }],
  [0x7e, { np: "movd Ed,Pq mmx", "66": "movd Ed,Vx sse2", F3: "movq Vx,Wq sse2" }],
  [0x7f, { np: "movq Qq,Pq mmx", "66": "movdqa Wx,Vx sse2", F3: "movdqu Wx,Vx sse2" }],
  [0xa0, "push FS"],
  [0xa1, "pop FS"],
  [0xa2, "cpuid"],
  [0xa3, "bt Ev,Gv"],
  [0xa4, "shld Ev,Gv,Ib"],
  [0xa5, "shld Ev,Gv,CL"],
  [0xa8, "push GS"],
  [0xa9, "pop GS"],
  [0xaa, "rsm"],
  [0xab, "bts Ev,Gv lock"],
  [0xac, "shrd Ev,Gv,Ib"],
  [0xad, "shrd Ev,Gv,CL"],
  [
    0xae,
    {
      // No 66/F2/F3 ("NP" in the SDM): those select later instructions (CLFLUSHOPT, PTWRITE...), and
      // the /4-/6 memory forms are the XSAVE family, also later than SSE2.
      np: {
        mem: [
          "fxsave Mfx fxsr",
          "fxrstor Mfx fxsr",
          "ldmxcsr Md sse",
          "stmxcsr Md sse",
          "",
          "",
          "",
          "clflush Mb sse2",
        ],
        reg: ["", "", "", "", "", "lfence sse2", "mfence sse2", "sfence sse"],
      },
    },
  ],
  [0xaf, "imul Gv,Ev"],
  [0xb0, "cmpxchg Eb,Gb lock"],
  [0xb1, "cmpxchg Ev,Gv lock"],
  [0xb2, "lss Gv,Mp"],
  [0xb3, "btr Ev,Gv lock"],
  [0xb4, "lfs Gv,Mp"],
  [0xb5, "lgs Gv,Mp"],
  [0xb6, "movzx Gv,Eb"],
  [0xb7, "movzx Gv,Ew"],
  [0xb9, "ud1 Gv,Ev ud"],
  [0xba, ["", "", "", "", "bt Ev,Ib", "bts Ev,Ib lock", "btr Ev,Ib lock", "btc Ev,Ib lock"]],
  [0xbb, "btc Ev,Gv lock"],
  [0xbc, "bsf Gv,Ev"], // F3 (TZCNT on later CPUs) is a REP prefix here
  [0xbd, "bsr Gv,Ev"], // likewise LZCNT
  [0xbe, "movsx Gv,Eb"],
  [0xbf, "movsx Gv,Ew"],
  [0xc0, "xadd Eb,Gb lock"],
  [0xc1, "xadd Ev,Gv lock"],
  [
    0xc2,
    {
      np: "cmpps Vx,Wx,Ib sse",
      "66": "cmppd Vx,Wx,Ib sse2",
      F3: "cmpss Vx,Wd,Ib sse",
      F2: "cmpsd Vx,Wq,Ib sse2",
    },
  ],
  [0xc3, { np: "movnti Md,Gd sse2" }],
  [0xc4, { np: "pinsrw Pq,Edw,Ib sse", "66": "pinsrw Vx,Edw,Ib sse2" }],
  [0xc5, { np: "pextrw Gd,Nq,Ib sse", "66": "pextrw Gd,Ux,Ib sse2" }],
  [0xc6, { np: "shufps Vx,Wx,Ib sse", "66": "shufpd Vx,Wx,Ib sse2" }],
  [0xc7, ["", "cmpxchg8b Mq lock", "", "", "", "", "", ""]],
  [0xd6, { "66": "movq Wq,Vx sse2", F3: "movq2dq Vx,Nq sse2", F2: "movdq2q Pq,Ux sse2" }],
  [0xd7, { np: "pmovmskb Gd,Nq sse", "66": "pmovmskb Gd,Ux sse2" }],
  [0xe6, { "66": "cvttpd2dq Vx,Wx sse2", F3: "cvtdq2pd Vx,Wq sse2", F2: "cvtpd2dq Vx,Wx sse2" }],
  [0xe7, { np: "movntq Mq,Pq sse", "66": "movntdq Mdq,Vx sse2" }],
  [0xf7, { np: "maskmovq Mdiq,Pq,Nq sse", "66": "maskmovdqu Mdidq,Vx,Ux sse2" }],
  [0xff, "ud0 Gv,Ev ud"],
);

// -------------------------------------------------------------------------------------------------
// Compilation into typed arrays.

const attributes: number[] = [];
const operands: number[] = [];
const mnemonics: number[] = [];
const children: number[] = [];
const mnemonicNames: string[] = [""];
const mnemonicCodes = new Map<string, number>([["", 0]]);
const leafForms = new Map<string, number>();

function newForm(): number {
  attributes.push(UNDEFINED);
  operands.push(0);
  mnemonics.push(0);
  return attributes.length - 1;
}

function isPrefixSpec(spec: object): spec is PrefixSpec {
  return "np" in spec || "66" in spec || "F3" in spec || "F2" in spec;
}

/** Whether the decoder must read a ModRM byte to decode this spec. */
function needsModrm(spec: Spec): boolean {
  if (typeof spec === "string") return (leafAttributes(spec, false).attributes & HAS_MODRM) !== 0;
  if (Array.isArray(spec) || "mem" in spec || "reg" in spec || "rm" in spec) return true;
  const prefixSpec = spec as PrefixSpec;
  const parts = [prefixSpec.np, prefixSpec["66"], prefixSpec.F3, prefixSpec.F2].filter(
    (part): part is Spec => part !== undefined && part !== "" && part !== SAME_AS_NP,
  );
  const modrm = parts.map(needsModrm);
  if (modrm.some((m) => m !== modrm[0])) throw new Error("prefix split mixes forms with and without ModRM");
  return modrm[0] ?? false;
}

function leafAttributes(spec: string, mandatory: boolean): { attributes: number; operands: number } {
  if (spec === "") return { attributes: UNDEFINED, operands: 0 };
  const tokens = spec.split(" ");
  let value = mandatory ? MANDATORY_PREFIX : 0;
  let packed = 0;
  let count = 0;
  let immediates = "";
  for (let t = 1; t < tokens.length; t++) {
    const token = tokens[t];
    if (token === "lock") value |= LOCKABLE;
    else if (token === "ud") value |= RAISES_UD;
    else if (token === "undefined") value |= UNDEFINED;
    else if (token === "asize") value |= MNEMONIC_BY_ADDRESS_SIZE;
    else if (token === "mmx") value |= EXT_MMX;
    else if (token === "fxsr") value |= EXT_FXSR;
    else if (token === "sse") value |= EXT_SSE;
    else if (token === "sse2") value |= EXT_SSE2;
    else if (t === 1) {
      for (const name of token.split(",")) {
        const code = operandKindCode(name);
        const location = OPERAND_KINDS[code].location;
        if (location === LOC_REG || location === LOC_RM) value |= HAS_MODRM;
        else if (location === LOC_RM_REGISTER) value |= HAS_MODRM | REGISTER_ONLY;
        else if (location === LOC_MEMORY) value |= HAS_MODRM | MEMORY_ONLY;
        else if (location === LOC_RM_FORCED_REGISTER) value |= HAS_MODRM | MOD_IGNORED;
        else if (
          location === LOC_IMMEDIATE ||
          location === LOC_IMMEDIATE2 ||
          location === LOC_BRANCH ||
          location === LOC_FAR_POINTER ||
          location === LOC_MOFFS
        ) {
          immediates += `${immediates === "" ? "" : ","}${name}`;
        }
        packed |= code << (8 * count++);
      }
      if (count > 4) throw new Error(`more than four operands: ${spec}`);
    } else throw new Error(`bad opcode spec "${spec}"`);
  }
  if ((value & ALL_EXTENSIONS) === 0 && usesSimdRegisters(packed)) throw new Error(`no extension: ${spec}`);
  return { attributes: value | (immediateKind(immediates, spec) << IMM_SHIFT), operands: packed >>> 0 };
}

function usesSimdRegisters(packed: number): boolean {
  for (let n = 0; n < 4; n++) {
    const file = OPERAND_KINDS[(packed >>> (8 * n)) & 0xff].registerFile;
    if (OPERAND_KINDS[(packed >>> (8 * n)) & 0xff].location !== 0 && (file === REG_MMX || file === REG_XMM)) {
      return true;
    }
  }
  return false;
}

function immediateKind(immediates: string, spec: string): number {
  switch (immediates) {
    case "":
      return IMM_NONE;
    case "Ib":
    case "Ibs":
    case "Jb":
      return IMM_B;
    case "Iw":
      return IMM_W;
    case "Iz":
    case "Jz":
      return IMM_Z;
    case "Iv":
      return IMM_V;
    case "Ap":
      return IMM_FAR;
    case "Ob":
    case "Ov":
      return IMM_MOFFS;
    case "Iw,Ib2":
      return IMM_ENTER;
    default:
      throw new Error(`unsupported immediate combination in "${spec}"`);
  }
}

function mnemonicCode(name: string): number {
  let code = mnemonicCodes.get(name);
  if (code === undefined) {
    code = mnemonicNames.length;
    mnemonicNames.push(name);
    mnemonicCodes.set(name, code);
  }
  return code;
}

/** Compiles a spec into form `at` (an opcode's own form) or a new or shared form; returns the form. */
function compile(spec: Spec, at: number, mandatory: boolean, modrm: boolean): number {
  if (typeof spec === "string") {
    const key = `${spec}|${mandatory}|${modrm}`;
    const shared = at < 0 ? leafForms.get(key) : undefined;
    if (shared !== undefined) return shared;
    const form = at >= 0 ? at : newForm();
    const leaf = leafAttributes(spec, mandatory);
    attributes[form] = leaf.attributes | (modrm ? HAS_MODRM : 0);
    operands[form] = leaf.operands;
    mnemonics[form] = mnemonicCode(spec.split(" ")[0]);
    if (at < 0) leafForms.set(key, form);
    return form;
  }
  const form = at >= 0 ? at : newForm();
  let select: number;
  let parts: (Spec | undefined)[];
  if (Array.isArray(spec)) {
    if (spec.length !== 8) throw new Error("a ModRM.reg split needs 8 entries");
    select = SELECT_REG;
    parts = spec;
  } else if ("rm" in spec) {
    select = SELECT_RM;
    parts = (spec as RmSpec).rm as Spec[];
  } else if (isPrefixSpec(spec)) {
    select = SELECT_PREFIX;
    parts = [spec.np, spec["66"], spec.F3, spec.F2];
  } else {
    select = SELECT_MOD;
    parts = [(spec as ModSpec).mem, (spec as ModSpec).reg];
  }
  const base = children.length;
  for (let c = 0; c < parts.length; c++) children.push(0);
  for (let c = 0; c < parts.length; c++) {
    const part = parts[c] ?? "";
    if (part === SAME_AS_NP) children[base + c] = children[base];
    else children[base + c] = compile(part, -1, mandatory || (select === SELECT_PREFIX && c > 0), modrm);
  }
  attributes[form] = select | (modrm ? HAS_MODRM : 0) | (base << CHILD_SHIFT);
  return form;
}

for (let op = 0; op < OPCODE_SPACE; op++) newForm();
for (const [op, spec] of ONE_BYTE) compile(spec, op, false, needsModrm(spec));
for (const [op, spec] of TWO_BYTE) compile(spec, 0x100 | op, false, needsModrm(spec));
if (children.length >= 1 << 16) throw new Error("opcode table too large");

/** Per form: SELECT_*, flags, immediate kind, selector child base (see the constants above). */
export const FORM_ATTRIBUTES = Uint32Array.from(attributes);
/** Per leaf form: up to four operand-kind codes, one per byte, operand 0 in the low byte. */
export const FORM_OPERANDS = Uint32Array.from(operands);
/** Per leaf form: index into MNEMONICS. */
export const FORM_MNEMONICS = Uint16Array.from(mnemonics);
/** Selector children: forms, in blocks of 2 (mod), 4 (prefix) or 8 (reg, rm). */
export const SELECTOR_CHILDREN = Uint16Array.from(children);
/** Mnemonics; "a/b" names depend on operand size (or address size with MNEMONIC_BY_ADDRESS_SIZE). */
export const MNEMONICS: readonly string[] = mnemonicNames;

/** The number of operands of a leaf form. */
export function formOperandCount(form: number): number {
  let packed = FORM_OPERANDS[form];
  let count = 0;
  while (packed !== 0) {
    count++;
    packed >>>= 8;
  }
  return count;
}

/** The kind code (OPERAND_KINDS index) of operand `index` of a leaf form. */
export function formOperand(form: number, index: number): number {
  return (FORM_OPERANDS[form] >>> (8 * index)) & 0xff;
}

/** The mnemonic of a leaf form for the given operand and address sizes (in bytes: 2 or 4). */
export function formMnemonic(form: number, operandBytes: number, addressBytes: number): string {
  const names = MNEMONICS[FORM_MNEMONICS[form]].split("/");
  const bytes = (FORM_ATTRIBUTES[form] & MNEMONIC_BY_ADDRESS_SIZE) !== 0 ? addressBytes : operandBytes;
  return names.length === 1 || bytes === 2 ? names[0] : names[1];
}

import type { Instruction } from "./decoder.js";

/**
 * Which instructions may run back to back inside one code page without the run loop's per-instruction
 * checks (Cpu.runInPage). Such an instruction changes no state those checks watch: not CS, CPL, the
 * code size or limit, CR0/CR3/CR4 or the TLB, IF, TF, RF, the interrupt shadow, the debug registers or
 * the halted state, and it does no port I/O. It may fault (the fault is delivered as usual), touch MMIO
 * (the access stops the loop) or branch near (the loop goes on if the target is in the same page).
 * Everything else (far transfers, INT/IRET, POPF, CLI/STI, segment loads, MOV CRn, HLT, IN/OUT, x87,
 * CPUID/RDTSC/MSRs, REP strings) goes through the full step, as before.
 */
/** Instruction.straightLineAs: straight-line, decoded for 16-bit or 32-bit code. */
export const STRAIGHT_LINE_16 = 1;
export const STRAIGHT_LINE_32 = 2;

const ALWAYS = 1;
/** String instructions: only without a REP prefix (a REP one may stop between iterations). */
const WITHOUT_REP = 2;
/** Groups whose ModRM.reg picks forms of both kinds (FF, 0F C7). */
const BY_REG = 3;

const KIND = new Uint8Array(0x200);

function mark(kind: number, ...ranges: Array<number | [number, number]>): void {
  for (const range of ranges) {
    const [first, last] = typeof range === "number" ? [range, range] : range;
    for (let op = first; op <= last; op++) KIND[op] = kind;
  }
}

// One-byte map. ALU forms 00-3D (not the segment pushes/pops 06/07/0E/0F/16/17/1E/1F), DAA..AAS.
for (let op = 0; op < 0x40; op++) if ((op & 7) < 6) KIND[op] = ALWAYS;
mark(ALWAYS, 0x27, 0x2f, 0x37, 0x3f);
mark(ALWAYS, [0x40, 0x63], [0x68, 0x6b]); // INC/DEC/PUSH/POP reg, PUSHA/POPA, BOUND, ARPL, PUSH imm, IMUL
mark(ALWAYS, [0x70, 0x7f]); // Jcc rel8
mark(ALWAYS, [0x80, 0x8d], 0x8f); // group 1, TEST, XCHG, MOV, MOV r/m from Sreg, LEA, POP r/m (not 8E: MOV Sreg)
mark(ALWAYS, [0x90, 0x99], 0x9c, 0x9e, 0x9f); // XCHG/NOP, CBW/CWD, PUSHF, SAHF, LAHF (not 9A, 9B, 9D)
mark(ALWAYS, [0xa0, 0xa3], 0xa8, 0xa9, [0xb0, 0xbf]); // MOV moffs, TEST, MOV imm
mark(WITHOUT_REP, [0xa4, 0xa7], [0xaa, 0xaf]); // MOVS, CMPS, STOS, LODS, SCAS
mark(ALWAYS, [0xc0, 0xc3], 0xc6, 0xc7, 0xc8, 0xc9); // shifts, RET near, MOV imm, ENTER, LEAVE
mark(ALWAYS, [0xd0, 0xd7]); // shifts, AAM, AAD, SALC, XLAT
mark(ALWAYS, [0xe0, 0xe3], 0xe8, 0xe9, 0xeb); // LOOP/JCXZ, CALL/JMP rel
mark(ALWAYS, 0xf5, 0xf6, 0xf7, 0xf8, 0xf9, 0xfc, 0xfd, 0xfe); // CMC, group 3, CLC, STC, CLD, STD, group 4
mark(BY_REG, 0xff); // group 5: INC, DEC, CALL/JMP near, PUSH; not CALL/JMP far
// Two-byte map.
mark(ALWAYS, 0x11f, [0x140, 0x14f], [0x180, 0x19f]); // NOP r/m, CMOVcc, Jcc rel32, SETcc
mark(ALWAYS, 0x1a3, 0x1a4, 0x1a5, 0x1ab, 0x1ac, 0x1ad, 0x1af); // BT, SHLD, BTS, SHRD, IMUL
mark(ALWAYS, 0x1b0, 0x1b1, 0x1b3, [0x1b6, 0x1b7], [0x1ba, 0x1bf]); // CMPXCHG, BTR, MOVZX, group 8, BTC, BSF/BSR, MOVSX
mark(ALWAYS, 0x1c0, 0x1c1, [0x1c8, 0x1cf]); // XADD, BSWAP
mark(BY_REG, 0x1c7); // group 9: CMPXCHG8B only

/** Whether `insn` may run in a straight-line run (see above). */
export function isStraightLine(insn: Instruction): boolean {
  const kind = KIND[insn.opcode];
  if (kind === ALWAYS) return true;
  if (kind === WITHOUT_REP) return insn.rep === 0;
  if (kind === BY_REG) {
    if (insn.opcode === 0xff) return insn.reg !== 3 && insn.reg !== 5 && insn.reg !== 7;
    return insn.reg === 1 && insn.mod !== 3; // 0F C7 /1 m64: CMPXCHG8B
  }
  return false;
}

/**
 * Decode attributes of the one-byte map (0x000-0x0FF) and the 0F map (0x100-0x1FF): whether an opcode
 * has a ModRM byte, which immediate follows, whether it is defined and whether LOCK may prefix it.
 * 0F38/0F3A maps and VEX/REX-only forms get their own ranges later (0x200+).
 */
export const HAS_MODRM = 1 << 0;
export const LOCKABLE = 1 << 1;
export const UNDEFINED = 1 << 2;
/** Immediate kinds, in bits 4..7. */
export const IMM_SHIFT = 4;
export const IMM_NONE = 0;
export const IMM_B = 1; // 8 bits, sign-extended
export const IMM_W = 2; // 16 bits, zero-extended
export const IMM_Z = 3; // 16 or 32 bits by operand size, sign-extended
export const IMM_V = 4; // 16, 32 (or 64 with REX.W) bits by operand size: MOV r, imm
export const IMM_FAR = 5; // ptr16:16/32 (far JMP/CALL): offset (Z) then selector (W)
export const IMM_MOFFS = 6; // an address-size offset (MOV AL/eAX <-> moffs)
export const IMM_ENTER = 7; // iw then ib
export const IMM_GROUP3 = 8; // F6/F7: an immediate only for /0 and /1 (TEST)

export const OPCODE_ATTRIBUTES = new Uint8Array(0x200);

function set(first: number, last: number, attributes: number): void {
  for (let op = first; op <= last; op++) OPCODE_ATTRIBUTES[op] = attributes;
}
const M = HAS_MODRM;
const imm = (kind: number) => kind << IMM_SHIFT;

// One-byte map.
for (let row = 0; row < 0x40; row += 8) {
  // ALU ops (ADD OR ADC SBB AND SUB XOR CMP): Eb,Gb / Ev,Gv / Gb,Eb / Gv,Ev / AL,Ib / eAX,Iz.
  set(row, row + 1, M | (row === 0x38 ? 0 : LOCKABLE));
  set(row + 2, row + 3, M);
  set(row + 4, row + 4, imm(IMM_B));
  set(row + 5, row + 5, imm(IMM_Z));
}
// 06/07/0E/16/17/1E/1F: PUSH/POP sreg; 26/2E/36/3E prefixes; 27/2F/37/3F: DAA DAS AAA AAS. 0F escapes.
set(0x40, 0x61, 0); // INC/DEC/PUSH/POP r, PUSHA, POPA
set(0x62, 0x63, M); // BOUND, ARPL
set(0x68, 0x68, imm(IMM_Z));
set(0x69, 0x69, M | imm(IMM_Z));
set(0x6a, 0x6a, imm(IMM_B));
set(0x6b, 0x6b, M | imm(IMM_B));
set(0x70, 0x7f, imm(IMM_B));
set(0x80, 0x80, M | LOCKABLE | imm(IMM_B));
set(0x81, 0x81, M | LOCKABLE | imm(IMM_Z));
set(0x82, 0x82, M | LOCKABLE | imm(IMM_B)); // alias of 80, not valid in 64-bit mode
set(0x83, 0x83, M | LOCKABLE | imm(IMM_B));
set(0x84, 0x85, M); // TEST
set(0x86, 0x87, M | LOCKABLE); // XCHG
set(0x88, 0x8e, M); // MOV, LEA
set(0x8f, 0x8f, M); // POP Ev
set(0x90, 0x99, 0);
set(0x9a, 0x9a, imm(IMM_FAR));
set(0x9b, 0x9f, 0);
set(0xa0, 0xa3, imm(IMM_MOFFS));
set(0xa4, 0xa7, 0);
set(0xa8, 0xa8, imm(IMM_B));
set(0xa9, 0xa9, imm(IMM_Z));
set(0xaa, 0xaf, 0);
set(0xb0, 0xb7, imm(IMM_B));
set(0xb8, 0xbf, imm(IMM_V));
set(0xc0, 0xc1, M | imm(IMM_B));
set(0xc2, 0xc2, imm(IMM_W));
set(0xc3, 0xc3, 0);
set(0xc4, 0xc5, M); // LES, LDS
set(0xc6, 0xc6, M | imm(IMM_B));
set(0xc7, 0xc7, M | imm(IMM_Z));
set(0xc8, 0xc8, imm(IMM_ENTER));
set(0xc9, 0xc9, 0);
set(0xca, 0xca, imm(IMM_W));
set(0xcb, 0xcc, 0);
set(0xcd, 0xcd, imm(IMM_B));
set(0xce, 0xcf, 0);
set(0xd0, 0xd3, M);
set(0xd4, 0xd5, imm(IMM_B));
set(0xd6, 0xd7, 0); // SALC, XLAT
set(0xd8, 0xdf, M); // x87
set(0xe0, 0xe7, imm(IMM_B)); // LOOPcc, JCXZ, IN/OUT imm8
set(0xe8, 0xe9, imm(IMM_Z));
set(0xea, 0xea, imm(IMM_FAR));
set(0xeb, 0xeb, imm(IMM_B));
set(0xec, 0xef, 0);
set(0xf1, 0xf1, 0); // INT1
set(0xf4, 0xf5, 0);
set(0xf6, 0xf7, M | LOCKABLE | imm(IMM_GROUP3));
set(0xf8, 0xfd, 0);
set(0xfe, 0xff, M | LOCKABLE);

// 0F map: everything undefined unless listed.
set(0x100, 0x1ff, UNDEFINED);
const T = 0x100;
set(T + 0x00, T + 0x03, M); // group 6, group 7, LAR, LSL
set(T + 0x06, T + 0x06, 0); // CLTS
set(T + 0x08, T + 0x09, 0); // INVD, WBINVD
set(T + 0x0b, T + 0x0b, 0); // UD2 (decodes, then raises #UD)
set(T + 0x0d, T + 0x0d, M); // NOP Ev (prefetch hint)
set(T + 0x18, T + 0x1f, M); // hint NOPs
set(T + 0x20, T + 0x23, M); // MOV to/from CR/DR
set(T + 0x30, T + 0x35, 0); // WRMSR RDTSC RDMSR RDPMC SYSENTER SYSEXIT
set(T + 0x40, T + 0x4f, M); // CMOVcc
set(T + 0x80, T + 0x8f, imm(IMM_Z)); // Jcc rel16/32
set(T + 0x90, T + 0x9f, M); // SETcc
set(T + 0xa0, T + 0xa2, 0); // PUSH FS, POP FS, CPUID
set(T + 0xa3, T + 0xa3, M); // BT
set(T + 0xa4, T + 0xa4, M | imm(IMM_B)); // SHLD ib
set(T + 0xa5, T + 0xa5, M); // SHLD cl
set(T + 0xa8, T + 0xaa, 0); // PUSH GS, POP GS, RSM
set(T + 0xab, T + 0xab, M | LOCKABLE); // BTS
set(T + 0xac, T + 0xac, M | imm(IMM_B)); // SHRD ib
set(T + 0xad, T + 0xad, M); // SHRD cl
set(T + 0xae, T + 0xae, M); // group 15 (FXSAVE/FXRSTOR...)
set(T + 0xaf, T + 0xaf, M); // IMUL Gv,Ev
set(T + 0xb0, T + 0xb1, M | LOCKABLE); // CMPXCHG
set(T + 0xb2, T + 0xb2, M); // LSS
set(T + 0xb3, T + 0xb3, M | LOCKABLE); // BTR
set(T + 0xb4, T + 0xb7, M); // LFS, LGS, MOVZX
set(T + 0xb9, T + 0xb9, M); // UD1
set(T + 0xba, T + 0xba, M | LOCKABLE | imm(IMM_B)); // group 8
set(T + 0xbb, T + 0xbb, M | LOCKABLE); // BTC
set(T + 0xbc, T + 0xbf, M); // BSF BSR MOVSX
set(T + 0xc0, T + 0xc1, M | LOCKABLE); // XADD
set(T + 0xc7, T + 0xc7, M | LOCKABLE); // group 9 (CMPXCHG8B)
set(T + 0xc8, T + 0xcf, 0); // BSWAP
set(T + 0xff, T + 0xff, M); // UD0

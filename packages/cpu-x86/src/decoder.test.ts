import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { DECODE_GP, DECODE_OK, DECODE_UD, decode, Instruction, NO_REG } from "./decoder.js";
import { SIZE16, SIZE32 } from "./flags.js";
import { ByteSource, canonicalOperand } from "./iced-format.test-support.js";
import {
  ALL_EXTENSIONS,
  EXT_FXSR,
  EXT_MMX,
  EXT_SSE,
  EXT_SSE2,
  formMnemonic,
  formOperand,
  formOperandCount,
} from "./opcode-table.js";
import { CS, DS, EBP, EBX, ES, ESI, ESP, FS, SS } from "./registers.js";

function bytesOf(hex: string): Uint8Array {
  const clean = hex.replaceAll(" ", "");
  return Uint8Array.from({ length: clean.length / 2 }, (_, i) =>
    Number.parseInt(clean.slice(2 * i, 2 * i + 2), 16),
  );
}

function decodeHex(
  hex: string,
  default32 = true,
  extensions = ALL_EXTENSIONS,
): { status: number; insn: Instruction; source: ByteSource } {
  const insn = new Instruction();
  const source = new ByteSource(bytesOf(hex));
  const status = decode(insn, source, default32, undefined, extensions);
  return { status, insn, source };
}

/** The decoded operands as text (the iced test's canonical form), with the mnemonic. */
function describeInsn(hex: string, default32 = true): string {
  const { status, insn } = decodeHex(hex, default32);
  if (status !== DECODE_OK) return `status ${status}`;
  const osize = insn.operandSize === SIZE32 ? 4 : 2;
  const asize = insn.addressSize === SIZE32 ? 4 : 2;
  const operands: string[] = [];
  for (let n = 0; n < formOperandCount(insn.form); n++) {
    operands.push(canonicalOperand(insn, formOperand(insn.form, n), 0));
  }
  return `${formMnemonic(insn.form, osize, asize)} ${operands.join(" ")}`.trim();
}

describe("instruction length limit", () => {
  it("accepts 15 bytes and raises #GP at 16", () => {
    // 14 prefixes + NOP: 15 bytes.
    expect(decodeHex(`${"26".repeat(14)}90`).status).toBe(DECODE_OK);
    expect(decodeHex(`${"26".repeat(14)}90`).insn.length).toBe(15);
    // 15 prefixes: the opcode would be byte 16.
    expect(decodeHex(`${"26".repeat(15)}90`).status).toBe(DECODE_GP);
    // 14 prefixes + a two-byte opcode.
    expect(decodeHex(`${"3e".repeat(14)}0fa2`).status).toBe(DECODE_GP);
    // add dword [esp+disp32], imm32 is 11 bytes: 4 prefixes fit, 5 do not.
    const add = "81 84 24 78563412 efbeadde";
    expect(decodeHex(`${"2e".repeat(4)}${add}`).status).toBe(DECODE_OK);
    expect(decodeHex(`${"2e".repeat(4)}${add}`).insn.length).toBe(15);
    expect(decodeHex(`${"2e".repeat(5)}${add}`).status).toBe(DECODE_GP);
  });

  it("never reads past the limit while deciding", () => {
    const { status, source } = decodeHex(`${"66".repeat(20)}90`);
    expect(status).toBe(DECODE_GP);
    expect(source.maxIndex).toBeLessThan(15);
  });
});

describe("LOCK", () => {
  const cases: [string, string, number][] = [
    ["F0 00 00", "add [eax], al", DECODE_OK],
    ["F0 00 C0", "add al, al: register destination", DECODE_UD],
    ["F0 02 00", "add al, [eax]: register destination", DECODE_UD],
    ["F0 38 00", "cmp does not write", DECODE_UD],
    ["F0 80 30 01", "xor byte [eax], 1", DECODE_OK],
    ["F0 80 38 01", "cmp byte [eax], 1", DECODE_UD],
    ["F0 83 00 01", "add dword [eax], 1", DECODE_OK],
    ["F0 86 00", "xchg [eax], al", DECODE_OK],
    ["F0 88 00", "mov is not lockable", DECODE_UD],
    ["F0 F6 10", "not byte [eax]", DECODE_OK],
    ["F0 F7 18", "neg dword [eax]", DECODE_OK],
    ["F0 F6 00 01", "test byte [eax], 1", DECODE_UD],
    ["F0 F7 20", "mul dword [eax]", DECODE_UD],
    ["F0 FE 00", "inc byte [eax]", DECODE_OK],
    ["F0 FF 08", "dec dword [eax]", DECODE_OK],
    ["F0 FF 10", "call [eax]", DECODE_UD],
    ["F0 0F AB 00", "bts [eax], eax", DECODE_OK],
    ["F0 0F A3 00", "bt does not write", DECODE_UD],
    ["F0 0F BA 20 01", "bt [eax], 1", DECODE_UD],
    ["F0 0F BA 28 01", "bts [eax], 1", DECODE_OK],
    ["F0 0F B1 08", "cmpxchg [eax], ecx", DECODE_OK],
    ["F0 0F C1 08", "xadd [eax], ecx", DECODE_OK],
    ["F0 0F C7 08", "cmpxchg8b [eax]", DECODE_OK],
    ["F0 90", "nop", DECODE_UD],
    ["F0 0F 22 C0", "mov cr0, eax (AMD's CR8 alias is not modelled)", DECODE_UD],
    ["F0 66 F0 01 00", "repeated LOCK", DECODE_OK],
  ];
  for (const [hex, what, expected] of cases) {
    it(`${hex}: ${what}`, () => {
      const { status, insn } = decodeHex(hex);
      expect(status).toBe(expected);
      expect(insn.lock).toBe(true);
    });
  }
});

describe("segment override prefixes", () => {
  it("the last override wins", () => {
    expect(decodeHex("26 2E 3E 8B 00").insn.segmentOverride).toBe(DS);
    expect(decodeHex("3E 26 8B 00").insn.segment).toBe(ES);
    expect(decodeHex("64 2E 8B 00").insn.segment).toBe(CS);
  });

  it("an override replaces the SS default of BP/SP-based addresses", () => {
    expect(decodeHex("8B 45 08").insn.segment).toBe(SS);
    expect(decodeHex("36 64 8B 45 08").insn.segment).toBe(FS);
    expect(decodeHex("64 36 8B 00").insn.segment).toBe(SS);
  });

  it("applies to string sources but never to the ES:DI destination", () => {
    expect(describeInsn("64 A4")).toBe("movsb esedi;1 segesi;fs;1");
    expect(describeInsn("26 67 D7")).toBe("xlatb m;es;bx;al;1;0x0;0;1");
  });
});

describe("F2/F3", () => {
  it("the last one wins", () => {
    expect(decodeHex("F2 F3 A4").insn.rep).toBe(0xf3);
    expect(decodeHex("F3 F2 A6").insn.rep).toBe(0xf2);
    expect(describeInsn("F2 F3 0F 10 C1")).toBe("movss r;xmm0 r;xmm1");
    expect(describeInsn("F3 F2 0F 10 C1")).toBe("movsd r;xmm0 r;xmm1");
  });

  it("a mandatory prefix is consumed; a REP on other instructions is kept", () => {
    expect(decodeHex("F3 0F 58 C1").insn.rep).toBe(0);
    expect(decodeHex("F3 90").insn.rep).toBe(0);
    expect(describeInsn("F3 90")).toBe("pause");
    expect(decodeHex("F3 0F BC C1").insn.rep).toBe(0xf3); // BSF with REP on this CPU (no TZCNT)
    expect(describeInsn("F3 0F BC C1")).toBe("bsf r;eax r;ecx");
  });

  it("F2/F3 take precedence over 66, which then stays the operand-size prefix", () => {
    const { insn } = decodeHex("66 F3 0F 6F C1");
    expect(describeInsn("66 F3 0F 6F C1")).toBe("movdqu r;xmm0 r;xmm1");
    expect(insn.operandSize).toBe(SIZE16);
    // A consumed 66 does not change the operand size.
    expect(decodeHex("66 0F 6F C1").insn.operandSize).toBe(SIZE32);
    expect(decodeHex("66 0F 6F C1", false).insn.operandSize).toBe(SIZE16);
  });

  it("prefixes that select no form are #UD for SSE opcodes", () => {
    expect(decodeHex("F2 0F 52 C1").status).toBe(DECODE_UD); // no RSQRTSD
    expect(decodeHex("66 0F 52 C1").status).toBe(DECODE_UD);
    expect(decodeHex("F3 0F 60 C1").status).toBe(DECODE_UD);
    expect(decodeHex("66 0F AE E8").status).toBe(DECODE_UD); // LFENCE is NP
  });
});

describe("66/67 in both code sizes", () => {
  for (const default32 of [false, true]) {
    const other = default32 ? SIZE16 : SIZE32;
    const own = default32 ? SIZE32 : SIZE16;
    it(`${default32 ? 32 : 16}-bit code: 66 and 67 select the other size, once`, () => {
      expect(decodeHex("90", default32).insn.operandSize).toBe(own);
      expect(decodeHex("66 90", default32).insn.operandSize).toBe(other);
      expect(decodeHex("66 66 90", default32).insn.operandSize).toBe(other);
      expect(decodeHex("67 90", default32).insn.addressSize).toBe(other);
      expect(decodeHex("67 67 90", default32).insn.addressSize).toBe(other);
      expect(decodeHex("67 90", default32).insn.operandSize).toBe(own);
      // The immediate of MOV r, imm and the moffs follow the selected sizes.
      const immediateBytes = default32 ? 2 : 4;
      expect(decodeHex(`66 66 B8 ${"11".repeat(immediateBytes)}`, default32).insn.length).toBe(
        3 + immediateBytes,
      );
      expect(decodeHex(`67 A1 ${"22".repeat(immediateBytes)}`, default32).insn.length).toBe(
        2 + immediateBytes,
      );
    });
  }
});

describe("addressing", () => {
  const cases16: [string, string][] = [
    ["8B 00", "m;ds;bx;si;1;0x0;0;2"],
    ["8B 03", "m;ss;bp;di;1;0x0;0;2"],
    ["8B 06 3412", "m;ds;;;1;0x1234;2;2"],
    ["8B 46 FE", "m;ss;bp;;1;0xfffe;1;2"],
    ["8B 47 10", "m;ds;bx;;1;0x10;1;2"],
    ["8B 82 0080", "m;ss;bp;si;1;0x8000;2;2"],
    ["8B 84 FFFF", "m;ds;si;;1;0xffff;2;2"],
  ];
  for (const [hex, memory] of cases16) {
    it(`16-bit ${hex}`, () => expect(describeInsn(hex, false)).toBe(`mov r;ax ${memory}`));
  }
  const cases32: [string, string][] = [
    ["8B 00", "m;ds;eax;;1;0x0;0;4"],
    ["8B 05 78563412", "m;ds;;;1;0x12345678;4;4"],
    ["8B 04 24", "m;ss;esp;;1;0x0;0;4"],
    ["8B 04 8D 78563412", "m;ds;;ecx;4;0x12345678;4;4"],
    ["8B 04 25 78563412", "m;ds;;;1;0x12345678;4;4"],
    ["8B 44 24 FC", "m;ss;esp;;1;0xfffffffc;1;4"],
    ["8B 45 FC", "m;ss;ebp;;1;0xfffffffc;1;4"],
    ["8B 44 B3 08", "m;ds;ebx;esi;4;0x8;1;4"],
    ["8B 84 F5 00010000", "m;ss;ebp;esi;8;0x100;4;4"],
    ["8B 04 60", "m;ds;eax;;1;0x0;0;4"], // index 4 (ESP) means none, whatever the scale
  ];
  for (const [hex, memory] of cases32) {
    it(`32-bit ${hex}`, () => expect(describeInsn(hex)).toBe(`mov r;eax ${memory}`));
  }

  it("16-bit addressing in 32-bit code and back, through 67", () => {
    expect(describeInsn("67 8B 46 02")).toBe("mov r;eax m;ss;bp;;1;0x2;1;4");
    expect(describeInsn("67 8B 44 24 02", false)).toBe("mov r;ax m;ss;esp;;1;0x2;1;2");
  });

  it("reports the register numbers the executor uses", () => {
    const { insn } = decodeHex("8B 84 B3 78563412");
    expect([insn.base, insn.index, insn.scale, insn.displacement]).toEqual([EBX, ESI, 2, 0x12345678]);
    expect(insn.isMemory).toBe(true);
    const plain = decodeHex("8B C3").insn;
    expect([plain.isMemory, plain.base, plain.index]).toEqual([false, NO_REG, NO_REG]);
    expect(decodeHex("8B 65 00").insn.base).toBe(EBP);
    expect(decodeHex("8B 24 24").insn.base).toBe(ESP);
  });
});

describe("forms", () => {
  it("MOV to/from control and debug registers ignores mod", () => {
    const { status, insn } = decodeHex("0F 20 00");
    expect(status).toBe(DECODE_OK);
    expect(insn.length).toBe(3);
    expect(insn.mod).toBe(3);
    expect(describeInsn("0F 20 00")).toBe("mov r;eax r;cr0");
    expect(decodeHex("0F 20 08").status).toBe(DECODE_UD); // CR1
    expect(describeInsn("0F 23 FA")).toBe("mov r;dr7 r;edx");
  });

  it("UD0, UD1 and UD2 decode in full and raise #UD", () => {
    expect(decodeHex("0F 0B").status).toBe(DECODE_UD);
    const ud1 = decodeHex("0F B9 84 24 78563412");
    expect([ud1.status, ud1.insn.length]).toEqual([DECODE_UD, 8]);
    const ud0 = decodeHex("0F FF 40 01");
    expect([ud0.status, ud0.insn.length]).toEqual([DECODE_UD, 4]);
  });

  it("VEX, EVEX and XOP encodings are #UD; LES, LDS, BOUND and POP with memory are not", () => {
    expect(decodeHex("C5 F8 77").status).toBe(DECODE_UD); // VZEROUPPER
    expect(decodeHex("C4 E2 79 18 00").status).toBe(DECODE_UD);
    expect(decodeHex("62 F1 7C 48 58 C1").status).toBe(DECODE_UD);
    expect(decodeHex("8F E9 78 E1 C1").status).toBe(DECODE_UD);
    expect(describeInsn("C4 00")).toBe("les r;eax m;ds;eax;;1;0x0;0;6");
    expect(describeInsn("C5 00", false)).toBe("lds r;ax m;ds;bx;si;1;0x0;0;4");
    expect(describeInsn("62 00")).toBe("bound r;eax m;ds;eax;;1;0x0;0;8");
    expect(describeInsn("8F 00")).toBe("pop m;ds;eax;;1;0x0;0;4");
  });

  it("0F 38, 0F 3A and 0F 0F are not decoded yet", () => {
    expect(decodeHex("66 0F 38 00 C1").status).toBe(DECODE_UD);
    expect(decodeHex("66 0F 3A 0F C1 08").status).toBe(DECODE_UD);
    expect(decodeHex("0F 0F C1 B4").status).toBe(DECODE_UD);
  });

  it("names variants by operand or address size", () => {
    expect(describeInsn("98")).toBe("cwde");
    expect(describeInsn("98", false)).toBe("cbw");
    expect(describeInsn("66 A5")).toBe("movsw esedi;2 segesi;ds;2");
    expect(describeInsn("E3 10")).toBe("jecxz nb32;0x12");
    expect(describeInsn("67 E3 10")).toBe("jcxz nb32;0x13");
  });

  it("x87 register forms pick by ModRM.rm where the SDM does", () => {
    expect(describeInsn("D9 E8")).toBe("fld1");
    expect(describeInsn("D9 C9")).toBe("fxch r;st0 r;st1");
    expect(describeInsn("DE F9")).toBe("fdivp r;st1 r;st0");
    expect(describeInsn("DF E0")).toBe("fnstsw r;ax");
    expect(decodeHex("D9 D1").status).toBe(DECODE_UD);
    expect(decodeHex("DF 08").status).toBe(DECODE_UD); // FISTTP is SSE3
  });
});

describe("instruction-set extensions", () => {
  const cases: [string, string, number][] = [
    ["0F EF C1", "pxor mm0, mm1", EXT_MMX],
    ["0F 77", "emms", EXT_MMX],
    ["0F DA C1", "pminub mm0, mm1 (an MMX form that came with SSE)", EXT_SSE],
    ["0F D4 C1", "paddq mm0, mm1 (an MMX form that came with SSE2)", EXT_SSE2],
    ["0F 58 C1", "addps", EXT_SSE],
    ["F3 0F 58 C1", "addss", EXT_SSE],
    ["66 0F 58 C1", "addpd", EXT_SSE2],
    ["66 0F EF C1", "pxor xmm0, xmm1", EXT_SSE2],
    ["0F AE 00", "fxsave", EXT_FXSR],
    ["0F AE 10", "ldmxcsr", EXT_SSE],
    ["0F AE F8", "sfence", EXT_SSE],
    ["0F AE E8", "lfence", EXT_SSE2],
    ["0F AE 38", "clflush", EXT_SSE2],
    ["0F 18 08", "prefetcht0", EXT_SSE],
  ];
  for (const [hex, what, extension] of cases) {
    it(`${hex} (${what}) needs exactly its extension`, () => {
      expect(decodeHex(hex, true, extension).status).toBe(DECODE_OK);
      expect(decodeHex(hex, true, ALL_EXTENSIONS & ~extension).status).toBe(DECODE_UD);
      expect(decodeHex(hex, true, 0).insn.length).toBe(decodeHex(hex).insn.length);
    });
  }

  it("integer, x87 and P6 forms need none", () => {
    for (const hex of ["0F 44 C1", "0F C7 08", "D9 E8", "F3 90", "0F 34", "0F 1F 00", "0F 18 20"]) {
      expect(decodeHex(hex, true, 0).status).toBe(DECODE_OK);
    }
  });
});

describe("decoding properties", () => {
  const anyBytes = fc.uint8Array({ minLength: 20, maxLength: 20 });

  it("any bytes decode to OK, #UD or #GP, within 15 bytes, reading nothing past a valid instruction", () => {
    fc.assert(
      fc.property(
        anyBytes,
        fc.boolean(),
        fc.constantFrom(0, ALL_EXTENSIONS),
        (bytes, default32, extensions) => {
          const insn = new Instruction();
          const source = new ByteSource(bytes);
          const status = decode(insn, source, default32, undefined, extensions);
          expect([DECODE_OK, DECODE_UD, DECODE_GP]).toContain(status);
          if (status === DECODE_OK) {
            expect(insn.length).toBeGreaterThanOrEqual(1);
            expect(insn.length).toBeLessThanOrEqual(15);
            expect(source.maxIndex).toBe(insn.length - 1);
          }
        },
      ),
      { numRuns: 20_000 },
    );
  });

  it("a reused Instruction decodes exactly like a fresh one", () => {
    const reused = new Instruction();
    fc.assert(
      fc.property(anyBytes, anyBytes, fc.boolean(), (first, second, default32) => {
        decode(reused, new ByteSource(first), default32, undefined, ALL_EXTENSIONS);
        const reusedStatus = decode(reused, new ByteSource(second), default32, undefined, ALL_EXTENSIONS);
        const fresh = new Instruction();
        const freshStatus = decode(fresh, new ByteSource(second), default32, undefined, ALL_EXTENSIONS);
        expect(reusedStatus).toBe(freshStatus);
        if (freshStatus === DECODE_OK) expect({ ...reused }).toEqual({ ...fresh });
      }),
      { numRuns: 5_000 },
    );
  });
});

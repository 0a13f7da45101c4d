// The platform tests' real-mode assembler against GNU as (skipped, saying why, without binutils).
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { RealModeAssembler } from "./real-mode-asm.test-support.js";

function hasBinutils(): boolean {
  try {
    execFileSync("as", ["--version"], { stdio: "ignore" });
    execFileSync("objcopy", ["--version"], { stdio: "ignore" });
    return true;
  } catch {
    return false;
  }
}

const binutils = hasBinutils();
if (!binutils) console.warn("real-mode-asm.test.ts: skipping the GNU as comparison: as/objcopy not found");

describe.skipIf(!binutils)("RealModeAssembler", () => {
  it("encodes every instruction as GNU as does", () => {
    const ours = new RealModeAssembler()
      .label("start")
      .flatDataAndStack()
      .mov("bx", 0x1234)
      .movAl(0x56)
      .movSegmentFromAx("es")
      .outAl(0x80)
      .outAl(0x3f8)
      .inAl(0x71)
      .inAl(0x4d0)
      .inWide(0x2f0, 2)
      .inWide(0x2f0, 4)
      .storeAl(0x600)
      .storeAl(0x510, "es")
      .storeAx(0x602)
      .storeAx(0x604, 4)
      .loadAl(0x500)
      .loadAx(0x502)
      .storeByte(0x520, 0x22, "es")
      .storeWord(0x80, 0xf000)
      .incWord(0x500)
      .incByte(0x500)
      .cmpWord(0x500, 0x1234)
      .cmpByte(0x500, 3)
      .orAl(0x01)
      .j("b", "start")
      .j("e", "end")
      .jmp("start")
      .setVector(0x20, "end")
      .sti()
      .cli()
      .hlt()
      .pushAx()
      .popAx()
      .label("end")
      .iret()
      .assemble();
    const source = `
.code16
start:
  xorw %ax, %ax
  movw %ax, %ds
  movw %ax, %ss
  movw $0x7000, %sp
  movw $0x1234, %bx
  movb $0x56, %al
  movw %ax, %es
  outb %al, $0x80
  movw $0x3f8, %dx
  outb %al, %dx
  inb $0x71, %al
  movw $0x4d0, %dx
  inb %dx, %al
  movw $0x2f0, %dx
  inw %dx, %ax
  movw $0x2f0, %dx
  inl %dx, %eax
  movb %al, 0x600
  movb %al, %es:0x510
  movw %ax, 0x602
  movl %eax, 0x604
  movb 0x500, %al
  movw 0x502, %ax
  movb $0x22, %es:0x520
  movw $0xf000, 0x80
  incw 0x500
  incb 0x500
  cmpw $0x1234, 0x500
  cmpb $3, 0x500
  orb $1, %al
  .byte 0x0f, 0x82; .word start - . - 2 # jb near (as would pick the short form)
  .byte 0x0f, 0x84; .word end - . - 2 # je near
  .byte 0xe9; .word start - . - 2 # jmp near
  movw $end, 0x80
  movw $0xf000, 0x82
  sti
  cli
  hlt
  pushw %ax
  popw %ax
end:
  iret
`;
    const dir = mkdtempSync(join(tmpdir(), "real-mode-asm-"));
    try {
      writeFileSync(join(dir, "t.s"), source);
      execFileSync("as", ["--32", "-o", join(dir, "t.o"), join(dir, "t.s")]);
      execFileSync("objcopy", ["-O", "binary", "-j", ".text", join(dir, "t.o"), join(dir, "t.bin")]);
      const theirs = [...readFileSync(join(dir, "t.bin"))];
      expect(ours.map((b) => b.toString(16))).toEqual(theirs.map((b) => b.toString(16)));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

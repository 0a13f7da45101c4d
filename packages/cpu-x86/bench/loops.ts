// Guest loops for the MIPS benchmark: each is a 64 KiB ROM that enters flat 32-bit protected mode,
// runs its body `iterations` times, and exits through isa-debug-exit (port 0xf4, value 1 -> status 3).
import { assemble } from "../test/assemble.js";

export interface Loop {
  name: string;
  iterations: number;
  /** 32-bit code run once per iteration (ECX is the loop counter; ESI/EDI point at scratch RAM). */
  body: string;
}

export const LOOPS: Loop[] = [
  {
    name: "integer-alu",
    iterations: 20_000_000,
    body: `
  add eax, ebx
  xor ebx, eax
  shl edx, 3
  imul eax, eax, 7
  sub edx, eax
  and ebx, 0x7fffffff
  or edx, ebx
  inc ebp`,
  },
  {
    name: "memory-copy",
    iterations: 3_000_000,
    body: `
  mov eax, [esi]
  mov ebx, [esi + 4]
  mov [edi], eax
  mov [edi + 4], ebx
  mov eax, [esi + 8]
  mov ebx, [esi + 12]
  mov [edi + 8], eax
  mov [edi + 12], ebx
  add esi, 16
  add edi, 16
  and esi, 0x3ffff
  and edi, 0x3ffff
  or esi, 0x100000
  or edi, 0x140000`,
  },
  {
    name: "rep-string",
    iterations: 20_000,
    body: `
  push ecx
  push esi
  push edi
  mov esi, 0x100000
  mov edi, 0x140000
  mov ecx, 1024
  rep movsd
  mov edi, 0x140000
  mov ecx, 4096
  xor eax, eax
  rep stosb
  mov edi, 0x140000
  mov ecx, 4096
  repe scasb
  pop edi
  pop esi
  pop ecx`,
  },
  {
    name: "branchy",
    iterations: 15_000_000,
    body: `
  mov eax, ecx
  and eax, 7
  cmp eax, 3
  jb 1f
  test ecx, 16
  jz 2f
  add ebx, 3
  jmp 3f
2:
  sub ebx, 1
  jmp 3f
1:
  xor ebx, ecx
3:
  dec eax
  jns 3b`,
  },
  {
    name: "x87",
    iterations: 1_500_000,
    body: `
  fld dword ptr [esi]
  fmul dword ptr [esi + 4]
  fadd dword ptr [esi + 8]
  fsqrt
  fstp dword ptr [edi]
  fild dword ptr [esi + 12]
  fistp dword ptr [edi + 4]`,
  },
];

/**
 * Assembles a 64 KiB ROM (mapped at 0xF0000 and ending at 4 GiB) that enters flat 32-bit protected
 * mode from the reset vector, runs `code32` (with a stack at 0x90000), and exits through
 * isa-debug-exit (port 0xf4, value 1, QEMU status 3).
 */
export function buildProtectedModeRom(code32: string): Uint8Array {
  const source = `
.globl _start
.code16
_start:
  cli
  xor ax, ax
  mov ds, ax
  lgdt cs:[gdtr - _start]
  mov eax, cr0
  or eax, 1
  mov cr0, eax
  .byte 0x66, 0xea
  .long pm
  .word 0x08
.code32
pm:
  mov ax, 0x10
  mov ds, ax
  mov es, ax
  mov ss, ax
  mov esp, 0x90000
${code32}
  mov al, 1
  out 0xf4, al
  hlt
.align 8
gdt:
  .quad 0
  .word 0xffff, 0; .byte 0, 0x9b, 0xcf, 0
  .word 0xffff, 0; .byte 0, 0x93, 0xcf, 0
gdt_end:
gdtr: .word gdt_end - gdt - 1; .long gdt
.org 0xfff0
  .byte 0xea
  .word 0, 0xf000
.org 0x10000
`;
  const image = assemble(source, 0xf0000);
  const rom = new Uint8Array(0x10000);
  rom.set(image.subarray(0, 0x10000));
  return rom;
}

/** Assembles `loop` into a ROM: scratch pointers and x87 operands set up, then the counted loop. */
export function buildLoopRom(loop: Loop): Uint8Array {
  return buildProtectedModeRom(`
  mov esi, 0x100000
  mov edi, 0x140000
  fninit
  mov dword ptr [esi], 0x40490fdb      /* pi */
  mov dword ptr [esi + 4], 0x3fb504f3  /* sqrt 2 */
  mov dword ptr [esi + 8], 0x3f800000  /* 1.0 */
  mov dword ptr [esi + 12], 12345
  mov ecx, ${loop.iterations}
loop_top:
${loop.body}
  dec ecx
  jnz loop_top`);
}

// The host's x87 as an oracle: a tiny C program (built with gcc at test time) runs machine code that
// the tests generate, one case at a time. Each case restores an FPU image (FRSTOR), loads EFLAGS,
// executes one x87 instruction whose memory operand is [rdi+0x100], and saves the FPU (FNSAVE),
// EFLAGS and AX back into the case's data block. x87 semantics are the same in 64-bit mode, so a
// plain x86-64 gcc is enough (no multilib needed).
import { execFileSync, spawnSync } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

export const BLOCK = 0x300;
/** Offsets within a case's data block. */
export const IMAGE_IN = 0x00; // 108-byte FRSTOR image (32-bit protected-mode layout)
export const FLAGS = 0x70; // EFLAGS in and out (8 bytes)
export const AX_OUT = 0x78;
export const OPERAND = 0x100; // memory operand (16 bytes)
export const IMAGE_OUT = 0x200; // 108-byte FNSAVE image

const RUNNER_SOURCE = `
#include <stdint.h>
#include <stdio.h>
#include <sys/mman.h>
static uint8_t data[${BLOCK}] __attribute__((aligned(64)));
int main(void) {
  uint8_t *code = mmap(0, 4096, PROT_READ | PROT_WRITE | PROT_EXEC, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (code == MAP_FAILED) return 2;
  for (;;) {
    uint8_t length;
    if (fread(&length, 1, 1, stdin) != 1) break;
    if (fread(code, 1, length, stdin) != length) return 3;
    if (fread(data, 1, sizeof data, stdin) != sizeof data) return 4;
    ((void (*)(uint8_t *))code)(data);
    fwrite(data, 1, sizeof data, stdout);
  }
  return 0;
}
`;

/** Builds the runner; returns its path, or a reason why the host cannot be used. */
export function buildHostRunner(): { path: string } | { reason: string } {
  if (process.arch !== "x64") return { reason: `host is ${process.arch}, not x86-64` };
  const dir = mkdtempSync(join(tmpdir(), "x87-oracle-"));
  const source = join(dir, "runner.c");
  const binary = join(dir, "runner");
  writeFileSync(source, RUNNER_SOURCE);
  try {
    execFileSync("gcc", ["-O1", "-o", binary, source], { stdio: "pipe" });
  } catch (error) {
    const e = error as { code?: string; stderr?: Buffer };
    if (e.code === "ENOENT") return { reason: "gcc is not installed" };
    return { reason: `gcc failed: ${e.stderr?.toString().slice(0, 300) ?? String(error)}` };
  }
  return { path: binary };
}

/**
 * The host code around one instruction. `encode(modrmForMemory)` returns the instruction bytes; a
 * memory operand must use the ModRM it is given ([rdi+disp32], disp32 = 0x100 follows).
 */
export function hostCode(instruction: number[]): number[] {
  return [
    0xdd,
    0x27, // frstor [rdi]
    0x31,
    0xc0, // xor eax, eax
    0xff,
    0x77,
    FLAGS, // push qword [rdi+FLAGS]
    0x9d, // popfq
    ...instruction,
    0xdd,
    0xb7,
    IMAGE_OUT & 0xff,
    IMAGE_OUT >> 8,
    0,
    0, // fnsave [rdi+IMAGE_OUT]
    0x9c, // pushfq
    0x8f,
    0x47,
    FLAGS, // pop qword [rdi+FLAGS]
    0x66,
    0x89,
    0x47,
    AX_OUT, // mov [rdi+AX_OUT], ax
    0xc3, // ret
  ];
}

/** ModRM + disp32 bytes for the host's memory operand [rdi+OPERAND] with the given reg field. */
export function hostMemoryOperand(reg: number): number[] {
  return [0x80 | (reg << 3) | 7, OPERAND & 0xff, OPERAND >> 8, 0, 0];
}

/** Runs the cases (code, input block) on the host; returns their output blocks. */
export function runOnHost(runner: string, cases: { code: number[]; block: Uint8Array }[]): Uint8Array[] {
  const input = new Uint8Array(cases.reduce((n, c) => n + 1 + c.code.length + BLOCK, 0));
  let at = 0;
  for (const c of cases) {
    input[at++] = c.code.length;
    input.set(c.code, at);
    at += c.code.length;
    input.set(c.block, at);
    at += BLOCK;
  }
  const result = spawnSync(runner, [], { input, maxBuffer: cases.length * BLOCK + 1024 });
  if (result.status !== 0)
    throw new Error(`host runner failed: status ${result.status} ${result.signal ?? ""}`);
  const output = new Uint8Array(result.stdout.buffer, result.stdout.byteOffset, result.stdout.length);
  const blocks: Uint8Array[] = [];
  for (let i = 0; i < cases.length; i++) blocks.push(output.slice(i * BLOCK, (i + 1) * BLOCK));
  return blocks;
}

// Builds tiny multiboot kernels with the host's gcc and GNU ld and checks the loader against what
// binutils says about them (readelf, nm). Skips, saying why, when the toolchain is missing.
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { runnableVm } from "./boot-machine.test-support.js";
import { MiB } from "./bzimage.test-support.js";
import { loadMultibootKernel } from "./index.js";

const KERNEL_SOURCE = `
.section .multiboot, "a"
.align 4
.long 0x1BADB002
.long 0x00000003
.long -(0x1BADB002 + 0x00000003)

.text
.globl _start
_start:
    cmpl $0x2BADB002, %eax
    jne fail
    movl $message, %esi
1:  movb (%esi), %al
    testb %al, %al
    jz 2f
    outb %al, $0xe9
    incl %esi
    jmp 1b
2:  movb counter, %al
    outb %al, $0xe9
    movl 16(%ebx), %esi
    movb (%esi), %al
    outb %al, $0xe9
    movb $0x21, %al
    outb %al, $0xf4
fail:
    movb $0x7f, %al
    outb %al, $0xf4

.data
message: .asciz "multiboot ok"

.bss
counter: .skip 0x3000
`;

/** Identity-linked at 1 MiB, data and bss on their own pages. */
const IDENTITY_SCRIPT = `
ENTRY(_start)
SECTIONS {
  . = 0x100000;
  .text : { *(.multiboot) *(.text) }
  .data : ALIGN(0x1000) { *(.data) }
  .bss : ALIGN(0x1000) { *(.bss) *(COMMON) }
}
`;

/** Linked for 3 GiB + 1 MiB but loaded at 1 MiB, like a higher-half kernel. */
const HIGHER_HALF_SCRIPT = `
ENTRY(_start)
SECTIONS {
  . = 0xC0100000;
  .text : AT(0x100000) { *(.multiboot) *(.text) }
  .data : AT(0x101000) ALIGN(0x1000) { *(.data) }
  .bss : AT(0x102000) ALIGN(0x1000) { *(.bss) *(COMMON) }
}
`;

function toolchainMissing(): string | undefined {
  try {
    execFileSync("gcc", ["--version"], { stdio: "ignore" });
    execFileSync("ld", ["--version"], { stdio: "ignore" });
    execFileSync("readelf", ["--version"], { stdio: "ignore" });
    execFileSync("nm", ["--version"], { stdio: "ignore" });
  } catch {
    return "gcc, ld, readelf or nm is not installed";
  }
  const emulations = execFileSync("ld", ["-V"], { encoding: "utf8" });
  if (!emulations.includes("elf_i386")) return "GNU ld cannot link elf_i386";
  return undefined;
}

const missing = toolchainMissing();
if (missing) console.warn(`multiboot-toolchain.test.ts: skipping: ${missing}`);
const workDir = missing ? "" : mkdtempSync(join(tmpdir(), "tsvmm-multiboot-"));
afterAll(() => {
  if (workDir) rmSync(workDir, { recursive: true, force: true });
});

function buildKernel(name: string, script: string): string {
  const source = join(workDir, `${name}.S`);
  const object = join(workDir, `${name}.o`);
  const linkerScript = join(workDir, `${name}.ld`);
  const elf = join(workDir, `${name}.elf`);
  writeFileSync(source, KERNEL_SOURCE);
  writeFileSync(linkerScript, script);
  execFileSync("gcc", ["-m32", "-c", source, "-o", object]);
  execFileSync("ld", [
    "-m",
    "elf_i386",
    "--build-id=none",
    "-z",
    "noexecstack",
    "-T",
    linkerScript,
    "-o",
    elf,
    object,
  ]);
  return elf;
}

/** PT_LOAD segments as readelf reports them: physical address and memory size. */
function loadSegments(elf: string): Array<{ start: number; end: number }> {
  const lines = execFileSync("readelf", ["-lW", elf], { encoding: "utf8" }).split("\n");
  return lines
    .filter((line) => line.trim().startsWith("LOAD"))
    .map((line) => {
      const [, , , physical, , memorySize] = line.trim().split(/\s+/);
      const start = Number.parseInt(physical, 16);
      return { start, end: start + Number.parseInt(memorySize, 16) };
    })
    .filter((range) => range.end > range.start);
}

function symbols(elf: string): Map<string, number> {
  const map = new Map<string, number>();
  for (const line of execFileSync("nm", [elf], { encoding: "utf8" }).split("\n")) {
    const [address, , name] = line.trim().split(/\s+/);
    if (name) map.set(name, Number.parseInt(address, 16));
  }
  return map;
}

describe.skipIf(missing !== undefined)("multiboot kernels built with gcc and ld", () => {
  it("loads an identity-linked ELF where readelf says and runs it", async () => {
    const elf = buildKernel("identity", IDENTITY_SCRIPT);
    const names = symbols(elf);
    const { vm, vcpu, ram, machine, output } = runnableVm(16 * MiB);
    ram.fill(0xcc);
    const placement = loadMultibootKernel(vm, vcpu, {
      kernel: new Uint8Array(readFileSync(elf)),
      cmdline: "identity.elf quiet",
      ramSize: 16 * MiB,
    });
    expect(placement.kernel).toEqual(loadSegments(elf));
    expect(placement.entryPoint).toBe(names.get("_start"));
    const counter = names.get("counter") ?? -1;
    expect(ram.subarray(counter, counter + 0x3000).every((byte) => byte === 0)).toBe(true);

    expect(await machine.run()).toEqual({ kind: "debug-exit", status: (0x21 << 1) | 1 });
    expect(String.fromCharCode(...output)).toBe("multiboot ok\0i");
  });

  it("loads a higher-half ELF at its physical addresses and enters at _start's physical address", () => {
    const elf = buildKernel("higher-half", HIGHER_HALF_SCRIPT);
    const start = symbols(elf).get("_start") ?? -1;
    expect(start).toBeGreaterThanOrEqual(0xc0100000);
    const { vm, vcpu, ram } = runnableVm(16 * MiB);
    const placement = loadMultibootKernel(vm, vcpu, {
      kernel: new Uint8Array(readFileSync(elf)),
      cmdline: "",
      ramSize: 16 * MiB,
    });
    expect(placement.kernel).toEqual(loadSegments(elf));
    expect(placement.kernel[0].start).toBe(0x100000);
    expect(placement.entryPoint).toBe(start - 0xc0000000);
    expect(Array.from(ram.subarray(0x100000, 0x100004))).toEqual([0x02, 0xb0, 0xad, 0x1b]);
  });
});

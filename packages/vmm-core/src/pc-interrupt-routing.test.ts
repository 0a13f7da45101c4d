// The pc machine's interrupt routing end to end, with 32-bit multiboot kernels built by GNU as and ld: the PIT's
// IRQ 0 through I/O APIC input 2 to the local APIC, the SCI level-triggered through input 9 with the local APIC's EOI
// broadcast clearing remote IRR, and the 8259 through LINT0 (virtual wire) with the local APIC enabled, as Linux
// runs with `noapic`. Skips, saying why, when the toolchain is missing.
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { buildPc, type PcMachineType } from "./index.js";

const MiB = 1024 * 1024;

/**
 * Shared by every kernel: the multiboot header, a stack, an IDT whose every vector reports "unexpected" (exit status
 * (0x7e << 1) | 1), and macros for the APICs. `handler vector, label` points a vector at a label.
 */
const PRELUDE = `
.set LAPIC, 0xfee00000
.set LAPIC_EOI, LAPIC + 0xb0
.set LAPIC_SVR, LAPIC + 0xf0
.set LAPIC_LINT0, LAPIC + 0x350
.set IOAPIC_SELECT, 0xfec00000
.set IOAPIC_WINDOW, 0xfec00010

.macro ioapic_write index, value
    movl $\\index, IOAPIC_SELECT
    movl $\\value, IOAPIC_WINDOW
.endm

.macro handler vector, label
    movl $\\vector, %ecx
    movl $\\label, %eax
    call set_gate
.endm

.section .multiboot, "a"
.align 4
.long 0x1BADB002, 0, -0x1BADB002

.text
.globl _start
_start:
    movl $stack_top, %esp
    xorl %ecx, %ecx
1:  movl $unexpected, %eax
    call set_gate
    incl %ecx
    cmpl $256, %ecx
    jb 1b
    lidt idt_descriptor
    movb $0xff, %al          # both 8259s masked unless a test unmasks them
    outb %al, $0x21
    outb %al, $0xa1
    jmp main

# ecx = vector, eax = handler: an interrupt gate in the current code segment.
set_gate:
    movw %ax, idt(,%ecx,8)
    movw %cs, %dx
    movw %dx, idt+2(,%ecx,8)
    movw $0x8e00, idt+4(,%ecx,8)
    shrl $16, %eax
    movw %ax, idt+6(,%ecx,8)
    ret

unexpected:
    movb $0x7e, %al
    outb %al, $0xf4

fail:
    movb $0x7d, %al
    outb %al, $0xf4

.data
.align 8
idt_descriptor:
    .word 256 * 8 - 1
    .long idt
count: .long 0

.bss
.align 8
idt: .skip 256 * 8
.skip 4096
stack_top:

.text
`;

/** IRQ 0 through I/O APIC input 2 (the MADT's override) as vector 0x30; input 0 (vector 0x40) must stay silent. */
const PIT_THROUGH_IOAPIC = `
main:
    handler 0x30, timer
    movl $0x1ff, LAPIC_SVR              # APIC on, spurious vector 0xff
    movl $0x10000, LAPIC_LINT0          # LINT0 masked: no 8259 path
    ioapic_write 0x11, 0                # input 0 to APIC 0, vector 0x40: IRQ 0 must not arrive here
    ioapic_write 0x10, 0x40
    ioapic_write 0x15, 0                # input 2 to APIC 0, vector 0x30, edge, active high
    ioapic_write 0x14, 0x30
    movb $0x34, %al                     # PIT channel 0: rate generator, 1193 (1 kHz)
    outb %al, $0x43
    movb $0xa9, %al
    outb %al, $0x40
    movb $0x04, %al
    outb %al, $0x40
    sti
1:  hlt
    cmpl $5, count
    jb 1b
    cli
    movl count, %eax
    outb %al, $0xf4

timer:
    incl count
    movl $0, LAPIC_EOI
    iret
`;

/**
 * The ACPI PM timer's SCI (IRQ 9) level-triggered through input 9 as vector 0x39. The first handler run sends the EOI
 * with TMR_STS still set: the EOI broadcast clears remote IRR and the asserted input is delivered again. The second
 * clears TMR_STS first, then ends the interrupt; remote IRR must then be clear.
 */
const SCI_THROUGH_IOAPIC = `
main:
    handler 0x39, sci
    movl $0x1ff, LAPIC_SVR
    movl $0x10000, LAPIC_LINT0
    ioapic_write 0x23, 0                # input 9 to APIC 0, vector 0x39, level-triggered
    ioapic_write 0x22, 0x8039
    movw $0x602, %dx                    # PM1_EN: TMR_EN
    movw $1, %ax
    outw %ax, %dx
    sti
1:  hlt
    cmpl $2, count
    jb 1b
    cli
    movl $0x22, IOAPIC_SELECT           # remote IRR (bit 14) must be clear again
    testl $0x4000, IOAPIC_WINDOW
    jnz fail
    movl count, %eax
    outb %al, $0xf4

sci:
    incl count
    cmpl $1, count
    je 2f
    movw $0x600, %dx                    # PM1_STS: clear TMR_STS (write 1 to clear)
    movw $1, %ax
    outw %ax, %dx
2:  movl $0, LAPIC_EOI
    iret
`;

/** The 8259 through LINT0 (ExtINT, virtual wire) with the local APIC software-enabled: Linux's noapic mode. */
const PIC_THROUGH_LINT0 = `
main:
    handler 0x20, timer
    movl $0x1ff, LAPIC_SVR
    movl $0x700, LAPIC_LINT0            # LINT0: ExtINT, unmasked
    movb $0x11, %al                     # ICW1: edge, cascade, ICW4
    outb %al, $0x20
    movb $0x20, %al                     # ICW2: vectors 0x20-0x27
    outb %al, $0x21
    movb $0x04, %al                     # ICW3: slave on IR2
    outb %al, $0x21
    movb $0x01, %al                     # ICW4: 8086 mode
    outb %al, $0x21
    movb $0xfe, %al                     # only IRQ 0
    outb %al, $0x21
    movb $0x34, %al
    outb %al, $0x43
    movb $0xa9, %al
    outb %al, $0x40
    movb $0x04, %al
    outb %al, $0x40
    sti
1:  hlt
    cmpl $5, count
    jb 1b
    cli
    movl count, %eax
    outb %al, $0xf4

timer:
    incl count
    movb $0x20, %al                     # non-specific EOI to the 8259
    outb %al, $0x20
    iret
`;

const LINKER_SCRIPT = `
ENTRY(_start)
SECTIONS {
  . = 0x100000;
  .text : { *(.multiboot) *(.text) }
  .data : ALIGN(0x1000) { *(.data) }
  .bss : ALIGN(0x1000) { *(.bss) *(COMMON) }
}
`;

function toolchainMissing(): string | undefined {
  try {
    execFileSync("as", ["--version"], { stdio: "ignore" });
    execFileSync("ld", ["--version"], { stdio: "ignore" });
  } catch {
    return "GNU as or ld is not installed (Debian: binutils)";
  }
  if (!execFileSync("ld", ["-V"], { encoding: "utf8" }).includes("elf_i386"))
    return "GNU ld cannot link elf_i386";
  return undefined;
}

const missing = toolchainMissing();
if (missing) console.warn(`pc-interrupt-routing.test.ts: skipping: ${missing}`);
const workDir = missing ? "" : mkdtempSync(join(tmpdir(), "tsvmm-interrupts-"));
afterAll(() => {
  if (workDir) rmSync(workDir, { recursive: true, force: true });
});

function buildKernel(name: string, main: string): Uint8Array {
  const source = join(workDir, `${name}.s`);
  const object = join(workDir, `${name}.o`);
  const script = join(workDir, "kernel.ld");
  const elf = join(workDir, `${name}.elf`);
  writeFileSync(source, PRELUDE + main);
  writeFileSync(script, LINKER_SCRIPT);
  execFileSync("as", ["--32", "-o", object, source]);
  execFileSync("ld", [
    "-m",
    "elf_i386",
    "--build-id=none",
    "-z",
    "noexecstack",
    "-T",
    script,
    "-o",
    elf,
    object,
  ]);
  return new Uint8Array(readFileSync(elf));
}

function boot(image: Uint8Array, machineType: PcMachineType = "pc") {
  return buildPc({
    machineType,
    memoryBytes: 16 * MiB,
    kernel: { image, cmdline: "" },
    debugExit: { iobase: 0xf4, iosize: 1 },
    clock: { mode: "instructions" },
  });
}

describe.skipIf(missing !== undefined)("interrupt routing on the pc machine (multiboot guests)", () => {
  it("delivers the PIT's IRQ 0 through I/O APIC input 2 to the local APIC, not through input 0", async () => {
    const pc = boot(buildKernel("pit-ioapic", PIT_THROUGH_IOAPIC));
    expect(await pc.run()).toEqual({ kind: "debug-exit", status: (5 << 1) | 1 });
    // The 8259s were masked: every tick came through the I/O APIC.
    expect(pc.machine.stats.interruptsInjected).toBe(0);
  });

  it("delivers the level-triggered SCI through input 9 again after an EOI while it is still asserted", async () => {
    const pc = boot(buildKernel("sci-ioapic", SCI_THROUGH_IOAPIC));
    expect(await pc.run()).toEqual({ kind: "debug-exit", status: (2 << 1) | 1 });
    // The PM timer's bit 23 toggles after 2^23 ticks of 3.579545 MHz: 2.34 s of guest time, skipped while halted.
    expect(pc.vm.clock.nowNs()).toBeGreaterThan(2_343_000_000);
    expect(pc.devices.ioApic?.readRegister(0x22)).toBe(0x8039); // unmasked, level, remote IRR clear
  });

  it("passes the 8259's interrupts through LINT0 as ExtINT with the local APIC enabled", async () => {
    const pc = boot(buildKernel("pic-lint0", PIC_THROUGH_LINT0));
    expect(await pc.run()).toEqual({ kind: "debug-exit", status: (5 << 1) | 1 });
    expect(pc.machine.stats.interruptsInjected).toBe(5);
  });

  it("has no I/O APIC on the isapc machine: its window reads all ones", async () => {
    // On isapc the I/O APIC programming goes nowhere and IRQ 0 never arrives through it; the kernel would wait
    // forever, so only the machine's MMIO map is checked here.
    const pc = boot(buildKernel("isapc", PIT_THROUGH_IOAPIC), "isapc");
    expect(pc.devices.ioApic).toBeUndefined();
    expect(pc.machine.mmio.deviceAt(0xfec00000)).toBeUndefined();
  });
});

// Protected mode end to end: programs assembled with GNU as enter protected mode from real mode and
// exercise descriptors, privilege checks, gates, IRET to ring 3, task switches and SYSENTER.
import { PhysicalMemory } from "@tsvmm/ept";
import { describe, expect, it } from "vitest";
import { Cpu, STOP_HLT, STOP_IO } from "../src/index.js";
import { assemble, assemblerMissing } from "./assemble.js";

if (assemblerMissing) console.log(`protected-mode tests skipped: ${assemblerMissing}`);

const ORIGIN = 0x1000;
const RESULT = 0x500; // handlers store the vector here and the error code at +4
const ERROR_CODE_VECTORS = new Set([8, 10, 11, 12, 13, 14, 17]);
const HANDLED = [0, 1, 6, 8, 10, 11, 12, 13, 14];

function idt(): string {
  const lines: string[] = [];
  for (let v = 0; v <= 0x81; v++) {
    if (HANDLED.includes(v)) lines.push(`.word h_${v}, 0x08; .byte 0, 0x8e; .word 0`);
    else if (v === 0x80)
      lines.push(".word h_int80, 0x08; .byte 0, 0xef; .word 0"); // trap gate, DPL 3
    else if (v === 0x81)
      lines.push(".word h_int80, 0x08; .byte 0, 0x8e; .word 0"); // DPL 0
    else lines.push(".quad 0");
  }
  return lines.join("\n");
}

function handlers(): string {
  return HANDLED.map(
    (v) =>
      `h_${v}:\n${ERROR_CODE_VECTORS.has(v) ? "  pop dword ptr ss:[0x504]\n" : ""}  mov dword ptr ss:[0x500], ${v}\n  hlt`,
  ).join("\n");
}

/** Enters protected mode (flat ring-0 segments, IDT, TR) and runs `body` in 32-bit code. */
function program(body: string, extra = ""): string {
  return `
.weak gate_target, task2
.globl _start
.code16
_start:
  cli
  xor ax, ax
  mov ds, ax
  lgdt [gdtr]
  lidt [idtr]
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
  mov fs, ax
  mov gs, ax
  mov ss, ax
  mov esp, 0x8000
  mov ax, 0x28
  ltr ax
  mov dword ptr [0x500], 0xffffffff
  mov dword ptr [0x504], 0xffffffff
${body}
  hlt
${handlers()}
h_int80:
  mov ecx, esp
  mov dword ptr ss:[0x500], 0x80
  hlt
${extra}
.align 8
gdt:
  .quad 0
  .word 0xffff, 0; .byte 0, 0x9a, 0xcf, 0   /* 0x08 code, ring 0 */
  .word 0xffff, 0; .byte 0, 0x92, 0xcf, 0   /* 0x10 data, ring 0 */
  .word 0xffff, 0; .byte 0, 0xfa, 0xcf, 0   /* 0x18 code, ring 3 */
  .word 0xffff, 0; .byte 0, 0xf2, 0xcf, 0   /* 0x20 data, ring 3 */
  .word tss_end - tss - 1, tss; .byte 0, 0x89, 0, 0   /* 0x28 TSS */
  .word 0x0fff, 0; .byte 0x02, 0x92, 0x40, 0  /* 0x30 data at 0x20000, limit 0xfff */
  .word gate_target, 0x08; .byte 1, 0xec; .word 0  /* 0x38 call gate, DPL 3, one parameter */
  .word tss2_end - tss2 - 1, tss2; .byte 0, 0x89, 0, 0  /* 0x40 second TSS */
  .word 0xffff, 0; .byte 0, 0x90, 0xcf, 0   /* 0x48 read-only data */
  .word 0x0fff, 0; .byte 0, 0x96, 0x40, 0   /* 0x50 expand-down data, limit 0xfff */
  .word 0xffff, 0; .byte 0, 0x12, 0xcf, 0   /* 0x58 not present */
gdt_end:
gdtr: .word gdt_end - gdt - 1; .long gdt
idtr: .word idt_end - idt - 1; .long idt
.align 8
idt:
${idt()}
idt_end:
.align 4
tss:
  .long 0, 0x7000, 0x10      /* link, ESP0, SS0 */
  .fill 22, 4, 0
  .word 0, 104               /* T, I/O map base */
  .fill 16, 1, 0             /* ports 0x00-0x7f allowed */
  .byte 0x02                 /* ports 0x80-0x87: 0x81 denied */
  .fill 111, 1, 0
  .byte 0xff
tss_end:
.align 4
tss2:
  .long 0, 0x7000, 0x10, 0, 0, 0, 0, 0   /* link, ESP0, SS0, ESP1, SS1, ESP2, SS2, CR3 */
  .long task2, 0x2                        /* EIP, EFLAGS */
  .long 0, 0, 0, 0, 0x5000, 0, 0, 0       /* EAX ECX EDX EBX ESP EBP ESI EDI */
  .long 0x10, 0x08, 0x10, 0x10, 0x10, 0x10, 0   /* ES CS SS DS FS GS LDT */
  .word 0, 104
tss2_end:
`;
}

/** Runs `body` (and `extra` code) until HLT; returns the CPU and memory. */
function run(
  body: string,
  extra = "",
  setup?: (cpu: Cpu) => void,
): { cpu: Cpu; memory: PhysicalMemory; stop: number } {
  const memory = new PhysicalMemory();
  memory.setUserMemoryRegion({ slot: 0, guestPhysAddr: 0, memorySize: 0x100000 });
  memory.write(ORIGIN, assemble(program(body, extra), ORIGIN));
  const cpu = new Cpu(memory);
  cpu.loadSegment(1, 0);
  cpu.eip = ORIGIN;
  setup?.(cpu);
  const stop = cpu.run(100_000);
  return { cpu, memory, stop };
}

function exception(memory: PhysicalMemory): { vector: number; errorCode: number } {
  return { vector: memory.readU32(RESULT) | 0, errorCode: memory.readU32(RESULT + 4) | 0 };
}

/** Drops to ring 3 at `label` with the ring-3 stack at 0x6000. */
const TO_RING3 = (label: string) => `
  push 0x23
  push 0x6000
  pushfd
  push 0x1b
  push offset ${label}
  iretd`;

describe.skipIf(assemblerMissing !== undefined)("protected mode", () => {
  it("enters protected mode and runs flat 32-bit code", () => {
    const { cpu, memory, stop } = run("  mov dword ptr [0x600], 0xcafef00d\n  mov ebx, cr0");
    expect(stop).toBe(STOP_HLT);
    expect(memory.readU32(0x600)).toBe(0xcafef00d);
    expect(cpu.regs[3] & 1).toBe(1);
    expect(cpu.code32).toBe(true);
    expect(cpu.segSelector[1]).toBe(0x08);
    expect(cpu.trSelector).toBe(0x28);
    expect(exception(memory).vector).toBe(-1);
  });

  it("raises #GP(0) for an access through a null data segment", () => {
    const { memory } = run("  xor eax, eax\n  mov ds, ax\n  mov eax, [0x100]");
    expect(exception(memory)).toEqual({ vector: 13, errorCode: 0 });
  });

  it("raises #GP(selector) for a selector past the GDT limit and #NP for a segment not present", () => {
    expect(exception(run("  mov ax, 0x1f8\n  mov ds, ax").memory)).toEqual({ vector: 13, errorCode: 0x1f8 });
    expect(exception(run("  mov ax, 0x58\n  mov ds, ax").memory)).toEqual({ vector: 11, errorCode: 0x58 });
  });

  it("refuses writes to a read-only segment and checks limits, expand-down included", () => {
    expect(exception(run("  mov ax, 0x48\n  mov ds, ax\n  mov dword ptr [0], 1").memory)).toEqual({
      vector: 13,
      errorCode: 0,
    });
    expect(exception(run("  mov ax, 0x30\n  mov ds, ax\n  mov eax, [0xffe]").memory)).toEqual({
      vector: 13,
      errorCode: 0,
    });
    const inLimit = run(
      "  mov dword ptr [0x20ffc], 0x11223344\n  mov ax, 0x30\n  mov ds, ax\n  mov eax, [0xffc]",
    );
    expect(inLimit.cpu.regs[0] >>> 0).toBe(0x11223344);
    expect(exception(run("  mov ax, 0x50\n  mov ds, ax\n  mov eax, [0x800]").memory)).toEqual({
      vector: 13,
      errorCode: 0,
    });
    expect(exception(run("  mov ax, 0x50\n  mov ds, ax\n  mov eax, [0x1000]").memory).vector).toBe(-1);
  });

  it("goes to ring 3 with IRET and back to ring 0 through a DPL-3 trap gate, switching stacks", () => {
    const { cpu, memory } = run(TO_RING3("ring3"), "ring3:\n  mov eax, 0x1234\n  int 0x80");
    expect(exception(memory).vector).toBe(0x80);
    expect(cpu.cpl).toBe(0);
    expect(cpu.regs[1]).toBe(0x7000 - 20); // ECX = ESP at entry: the TSS stack with EIP CS EFLAGS ESP SS
    expect(memory.readU32(0x7000 - 20 + 4)).toBe(0x1b);
    expect(memory.readU32(0x7000 - 20 + 12)).toBe(0x6000);
    expect(memory.readU32(0x7000 - 20 + 16)).toBe(0x23);
    expect(cpu.regs[0]).toBe(0x1234);
  });

  it("faults on CLI at ring 3 with IOPL 0 and on INT through a DPL-0 gate", () => {
    expect(exception(run(TO_RING3("ring3"), "ring3:\n  cli").memory)).toEqual({ vector: 13, errorCode: 0 });
    expect(exception(run(TO_RING3("ring3"), "ring3:\n  int 0x81").memory)).toEqual({
      vector: 13,
      errorCode: 0x81 * 8 + 2,
    });
  });

  it("calls ring 0 from ring 3 through a call gate, copying the parameter to the inner stack", () => {
    const { cpu } = run(
      TO_RING3("ring3"),
      "ring3:\n  push 0x77\n  .byte 0x9a\n  .long 0\n  .word 0x3b\ngate_target:\n  mov eax, [esp + 8]\n  mov ebx, [esp + 4]\n  hlt",
    );
    expect(cpu.regs[0]).toBe(0x77);
    expect(cpu.regs[3]).toBe(0x1b); // the caller's CS
    expect(cpu.cpl).toBe(0);
    expect(cpu.regs[4]).toBe(0x7000 - 20);
  });

  it("switches tasks with JMP to a TSS, marking it busy", () => {
    const { cpu, memory } = run(
      "  .byte 0xea\n  .long 0\n  .word 0x40",
      "task2:\n  str ax\n  mov ebx, esp\n  hlt",
    );
    expect(cpu.regs[0] & 0xffff).toBe(0x40);
    expect(cpu.regs[3]).toBe(0x5000);
    expect(cpu.cr0 & 8).toBe(8); // CR0.TS
    const gdt = cpu.gdtBase >>> 0;
    expect(memory.readU8(gdt + 0x40 + 5) & 0x0f).toBe(0x0b); // busy 32-bit TSS
    expect(memory.readU8(gdt + 0x28 + 5) & 0x0f).toBe(0x09); // the old task is no longer busy
  });

  it("enters ring 0 with SYSENTER and returns with SYSEXIT", () => {
    const body = `
  mov ecx, 0x174
  mov eax, 0x08
  xor edx, edx
  wrmsr
  mov ecx, 0x175
  mov eax, 0x7000
  wrmsr
  mov ecx, 0x176
  mov eax, offset kernel
  wrmsr
${TO_RING3("ring3")}`;
    const extra = `
ring3:
  mov ecx, esp
  mov edx, offset back
  sysenter
kernel:
  mov esi, cs
  sysexit
back:
  mov edi, cs
  int 0x80`;
    const { cpu, memory } = run(body, extra);
    expect(exception(memory).vector).toBe(0x80);
    expect(cpu.regs[6] & 0xffff).toBe(0x08);
    expect(cpu.regs[7] & 0xffff).toBe(0x1b);
  });

  it("answers LAR, LSL, VERR and VERW", () => {
    const { cpu } = run(`
  mov ax, 0x30
  lsl ebx, ax
  mov ax, 0x18
  lar ecx, ax
  mov ax, 0x48
  verw ax
  setz dl
  verr ax
  setz dh
  mov ax, 0x1f8
  lsl esi, ax
  setz al`);
    expect(cpu.regs[3]).toBe(0xfff);
    expect(cpu.regs[1]).toBe(0x00c0fa00);
    expect(cpu.regs[2] & 0xffff).toBe(0x0100); // VERW fails, VERR succeeds
    expect(cpu.regs[0] & 0xff).toBe(0);
  });

  it("checks the TSS I/O permission bitmap at ring 3", () => {
    const { cpu, stop } = run(TO_RING3("ring3"), "ring3:\n  in al, 0x80\n  in al, 0x81");
    expect(stop).toBe(STOP_IO);
    expect(cpu.pendingAccess.address).toBe(0x80);
    cpu.completeRead(0x42);
    expect(cpu.run(1000)).toBe(STOP_HLT);
  });
});

/** Identity-maps the first MiB (user, writable) with one page table, then enables paging. */
const PAGING = `
  mov dword ptr [0x10000], 0x11007
  xor ecx, ecx
1:
  mov eax, ecx
  shl eax, 12
  or eax, 7
  mov [0x11000 + ecx * 4], eax
  inc ecx
  cmp ecx, 256
  jb 1b
  mov dword ptr [0x11000 + 0x200 * 4], 0x30001  /* linear 0x200000 -> 0x30000, supervisor, read-only */
  mov eax, 0x10000
  mov cr3, eax
  mov eax, cr0
  or eax, 0x80000000
  mov cr0, eax`;

describe.skipIf(assemblerMissing !== undefined)("paging", () => {
  it("translates through two-level page tables and sets the accessed and dirty bits", () => {
    const { cpu, memory } = run(`${PAGING}
  mov eax, [0x200010]
  mov dword ptr [0x200020], 0x55aa55aa`);
    expect(exception(memory).vector).toBe(-1);
    expect(memory.readU32(0x30020)).toBe(0x55aa55aa); // supervisor write with CR0.WP clear
    expect(memory.readU32(0x11000 + 0x200 * 4) & 0x60).toBe(0x60); // A and D
    expect(memory.readU32(0x10000) & 0x20).toBe(0x20); // A in the PDE
    expect(cpu.cr0 >>> 31).toBe(1);
  });

  it("raises #PF with CR2 and the error code for a page that is not present", () => {
    const { cpu, memory } = run(`${PAGING}\n  mov eax, [0x300004]`);
    expect(exception(memory)).toEqual({ vector: 14, errorCode: 0 });
    expect(cpu.cr2).toBe(0x300004);
  });

  it("honours CR0.WP for supervisor writes and U/S for ring 3", () => {
    const wp = run(
      `${PAGING}\n  mov eax, cr0\n  or eax, 0x10000\n  mov cr0, eax\n  mov dword ptr [0x200000], 1`,
    );
    expect(exception(wp.memory)).toEqual({ vector: 14, errorCode: 3 });
    // Ring 3 first loads a ring-3 data segment: IRET to ring 3 nulled DS (its DPL was 0).
    const user = run(
      `${PAGING}\n${TO_RING3("ring3")}`,
      "ring3:\n  mov ax, 0x23\n  mov ds, ax\n  mov eax, [0x200000]",
    );
    expect(exception(user.memory)).toEqual({ vector: 14, errorCode: 5 });
    expect(user.cpu.cr2).toBe(0x200000);
  });

  it("maps 4 MiB pages with CR4.PSE", () => {
    const { cpu, memory } = run(`${PAGING}
  mov eax, cr4
  or eax, 0x10
  mov cr4, eax
  mov dword ptr [0x10000 + 2 * 4], 0x00000083  /* linear 0x800000 -> physical 0, 4 MiB */
  mov dword ptr [0x600], 0x12345678
  mov ebx, [0x800600]`);
    expect(exception(memory).vector).toBe(-1);
    expect(cpu.regs[3] >>> 0).toBe(0x12345678);
  });

  it("keeps a stale translation until INVLPG", () => {
    const { cpu } = run(`${PAGING}
  mov dword ptr [0x31000], 0x11111111
  mov dword ptr [0x32000], 0x22222222
  mov dword ptr [0x11000 + 0x201 * 4], 0x31003
  mov eax, [0x201000]
  mov dword ptr [0x11000 + 0x201 * 4], 0x32003
  mov ebx, [0x201000]
  invlpg [0x201000]
  mov ecx, [0x201000]`);
    expect(cpu.regs[0] >>> 0).toBe(0x11111111);
    expect(cpu.regs[3] >>> 0).toBe(0x11111111); // the TLB still holds the old translation
    expect(cpu.regs[1] >>> 0).toBe(0x22222222);
  });

  it("re-decodes code that was overwritten (self-modifying code)", () => {
    const { cpu } = run(`
  mov ebx, 2
  mov byte ptr [smc + 1], 7
smc:
  mov al, 1
  mov ebx, eax`);
    expect(cpu.regs[3] & 0xff).toBe(7);
  });
});

describe.skipIf(assemblerMissing !== undefined)("debug registers", () => {
  it("moves to and from DR0-DR7 with the fixed bits, and faults on an instruction breakpoint", () => {
    const { cpu, memory } = run(`
  mov eax, offset target
  mov dr0, eax
  mov eax, 0x1
  mov dr7, eax
  mov ebx, dr7
  mov ecx, dr6
  nop
target:
  nop`);
    expect(cpu.regs[3] >>> 0).toBe(0x401);
    expect(cpu.regs[1] >>> 0).toBe(0xffff0ff0);
    expect(exception(memory).vector).toBe(1);
    expect(cpu.debugRegisters.status & 1).toBe(1);
  });

  it("single-steps with TF: a #DB trap after the instruction, with DR6.BS", () => {
    const { cpu, memory } = run(`
  pushfd
  or dword ptr [esp], 0x100
  popfd
  mov esi, 0x77`);
    expect(exception(memory).vector).toBe(1);
    expect(cpu.regs[6]).toBe(0x77); // the trap came after the MOV completed
    expect(cpu.debugRegisters.status & 0x4000).toBe(0x4000);
  });
});

describe.skipIf(assemblerMissing !== undefined)("privilege changes with paging", () => {
  // Regression: the ring-0 stack was written with ring-3 rights, so an interrupt from user mode
  // whose TSS stack is supervisor-only double-faulted (Linux i386 died at its first user instruction).
  it("pushes onto a supervisor-only inner stack when an interrupt leaves ring 3", () => {
    const { cpu, memory } = run(
      `${PAGING}
  and dword ptr [0x11000 + 6 * 4], ~4   /* the page under the ring-0 stack (0x6000) is supervisor-only */
  mov eax, cr3
  mov cr3, eax
${TO_RING3("ring3")}`,
      "ring3:\n  int 0x80",
    );
    expect(exception(memory).vector).toBe(0x80);
    expect(cpu.regs[1]).toBe(0x7000 - 20);
    expect(memory.readU32(0x7000 - 20 + 4)).toBe(0x1b);
  });

  it("copies call-gate parameters onto a supervisor-only inner stack", () => {
    const { cpu } = run(
      `${PAGING}
  and dword ptr [0x11000 + 6 * 4], ~4
  mov eax, cr3
  mov cr3, eax
${TO_RING3("ring3")}`,
      "ring3:\n  push 0x99\n  .byte 0x9a\n  .long 0\n  .word 0x3b\ngate_target:\n  mov eax, [esp + 8]\n  hlt",
    );
    expect(cpu.regs[0]).toBe(0x99);
    expect(cpu.cpl).toBe(0);
  });
});

describe.skipIf(assemblerMissing !== undefined)("virtual-8086 mode", () => {
  const ENTER_V86 = `
  push 0                       /* GS */
  push 0                       /* FS */
  push 0x40                    /* DS */
  push 0                       /* ES */
  push 0x500                   /* SS: the v86 stack at 0x5000 + SP */
  push 0x0ff0                  /* ESP */
  push 0x23202                 /* EFLAGS: VM, IOPL 3, IF */
  mov eax, offset v86code
  shr eax, 4
  push eax                     /* CS = v86code / 16 */
  push 0                       /* EIP */
  iretd`;

  it("enters virtual-8086 mode with IRET, runs real-mode code, and leaves through INT to ring 0", () => {
    const { cpu, memory } = run(
      ENTER_V86,
      `.code16
.align 16
v86code:
  mov ax, 0x400
  mov ds, ax
  mov word ptr [0x10], 0xbeef
  int 0x80
.code32`,
    );
    expect(memory.readU16(0x4010)).toBe(0xbeef);
    expect(exception(memory).vector).toBe(0x80);
    expect(cpu.cpl).toBe(0);
    // The ring-0 frame from virtual-8086 mode: EIP CS EFLAGS ESP SS ES DS FS GS.
    const frame = cpu.regs[1];
    expect(frame).toBe(0x7000 - 36);
    expect(memory.readU32(frame + 8) & 0x20000).toBe(0x20000); // VM in the saved EFLAGS
    expect(memory.readU32(frame + 16)).toBe(0x500); // SS
    expect(memory.readU32(frame + 24)).toBe(0x400); // DS as the guest left it
    expect(cpu.segSelector[3]).toBe(0); // DS is null in the handler
  });

  it("faults to ring 0 on CLI in virtual-8086 mode when IOPL is below 3", () => {
    const { memory } = run(
      ENTER_V86.replace("0x23202", "0x20202") /* IOPL 0 */,
      ".code16\n.align 16\nv86code:\n  cli\n.code32",
    );
    expect(exception(memory)).toEqual({ vector: 13, errorCode: 0 });
  });
});

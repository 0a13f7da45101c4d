// Faults while loading the new task's segments (SDM table 7-1): #TS for invalid selectors, #NP/#SS
// when not present, taken after the commit point in the new task's context (the pushed EIP is the new
// task's). Found by the system test guest "tasks" (apps/tsqemu/guests/system/tasks.S).
import { PhysicalMemory } from "@tsvmm/ept";
import { describe, expect, it } from "vitest";
import { Cpu, STOP_HLT } from "../src/index.js";
import { assemble, assemblerMissing } from "./assemble.js";

const ORIGIN = 0x1000;
const RESULT = 0x500; // the handler stores vector, error code, pushed EIP, TR

/** Protected mode, TR = TSS A (0x28); JMP to TSS B (0x30) whose fields `tssB` patches. */
function program(tssB: string): string {
  const handler = (vector: number) => `
h_${vector}:
  pop dword ptr ss:[0x504]
  mov dword ptr ss:[0x500], ${vector}
  pop dword ptr ss:[0x508]
  str word ptr ss:[0x50c]
  hlt`;
  const idt = Array.from({ length: 14 }, (_, v) =>
    [10, 11, 12, 13].includes(v) ? `.word h_${v}, 0x08; .byte 0, 0x8e; .word 0` : ".quad 0",
  ).join("\n");
  return `
.code16
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
  mov ss, ax
  mov esp, 0x8000
  mov ax, 0x28
  ltr ax
${tssB}
  .byte 0xea
  .long 0
  .word 0x30
  hlt
task_b:
  hlt
${[10, 11, 12, 13].map(handler).join("\n")}
.align 8
gdt:
  .quad 0
  .word 0xffff, 0; .byte 0, 0x9a, 0xcf, 0   /* 0x08 code */
  .word 0xffff, 0; .byte 0, 0x92, 0xcf, 0   /* 0x10 data */
  .word 0xffff, 0; .byte 0, 0x12, 0xcf, 0   /* 0x18 data, not present */
  .word 0xffff, 0; .byte 0, 0x90, 0xcf, 0   /* 0x20 read-only data */
  .word 103, tss_a; .byte 0, 0x89, 0, 0     /* 0x28 TSS A */
  .word 103, tss_b; .byte 0, 0x89, 0, 0     /* 0x30 TSS B */
  .word 0xffff, 0; .byte 0, 0xfa, 0xcf, 0   /* 0x38 code, DPL 3 */
gdt_end:
gdtr: .word gdt_end - gdt - 1; .long gdt
idtr: .word idt_end - idt - 1; .long idt
.align 8
idt:
${idt}
idt_end:
.align 4
tss_a: .fill 104, 1, 0
tss_b:
  .long 0, 0x7000, 0x10, 0, 0, 0, 0, 0   /* link, ESP0, SS0, ESP1, SS1, ESP2, SS2, CR3 */
  .long task_b, 0x2                       /* EIP, EFLAGS */
  .long 0, 0, 0, 0, 0x6000, 0, 0, 0       /* EAX ECX EDX EBX ESP EBP ESI EDI */
  .long 0x10, 0x08, 0x10, 0x10, 0x10, 0x10, 0   /* ES CS SS DS FS GS LDT */
  .word 0, 104
`;
}

function run(tssB: string): {
  vector: number;
  errorCode: number;
  pushedEip: number;
  tr: number;
  taskB: number;
} {
  const memory = new PhysicalMemory();
  memory.setUserMemoryRegion({ slot: 0, guestPhysAddr: 0, memorySize: 0x100000 });
  const image = assemble(program(tssB), ORIGIN);
  memory.write(ORIGIN, image);
  memory.write(RESULT, new Uint8Array(16).fill(0xff));
  const cpu = new Cpu(memory);
  cpu.loadSegment(1, 0);
  cpu.eip = ORIGIN;
  expect(cpu.run(10_000)).toBe(STOP_HLT);
  // task_b is the HLT right after the JMP's 7 bytes and its HLT: find it as the TSS's EIP field.
  const tssBAddress = ORIGIN + image.length - 104;
  return {
    vector: memory.readU32(RESULT) | 0,
    errorCode: memory.readU32(RESULT + 4) | 0,
    pushedEip: memory.readU32(RESULT + 8) | 0,
    tr: memory.readU16(RESULT + 12),
    taskB: memory.readU32(tssBAddress + 32) | 0,
  };
}

const DS_FIELD = "tss_b + 84";
const set = (field: string, value: number) => `  mov dword ptr [${field}], ${value}`;

describe.skipIf(assemblerMissing !== undefined)("faults loading the new task's segments", () => {
  it("raises #TS(selector), not #GP, for a DS naming a system descriptor, in the new task", () => {
    const result = run(set(DS_FIELD, 0x28));
    expect(result.vector).toBe(10);
    expect(result.errorCode).toBe(0x28);
    expect(result.tr).toBe(0x30); // after the commit point: B is the current task
    expect(result.pushedEip).toBe(result.taskB); // the new task's EIP, not the JMP's
  });

  it("raises #TS for a data segment whose DPL is below the RPL, and #NP when one is not present", () => {
    expect(run(set("tss_b + 72", 0x13))).toMatchObject({ vector: 10, errorCode: 0x10 }); // ES RPL 3
    expect(run(set("tss_b + 88", 0x18))).toMatchObject({ vector: 11, errorCode: 0x18 }); // FS not present
  });

  it("raises #TS for an SS that is read-only and #SS for one that is not present", () => {
    expect(run(set("tss_b + 80", 0x20))).toMatchObject({ vector: 10, errorCode: 0x20 });
    expect(run(set("tss_b + 80", 0x18))).toMatchObject({ vector: 12, errorCode: 0x18 });
  });

  it("raises #TS for a CS whose DPL differs from its RPL", () => {
    expect(run(set("tss_b + 76", 0x38))).toMatchObject({ vector: 10, errorCode: 0x38 }); // DPL 3, RPL 0
  });

  it("switches when the new task's segments are valid", () => {
    const result = run("");
    expect(result.vector).toBe(-1); // no exception: B's HLT stopped the CPU
  });
});

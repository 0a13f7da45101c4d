import { describe, expect, it } from "vitest";
import { STOP_BUDGET, STOP_HLT } from "./cpu.js";
import { Instruction } from "./decoder.js";
import { FLAG_TF } from "./registers.js";
import { isStraightLine } from "./straight-line.js";
import { buildMachine, CODE } from "./string-fast-path.test-support.js";

const COUNTER = 0x4000;
const le32 = (v: number) => [v & 0xff, (v >>> 8) & 0xff, (v >>> 16) & 0xff, v >>> 24];

const TABLE = 0x4100;
const SCRATCH = 0x4800;

/**
 * A loop that writes a byte through a pointer it loads from TABLE[counter] on every pass: into scratch
 * memory, except when the counter reads 3, where it turns its own `inc eax` into `inc edx`. The writing
 * instruction is decoded and cached by then, so the write happens inside a straight-line run.
 */
function selfModifyingLoop(): number[] {
  return [
    ...[0x8b, 0x0d, ...le32(COUNTER)], // 0: mov ecx, [COUNTER]
    ...[0x8b, 0x1c, 0x8d, ...le32(TABLE)], // 6: mov ebx, [ecx * 4 + TABLE]
    ...[0xc6, 0x03, 0x42], // 13: mov byte [ebx], 0x42 (inc edx)
    0x40, // 16: inc eax
    ...[0xff, 0x0d, ...le32(COUNTER)], // 17: dec dword [COUNTER]
    ...[0x0f, 0x85, ...le32(-29)], // 23: jnz 0
  ];
}

function machine(code: number[], straightLineRuns: boolean, iterations = 10) {
  const table = Array.from({ length: 16 }, (_, i) => le32(i === 3 ? CODE + 16 : SCRATCH)).flat();
  const memory: [number, number[]][] = [
    [COUNTER, le32(iterations)],
    [TABLE, table],
  ];
  return buildMachine({ code, ecx: 0, edi: 0, memory }, true, { straightLineRuns }).cpu;
}

describe("straight-line runs", () => {
  it("see a write into the code they are running: the rewritten instruction runs next", () => {
    for (const straightLineRuns of [true, false]) {
      const cpu = machine(selfModifyingLoop(), straightLineRuns);
      expect(cpu.run(100_000)).toBe(STOP_HLT);
      expect([cpu.regs[0], cpu.regs[2]]).toEqual([7, 3]); // inc eax for counts 10..4, inc edx for 3..1
      expect(cpu.instructionCount).toBe(10 * 6 + 1); // 6 per pass, then HLT
    }
  });

  it("stop exactly at the budget", () => {
    const code = [0x40, 0x41, 0xeb, 0xfc]; // inc eax; inc ecx; jmp 0
    const cpu = machine(code, true);
    for (let i = 0; i < 50; i++) expect(cpu.run(7)).toBe(STOP_BUDGET);
    expect(cpu.instructionCount).toBe(350);
    expect([cpu.regs[0], cpu.regs[1]]).toEqual([117, 117]); // 116 passes of 3, then inc eax, inc ecx
  });

  it("leave an interrupt injected with IF set to the run loop: it is taken before any of the cached loop runs", () => {
    const code = [0xfb, 0x40, 0x41, 0xeb, 0xfc]; // sti; then inc eax; inc ecx; jmp (back to inc eax)
    const cpu = machine(code, true);
    expect(cpu.run(1000)).toBe(STOP_BUDGET); // everything cached, interrupts enabled
    cpu.injectInterrupt(0x20); // the IDT sends every vector to a HLT handler
    const before = cpu.instructionCount;
    expect(cpu.run(1000)).toBe(STOP_HLT);
    expect(cpu.instructionCount - before).toBe(1); // the handler's HLT, nothing of the loop
  });

  it("run with IF clear while an interrupt waits, which is taken after STI and the one instruction it shadows", () => {
    // 0: cli; mov ecx, 100; L: dec ecx; jnz L; sti; inc eax; inc ebx; jmp 0
    const code = [0xfa, 0xb9, 100, 0, 0, 0, 0x49, 0x75, 0xfd, 0xfb, 0x40, 0x43, 0xeb, 0xf2];
    for (const straightLineRuns of [true, false]) {
      const cpu = machine(code, straightLineRuns);
      expect(cpu.run(2 + 2 * 100 + 4)).toBe(STOP_BUDGET); // one pass, so every instruction is decoded and cached
      expect(cpu.run(1)).toBe(STOP_BUDGET); // cli
      cpu.injectInterrupt(0x20); // the IDT sends every vector to a HLT handler
      expect(cpu.run(10_000)).toBe(STOP_HLT);
      expect([cpu.regs[0], cpu.regs[3]]).toEqual([2, 1]); // inc eax ran in the shadow, inc ebx not again
      // the first pass; then cli, mov, the loop, sti, inc eax and the handler's HLT
      expect(cpu.instructionCount).toBe(206 + 1 + 1 + 2 * 100 + 2 + 1);
    }
  });

  it("leave single-step to the full step: one #DB per instruction", () => {
    const code = [0x40, 0x41, 0xeb, 0xfc];
    const cpu = machine(code, true);
    expect(cpu.run(300)).toBe(STOP_BUDGET); // cached
    cpu.flags.bits |= FLAG_TF;
    const before = cpu.instructionCount;
    expect(cpu.run(1000)).toBe(STOP_HLT); // #DB after the first instruction, to the HLT handler
    expect(cpu.instructionCount - before).toBe(2);
  });

  it("classify near branches and ALU forms as straight-line, far transfers, POPF, I/O and REP strings not", () => {
    const kind = (bytes: number[], rep = 0) => {
      const insn = new Instruction();
      insn.opcode = bytes[0] === 0x0f ? 0x100 | bytes[1] : bytes[0];
      insn.reg = bytes[bytes.length - 1];
      insn.mod = 0;
      insn.rep = rep;
      return isStraightLine(insn);
    };
    expect([
      kind([0x01]),
      kind([0x75]),
      kind([0xe8]),
      kind([0xc3]),
      kind([0x0f, 0x85]),
      kind([0xaa]),
    ]).toEqual([true, true, true, true, true, true]);
    expect([
      kind([0xaa], 0xf3),
      kind([0x9d]),
      kind([0xea]),
      kind([0xcf]),
      kind([0xe6]),
      kind([0x8e]),
    ]).toEqual([false, false, false, false, false, false]);
    expect([kind([0xff, 2]), kind([0xff, 3]), kind([0xff, 5]), kind([0x0f, 0xc7, 1]), kind([0xfa])]).toEqual([
      true,
      false,
      false,
      true,
      false,
    ]);
  });
});

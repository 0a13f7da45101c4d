// Regression tests for integer-instruction bugs found by the conformance suites and the host fuzzer.
import { describe, expect, it } from "vitest";
import { STOP_HLT, STOP_MMIO } from "./cpu.js";
import { CPU_MODEL_8086, CPU_MODEL_80286 } from "./cpu-model.js";
import { CODE_BASE, realModeCpu } from "./machine.test-support.js";
import { EAX, FLAG_AF, FLAG_CF } from "./registers.js";

function run(code: number[], options = {}) {
  const machine = realModeCpu([...code, 0xf4], options);
  expect(machine.cpu.run(100)).toBe(STOP_HLT);
  return machine.cpu;
}

describe("BCD adjustments", () => {
  it("DAS sets CF from the borrow of the low-digit adjustment (SDM; 80286 as captured)", () => {
    // mov al,0; sahf with AF=1 (ah=0x12: AF and bit 1); das -> AL=0xFA, CF=1
    const cpu = run([0xb8, 0x00, 0x12, 0x9e, 0x2f]);
    expect(cpu.regs[EAX] & 0xff).toBe(0xfa);
    expect(cpu.flags.get() & (FLAG_CF | FLAG_AF)).toBe(FLAG_CF | FLAG_AF);
  });

  it("DAS on the 8086 leaves that borrow out of CF and compares AL with 0x9F when AF is set", () => {
    const cpu = run([0xb8, 0x00, 0x12, 0x9e, 0x2f], { model: CPU_MODEL_8086 });
    expect(cpu.regs[EAX] & 0xff).toBe(0xfa);
    expect(cpu.flags.get() & FLAG_CF).toBe(0);
    // al=0x9e, AF=1: 0x9e <= 0x9f, so only the low digit is adjusted.
    const high = run([0xb8, 0x9e, 0x12, 0x9e, 0x2f], { model: CPU_MODEL_8086 });
    expect(high.regs[EAX] & 0xff).toBe(0x98);
    expect(high.flags.get() & FLAG_CF).toBe(0);
  });

  it("AAA adjusts AX on the 80286 but AL and AH separately on the 8086", () => {
    // mov ax,0xa3ff; aaa (AF clear, low digit F > 9)
    expect(run([0xb8, 0xff, 0xa3, 0x37], { model: CPU_MODEL_80286 }).regs16[0]).toBe(0xa505);
    expect(run([0xb8, 0xff, 0xa3, 0x37], { model: CPU_MODEL_8086 }).regs16[0]).toBe(0xa405);
  });
});

describe("double shifts", () => {
  it("SHRD/SHLD read their memory operand even with a count of 0, so its fault is taken", () => {
    // shrd [0xa0000],ax,0: 0xA0000 is past the 640 KiB of RAM here, so the read stops as MMIO.
    const machine = realModeCpu([0x0f, 0xac, 0x06, 0x00, 0x00, 0x00, 0xf4]);
    machine.memory.setUserMemoryRegion({ slot: 0, guestPhysAddr: 0, memorySize: 0xa0000 });
    machine.cpu.loadRealModeSegment(3, 0xa000);
    expect(machine.cpu.run(10)).toBe(STOP_MMIO);
    expect(machine.cpu.pendingAccess).toMatchObject({ address: 0xa0000, write: false });
  });
});

describe("8086 microcode quirks", () => {
  it("negates IMUL's product and IDIV's quotient under a REP prefix, and only on the 8086", () => {
    // mov ax,3; mov bl,5; rep imul bl  ->  -15 on the 8086, 15 elsewhere
    const imul = [0xb8, 0x03, 0x00, 0xb3, 0x05, 0xf3, 0xf6, 0xeb];
    expect(run(imul, { model: CPU_MODEL_8086 }).regs16[0]).toBe(-15 & 0xffff);
    expect(run(imul, { model: CPU_MODEL_80286 }).regs16[0]).toBe(15);
    // mov ax,100; mov bl,7; rep idiv bl  ->  AL = -14 on the 8086, AH = 2 either way
    const idiv = [0xb8, 0x64, 0x00, 0xb3, 0x07, 0xf3, 0xf6, 0xfb];
    expect(run(idiv, { model: CPU_MODEL_8086 }).regs16[0]).toBe(0x0200 | (-14 & 0xff));
    expect(run(idiv, { model: CPU_MODEL_80286 }).regs16[0]).toBe(0x020e);
  });

  it("raises the 8086 divide error for the most negative quotient, after the instruction", () => {
    // mov ax,-128; mov bl,1; idiv bl: fits on the 80286, #DE on the 8086 with the next IP pushed.
    const code = [0xb8, 0x80, 0xff, 0xb3, 0x01, 0xf6, 0xfb];
    expect(run(code, { model: CPU_MODEL_80286 }).regs16[0] & 0xff).toBe(0x80);
    const machine = realModeCpu([...code, 0xf4], { model: CPU_MODEL_8086 });
    machine.memory.writeU16(0, 0x2000);
    machine.memory.writeU16(2, 0);
    machine.memory.writeU8(0x2000, 0xf4);
    expect(machine.cpu.run(100)).toBe(STOP_HLT);
    expect(machine.cpu.eip).toBe(0x2001);
    expect(machine.memory.readU16(0x8000 - 6)).toBe(CODE_BASE + code.length); // the next instruction
  });
});

describe("8086 opcode map", () => {
  it("runs 0x0F as POP CS", () => {
    // mov ax,0x0100; push ax; pop cs (0x0F): execution continues at 0100:(next IP)
    const machine = realModeCpu([0xb8, 0x00, 0x01, 0x50, 0x0f], { model: CPU_MODEL_8086 });
    machine.memory.writeU8(0x1000 + 0x1005, 0xf4);
    expect(machine.cpu.run(10)).toBe(STOP_HLT);
    expect(machine.cpu.segSelector[1]).toBe(0x0100);
    expect(machine.cpu.eip).toBe(0x1006);
  });

  it("treats F1 as LOCK and accepts any number of prefixes; later CPUs limit the length", () => {
    // 20 x ES: then F1 inc ax: fine on the 8086
    const long = [...new Array(20).fill(0x26), 0xf1, 0x40];
    expect(run(long, { model: CPU_MODEL_8086 }).regs16[0]).toBe(1);
    // The 80286 raises #GP past 10 bytes, the P6 past 15: IVT[13] -> 0000:2000 (HLT).
    for (const model of [CPU_MODEL_80286, undefined]) {
      const machine = realModeCpu([...long, 0xf4], model === undefined ? {} : { model });
      machine.memory.writeU16(13 * 4, 0x2000);
      machine.memory.writeU8(0x2000, 0xf4);
      expect(machine.cpu.run(10)).toBe(STOP_HLT);
      expect(machine.cpu.eip).toBe(0x2001);
    }
  });
});

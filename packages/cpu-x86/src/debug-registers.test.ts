// DR7.GD (general detect): found by the system test guest db-general-detect (apps/tsqemu/guests/system).
import { describe, expect, it } from "vitest";
import { STOP_HLT } from "./cpu.js";
import { CODE_BASE, realModeCpu } from "./machine.test-support.js";
import { EAX, EBX } from "./registers.js";

const HANDLER = 0x2000;
const DR7_GD = 0x2000;
const DR6_BD = 0x2000;

/** Real mode: sets DR7 = 0x400 | GD, then runs `access`; #DB (IVT vector 1) reads DR6 and DR7 and halts. */
function runWithGeneralDetect(access: number[], gd = true) {
  const dr7 = 0x400 | (gd ? DR7_GD : 0);
  const setDr7 = [0x66, 0xb8, dr7 & 0xff, dr7 >> 8, 0, 0, 0x0f, 0x23, 0xf8]; // mov eax, dr7value; mov dr7, eax
  const machine = realModeCpu([...setDr7, ...access, 0xf4]);
  // #DB handler: mov eax, dr6; mov ebx, dr7; hlt
  machine.memory.write(HANDLER, Uint8Array.from([0x0f, 0x21, 0xf0, 0x0f, 0x21, 0xfb, 0xf4]));
  machine.memory.write(1 * 4, Uint8Array.from([HANDLER & 0xff, HANDLER >> 8, 0, 0]));
  const stop = machine.cpu.run(100);
  return { ...machine, stop, accessAt: CODE_BASE + setDr7.length };
}

describe("DR7.GD", () => {
  it("makes MOV from a debug register a #DB fault with DR6.BD, clearing GD for the handler", () => {
    const { cpu, memory, stop, accessAt } = runWithGeneralDetect([0x0f, 0x21, 0xc0]); // mov eax, dr0
    expect(stop).toBe(STOP_HLT);
    expect(cpu.eip).toBe(HANDLER + 7); // halted in the handler
    expect(cpu.regs[EAX] & DR6_BD).toBe(DR6_BD);
    expect(cpu.regs[EBX] & DR7_GD).toBe(0);
    expect(memory.readU16(0x8000 - 6)).toBe(accessAt); // a fault: the MOV's own IP
  });

  it("makes MOV to a debug register a #DB fault, leaving the register unwritten", () => {
    // mov eax, 0x1234; mov dr1, eax
    const { cpu, stop, memory, accessAt } = runWithGeneralDetect([
      0x66, 0xb8, 0x34, 0x12, 0, 0, 0x0f, 0x23, 0xc8,
    ]);
    expect(stop).toBe(STOP_HLT);
    expect(cpu.regs[EAX] & DR6_BD).toBe(DR6_BD);
    expect(cpu.debugRegisters.address[1]).toBe(0);
    expect(memory.readU16(0x8000 - 6)).toBe(accessAt + 6);
  });

  it("leaves debug register accesses alone while GD is clear", () => {
    const { cpu, stop } = runWithGeneralDetect([0x0f, 0x21, 0xc0], false);
    expect(stop).toBe(STOP_HLT);
    expect(cpu.eip).toBe(CODE_BASE + 9 + 3 + 1); // past the final HLT of the main code
    expect(cpu.debugRegisters.status & DR6_BD).toBe(0);
  });
});

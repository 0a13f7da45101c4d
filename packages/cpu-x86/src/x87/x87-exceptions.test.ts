// x87 exceptions: masked responses, unmasked exceptions taken at the next waiting instruction as #MF
// (CR0.NE=1) or through FERR#/IRQ13 (CR0.NE=0), and the CR0.EM/TS/MP traps.
import { describe, expect, it } from "vitest";
import { STOP_HLT } from "../cpu.js";
import { NO_REG } from "../decoder.js";
import { SIZE16 } from "../flags.js";
import { CODE_BASE } from "../machine.test-support.js";
import { CR0_EM, CR0_MP, CR0_NE, CR0_TS, DS, EXC_GP, EXC_NM, FLAG_IF } from "../registers.js";
import { executeGroup15 } from "./execute-x87.js";
import { SW_B, SW_C1, SW_DE, SW_ES, SW_IE, SW_OE, SW_PE, SW_SF, SW_UE, SW_ZE } from "./x87.js";
import { DATA, doubleBytes, FNINIT, mem, readBytes, runX87, st, stBits } from "./x87.test-support.js";

const A = DATA;
const B = DATA + 0x10;
const CW = DATA + 0x30;
const HANDLER = 0x2000;
const FLD1 = [0xd9, 0xe8];
const FLDZ = [0xd9, 0xee];
const INDEFINITE: [number, number, number] = [0xffff, 0xc0000000, 0];

/** Address of the first instruction of test code (after the FNINIT runX87 prepends). */
const START = CODE_BASE + FNINIT.length;

function run(
  code: number[],
  preset: [number, number[]][] = [],
  options: { cr0Clear?: number; cr0Set?: number; onFerr?: (asserted: boolean) => void; init?: boolean } = {},
) {
  return runX87(code, {
    init: options.init,
    cpu: { onFerr: options.onFerr },
    setup: ({ cpu, memory }) => {
      for (const [address, bytes] of preset) memory.write(address, Uint8Array.from(bytes));
      // Every exception vector points at a HLT, so a delivered fault is visible as where we stopped.
      memory.write(HANDLER, Uint8Array.from([0xf4]));
      for (let vector = 0; vector < 32; vector++)
        memory.write(vector * 4, Uint8Array.from([HANDLER & 0xff, HANDLER >> 8, 0, 0]));
      cpu.cr0 = (cpu.cr0 & ~(options.cr0Clear ?? 0)) | (options.cr0Set ?? 0);
    },
  });
}

const controlWord = (cw: number): [number, number[]] => [CW, [cw & 0xff, cw >> 8]];
const FLDCW = [0xd9, ...mem(5, CW)];

/** The vector a real-mode fault went through: the handler ran, and the stack holds the faulting IP. */
function faultedAt(machine: ReturnType<typeof run>): number {
  expect(machine.stop).toBe(STOP_HLT);
  expect(machine.cpu.eip).toBe(HANDLER + 1);
  const frame = readBytes(machine.memory, machine.cpu.regs16[8], 2);
  return frame[0] | (frame[1] << 8);
}

describe("masked responses", () => {
  it("stack overflow pushes the indefinite with IE, SF and C1 set", () => {
    const { cpu } = run(Array(9).fill(FLD1).flat());
    expect(stBits(cpu, 0)).toEqual(INDEFINITE);
    expect(cpu.fpu.statusWord & (SW_IE | SW_SF | SW_C1)).toBe(SW_IE | SW_SF | SW_C1);
  });

  it("stack underflow writes the indefinite with IE, SF and C1 clear", () => {
    const { cpu } = run([0xd8, 0xc1]); // fadd st0, st1 on an empty stack
    expect(stBits(cpu, 0)).toEqual(INDEFINITE);
    expect(cpu.fpu.statusWord & (SW_IE | SW_SF | SW_C1)).toBe(SW_IE | SW_SF);
  });

  it("invalid operations give the indefinite, division by zero an infinity", () => {
    expect(stBits(run([...FLD1, 0xd9, 0xe0, 0xd9, 0xfa]).cpu, 0)).toEqual(INDEFINITE); // sqrt(-1)
    const { cpu } = run([...FLD1, ...FLDZ, 0xde, 0xf9]); // 1/0
    expect(st(cpu, 0)).toBe(Number.POSITIVE_INFINITY);
    expect(cpu.fpu.statusWord & 0x3f).toBe(SW_ZE);
  });

  it("overflow on a store depends on RC: infinity to nearest, the largest single under chop", () => {
    const store = (cw: number) => {
      const { cpu, memory } = run(
        [...FLDCW, 0xdd, ...mem(0, A), 0xd9, ...mem(3, B)],
        [[A, doubleBytes(1e300)], controlWord(cw)],
      );
      return { bits: Array.from(readBytes(memory, B, 4)), sw: cpu.fpu.statusWord };
    };
    const nearest = store(0x037f);
    expect(nearest.bits).toEqual([0, 0, 0x80, 0x7f]);
    expect(nearest.sw & (SW_OE | SW_PE | SW_C1)).toBe(SW_OE | SW_PE | SW_C1);
    expect(store(0x0f7f).bits).toEqual([0xff, 0xff, 0x7f, 0x7f]);
  });

  it("underflow on a store denormalizes and flags UE with PE", () => {
    const { cpu, memory } = run([0xdd, ...mem(0, A), 0xd9, ...mem(3, B)], [[A, doubleBytes(3 * 2 ** -149)]]);
    expect(Array.from(readBytes(memory, B, 4))).toEqual([3, 0, 0, 0]);
    expect(cpu.fpu.statusWord & (SW_UE | SW_PE)).toBe(0); // exact: no underflow when masked
    const inexact = run([0xdd, ...mem(0, A), 0xd9, ...mem(3, B)], [[A, doubleBytes(2.5 * 2 ** -149)]]);
    expect(Array.from(readBytes(inexact.memory, B, 4))).toEqual([2, 0, 0, 0]);
    expect(inexact.cpu.fpu.statusWord & (SW_UE | SW_PE)).toBe(SW_UE | SW_PE);
  });

  it("flags a denormal operand and an inexact result with C1 when rounded up", () => {
    const denormal = run([0xdd, ...mem(0, A)], [[A, doubleBytes(2 ** -1070)]]).cpu;
    expect(denormal.fpu.statusWord & SW_DE).toBe(SW_DE);
    // 2/3 at 64 bits rounds up (binary 0.1010...: the 65th bit is 1 followed by more)
    const { cpu } = run(
      [0xdd, ...mem(0, A), 0xdd, ...mem(0, B), 0xde, 0xf9],
      [
        [A, doubleBytes(2)],
        [B, doubleBytes(3)],
      ],
    );
    expect(cpu.fpu.statusWord & (SW_PE | SW_C1)).toBe(SW_PE | SW_C1);
  });
});

describe("unmasked exceptions", () => {
  it("leave the operands alone and fault (#MF) at the next waiting instruction", () => {
    // fldcw (IE unmasked); fld1; fchs; fsqrt; fnstsw ax; fwait
    const code = [...FLDCW, ...FLD1, 0xd9, 0xe0, 0xd9, 0xfa, 0xdf, 0xe0, 0x9b];
    const machine = run(code, [controlWord(0x037e)]);
    expect(faultedAt(machine)).toBe(START + code.length - 1);
    expect(st(machine.cpu, 0)).toBe(-1);
    expect(machine.cpu.regs16[0] & (SW_ES | SW_B | SW_IE)).toBe(SW_ES | SW_B | SW_IE);
  });

  it("fault at the next x87 instruction too, but not at the no-wait ones", () => {
    const divide = [...FLD1, ...FLDZ, 0xde, 0xf9];
    const code = [...FLDCW, ...divide, 0xdb, 0xe2, ...divide, 0xdd, ...mem(7, B), ...FLD1];
    // 1/0 unmasked; FNCLEX clears it; 1/0 again; FNSTSW (no wait) runs; FLD1 faults.
    const machine = run(code, [controlWord(0x037b)]);
    expect(faultedAt(machine)).toBe(START + code.length - 2);
    const sw = readBytes(machine.memory, B, 2);
    expect(sw[0] & (SW_ZE | SW_ES)).toBe(SW_ZE | SW_ES);
    expect(st(machine.cpu, 0)).toBe(0); // the division left ST(1)=1, ST(0)=0 unchanged
  });

  it("deliver a wrapped result to a register on overflow, nothing to memory", () => {
    // fld1; fld [A]=16383; fscale -> 2^16383 would be fine; fld [A]; fscale again overflows
    const { cpu } = run(
      [...FLDCW, 0xdd, ...mem(0, A), ...FLD1, 0xd9, 0xfd, 0xd9, 0xfd],
      [[A, doubleBytes(16383)], controlWord(0x0377)],
    );
    // 2^(2*16383) with the exponent wrapped down by 24576
    expect(stBits(cpu, 0)).toEqual([0x3fff + 2 * 16383 - 24576, 0x80000000, 0]);
    expect(cpu.fpu.statusWord & (SW_OE | SW_ES)).toBe(SW_OE | SW_ES);
    const store = run(
      [...FLDCW, 0xdd, ...mem(0, A), 0xd9, ...mem(3, B)],
      [[A, doubleBytes(1e300)], [B, [1, 2, 3, 4]], controlWord(0x0377)],
    );
    expect(Array.from(readBytes(store.memory, B, 4))).toEqual([1, 2, 3, 4]);
    expect(store.cpu.fpu.isEmpty(0)).toBe(false); // FSTP did not pop
  });
});

describe("MS-DOS compatible reporting (CR0.NE=0)", () => {
  it("asserts FERR#, freezes the next waiting instruction until IRQ13 is handled, then runs it", () => {
    const events: boolean[] = [];
    // main: fldcw; fld1; fldz; fdivp (ZE unmasked); fld1; hlt
    const code = [...FLDCW, ...FLD1, ...FLDZ, 0xde, 0xf9, ...FLD1];
    const machine = run(code, [controlWord(0x037b)], { cr0Clear: CR0_NE, onFerr: (a) => events.push(a) });
    const { cpu, memory } = machine;
    expect(events).toEqual([true]);
    expect(machine.stop).toBe(STOP_HLT);
    expect(cpu.eip).toBe(START + code.length - 2); // frozen at the waiting FLD1
    // IRQ13 (INT 75h): FNCLEX; IRET
    const irq13 = 0x3000;
    memory.write(irq13, Uint8Array.from([0xdb, 0xe2, 0xcf]));
    memory.write(0x75 * 4, Uint8Array.from([irq13 & 0xff, irq13 >> 8, 0, 0]));
    cpu.flags.bits |= FLAG_IF;
    cpu.injectInterrupt(0x75);
    expect(cpu.run(100)).toBe(STOP_HLT);
    expect(events).toEqual([true, false]);
    expect(cpu.eip).toBe(START + code.length + 1); // past the final HLT
    expect(st(cpu, 0)).toBe(1);
  });

  it("with IGNNE# asserted the waiting instruction ignores the pending exception", () => {
    const code = [...FLDCW, ...FLD1, ...FLDZ, 0xde, 0xf9];
    const machine = run(code, [controlWord(0x037b)], { cr0Clear: CR0_NE });
    const { cpu, memory } = machine;
    memory.write(cpu.eip - 1, Uint8Array.from([0xd9, 0xe8, 0xf4])); // fld1; hlt after the first HLT
    cpu.eip -= 1;
    cpu.halted = false;
    cpu.fpu.ignne = true;
    expect(cpu.run(10)).toBe(STOP_HLT);
    expect(st(cpu, 0)).toBe(1);
    expect(cpu.fpu.statusWord & SW_ES).toBe(SW_ES);
  });
});

describe("CR0.EM, TS and MP", () => {
  it("ESC raises #NM when TS or EM is set", () => {
    expect(faultedAt(run(FLD1, [], { cr0Set: CR0_TS, init: false }))).toBe(CODE_BASE);
    expect(faultedAt(run(FLD1, [], { cr0Set: CR0_EM, init: false }))).toBe(CODE_BASE);
  });

  it("WAIT raises #NM only when both MP and TS are set", () => {
    expect(run([0x9b], [], { cr0Set: CR0_TS, init: false }).cpu.eip).toBe(CODE_BASE + 2);
    expect(faultedAt(run([0x9b], [], { cr0Set: CR0_TS | CR0_MP, init: false }))).toBe(CODE_BASE);
  });

  it("FXSAVE raises #NM with TS or EM and #GP on a misaligned operand", () => {
    const { cpu } = run([]);
    const fxsave = (address: number) => {
      cpu.insn.opcode = 0x1ae;
      cpu.insn.mod = 0;
      cpu.insn.reg = 0;
      cpu.insn.rm = 6;
      cpu.insn.base = NO_REG;
      cpu.insn.index = NO_REG;
      cpu.insn.displacement = address;
      cpu.insn.addressSize = SIZE16;
      cpu.insn.segment = DS;
      try {
        executeGroup15(cpu, cpu.insn);
        return -1;
      } catch {
        return (cpu as unknown as { exceptionVector: number }).exceptionVector;
      }
    };
    expect(fxsave(0x5000)).toBe(-1);
    expect(fxsave(0x5008)).toBe(EXC_GP);
    cpu.cr0 |= CR0_TS;
    expect(fxsave(0x5000)).toBe(EXC_NM);
  });

  it("undefined x87 encodings raise #UD", () => {
    expect(faultedAt(run([0xdd, 0xf0]))).toBe(START);
    expect(faultedAt(run([0xd9, 0xd1]))).toBe(START);
  });
});

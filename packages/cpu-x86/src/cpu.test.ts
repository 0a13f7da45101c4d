import { describe, expect, it } from "vitest";
import {
  ACCESS_IO,
  ACCESS_MMIO,
  STOP_BUDGET,
  STOP_HLT,
  STOP_INTERNAL_ERROR,
  STOP_IO,
  STOP_MMIO,
  STOP_SHUTDOWN,
} from "./cpu.js";
import { CODE_BASE, realModeCpu } from "./machine.test-support.js";
import { EAX, EBX, ECX, EDI, EDX, ESI, FLAG_CF, FLAG_IF, FLAG_OF, FLAG_ZF } from "./registers.js";

/** Runs until HLT (or another stop) and returns the stop reason. */
function runToHalt(code: number[]) {
  const machine = realModeCpu([...code, 0xf4]);
  const stop = machine.cpu.run(10_000);
  return { ...machine, stop };
}

describe("reset", () => {
  it("starts at F000:FFF0 with CS base FFFF0000 and the signature in EDX", () => {
    const { cpu } = realModeCpu([]);
    cpu.reset();
    expect(cpu.eip).toBe(0xfff0);
    expect(cpu.segSelector[1]).toBe(0xf000);
    expect(cpu.segBase[1] >>> 0).toBe(0xffff0000);
    expect(cpu.regs[EDX]).toBe(0x633);
    expect(cpu.flags.get()).toBe(2);
  });
});

describe("integer instructions", () => {
  it("adds, subtracts and keeps lazy flags right", () => {
    // mov ax,0xffff; add ax,1 -> CF ZF; mov bl,0x7f; add bl,1 -> OF
    const { cpu, stop } = runToHalt([0xb8, 0xff, 0xff, 0x05, 0x01, 0x00]);
    expect(stop).toBe(STOP_HLT);
    expect(cpu.regs[EAX]).toBe(0);
    expect(cpu.flags.get() & (FLAG_CF | FLAG_ZF)).toBe(FLAG_CF | FLAG_ZF);
    const b = runToHalt([0xb3, 0x7f, 0x80, 0xc3, 0x01]).cpu;
    expect(b.regs[EBX] & 0xff).toBe(0x80);
    expect(b.flags.get() & FLAG_OF).toBe(FLAG_OF);
  });

  it("runs a counted loop with 32-bit operands in real mode", () => {
    // xor eax,eax; mov ecx,100; L: add eax,ecx; loop L  (66 prefix for 32-bit)
    const { cpu } = runToHalt([0x66, 0x31, 0xc0, 0x66, 0xb9, 100, 0, 0, 0, 0x66, 0x01, 0xc8, 0xe2, 0xfb]);
    expect(cpu.regs[EAX]).toBe(5050);
    expect(cpu.regs[ECX]).toBe(0);
  });

  it("multiplies and divides 32-bit values exactly", () => {
    // mov eax,0xfffffffe; mov ebx,0xfffffffd; mul ebx; div ebx
    const code = [0x66, 0xb8, 0xfe, 0xff, 0xff, 0xff, 0x66, 0xbb, 0xfd, 0xff, 0xff, 0xff, 0x66, 0xf7, 0xe3];
    const { cpu } = runToHalt(code);
    const product = 0xfffffffen * 0xfffffffdn;
    expect(cpu.regs[EAX] >>> 0).toBe(Number(product & 0xffffffffn));
    expect(cpu.regs[EDX] >>> 0).toBe(Number(product >> 32n));
    const back = runToHalt([...code, 0x66, 0xf7, 0xf3]).cpu;
    expect(back.regs[EAX] >>> 0).toBe(0xfffffffe);
    expect(back.regs[EDX]).toBe(0);
  });

  it("raises #DE through the IVT on division by zero, with the faulting IP pushed", () => {
    const { cpu, memory } = realModeCpu([0x31, 0xdb, 0xf7, 0xf3]); // xor bx,bx; div bx
    memory.writeU16(0, 0x2000); // IVT[0] = 0000:2000
    memory.writeU16(2, 0);
    memory.writeU8(0x2000, 0xf4);
    expect(cpu.run(100)).toBe(STOP_HLT);
    expect(cpu.eip).toBe(0x2001);
    expect(memory.readU16(0x8000 - 6)).toBe(CODE_BASE + 2); // return IP = the DIV itself
  });

  it("copies with REP MOVSB and compares with REPE CMPSB", () => {
    // si=0x3000 di=0x4000 cx=5 rep movsb; si=0x3000 di=0x4000 cx=5 repe cmpsb
    const { cpu, memory } = realModeCpu([
      0xbe, 0x00, 0x30, 0xbf, 0x00, 0x40, 0xb9, 0x05, 0x00, 0xf3, 0xa4, 0xbe, 0x00, 0x30, 0xbf, 0x00, 0x40,
      0xb9, 0x05, 0x00, 0xf3, 0xa6, 0xf4,
    ]);
    memory.write(0x3000, new TextEncoder().encode("hello"));
    expect(cpu.run(100)).toBe(STOP_HLT);
    expect(
      new TextDecoder().decode(Uint8Array.from([0, 1, 2, 3, 4].map((i) => memory.readU8(0x4000 + i)))),
    ).toBe("hello");
    expect(cpu.regs[ECX] & 0xffff).toBe(0);
    expect(cpu.flags.zf()).toBe(true);
    expect(cpu.regs[ESI] & 0xffff).toBe(0x3005);
    expect(cpu.regs[EDI] & 0xffff).toBe(0x4005);
  });

  it("raises #UD for LOCK on a register destination and for undefined opcodes", () => {
    const { cpu, memory } = realModeCpu([0xf0, 0x01, 0xc0]); // lock add ax,ax
    memory.writeU16(6 * 4, 0x2000);
    memory.writeU8(0x2000, 0xf4);
    expect(cpu.run(10)).toBe(STOP_HLT);
    expect(memory.readU16(0x8000 - 6)).toBe(CODE_BASE);
  });
});

describe("exits to the host", () => {
  it("stops for IN, then re-runs the instruction with the host's data", () => {
    const { cpu } = realModeCpu([0xba, 0xfd, 0x03, 0xec, 0xf4]); // mov dx,0x3fd; in al,dx; hlt
    expect(cpu.run(100)).toBe(STOP_IO);
    expect(cpu.pendingAccess).toMatchObject({ kind: ACCESS_IO, address: 0x3fd, size: 1, write: false });
    expect(cpu.eip).toBe(CODE_BASE + 3);
    cpu.completeRead(0x60);
    expect(cpu.run(100)).toBe(STOP_HLT);
    expect(cpu.regs[EAX] & 0xff).toBe(0x60);
  });

  it("refuses to run on before a pending read is completed", () => {
    const { cpu } = realModeCpu([0xe4, 0x60]);
    expect(cpu.run(100)).toBe(STOP_IO);
    expect(cpu.run(100)).toBe(STOP_INTERNAL_ERROR);
  });

  it("delivers OUT after the instruction completes, and REP OUTSB one byte per exit", () => {
    const { cpu, memory } = realModeCpu([
      0xba, 0xe9, 0x00, 0xbe, 0x00, 0x30, 0xb9, 0x03, 0x00, 0xf3, 0x6e, 0xf4,
    ]);
    memory.write(0x3000, Uint8Array.from([1, 2, 3]));
    const seen: number[] = [];
    for (;;) {
      const stop = cpu.run(100);
      if (stop !== STOP_IO) {
        expect(stop).toBe(STOP_HLT);
        break;
      }
      expect(cpu.pendingAccess).toMatchObject({ kind: ACCESS_IO, address: 0xe9, size: 1, write: true });
      seen.push(cpu.pendingAccess.value);
    }
    expect(seen).toEqual([1, 2, 3]);
  });

  it("turns reads and writes outside RAM into MMIO exits", () => {
    // RAM ends at 0xA0000: mov ax,0xa000; mov ds,ax; mov ax,[0]; mov [2],ax; hlt
    const code = [0xb8, 0x00, 0xa0, 0x8e, 0xd8, 0xa1, 0x00, 0x00, 0xa3, 0x02, 0x00, 0xf4];
    const mmio = realModeCpu(code);
    mmio.memory.setUserMemoryRegion({ slot: 0, guestPhysAddr: 0, memorySize: 0xa0000 });
    mmio.memory.write(CODE_BASE, Uint8Array.from(code));
    const c = mmio.cpu;
    expect(c.run(100)).toBe(STOP_MMIO);
    expect(c.pendingAccess).toMatchObject({ kind: ACCESS_MMIO, address: 0xa0000, size: 2, write: false });
    c.completeRead(0xbeef);
    expect(c.run(100)).toBe(STOP_MMIO);
    expect(c.pendingAccess).toMatchObject({
      kind: ACCESS_MMIO,
      address: 0xa0002,
      size: 2,
      write: true,
      value: 0xbeef,
    });
    expect(c.run(100)).toBe(STOP_HLT);
  });

  it("reports running out of budget and resumes where it stopped", () => {
    const { cpu } = realModeCpu([0xeb, 0xfe]); // jmp $
    expect(cpu.run(1000)).toBe(STOP_BUDGET);
    expect(cpu.instructionCount).toBe(1000);
    expect(cpu.eip).toBe(CODE_BASE);
  });
});

describe("interrupts", () => {
  it("takes an injected interrupt only when IF is set, after the STI shadow", () => {
    // cli; nop; sti; nop; hlt ; handler at 0x2000: mov bx,0x55; iret
    const { cpu, memory } = realModeCpu([0xfa, 0x90, 0xfb, 0x90, 0xf4, 0xf4]);
    memory.writeU16(0x20 * 4, 0x2000);
    memory.write(0x2000, Uint8Array.from([0xbb, 0x55, 0x00, 0xcf]));
    cpu.injectInterrupt(0x20);
    expect(cpu.run(2)).toBe(STOP_BUDGET); // cli, nop: masked
    expect(cpu.regs[EBX]).toBe(0);
    expect(cpu.run(1)).toBe(STOP_BUDGET); // sti
    expect(cpu.run(1)).toBe(STOP_BUDGET); // the nop in the shadow runs first
    expect(cpu.eip).toBe(CODE_BASE + 4);
    expect(cpu.run(100)).toBe(STOP_HLT); // handler runs, irets to the hlt
    expect(cpu.regs[EBX]).toBe(0x55);
    expect(cpu.flags.get() & FLAG_IF).toBe(FLAG_IF);
  });

  it("wakes from HLT for an injected interrupt", () => {
    const { cpu, memory } = realModeCpu([0xfb, 0xf4, 0xf4]);
    memory.writeU16(0x21 * 4, 0x2000);
    memory.write(0x2000, Uint8Array.from([0xbb, 0x77, 0x00, 0xcf]));
    expect(cpu.run(100)).toBe(STOP_HLT);
    cpu.injectInterrupt(0x21);
    expect(cpu.run(100)).toBe(STOP_HLT);
    expect(cpu.regs[EBX]).toBe(0x77);
    expect(cpu.eip).toBe(CODE_BASE + 3);
  });

  it("shuts down on a triple fault", () => {
    // IDT limit 0 makes every delivery fault: #DE -> #GP -> #DF -> shutdown.
    const { cpu, memory } = realModeCpu([0x0f, 0x01, 0x1e, 0x00, 0x30, 0x31, 0xdb, 0xf7, 0xf3]); // lidt [0x3000]; xor bx,bx; div bx
    memory.writeU16(0x3000, 0);
    expect(cpu.run(100)).toBe(STOP_SHUTDOWN);
  });
});

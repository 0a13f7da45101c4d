// The in-kernel local APIC seen from guest code: programs assembled with GNU as program the APIC
// through its page and its MSRs, take its interrupts through the IDT and EOI them. APIC accesses must
// never reach the VMM; the VMM only serves port I/O and skips idle time to the APIC timer's deadline.
import { CPU_MODEL_P6, type CpuModel } from "@tsvmm/cpu-x86";
import { RoundRobinScheduler } from "@tsvmm/scheduler";
import { describe, expect, it } from "vitest";
import { CPUID_ECX_TSC_DEADLINE, CPUID_ECX_X2APIC, ExitReason, IoDirection } from "../src/index.js";
import { assemble, assemblerMissing } from "./assemble.js";
import { guestMachine, protectedModeProgram, runGuest } from "./guest.js";

if (assemblerMissing) console.log(`local APIC guest tests skipped: ${assemblerMissing}`);

const MODEL_WITH_X2APIC: CpuModel = {
  ...CPU_MODEL_P6,
  featuresEcx: CPUID_ECX_X2APIC | CPUID_ECX_TSC_DEADLINE,
};

/** The periodic-timer guest: N timer interrupts at vector 0x40, each EOIed; then it reports. */
function periodicTimerGuest(interrupts: number, initialCount: number, waitWith: "hlt" | "spin"): string {
  const wait =
    waitWith === "hlt"
      ? `wait:
  hlt
  cmp dword ptr [count], ${interrupts}
  jb wait`
      : `wait:
  inc ebx
  cmp dword ptr [count], ${interrupts}
  jb wait`;
  return protectedModeProgram(
    `
  xor ebx, ebx
  mov dword ptr [0xfee000f0], 0x1ff      /* SVR: enabled, spurious vector 0xff */
  mov dword ptr [0xfee003e0], 0xb        /* divide by 1: 1 GHz */
  mov dword ptr [0xfee00320], 0x20040    /* LVT timer: periodic, vector 0x40 */
  mov dword ptr [0xfee00380], ${initialCount}
  sti
${wait}
  cli
  mov dword ptr [0xfee00320], 0x10000    /* mask the timer (it keeps counting)... */
  mov dword ptr [0xfee00380], 0          /* ...and stop it */
  mov eax, [count]
  out 0xe9, eax
  mov eax, [isr_in_handler]
  out 0xe9, eax
  mov eax, [0xfee00120]                  /* ISR bits 64-95, after the last EOI */
  out 0xe9, eax
  out 0xf4, al
  hlt
timer:
  push eax
  inc dword ptr [count]
  mov eax, [0xfee00120]
  mov [isr_in_handler], eax
  ${waitWith === "spin" ? "mov eax, ebx\n  out 0xe9, eax" : ""}
  mov dword ptr [0xfee000b0], 0          /* EOI */
  pop eax
  iret
.align 4
count: .long 0
isr_in_handler: .long 0
`,
    { 64: "timer" },
  );
}

describe.skipIf(assemblerMissing !== undefined)("the local APIC from a guest", () => {
  it("takes N periodic timer interrupts through the IDT, sleeping in HLT between them", () => {
    const { vm, bsp } = guestMachine(periodicTimerGuest(5, 500_000, "hlt"));
    const run = runGuest(vm);
    expect(run.end).toBe("done");
    expect(run.exits).toEqual([]); // every APIC access was answered inside run()
    expect(run.results).toEqual([5, 1, 0]); // 5 interrupts, vector 0x40 in service in the handler, none after
    // Five periods of 500 us passed; the vCPU ran only a few hundred instructions.
    const now = vm.clock.nowNs();
    expect(now).toBeGreaterThanOrEqual(2_500_000);
    expect(now).toBeLessThan(3_000_000);
    expect(bsp.instructionCount).toBeLessThan(500);
    expect(bsp.nextTimerEventNs()).toBeUndefined();
  });

  it("answers APIC accesses inside run() even when timeslices end on them", () => {
    for (const timeslice of [1, 2, 7]) {
      const { vm } = guestMachine(periodicTimerGuest(3, 250_000, "hlt"), {
        scheduler: new RoundRobinScheduler({ timeslice }),
      });
      const run = runGuest(vm, 100_000);
      expect(run, `timeslice ${timeslice}`).toEqual({ results: [3, 1, 0], exits: [], end: "done" });
    }
  });

  it("interrupts a busy guest on time and identically on every run (instruction clock)", () => {
    const source = periodicTimerGuest(4, 300_000, "spin");
    const first = runGuest(guestMachine(source).vm);
    const second = runGuest(guestMachine(source).vm);
    expect(first.end).toBe("done");
    expect(second.results).toEqual(first.results);
    // The loop is 3 instructions; between interrupts the handler runs ~10, so ~99 990 iterations.
    const spins = first.results.slice(0, 4);
    for (let i = 1; i < spins.length; i++) {
      const perPeriod = spins[i] - spins[i - 1];
      expect(perPeriod).toBeGreaterThan(99_980);
      expect(perPeriod).toBeLessThanOrEqual(100_000);
    }
    expect(first.results.slice(4)).toEqual([4, 1, 0]);
  });

  it("takes a self IPI right after the instruction that sent it, or as soon as IF allows", () => {
    const source = protectedModeProgram(
      `
  mov dword ptr [0xfee000f0], 0x1ff
  sti
  mov ecx, 1
  mov dword ptr [0xfee00300], 0x44050    /* ICR: self, fixed, vector 0x50 */
  mov ecx, 2
  cli
  mov ecx, 3
  mov dword ptr [0xfee00300], 0x44050
  mov ecx, 4
  sti
  mov ecx, 5                             /* STI's shadow: the interrupt waits for this one */
  mov ecx, 6
  out 0xf4, al
ipi:
  mov eax, ecx
  out 0xe9, eax
  mov dword ptr [0xfee000b0], 0
  iret
`,
      { 80: "ipi" },
    );
    const run = runGuest(guestMachine(source).vm);
    expect(run).toEqual({ results: [1, 5], exits: [], end: "done" });
  });

  it("reads the APIC page without exits, moves it with IA32_APIC_BASE, and leaves the old page to the VMM", () => {
    const source = protectedModeProgram(`
  mov eax, [0xfee00030]
  out 0xe9, eax
  mov ecx, 0x1b
  rdmsr
  out 0xe9, eax
  mov eax, 0xfed00900
  wrmsr
  mov eax, [0xfed00030]
  out 0xe9, eax
  mov eax, [0xfee00030]                  /* no longer the APIC: an MMIO exit */
  out 0xf4, al
`);
    const run = runGuest(guestMachine(source).vm);
    expect(run).toEqual({
      results: [0x5_0014, 0xfee0_0900, 0x5_0014],
      exits: ["MMIO fee00030"],
      end: "done",
    });
  });

  it("runs x2APIC through MSRs: self IPI, EOI, and no MMIO page", () => {
    const source = protectedModeProgram(
      `
  mov ecx, 0x1b
  rdmsr
  or eax, 0xc00                          /* enable x2APIC mode */
  wrmsr
  mov ecx, 0x80f
  mov eax, 0x1ff
  xor edx, edx
  wrmsr
  mov ecx, 0x802
  rdmsr
  out 0xe9, eax                          /* x2APIC ID */
  sti
  mov ebx, 1
  mov ecx, 0x83f
  mov eax, 0x51
  wrmsr                                  /* SELF IPI, vector 0x51 */
  mov ebx, 2
  mov eax, [0xfee00030]                  /* the page does not decode in x2APIC mode */
  out 0xf4, al
ipi:
  mov eax, ebx
  out 0xe9, eax
  mov ecx, 0x80b
  xor eax, eax
  xor edx, edx
  wrmsr                                  /* EOI */
  iret
`,
      { 81: "ipi" },
    );
    const { vm, bsp } = guestMachine(source, { cpuModel: MODEL_WITH_X2APIC });
    const run = runGuest(vm);
    expect(run).toEqual({ results: [0, 1], exits: ["MMIO fee00030"], end: "done" });
    expect(bsp.getLapicState().isr).toEqual([0, 0, 0, 0, 0, 0, 0, 0]);
  });

  it("fires a TSC-deadline timer armed with RDTSC + delta", () => {
    const source = protectedModeProgram(
      `
  mov dword ptr [0xfee000f0], 0x1ff
  mov dword ptr [0xfee00320], 0x40040    /* TSC-deadline mode, vector 0x40 */
  rdtsc
  add eax, 100000
  adc edx, 0
  mov ecx, 0x6e0
  wrmsr
  sti
wait:
  hlt
  cmp dword ptr [fired], 1
  jb wait
  mov ecx, 0x6e0
  rdmsr
  out 0xe9, eax                          /* the deadline cleared itself */
  out 0xf4, al
timer:
  mov dword ptr [fired], 1
  mov dword ptr [0xfee000b0], 0
  iret
.align 4
fired: .long 0
`,
      { 64: "timer" },
    );
    const { vm } = guestMachine(source, { cpuModel: MODEL_WITH_X2APIC });
    const run = runGuest(vm);
    expect(run).toEqual({ results: [0], exits: [], end: "done" });
    expect(vm.clock.nowNs()).toBeGreaterThanOrEqual(100_000);
    expect(vm.clock.nowNs()).toBeLessThan(100_200);
  });

  it("starts an application processor with INIT and SIPI at vector * 0x1000 in real mode", () => {
    const source = protectedModeProgram(`
  mov dword ptr [0xfee000f0], 0x1ff
  mov dword ptr [0xfee00310], 0x01000000 /* destination: APIC ID 1 */
  mov dword ptr [0xfee00300], 0x4500     /* INIT, assert */
  mov dword ptr [0xfee00300], 0x8500     /* INIT level de-assert: no effect */
  mov dword ptr [0xfee00300], 0x4608     /* SIPI, vector 8: start at 0x8000 */
wait:
  cmp word ptr [0x7000], 0x1234
  jne wait
  out 0xf4, al
`);
    const { vm, bsp, ram } = guestMachine(source, { vcpus: 2 });
    ram.set(assemble("mov ax, 0x1234\n  mov [0x7000], ax\n  cli\n  hlt", 0x8000), 0x8000);
    const ap = vm.listVcpus()[1];
    expect(ap.getMpState()).toBe("wait-for-sipi");
    const run = runGuest(vm);
    expect(run.end).toBe("done");
    expect(ap.getMpState()).toBe("halted");
    expect(ap.getSregs().cs).toMatchObject({ selector: 0x0800, base: 0x8000 });
    expect(ap.getRegs().rip).toBe(8); // after HLT
    expect(bsp.getMpState()).toBe("runnable");
  });

  it("passes 8259 interrupts through LINT0 in virtual-wire mode, or with the APIC disabled", () => {
    const source = protectedModeProgram(
      `
  sti
  mov al, 0
  out 0xe9, al                           /* phase 0: virtual wire (the reset state) */
  mov dword ptr [0xfee00350], 0x10700    /* mask LINT0 */
  mov al, 1
  out 0xe9, al                           /* phase 1: 8259 interrupts do not get through */
  mov ecx, 0x1b
  rdmsr
  and eax, ~0x800                        /* disable the APIC: the 8259 reaches the CPU directly */
  wrmsr
  mov al, 2
  out 0xe9, al
  out 0xf4, al
pic:
  mov al, 0x30
  out 0xe9, al
  iret
`,
      { 48: "pic" },
    );
    const { bsp } = guestMachine(source);
    const seen: number[] = [];
    for (let i = 0; i < 100; i++) {
      const exit = bsp.run();
      if (exit.exitReason !== ExitReason.IO || exit.io.direction !== IoDirection.OUT) continue;
      if (exit.io.port === 0xf4) break;
      const value = exit.io.data[0];
      seen.push(value);
      if (value === 0) {
        expect(bsp.acceptsExtInt()).toBe(true);
        bsp.interrupt(0x30);
      } else if (value === 1) {
        expect(bsp.acceptsExtInt()).toBe(false);
        bsp.interrupt(0x30); // stays pending until the APIC lets 8259 interrupts through
      }
    }
    expect(seen).toEqual([0, 0x30, 1, 0x30, 2]);
  });

  it("follows the host clock in host mode", () => {
    let hostMs = 0;
    const source = protectedModeProgram(
      `
  mov dword ptr [0xfee000f0], 0x1ff
  mov dword ptr [0xfee003e0], 0xb
  mov dword ptr [0xfee00320], 0x40
  mov dword ptr [0xfee00380], 1000000    /* 1 ms */
  sti
spin:
  jmp spin
timer:
  mov al, 0x40
  out 0xe9, al
  out 0xf4, al
`,
      { 64: "timer" },
    );
    const { bsp } = guestMachine(source, { clock: { mode: "host", hostNowMs: () => hostMs } });
    expect(bsp.run().exitReason).toBe(ExitReason.INTR); // no host time has passed
    expect(bsp.nextTimerEventNs()).toBe(1_000_000);
    hostMs = 1;
    const exit = bsp.run();
    expect(exit.exitReason).toBe(ExitReason.IO);
    expect(exit.io.data[0]).toBe(0x40);
  });
});

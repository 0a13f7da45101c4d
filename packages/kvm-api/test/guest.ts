// Test support: small guests for the local APIC tests. A program enters flat 32-bit protected mode with
// an IDT whose listed vectors point at labels, and a machine runs it the way a VMM would: exits for
// port I/O, and idle time skipped to the next APIC timer deadline when every vCPU halts.
import { ExitReason, IoDirection, openHypervisor, type Vcpu, type Vm, type VmOptions } from "../src/index.js";
import { assemble } from "./assemble.js";

/** Where programs are linked and loaded. */
export const ORIGIN = 0x1000;
/** Port the guests write their results to (a byte or a dword), and the port that ends a run. */
export const RESULT_PORT = 0xe9;
export const DONE_PORT = 0xf4;

/**
 * Source of a program that enters protected mode (flat code 0x08, data 0x10, stack at 0x8000) and
 * runs `body` in 32-bit code. `vectors` maps interrupt vectors to handler labels (interrupt gates).
 */
export function protectedModeProgram(body: string, vectors: Record<number, string> = {}): string {
  const idt: string[] = [];
  for (let v = 0; v < 256; v++) {
    const label = vectors[v];
    idt.push(label ? `.word ${label}, 0x08; .byte 0, 0x8e; .word 0` : ".quad 0");
  }
  return `
.globl _start
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
${body}
.align 8
gdt:
  .quad 0
  .word 0xffff, 0; .byte 0, 0x9a, 0xcf, 0
  .word 0xffff, 0; .byte 0, 0x92, 0xcf, 0
gdt_end:
gdtr:
  .word gdt_end - gdt - 1
  .long gdt
idt:
${idt.join("\n")}
idt_end:
idtr:
  .word idt_end - idt - 1
  .long idt
`;
}

/** A VM with 1 MiB of RAM holding `source` at ORIGIN, `vcpus` vCPUs, the BSP about to run it. */
export function guestMachine(
  source: string,
  options: VmOptions & { vcpus?: number } = {},
): { vm: Vm; bsp: Vcpu; ram: Uint8Array } {
  const vm = openHypervisor().createVm({ clock: { mode: "instructions" }, ...options });
  const ram = new Uint8Array(0x10_0000);
  ram.set(assemble(source, ORIGIN), ORIGIN);
  vm.setUserMemoryRegion({ slot: 0, guestPhysAddr: 0, memorySize: ram.length, userspaceMemory: ram });
  const bsp = vm.createVcpu(0);
  for (let i = 1; i < (options.vcpus ?? 1); i++) vm.createVcpu(i);
  const sregs = bsp.getSregs();
  sregs.cs = { ...sregs.cs, selector: 0, base: 0 };
  bsp.setSregs(sregs);
  bsp.setRegs({ ...bsp.getRegs(), rip: ORIGIN });
  return { vm, bsp, ram };
}

export interface GuestRun {
  /** Values written to RESULT_PORT, in order. */
  results: number[];
  /** Exits that reached the caller, by name, for checking that APIC accesses never do. */
  exits: string[];
  /** Why the run ended: the guest wrote DONE_PORT, every vCPU idled with nothing to wake it, or too long. */
  end: "done" | "idle" | "limit";
}

/** Runs the VM like a VMM: I/O exits are served, halted machines skip to the next timer deadline. */
export function runGuest(vm: Vm, maxRuns = 10_000): GuestRun {
  const run: GuestRun = { results: [], exits: [], end: "limit" };
  for (let i = 0; i < maxRuns; i++) {
    const vcpu = vm.nextVcpu();
    if (vcpu === undefined) {
      const deadline = vm.nextTimerEventNs();
      if (deadline === undefined) {
        run.end = "idle";
        return run;
      }
      vm.clock.advanceIdle(deadline);
      continue;
    }
    const exit = vcpu.run();
    if (exit.exitReason === ExitReason.IO && exit.io.direction === IoDirection.OUT) {
      if (exit.io.port === DONE_PORT) {
        run.end = "done";
        return run;
      }
      if (exit.io.port === RESULT_PORT) {
        const d = exit.io.data;
        run.results.push((d[0] | (d[1] << 8) | (d[2] << 16) | (d[3] << 24)) >>> 0);
      }
    } else if (exit.exitReason !== ExitReason.INTR && exit.exitReason !== ExitReason.HLT) {
      run.exits.push(
        exit.exitReason === ExitReason.MMIO
          ? `MMIO ${exit.mmio.physAddr.toString(16)}`
          : String(exit.exitReason),
      );
      if (exit.exitReason === ExitReason.SHUTDOWN || exit.exitReason === ExitReason.INTERNAL_ERROR)
        return run;
    }
  }
  return run;
}

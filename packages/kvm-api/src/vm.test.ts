import { describe, expect, it } from "vitest";
import { ExitReason, IoDirection, openHypervisor, type Sregs, type Vcpu, type Vm } from "./index.js";

/** A VM with 1 MiB of RAM and one vCPU in real mode at 0000:1000 running `code`. */
function realModeVm(code: number[]): { vm: Vm; vcpu: Vcpu } {
  const vm = openHypervisor().createVm();
  const ram = new Uint8Array(0x100000);
  ram.set(code, 0x1000);
  vm.setUserMemoryRegion({ slot: 0, guestPhysAddr: 0, memorySize: ram.length, userspaceMemory: ram });
  const vcpu = vm.createVcpu(0);
  const sregs = vcpu.getSregs();
  for (const name of ["cs", "ds", "es", "ss"] as const)
    sregs[name] = { ...sregs[name], selector: 0, base: 0 };
  vcpu.setSregs(sregs);
  vcpu.setRegs({ ...vcpu.getRegs(), rip: 0x1000, rsp: 0x8000 });
  return { vm, vcpu };
}

describe("the software hypervisor", () => {
  it("reports API version 12 and creates VMs with vCPUs", () => {
    const kvm = openHypervisor();
    expect(kvm.apiVersion).toBe(12);
    const vm = kvm.createVm();
    expect(vm.createVcpu(0).id).toBe(0);
    expect(() => vm.createVcpu(0)).toThrow(/already exists/);
    expect(() => vm.createVcpu(-1)).toThrow(RangeError);
  });

  it("starts vCPUs in the reset state", () => {
    const vcpu = openHypervisor().createVm().createVcpu(0);
    expect(vcpu.getRegs().rip).toBe(0xfff0);
    expect(vcpu.getSregs().cs).toMatchObject({ selector: 0xf000, base: 0xffff0000, limit: 0xffff });
  });

  it("round-trips regs and sregs, and rejects out-of-range values", () => {
    const vcpu = openHypervisor().createVm().createVcpu(0);
    const regs = {
      rax: 1,
      rbx: 2,
      rcx: 3,
      rdx: 0xffffffff,
      rsi: 5,
      rdi: 6,
      rsp: 7,
      rbp: 8,
      rip: 9,
      rflags: 0x202,
    };
    vcpu.setRegs(regs);
    expect(vcpu.getRegs()).toEqual(regs);
    const sregs: Sregs = vcpu.getSregs();
    sregs.cs = { ...sregs.cs, base: 0x10000, limit: 0xfffff, db: true, g: true };
    sregs.gdt = { base: 0x1234, limit: 0x17 };
    vcpu.setSregs(sregs);
    expect(vcpu.getSregs()).toEqual(sregs);
    expect(() => vcpu.setRegs({ ...regs, rax: -1 })).toThrow(RangeError);
    expect(() => vcpu.setRegs({ ...regs, rip: 2 ** 32 })).toThrow(RangeError);
  });
});

describe("run() and its exits", () => {
  it("exits for OUT with the data, and for IN, completing it with the caller's data", () => {
    // mov dx,0x3f8; mov al,'A'; out dx,al; in ax,dx; hlt
    const { vcpu } = realModeVm([0xba, 0xf8, 0x03, 0xb0, 0x41, 0xee, 0xed, 0xf4]);
    let run = vcpu.run();
    expect(run.exitReason).toBe(ExitReason.IO);
    expect(run.io).toMatchObject({ direction: IoDirection.OUT, size: 1, port: 0x3f8, count: 1 });
    expect(run.io.data[0]).toBe(0x41);
    run = vcpu.run();
    expect(run.io).toMatchObject({ direction: IoDirection.IN, size: 2, port: 0x3f8 });
    run.io.data.set([0x34, 0x12]);
    run = vcpu.run();
    expect(run.exitReason).toBe(ExitReason.HLT);
    expect(vcpu.getRegs().rax & 0xffff).toBe(0x1234);
  });

  it("exits for MMIO outside RAM", () => {
    // mov ax,0xffff; mov ds,ax; mov al,[0x10] -> physical 0x100000 (no RAM); hlt
    const { vcpu } = realModeVm([0xb8, 0xff, 0xff, 0x8e, 0xd8, 0xa0, 0x10, 0x00, 0xf4]);
    const run = vcpu.run();
    expect(run.exitReason).toBe(ExitReason.MMIO);
    expect(run.mmio).toMatchObject({ physAddr: 0x100000, len: 1, isWrite: false });
    run.mmio.data[0] = 0x99;
    expect(vcpu.run().exitReason).toBe(ExitReason.HLT);
    expect(vcpu.getRegs().rax & 0xff).toBe(0x99);
  });

  it("returns INTR when the timeslice ends and resumes", () => {
    const { vcpu } = realModeVm([0xeb, 0xfe]);
    expect(vcpu.run().exitReason).toBe(ExitReason.INTR);
    expect(vcpu.instructionCount).toBe(200_000);
  });

  it("marks a halted vCPU not runnable until an interrupt arrives", () => {
    // sti; hlt; hlt   handler for 0x30 at 0x2000: iret
    const { vm, vcpu } = realModeVm([0xfb, 0xf4, 0xf4]);
    expect(vm.nextVcpu()).toBe(vcpu);
    expect(vcpu.run().exitReason).toBe(ExitReason.HLT);
    expect(vcpu.halted).toBe(true);
    expect(vm.nextVcpu()).toBeUndefined();
    vcpu.interrupt(0x30);
    expect(vm.nextVcpu()).toBe(vcpu);
    expect(() => vcpu.interrupt(256)).toThrow(RangeError);
  });

  it("exits with IRQ_WINDOW_OPEN when asked and reports interrupt readiness", () => {
    const { vcpu } = realModeVm([0xfa, 0x90, 0xfb, 0x90, 0xeb, 0xfe]); // cli; nop; sti; nop; jmp $
    vcpu.kvmRun.requestInterruptWindow = true;
    const run = vcpu.run();
    expect(run.exitReason).toBe(ExitReason.IRQ_WINDOW_OPEN);
    expect(run.readyForInterruptInjection).toBe(true);
    expect(run.ifFlag).toBe(true);
    expect(vcpu.getRegs().rip).toBe(0x1004);
  });

  it("reports SHUTDOWN on a triple fault and INTERNAL_ERROR for what it cannot emulate", () => {
    // lidt with limit 0, then int3: every delivery faults.
    const triple = realModeVm([0x0f, 0x01, 0x1e, 0x00, 0x30, 0xcc]);
    expect(triple.vcpu.run().exitReason).toBe(ExitReason.SHUTDOWN);
    // Executing where there is no RAM (here: past the 1 MiB of RAM) cannot be emulated, as with KVM.
    const mmioFetch = realModeVm([0xea, 0x10, 0x00, 0xff, 0xff]); // jmp far FFFF:0010 = 0x100000
    const run = mmioFetch.vcpu.run();
    expect(run.exitReason).toBe(ExitReason.INTERNAL_ERROR);
    expect(run.internal.message).toMatch(/instruction fetch from non-RAM/);
  });
});

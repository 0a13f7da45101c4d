import { describe, expect, it } from "vitest";
import {
  APIC_ICR_HIGH,
  APIC_ICR_LOW,
  APIC_LVT_LINT0,
  APIC_SVR,
  ExitReason,
  openHypervisor,
  type Vm,
} from "./index.js";

/** A VM with RAM and `count` vCPUs; the BSP runs `code` in real mode at 0000:1000. */
function setup(count: number, code: number[] = [0xeb, 0xfe]): Vm {
  const vm = openHypervisor().createVm({ clock: { mode: "instructions" } });
  const ram = new Uint8Array(0x10_0000);
  ram.set(code, 0x1000);
  ram[0] = 0xcf; // every IVT entry is 0000:0000 until set: an IRET there
  ram.set([0x00, 0x20, 0x00, 0x00], 8 * 4); // vector 8 -> 0000:2000
  ram.set([0xeb, 0xfe], 0x2000); // ...which spins, so taking it shows in EIP
  ram.set([0xf4], 0x9000); // the APs' startup code (vector 9): hlt
  vm.setUserMemoryRegion({ slot: 0, guestPhysAddr: 0, memorySize: ram.length, userspaceMemory: ram });
  for (let i = 0; i < count; i++) vm.createVcpu(i);
  const bsp = vm.listVcpus()[0];
  const sregs = bsp.getSregs();
  sregs.cs = { ...sregs.cs, selector: 0, base: 0 };
  bsp.setSregs(sregs);
  bsp.setRegs({ ...bsp.getRegs(), rip: 0x1000, rsp: 0x8000 });
  for (const vcpu of vm.listVcpus()) vcpu.lapic.writeMmio(APIC_SVR, 4, 0x1ff);
  return vm;
}

/** The BSP's APIC sends an IPI (as its xAPIC ICR would) to APIC ID `destination`. */
function ipi(vm: Vm, destination: number, icrLow: number): void {
  const lapic = vm.listVcpus()[0].lapic;
  lapic.writeMmio(APIC_ICR_HIGH, 4, destination << 24);
  lapic.writeMmio(APIC_ICR_LOW, 4, icrLow);
}

describe("INIT and SIPI", () => {
  it("keeps application processors in wait-for-SIPI until a startup IPI", () => {
    const vm = setup(2);
    const [bsp, ap] = vm.listVcpus();
    expect(bsp.getMpState()).toBe("runnable");
    expect(ap.getMpState()).toBe("wait-for-sipi");
    expect(vm.nextVcpu()).toBe(bsp);
    expect(vm.nextVcpu()).toBe(bsp);
    expect(ap.run().exitReason).toBe(ExitReason.HLT); // run() on a waiting vCPU returns at once
    ipi(vm, 1, 0x4609); // SIPI, vector 9
    expect(ap.getMpState()).toBe("runnable");
    expect(ap.getSregs().cs).toMatchObject({ selector: 0x900, base: 0x9000, limit: 0xffff });
    expect(ap.getRegs().rip).toBe(0);
    expect(ap.run().exitReason).toBe(ExitReason.HLT);
    expect(ap.getRegs().rip).toBe(1);
  });

  it("resets a running processor on INIT, ignores INIT de-assert and SIPIs that find it running", () => {
    const vm = setup(2);
    const ap = vm.listVcpus()[1];
    ipi(vm, 1, 0x4609);
    ap.run();
    expect(ap.getMpState()).toBe("halted");
    ipi(vm, 1, 0x460a); // not waiting for SIPI: ignored
    expect(ap.getSregs().cs.selector).toBe(0x900);
    ipi(vm, 1, 0x8500); // INIT level de-assert
    expect(ap.getMpState()).toBe("halted");
    ap.lapic.writeMmio(0x080, 4, 0x30); // TPR: INIT resets the APIC too (but not its ID)
    ipi(vm, 1, 0x4500); // INIT
    expect(ap.getMpState()).toBe("wait-for-sipi");
    expect(ap.getRegs().rip).toBe(0xfff0);
    expect(ap.lapic.readMmio(0x080, 4)).toBe(0);
    expect(ap.lapic.readMmio(0x020, 4) >>> 0).toBe(0x0100_0000);
    ipi(vm, 1, 0x460a);
    expect(ap.getSregs().cs).toMatchObject({ selector: 0xa00, base: 0xa000 });
  });

  it("restarts the bootstrap processor at the reset vector on INIT", () => {
    const vm = setup(1);
    const bsp = vm.listVcpus()[0];
    bsp.run();
    ipi(vm, 0, 0x4500);
    expect(bsp.getMpState()).toBe("runnable");
    expect(bsp.getRegs().rip).toBe(0xfff0);
    expect(bsp.getSregs().cs).toMatchObject({ selector: 0xf000, base: 0xffff0000 });
  });

  it("sets and reports MP states, and latches NMIs", () => {
    const vm = setup(2);
    const ap = vm.listVcpus()[1];
    ap.setMpState("runnable");
    expect(vm.nextVcpu()).toBeDefined();
    ap.setMpState("halted");
    expect(ap.halted).toBe(true);
    expect(() => ap.setMpState("stopped" as never)).toThrow(RangeError);
    ipi(vm, 1, 0x400); // NMI
    expect(ap.nmiPending).toBe(true);
    ap.reset();
    expect(ap.nmiPending).toBe(false);
    expect(ap.getMpState()).toBe("wait-for-sipi");
  });
});

describe("APIC interrupts and the vCPU", () => {
  it("wakes a halted vCPU for an IPI it can take, and for its timer once guest time reaches it", () => {
    const vm = setup(1, [0xfb, 0xf4, 0xeb, 0xfd]); // sti; hlt; jmp -3
    const bsp = vm.listVcpus()[0];
    expect(bsp.run().exitReason).toBe(ExitReason.HLT);
    expect(vm.nextVcpu()).toBeUndefined();
    ipi(vm, 0, 0x40);
    expect(vm.nextVcpu()).toBe(bsp);
    expect(bsp.run().exitReason).toBe(ExitReason.HLT); // took vector 0x40 (IVT entry 0: iret at 0), halted again
    expect(bsp.getLapicState().isr[2]).toBe(1); // vector 0x40 in service: nobody EOIed it
    bsp.lapic.writeMmio(0xb0, 4, 0);
    bsp.lapic.writeMmio(0x3e0, 4, 0xb);
    bsp.lapic.writeMmio(0x320, 4, 0x41);
    bsp.lapic.writeMmio(0x380, 4, 10_000);
    expect(vm.nextVcpu()).toBeUndefined();
    const deadline = vm.nextTimerEventNs();
    expect(deadline).toBe(bsp.nextTimerEventNs());
    vm.clock.advanceIdle(deadline as number);
    expect(vm.nextVcpu()).toBe(bsp);
    bsp.run();
    expect(bsp.getLapicState().isr[2]).toBe(2); // vector 0x41
  });

  it("reports 8259 readiness only while LINT0 passes ExtINT, and keeps a pending ExtINT until then", () => {
    const vm = setup(1, [0xfb, 0xeb, 0xfe]); // sti; jmp $
    const bsp = vm.listVcpus()[0];
    expect(bsp.run().readyForInterruptInjection).toBe(true);
    bsp.lapic.writeMmio(APIC_LVT_LINT0, 4, 0x1_0700);
    expect(bsp.run().readyForInterruptInjection).toBe(false);
    expect(bsp.acceptsExtInt()).toBe(false);
    bsp.interrupt(0x08);
    bsp.run();
    const eipWhileMasked = bsp.getRegs().rip;
    expect(eipWhileMasked).toBe(0x1001);
    bsp.lapic.writeMmio(APIC_LVT_LINT0, 4, 0x700);
    bsp.run();
    expect(bsp.getRegs().rip).toBe(0x2000); // the 8259 vector was taken
  });

  it("saves and restores the LAPIC through the vCPU", () => {
    const vm = setup(1);
    const bsp = vm.listVcpus()[0];
    bsp.lapic.writeMmio(0x080, 4, 0x20);
    const state = bsp.getLapicState();
    const other = setup(1).listVcpus()[0];
    other.setLapicState(state);
    expect(other.getLapicState()).toEqual(state);
  });
});

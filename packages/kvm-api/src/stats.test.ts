import { describe, expect, it } from "vitest";
import { ExitReason, openHypervisor, type Segment, type VcpuStats } from "./index.js";

const flatCode: Segment = {
  base: 0,
  limit: 0xffffffff,
  selector: 0x08,
  type: 11,
  s: true,
  dpl: 0,
  present: true,
  avl: false,
  l: false,
  db: true,
  g: true,
};
const flatData: Segment = { ...flatCode, selector: 0x10, type: 3 };

describe("per-VM statistics", () => {
  it("counts exits by reason, in-kernel APIC accesses, and sums the vCPUs", () => {
    const vm = openHypervisor().createVm({ clock: { mode: "instructions" } });
    const ram = new Uint8Array(0x8_0000);
    // biome-ignore format: one instruction per line
    ram.set([
      0xe6, 0xe9, 0xe6, 0xe9,                               // out 0xe9, al (twice)
      0x66, 0xb9, 0x1b, 0x00, 0x00, 0x00,                   // mov ecx, 0x1b (IA32_APIC_BASE)
      0x66, 0xb8, 0x00, 0x09, 0x09, 0x00,                   // mov eax, 0x90900: APIC page at 0x90000
      0x66, 0x31, 0xd2, 0x0f, 0x30,                         // xor edx, edx; wrmsr
      0xb8, 0x00, 0x90, 0x8e, 0xd8,                         // mov ax, 0x9000; mov ds, ax
      0x66, 0xa1, 0x20, 0x00,                               // mov eax, [0x20]: APIC ID, answered in run()
      0xb8, 0x00, 0xa0, 0x8e, 0xd8,                         // mov ax, 0xa000; mov ds, ax
      0xa0, 0x00, 0x00,                                     // mov al, [0]: MMIO, no RAM there
      0xf4,                                                 // hlt
    ], 0x1000);
    vm.setUserMemoryRegion({ slot: 0, guestPhysAddr: 0, memorySize: ram.length, userspaceMemory: ram });
    const bsp = vm.createVcpu(0);
    const ap = vm.createVcpu(1); // waits for a startup IPI: run() returns HLT at once
    const sregs = bsp.getSregs();
    for (const name of ["cs", "ds", "es", "ss"] as const)
      sregs[name] = { ...sregs[name], selector: 0, base: 0 };
    bsp.setSregs(sregs);
    bsp.setRegs({ ...bsp.getRegs(), rip: 0x1000 });

    const reasons: number[] = [];
    for (;;) {
      const run = bsp.run();
      reasons.push(run.exitReason);
      if (run.exitReason === ExitReason.HLT) break;
    }
    expect(reasons).toEqual([ExitReason.IO, ExitReason.IO, ExitReason.MMIO, ExitReason.HLT]);
    expect(ap.run().exitReason).toBe(ExitReason.HLT);

    const stats = bsp.getStats();
    expect(stats).toMatchObject({
      instructions: 13,
      exits: 4,
      ioExits: 2,
      mmioExits: 1,
      haltExits: 1,
      irqWindowExits: 0,
      timesliceExits: 0,
      apicAccesses: 1,
      pageWalks: 0,
      tlbLookups: 0,
    });
    expect(stats.tlbMisses).toBeGreaterThan(0);
    expect(stats.instructionCacheMisses).toBeGreaterThan(0);
    const total = vm.getStats();
    const apStats = ap.getStats();
    for (const key of Object.keys(total) as (keyof VcpuStats)[]) {
      expect(total[key], key).toBe(stats[key] + apStats[key]);
    }
    expect(total.haltExits).toBe(2);
  });

  it("counts page walks, A/D write-backs and (when asked) every TLB lookup", () => {
    const vm = openHypervisor().createVm();
    const ram = new Uint8Array(0x40_0000);
    const view = new DataView(ram.buffer);
    view.setUint32(0x1_0000, 0x1_1000 | 0x3, true); // PDE 0 -> page table at 0x11000
    for (let i = 0; i < 1024; i++) view.setUint32(0x1_1000 + i * 4, (i * 0x1000) | 0x3, true); // identity
    // biome-ignore format: one instruction per line
    ram.set([
      0xa1, 0x00, 0x00, 0x20, 0x00,                         // mov eax, [0x200000]
      0xa1, 0x00, 0x10, 0x20, 0x00,                         // mov eax, [0x201000]
      0xa1, 0x00, 0x20, 0x20, 0x00,                         // mov eax, [0x202000]
      0xa1, 0x00, 0x00, 0x20, 0x00,                         // mov eax, [0x200000]: a TLB hit
      0xf4,                                                 // hlt
    ], 0x1000);
    vm.setUserMemoryRegion({ slot: 0, guestPhysAddr: 0, memorySize: ram.length, userspaceMemory: ram });
    const vcpu = vm.createVcpu(0);
    vm.setTlbLookupCounting(true);
    vcpu.setSregs({
      ...vcpu.getSregs(),
      cs: flatCode,
      ds: flatData,
      es: flatData,
      ss: flatData,
      cr0: 0x8000_0011,
      cr3: 0x1_0000,
    });
    vcpu.setRegs({ ...vcpu.getRegs(), rip: 0x1000 });
    expect(vcpu.run().exitReason).toBe(ExitReason.HLT);
    const stats = vm.getStats();
    // The code page and three data pages: four walks, each setting A in its PTE; the PDE once.
    expect(stats).toMatchObject({ instructions: 5, pageWalks: 4, tlbMisses: 4, accessedDirtyWrites: 5 });
    // Every instruction is looked up at least once, and so is every data access.
    expect(stats.tlbLookups).toBeGreaterThanOrEqual(5 + 4);
    vm.setTlbLookupCounting(false);
    expect(vm.createVcpu(1).getStats().tlbLookups).toBe(0);
  });
});

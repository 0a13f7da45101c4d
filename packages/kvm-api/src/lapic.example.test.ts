import { expect, it } from "vitest";
import { ExitReason, openHypervisor } from "./index.js";

// The README's local APIC example, kept here so it cannot rot.
it("README example: the APIC timer wakes a halted guest", () => {
  const vm = openHypervisor().createVm({ clock: { mode: "instructions" } });
  const ram = new Uint8Array(0x8_0000); // 512 KiB: nothing at 0x90000, where the guest puts the APIC page
  // biome-ignore format: one instruction per line
  ram.set([
    0x66, 0xb9, 0x1b, 0x00, 0x00, 0x00,                   // mov ecx, 0x1b (IA32_APIC_BASE)
    0x66, 0xb8, 0x00, 0x09, 0x09, 0x00,                   // mov eax, 0x90900: page 0x90000, enabled, BSP
    0x66, 0x31, 0xd2, 0x0f, 0x30,                         // xor edx, edx; wrmsr
    0xb8, 0x00, 0x90, 0x8e, 0xd8,                         // mov ax, 0x9000; mov ds, ax
    0x66, 0xc7, 0x06, 0xf0, 0x00, 0xff, 0x01, 0x00, 0x00, // mov dword [0xf0], 0x1ff: SVR, APIC on
    0x66, 0xc7, 0x06, 0x20, 0x03, 0x40, 0x00, 0x00, 0x00, // mov dword [0x320], 0x40: timer -> vector 0x40
    0x66, 0xc7, 0x06, 0x80, 0x03, 0x40, 0x42, 0x0f, 0x00, // mov dword [0x380], 1000000: 2 ms (divide by 2)
    0xfb, 0xf4, 0xfa, 0xf4,                               // sti; hlt; cli; hlt
  ], 0x7c00);
  // biome-ignore format: one instruction per line
  ram.set([
    0xb0, 0x54, 0xe6, 0xe9,                               // mov al, 'T'; out 0xe9, al
    0x66, 0xc7, 0x06, 0xb0, 0x00, 0x00, 0x00, 0x00, 0x00, // mov dword [0xb0], 0: EOI
    0xcf,                                                 // iret
  ], 0x7e00);
  ram.set([0x00, 0x7e, 0x00, 0x00], 0x40 * 4); // IVT: vector 0x40 -> 0000:7E00
  vm.setUserMemoryRegion({ slot: 0, guestPhysAddr: 0, memorySize: ram.length, userspaceMemory: ram });
  const vcpu = vm.createVcpu(0);
  const sregs = vcpu.getSregs();
  sregs.cs = { ...sregs.cs, selector: 0, base: 0 };
  vcpu.setSregs(sregs);
  vcpu.setRegs({ ...vcpu.getRegs(), rip: 0x7c00, rsp: 0x7000 });

  const output: number[] = [];
  for (;;) {
    const next = vm.nextVcpu();
    if (next === undefined) {
      // Every vCPU is halted: sleep until the next APIC timer interrupt (or stop if none is armed).
      const deadline = vm.nextTimerEventNs();
      if (deadline === undefined) break;
      vm.clock.advanceIdle(deadline); // instruction clock: skip there; host clock: sleep hostDelayMs()
      continue;
    }
    const run = next.run(); // APIC accesses never exit: only the guest's OUT and HLT do
    if (run.exitReason === ExitReason.IO) output.push(run.io.data[0]);
  }
  expect(String.fromCharCode(...output)).toBe("T");
  expect(vm.clock.nowNs()).toBeGreaterThanOrEqual(2_000_000);
});

import { expect, it } from "vitest";
import { ExitReason, IoDirection, openHypervisor } from "./index.js";

// The README example, kept here so it cannot rot.
it("README example", () => {
  const kvm = openHypervisor();
  const vm = kvm.createVm();
  const ram = new Uint8Array(0x10_0000);
  ram.set([0xb0, 0x48, 0xe6, 0xe9, 0xf4], 0x7c00); // mov al,'H'; out 0xe9,al; hlt
  vm.setUserMemoryRegion({ slot: 0, guestPhysAddr: 0, memorySize: ram.length, userspaceMemory: ram });

  const vcpu = vm.createVcpu(0);
  const sregs = vcpu.getSregs();
  sregs.cs = { ...sregs.cs, selector: 0, base: 0 };
  vcpu.setSregs(sregs);
  vcpu.setRegs({ ...vcpu.getRegs(), rip: 0x7c00 });

  const output: number[] = [];
  for (;;) {
    const run = vcpu.run();
    if (run.exitReason === ExitReason.IO && run.io.direction === IoDirection.OUT) {
      output.push(run.io.data[0]); // port run.io.port (0xe9)
    } else if (run.exitReason === ExitReason.HLT) {
      break;
    }
  }
  expect(String.fromCharCode(...output)).toBe("H");
});

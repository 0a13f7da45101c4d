import { expect, it } from "vitest";
import { ExitReason, openHypervisor } from "./index.js";

it("runs the README's dirty-logging and statistics example", () => {
  const vm = openHypervisor().createVm();
  const ram = new Uint8Array(0x10_0000);
  ram.set([0xc6, 0x06, 0x00, 0x50, 0x01, 0xe6, 0xe9, 0xf4], 0x1000); // mov byte [0x5000], 1; out 0xe9, al; hlt
  vm.setUserMemoryRegion({
    slot: 0,
    guestPhysAddr: 0,
    memorySize: ram.length,
    userspaceMemory: ram,
    logDirtyPages: true,
  });
  vm.memory.writeU32(0x8000, 0x1234); // a device's DMA: logged too

  const vcpu = vm.createVcpu(0);
  const sregs = vcpu.getSregs();
  sregs.cs = { ...sregs.cs, selector: 0, base: 0 };
  sregs.ds = { ...sregs.ds, selector: 0, base: 0 };
  vcpu.setSregs(sregs);
  vcpu.setRegs({ ...vcpu.getRegs(), rip: 0x1000 });
  while (vcpu.run().exitReason !== ExitReason.HLT) {}

  const log = vm.getDirtyLog(0); // 32 bytes (256 pages): log[0] === 0b0010_0000 (page 5), log[1] === 1 (page 8)
  const stats = vm.getStats(); // { instructions: 3, exits: 2, ioExits: 1, haltExits: 1, ... }

  expect(log).toHaveLength(32);
  expect(log[0]).toBe(0b0010_0000);
  expect(log[1]).toBe(1);
  expect(log.slice(2).every((byte) => byte === 0)).toBe(true);
  expect(stats).toMatchObject({ instructions: 3, exits: 2, ioExits: 1, haltExits: 1, mmioExits: 0 });
});

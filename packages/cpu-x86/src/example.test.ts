import { PhysicalMemory } from "@tsvmm/ept";
import { expect, it } from "vitest";
import { Cpu, STOP_HLT, STOP_IO } from "./index.js";

// The README example, kept here so it cannot rot.
it("README example", () => {
  const memory = new PhysicalMemory();
  memory.setUserMemoryRegion({ slot: 0, guestPhysAddr: 0, memorySize: 0x10_0000 });
  // At 0000:7C00: mov dx,0x3f8; mov al,'A'; out dx,al; in al,dx; hlt
  memory.write(0x7c00, Uint8Array.from([0xba, 0xf8, 0x03, 0xb0, 0x41, 0xee, 0xec, 0xf4]));

  const cpu = new Cpu(memory);
  cpu.loadSegment(1, 0); // CS = 0
  cpu.eip = 0x7c00;

  let stop = cpu.run(1000); // STOP_IO: the OUT, reported after it completed
  const out = { ...cpu.pendingAccess }; // { address: 0x3f8, size: 1, write: true, value: 0x41 }
  expect(stop).toBe(STOP_IO);
  expect(out).toMatchObject({ address: 0x3f8, size: 1, write: true, value: 0x41 });
  stop = cpu.run(1000); // STOP_IO: the IN waits for the host
  expect(stop).toBe(STOP_IO);
  cpu.completeRead(0x42);
  stop = cpu.run(1000); // STOP_HLT, with AL = 0x42
  expect(stop).toBe(STOP_HLT);
  expect(cpu.regs[0] & 0xff).toBe(0x42);
});

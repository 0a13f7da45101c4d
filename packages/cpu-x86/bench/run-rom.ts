import { PhysicalMemory } from "@tsvmm/ept";
import { Cpu, STOP_BUDGET, STOP_IO } from "../src/index.js";

/**
 * Runs a 64 KiB ROM on a bare cpu-x86 (RAM below 4 MiB, the ROM at 0xF0000 and below 4 GiB) until it
 * writes to port 0xf4; returns the guest instruction count and the wall-clock seconds.
 */
export function runRom(rom: Uint8Array): { instructions: number; seconds: number } {
  const memory = new PhysicalMemory();
  memory.setUserMemoryRegion({ slot: 0, guestPhysAddr: 0, memorySize: 0xf0000 });
  memory.setUserMemoryRegion({
    slot: 1,
    guestPhysAddr: 0xf0000,
    memorySize: 0x10000,
    userspaceMemory: rom,
    readOnly: true,
  });
  memory.setUserMemoryRegion({ slot: 2, guestPhysAddr: 0x100000, memorySize: 0x300000 });
  memory.setUserMemoryRegion({
    slot: 3,
    guestPhysAddr: 0xffff0000,
    memorySize: 0x10000,
    userspaceMemory: rom,
    readOnly: true,
  });
  const cpu = new Cpu(memory);
  const t0 = performance.now();
  for (;;) {
    const stop = cpu.run(10_000_000);
    if (stop === STOP_BUDGET) continue;
    if (stop === STOP_IO && cpu.pendingAccess.address === 0xf4) break;
    if (stop === STOP_IO && !cpu.pendingAccess.write) {
      cpu.completeRead(0xff);
      continue;
    }
    if (stop !== STOP_IO) {
      const at = `${cpu.segSelector[1].toString(16)}:${(cpu.eip >>> 0).toString(16)}`;
      throw new Error(
        `benchmark guest stopped (${stop}) at ${at}: ${cpu.internalError} ${JSON.stringify(cpu.pendingAccess)}`,
      );
    }
  }
  return { instructions: cpu.instructionCount, seconds: (performance.now() - t0) / 1000 };
}

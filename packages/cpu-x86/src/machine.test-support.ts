// Test support: a CPU over 1 MiB of RAM, with code placed at 0000:1000 in real mode.
import { PhysicalMemory } from "@tsvmm/ept";
import { Cpu, type CpuOptions } from "./cpu.js";
import { CS, DS, ES, SS } from "./registers.js";

export const CODE_BASE = 0x1000;

export function realModeCpu(code: number[], options: CpuOptions = {}): { cpu: Cpu; memory: PhysicalMemory } {
  const memory = new PhysicalMemory();
  memory.setUserMemoryRegion({ slot: 0, guestPhysAddr: 0, memorySize: 0x100000 });
  const cpu = new Cpu(memory, options);
  memory.write(CODE_BASE, Uint8Array.from(code));
  for (const s of [CS, DS, ES, SS]) cpu.loadRealModeSegment(s, 0);
  cpu.updateCodeMode();
  cpu.eip = CODE_BASE;
  cpu.regs[4] = 0x8000;
  return { cpu, memory };
}

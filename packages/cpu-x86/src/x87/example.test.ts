import { PhysicalMemory } from "@tsvmm/ept";
import { expect, it } from "vitest";
import { Cpu, STOP_HLT } from "../index.js";

// The README's x87 example, kept here so it cannot rot.
it("README x87 example", () => {
  const memory = new PhysicalMemory();
  memory.setUserMemoryRegion({ slot: 0, guestPhysAddr: 0, memorySize: 0x10_0000 });
  // At 0000:7C00: fninit; fld1; fadd st0,st0; fsqrt; fstp qword [0x500]; hlt
  memory.write(
    0x7c00,
    Uint8Array.from([0xdb, 0xe3, 0xd9, 0xe8, 0xd8, 0xc0, 0xd9, 0xfa, 0xdd, 0x1e, 0x00, 0x05, 0xf4]),
  );

  const ferr: boolean[] = [];
  const cpu = new Cpu(memory, { onFerr: (asserted) => ferr.push(asserted) });
  cpu.loadSegment(1, 0); // CS = 0
  cpu.eip = 0x7c00;
  const stop = cpu.run(100);
  expect(stop).toBe(STOP_HLT);
  const bytes = new Uint8Array(8);
  memory.read(0x500, bytes);
  const root = new DataView(bytes.buffer).getFloat64(0, true);
  expect(root).toBe(Math.SQRT2);
  const status = cpu.fpu.statusWord;
  expect(status).toBe(0x0220);
  expect(ferr).toEqual([]);
});

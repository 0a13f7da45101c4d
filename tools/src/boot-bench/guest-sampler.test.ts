import { buildPc } from "@tsvmm/vmm-core";
import { describe, expect, it } from "vitest";
import { GuestSampler, SampleMode } from "./guest-sampler.js";

/** A real-mode ROM: 1000 times `out 0x80, al` in a LOOP, then isa-debug-exit. */
function postLoopRom(): Uint8Array {
  const rom = new Uint8Array(0x10000).fill(0xf4);
  rom.set([
    0xb9,
    0xe8,
    0x03, // mov cx, 1000
    0xe6,
    0x80, //       3: out 0x80, al
    0xe2,
    0xfc, //       5: loop 3
    0xb0,
    0x00, //       mov al, 0
    0xe6,
    0xf4, //       out 0xf4, al (isa-debug-exit)
  ]);
  rom.set([0xea, 0x00, 0x00, 0x00, 0xf0], 0xfff0); // reset vector: jmp far F000:0000
  return rom;
}

describe("GuestSampler", () => {
  it("samples EIP every N instructions and counts each I/O exit by port", async () => {
    const sampler = new GuestSampler(100);
    const pc = buildPc({
      memoryBytes: 16 * 1024 * 1024,
      firmware: postLoopRom(),
      clock: { mode: "instructions", nsPerInstruction: 1 },
      debugExit: { iobase: 0xf4, iosize: 4 },
      scheduler: sampler,
    });
    expect(await pc.run()).toEqual({ kind: "debug-exit", status: 1 });
    const result = sampler.result();
    // 2004 instructions (the far jump, MOV, 1000 OUT and LOOP pairs, MOV, OUT): a sample every 100 to 2000.
    expect(pc.vm.listVcpus()[0].instructionCount).toBe(2004);
    expect(result.eip).toHaveLength(20);
    // After an even count the next instruction is always the OUT at 3 (the LOOP at 5 follows odd counts).
    expect(new Set(result.eip)).toEqual(new Set([3]));
    expect(result.mode.every((mode) => mode === SampleMode.PAGING_OFF)).toBe(true);
    expect(result.busyMs.every((ms) => ms >= 0)).toBe(true);
    // The exit of the last OUT ends the run before the sampler sees it.
    expect(result.ioPorts).toEqual({ "0x0080/out": 1000 });
    expect(result.mmioPages).toEqual({});
    expect(result.sampleEvery).toBe(100);
  });

  it("refuses a sampling interval below one instruction", () => {
    expect(() => new GuestSampler(0)).toThrow(RangeError);
    expect(() => new GuestSampler(1.5)).toThrow(RangeError);
  });
});

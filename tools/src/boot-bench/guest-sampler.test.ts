import { PhysicalMemory } from "@tsvmm/ept";
import { buildPc } from "@tsvmm/vmm-core";
import { describe, expect, it } from "vitest";
import { GuestSampler, MAX_FRAMES, SampleMode, walkFramePointers } from "./guest-sampler.js";

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
    expect(result.atMs).toHaveLength(20);
    expect(result.atMs.every((ms, i) => ms >= 0 && (i === 0 || ms >= result.atMs[i - 1]))).toBe(true);
    // No frame walk outside the kernel's mode.
    expect(result.callers).toEqual(Array.from({ length: 20 }, () => []));
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

describe("walkFramePointers", () => {
  const RAM = 1024 * 1024;
  const memory = new PhysicalMemory();
  memory.setUserMemoryRegion({ slot: 0, guestPhysAddr: 0, memorySize: RAM });
  /** Writes a frame at kernel virtual address `ebp`: the caller's ebp, then the return address. */
  const frame = (ebp: number, callerEbp: number, returnAddress: number) => {
    memory.writeU32(ebp - 0xc0000000, callerEbp >>> 0);
    memory.writeU32(ebp - 0xc0000000 + 4, returnAddress >>> 0);
  };

  it("collects the return addresses up the stack, innermost first", () => {
    frame(0xc0001000, 0xc0001040, 0xc1000123);
    frame(0xc0001040, 0xc0001100, 0xc1000456);
    frame(0xc0001100, 0, 0xc1000789); // the outermost frame: its saved ebp is 0
    expect(walkFramePointers(memory, 0xc0001000, RAM)).toEqual([0xc1000123, 0xc1000456, 0xc1000789]);
  });

  it("stops at a frame that does not move up the stack, or leaves low memory", () => {
    frame(0xc0002000, 0xc0001ff0, 0xc1000aaa); // a loop back down
    expect(walkFramePointers(memory, 0xc0002000, RAM)).toEqual([0xc1000aaa]);
    frame(0xc0003000, 0xc0000000 + RAM, 0xc1000bbb); // past the end of RAM
    expect(walkFramePointers(memory, 0xc0003000, RAM)).toEqual([0xc1000bbb]);
    expect(walkFramePointers(memory, 0x00001000, RAM)).toEqual([]); // a user or physical address
    expect(walkFramePointers(memory, 0xc0001002, RAM)).toEqual([]); // misaligned
  });

  it("gives at most MAX_FRAMES addresses for a long chain", () => {
    for (let i = 0; i < MAX_FRAMES + 5; i++)
      frame(0xc0010000 + i * 16, 0xc0010000 + (i + 1) * 16, 0xc1000000 + i);
    const chain = walkFramePointers(memory, 0xc0010000, RAM);
    expect(chain).toHaveLength(MAX_FRAMES);
    expect(chain[MAX_FRAMES - 1]).toBe(0xc1000000 + MAX_FRAMES - 1);
  });
});

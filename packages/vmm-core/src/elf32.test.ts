import { describe, expect, it } from "vitest";
import { BootImageError, parseElf32Executable } from "./index.js";
import { buildElfKernel } from "./multiboot-image.test-support.js";

describe("parseElf32Executable", () => {
  it("returns the PT_LOAD segments with their file and memory extents", () => {
    const image = buildElfKernel({
      segments: [
        { physicalAddress: 0x100000, virtualAddress: 0xc0100000, data: [1, 2, 3] },
        { physicalAddress: 0x200000, data: [4], memorySize: 0x1000 },
        { physicalAddress: 0x300000, data: [5], type: 4 }, // PT_NOTE: not loaded
      ],
      entry: 0xc0100000,
    });
    const elf = parseElf32Executable(image);
    expect(elf.entry).toBe(0xc0100000);
    expect(elf.segments).toEqual([
      {
        offset: 0xd0,
        virtualAddress: 0xc0100000,
        physicalAddress: 0x100000,
        fileSize: 3,
        memorySize: 3,
        flags: 5,
      },
      {
        offset: 0xe0,
        virtualAddress: 0x200000,
        physicalAddress: 0x200000,
        fileSize: 1,
        memorySize: 0x1000,
        flags: 5,
      },
    ]);
    expect(image[elf.segments[1].offset]).toBe(4);
  });

  it("rejects files that are not 32-bit i386 executables", () => {
    expect(() => parseElf32Executable(new Uint8Array([0x7f, 0x45, 0x4c, 0x46]))).toThrow(
      /truncated inside its header/,
    );
    expect(() => parseElf32Executable(new Uint8Array(64))).toThrow(/not an ELF file/);
    const big = buildElfKernel({ segments: [{ physicalAddress: 0, data: [0] }], entry: 0 });
    big[5] = 2;
    expect(() => parseElf32Executable(big)).toThrow(/not little-endian/);
    big[5] = 1;
    big[4] = 7;
    expect(() => parseElf32Executable(big)).toThrow(/unknown ELF class 7/);
    big[4] = 1;
    big[42] = 16; // e_phentsize too small to hold a program header
    expect(() => parseElf32Executable(big)).toThrow(BootImageError);
  });
});

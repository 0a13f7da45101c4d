import { describe, expect, it } from "vitest";
import { buildBzImage } from "./bzimage.test-support.js";
import { BootImageError, parseBzImageHeader } from "./index.js";

describe("parseBzImageHeader", () => {
  it("reads the fields a loader needs", () => {
    const image = buildBzImage({
      setupSects: 0, // means 4
      version: 0x020c,
      relocatable: true,
      kernelAlignment: 0x1000000,
      initrdAddrMax: 0x37ffffff,
      cmdlineSize: 255,
      prefAddress: 0x1000000,
      initSize: 0x1234000,
      code32Start: 0x100000,
      xloadflags: 0x3,
      kernelVersion: "6.1.0-test (someone@somewhere) #1",
    });
    expect(parseBzImageHeader(image)).toEqual({
      version: 0x020c,
      setupSects: 4,
      setupSize: 0xa00,
      protectedModeSize: 0x2000,
      syssizeBytes: 0x2000,
      headerEnd: 0x26c,
      loadflags: 1,
      xloadflags: 3,
      code32Start: 0x100000,
      initrdAddrMax: 0x37ffffff,
      kernelAlignment: 0x1000000,
      relocatable: true,
      minAlignment: 12,
      cmdlineSize: 255,
      prefAddress: 0x1000000,
      initSize: 0x1234000,
      vidMode: 0xffff,
      kernelVersion: "6.1.0-test (someone@somewhere) #1",
    });
  });

  it("reads only the fields the protocol version defines", () => {
    const header = parseBzImageHeader(buildBzImage({ version: 0x0206, headerLength: 0x3a, xloadflags: 3 }));
    expect(header).toMatchObject({
      version: 0x0206,
      prefAddress: 0,
      initSize: 0,
      xloadflags: 0,
      minAlignment: 0,
    });
  });

  it("reads a 64-bit pref_address", () => {
    expect(parseBzImageHeader(buildBzImage({ prefAddress: 2 ** 36 + 0x1000 })).prefAddress).toBe(
      2 ** 36 + 0x1000,
    );
  });

  const hostile: Array<[string, Uint8Array, RegExp]> = [
    ["an empty file", new Uint8Array(0), /too short to hold a Linux setup header/],
    ["a file cut inside the header", buildBzImage().subarray(0, 0x230), /too short/],
    ["no boot flag", patch(buildBzImage(), 0x1fe, [0, 0]), /no 0xAA55 boot flag/],
    ["no HdrS", patch(buildBzImage(), 0x202, [0x48, 0x64, 0x72, 0x73]), /no "HdrS" signature/],
    [
      "protocol 2.05",
      buildBzImage({ version: 0x0205 }),
      /boot protocol 2.05 is too old: protocol 2.06 or later/,
    ],
    ["no jump at 0x200", patch(buildBzImage(), 0x200, [0xe9]), /no forward short jump/],
    ["a backward jump", buildBzImage({ headerLength: 0x90 }), /no forward short jump/],
    [
      "a header shorter than its version",
      buildBzImage({ version: 0x020f, headerLength: 0x62 }),
      /ends at 0x264/,
    ],
    ["64 setup sectors", buildBzImage({ setupSects: 64 }), /64 setup sectors exceed the 32 KiB limit/],
    ["255 setup sectors", buildBzImage({ setupSects: 255 }), /255 setup sectors/],
    [
      "a file ending inside the setup code",
      buildBzImage({ setupSects: 40 }).subarray(0, 0x1000),
      /truncated/,
    ],
    ["a zImage", buildBzImage({ loadflags: 0 }), /LOADED_HIGH is clear/],
    [
      "syssize beyond the file",
      buildBzImage({ syssize: 0x201 }),
      /syssize says 8208 bytes.*the file has 8192/,
    ],
    ["syssize zero", buildBzImage({ syssize: 0 }), /syssize says 0 bytes/],
    ["a protected-mode part cut short", buildBzImage().subarray(0, 0xa00 + 0x1000), /truncated/],
    ["alignment 0", buildBzImage({ kernelAlignment: 0 }), /kernel_alignment 0x0/],
    ["alignment 3", buildBzImage({ kernelAlignment: 3 }), /kernel_alignment 0x3 \(not a power of two\)/],
  ];
  for (const [name, image, message] of hostile) {
    it(`rejects ${name}`, () => {
      expect(() => parseBzImageHeader(image)).toThrow(message);
      expect(() => parseBzImageHeader(image)).toThrow(BootImageError);
    });
  }

  it("accepts any alignment for a kernel that is not relocatable", () => {
    expect(parseBzImageHeader(buildBzImage({ relocatable: false, kernelAlignment: 0 })).relocatable).toBe(
      false,
    );
  });

  it("reads images that are views into larger buffers", () => {
    const image = buildBzImage();
    const padded = new Uint8Array(image.length + 100);
    padded.set(image, 100);
    expect(parseBzImageHeader(padded.subarray(100)).setupSize).toBe(0xa00);
  });
});

function patch(image: Uint8Array, offset: number, bytes: number[]): Uint8Array {
  image.set(bytes, offset);
  return image;
}

import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { bareVm, runnableVm } from "./boot-machine.test-support.js";
import { MiB } from "./bzimage.test-support.js";
import {
  BootImageError,
  loadMultibootKernel,
  type MultibootBootOptions,
  splitMultibootModuleList,
} from "./index.js";
import { buildAoutKernel, buildElfKernel, multibootHeader } from "./multiboot-image.test-support.js";

const RAM = 32 * MiB;

function readGuest(vm: ReturnType<typeof bareVm>["vm"], address: number, length: number): Uint8Array {
  const bytes = new Uint8Array(length);
  vm.memory.read(address, bytes);
  return bytes;
}

function allBytesAre(ram: Uint8Array, value: number): boolean {
  const words = new Uint32Array(ram.buffer, ram.byteOffset, ram.length / 4);
  const word = (value * 0x01010101) >>> 0;
  for (let i = 0; i < words.length; i++) if (words[i] !== word) return false;
  return true;
}

const encode = (text: string) => new TextEncoder().encode(text);

/** A kernel with code at 1 MiB and a data segment at 1 MiB + 4 KiB whose last 0xFD bytes are bss. */
function elfKernel(code: number[] = [0xf4]): Uint8Array {
  return buildElfKernel({
    segments: [
      { physicalAddress: 0x100000, data: code },
      { physicalAddress: 0x101000, data: [1, 2, 3], memorySize: 0x100 },
    ],
    entry: 0x100000,
  });
}

describe("loadMultibootKernel", () => {
  it("builds the information structure byte by byte", () => {
    const { vm, vcpu, ram } = bareVm(RAM);
    ram.fill(0xcc);
    const modules = [
      { data: Uint8Array.from([9, 8, 7, 6, 5]), string: "initrd.img root=ram" },
      { data: new Uint8Array(0x1800).fill(0x42), string: "second" },
    ];
    const placement = loadMultibootKernel(vm, vcpu, {
      kernel: elfKernel(),
      cmdline: "kernel.elf console=com1",
      modules,
      ramSize: RAM,
      firmwareSize: 0x20000,
    });

    // Independent layout: structure (116 bytes, padded to 120), memory map, module table, strings.
    const base = 0x9000;
    const mmap = base + 120;
    const mods = mmap + 4 * 24;
    const cmdline = mods + 2 * 16;
    const loaderName = cmdline + "kernel.elf console=com1".length + 1;
    const module0String = loaderName + "tsvmm".length + 1;
    const module1String = module0String + "initrd.img root=ram".length + 1;
    const end = module1String + "second".length + 1;
    const module0 = 0x102000; // page aligned after the kernel's end (0x101100)
    const module1 = 0x103000;

    const expected = new Uint8Array(end - base);
    const view = new DataView(expected.buffer);
    const put = (address: number, value: number) => view.setUint32(address - base, value, true);
    put(base, 0x24d); // memory, cmdline, mods, mmap, boot loader name
    put(base + 4, 639); // mem_lower: 0x9FC00 / 1024
    put(base + 8, (RAM - MiB) / 1024); // mem_upper
    put(base + 16, cmdline);
    put(base + 20, 2);
    put(base + 24, mods);
    put(base + 44, 96);
    put(base + 48, mmap);
    put(base + 64, loaderName);
    const map = [
      [0, 0x9fc00, 1],
      [0x9fc00, 0x60400, 2],
      [0x100000, RAM - 0x100000, 1],
      [0xfffe0000, 0x20000, 2],
    ];
    map.forEach(([address, size, type], i) => {
      const at = mmap + 24 * i;
      put(at, 20);
      put(at + 4, address);
      put(at + 12, size);
      put(at + 20, type);
    });
    put(mods, module0);
    put(mods + 4, module0 + 5);
    put(mods + 8, module0String);
    put(mods + 16, module1);
    put(mods + 20, module1 + 0x1800);
    put(mods + 24, module1String);
    expected.set(encode("kernel.elf console=com1\0tsvmm\0initrd.img root=ram\0second\0"), cmdline - base);
    expect(readGuest(vm, base, end - base)).toEqual(expected);
    expect(placement.info).toEqual({ start: base, end: base + 116 });
    expect(placement.infoBlock).toEqual({ start: base, end });
    expect(placement.modules).toEqual([
      { start: module0, end: module0 + 5, string: module0String },
      { start: module1, end: module1 + 0x1800, string: module1String },
    ]);

    expect(readGuest(vm, module0, 5)).toEqual(modules[0].data);
    expect(readGuest(vm, module1, 0x1800)).toEqual(modules[1].data);
    // The data segment's bss is zeroed; the byte after it is untouched.
    const data = readGuest(vm, 0x101000, 0x101);
    expect(data.subarray(0, 3)).toEqual(Uint8Array.from([1, 2, 3]));
    expect(data.subarray(3, 0x100).every((byte) => byte === 0)).toBe(true);
    expect(data[0x100]).toBe(0xcc);
  });

  it("enters in flat 32-bit protected mode with the multiboot magic in EAX and the structure in EBX", () => {
    const { vm, vcpu } = bareVm(RAM);
    loadMultibootKernel(vm, vcpu, { kernel: elfKernel(), cmdline: "", ramSize: RAM });
    const regs = vcpu.getRegs();
    expect(regs).toMatchObject({ rax: 0x2badb002, rbx: 0x9000, rip: 0x100000 });
    expect(regs.rflags & 0x20200).toBe(0); // IF and VM clear
    const sregs = vcpu.getSregs();
    expect(sregs.cr0 & 0x80000001).toBe(1);
    const flat = { base: 0, limit: 0xffffffff, present: true, db: true, s: true, g: true };
    expect(sregs.cs).toMatchObject({ ...flat, type: 0xb });
    for (const name of ["ds", "es", "fs", "gs", "ss"] as const)
      expect(sregs[name]).toMatchObject({ ...flat, type: 3 });
  });

  it("loads an a.out-kludge image from the header's address fields and zeroes its bss", () => {
    const { vm, vcpu, ram } = bareVm(RAM);
    ram.fill(0xcc);
    const code = [0x90, 0x90, 0xf4];
    const { image, codeAddress } = buildAoutKernel({
      loadAddr: 0x200000,
      leadingBytes: 0x40,
      code,
      bssSize: 0x1000,
      entryOffset: 2,
    });
    const placement = loadMultibootKernel(vm, vcpu, { kernel: image, cmdline: "", ramSize: RAM });
    expect(placement.image.format).toBe("a.out kludge");
    expect(placement.kernel).toEqual([{ start: 0x200000, end: 0x200000 + image.length + 0x1000 }]);
    expect(placement.entryPoint).toBe(codeAddress + 2);
    expect(vcpu.getRegs().rip).toBe(codeAddress + 2);
    expect(readGuest(vm, 0x200000, image.length)).toEqual(image);
    expect(readGuest(vm, 0x200000 + image.length, 0x1000).every((byte) => byte === 0)).toBe(true);
    expect(ram[0x200000 + image.length + 0x1000]).toBe(0xcc);
  });

  it("loads only load_end_addr - load_addr bytes of an a.out-kludge image", () => {
    const { vm, vcpu, ram } = bareVm(RAM);
    ram.fill(0xcc);
    const { image } = buildAoutKernel({
      code: [0xf4, 0x11, 0x22, 0x33],
      addresses: { loadEndAddr: 0x100000 + 33 },
    });
    loadMultibootKernel(vm, vcpu, { kernel: image, cmdline: "", ramSize: RAM });
    expect(Array.from(readGuest(vm, 0x100000 + 32, 3))).toEqual([0xf4, 0xcc, 0xcc]);
  });

  it("loads ELF segments at their physical addresses and moves a virtual entry point with them", () => {
    const { vm, vcpu } = bareVm(RAM);
    const kernel = buildElfKernel({
      segments: [{ physicalAddress: 0x100000, virtualAddress: 0xc0100000, data: [0x90, 0xf4] }],
      entry: 0xc0100001,
    });
    const placement = loadMultibootKernel(vm, vcpu, { kernel, cmdline: "", ramSize: RAM });
    expect(placement.image.format).toBe("elf");
    expect(placement.entryPoint).toBe(0x100001);
    expect(Array.from(readGuest(vm, 0x100000, 2))).toEqual([0x90, 0xf4]);
  });

  it("boots politely without video information when the kernel asks for a video mode", () => {
    const { vm, vcpu } = bareVm(RAM);
    const kernel = buildElfKernel({
      segments: [{ physicalAddress: 0x100000, data: [0xf4] }],
      entry: 0x100000,
      headerFlags: 0x7,
    });
    // The video fields follow the header; the ELF builder leaves zeros there (mode type 0, 0x0x0).
    const placement = loadMultibootKernel(vm, vcpu, { kernel, cmdline: "", ramSize: RAM });
    expect(placement.warnings).toEqual([
      "multiboot kernel asks for video mode type 0 (0x0x0); not supported, booting without video information",
    ]);
    expect(vm.memory.readU32(0x9000) & (3 << 11)).toBe(0); // no VBE, no framebuffer info
  });

  it("runs a kernel that reads its magic, command line, module and bss", async () => {
    const bss = 0x101080;
    // cmp eax,0x2BADB002; jne fail; mov ecx,[ebx+16]; mov al,[ecx]; out 0xe9,al; mov ecx,[ebx+24];
    // mov ecx,[ecx]; mov al,[ecx]; out 0xe9,al; mov al,[bss]; out 0xe9,al; mov al,0x2a; out 0xf4,al;
    // fail: mov al,0x55; out 0xf4,al
    const code = [
      0x3d,
      0x02,
      0xb0,
      0xad,
      0x2b,
      0x75,
      0x1b,
      0x8b,
      0x4b,
      0x10,
      0x8a,
      0x01,
      0xe6,
      0xe9,
      0x8b,
      0x4b,
      0x18,
      0x8b,
      0x09,
      0x8a,
      0x01,
      0xe6,
      0xe9,
      0xa0,
      ...le32(bss),
      0xe6,
      0xe9,
      0xb0,
      0x2a,
      0xe6,
      0xf4,
      0xb0,
      0x55,
      0xe6,
      0xf4,
    ];
    const { vm, vcpu, ram, machine, output } = runnableVm(RAM);
    ram.fill(0xcc);
    loadMultibootKernel(vm, vcpu, {
      kernel: elfKernel(code),
      cmdline: "K",
      modules: [{ data: encode("M"), string: "m" }],
      ramSize: RAM,
    });
    expect(await machine.run()).toEqual({ kind: "debug-exit", status: (0x2a << 1) | 1 });
    expect(output).toEqual([0x4b, 0x4d, 0]);
  });

  it("places modules past a large number of segments without slowing down", () => {
    const segments = Array.from({ length: 4000 }, (_, i) => ({
      physicalAddress: 0x100000 + i * 0x1000,
      data: [i & 0xff],
    }));
    const kernel = buildElfKernel({ segments, entry: 0x100000 });
    const { vm, vcpu } = bareVm(RAM);
    const started = performance.now();
    const placement = loadMultibootKernel(vm, vcpu, {
      kernel,
      cmdline: "",
      modules: [{ data: new Uint8Array(10), string: "" }],
      ramSize: RAM,
    });
    expect(placement.modules[0].start).toBe(0x100000 + 4000 * 0x1000);
    expect(performance.now() - started).toBeLessThan(5000);
  });
});

function le32(value: number): number[] {
  return [value & 0xff, (value >>> 8) & 0xff, (value >>> 16) & 0xff, value >>> 24];
}

describe("loadMultibootKernel rejects what it cannot boot, leaving RAM untouched", () => {
  const options = (kernel: Uint8Array, extra: Partial<MultibootBootOptions> = {}): MultibootBootOptions => ({
    kernel,
    cmdline: "",
    ramSize: RAM,
    ...extra,
  });
  const elf = (
    segments: Parameters<typeof buildElfKernel>[0]["segments"],
    entry = segments[0].physicalAddress,
  ) => buildElfKernel({ segments, entry });
  const withHeaderAt = (offset: number, header: Uint8Array) => {
    const image = new Uint8Array(offset + header.length + 16);
    image.set(header, offset);
    return image;
  };
  const patched = (image: Uint8Array, offset: number, bytes: number[]) => {
    image.set(bytes, offset);
    return image;
  };

  const cases: Array<[string, MultibootBootOptions, RegExp]> = [
    ["an empty file", options(new Uint8Array(0)), /no multiboot header in the first 8 KiB/],
    ["a header past 8 KiB", options(withHeaderAt(8192, multibootHeader(3))), /no multiboot header/],
    ["a header straddling 8 KiB", options(withHeaderAt(8184, multibootHeader(3))), /no multiboot header/],
    ["a misaligned header", options(withHeaderAt(6, multibootHeader(3))), /no multiboot header/],
    [
      "a bad checksum",
      options(withHeaderAt(64, multibootHeader(3, [], [], 0x1234))),
      /offset 0x40 has a bad checksum/,
    ],
    [
      "an unknown required flag",
      options(withHeaderAt(0, multibootHeader(1 << 3))),
      /does not provide \(flags 0x8\)/,
    ],
    ["an a.out header cut off", options(withHeaderAt(8192 - 16, multibootHeader(1 << 16))), /is truncated/],
    ["neither ELF nor a.out", options(withHeaderAt(0, multibootHeader(3))), /neither ELF nor has the a.out/],
    [
      "a 64-bit ELF",
      options(
        buildElfKernel({
          segments: [{ physicalAddress: 0x100000, data: [1] }],
          entry: 0x100000,
          elfClass: 2,
        }),
      ),
      /64-bit ELF/,
    ],
    [
      "an ELF for another machine",
      options(
        buildElfKernel({
          segments: [{ physicalAddress: 0x100000, data: [1] }],
          entry: 0x100000,
          machine: 40,
        }),
      ),
      /not for i386/,
    ],
    [
      "an ELF shared object",
      options(
        buildElfKernel({ segments: [{ physicalAddress: 0x100000, data: [1] }], entry: 0x100000, elfType: 3 }),
      ),
      /not an executable/,
    ],
    [
      "an ELF without PT_LOAD",
      options(
        buildElfKernel({ segments: [{ physicalAddress: 0x100000, data: [1], type: 4 }], entry: 0x100000 }),
      ),
      /no loadable/,
    ],
    [
      "program headers past the file",
      options(patched(elf([{ physicalAddress: 0x100000, data: [1] }]), 44, [0xff, 0x00])),
      /program headers .* run past the end/,
    ],
    [
      "segment data past the file",
      options(patched(elf([{ physicalAddress: 0x100000, data: [1] }]), 100 + 4, [0xff, 0xff, 0, 0])),
      /runs past the end of the/,
    ],
    [
      "more file bytes than memory bytes",
      options(elf([{ physicalAddress: 0x100000, data: [1, 2], memorySize: 1 }])),
      /more file bytes \(2\) than memory bytes \(1\)/,
    ],
    [
      "a segment past the end of RAM",
      options(elf([{ physicalAddress: RAM - 0x10, data: [1], memorySize: 0x20 }])),
      /kernel segment 0 at 0x1fffff0-0x2000010 is outside usable RAM/,
    ],
    [
      "a segment in the VGA hole",
      options(elf([{ physicalAddress: 0xa0000, data: [1] }])),
      /outside usable RAM/,
    ],
    [
      "a segment wrapping past 4 GiB",
      options(elf([{ physicalAddress: 0xfffff000, data: [1], memorySize: 0x2000 }])),
      /outside usable RAM/,
    ],
    [
      "a segment over the information structure",
      options(elf([{ physicalAddress: 0x9010, data: [1] }])),
      /kernel segment 0 .* overlaps multiboot information|multiboot information .* overlaps kernel segment 0/,
    ],
    ["a segment over the boot GDT", options(elf([{ physicalAddress: 0x508, data: [1] }])), /overlaps/],
    [
      "overlapping segments",
      options(
        elf([
          { physicalAddress: 0x100000, data: [1, 2] },
          { physicalAddress: 0x100001, data: [3] },
        ]),
      ),
      /kernel segment 1 .* overlaps kernel segment 0/,
    ],
    [
      "an entry point outside the kernel",
      options(elf([{ physicalAddress: 0x100000, data: [1] }], 0x200000)),
      /entry point 0x200000 is not inside/,
    ],
    [
      "an entry point in the bss",
      options(elf([{ physicalAddress: 0x100000, data: [1], memorySize: 16 }], 0x100004)),
      /entry point 0x100004/,
    ],
    [
      "load_addr above header_addr",
      options(buildAoutKernel({ code: [0xf4], addresses: { loadAddr: 0x100100 } }).image),
      /load_addr 0x100100 is above header_addr/,
    ],
    [
      "header_addr - load_addr before the file",
      options(buildAoutKernel({ code: [0xf4], addresses: { loadAddr: 0xff000 } }).image),
      /reaches before the start of the file/,
    ],
    [
      "load_end_addr below load_addr",
      options(buildAoutKernel({ code: [0xf4], addresses: { loadEndAddr: 0x1000 } }).image),
      /load_end_addr 0x1000 is not above/,
    ],
    [
      "load_end_addr past the file",
      options(buildAoutKernel({ code: [0xf4], addresses: { loadEndAddr: 0x100100 } }).image),
      /truncated: it should load 256 bytes/,
    ],
    [
      "bss_end_addr below the image",
      options(buildAoutKernel({ code: [0xf4], addresses: { bssEndAddr: 0x100001 } }).image),
      /bss_end_addr 0x100001 is below/,
    ],
    [
      "a 4 GiB bss",
      options(buildAoutKernel({ code: [0xf4], addresses: { bssEndAddr: 0xffffffff } }).image),
      /outside usable RAM/,
    ],
    [
      "modules too big for RAM",
      options(elfKernel(), {
        modules: [
          { data: new Uint8Array(16 * MiB), string: "" },
          { data: new Uint8Array(16 * MiB), string: "" },
        ],
      }),
      /module 1 \(16777216 bytes\) does not fit/,
    ],
    [
      "a command line too long for low memory",
      options(elfKernel(), { cmdline: "x".repeat(0x100000) }),
      /need \d+ bytes; 617472 fit in low memory/,
    ],
    [
      "a module string with a NUL",
      options(elfKernel(), { modules: [{ data: new Uint8Array(1), string: "a\0" }] }),
      /module 0's string contains a NUL/,
    ],
  ];
  for (const [name, opts, message] of cases) {
    it(name, () => {
      const { vm, vcpu, ram } = bareVm(RAM);
      ram.fill(0xcc);
      const regsBefore = vcpu.getRegs();
      expect(() => loadMultibootKernel(vm, vcpu, opts)).toThrow(message);
      expect(() => loadMultibootKernel(vm, vcpu, opts)).toThrow(BootImageError);
      expect(allBytesAre(ram, 0xcc)).toBe(true);
      expect(vcpu.getRegs()).toEqual(regsBefore);
    });
  }

  it("throws only BootImageError and writes only inside RAM for mutated images (property)", () => {
    const ramSize = 4 * MiB;
    const { vm, vcpu, ram } = bareVm(ramSize);
    const images = [
      elf([
        { physicalAddress: 0x100000, data: [1, 2, 3, 4], memorySize: 0x40 },
        { physicalAddress: 0x200000, data: [5] },
      ]),
      buildAoutKernel({ code: [0xf4, 1, 2, 3], bssSize: 0x100 }).image,
    ];
    let loaded = 0;
    fc.assert(
      fc.property(
        fc.constantFrom(0, 1),
        fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { maxLength: 6 }),
        (which, mutations) => {
          const kernel = images[which].slice();
          for (const [offset, value] of mutations) kernel[offset % kernel.length] = value;
          ram.fill(0);
          try {
            const placement = loadMultibootKernel(vm, vcpu, {
              kernel,
              cmdline: "c",
              modules: [{ data: new Uint8Array(0x2000).fill(1), string: "m" }],
              ramSize,
            });
            for (const range of [...placement.kernel, ...placement.modules]) {
              expect(range.end).toBeLessThanOrEqual(ramSize);
            }
            loaded++;
          } catch (error) {
            expect(error).toBeInstanceOf(BootImageError);
            expect(allBytesAre(ram, 0)).toBe(true);
          }
        },
      ),
      { numRuns: 400 },
    );
    expect(loaded).toBeGreaterThan(20);
  });
});

describe("splitMultibootModuleList", () => {
  it("splits QEMU's -initrd list: commas separate modules, ',,' is a comma, the string is the whole entry", () => {
    expect(splitMultibootModuleList("mod1.bin arg=1,mod2.bin,odd,,name.bin x,,y")).toEqual([
      { path: "mod1.bin", string: "mod1.bin arg=1" },
      { path: "mod2.bin", string: "mod2.bin" },
      { path: "odd,name.bin", string: "odd,name.bin x,y" },
    ]);
    expect(splitMultibootModuleList("only")).toEqual([{ path: "only", string: "only" }]);
  });
});

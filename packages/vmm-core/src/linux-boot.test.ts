import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { bareVm, runnableVm } from "./boot-machine.test-support.js";
import { buildBzImage, MiB } from "./bzimage.test-support.js";
import { BootImageError, loadLinuxKernel } from "./index.js";

const RAM = 64 * MiB;
const INITRD = Uint8Array.from({ length: 0x3456 }, (_, i) => (i * 7) & 0xff);

function u32(bytes: Uint8Array, offset: number): number {
  return new DataView(bytes.buffer, bytes.byteOffset).getUint32(offset, true);
}

/** True when every byte of `ram` is `value` (a word at a time: RAM is tens of MiB). */
function allBytesAre(ram: Uint8Array, value: number): boolean {
  const words = new Uint32Array(ram.buffer, ram.byteOffset, ram.length / 4);
  const word = (value * 0x01010101) >>> 0;
  for (let i = 0; i < words.length; i++) if (words[i] !== word) return false;
  return true;
}

function readGuest(vm: ReturnType<typeof bareVm>["vm"], address: number, length: number): Uint8Array {
  const bytes = new Uint8Array(length);
  vm.memory.read(address, bytes);
  return bytes;
}

describe("loadLinuxKernel, 32-bit entry", () => {
  it("builds the zero page byte by byte as the boot protocol says", () => {
    const kernel = buildBzImage({ relocatable: true, prefAddress: 0x1000000, initSize: 0x800000 });
    const { vm, vcpu } = bareVm(RAM);
    const placement = loadLinuxKernel(vm, vcpu, {
      kernel,
      initrd: INITRD,
      cmdline: "console=ttyS0 root=/dev/ram0",
      ramSize: RAM,
      firmwareSize: 0x40000,
    });

    // Relocatable, and 16 MiB + init_size fits: loaded at pref_address. The initrd goes as high as
    // possible below the end of RAM (initrd_addr_max 0x7FFFFFFF is higher), page aligned.
    const initrdAddress = Math.floor((RAM - INITRD.length) / 4096) * 4096;
    expect(placement.kernel).toEqual({ start: 0x1000000, end: 0x1000000 + 0x2000 });
    expect(placement.kernelRuntime).toEqual({ start: 0x1000000, end: 0x1800000 });
    expect(placement.initrd).toEqual({ start: initrdAddress, end: initrdAddress + INITRD.length });
    expect(placement.entryPoint).toBe(0x1000000);

    const expected = new Uint8Array(4096);
    const view = new DataView(expected.buffer);
    expected.set(kernel.subarray(0x1f1, 0x26c), 0x1f1); // header: 0x1F1 up to 0x202 + jump displacement
    view.setUint8(0x210, 0xff); // type_of_loader: undefined
    view.setUint8(0x211, 0x81); // LOADED_HIGH | CAN_USE_HEAP
    view.setUint32(0x214, 0x1000000, true); // code32_start moved with the kernel
    view.setUint32(0x218, initrdAddress, true); // ramdisk_image
    view.setUint32(0x21c, INITRD.length, true); // ramdisk_size
    view.setUint16(0x224, 0x9800 - 0x200, true); // heap_end_ptr
    view.setUint32(0x228, 0x20000, true); // cmd_line_ptr
    view.setUint32(0x1e0, (RAM - MiB) / 1024, true); // alt_mem_k
    view.setUint8(0x1e8, 4); // e820_entries
    const e820 = [
      [0, 0x9fc00, 1],
      [0x9fc00, 0x100000 - 0x9fc00, 2],
      [0x100000, RAM - 0x100000, 1],
      [2 ** 32 - 0x40000, 0x40000, 2],
    ];
    e820.forEach(([address, size, type], i) => {
      const at = 0x2d0 + 20 * i;
      view.setUint32(at, address, true);
      view.setUint32(at + 8, size, true);
      view.setUint32(at + 16, type, true);
    });
    expect(readGuest(vm, 0x7000, 4096)).toEqual(expected);
    expect(expected[0x1ef]).toBe(0); // the image's sentinel byte was not copied

    expect(new TextDecoder().decode(readGuest(vm, 0x20000, 29))).toBe("console=ttyS0 root=/dev/ram0\0");
    expect(readGuest(vm, initrdAddress, INITRD.length)).toEqual(INITRD);
    expect(readGuest(vm, 0x1000000, 0x2000)).toEqual(kernel.subarray(5 * 512));
  });

  it("enters in flat 32-bit protected mode with ESI at the zero page", () => {
    const { vm, vcpu } = bareVm(RAM);
    loadLinuxKernel(vm, vcpu, { kernel: buildBzImage({ relocatable: false }), cmdline: "", ramSize: RAM });
    const regs = vcpu.getRegs();
    expect(regs).toMatchObject({ rip: 0x100000, rsi: 0x7000, rbp: 0, rdi: 0, rbx: 0 });
    expect(regs.rflags & 0x200).toBe(0); // interrupts off
    const sregs = vcpu.getSregs();
    expect(sregs.cr0 & 0x80000001).toBe(1); // PE on, PG off
    const flat = { base: 0, limit: 0xffffffff, present: true, dpl: 0, db: true, s: true, l: false, g: true };
    expect(sregs.cs).toMatchObject({ ...flat, selector: 0x10, type: 0xb });
    for (const name of ["ds", "es", "ss", "fs", "gs"] as const) {
      expect(sregs[name]).toMatchObject({ ...flat, selector: 0x18, type: 0x3 });
    }
    expect(sregs.gdt).toEqual({ base: 0x500, limit: 31 });
    // The GDT in memory matches the hidden caches: __BOOT_CS and __BOOT_DS flat 4 GiB.
    const gdt = readGuest(vm, 0x500, 32);
    expect([u32(gdt, 0x10), u32(gdt, 0x14)]).toEqual([0x0000ffff, 0x00cf9b00]);
    expect([u32(gdt, 0x18), u32(gdt, 0x1c)]).toEqual([0x0000ffff, 0x00cf9300]);
  });

  it("runs the kernel's 32-bit entry, which finds its boot parameters through ESI", async () => {
    // mov al,[esi+0x210]; out 0xe9,al; mov eax,[esi+0x228]; mov al,[eax]; out 0xe9,al;
    // mov eax,esi; mov al,ah; out 0xe9,al; mov ax,ds; out 0xe9,al; mov al,0x15; out 0xf4,al
    const code = [
      0x8a, 0x86, 0x10, 0x02, 0x00, 0x00, 0xe6, 0xe9, 0x8b, 0x86, 0x28, 0x02, 0x00, 0x00, 0x8a, 0x00, 0xe6,
      0xe9, 0x89, 0xf0, 0x88, 0xe0, 0xe6, 0xe9, 0x66, 0x8c, 0xd8, 0xe6, 0xe9, 0xb0, 0x15, 0xe6, 0xf4,
    ];
    const { vm, vcpu, machine, output } = runnableVm(RAM);
    loadLinuxKernel(vm, vcpu, { kernel: buildBzImage({ protectedCode: code }), cmdline: "Z", ramSize: RAM });
    expect(await machine.run()).toEqual({ kind: "debug-exit", status: (0x15 << 1) | 1 });
    expect(output).toEqual([0xff, "Z".charCodeAt(0), 0x70, 0x18]);
  });

  it("reports an 80x25 VGA text mode when asked", () => {
    const { vm, vcpu } = bareVm(RAM);
    loadLinuxKernel(vm, vcpu, { kernel: buildBzImage(), cmdline: "", ramSize: RAM, display: "vga-text" });
    const screen = readGuest(vm, 0x7000, 0x40);
    expect([screen[0x06], screen[0x07], screen[0x0e], screen[0x0f], screen[0x10]]).toEqual([
      3, 80, 25, 1, 16,
    ]);
  });

  it("passes the ACPI RSDP in the zero page's acpi_rsdp_addr (0x070), 0 when there is none", () => {
    const { vm, vcpu } = bareVm(RAM);
    loadLinuxKernel(vm, vcpu, {
      kernel: buildBzImage(),
      cmdline: "",
      ramSize: RAM,
      acpiRsdpAddress: 0x9fc10,
    });
    expect([u32(readGuest(vm, 0x7070, 8), 0), u32(readGuest(vm, 0x7070, 8), 4)]).toEqual([0x9fc10, 0]);
    const other = bareVm(RAM);
    loadLinuxKernel(other.vm, other.vcpu, { kernel: buildBzImage(), cmdline: "", ramSize: RAM });
    expect(readGuest(other.vm, 0x7070, 8)).toEqual(new Uint8Array(8));
    for (const bad of [-1, 0.5, Number.NaN, 2 ** 60]) {
      const fresh = bareVm(RAM);
      expect(() =>
        loadLinuxKernel(fresh.vm, fresh.vcpu, {
          kernel: buildBzImage(),
          cmdline: "",
          ramSize: RAM,
          acpiRsdpAddress: bad,
        }),
      ).toThrow(RangeError);
      expect(allBytesAre(fresh.ram, 0)).toBe(true);
    }
  });

  it("loads a fixed kernel at 1 MiB and keeps the initrd clear of the region it moves itself to", () => {
    // The kernel will move itself to pref_address (16 MiB) and use init_size (8 MiB) from there: a 9 MiB
    // initrd fits neither there nor in the 8 MiB above, so it goes right below 16 MiB.
    const ram = 32 * MiB;
    const kernel = buildBzImage({ relocatable: false, prefAddress: 0x1000000, initSize: 8 * MiB });
    const { vm, vcpu } = bareVm(ram);
    const initrd = new Uint8Array(9 * MiB + 1);
    const placement = loadLinuxKernel(vm, vcpu, { kernel, initrd, cmdline: "", ramSize: ram });
    expect(placement.kernel.start).toBe(0x100000);
    expect(placement.kernelRuntime).toEqual({ start: 0x1000000, end: 0x1800000 });
    expect(placement.initrd?.start).toBe(Math.floor((0x1000000 - initrd.length) / 4096) * 4096);
  });

  it("rounds a relocatable kernel's runtime start up to kernel_alignment", () => {
    const kernel = buildBzImage({ prefAddress: 0x1080000, kernelAlignment: 0x1000000, initSize: MiB });
    const { vm, vcpu } = bareVm(RAM);
    const placement = loadLinuxKernel(vm, vcpu, { kernel, initrd: INITRD, cmdline: "", ramSize: RAM });
    expect(placement.kernel.start).toBe(0x1080000);
    expect(placement.kernelRuntime).toEqual({ start: 0x2000000, end: 0x2100000 });
  });

  it("puts the initrd below initrd_addr_max", () => {
    const kernel = buildBzImage({ initrdAddrMax: 0x37fffff });
    const { vm, vcpu } = bareVm(RAM);
    const placement = loadLinuxKernel(vm, vcpu, { kernel, initrd: INITRD, cmdline: "", ramSize: RAM });
    expect(placement.initrd?.end).toBeLessThanOrEqual(0x3800000);
    expect(placement.initrd?.start).toBe(Math.floor((0x3800000 - INITRD.length) / 4096) * 4096);
  });

  it("honours code32_start relative to the load address", () => {
    const { vm, vcpu } = bareVm(RAM);
    const kernel = buildBzImage({ code32Start: 0x100200 });
    expect(loadLinuxKernel(vm, vcpu, { kernel, cmdline: "", ramSize: RAM }).entryPoint).toBe(0x1000200);
    expect(vcpu.getRegs().rip).toBe(0x1000200);
  });
});

describe("loadLinuxKernel, 16-bit entry", () => {
  it("loads the setup code at 0x90000 with heap and command line as the real-mode protocol lays them out", () => {
    const kernel = buildBzImage({ setupSects: 7 });
    const { vm, vcpu } = bareVm(RAM);
    const placement = loadLinuxKernel(vm, vcpu, {
      kernel,
      initrd: INITRD,
      cmdline: "quiet",
      ramSize: RAM,
      entry: "real",
    });
    expect(placement.bootParams).toEqual({ start: 0x90000, end: 0x90000 + 8 * 512 });
    expect(placement.cmdline).toEqual({ start: 0x99800, end: 0x99806 });
    expect(placement.entryPoint).toBe(0x90200);

    const expected = kernel.slice(0, 8 * 512);
    const view = new DataView(expected.buffer);
    view.setUint8(0x210, 0xff);
    view.setUint8(0x211, 0x81);
    view.setUint32(0x214, 0x1000000, true);
    view.setUint32(0x218, placement.initrd?.start ?? -1, true);
    view.setUint32(0x21c, INITRD.length, true);
    view.setUint16(0x224, 0x9600, true);
    view.setUint32(0x228, 0x99800, true);
    expect(readGuest(vm, 0x90000, 8 * 512)).toEqual(expected);
    expect(new TextDecoder().decode(readGuest(vm, 0x99800, 6))).toBe("quiet\0");

    const sregs = vcpu.getSregs();
    expect(sregs.cr0 & 1).toBe(0);
    expect(sregs.cs).toMatchObject({ selector: 0x9020, base: 0x90200, limit: 0xffff, db: false });
    for (const name of ["ds", "es", "ss", "fs", "gs"] as const) {
      expect(sregs[name]).toMatchObject({ selector: 0x9000, base: 0x90000, limit: 0xffff });
    }
    expect(vcpu.getRegs()).toMatchObject({ rip: 0, rsp: 0x9800 });
    expect(vcpu.getRegs().rflags & 0x200).toBe(0);
  });

  it("runs the setup code, which reads its header and command line through DS", async () => {
    // mov si,[0x228]; mov al,[si]; out 0xe9,al; mov al,[0x210]; out 0xe9,al; mov ax,sp; mov al,ah;
    // out 0xe9,al; mov ax,cs; mov al,ah; out 0xe9,al; mov al,0x11; out 0xf4,al
    const setupCode = [
      0x8b, 0x36, 0x28, 0x02, 0x8a, 0x04, 0xe6, 0xe9, 0xa0, 0x10, 0x02, 0xe6, 0xe9, 0x89, 0xe0, 0x88, 0xe0,
      0xe6, 0xe9, 0x8c, 0xc8, 0x88, 0xe0, 0xe6, 0xe9, 0xb0, 0x11, 0xe6, 0xf4,
    ];
    const { vm, vcpu, machine, output } = runnableVm(RAM);
    loadLinuxKernel(vm, vcpu, {
      kernel: buildBzImage({ setupCode }),
      cmdline: "Q",
      ramSize: RAM,
      entry: "real",
    });
    expect(await machine.run()).toEqual({ kind: "debug-exit", status: (0x11 << 1) | 1 });
    expect(output).toEqual(["Q".charCodeAt(0), 0xff, 0x98, 0x90]);
  });
});

describe("loadLinuxKernel rejects what it cannot boot, leaving RAM untouched", () => {
  const cases: Array<[string, Parameters<typeof loadLinuxKernel>[2], RegExp]> = [
    [
      "a command line longer than cmdline_size",
      { kernel: buildBzImage({ cmdlineSize: 10 }), cmdline: "x".repeat(11), ramSize: RAM },
      /11 bytes; this kernel accepts at most 10/,
    ],
    [
      "a command line that does not fit in low memory",
      { kernel: buildBzImage({ cmdlineSize: 0xffffffff }), cmdline: "x".repeat(0x80000), ramSize: RAM },
      /fit in low memory/,
    ],
    ["a command line with a NUL", { kernel: buildBzImage(), cmdline: "a\0b", ramSize: RAM }, /NUL/],
    [
      "an initrd too big for RAM",
      { kernel: buildBzImage(), initrd: new Uint8Array(60 * MiB), cmdline: "", ramSize: RAM },
      /initrd of 62914560 bytes does not fit/,
    ],
    [
      "an initrd above a tiny initrd_addr_max",
      { kernel: buildBzImage({ initrdAddrMax: 0xfffff }), initrd: INITRD, cmdline: "", ramSize: RAM },
      /does not fit in RAM below 0x100000/,
    ],
    [
      "a kernel whose init_size exceeds RAM",
      { kernel: buildBzImage({ initSize: 0xffffffff }), cmdline: "", ramSize: RAM },
      /kernel does not fit in 64 MiB of RAM/,
    ],
    [
      "a relocatable kernel whose pref_address is above 4 GiB",
      { kernel: buildBzImage({ prefAddress: 2 ** 40 }), cmdline: "", ramSize: RAM },
      /kernel does not fit/,
    ],
    [
      "a fixed kernel that relocates itself below 1 MiB",
      { kernel: buildBzImage({ relocatable: false, prefAddress: 0x1000 }), cmdline: "", ramSize: RAM },
      /kernel does not fit/,
    ],
    [
      "code32_start outside the loaded code",
      { kernel: buildBzImage({ code32Start: 0x200000 }), cmdline: "", ramSize: RAM },
      /code32_start 0x200000 lies outside/,
    ],
    [
      "code32_start below 1 MiB",
      { kernel: buildBzImage({ code32Start: 0xfffff }), cmdline: "", ramSize: RAM },
      /code32_start/,
    ],
    [
      "more RAM claimed than the VM has",
      { kernel: buildBzImage({ prefAddress: 0x3000000 }), initrd: INITRD, cmdline: "", ramSize: 128 * MiB },
      /initrd at 0x7ffc000-0x7fff456 is not writable RAM in this VM/,
    ],
  ];
  for (const [name, options, message] of cases) {
    it(name, () => {
      const { vm, vcpu, ram } = bareVm(RAM);
      ram.fill(0xcc);
      const regsBefore = vcpu.getRegs();
      expect(() => loadLinuxKernel(vm, vcpu, options)).toThrow(message);
      expect(() => loadLinuxKernel(vm, vcpu, options)).toThrow(BootImageError);
      expect(allBytesAre(ram, 0xcc)).toBe(true);
      expect(vcpu.getRegs()).toEqual(regsBefore);
    });
  }

  it("never writes outside its plan nor throws anything else for mutated headers (property)", () => {
    const ramSize = 8 * MiB;
    const { vm, vcpu, ram } = bareVm(ramSize);
    const base = buildBzImage({ prefAddress: 0x200000, initSize: 0x200000, kernelAlignment: 0x100000 });
    let loaded = 0;
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.integer({ min: 0x1f1, max: 0x28f }), fc.integer({ min: 0, max: 255 })), {
          maxLength: 6,
        }),
        fc.oneof(fc.constant(base.length), fc.integer({ min: 0, max: base.length })),
        fc.constantFrom<"protected" | "real">("protected", "real"),
        (mutations, length, entry) => {
          const kernel = base.slice(0, length);
          for (const [offset, value] of mutations) if (offset < kernel.length) kernel[offset] = value;
          ram.fill(0);
          try {
            const placement = loadLinuxKernel(vm, vcpu, {
              kernel,
              initrd: INITRD,
              cmdline: "x",
              ramSize,
              entry,
            });
            for (const range of [placement.kernel, placement.kernelRuntime, placement.initrd]) {
              if (!range) continue;
              expect(range.start).toBeGreaterThanOrEqual(MiB);
              expect(range.end).toBeLessThanOrEqual(ramSize);
            }
            expect(u32(ram, placement.bootParams.start + 0x228)).toBe(placement.cmdline.start);
            loaded++;
          } catch (error) {
            expect(error).toBeInstanceOf(BootImageError);
            expect(allBytesAre(ram, 0)).toBe(true);
          }
        },
      ),
      { numRuns: 300 },
    );
    expect(loaded).toBeGreaterThan(20); // the property saw real loads, not only rejections
  });
});

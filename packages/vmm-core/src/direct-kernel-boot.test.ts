import { describe, expect, it } from "vitest";
import { bareVm } from "./boot-machine.test-support.js";
import { buildBzImage, MiB } from "./bzimage.test-support.js";
import { BootImageError, kernelFormat, loadDirectKernel } from "./index.js";
import { buildAoutKernel } from "./multiboot-image.test-support.js";

const RAM = 64 * MiB;

describe("loadDirectKernel", () => {
  it("tells a bzImage from a multiboot kernel from anything else", () => {
    expect(kernelFormat(buildBzImage())).toBe("linux");
    expect(kernelFormat(buildAoutKernel({ code: [0xf4], leadingBytes: 0x100 }).image)).toBe("multiboot");
    expect(kernelFormat(new Uint8Array(9000))).toBeUndefined();
    expect(kernelFormat(new Uint8Array(3))).toBeUndefined();
  });

  it("loads a bzImage with the Linux loader and its initrd", () => {
    const { vm, vcpu } = bareVm(RAM);
    const initrd = new Uint8Array(100).fill(7);
    const result = loadDirectKernel(vm, vcpu, { kernel: buildBzImage(), initrd, cmdline: "x", ramSize: RAM });
    expect(result.format).toBe("linux");
    const range = result.format === "linux" ? result.placement.initrd : undefined;
    expect(range && range.end - range.start).toBe(100);
    expect(vcpu.getRegs().rsi).toBe(0x7000);
  });

  it("loads a multiboot kernel with the multiboot loader and its modules", () => {
    const { vm, vcpu } = bareVm(RAM);
    const { image } = buildAoutKernel({ code: [0xf4] });
    const modules = [{ data: new Uint8Array(5), string: "mod" }];
    const result = loadDirectKernel(vm, vcpu, { kernel: image, modules, cmdline: "x", ramSize: RAM });
    expect(result.format).toBe("multiboot");
    expect(vcpu.getRegs().rax).toBe(0x2badb002);
  });

  it("refuses mismatched extras and unknown images", () => {
    const { vm, vcpu } = bareVm(RAM);
    const modules = [{ data: new Uint8Array(5), string: "mod" }];
    expect(() =>
      loadDirectKernel(vm, vcpu, { kernel: buildBzImage(), modules, cmdline: "", ramSize: RAM }),
    ).toThrow(/modules were given for a Linux kernel/);
    const { image } = buildAoutKernel({ code: [0xf4] });
    const initrd = new Uint8Array(5);
    expect(() => loadDirectKernel(vm, vcpu, { kernel: image, initrd, cmdline: "", ramSize: RAM })).toThrow(
      /initrd was given for a multiboot kernel/,
    );
    expect(() =>
      loadDirectKernel(vm, vcpu, { kernel: new Uint8Array(64), cmdline: "", ramSize: RAM }),
    ).toThrow(BootImageError);
  });
});

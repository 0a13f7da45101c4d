import type { Vcpu, Vm } from "@tsvmm/kvm-api";
import { BootImageError } from "./boot-image-error.js";
import { type LinuxBootPlacement, loadLinuxKernel } from "./linux-boot.js";
import { SETUP_HEADER, SETUP_HEADER_MAGIC } from "./linux-boot-header.js";
import { loadMultibootKernel, type MultibootModule, type MultibootPlacement } from "./multiboot.js";
import { MULTIBOOT_HEADER_MAGIC, MULTIBOOT_SEARCH_LIMIT } from "./multiboot-header.js";

/** What -kernel, -initrd and -append amount to, whichever kind of kernel it is. */
export interface DirectKernelBootOptions {
  kernel: Uint8Array;
  cmdline: string;
  /** A Linux kernel's initial ramdisk. */
  initrd?: Uint8Array;
  /** A multiboot kernel's modules (QEMU makes them from the comma-separated -initrd list). */
  modules?: readonly MultibootModule[];
  ramSize: number;
  firmwareSize?: number;
  /** Linux only: the 32-bit (default) or 16-bit boot protocol. */
  entry?: "protected" | "real";
  /** Linux only: the ACPI RSDP's address for the zero page's acpi_rsdp_addr. */
  acpiRsdpAddress?: number;
}

export type DirectKernelBootPlacement =
  | { format: "linux"; placement: LinuxBootPlacement }
  | { format: "multiboot"; placement: MultibootPlacement };

/**
 * Which loader an image needs, decided as QEMU decides it: a "HdrS" setup header makes it Linux, else
 * a multiboot magic in the first 8 KiB makes it multiboot (the header is validated when it is loaded).
 */
export function kernelFormat(image: Uint8Array): "linux" | "multiboot" | undefined {
  const view = new DataView(image.buffer, image.byteOffset, image.byteLength);
  if (
    image.length >= SETUP_HEADER.header + 4 &&
    view.getUint32(SETUP_HEADER.header, true) === SETUP_HEADER_MAGIC
  ) {
    return "linux";
  }
  const end = Math.min(image.length, MULTIBOOT_SEARCH_LIMIT) - 4;
  for (let offset = 0; offset <= end; offset += 4) {
    if (view.getUint32(offset, true) === MULTIBOOT_HEADER_MAGIC) return "multiboot";
  }
  return undefined;
}

/** Loads a Linux bzImage or a multiboot kernel, whichever `options.kernel` is, and readies the vCPU. */
export function loadDirectKernel(
  vm: Vm,
  vcpu: Vcpu,
  options: DirectKernelBootOptions,
): DirectKernelBootPlacement {
  const { kernel, cmdline, ramSize, firmwareSize } = options;
  switch (kernelFormat(kernel)) {
    case "linux":
      if (options.modules?.length) {
        throw new BootImageError("multiboot modules were given for a Linux kernel, which takes one initrd");
      }
      return {
        format: "linux",
        placement: loadLinuxKernel(vm, vcpu, {
          kernel,
          initrd: options.initrd,
          cmdline,
          ramSize,
          firmwareSize,
          entry: options.entry,
          acpiRsdpAddress: options.acpiRsdpAddress,
        }),
      };
    case "multiboot":
      if (options.initrd?.length) {
        throw new BootImageError("an initrd was given for a multiboot kernel, which takes modules");
      }
      return {
        format: "multiboot",
        placement: loadMultibootKernel(vm, vcpu, {
          kernel,
          cmdline,
          modules: options.modules,
          ramSize,
          firmwareSize,
        }),
      };
    default:
      throw new BootImageError("kernel image is neither a Linux bzImage nor a multiboot kernel");
  }
}

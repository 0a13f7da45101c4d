// The QEMU command line that boots a Linux test guest on the reference machine, as the opt-in checks
// (tools/linux-guests/check-in-qemu.sh) and benchmarks run it.
import type { LinuxGuestManifest } from "./linux-guest.js";

/** Guest memory: enough for the initramfs (unpacked in RAM) and the workload's 4 MiB tmpfs file. */
export const LINUX_GUEST_MEMORY = "256M";

/**
 * [binary, ...arguments]: serial console on stdio (-nographic), and -no-reboot so that the guest's
 * reset (how it "powers off" without ACPI) ends QEMU with status 0.
 */
export function qemuCommandLine(manifest: LinuxGuestManifest): string[] {
  return [
    manifest.qemu,
    "-kernel",
    manifest.kernel,
    "-initrd",
    manifest.initrd,
    "-append",
    manifest.cmdline,
    "-nographic",
    "-m",
    LINUX_GUEST_MEMORY,
    "-no-reboot",
  ];
}

/**
 * How the virtio devices reach the guest: "pci" puts them on the pc machine's PCI bus (QEMU's
 * transitional virtio-*-pci, which Linux drives through the modern interface); "mmio" uses QEMU's
 * microvm machine, whose virtio-mmio transports the kernel finds in the ACPI DSDT (LNRO0005
 * devices). Debian's kernels are built without CONFIG_VIRTIO_MMIO_CMDLINE_DEVICES, so
 * `virtio_mmio.device=` on the command line would be ignored: ACPI is how they find them.
 */
export type VirtioTransport = "pci" | "mmio";

export interface VirtioQemuOptions {
  transport: VirtioTransport;
  /**
   * pci only: modern (virtio 1.x) devices without the legacy interface (disable-legacy=on, PCI device
   * IDs 0x1040 + type), as a VMM that implements only the modern transport offers them.
   */
  modernOnly?: boolean;
  /** Raw disk images in order: the first is /dev/vda, the next /dev/vdb... */
  disks?: readonly string[];
  /** A virtio-rng device fed from the host's /dev/urandom (QEMU's default backend). */
  rng?: boolean;
  /** A virtio-net device on a QEMU -netdev, e.g. "socket,listen=127.0.0.1:40000" (id added here). */
  net?: { netdev: string; mac: string };
  /** A virtio console (/dev/hvc0) on a QEMU -chardev, e.g. "pipe,path=/tmp/hvc" (id added here). */
  console?: { chardev: string };
  /** Appended to the kernel command line: the tsvmm.* parameters of the virtio guest. */
  append?: string;
  /**
   * The host TSC's kHz, for microvm only (tsc_early_khz=). microvm has no HPET nor ACPI PM timer, so
   * when the PIT calibration fails under TCG on a loaded host the kernel finds no TSC frequency
   * and stops making progress; given the frequency it skips the calibration.
   */
  tscKhz?: number;
}

/** The kernel command line for a transport: mmio needs ACPI (and with it the I/O APIC) on. */
export function virtioGuestCmdline(manifest: LinuxGuestManifest, options: VirtioQemuOptions): string {
  const base =
    options.transport === "pci"
      ? [manifest.cmdline]
      : ["console=ttyS0", ...(options.tscKhz === undefined ? [] : [`tsc_early_khz=${options.tscKhz}`])];
  return [...base, ...(options.append ? [options.append] : [])].join(" ");
}

/** [binary, ...arguments] booting the virtio guest with QEMU's own virtio devices. */
export function virtioQemuCommandLine(manifest: LinuxGuestManifest, options: VirtioQemuOptions): string[] {
  const pci = options.transport === "pci";
  const kind = pci ? "pci" : "device";
  const modern = pci && options.modernOnly ? ",disable-legacy=on" : "";
  const args = [
    manifest.qemu,
    "-M",
    pci ? "pc" : "microvm,auto-kernel-cmdline=off",
    "-kernel",
    manifest.kernel,
    "-initrd",
    manifest.initrd,
    "-append",
    virtioGuestCmdline(manifest, options),
    "-nographic",
    "-m",
    LINUX_GUEST_MEMORY,
    "-no-reboot",
  ];
  (options.disks ?? []).forEach((disk, index) => {
    if (pci && modern === "") args.push("-drive", `file=${disk},if=virtio,format=raw`);
    else
      args.push(
        "-drive",
        `id=vd${index},file=${disk},if=none,format=raw`,
        "-device",
        `virtio-blk-${kind},drive=vd${index}${modern}`,
      );
  });
  if (options.rng) args.push("-device", `virtio-rng-${kind}${modern}`);
  if (options.net !== undefined) {
    args.push(
      "-netdev",
      `${options.net.netdev},id=net0`,
      "-device",
      `virtio-net-${kind},netdev=net0,mac=${options.net.mac}${modern}`,
    );
  }
  if (options.console !== undefined) {
    args.push(
      "-device",
      `virtio-serial-${kind}${modern}`,
      "-chardev",
      `${options.console.chardev},id=hvc0`,
      "-device",
      "virtconsole,chardev=hvc0",
    );
  }
  return args;
}

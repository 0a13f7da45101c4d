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

// The Linux test guests: Debian kernels with a busybox initramfs, built into a cache by
// ensureLinuxGuest() (or `pnpm guests:linux`) and described by a manifest. See tools/README.md.
export { type CpioEntry, writeCpioNewc } from "./cpio-newc.js";
export {
  AptPackageSource,
  type DebianPackage,
  type GuestPackages,
  LINUX_GUEST_ARCHES,
  type LinuxGuestArch,
  type PackageSource,
} from "./debian-packages.js";
export {
  expectedLoopSum,
  expectedWorkloadMd5,
  guestInitScript,
  LINUX_GUEST_CMDLINE,
  LINUX_GUEST_MARKERS,
  LINUX_GUEST_PROMPT,
  LINUX_GUEST_VARIANTS,
  type LinuxGuestVariant,
  parseWorkloadReport,
  WORKLOAD_PARAMETERS,
  WORKLOAD_STEPS,
  type WorkloadReport,
} from "./guest-init.js";
export {
  defaultGuestCacheDir,
  type EnsureLinuxGuestOptions,
  ensureLinuxGuest,
  guestDirectory,
  LINUX_GUEST_MODULES,
  type LinuxGuestManifest,
  QEMU_FOR_ARCH,
  VIRTIO_GUEST_MODULES,
} from "./linux-guest.js";
export { LINUX_GUEST_MEMORY, qemuCommandLine } from "./qemu-command.js";
export {
  expectedBlkOutput,
  parseVirtioReport,
  VIRTIO_BENCH_PARAMETERS,
  VIRTIO_BLK_TEST,
  VIRTIO_GUEST_MARKERS,
  VIRTIO_GUEST_TESTS,
  VIRTIO_HVC_HELLO,
  type VirtioGuestTest,
  type VirtioReport,
} from "./virtio-guest-init.js";

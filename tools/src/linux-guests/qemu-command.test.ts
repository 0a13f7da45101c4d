// The QEMU command lines for the Linux guests: what the reference runs (and tsqemu's end-to-end tests,
// which mirror them) pass for each virtio transport.
import { describe, expect, it } from "vitest";
import { LINUX_GUEST_CMDLINE } from "./guest-init.js";
import type { LinuxGuestManifest } from "./linux-guest.js";
import { qemuCommandLine, virtioGuestCmdline, virtioQemuCommandLine } from "./qemu-command.js";

const guest = {
  qemu: "qemu-system-i386",
  kernel: "/cache/bzImage",
  initrd: "/cache/initrd.img",
  cmdline: LINUX_GUEST_CMDLINE,
} as LinuxGuestManifest;

const BOOT = ["-kernel", "/cache/bzImage", "-initrd", "/cache/initrd.img"];
const COMMON = ["-nographic", "-m", "256M", "-no-reboot"];

describe("qemuCommandLine", () => {
  it("boots the guest with its own command line and ends on its reset", () => {
    expect(qemuCommandLine(guest)).toEqual([
      "qemu-system-i386",
      ...BOOT,
      "-append",
      LINUX_GUEST_CMDLINE,
      ...COMMON,
    ]);
  });
});

describe("virtioQemuCommandLine", () => {
  const everything = {
    disks: ["/w/disk.img", "/w/bench.img"],
    rng: true,
    net: { netdev: "socket,listen=127.0.0.1:4000", mac: "52:54:00:12:34:01" },
    console: { chardev: "socket,path=/w/hvc.sock,server=on,wait=off" },
    append: "tsvmm.test=blk",
  };

  it("pci: the pc machine, -drive if=virtio and the transitional virtio-*-pci devices", () => {
    expect(virtioQemuCommandLine(guest, { transport: "pci", ...everything })).toEqual([
      "qemu-system-i386",
      "-M",
      "pc",
      ...BOOT,
      "-append",
      `${LINUX_GUEST_CMDLINE} tsvmm.test=blk`,
      ...COMMON,
      ...[
        "-drive",
        "file=/w/disk.img,if=virtio,format=raw",
        "-drive",
        "file=/w/bench.img,if=virtio,format=raw",
      ],
      ...["-device", "virtio-rng-pci"],
      ...[
        "-netdev",
        "socket,listen=127.0.0.1:4000,id=net0",
        "-device",
        "virtio-net-pci,netdev=net0,mac=52:54:00:12:34:01",
      ],
      ...["-device", "virtio-serial-pci", "-chardev", "socket,path=/w/hvc.sock,server=on,wait=off,id=hvc0"],
      ...["-device", "virtconsole,chardev=hvc0"],
    ]);
  });

  it("pci, modern only: every device with disable-legacy=on, disks as -device virtio-blk-pci", () => {
    const args = virtioQemuCommandLine(guest, { transport: "pci", modernOnly: true, ...everything });
    expect(args).toContain("id=vd1,file=/w/bench.img,if=none,format=raw");
    const devices = args.filter((_, index) => args[index - 1] === "-device");
    expect(devices).toEqual([
      "virtio-blk-pci,drive=vd0,disable-legacy=on",
      "virtio-blk-pci,drive=vd1,disable-legacy=on",
      "virtio-rng-pci,disable-legacy=on",
      "virtio-net-pci,netdev=net0,mac=52:54:00:12:34:01,disable-legacy=on",
      "virtio-serial-pci,disable-legacy=on",
      "virtconsole,chardev=hvc0",
    ]);
  });

  it("mmio: microvm without its command-line devices, ACPI on, virtio-*-device", () => {
    const args = virtioQemuCommandLine(guest, { transport: "mmio", tscKhz: 2_596_132, ...everything });
    expect(args.slice(0, 3)).toEqual(["qemu-system-i386", "-M", "microvm,auto-kernel-cmdline=off"]);
    expect(args[args.indexOf("-append") + 1]).toBe("console=ttyS0 tsc_early_khz=2596132 tsvmm.test=blk");
    expect(args.filter((_, index) => args[index - 1] === "-device")).toEqual([
      "virtio-blk-device,drive=vd0",
      "virtio-blk-device,drive=vd1",
      "virtio-rng-device",
      "virtio-net-device,netdev=net0,mac=52:54:00:12:34:01",
      "virtio-serial-device",
      "virtconsole,chardev=hvc0",
    ]);
  });

  it("adds only what is asked for", () => {
    expect(virtioQemuCommandLine(guest, { transport: "mmio" })).toEqual([
      "qemu-system-i386",
      "-M",
      "microvm,auto-kernel-cmdline=off",
      ...BOOT,
      "-append",
      "console=ttyS0",
      ...COMMON,
    ]);
    expect(virtioGuestCmdline(guest, { transport: "pci" })).toBe(LINUX_GUEST_CMDLINE);
  });
});

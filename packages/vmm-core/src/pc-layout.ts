/** The PC's guest-physical memory map below 4 GiB, as QEMU's pc machine lays it out. */
export const PC_LAYOUT = {
  /** Conventional memory ends where the legacy VGA window starts. */
  conventionalEnd: 0xa0000,
  /** Option ROMs and the BIOS live in 0xC0000-0xFFFFF; QEMU backs it with RAM, topped by the BIOS. */
  romAreaStart: 0xc0000,
  /** Extended memory starts at 1 MiB. */
  extendedStart: 0x100000,
  minimumRam: 0x200000,
  /** RAM below 4 GiB stops where the PCI hole starts; more RAM than this would go above 4 GiB. */
  maximumRam: 0xe0000000,
  /** QEMU's limit for a -bios image. */
  maximumFirmware: 16 * 1024 * 1024,
  /**
   * The virtio-mmio windows: 0x200 bytes each from 0xFEB00000 up (where QEMU's microvm puts them), in the MMIO hole
   * just below the I/O APIC (0xFEC00000), above RAM and below the local APIC (0xFEE00000). Each gets one ISA IRQ
   * (virtio-platform.ts, PC_VIRTIO_MMIO_IRQS).
   */
  virtioMmioBase: 0xfeb00000,
  virtioMmioStride: 0x200,
  /**
   * Where the VMM places PCI memory BARs when it stands in for the firmware (direct kernel boot): downwards from here,
   * below the virtio-mmio windows, inside the DSDT's PCI window (end of RAM to 0xFEBFFFFF).
   */
  pciMemoryTop: 0xfeb00000,
  /** PCI I/O BARs from here up (SeaBIOS's start), clear of every legacy port. */
  pciIoBase: 0xc000,
  pciIoTop: 0x10000,
} as const;

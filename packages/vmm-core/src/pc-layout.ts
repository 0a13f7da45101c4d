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
} as const;

// Test helpers (imported only by *.test.ts): tiny ELF objects shaped like kernel modules, a newc
// reader to look inside archives, and a PackageSource that lays out package trees on disk.
import { mkdirSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import type { DebianPackage, GuestPackages, LinuxGuestArch, PackageSource } from "./debian-packages.js";
import { EM_386, EM_X86_64 } from "./elf-modinfo.js";

export interface ElfFixtureOptions {
  bits: 32 | 64;
  machine?: number;
  bigEndian?: boolean;
  /** Records of a .modinfo section ("key=value"); no .modinfo section when undefined. */
  modinfo?: string[];
}

/** A relocatable ELF object with sections: null, [.modinfo,] .shstrtab. */
export function elfFixture(options: ElfFixtureOptions): Uint8Array {
  const { bits, bigEndian = false } = options;
  const machine = options.machine ?? (bits === 32 ? EM_386 : EM_X86_64);
  const wide = bits === 64;
  const headerSize = wide ? 64 : 52;
  const sectionHeaderSize = wide ? 64 : 40;
  const encoder = new TextEncoder();

  const sections: { name: string; type: number; data: Uint8Array }[] = [];
  if (options.modinfo !== undefined) {
    // Records padded with extra NULs between them, as the kernel's build aligns them.
    sections.push({
      name: ".modinfo",
      type: 1,
      data: encoder.encode(options.modinfo.map((r) => `${r}\0\0`).join("")),
    });
  }
  const names = ["", ...sections.map((s) => s.name), ".shstrtab"];
  const nameOffsets: number[] = [];
  let shstrtab = "";
  for (const name of names) {
    nameOffsets.push(shstrtab.length);
    shstrtab += `${name}\0`;
  }
  sections.push({ name: ".shstrtab", type: 3, data: encoder.encode(shstrtab) });

  let offset = headerSize;
  const dataOffsets = sections.map((section) => {
    const at = offset;
    offset += section.data.length;
    return at;
  });
  const tableOffset = Math.ceil(offset / 8) * 8;
  const count = sections.length + 1;
  const bytes = new Uint8Array(tableOffset + count * sectionHeaderSize);
  const view = new DataView(bytes.buffer);
  const little = !bigEndian;
  const word = (at: number, value: number) => {
    if (wide) {
      view.setUint32(at + (little ? 0 : 4), value, little);
      view.setUint32(at + (little ? 4 : 0), 0, little);
    } else view.setUint32(at, value, little);
  };

  bytes.set([0x7f, 0x45, 0x4c, 0x46, wide ? 2 : 1, bigEndian ? 2 : 1, 1]);
  view.setUint16(0x10, 1, little); // ET_REL
  view.setUint16(0x12, machine, little);
  view.setUint32(0x14, 1, little);
  word(wide ? 0x28 : 0x20, tableOffset);
  view.setUint16(wide ? 0x34 : 0x28, headerSize, little);
  view.setUint16(wide ? 0x3a : 0x2e, sectionHeaderSize, little);
  view.setUint16(wide ? 0x3c : 0x30, count, little);
  view.setUint16(wide ? 0x3e : 0x32, count - 1, little);

  sections.forEach((section, index) => {
    bytes.set(section.data, dataOffsets[index]!);
    const base = tableOffset + (index + 1) * sectionHeaderSize;
    view.setUint32(base, nameOffsets[index + 1]!, little);
    view.setUint32(base + 4, section.type, little);
    word(base + (wide ? 24 : 16), dataOffsets[index]!);
    word(base + (wide ? 32 : 20), section.data.length);
  });
  return bytes;
}

/** One member of a newc archive as read back. */
export interface CpioMember {
  name: string;
  mode: number;
  nlink: number;
  rdevMajor: number;
  rdevMinor: number;
  data: Uint8Array;
}

/** Reads a newc archive up to its trailer (a second, independent view of the format for tests). */
export function readCpioNewc(archive: Uint8Array): CpioMember[] {
  const decoder = new TextDecoder();
  const members: CpioMember[] = [];
  let offset = 0;
  const align = (value: number) => Math.ceil(value / 4) * 4;
  for (;;) {
    const header = decoder.decode(archive.subarray(offset, offset + 110));
    if (!header.startsWith("070701")) throw new Error(`bad cpio magic at ${offset}`);
    const field = (index: number) => Number.parseInt(header.slice(6 + index * 8, 14 + index * 8), 16);
    const nameSize = field(11);
    const fileSize = field(6);
    const name = decoder.decode(archive.subarray(offset + 110, offset + 110 + nameSize - 1));
    const dataStart = align(offset + 110 + nameSize);
    if (name === "TRAILER!!!") return members;
    members.push({
      name,
      mode: field(1),
      nlink: field(4),
      rdevMajor: field(9),
      rdevMinor: field(10),
      data: new Uint8Array(archive.subarray(dataStart, dataStart + fileSize)),
    });
    offset = align(dataStart + fileSize);
  }
}

/** Module files of a fixture kernel: name -> [path under lib/modules/<version>, direct dependencies]. */
export const FIXTURE_MODULES: Record<string, [string, string[]]> = {
  virtio: ["kernel/drivers/virtio/virtio.ko", []],
  virtio_ring: ["kernel/drivers/virtio/virtio_ring.ko", []],
  virtio_pci_modern_dev: ["kernel/drivers/virtio/virtio_pci_modern_dev.ko", []],
  virtio_pci: ["kernel/drivers/virtio/virtio_pci.ko", ["virtio_ring", "virtio_pci_modern_dev", "virtio"]],
  virtio_mmio: ["kernel/drivers/virtio/virtio_mmio.ko", ["virtio", "virtio_ring"]],
  virtio_blk: ["kernel/drivers/block/virtio_blk.ko", ["virtio", "virtio_ring"]],
  failover: ["kernel/net/core/failover.ko", []],
  net_failover: ["kernel/drivers/net/net_failover.ko", ["failover"]],
  virtio_net: ["kernel/drivers/net/virtio_net.ko", ["virtio_ring", "virtio", "net_failover"]],
  virtio_console: ["kernel/drivers/char/virtio_console.ko", ["virtio", "virtio_ring"]],
  virtio_rng: ["kernel/drivers/char/hw_random/virtio-rng.ko", ["virtio", "virtio_ring"]],
  crc32c_generic: ["kernel/crypto/crc32c_generic.ko", []],
  crc16: ["kernel/lib/crc16.ko", []],
  mbcache: ["kernel/fs/mbcache.ko", []],
  jbd2: ["kernel/fs/jbd2/jbd2.ko", []],
  ext4: ["kernel/fs/ext4/ext4.ko", ["jbd2", "mbcache", "crc16"]],
  e1000: ["kernel/drivers/net/ethernet/intel/e1000/e1000.ko", []],
};

/** A bzImage stand-in: just enough of the x86 boot header ("HdrS" at 0x202) for the builder's check. */
export function bzImageFixture(version: string): Uint8Array {
  const image = new Uint8Array(4096);
  image.set(new TextEncoder().encode("HdrS"), 0x202);
  image.set(new TextEncoder().encode(version), 0x400);
  return image;
}

/**
 * Package source over fixture trees: versions come from `versions`, which tests change to mimic a
 * new Debian upload; every unpack is counted. Kernel version strings follow the Debian pattern.
 */
export class FixturePackageSource implements PackageSource {
  readonly versions = { kernel: "6.1.99-1", busybox: "1:1.35.0-4" };
  unpackCount = 0;
  resolveError: Error | undefined;

  constructor(private readonly root: string) {}

  async resolve(arch: LinuxGuestArch): Promise<GuestPackages> {
    if (this.resolveError !== undefined) throw this.resolveError;
    const flavour = arch === "i386" ? "686" : "amd64";
    return {
      kernel: { name: `linux-image-6.1.0-99-${flavour}`, arch, version: this.versions.kernel },
      busybox: { name: "busybox-static", arch, version: this.versions.busybox },
    };
  }

  async unpack(pkg: DebianPackage): Promise<string> {
    this.unpackCount++;
    const tree = join(this.root, `${pkg.name}_${pkg.version.replaceAll(":", "%3a")}_${pkg.arch}`);
    const bits = pkg.arch === "i386" ? 32 : 64;
    const write = (path: string, data: Uint8Array | string) => {
      mkdirSync(dirname(join(tree, path)), { recursive: true });
      writeFileSync(join(tree, path), data);
    };
    if (pkg.name === "busybox-static") {
      write("bin/busybox", elfFixture({ bits }));
    } else {
      const version = pkg.name.replace("linux-image-", "");
      write(`boot/vmlinuz-${version}`, bzImageFixture(`${version} ${pkg.version}`));
      for (const [name, [path, depends]] of Object.entries(FIXTURE_MODULES)) {
        const modinfo = [`alias=fixture:${name}`, `depends=${depends.join(",")}`, `name=${name}`];
        write(`lib/modules/${version}/${path}`, elfFixture({ bits, modinfo }));
      }
      write(`lib/modules/${version}/modules.builtin`, "kernel/drivers/tty/serial/8250/8250.ko\n");
    }
    return tree;
  }
}

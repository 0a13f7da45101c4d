// Lays out the Linux test guests' initramfs: busybox, /init, the device node the kernel opens
// before /init runs, and the selected kernel modules with their modules.dep.
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { gzipSync } from "node:zlib";
import { type CpioEntry, writeCpioNewc } from "./cpio-newc.js";
import { type ModuleSelection, modulesAliasText, modulesDepText, readModuleFile } from "./kernel-modules.js";

/** A file tree to archive; parents are added on demand and entries come out sorted, parents first. */
export class InitramfsTree {
  private readonly entries = new Map<string, CpioEntry>();

  directory(path: string, mode = 0o755): this {
    const existing = this.entries.get(path);
    if (existing !== undefined) {
      if (existing.kind !== "directory") throw new Error(`initramfs: ${path} is already a ${existing.kind}`);
      if (mode !== (existing.mode ?? 0o755)) this.entries.set(path, { kind: "directory", path, mode });
      return this;
    }
    this.parentsOf(path);
    this.entries.set(path, { kind: "directory", path, mode });
    return this;
  }

  file(path: string, data: Uint8Array | string, mode = 0o644): this {
    const bytes = typeof data === "string" ? new TextEncoder().encode(data) : data;
    return this.add({ kind: "file", path, data: bytes, mode });
  }

  symlink(path: string, target: string): this {
    return this.add({ kind: "symlink", path, target });
  }

  charDevice(path: string, major: number, minor: number, mode = 0o600): this {
    return this.add({ kind: "char-device", path, major, minor, mode });
  }

  /** Entries in lexicographic path order, which puts every directory before what it contains. */
  list(): CpioEntry[] {
    return [...this.entries.values()].sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  }

  private add(entry: CpioEntry): this {
    if (this.entries.has(entry.path)) throw new Error(`initramfs: ${entry.path} added twice`);
    this.parentsOf(entry.path);
    this.entries.set(entry.path, entry);
    return this;
  }

  private parentsOf(path: string): void {
    const slash = path.lastIndexOf("/");
    if (slash > 0 && !this.entries.has(path.slice(0, slash))) this.directory(path.slice(0, slash));
  }
}

export interface LinuxInitramfsInputs {
  /** The static busybox binary for the guest's architecture. */
  busybox: Uint8Array;
  initScript: string;
  kernelVersion: string;
  /** The extracted kernel package's lib/modules/<kernelVersion>, where the selection's paths point. */
  modulesDir: string;
  modules: ModuleSelection;
  /** More files for the variant (paths without the leading slash), e.g. etc/tsvmm/virtio.sh. */
  extraFiles?: readonly { path: string; data: string; mode?: number }[];
}

/** Linux's fixed device numbers for /dev/console (Documentation/admin-guide/devices.txt). */
const CONSOLE_MAJOR = 5;
const CONSOLE_MINOR = 1;

/** The guest's file tree: busybox installs its applet links at boot (`busybox --install -s` in /init). */
export function linuxInitramfsTree(inputs: LinuxInitramfsInputs): InitramfsTree {
  const tree = new InitramfsTree();
  for (const dir of ["bin", "sbin", "usr/bin", "usr/sbin", "etc", "proc", "sys", "dev", "mnt"])
    tree.directory(dir);
  tree.directory("root", 0o700).directory("tmp", 0o1777);
  // The kernel opens /dev/console for /init's stdin/stdout before any devtmpfs is mounted.
  tree.charDevice("dev/console", CONSOLE_MAJOR, CONSOLE_MINOR);
  tree.file("bin/busybox", inputs.busybox, 0o755).symlink("bin/sh", "busybox");
  tree.file("init", inputs.initScript, 0o755);
  for (const extra of inputs.extraFiles ?? []) tree.file(extra.path, extra.data, extra.mode ?? 0o644);

  const moduleRoot = `lib/modules/${inputs.kernelVersion}`;
  tree.directory(moduleRoot);
  for (const module of inputs.modules.modules) {
    tree.file(
      `${moduleRoot}/${module.path}`,
      readModuleFile(inputs.modulesDir, module.source ?? module.path),
    );
  }
  tree.file(`${moduleRoot}/modules.dep`, modulesDepText(inputs.modules));
  tree.file(`${moduleRoot}/modules.alias`, modulesAliasText(inputs.modules));
  const builtinList = join(inputs.modulesDir, "modules.builtin");
  if (existsSync(builtinList)) tree.file(`${moduleRoot}/modules.builtin`, readFileSync(builtinList));
  return tree;
}

/** The gzip-compressed newc archive of a tree, as the kernel's initrd= / QEMU's -initrd takes it. */
export function gzipInitramfs(tree: InitramfsTree): Uint8Array {
  return gzipSync(writeCpioNewc(tree.list()), { level: 9 });
}

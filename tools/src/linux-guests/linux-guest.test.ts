// ensureLinuxGuest over fixture packages (no apt, no network): what it builds, the manifest it
// writes, and that a second run with unchanged inputs neither unpacks nor writes anything.
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { gunzipSync } from "node:zlib";
import { afterAll, describe, expect, it } from "vitest";
import type { DebianPackage } from "./debian-packages.js";
import {
  guestInitScript,
  LINUX_GUEST_CMDLINE,
  LINUX_GUEST_MARKERS,
  LINUX_GUEST_PROMPT,
} from "./guest-init.js";
import {
  defaultGuestCacheDir,
  ensureLinuxGuest,
  guestDirectory,
  guestRecipe,
  LINUX_GUEST_MODULES,
  type LinuxGuestManifest,
  VIRTIO_GUEST_MODULES,
} from "./linux-guest.js";
import {
  bzImageFixture,
  elfFixture,
  FIXTURE_MODULES,
  FixturePackageSource,
  readCpioNewc,
} from "./test-fixtures.js";
import {
  VIRTIO_GUEST_MARKERS,
  VIRTIO_GUEST_TESTS,
  VIRTIO_HELPERS,
  VIRTIO_MODULE_LIST,
  virtioHelpersScript,
} from "./virtio-guest-init.js";

const roots: string[] = [];
afterAll(() => {
  for (const root of roots) rmSync(root, { recursive: true, force: true });
});

function setup() {
  const root = mkdtempSync(join(tmpdir(), "tsvmm-linux-guest-"));
  roots.push(root);
  const cacheDir = join(root, "cache");
  return { cacheDir, source: new FixturePackageSource(join(root, "trees")) };
}

const sha256Hex = /^[0-9a-f]{64}$/;
const mtimeOf = (path: string) => statSync(path).mtimeMs;

function initrdMembers(manifest: LinuxGuestManifest) {
  return new Map(
    readCpioNewc(gunzipSync(readFileSync(manifest.initrd))).map((member) => [member.name, member]),
  );
}

describe("ensureLinuxGuest building from packages", () => {
  it("writes a kernel, an initramfs and a manifest that describes them", async () => {
    const { cacheDir, source } = setup();
    const manifest = await ensureLinuxGuest({ arch: "i386", variant: "shell", cacheDir, source });
    const guestDir = guestDirectory(cacheDir, "i386", "shell");

    expect(manifest).toEqual({
      schema: 1,
      name: "linux-i386-shell",
      arch: "i386",
      variant: "shell",
      kernel: join(guestDir, "bzImage"),
      kernelSha256: expect.stringMatching(sha256Hex),
      initrd: join(guestDir, "initrd.img"),
      initrdSha256: expect.stringMatching(sha256Hex),
      kernelVersion: "6.1.0-99-686",
      cmdline: LINUX_GUEST_CMDLINE,
      qemu: "qemu-system-i386",
      markers: LINUX_GUEST_MARKERS,
      prompt: LINUX_GUEST_PROMPT,
      packages: {
        kernel: { name: "linux-image-6.1.0-99-686", arch: "i386", version: "6.1.99-1" },
        busybox: { name: "busybox-static", arch: "i386", version: "1:1.35.0-4" },
      },
      modules: { directory: "/lib/modules/6.1.0-99-686", loadOrder: expect.any(Array), builtin: [] },
      workload: null,
      virtio: null,
      recipe: guestRecipe("i386", "shell"),
    });
    expect(JSON.parse(readFileSync(join(guestDir, "manifest.json"), "utf8"))).toEqual(manifest);
    expect(new Uint8Array(readFileSync(manifest.kernel))).toEqual(bzImageFixture("6.1.0-99-686 6.1.99-1"));

    // Every requested module and its dependencies (virtio_net needs net_failover, which needs failover).
    const loadOrder = manifest.modules.loadOrder;
    expect(new Set(loadOrder)).toEqual(
      new Set([...LINUX_GUEST_MODULES, "virtio_pci_modern_dev", "net_failover", "failover"]),
    );
    for (const name of loadOrder) {
      for (const dep of FIXTURE_MODULES[name]![1])
        expect(loadOrder.indexOf(dep)).toBeLessThan(loadOrder.indexOf(name));
    }
  });

  it("packs /init, busybox, the console node and the modules with their modules.dep into the initrd", async () => {
    const { cacheDir, source } = setup();
    const manifest = await ensureLinuxGuest({ arch: "amd64", variant: "workload", cacheDir, source });
    const members = initrdMembers(manifest);
    const text = (name: string) => new TextDecoder().decode(members.get(name)!.data);

    expect(text("init")).toBe(guestInitScript("workload"));
    expect(members.get("init")!.mode).toBe(0o100755);
    expect(members.get("bin/busybox")!.data).toEqual(elfFixture({ bits: 64 }));
    expect(text("bin/sh")).toBe("busybox");
    expect(members.get("dev/console")).toMatchObject({ mode: 0o020600, rdevMajor: 5, rdevMinor: 1 });
    for (const dir of ["proc", "sys", "dev", "tmp", "root", "sbin", "usr/bin", "usr/sbin"]) {
      expect(members.get(dir)?.mode, dir).toBeGreaterThanOrEqual(0o040000);
    }

    const moduleDir = "lib/modules/6.1.0-99-amd64";
    for (const name of manifest.modules.loadOrder) {
      expect(members.has(`${moduleDir}/${FIXTURE_MODULES[name]![0]}`), name).toBe(true);
    }
    expect(members.has(`${moduleDir}/${FIXTURE_MODULES.e1000![0]}`)).toBe(false);
    expect(text(`${moduleDir}/modules.dep`)).toContain(
      "kernel/drivers/net/net_failover.ko: kernel/net/core/failover.ko\n",
    );
    expect(text(`${moduleDir}/modules.alias`)).toContain("alias fixture:virtio_blk virtio_blk\n");
    expect(text(`${moduleDir}/modules.builtin`)).toBe("kernel/drivers/tty/serial/8250/8250.ko\n");

    expect(manifest.prompt).toBeNull();
    expect(manifest.qemu).toBe("qemu-system-x86_64");
    expect(manifest.workload).toMatchObject({
      steps: expect.any(Array),
      expectedMd5: expect.stringMatching(/^[0-9a-f]{32}$/),
    });
  });

  it("virtio: adds ext4 to the modules and lists them for /init in load order, with the helpers", async () => {
    const { cacheDir, source } = setup();
    const manifest = await ensureLinuxGuest({ arch: "i386", variant: "virtio", cacheDir, source });
    const members = initrdMembers(manifest);
    const text = (name: string) => new TextDecoder().decode(members.get(name)!.data);

    const loadOrder = manifest.modules.loadOrder;
    expect(new Set(loadOrder)).toEqual(
      new Set([
        ...VIRTIO_GUEST_MODULES,
        "virtio_pci_modern_dev",
        "net_failover",
        "failover",
        "jbd2",
        "mbcache",
        "crc16",
      ]),
    );
    expect(loadOrder.indexOf("crc32c_generic")).toBeLessThan(loadOrder.indexOf("ext4"));
    for (const name of loadOrder) {
      for (const dep of FIXTURE_MODULES[name]![1])
        expect(loadOrder.indexOf(dep)).toBeLessThan(loadOrder.indexOf(name));
    }
    expect(text(VIRTIO_MODULE_LIST.slice(1))).toBe(
      loadOrder.map((name) => `${name} ${FIXTURE_MODULES[name]![0]}\n`).join(""),
    );
    expect(text(VIRTIO_HELPERS.slice(1))).toBe(virtioHelpersScript());
    expect(text("init")).toBe(guestInitScript("virtio"));
    for (const name of loadOrder)
      expect(members.has(`lib/modules/6.1.0-99-686/${FIXTURE_MODULES[name]![0]}`), name).toBe(true);

    expect(manifest).toMatchObject({
      name: "linux-i386-virtio",
      cmdline: LINUX_GUEST_CMDLINE,
      prompt: LINUX_GUEST_PROMPT,
      workload: null,
      virtio: { tests: VIRTIO_GUEST_TESTS, markers: VIRTIO_GUEST_MARKERS },
    });
    const shell = await ensureLinuxGuest({ arch: "i386", variant: "shell", cacheDir, source });
    expect(shell.modules.loadOrder).not.toContain("ext4");
    expect(initrdMembers(shell).has(VIRTIO_HELPERS.slice(1))).toBe(false);
  });

  it("builds byte-identical guests from the same packages", async () => {
    const first = setup();
    const second = setup();
    const a = await ensureLinuxGuest({
      arch: "i386",
      variant: "workload",
      cacheDir: first.cacheDir,
      source: first.source,
    });
    const b = await ensureLinuxGuest({
      arch: "i386",
      variant: "workload",
      cacheDir: second.cacheDir,
      source: second.source,
    });
    expect(b.initrdSha256).toBe(a.initrdSha256);
    expect(b.kernelSha256).toBe(a.kernelSha256);
  });

  it("refuses a busybox built for the other architecture", async () => {
    const { cacheDir, source } = setup();
    const unpack = source.unpack.bind(source);
    source.unpack = async (pkg: DebianPackage) => {
      const tree = await unpack(pkg);
      if (pkg.name === "busybox-static") writeFileSync(join(tree, "bin/busybox"), elfFixture({ bits: 64 }));
      return tree;
    };
    await expect(ensureLinuxGuest({ arch: "i386", variant: "shell", cacheDir, source })).rejects.toThrow(
      /ELF64 machine 62, not an i386 binary/,
    );
  });
});

describe("ensureLinuxGuest idempotence (stamp.json)", () => {
  it("does nothing the second time: no unpack, no file rewritten, the same manifest", async () => {
    const { cacheDir, source } = setup();
    const first = await ensureLinuxGuest({ arch: "i386", variant: "shell", cacheDir, source });
    const guestDir = guestDirectory(cacheDir, "i386", "shell");
    const files = ["stamp.json", "manifest.json", "bzImage", "initrd.img"].map((file) =>
      join(guestDir, file),
    );
    const before = files.map(mtimeOf);
    const unpacked = source.unpackCount;
    expect(unpacked).toBe(2);
    expect(JSON.parse(readFileSync(files[0]!, "utf8"))).toEqual({
      recipe: first.recipe,
      packages: first.packages,
    });

    const second = await ensureLinuxGuest({ arch: "i386", variant: "shell", cacheDir, source });
    expect(second).toEqual(first);
    expect(source.unpackCount).toBe(unpacked);
    expect(files.map(mtimeOf)).toEqual(before);
  });

  it("rebuilds when a package version changes, and records the new version", async () => {
    const { cacheDir, source } = setup();
    await ensureLinuxGuest({ arch: "amd64", variant: "shell", cacheDir, source });
    source.versions.kernel = "6.1.99-2";
    const rebuilt = await ensureLinuxGuest({ arch: "amd64", variant: "shell", cacheDir, source });
    expect(source.unpackCount).toBe(4);
    expect(rebuilt.packages.kernel.version).toBe("6.1.99-2");
    expect(new Uint8Array(readFileSync(rebuilt.kernel))).toEqual(bzImageFixture("6.1.0-99-amd64 6.1.99-2"));
  });

  it("rebuilds when a built file was changed or removed", async () => {
    const { cacheDir, source } = setup();
    const manifest = await ensureLinuxGuest({ arch: "i386", variant: "workload", cacheDir, source });
    writeFileSync(manifest.initrd, "corrupted");
    const repaired = await ensureLinuxGuest({ arch: "i386", variant: "workload", cacheDir, source });
    expect(source.unpackCount).toBe(4);
    expect(repaired.initrdSha256).toBe(manifest.initrdSha256);
    rmSync(repaired.kernel);
    await ensureLinuxGuest({ arch: "i386", variant: "workload", cacheDir, source });
    expect(source.unpackCount).toBe(6);
  });

  it("keeps variants and architectures apart, each with its own recipe", async () => {
    const { cacheDir, source } = setup();
    const shell = await ensureLinuxGuest({ arch: "i386", variant: "shell", cacheDir, source });
    const workload = await ensureLinuxGuest({ arch: "i386", variant: "workload", cacheDir, source });
    expect(shell.recipe).not.toBe(workload.recipe);
    expect(guestRecipe("i386", "shell")).not.toBe(guestRecipe("amd64", "shell"));
    expect(shell.initrd).not.toBe(workload.initrd);
    await ensureLinuxGuest({ arch: "i386", variant: "shell", cacheDir, source });
    expect(source.unpackCount).toBe(4);
  });

  it("uses a complete cached build when package versions cannot be checked, and fails without one", async () => {
    const { cacheDir, source } = setup();
    source.resolveError = new Error("apt-cache not found");
    await expect(ensureLinuxGuest({ arch: "i386", variant: "shell", cacheDir, source })).rejects.toThrow(
      /apt-cache/,
    );
    source.resolveError = undefined;
    const built = await ensureLinuxGuest({ arch: "i386", variant: "shell", cacheDir, source });
    source.resolveError = new Error("apt-cache not found");
    const lines: string[] = [];
    const offline = await ensureLinuxGuest({
      arch: "i386",
      variant: "shell",
      cacheDir,
      source,
      log: (l) => lines.push(l),
    });
    expect(offline).toEqual(built);
    expect(lines.join("\n")).toMatch(/using the cached build/);
  });
});

describe("defaultGuestCacheDir", () => {
  it("prefers TSVMM_GUEST_CACHE, then XDG_CACHE_HOME, then ~/.cache", () => {
    expect(defaultGuestCacheDir({ TSVMM_GUEST_CACHE: "/x/guests", XDG_CACHE_HOME: "/y" })).toBe("/x/guests");
    expect(defaultGuestCacheDir({ XDG_CACHE_HOME: "/y" })).toBe("/y/tsvmm/guests");
    expect(defaultGuestCacheDir({})).toMatch(/\/\.cache\/tsvmm\/guests$/);
  });
});

// Checks the real Linux guests in the developer's cache (built by `pnpm guests:linux` from Debian's
// packages): a second ensureLinuxGuest is a no-op, and each initrd holds what the manifest says.
// Never downloads: without apt, or with no guest built by the current recipe, it skips and says why.
import { spawnSync } from "node:child_process";
import { existsSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { gunzipSync } from "node:zlib";
import { beforeAll, describe, expect, it } from "vitest";
import {
  AptPackageSource,
  type GuestPackages,
  LINUX_GUEST_ARCHES,
  type PackageSource,
} from "./debian-packages.js";
import { EM_386, EM_X86_64, readElfMachine, readModinfo } from "./elf-modinfo.js";
import { guestInitScript, LINUX_GUEST_VARIANTS } from "./guest-init.js";
import {
  defaultGuestCacheDir,
  ensureLinuxGuest,
  guestDirectory,
  guestRecipe,
  type LinuxGuestManifest,
} from "./linux-guest.js";
import { readCpioNewc } from "./test-fixtures.js";

const cacheDir = defaultGuestCacheDir();
const hasApt = spawnSync("apt-cache", ["--version"], { stdio: "ignore" }).status === 0;
const hasCpio = spawnSync("cpio", ["--version"], { stdio: "ignore" }).status === 0;

const built = LINUX_GUEST_ARCHES.flatMap((arch) =>
  LINUX_GUEST_VARIANTS.map((variant) => ({ arch, variant, dir: guestDirectory(cacheDir, arch, variant) })),
).filter(({ arch, variant, dir }) => {
  const stampPath = join(dir, "stamp.json");
  if (!existsSync(stampPath)) return false;
  return (
    (JSON.parse(readFileSync(stampPath, "utf8")) as { recipe?: string }).recipe === guestRecipe(arch, variant)
  );
});

const skipReason = !hasApt
  ? "apt-cache is not available (not a Debian-like host), so package versions cannot be checked"
  : built.length === 0
    ? `no Linux guest built by the current recipe in ${cacheDir} (run pnpm guests:linux to build them)`
    : undefined;
if (skipReason !== undefined)
  console.warn(`linux-guest-cache.test.ts: skipping the cached-guest checks: ${skipReason}`);

/** Resolves with apt but refuses to unpack: a call to unpack means ensureLinuxGuest decided to rebuild. */
class NoRebuildSource implements PackageSource {
  private readonly apt = new AptPackageSource({ cacheDir });
  resolve = (arch: (typeof LINUX_GUEST_ARCHES)[number]) => this.apt.resolve(arch);
  async unpack(): Promise<string> {
    throw new Error("ensureLinuxGuest tried to rebuild a guest whose inputs did not change");
  }
}
const source = new NoRebuildSource();

describe.skipIf(skipReason !== undefined)("Linux guests in the cache", () => {
  // apt-cache is slow where apt keeps no binary cache: ask for every architecture at once.
  beforeAll(async () => {
    await Promise.allSettled([...new Set(built.map(({ arch }) => arch))].map((arch) => source.resolve(arch)));
  }, 60_000);

  for (const { arch, variant, dir } of built) {
    describe(`linux-${arch}-${variant}`, () => {
      const manifest = JSON.parse(readFileSync(join(dir, "manifest.json"), "utf8")) as LinuxGuestManifest;

      it("is found as it is by a second ensureLinuxGuest: nothing unpacked, nothing rewritten", async (context) => {
        const stamp = JSON.parse(readFileSync(join(dir, "stamp.json"), "utf8")) as {
          packages: GuestPackages;
        };
        const current = await source.resolve(arch);
        if (JSON.stringify(current) !== JSON.stringify(stamp.packages)) {
          context.skip(
            `apt now offers ${current.kernel.name} ${current.kernel.version}: run pnpm guests:linux`,
          );
        }
        const stampTime = statSync(join(dir, "stamp.json")).mtimeMs;
        const again = await ensureLinuxGuest({ arch, variant, cacheDir, source });
        expect(again).toEqual(manifest);
        expect(statSync(join(dir, "stamp.json")).mtimeMs).toBe(stampTime);
      }, 60_000);

      it("has an initrd with this recipe's /init, an arch-matching busybox and the listed modules", () => {
        const archive = gunzipSync(readFileSync(manifest.initrd));
        const members = new Map(readCpioNewc(archive).map((member) => [member.name, member]));
        expect(new TextDecoder().decode(members.get("init")!.data)).toBe(guestInitScript(variant));
        expect(readElfMachine(members.get("bin/busybox")!.data)).toEqual(
          arch === "i386" ? { bits: 32, machine: EM_386 } : { bits: 64, machine: EM_X86_64 },
        );

        const moduleDir = manifest.modules.directory.slice(1);
        const depLines = new TextDecoder()
          .decode(members.get(`${moduleDir}/modules.dep`)!.data)
          .trimEnd()
          .split("\n");
        expect(depLines.length).toBe(manifest.modules.loadOrder.length);
        for (const line of depLines) {
          const [path, deps = ""] = line.split(":");
          const module = members.get(`${moduleDir}/${path}`);
          expect(module, path).toBeDefined();
          const modinfo = readModinfo(module!.data, path);
          const name = modinfo.find((field) => field.key === "name")!.value;
          expect(manifest.modules.loadOrder).toContain(name);
          const depends = modinfo.find((field) => field.key === "depends")?.value ?? "";
          const listed = deps.trim().split(" ").filter(Boolean).length;
          expect(listed, `${name}'s modules.dep line`).toBeGreaterThanOrEqual(
            depends.split(",").filter(Boolean).length,
          );
        }

        if (hasCpio) {
          const listing = spawnSync("cpio", ["-t", "--quiet"], { input: archive, encoding: "utf8" });
          expect(listing.status, listing.stderr).toBe(0);
          expect(listing.stdout.trim().split("\n")).toEqual([...members.keys()]);
        }
      });
    });
  }
});

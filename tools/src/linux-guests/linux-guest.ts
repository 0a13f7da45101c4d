// Builds the Linux test guests (a Debian kernel plus a busybox initramfs) into a cache outside the
// repository, once per set of inputs, and describes each with a manifest.json that tests and
// benchmarks read: ensureLinuxGuest() is the entry point.
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { homedir } from "node:os";
import { join } from "node:path";
import {
  AptPackageSource,
  type GuestPackages,
  type LinuxGuestArch,
  type PackageSource,
} from "./debian-packages.js";
import { EM_386, EM_X86_64, readElfMachine } from "./elf-modinfo.js";
import {
  expectedLoopSum,
  expectedWorkloadMd5,
  guestInitScript,
  LINUX_GUEST_CMDLINE,
  LINUX_GUEST_MARKERS,
  LINUX_GUEST_PROMPT,
  type LinuxGuestVariant,
  WORKLOAD_PARAMETERS,
  WORKLOAD_STEPS,
} from "./guest-init.js";
import { gzipInitramfs, linuxInitramfsTree } from "./initramfs.js";
import {
  findModuleFiles,
  type KernelModule,
  loadModule,
  readBuiltinModules,
  selectModules,
} from "./kernel-modules.js";
import {
  VIRTIO_BENCH_PARAMETERS,
  VIRTIO_BLK_TEST,
  VIRTIO_GUEST_MARKERS,
  VIRTIO_GUEST_TESTS,
  VIRTIO_HELPERS,
  VIRTIO_MODULE_LIST,
  virtioHelpersScript,
  virtioModuleListText,
} from "./virtio-guest-init.js";

/** Kernel modules put in every guest's /lib/modules (not loaded yet), with their dependencies. */
export const LINUX_GUEST_MODULES = [
  "virtio",
  "virtio_ring",
  "virtio_pci",
  "virtio_mmio",
  "virtio_blk",
  "virtio_net",
  "virtio_console",
  "virtio_rng",
] as const;

/**
 * The virtio variant's modules, which its /init loads in dependency order: the virtio ones, plus
 * ext4 for the blk test. ext4 and jbd2 checksum with crc32c through the crypto API (a softdep
 * on "crypto-crc32c", not a "depends"), so the generic crc32c goes in first, by name: crc32c-intel
 * needs SSE4.2, which QEMU's default i386 CPU does not have.
 */
export const VIRTIO_GUEST_MODULES = [...LINUX_GUEST_MODULES, "crc32c_generic", "ext4"] as const;

const modulesForVariant = (variant: LinuxGuestVariant): readonly string[] =>
  variant === "virtio" ? VIRTIO_GUEST_MODULES : LINUX_GUEST_MODULES;

/** The QEMU system emulator that runs each architecture's guest on the reference machine. */
export const QEMU_FOR_ARCH: Record<LinuxGuestArch, string> = {
  i386: "qemu-system-i386",
  amd64: "qemu-system-x86_64",
};

const ELF_MACHINE_FOR_ARCH: Record<LinuxGuestArch, { bits: 32 | 64; machine: number }> = {
  i386: { bits: 32, machine: EM_386 },
  amd64: { bits: 64, machine: EM_X86_64 },
};

/** Everything a test or benchmark needs to boot a guest and recognise its output. */
export interface LinuxGuestManifest {
  schema: 1;
  /** "linux-<arch>-<variant>", also the guest's directory name in the cache. */
  name: string;
  arch: LinuxGuestArch;
  variant: LinuxGuestVariant;
  /** Absolute path of the kernel (bzImage), for -kernel. */
  kernel: string;
  kernelSha256: string;
  /** Absolute path of the gzip-compressed newc initramfs, for -initrd. */
  initrd: string;
  initrdSha256: string;
  /** `uname -r` inside the guest, e.g. 6.1.0-50-686. */
  kernelVersion: string;
  /** The kernel command line the guest is made for. */
  cmdline: string;
  /** The QEMU binary that runs it on the reference machine. */
  qemu: string;
  markers: typeof LINUX_GUEST_MARKERS;
  /** The shell prompt, in the shell variant and the virtio one (when it runs no tests). */
  prompt: string | null;
  packages: GuestPackages;
  modules: {
    /** Where they are in the guest, e.g. /lib/modules/6.1.0-50-686. */
    directory: string;
    /** Module names in an order that loads each after its dependencies. */
    loadOrder: string[];
    /** Needed modules that are built into this kernel. */
    builtin: string[];
  };
  /** What the workload variant runs and the results it checks itself against. */
  workload: {
    parameters: typeof WORKLOAD_PARAMETERS;
    steps: readonly string[];
    expectedMd5: string;
    expectedLoopSum: number;
  } | null;
  /** What the virtio variant can run (tsvmm.test=...), the lines it prints and its test files. */
  virtio: {
    tests: readonly string[];
    markers: typeof VIRTIO_GUEST_MARKERS;
    blk: typeof VIRTIO_BLK_TEST;
    bench: typeof VIRTIO_BENCH_PARAMETERS;
  } | null;
  /** Hash of the builder's sources and the variant: a different recipe means a rebuild. */
  recipe: string;
}

/** stamp.json: the inputs of the build in a guest directory; written last, so it marks a complete build. */
interface BuildStamp {
  recipe: string;
  packages: GuestPackages;
}

export interface EnsureLinuxGuestOptions {
  arch: LinuxGuestArch;
  variant: LinuxGuestVariant;
  /** Defaults to defaultGuestCacheDir(). */
  cacheDir?: string;
  /** Defaults to apt (AptPackageSource) with debs/ and trees/ in the cache directory. */
  source?: PackageSource;
  /** Progress lines (downloads, builds); silent by default. */
  log?: (line: string) => void;
}

/** $TSVMM_GUEST_CACHE, else $XDG_CACHE_HOME/tsvmm/guests, else ~/.cache/tsvmm/guests. */
export function defaultGuestCacheDir(env: NodeJS.ProcessEnv = process.env): string {
  if (env.TSVMM_GUEST_CACHE) return env.TSVMM_GUEST_CACHE;
  return join(env.XDG_CACHE_HOME || join(homedir(), ".cache"), "tsvmm", "guests");
}

export const guestName = (arch: LinuxGuestArch, variant: LinuxGuestVariant) => `linux-${arch}-${variant}`;

/** The directory of a built guest inside a cache: manifest.json, stamp.json, bzImage, initrd.img. */
export const guestDirectory = (cacheDir: string, arch: LinuxGuestArch, variant: LinuxGuestVariant) =>
  join(cacheDir, guestName(arch, variant));

const BUILDER_SOURCES = [
  "cpio-newc.ts",
  "elf-modinfo.ts",
  "kernel-modules.ts",
  "initramfs.ts",
  "guest-init.ts",
  "virtio-guest-init.ts",
  "linux-guest.ts",
];

/** Any change to how guests are built (these sources) or to what is built changes the recipe. */
export function guestRecipe(arch: LinuxGuestArch, variant: LinuxGuestVariant): string {
  const hash = createHash("sha256").update(`${arch}\0${variant}\0`);
  for (const file of BUILDER_SOURCES)
    hash.update(readFileSync(new URL(`./${file}`, import.meta.url))).update("\0");
  return hash.digest("hex");
}

const sha256 = (bytes: Uint8Array) => createHash("sha256").update(bytes).digest("hex");

function readJson<T>(path: string): T | undefined {
  try {
    return JSON.parse(readFileSync(path, "utf8")) as T;
  } catch {
    return undefined;
  }
}

const samePackages = (a: GuestPackages, b: GuestPackages) => JSON.stringify(a) === JSON.stringify(b);

/**
 * The manifest of a finished build in `guestDir` made by `recipe` (from `packages`, when given),
 * whose kernel and initrd are still what the manifest says; undefined otherwise.
 */
export function readCompleteBuild(
  guestDir: string,
  recipe: string,
  packages: GuestPackages | undefined,
): LinuxGuestManifest | undefined {
  const stamp = readJson<BuildStamp>(join(guestDir, "stamp.json"));
  const manifest = readJson<LinuxGuestManifest>(join(guestDir, "manifest.json"));
  if (
    stamp === undefined ||
    manifest === undefined ||
    stamp.recipe !== recipe ||
    manifest.recipe !== recipe
  ) {
    return undefined;
  }
  if (packages !== undefined && !samePackages(stamp.packages, packages)) return undefined;
  if (!samePackages(stamp.packages, manifest.packages)) return undefined;
  for (const [path, expected] of [
    [manifest.kernel, manifest.kernelSha256],
    [manifest.initrd, manifest.initrdSha256],
  ] as const) {
    if (!existsSync(path) || sha256(readFileSync(path)) !== expected) return undefined;
  }
  return manifest;
}

/**
 * The guest's manifest, building the guest first unless the cache already holds a build with the
 * same recipe and package versions (then nothing is downloaded nor written). Package versions come
 * from the source (apt's current candidates); when it cannot answer (no apt, no lists), a complete
 * cached build of the same recipe is used as it is.
 */
export async function ensureLinuxGuest(options: EnsureLinuxGuestOptions): Promise<LinuxGuestManifest> {
  const { arch, variant } = options;
  const cacheDir = options.cacheDir ?? defaultGuestCacheDir();
  const log = options.log ?? (() => {});
  const source = options.source ?? new AptPackageSource({ cacheDir, log });
  const guestDir = guestDirectory(cacheDir, arch, variant);
  const recipe = guestRecipe(arch, variant);

  let packages: GuestPackages;
  try {
    packages = await source.resolve(arch);
  } catch (error) {
    const cached = readCompleteBuild(guestDir, recipe, undefined);
    if (cached === undefined) throw error;
    log(
      `${guestName(arch, variant)}: cannot check package versions (${(error as Error).message}); using the cached build`,
    );
    return cached;
  }
  const cached = readCompleteBuild(guestDir, recipe, packages);
  if (cached !== undefined) return cached;

  log(
    `${guestName(arch, variant)}: building from ${packages.kernel.name} ${packages.kernel.version} and ${packages.busybox.name} ${packages.busybox.version}`,
  );
  const kernelTree = await source.unpack(packages.kernel);
  const busyboxTree = await source.unpack(packages.busybox);
  return buildGuest({ arch, variant, guestDir, recipe, packages, kernelTree, busyboxTree });
}

interface BuildInputs {
  arch: LinuxGuestArch;
  variant: LinuxGuestVariant;
  guestDir: string;
  recipe: string;
  packages: GuestPackages;
  kernelTree: string;
  busyboxTree: string;
}

/** The one kernel in an unpacked linux-image package: its version and bzImage bytes. */
function findKernel(kernelTree: string): { version: string; image: Uint8Array } {
  const modulesRoot = join(kernelTree, "lib/modules");
  const versions = existsSync(modulesRoot) ? readdirSync(modulesRoot) : [];
  if (versions.length !== 1) {
    throw new Error(
      `${modulesRoot}: expected one kernel version, found ${versions.length ? versions.join(", ") : "none"}`,
    );
  }
  const version = versions[0]!;
  const imagePath = join(kernelTree, "boot", `vmlinuz-${version}`);
  if (!existsSync(imagePath)) throw new Error(`kernel package has no boot/vmlinuz-${version}`);
  const image = readFileSync(imagePath);
  // The x86 boot protocol header: "HdrS" at 0x202 (Documentation/arch/x86/boot.rst).
  if (image.toString("latin1", 0x202, 0x206) !== "HdrS")
    throw new Error(`${imagePath} is not an x86 bzImage`);
  return { version, image };
}

function readBusybox(busyboxTree: string, arch: LinuxGuestArch): Uint8Array {
  const path = join(busyboxTree, "bin/busybox");
  if (!existsSync(path)) throw new Error(`busybox package has no bin/busybox (${busyboxTree})`);
  const binary = readFileSync(path);
  const { bits, machine } = readElfMachine(binary, path);
  const expected = ELF_MACHINE_FOR_ARCH[arch];
  if (bits !== expected.bits || machine !== expected.machine) {
    throw new Error(`${path} is ELF${bits} machine ${machine}, not an ${arch} binary`);
  }
  return binary;
}

/** Writes a file by renaming a finished temporary one over it, so readers never see half a file. */
function writeAtomically(path: string, data: Uint8Array | string): void {
  const temporary = `${path}.tmp-${process.pid}`;
  writeFileSync(temporary, data);
  renameSync(temporary, path);
}

function buildGuest(inputs: BuildInputs): LinuxGuestManifest {
  const { arch, variant, guestDir, recipe, packages } = inputs;
  const kernel = findKernel(inputs.kernelTree);
  const busybox = readBusybox(inputs.busyboxTree, arch);

  const modulesDir = join(inputs.kernelTree, "lib/modules", kernel.version);
  const moduleFiles = findModuleFiles(modulesDir);
  const loaded = new Map<string, KernelModule>();
  const lookup = (name: string) => {
    const path = moduleFiles.get(name);
    if (path === undefined) return undefined;
    if (!loaded.has(name)) loaded.set(name, loadModule(modulesDir, path));
    return loaded.get(name);
  };
  const modules = selectModules(modulesForVariant(variant), lookup, readBuiltinModules(modulesDir));
  const extraFiles =
    variant === "virtio"
      ? [
          { path: VIRTIO_HELPERS.slice(1), data: virtioHelpersScript() },
          { path: VIRTIO_MODULE_LIST.slice(1), data: virtioModuleListText(modules.modules) },
        ]
      : [];

  const initrd = gzipInitramfs(
    linuxInitramfsTree({
      busybox,
      initScript: guestInitScript(variant),
      kernelVersion: kernel.version,
      modulesDir,
      modules,
      extraFiles,
    }),
  );

  mkdirSync(guestDir, { recursive: true });
  rmSync(join(guestDir, "stamp.json"), { force: true });
  const kernelPath = join(guestDir, "bzImage");
  const initrdPath = join(guestDir, "initrd.img");
  writeAtomically(kernelPath, kernel.image);
  writeAtomically(initrdPath, initrd);

  const manifest: LinuxGuestManifest = {
    schema: 1,
    name: guestName(arch, variant),
    arch,
    variant,
    kernel: kernelPath,
    kernelSha256: sha256(kernel.image),
    initrd: initrdPath,
    initrdSha256: sha256(initrd),
    kernelVersion: kernel.version,
    cmdline: LINUX_GUEST_CMDLINE,
    qemu: QEMU_FOR_ARCH[arch],
    markers: LINUX_GUEST_MARKERS,
    prompt: variant === "workload" ? null : LINUX_GUEST_PROMPT,
    packages,
    modules: {
      directory: `/lib/modules/${kernel.version}`,
      loadOrder: modules.modules.map((module) => module.name),
      builtin: modules.builtin,
    },
    workload:
      variant === "workload"
        ? {
            parameters: WORKLOAD_PARAMETERS,
            steps: WORKLOAD_STEPS,
            expectedMd5: expectedWorkloadMd5(),
            expectedLoopSum: expectedLoopSum(),
          }
        : null,
    virtio:
      variant === "virtio"
        ? {
            tests: VIRTIO_GUEST_TESTS,
            markers: VIRTIO_GUEST_MARKERS,
            blk: VIRTIO_BLK_TEST,
            bench: VIRTIO_BENCH_PARAMETERS,
          }
        : null,
    recipe,
  };
  writeAtomically(join(guestDir, "manifest.json"), `${JSON.stringify(manifest, null, 2)}\n`);
  const stamp: BuildStamp = { recipe, packages };
  writeAtomically(join(guestDir, "stamp.json"), `${JSON.stringify(stamp, null, 2)}\n`);
  return manifest;
}

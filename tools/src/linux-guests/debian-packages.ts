// Debian packages for the Linux test guests, through apt: which versions the host's apt lists name
// now (apt-cache), and their contents, fetched with `apt-get download` and unpacked with `dpkg -x`
// into the guest cache. Nothing is installed on the host.
import { execFile } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, renameSync, rmSync } from "node:fs";
import { join } from "node:path";
import { promisify } from "node:util";

const run = promisify(execFile);
const MAX_OUTPUT = 64 * 1024 * 1024;

export type LinuxGuestArch = "i386" | "amd64";
export const LINUX_GUEST_ARCHES: readonly LinuxGuestArch[] = ["i386", "amd64"];

/** One binary package at one version, for one Debian architecture. */
export interface DebianPackage {
  name: string;
  arch: string;
  version: string;
}

/** The packages one guest is built from. */
export interface GuestPackages {
  kernel: DebianPackage;
  busybox: DebianPackage;
}

/** Where guest inputs come from; the builder only talks to this, so tests can supply their own. */
export interface PackageSource {
  /** The packages a guest for `arch` would be built from today. */
  resolve(arch: LinuxGuestArch): Promise<GuestPackages>;
  /** A directory holding the package's files as `dpkg -x` lays them out, fetching them if needed. */
  unpack(pkg: DebianPackage): Promise<string>;
}

/** The kernel flavour per guest architecture: 686 is the non-PAE 32-bit kernel of Debian 12. */
const KERNEL_METAPACKAGES: Record<LinuxGuestArch, string> = {
  i386: "linux-image-686",
  amd64: "linux-image-amd64",
};
const KERNEL_PACKAGE_PATTERN: Record<LinuxGuestArch, RegExp> = {
  i386: /^linux-image-\d+\.\d+\.\d+-\d+-686(?::i386)?$/,
  amd64: /^linux-image-\d+\.\d+\.\d+-\d+-amd64(?::amd64)?$/,
};
const BUSYBOX_PACKAGE = "busybox-static";

/** A version as it may appear in a file name: the epoch's colon spelt %3a, as apt-get download does. */
export const fileSafeVersion = (version: string) => version.replaceAll(":", "%3a");

/** The fields of each stanza of `apt-cache show` or `dpkg-deb --field` output (continuation lines joined). */
export function parseAptStanzas(text: string): Record<string, string>[] {
  const stanzas: Record<string, string>[] = [];
  let fields: Record<string, string> = {};
  let last: string | undefined;
  for (const line of text.split("\n")) {
    if (line.trim() === "") {
      if (Object.keys(fields).length > 0) stanzas.push(fields);
      fields = {};
      last = undefined;
    } else if ((line.startsWith(" ") || line.startsWith("\t")) && last !== undefined) {
      fields[last] += `\n${line.trim()}`;
    } else {
      const colon = line.indexOf(":");
      if (colon <= 0) continue;
      last = line.slice(0, colon);
      fields[last] = line.slice(colon + 1).trim();
    }
  }
  if (Object.keys(fields).length > 0) stanzas.push(fields);
  return stanzas;
}

/**
 * The versioned kernel package a kernel metapackage's Depends names (e.g. linux-image-6.1.0-50-686),
 * with the exact version when the dependency pins one.
 */
export function kernelDependency(
  arch: LinuxGuestArch,
  depends: string,
): { name: string; version?: string } | undefined {
  for (const alternative of depends.split(/[,|]/)) {
    const match = /^\s*(\S+)\s*(?:\(\s*(<<|<=|=|>=|>>)\s*([^)\s]+)\s*\))?\s*$/.exec(alternative);
    if (match === null || !KERNEL_PACKAGE_PATTERN[arch].test(match[1]!)) continue;
    const name = match[1]!.replace(/:.*$/, "");
    return match[2] === "=" ? { name, version: match[3]! } : { name };
  }
  return undefined;
}

async function commandOutput(command: string, args: string[], cwd?: string): Promise<string> {
  const { stdout } = await run(command, args, { cwd, maxBuffer: MAX_OUTPUT, encoding: "utf8" });
  return stdout;
}

function describeFailure(error: unknown): string {
  const failure = error as { code?: unknown; stderr?: unknown; message?: unknown };
  if (failure.code === "ENOENT") return "command not found";
  const stderr = typeof failure.stderr === "string" ? failure.stderr.trim() : "";
  return stderr || String(failure.message ?? error);
}

export interface AptPackageSourceOptions {
  /** Holds debs/ (the downloaded .deb files) and trees/ (their dpkg -x contents). */
  cacheDir: string;
  log?: (line: string) => void;
}

/**
 * apt-backed source. When apt does not know a package (a fresh machine, or i386 not yet enabled) it
 * enables the architecture (`dpkg --add-architecture i386`) and runs `apt-get update` once, as root
 * or through `sudo -n`, then asks again.
 */
export class AptPackageSource implements PackageSource {
  private readonly debsDir: string;
  private readonly treesDir: string;
  private readonly log: (line: string) => void;
  /** One apt refresh per architecture, run one after another (apt-get update takes a lock). */
  private readonly refreshes = new Map<LinuxGuestArch, Promise<void>>();
  private lastRefresh: Promise<unknown> = Promise.resolve();
  private readonly resolved = new Map<LinuxGuestArch, Promise<GuestPackages>>();

  constructor(options: AptPackageSourceOptions) {
    this.debsDir = join(options.cacheDir, "debs");
    this.treesDir = join(options.cacheDir, "trees");
    this.log = options.log ?? (() => {});
  }

  /** One apt-cache call per architecture and process: apt rebuilds its cache on each call where it keeps none. */
  resolve(arch: LinuxGuestArch): Promise<GuestPackages> {
    let resolved = this.resolved.get(arch);
    if (resolved === undefined) {
      resolved = this.resolveNow(arch);
      this.resolved.set(arch, resolved);
      resolved.catch(() => this.resolved.delete(arch));
    }
    return resolved;
  }

  private async resolveNow(arch: LinuxGuestArch): Promise<GuestPackages> {
    const metaName = KERNEL_METAPACKAGES[arch];
    const [meta, busybox] = await this.show([metaName, BUSYBOX_PACKAGE], arch);
    const kernel = kernelDependency(arch, meta!.Depends ?? "");
    if (kernel === undefined) {
      const flavour = arch === "i386" ? "686" : "amd64";
      throw new Error(
        `apt: ${metaName}:${arch} ${meta!.Version} depends on no linux-image-*-${flavour} package (Depends: ${meta!.Depends})`,
      );
    }
    // Debian's kernel metapackages pin the exact version ("(= 6.1.176-1)"); ask apt only if not.
    const kernelVersion = kernel.version ?? (await this.show([kernel.name], arch))[0]!.Version!;
    return {
      kernel: { name: kernel.name, arch, version: kernelVersion },
      busybox: { name: BUSYBOX_PACKAGE, arch, version: busybox!.Version! },
    };
  }

  async unpack(pkg: DebianPackage): Promise<string> {
    const tree = join(this.treesDir, `${pkg.name}_${fileSafeVersion(pkg.version)}_${pkg.arch}`);
    if (existsSync(tree)) return tree;
    const deb = await this.download(pkg);
    mkdirSync(this.treesDir, { recursive: true });
    const staging = mkdtempSync(join(this.treesDir, ".unpacking-"));
    try {
      this.log(`dpkg -x ${deb}`);
      await commandOutput("dpkg", ["-x", deb, staging]);
      publish(staging, tree);
    } finally {
      rmSync(staging, { recursive: true, force: true });
    }
    return tree;
  }

  /** The cached .deb of a package, fetched with `apt-get download` when missing. */
  private async download(pkg: DebianPackage): Promise<string> {
    const deb = join(this.debsDir, `${pkg.name}_${fileSafeVersion(pkg.version)}_${pkg.arch}.deb`);
    if (existsSync(deb)) return deb;
    mkdirSync(this.debsDir, { recursive: true });
    const staging = mkdtempSync(join(this.debsDir, ".downloading-"));
    try {
      const spec = `${pkg.name}:${pkg.arch}=${pkg.version}`;
      this.log(`apt-get download ${spec}`);
      try {
        await commandOutput("apt-get", ["download", "-q", spec], staging);
      } catch (error) {
        const hint = "(if the version is gone from the mirror, run apt-get update and build again)";
        throw new Error(`apt-get download ${spec} failed ${hint}: ${describeFailure(error)}`);
      }
      const files = readdirSync(staging).filter((file) => file.endsWith(".deb"));
      if (files.length !== 1) throw new Error(`apt-get download ${spec} left ${files.length} .deb files`);
      const downloaded = join(staging, files[0]!);
      const fields = await commandOutput("dpkg-deb", [
        "--field",
        downloaded,
        "Package",
        "Version",
        "Architecture",
      ]);
      const info = parseAptStanzas(fields)[0] ?? {};
      if (info.Package !== pkg.name || info.Version !== pkg.version || info.Architecture !== pkg.arch) {
        throw new Error(`apt-get download ${spec} gave ${info.Package} ${info.Version} ${info.Architecture}`);
      }
      renameSync(downloaded, deb);
    } finally {
      rmSync(staging, { recursive: true, force: true });
    }
    return deb;
  }

  /** `apt-cache show` of the candidate versions, refreshing apt's lists once if it lacks one of them. */
  private async show(names: string[], arch: LinuxGuestArch): Promise<Record<string, string>[]> {
    const specs = names.map((name) => `${name}:${arch}`);
    const attempt = async () => {
      const stanzas = parseAptStanzas(
        await commandOutput("apt-cache", ["show", "--no-all-versions", ...specs]),
      );
      return names.map((name) =>
        stanzas.find((stanza) => stanza.Package === name && stanza.Version !== undefined),
      );
    };
    let found: (Record<string, string> | undefined)[] = [];
    let failure = "";
    try {
      found = await attempt();
    } catch (error) {
      failure = describeFailure(error);
      if (failure === "command not found")
        throw new Error("apt-cache not found: building Linux guests needs apt (Debian or Ubuntu)");
    }
    const complete = () => found.length === names.length && found.every((stanza) => stanza !== undefined);
    if (!complete()) {
      await this.refreshOnce(arch);
      try {
        found = await attempt();
      } catch (error) {
        failure = describeFailure(error);
      }
    }
    if (!complete())
      throw new Error(`apt does not know all of ${specs.join(", ")}: ${failure || "missing from its lists"}`);
    return found as Record<string, string>[];
  }

  private refreshOnce(arch: LinuxGuestArch): Promise<void> {
    let refresh = this.refreshes.get(arch);
    if (refresh === undefined) {
      refresh = this.lastRefresh.then(
        () => this.refreshApt(arch),
        () => this.refreshApt(arch),
      );
      this.lastRefresh = refresh;
      this.refreshes.set(arch, refresh);
    }
    return refresh;
  }

  private async refreshApt(arch: LinuxGuestArch): Promise<void> {
    const native = (await commandOutput("dpkg", ["--print-architecture"])).trim();
    const foreign = (await commandOutput("dpkg", ["--print-foreign-architectures"]))
      .split("\n")
      .map((a) => a.trim());
    if (arch !== native && !foreign.includes(arch)) {
      this.log(`dpkg --add-architecture ${arch}`);
      await asRoot(["dpkg", "--add-architecture", arch]);
    }
    this.log("apt-get update");
    try {
      await asRoot(["apt-get", "update", "-q"]);
    } catch (error) {
      // A list that fails to download (a mirror mid-sync) makes apt-get update exit 100 while the
      // others are fine; the retry of apt-cache that follows tells whether what we need is there.
      this.log(`apt-get update reported errors (going on with the lists it has): ${describeFailure(error)}`);
    }
  }
}

/** Runs a command as root: directly when we are root, else through `sudo -n` (never prompting). */
async function asRoot(command: string[]): Promise<void> {
  const isRoot = process.getuid?.() === 0;
  const [program, ...args] = isRoot ? command : ["sudo", "-n", ...command];
  try {
    await commandOutput(program!, args);
  } catch (error) {
    const hint = isRoot ? "" : " (not root, and sudo -n refused: run it by hand as root)";
    throw new Error(`${command.join(" ")} failed${hint}: ${describeFailure(error)}`);
  }
}

/** Moves a finished staging directory into place; a concurrent builder that got there first wins. */
function publish(staging: string, target: string): void {
  try {
    renameSync(staging, target);
  } catch (error) {
    if (!existsSync(target)) throw error;
  }
}

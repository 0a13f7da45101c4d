// `pnpm guests:linux [--arch i386|amd64] [--variant shell|workload|virtio] [--json]`: builds (or finds in
// the cache) the Linux test guests and prints each one's manifest path, or with --json the manifests.
import { parseArgs } from "node:util";
import { AptPackageSource, LINUX_GUEST_ARCHES, type LinuxGuestArch } from "./debian-packages.js";
import { LINUX_GUEST_VARIANTS, type LinuxGuestVariant } from "./guest-init.js";
import {
  defaultGuestCacheDir,
  ensureLinuxGuest,
  guestDirectory,
  type LinuxGuestManifest,
} from "./linux-guest.js";

const USAGE = `usage: pnpm guests:linux [--arch i386|amd64] [--variant shell|workload|virtio] [--json]
Builds the Linux test guests into ${defaultGuestCacheDir()} (set TSVMM_GUEST_CACHE to move it);
without --arch or --variant, builds all of them. Prints one manifest.json path per guest.`;

function pick<T extends string>(value: string | undefined, all: readonly T[], what: string): readonly T[] {
  if (value === undefined) return all;
  if (!(all as readonly string[]).includes(value))
    throw new Error(`unknown ${what} '${value}' (one of: ${all.join(", ")})`);
  return [value as T];
}

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: {
      arch: { type: "string" },
      variant: { type: "string" },
      json: { type: "boolean", default: false },
      help: { type: "boolean", short: "h", default: false },
    },
  });
  if (values.help) {
    console.log(USAGE);
    return 0;
  }
  const arches = pick<LinuxGuestArch>(values.arch, LINUX_GUEST_ARCHES, "--arch");
  const variants = pick<LinuxGuestVariant>(values.variant, LINUX_GUEST_VARIANTS, "--variant");
  const cacheDir = defaultGuestCacheDir();
  const log = (line: string) => console.error(`guests:linux: ${line}`);
  // One apt source for all guests, asked about every architecture at once (apt-cache can be slow).
  const source = new AptPackageSource({ cacheDir, log });
  await Promise.allSettled(arches.map((arch) => source.resolve(arch)));
  const manifests: LinuxGuestManifest[] = [];
  for (const arch of arches) {
    for (const variant of variants) {
      const manifest = await ensureLinuxGuest({ arch, variant, cacheDir, source, log });
      manifests.push(manifest);
      if (!values.json) console.log(`${guestDirectory(cacheDir, arch, variant)}/manifest.json`);
    }
  }
  if (values.json) console.log(JSON.stringify(manifests, null, 2));
  return 0;
}

main().then(
  (status) => process.exit(status),
  (error: unknown) => {
    console.error(`guests:linux: ${error instanceof Error ? error.message : String(error)}`);
    console.error(USAGE);
    process.exit(1);
  },
);

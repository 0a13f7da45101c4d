// The Debian test guests of `pnpm guests:linux` (tools/README.md, "Linux test guests"), found or built through that
// command and read from its manifest: tsqemu cannot import tools, so the manifest is the interface.
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";

export const REPOSITORY = fileURLToPath(new URL("../../..", import.meta.url));
const MINUTE = 60_000;

/** The parts of a guest's manifest.json the end-to-end tests read. */
export interface GuestManifest {
  name: string;
  kernel: string;
  initrd: string;
  kernelVersion: string;
  markers: { boot: string; bootFailed: string };
  prompt: string;
  modules: { loadOrder: string[] };
  /** The virtio variant's self-tests: their markers and the blk test's files. */
  virtio?: {
    tests: string[];
    markers: Record<VirtioMarker, string>;
    blk: {
      device: string;
      inputFile: string;
      outputFile: string;
      patternFile: string;
      patternLine: string;
      patternBytes: number;
    };
    bench: { device: string; mib: number; blockSize: string; steps: string[] };
  };
}

export type VirtioMarker =
  | "moduleFailed"
  | "modulesOk"
  | "device"
  | "testStart"
  | "testOk"
  | "testFailed"
  | "blkRead"
  | "rng"
  | "net"
  | "netPing"
  | "hvcRead"
  | "benchStart"
  | "bench"
  | "done";

/** Builds (or finds in the cache) the i386 guest of `variant`, or says why it cannot be had here. */
export function findLinuxGuest(variant: "shell" | "virtio"): { guest: GuestManifest } | { reason: string } {
  const build = spawnSync(
    "pnpm",
    ["--silent", "guests:linux", "--arch", "i386", "--variant", variant, "--json"],
    { cwd: REPOSITORY, encoding: "utf8", timeout: 20 * MINUTE },
  );
  if (build.error !== undefined) return { reason: `could not run pnpm guests:linux: ${build.error.message}` };
  if (build.status !== 0) {
    const why = `${build.stderr}${build.stdout}`.trim().split("\n").slice(-5).join("\n");
    return { reason: `pnpm guests:linux failed (apt or the network unavailable?):\n${why}` };
  }
  let manifests: GuestManifest[];
  try {
    const parsed = JSON.parse(build.stdout) as GuestManifest | GuestManifest[];
    manifests = Array.isArray(parsed) ? parsed : [parsed];
  } catch {
    return { reason: `pnpm guests:linux printed no manifest: ${build.stdout.slice(0, 200)}` };
  }
  const name = `linux-i386-${variant}`;
  const guest = manifests.find((m) => m.name === name);
  if (guest === undefined) return { reason: `pnpm guests:linux built no ${name} guest` };
  if (!existsSync(guest.kernel) || !existsSync(guest.initrd)) {
    return { reason: `the guest's files are missing: ${guest.kernel}, ${guest.initrd}` };
  }
  return { guest };
}

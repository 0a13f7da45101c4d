// The command line of `pnpm bench:boot`.
import { parseArgs } from "node:util";

export const EMULATORS = ["tsqemu", "qemu", "v86"] as const;
export type EmulatorName = (typeof EMULATORS)[number];

/** Where tsqemu comes from: its TypeScript sources through tsx, or the built apps/tsqemu/dist. */
export type TsqemuBuild = "source" | "dist";

export interface BenchOptions {
  /** The emulators to boot, in this order. */
  emulators: EmulatorName[];
  /** Seconds each emulator gets to reach the marker before it is stopped and reported as a timeout. */
  timeoutSeconds: number;
  /** Guest RAM in MiB, for every emulator. */
  memoryMiB: number;
  /** Words added to the guest's kernel command line, for every emulator (experiments: what a parameter saves). */
  cmdlineExtra: string | undefined;
  tsqemu: TsqemuBuild;
  /** Append the markdown section to this file (BENCHMARKS.md). */
  appendTo: string | undefined;
  /** Profile a tsqemu boot in-process instead of comparing emulators. */
  profile: boolean;
  /** Guest instructions between two EIP samples in the profile run. */
  sampleEvery: number;
  /** Where console logs, the CPU profile and the profile's raw data go (default: a new temp directory). */
  outDir: string | undefined;
  help: boolean;
}

export const USAGE = `usage: pnpm bench:boot [--only tsqemu,qemu,v86] [--timeout SECONDS] [--memory MIB] [--cmdline-extra WORDS]
                       [--tsqemu source|dist] [--append-to BENCHMARKS.md] [--out DIR]
       pnpm bench:boot --profile [--sample-every INSTRUCTIONS] [--timeout SECONDS] [--out DIR]

Boots Debian's i386 kernel with the busybox shell initramfs (pnpm guests:linux --arch i386 --variant shell)
on tsqemu, qemu-system-i386 -accel tcg and v86 (with Debian's SeaBIOS), one after another, and prints the
seconds from each emulator's process start to the boot marker, with the ratios, as a markdown section.

  --only LIST        emulators to run (default: tsqemu,qemu,v86)
  --timeout S        seconds per emulator before it counts as a timeout (default: 1800)
  --memory MIB       guest RAM (default: 256)
  --cmdline-extra W  added to the guest's kernel command line (e.g. cryptomgr.notests)
  --tsqemu KIND      source: apps/tsqemu/src/main.node.ts through tsx (default);
                     dist: the built apps/tsqemu/dist/main.node.js and the packages' dist
  --append-to FILE   also append the section to FILE
  --out DIR          keep console logs (and profile data) here instead of a new temp directory
  --profile          boot tsqemu in-process through buildPc under node --cpu-prof, sampling the guest's
                     EIP, and summarise guest symbols, exits, I/O ports and host functions
  --sample-every N   guest instructions between EIP samples in --profile (default: 50000)`;

function positiveNumber(value: string | undefined, fallback: number, flag: string, integer: boolean): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isFinite(n) || n <= 0 || (integer && !Number.isInteger(n)))
    throw new Error(`${flag} needs a positive ${integer ? "integer" : "number"}, got '${value}'`);
  return n;
}

/** Parses the arguments after `pnpm bench:boot`; throws an Error with the reason on bad input. */
export function parseBenchOptions(argv: readonly string[]): BenchOptions {
  const { values, positionals } = parseArgs({
    args: [...argv],
    allowPositionals: true,
    options: {
      only: { type: "string" },
      timeout: { type: "string" },
      memory: { type: "string" },
      "cmdline-extra": { type: "string" },
      tsqemu: { type: "string" },
      "append-to": { type: "string" },
      out: { type: "string" },
      profile: { type: "boolean", default: false },
      "sample-every": { type: "string" },
      help: { type: "boolean", short: "h", default: false },
    },
  });
  if (positionals.length > 0) throw new Error(`unexpected argument '${positionals[0]}'`);
  const emulators: EmulatorName[] = [];
  for (const name of (values.only ?? EMULATORS.join(",")).split(",")) {
    const trimmed = name.trim();
    if (!(EMULATORS as readonly string[]).includes(trimmed))
      throw new Error(`unknown emulator '${trimmed}' in --only (one of: ${EMULATORS.join(", ")})`);
    if (!emulators.includes(trimmed as EmulatorName)) emulators.push(trimmed as EmulatorName);
  }
  const tsqemu = values.tsqemu ?? "source";
  if (tsqemu !== "source" && tsqemu !== "dist")
    throw new Error(`--tsqemu is source or dist, got '${tsqemu}'`);
  return {
    emulators,
    timeoutSeconds: positiveNumber(values.timeout, 1800, "--timeout", false),
    memoryMiB: positiveNumber(values.memory, 256, "--memory", true),
    cmdlineExtra: values["cmdline-extra"]?.trim() || undefined,
    tsqemu,
    appendTo: values["append-to"],
    profile: values.profile ?? false,
    sampleEvery: positiveNumber(values["sample-every"], 50_000, "--sample-every", true),
    outDir: values.out,
    help: values.help ?? false,
  };
}

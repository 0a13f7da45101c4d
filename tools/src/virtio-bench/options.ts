// The command line of `pnpm bench:virtio`.
import { parseArgs } from "node:util";

export interface VirtioBenchOptions {
  /** Runs of QEMU (cheap: seconds each) and of tsqemu (minutes each); the table gives each run and the median. */
  qemuRuns: number;
  tsqemuRuns: number;
  /** MiB the guest writes, then reads, with O_DIRECT (tsvmm.bench_mib; also the disk image's size). */
  mib: number;
  /** Guest RAM in MiB. */
  memoryMiB: number;
  /** Seconds one emulator run may take before it is killed and counted as failed. */
  timeoutSeconds: number;
  /** Words added to the guest's kernel command line, for both emulators. */
  cmdlineExtra: string | undefined;
  /** Append the markdown section to this file (BENCHMARKS.md). */
  appendTo: string | undefined;
  /** Where the console logs, the images and tsqemu's statistics go (default: a new temp directory). */
  outDir: string | undefined;
  help: boolean;
}

export const USAGE = `usage: pnpm bench:virtio [--qemu-runs N] [--tsqemu-runs N] [--mib N] [--memory MIB] [--timeout SECONDS]
                         [--cmdline-extra WORDS] [--append-to BENCHMARKS.md] [--out DIR]

Boots Debian's i386 virtio guest (pnpm guests:linux --arch i386 --variant virtio) with tsvmm.test=bench on
qemu-system-i386 -accel tcg and on tsqemu, one run after another, with the same command line: a raw disk on a
modern virtio-blk-pci device (pc machine, default kernel command line with ACPI and MSI-X). The guest writes,
then reads, the whole disk with dd bs=1M and O_DIRECT. Prints the guest-measured MiB/s of each step on both,
the ratio tsqemu/QEMU, and tsqemu's exits per MiB (TSQEMU_STATS_FILE records around each step), as a markdown
section.

  --qemu-runs N      QEMU runs (default: 3; 0 for none)
  --tsqemu-runs N    tsqemu runs (default: 1; each boots Linux, about 7 minutes on two cores; 0 for none)
  --mib N            MiB written then read, and the disk's size (default: 64)
  --memory MIB       guest RAM (default: 256)
  --timeout S        seconds per run before it is killed (default: 1800)
  --cmdline-extra W  added to the guest's kernel command line (e.g. cryptomgr.notests)
  --append-to FILE   also append the section to FILE
  --out DIR          keep console logs, images and statistics here instead of a new temp directory`;

function wholeNumber(value: string | undefined, fallback: number, flag: string, min: 0 | 1): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isInteger(n) || n < min)
    throw new Error(`${flag} needs ${min === 0 ? "a whole number" : "a positive integer"}, got '${value}'`);
  return n;
}

/** Parses the arguments after `pnpm bench:virtio`; throws an Error with the reason on bad input. */
export function parseVirtioBenchOptions(argv: readonly string[]): VirtioBenchOptions {
  const { values, positionals } = parseArgs({
    args: [...argv],
    allowPositionals: true,
    options: {
      "qemu-runs": { type: "string" },
      "tsqemu-runs": { type: "string" },
      mib: { type: "string" },
      memory: { type: "string" },
      timeout: { type: "string" },
      "cmdline-extra": { type: "string" },
      "append-to": { type: "string" },
      out: { type: "string" },
      help: { type: "boolean", short: "h", default: false },
    },
  });
  if (positionals.length > 0) throw new Error(`unexpected argument '${positionals[0]}'`);
  const qemuRuns = wholeNumber(values["qemu-runs"], 3, "--qemu-runs", 0);
  const tsqemuRuns = wholeNumber(values["tsqemu-runs"], 1, "--tsqemu-runs", 0);
  if (qemuRuns + tsqemuRuns === 0) throw new Error("--qemu-runs 0 and --tsqemu-runs 0: nothing to run");
  return {
    qemuRuns,
    tsqemuRuns,
    mib: wholeNumber(values.mib, 64, "--mib", 1),
    memoryMiB: wholeNumber(values.memory, 256, "--memory", 1),
    timeoutSeconds: wholeNumber(values.timeout, 1800, "--timeout", 1),
    cmdlineExtra: values["cmdline-extra"]?.trim() || undefined,
    appendTo: values["append-to"],
    outDir: values.out,
    help: values.help ?? false,
  };
}

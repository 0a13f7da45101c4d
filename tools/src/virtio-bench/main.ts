// `pnpm bench:virtio`: virtio-blk sequential direct-I/O throughput inside the Linux virtio guest on QEMU TCG and on
// tsqemu with the same command line, and tsqemu's exits per MiB. See tools/README.md, "The virtio benchmark".
import { existsSync, readFileSync, truncateSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { benchOutputDirectory } from "../benchmarks-file.js";
import { commandOutput, loadAverage, machineInfo, parseQemuVersion } from "../boot-bench/host-info.js";
import { ensureLinuxGuest, type LinuxGuestManifest, VIRTIO_BENCH_PARAMETERS } from "../linux-guests/index.js";
import { type BenchCommand, runBench } from "./bench-run.js";
import { parseVirtioBenchOptions, USAGE, type VirtioBenchOptions } from "./options.js";
import { appendVirtioBenchSection, type BenchRun, formatVirtioBenchSection } from "./report.js";

const REPO_ROOT = fileURLToPath(new URL("../../../", import.meta.url));
const QEMU = "qemu-system-i386";
const STEPS = VIRTIO_BENCH_PARAMETERS.steps;

const SECTION_INTRO = `Sequential virtio-blk throughput inside Debian's i386 virtio guest (\`pnpm guests:linux --arch i386
--variant virtio\`, tools/README.md): with \`tsvmm.test=bench\` its /init writes, then reads, the whole raw disk
with busybox \`dd bs=1M\` and O_DIRECT, timing each step with its own clock. QEMU TCG and tsqemu run the same
command line (pc machine, a modern-only virtio-blk-pci device, the default kernel command line: ACPI, MSI-X),
one run after another; the ratio is tsqemu's median MiB/s over QEMU's. tsqemu's counters come from its
\`TSQEMU_STATS_FILE\` records, asked for with SIGUSR2 when each step's start and result lines reach the host.
\`pnpm bench:virtio\` prints each run's block (tools/README.md, "The virtio benchmark").`;

const log = (line: string) => process.stderr.write(`bench:virtio: ${line}\n`);

function outputDirectory(options: VirtioBenchOptions): string {
  return benchOutputDirectory(options.outDir, "tsvmm-virtio-bench-");
}

function tsqemuVersion(): string {
  const manifest = JSON.parse(readFileSync(join(REPO_ROOT, "apps", "tsqemu", "package.json"), "utf8")) as {
    version: string;
  };
  const commit = commandOutput("git", ["-C", REPO_ROOT, "rev-parse", "--short", "HEAD"]) ?? "unknown commit";
  const dirty = commandOutput("git", ["-C", REPO_ROOT, "status", "--porcelain", "--", "packages", "apps"]);
  return `${manifest.version} at ${commit}${dirty ? " with uncommitted changes in packages/ or apps/" : ""}`;
}

/** The kernel command line both emulators get: ACPI on (the default), the benchmark on /dev/vda. */
function guestCmdline(options: VirtioBenchOptions): string {
  return [
    "console=ttyS0",
    "tsvmm.test=bench",
    "tsvmm.bench_dev=/dev/vda",
    `tsvmm.bench_mib=${options.mib}`,
    ...(options.cmdlineExtra ? [options.cmdlineExtra] : []),
  ].join(" ");
}

/** The arguments both emulators take (QEMU's flags; tsqemu accepts each of them). */
function machineArgs(guest: LinuxGuestManifest, options: VirtioBenchOptions, image: string): string[] {
  return [
    "-accel",
    "tcg",
    "-M",
    "pc",
    "-m",
    `${options.memoryMiB}M`,
    "-kernel",
    guest.kernel,
    "-initrd",
    guest.initrd,
    "-append",
    guestCmdline(options),
    "-nographic",
    "-no-reboot",
    "-drive",
    `id=vd0,file=${image},if=none,format=raw`,
    "-device",
    "virtio-blk-pci,drive=vd0,disable-legacy=on",
  ];
}

/** A command line as one would type it (arguments with spaces quoted, the repository root left out). */
function shellLine(command: BenchCommand, env = ""): string {
  const words = [command.command === process.execPath ? "node" : command.command, ...command.args];
  return (
    env +
    words
      .map((word) => word.replace(REPO_ROOT, ""))
      .map((word) => (/[\s"'$]/.test(word) ? `"${word}"` : word))
      .join(" ")
  );
}

async function main(argv: string[]): Promise<number> {
  let options: VirtioBenchOptions;
  try {
    options = parseVirtioBenchOptions(argv);
  } catch (error) {
    process.stderr.write(`${(error as Error).message}\n${USAGE}\n`);
    return 2;
  }
  if (options.help) {
    process.stdout.write(`${USAGE}\n`);
    return 0;
  }
  const qemuVersion = parseQemuVersion(commandOutput(QEMU, ["--version"]) ?? "");
  if (qemuVersion === undefined) {
    log(`${QEMU} is missing (apt-get install qemu-system-x86): the benchmark needs it as its reference`);
    return 1;
  }
  const guest = await ensureLinuxGuest({ arch: "i386", variant: "virtio", log });
  const outDir = outputDirectory(options);
  const startedAt = new Date().toISOString();
  const loadAtStart = loadAverage();
  const tsqemuAtStart = tsqemuVersion();
  const commandLines: string[] = [];

  const runAll = async (name: "qemu" | "tsqemu", count: number): Promise<BenchRun[]> => {
    const runs: BenchRun[] = [];
    for (let index = 1; index <= count; index++) {
      // A new sparse image each run, the guest's disk of --mib MiB.
      const image = join(outDir, `${name}-${index}.img`);
      writeFileSync(image, "");
      truncateSync(image, options.mib * 1024 * 1024);
      const args = machineArgs(guest, options, image);
      const statsFile = join(outDir, `${name}-${index}.stats.jsonl`);
      const command: BenchCommand =
        name === "qemu"
          ? { command: QEMU, args }
          : {
              command: process.execPath,
              args: ["--conditions=source", "--import", "tsx", "apps/tsqemu/src/main.node.ts", ...args],
              cwd: REPO_ROOT,
              statsFile,
            };
      const line = shellLine(command, name === "tsqemu" ? `TSQEMU_STATS_FILE=${statsFile} ` : "");
      if (index === 1) commandLines.push(`${name}: ${line.replaceAll(outDir, "OUT")}`);
      log(`${name} run ${index}/${count}: ${line}`);
      let lastLine = "";
      const heartbeat = setInterval(
        () => log(`${name} run ${index}: still running; last line: ${lastLine}`),
        60_000,
      );
      const run = await runBench(command, {
        steps: STEPS,
        bootMarker: guest.markers.boot,
        timeoutSeconds: options.timeoutSeconds,
        logPath: join(outDir, `${name}-${index}.log`),
        onLine: (timed) => {
          lastLine = timed.text.slice(0, 120);
          if (timed.text.startsWith("TSVMM-BENCH ")) log(`${name} run ${index}: ${timed.text}`);
        },
      });
      clearInterval(heartbeat);
      log(
        `${name} run ${index}: ${run.failure ?? "ok"} after ${run.wallSeconds.toFixed(1)} s` +
          (run.failure === undefined
            ? `: ${STEPS.map((step) => `${step} ${run.steps[step]?.mibPerSecond} MiB/s`).join(", ")}`
            : ""),
      );
      runs.push(run);
    }
    return runs;
  };

  const qemuRuns = await runAll("qemu", options.qemuRuns);
  const tsqemuRuns = await runAll("tsqemu", options.tsqemuRuns);

  const machine = machineInfo();
  const { kernel, busybox } = guest.packages;
  const section = formatVirtioBenchSection(
    {
      date: startedAt.slice(0, 10),
      time: `${startedAt.slice(11, 16)} UTC`,
      machine:
        `${machine.cpuModel} (as reported by /proc/cpuinfo), ${machine.cores} cores (nproc: ` +
        `${commandOutput("nproc", []) ?? "?"}), ${machine.memoryGiB} GiB; Node ${machine.node}; 1-minute load ` +
        `average ${loadAtStart.toFixed(1)} at the start and ${loadAverage().toFixed(1)} at the end (the machine is shared)`,
      command: ["pnpm bench:virtio", ...argv].join(" "),
      guest:
        `${kernel.name} ${kernel.version} (${kernel.arch}) with ${busybox.name} ${busybox.version}, ` +
        `\`${guestCmdline(options)}\`, ${options.memoryMiB} MiB, a ${options.mib} MiB raw image (a new sparse ` +
        "file each run, in the host's page cache)",
      versions: [`tsqemu ${tsqemuAtStart} (source through tsx)`, `QEMU ${qemuVersion}`],
      commandLines,
      notes: [
        "**Measured:** MiB/s as the guest measured each `dd` (its clock, read before and after); the host ms " +
          "between the step's `TSVMM-BENCH-START` and `TSVMM-BENCH` lines add the guest's two clock readings. " +
          "Several runs: the median in bold, then each run.",
      ],
      mib: options.mib,
      steps: STEPS,
    },
    qemuRuns,
    tsqemuRuns,
  );
  process.stdout.write(`${section}\n`);
  if (options.appendTo !== undefined) {
    const existing = existsSync(options.appendTo) ? readFileSync(options.appendTo, "utf8") : "";
    writeFileSync(options.appendTo, appendVirtioBenchSection(existing, section, SECTION_INTRO));
    log(`appended to ${options.appendTo}`);
  }
  log(`console logs, images and statistics in ${outDir}`);
  return [...qemuRuns, ...tsqemuRuns].every((run) => run.failure === undefined) ? 0 : 1;
}

main(process.argv.slice(2)).then(
  (status) => process.exit(status),
  (error: unknown) => {
    process.stderr.write(
      `bench:virtio: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`,
    );
    process.exit(1);
  },
);

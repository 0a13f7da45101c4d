// `pnpm bench:boot`: seconds from process start to the Linux guest's boot marker on tsqemu, QEMU TCG and v86,
// and with --profile, where tsqemu's boot time goes. See README.md beside this file.
import { spawn } from "node:child_process";
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { benchOutputDirectory } from "../benchmarks-file.js";
import { fileSafeVersion } from "../linux-guests/debian-packages.js";
import { defaultGuestCacheDir, ensureLinuxGuest, type LinuxGuestManifest } from "../linux-guests/index.js";
import { type BootRun, bootUntilMarker, type EmulatorCommand } from "./boot-until-marker.js";
import { type CpuProfile, type CpuProfileSummary, summarizeCpuProfile } from "./cpu-profile.js";
import {
  commandOutput,
  debianPackageVersion,
  loadAverage,
  machineInfo,
  parseQemuVersion,
} from "./host-info.js";
import { captureKallsyms } from "./kallsyms-capture.js";
import { SymbolTable } from "./kernel-symbols.js";
import { type BenchOptions, type EmulatorName, parseBenchOptions, USAGE } from "./options.js";
import { formatProfileSummary } from "./profile-report.js";
import type { ProfileRunReport } from "./profile-run.js";
import { appendRunSection, type BootResultRow, formatRunSection } from "./report.js";

const REPO_ROOT = fileURLToPath(new URL("../../../", import.meta.url));
const HERE = fileURLToPath(new URL(".", import.meta.url));
const SEABIOS = "/usr/share/seabios";
const QEMU = "qemu-system-i386";

const SECTION_INTRO = `Seconds from starting each emulator's process to \`TSVMM-BOOT-OK\`, which the busybox /init of the
i386 shell guest prints once the kernel has booted and run it (\`pnpm guests:linux --arch i386 --variant shell\`,
tools/README.md). All three boot the same bzImage and initrd with the same command line and RAM, one after
another on the same machine; each is killed when the marker appears. QEMU and v86 start from firmware
(SeaBIOS); tsqemu loads the kernel directly. \`pnpm bench:boot\` prints each run's block;
\`pnpm bench:boot --profile\` profiles tsqemu's boot (tools/src/boot-bench/README.md).`;

const log = (line: string) => process.stderr.write(`bench:boot: ${line}\n`);

function outputDirectory(options: BenchOptions): string {
  return benchOutputDirectory(options.outDir, "tsvmm-boot-bench-");
}

function vgaBios(): string {
  const stdvga = join(SEABIOS, "vgabios-stdvga.bin");
  return existsSync(stdvga) ? stdvga : join(SEABIOS, "vgabios.bin");
}

function v86Version(): string {
  const manifest = join(REPO_ROOT, "tools", "node_modules", "v86", "package.json");
  try {
    return (JSON.parse(readFileSync(manifest, "utf8")) as { version: string }).version;
  } catch {
    return "unknown";
  }
}

function tsqemuVersion(): string {
  const manifest = JSON.parse(readFileSync(join(REPO_ROOT, "apps", "tsqemu", "package.json"), "utf8")) as {
    version: string;
  };
  const commit = commandOutput("git", ["-C", REPO_ROOT, "rev-parse", "--short", "HEAD"]) ?? "unknown commit";
  const dirty = commandOutput("git", ["-C", REPO_ROOT, "status", "--porcelain", "--", "packages", "apps"]);
  return `${manifest.version} at ${commit}${dirty ? " with uncommitted changes in packages/ or apps/" : ""}`;
}

/** The three emulators' command lines, or why one cannot run here. */
function emulatorCommand(
  name: EmulatorName,
  guest: LinuxGuestManifest,
  options: BenchOptions,
): EmulatorCommand | string {
  const memory = `${options.memoryMiB}M`;
  const common = ["-m", memory, "-kernel", guest.kernel, "-initrd", guest.initrd, "-append", guest.cmdline];
  switch (name) {
    case "tsqemu": {
      if (options.tsqemu === "dist") {
        const main = join(REPO_ROOT, "apps", "tsqemu", "dist", "main.node.js");
        if (!existsSync(main)) return `${main} is missing: run pnpm build first`;
        return { label: "tsqemu (dist)", command: process.execPath, args: [main, ...common, "-nographic"] };
      }
      return {
        label: "tsqemu (source, tsx)",
        command: process.execPath,
        args: [
          "--conditions=source",
          "--import",
          "tsx",
          "apps/tsqemu/src/main.node.ts",
          ...common,
          "-nographic",
        ],
        cwd: REPO_ROOT,
      };
    }
    case "qemu":
      if (commandOutput(QEMU, ["--version"]) === undefined)
        return `${QEMU} is missing: apt-get install qemu-system-x86`;
      return { label: "QEMU TCG", command: QEMU, args: ["-accel", "tcg", ...common, "-nographic"] };
    case "v86": {
      const bios = join(SEABIOS, "bios.bin");
      if (!existsSync(bios)) return `${bios} is missing: apt-get install seabios`;
      return {
        label: "v86",
        command: process.execPath,
        args: [
          "--import",
          "tsx",
          join(HERE, "v86-runner.ts"),
          "--bios",
          bios,
          "--vga-bios",
          vgaBios(),
          "--kernel",
          guest.kernel,
          "--initrd",
          guest.initrd,
          "--append",
          guest.cmdline,
          "--memory",
          String(options.memoryMiB),
        ],
        cwd: REPO_ROOT,
      };
    }
  }
}

/** A command line as one would type it (arguments with spaces quoted, the repository root left out). */
function shellLine(command: EmulatorCommand): string {
  const words = [command.command === process.execPath ? "node" : command.command, ...command.args];
  return words
    .map((word) => word.replace(REPO_ROOT, ""))
    .map((word) => (/[\s"'$]/.test(word) ? `"${word}"` : word))
    .join(" ");
}

async function runComparison(
  options: BenchOptions,
  guest: LinuxGuestManifest,
  argv: string[],
): Promise<number> {
  const outDir = outputDirectory(options);
  const loadAtStart = loadAverage();
  const startedAt = new Date().toISOString();
  // What tsqemu is, as the run starts (other work may commit to the tree meanwhile).
  const tsqemuAtStart = tsqemuVersion();
  const rows: BootResultRow[] = [];
  const commandLines: string[] = [];
  const qemuVersion = parseQemuVersion(commandOutput(QEMU, ["--version"]) ?? "") ?? "not installed";
  const labels: Record<EmulatorName, string> = {
    tsqemu: `tsqemu ${options.tsqemu === "dist" ? "(built dist)" : "(source through tsx)"}`,
    qemu: `QEMU ${qemuVersion.split(" ")[0]} TCG`,
    v86: `v86 ${v86Version().split("+")[0]}`,
  };
  for (const name of options.emulators) {
    const command = emulatorCommand(name, guest, options);
    if (typeof command === "string") {
      log(`${name}: cannot run: ${command}`);
      rows.push({ name, label: labels[name], outcome: { kind: "failed", seconds: 0, reason: command } });
      continue;
    }
    commandLines.push(`${name}: ${shellLine(command)}`);
    log(`${name}: booting (${shellLine(command)})`);
    let lastLine = "";
    const heartbeat = setInterval(() => log(`${name}: still booting; last line: ${lastLine}`), 60_000);
    const run: BootRun = await bootUntilMarker(command, {
      marker: guest.markers.boot,
      timeoutSeconds: options.timeoutSeconds,
      logPath: join(outDir, `${name}.log`),
      onLine: (line) => {
        lastLine = line.text.slice(0, 120);
      },
    });
    clearInterval(heartbeat);
    log(`${name}: ${run.outcome.kind} after ${run.outcome.seconds.toFixed(1)} s (console: ${run.logPath})`);
    rows.push({ name, label: labels[name], outcome: run.outcome });
  }
  const machine = machineInfo();
  const busybox = guest.packages.busybox;
  const kernel = guest.packages.kernel;
  const section = formatRunSection(
    {
      date: startedAt.slice(0, 10),
      time: `${startedAt.slice(11, 16)} UTC`,
      machine:
        `${machine.cpuModel} (as reported by /proc/cpuinfo), ${machine.cores} cores, ${machine.memoryGiB} GiB; ` +
        `Node ${machine.node}; 1-minute load average ${loadAtStart.toFixed(1)} at the start and ` +
        `${loadAverage().toFixed(1)} at the end (the machine is shared: absolute times are upper bounds)`,
      command: ["pnpm bench:boot", ...argv].join(" "),
      guest:
        `${kernel.name} ${kernel.version} (${kernel.arch}) with ${busybox.name} ${busybox.version}, ` +
        `\`${guest.cmdline}\`, ${options.memoryMiB} MiB`,
      versions: [
        `tsqemu ${tsqemuAtStart}`,
        `QEMU ${qemuVersion}`,
        `v86 ${v86Version()} (npm, its v86.wasm) with Debian's SeaBIOS ${debianPackageVersion("seabios") ?? "(not installed)"} (bios.bin, ${vgaBios().split("/").pop()})`,
      ],
      commandLines,
      notes: [
        "**Measured:** wall-clock seconds from spawning the emulator to the marker on its serial console " +
          "(process start, firmware where there is one, kernel decompression and boot, /init).",
      ],
    },
    rows,
  );
  process.stdout.write(`${section}\n`);
  if (options.appendTo !== undefined) {
    const existing = existsSync(options.appendTo) ? readFileSync(options.appendTo, "utf8") : "";
    writeFileSync(options.appendTo, appendRunSection(existing, section, SECTION_INTRO));
    log(`appended to ${options.appendTo}`);
  }
  log(`console logs in ${outDir}`);
  return rows.every((row) => row.outcome.kind === "marker") ? 0 : 1;
}

/** The kernel's symbols: the package's System.map when it is real, else /proc/kallsyms read on QEMU. */
async function kernelSymbols(
  guest: LinuxGuestManifest,
  cmdline: string,
  memoryMiB: number,
): Promise<{ symbols: SymbolTable; source: string }> {
  const cacheDir = defaultGuestCacheDir();
  const kernel = guest.packages.kernel;
  const tree = join(cacheDir, "trees", `${kernel.name}_${fileSafeVersion(kernel.version)}_${kernel.arch}`);
  const systemMap = join(tree, "boot", `System.map-${guest.kernelVersion}`);
  if (existsSync(systemMap)) {
    const symbols = SymbolTable.parse(readFileSync(systemMap, "utf8"));
    if (symbols.usable) return { symbols, source: `${systemMap.replace(cacheDir, "the guest cache")}` };
    log(
      `${systemMap} is Debian's placeholder (the real one is in the -dbg package); reading /proc/kallsyms instead`,
    );
  }
  const cached = join(cacheDir, "boot-bench", `kallsyms-${guest.kernelSha256.slice(0, 16)}-nokaslr.txt`);
  const source = "the kernel's /proc/kallsyms (read on QEMU with nokaslr)";
  if (existsSync(cached)) return { symbols: SymbolTable.parse(readFileSync(cached, "utf8")), source };
  if (guest.prompt === null) throw new Error("the guest has no shell prompt to read /proc/kallsyms at");
  const text = await captureKallsyms({
    qemu: QEMU,
    kernel: guest.kernel,
    initrd: guest.initrd,
    cmdline,
    memoryMiB,
    prompt: guest.prompt,
    timeoutSeconds: 300,
  });
  const symbols = SymbolTable.parse(text);
  if (!symbols.usable) throw new Error(`/proc/kallsyms gave only ${symbols.size} code symbols`);
  mkdirSync(join(cacheDir, "boot-bench"), { recursive: true });
  writeFileSync(cached, text);
  return { symbols, source };
}

function busyMs(summary: CpuProfileSummary): number {
  return summary.totalMs - (summary.groups.find((group) => group.name === "(idle)")?.ms ?? 0);
}

function runChild(command: string, args: string[]): Promise<number> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { cwd: REPO_ROOT, stdio: ["ignore", "inherit", "inherit"] });
    child.on("error", reject);
    child.on("close", (code) => resolve(code ?? 1));
  });
}

async function runProfile(options: BenchOptions, guest: LinuxGuestManifest): Promise<number> {
  const outDir = outputDirectory(options);
  // The kernel places itself at a random address unless told not to; nokaslr keeps it at the addresses the
  // symbols have (the profile's only change to the command line).
  const cmdline = `${guest.cmdline} nokaslr`;
  const { symbols, source } = await kernelSymbols(guest, cmdline, options.memoryMiB);
  log(`${symbols.size} kernel code symbols from ${source}`);
  const reportPath = join(outDir, "profile-run.json");
  const profileDir = join(outDir, "cpu-profile");
  mkdirSync(profileDir, { recursive: true });
  const args = [
    "--cpu-prof",
    `--cpu-prof-dir=${profileDir}`,
    "--cpu-prof-interval=2000",
    "--conditions=source",
    "--import",
    "tsx",
    join(HERE, "profile-run.ts"),
    "--kernel",
    guest.kernel,
    "--initrd",
    guest.initrd,
    "--append",
    cmdline,
    "--memory",
    String(options.memoryMiB),
    "--marker",
    guest.markers.boot,
    "--sample-every",
    String(options.sampleEvery),
    "--timeout",
    String(options.timeoutSeconds),
    "--report",
    reportPath,
  ];
  log(`profiling tsqemu's boot in-process (node ${args.join(" ").replaceAll(REPO_ROOT, "")})`);
  const status = await runChild(process.execPath, args);
  if (status !== 0) throw new Error(`the profile run failed with status ${status}`);
  const report = JSON.parse(readFileSync(reportPath, "utf8")) as ProfileRunReport;
  // One profile per thread (tsx runs its loader in a worker): the main thread is the busiest one.
  const host = readdirSync(profileDir)
    .filter((file) => file.endsWith(".cpuprofile"))
    .map((file) =>
      summarizeCpuProfile(JSON.parse(readFileSync(join(profileDir, file), "utf8")) as CpuProfile, 20),
    )
    .sort((a, b) => busyMs(b) - busyMs(a))[0];
  const summary = formatProfileSummary({ ...report, symbolSource: source }, symbols, host);
  const header =
    `### Profile of tsqemu's boot, ${new Date().toISOString().slice(0, 10)}\n\n` +
    `\`pnpm bench:boot --profile --sample-every ${options.sampleEvery}\`: buildPc in-process (as tsqemu builds ` +
    `it) under node --cpu-prof, command line \`${cmdline}\`, ${options.memoryMiB} MiB.\n\n`;
  writeFileSync(join(outDir, "profile.md"), header + summary);
  process.stdout.write(`${header}${summary}\n`);
  log(`raw data in ${outDir} (profile-run.json, cpu-profile/, profile.md)`);
  return report.reachedMarker ? 0 : 1;
}

async function main(argv: string[]): Promise<number> {
  const options = parseBenchOptions(argv);
  if (options.help) {
    console.log(USAGE);
    return 0;
  }
  const built = await ensureLinuxGuest({ arch: "i386", variant: "shell", log });
  const guest =
    options.cmdlineExtra === undefined
      ? built
      : { ...built, cmdline: `${built.cmdline} ${options.cmdlineExtra}` };
  return options.profile ? runProfile(options, guest) : runComparison(options, guest, argv);
}

main(process.argv.slice(2)).then(
  (status) => process.exit(status),
  (error: unknown) => {
    log(error instanceof Error ? error.message : String(error));
    process.exit(2);
  },
);

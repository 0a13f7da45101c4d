// Runs one emulator with the virtio guest's benchmark to its end: the console with host times per line, the
// guest's figures, and for tsqemu its exit counters around each step (through TSQEMU_STATS_FILE and SIGUSR2).
import { spawn } from "node:child_process";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { ConsoleRecorder, type TimedLine } from "../boot-bench/console-recorder.js";
import { parseVirtioReport, VIRTIO_GUEST_MARKERS } from "../linux-guests/index.js";
import type { BenchRun, StepFigures } from "./report.js";
import { StatsSnapshots, statsDelta } from "./stats-snapshots.js";

export interface BenchCommand {
  command: string;
  args: string[];
  cwd?: string;
  /** tsqemu only: where it writes its statistics (TSQEMU_STATS_FILE); the run asks for records around each step. */
  statsFile?: string;
}

export interface BenchRunOptions {
  /** The steps the guest times, in order (blk-write, blk-read). */
  steps: readonly string[];
  bootMarker: string;
  timeoutSeconds: number;
  /** The console with host times is written here. */
  logPath: string;
  /** Each complete console line, for progress output. */
  onLine?: (line: TimedLine) => void;
}

const startLabel = (step: string) => `${step}:start`;
const endLabel = (step: string) => `${step}:end`;

/** Host ms between the first lines that start with `from` and with `to`. */
function msBetween(lines: readonly TimedLine[], from: string, to: string): number | undefined {
  const first = lines.find((line) => line.text.startsWith(from));
  const second = lines.find((line) => line.text.startsWith(to));
  return first === undefined || second === undefined ? undefined : second.ms - first.ms;
}

/** Spawns the emulator (stdin closed), waits for it to end (or kills it at the timeout), and reads the results. */
export function runBench(command: BenchCommand, options: BenchRunOptions): Promise<BenchRun> {
  const recorder = new ConsoleRecorder(options.bootMarker);
  const started = performance.now();
  const elapsedMs = () => performance.now() - started;
  const { statsFile } = command;
  if (statsFile !== undefined) writeFileSync(statsFile, "");
  const child = spawn(command.command, command.args, {
    cwd: command.cwd,
    stdio: ["ignore", "pipe", "pipe"],
    env: statsFile === undefined ? process.env : { ...process.env, TSQEMU_STATS_FILE: statsFile },
  });
  const snapshots =
    statsFile === undefined
      ? undefined
      : new StatsSnapshots(
          () => child.kill("SIGUSR2"),
          () => (existsSync(statsFile) ? readFileSync(statsFile, "utf8") : ""),
        );
  const poller = snapshots && setInterval(() => snapshots.poll(), 20);
  let stderr = "";
  let reported = 0;
  child.stdout.setEncoding("latin1");
  child.stdout.on("data", (text: string) => {
    recorder.feed(text, elapsedMs());
    for (; reported < recorder.lines.length; reported++) {
      const line = recorder.lines[reported]!;
      for (const step of options.steps) {
        if (line.text.startsWith(`${VIRTIO_GUEST_MARKERS.benchStart} ${step}`))
          snapshots?.request(startLabel(step));
        if (line.text.startsWith(`${VIRTIO_GUEST_MARKERS.bench} ${step} `))
          snapshots?.request(endLabel(step));
      }
      options.onLine?.(line);
    }
  });
  child.stderr.setEncoding("latin1");
  child.stderr.on("data", (text: string) => (stderr += text));
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    child.kill("SIGKILL");
  }, options.timeoutSeconds * 1000);

  return new Promise((resolve) => {
    let spawnError: string | undefined;
    child.on("error", (error) => (spawnError = error.message));
    child.on("close", (status, signal) => {
      clearTimeout(timer);
      if (poller) clearInterval(poller);
      snapshots?.poll();
      const wallSeconds = elapsedMs() / 1000;
      writeFileSync(
        options.logPath,
        `${recorder.formatLog()}${stderr === "" ? "" : `\n[stderr]\n${stderr}`}`,
      );
      const output = recorder.lines.map((line) => line.text).join("\n");
      const report = parseVirtioReport(output);
      const steps: Record<string, StepFigures> = {};
      for (const step of options.steps) {
        const guest = report.bench[step];
        if (guest === undefined) continue;
        const before = snapshots?.get(startLabel(step));
        const after = snapshots?.get(endLabel(step));
        steps[step] = {
          mibPerSecond: guest.mibPerSecond,
          guestUs: guest.us,
          hostMs: msBetween(
            recorder.lines,
            `${VIRTIO_GUEST_MARKERS.benchStart} ${step}`,
            `${VIRTIO_GUEST_MARKERS.bench} ${step} `,
          ),
          counters: before && after ? statsDelta(before, after) : undefined,
        };
      }
      const missing = options.steps.filter((step) => steps[step] === undefined);
      const missingStats = snapshots?.pending ?? [];
      const failure = spawnError
        ? `could not start: ${spawnError}`
        : timedOut
          ? `killed after ${options.timeoutSeconds} s`
          : status !== 0
            ? `exit status ${status ?? signal}`
            : !report.ok
              ? `the guest reported failures: ${JSON.stringify(report.failures)}${report.moduleFailures.length > 0 ? `, modules ${JSON.stringify(report.moduleFailures)}` : ""}`
              : missing.length > 0
                ? `no figures for ${missing.join(", ")}`
                : missingStats.length > 0
                  ? `no statistics records for ${missingStats.join(", ")}`
                  : undefined;
      resolve({
        failure,
        bootSeconds: recorder.markerMs === undefined ? undefined : recorder.markerMs / 1000,
        wallSeconds,
        steps,
      });
    });
  });
}

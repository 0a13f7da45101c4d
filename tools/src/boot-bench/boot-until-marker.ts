// Runs one emulator as a child process until its console shows the boot marker, then kills it.
import { spawn } from "node:child_process";
import { writeFileSync } from "node:fs";
import { ConsoleRecorder, type TimedLine } from "./console-recorder.js";
import { processCpuSeconds } from "./host-info.js";

export interface EmulatorCommand {
  /** How the emulator is named in the report. */
  label: string;
  command: string;
  args: string[];
  cwd?: string;
}

export type BootOutcome =
  /** `cpuSeconds`: the CPU time the emulator process had used by then (user + system, all threads). */
  | { kind: "marker"; seconds: number; cpuSeconds?: number }
  /** The emulator ran for `seconds` (the timeout) without printing the marker and was killed. */
  | { kind: "timeout"; seconds: number; cpuSeconds?: number }
  /** The emulator ended by itself before the marker, or could not be started. */
  | { kind: "failed"; seconds: number; reason: string };

export interface BootRun {
  emulator: EmulatorCommand;
  outcome: BootOutcome;
  lines: readonly TimedLine[];
  /** The console with host times, written here. */
  logPath: string;
}

export interface BootOptions {
  marker: string;
  timeoutSeconds: number;
  logPath: string;
  /** Called with each complete console line (progress output). */
  onLine?: (line: TimedLine) => void;
}

/**
 * Spawns the emulator (stdin closed, stdout and stderr read as its console), measures the seconds from the
 * spawn to the marker, and kills it with SIGKILL as soon as the marker is there or the timeout passes.
 */
export function bootUntilMarker(emulator: EmulatorCommand, options: BootOptions): Promise<BootRun> {
  const recorder = new ConsoleRecorder(options.marker);
  const started = performance.now();
  const elapsedMs = () => performance.now() - started;
  return new Promise((resolve) => {
    let outcome: BootOutcome | undefined;
    let stderr = "";
    const child = spawn(emulator.command, emulator.args, {
      cwd: emulator.cwd,
      stdio: ["ignore", "pipe", "pipe"],
    });
    const finish = (result: BootOutcome) => {
      const running = child.exitCode === null && child.signalCode === null;
      if (outcome === undefined) {
        const cpuSeconds = running && child.pid !== undefined ? processCpuSeconds(child.pid) : undefined;
        outcome = result.kind === "failed" ? result : { ...result, cpuSeconds };
      }
      if (running) child.kill("SIGKILL");
    };
    const timer = setTimeout(
      () => finish({ kind: "timeout", seconds: options.timeoutSeconds }),
      options.timeoutSeconds * 1000,
    );
    let reported = 0;
    child.stdout.setEncoding("latin1");
    child.stdout.on("data", (text: string) => {
      const ms = elapsedMs();
      if (recorder.feed(text, ms)) finish({ kind: "marker", seconds: ms / 1000 });
      for (; reported < recorder.lines.length; reported++) options.onLine?.(recorder.lines[reported]);
    });
    child.stderr.setEncoding("latin1");
    child.stderr.on("data", (text: string) => {
      stderr += text;
    });
    child.on("error", (error) =>
      finish({ kind: "failed", seconds: elapsedMs() / 1000, reason: error.message }),
    );
    child.on("close", (code, signal) => {
      clearTimeout(timer);
      const last = stderr.trim().split("\n").slice(-3).join(" / ");
      finish({
        kind: "failed",
        seconds: elapsedMs() / 1000,
        reason: `exited with ${signal ?? `status ${code}`} before the marker${last ? `: ${last}` : ""}`,
      });
      const log = recorder.formatLog() + (stderr ? `\n--- stderr ---\n${stderr}` : "");
      writeFileSync(options.logPath, log);
      resolve({ emulator, outcome: outcome as BootOutcome, lines: recorder.lines, logPath: options.logPath });
    });
  });
}

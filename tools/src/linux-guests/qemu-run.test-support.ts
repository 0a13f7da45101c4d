// Test helpers (imported only by *.test.ts): runs QEMU with the guest's serial console on stdout
// and records when each console line arrived on the host, for host-side timings.
import { spawn } from "node:child_process";
import { readFileSync } from "node:fs";

export interface ConsoleLine {
  text: string;
  /** Host milliseconds from QEMU's start to the line's arrival. */
  atMs: number;
}

export interface QemuRun {
  /** Exit status, or null when QEMU was killed at the time limit. */
  status: number | null;
  output: string;
  lines: ConsoleLine[];
  wallMs: number;
}

/** A running QEMU: `done` settles when it exits (or is killed after timeoutMs). */
export function startQemu(
  command: readonly string[],
  options: { timeoutMs: number; onLine?: (line: ConsoleLine) => void },
): { done: Promise<QemuRun>; kill: () => void } {
  const [binary, ...args] = command;
  const start = performance.now();
  const child = spawn(binary!, args, { stdio: ["ignore", "pipe", "pipe"] });
  const lines: ConsoleLine[] = [];
  let output = "";
  let partial = "";
  child.stdout.setEncoding("latin1");
  child.stdout.on("data", (chunk: string) => {
    output += chunk;
    partial += chunk;
    const atMs = performance.now() - start;
    let newline = partial.indexOf("\n");
    while (newline >= 0) {
      const line = { text: partial.slice(0, newline).replace(/\r+$/, ""), atMs };
      lines.push(line);
      options.onLine?.(line);
      partial = partial.slice(newline + 1);
      newline = partial.indexOf("\n");
    }
  });
  child.stderr.setEncoding("latin1");
  child.stderr.on("data", (chunk: string) => {
    output += chunk;
  });
  const timer = setTimeout(() => child.kill("SIGKILL"), options.timeoutMs);
  const done = new Promise<QemuRun>((resolve, reject) => {
    child.on("error", reject);
    child.on("close", (status) => {
      clearTimeout(timer);
      resolve({ status, output, lines, wallMs: performance.now() - start });
    });
  });
  return { done, kill: () => child.kill("SIGKILL") };
}

/** Host milliseconds between the first lines that start with `from` and with `to`. */
export function msBetween(lines: readonly ConsoleLine[], from: string, to: string): number | undefined {
  const first = lines.find((line) => line.text.startsWith(from));
  const second = lines.find((line) => line.text.startsWith(to));
  return first === undefined || second === undefined ? undefined : second.atMs - first.atMs;
}

/** The host's TSC frequency in kHz as /proc/cpuinfo states it ("cpu MHz"), if it does. */
export function hostTscKhz(): number | undefined {
  try {
    const mhz = /^cpu MHz\s*:\s*([\d.]+)/m.exec(readFileSync("/proc/cpuinfo", "utf8"))?.[1];
    return mhz === undefined ? undefined : Math.round(Number(mhz) * 1000);
  } catch {
    return undefined;
  }
}

/** A command line as a shell would take it, for logs and reports. */
export function shellQuote(command: readonly string[]): string {
  return command
    .map((arg) => (/^[\w@%+=:,./-]+$/.test(arg) ? arg : `'${arg.replaceAll("'", "'\\''")}'`))
    .join(" ");
}

// Runs tsqemu as users do: a process with pipes, from source.
import { type ChildProcessWithoutNullStreams, spawn } from "node:child_process";
import { fileURLToPath } from "node:url";

const MAIN = fileURLToPath(new URL("../src/main.node.ts", import.meta.url));

export interface TsqemuResult {
  status: number | null;
  stdout: string;
  stderr: string;
}

/** Starts tsqemu with `args`; the caller talks to it through the child's pipes. */
export function startTsqemu(args: string[]): ChildProcessWithoutNullStreams {
  return spawn(process.execPath, ["--conditions=source", "--import", "tsx", MAIN, ...args], {
    stdio: ["pipe", "pipe", "pipe"],
  });
}

/** Runs tsqemu to the end with `input` on stdin; kills it after `timeoutMs`. */
export function runTsqemu(args: string[], input = "", timeoutMs = 60_000): Promise<TsqemuResult> {
  return new Promise((resolve, reject) => {
    const child = startTsqemu(args);
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d) => (stdout += d));
    child.stderr.on("data", (d) => (stderr += d));
    child.on("error", reject);
    const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
    child.on("close", (status) => {
      clearTimeout(timer);
      resolve({ status, stdout, stderr });
    });
    child.stdin.end(input);
  });
}

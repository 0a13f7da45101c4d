// TSQEMU_STATS_FILE: a record of the VM's counters on each SIGUSR2 and at exit (src/stats-file.node.ts), checked on
// the built-in demo guest, which prints a banner through the serial port (port I/O exits) and waits for keys.
import { spawn } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import type { StatsRecord } from "../src/stats-file.node.js";

const MAIN = fileURLToPath(new URL("../src/main.node.ts", import.meta.url));

function records(path: string): StatsRecord[] {
  if (!existsSync(path)) return [];
  return readFileSync(path, "utf8")
    .split("\n")
    .filter((line) => line !== "")
    .map((line) => JSON.parse(line) as StatsRecord);
}

async function until(condition: () => boolean, what: string, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

describe("TSQEMU_STATS_FILE", () => {
  it("writes the counters on SIGUSR2 and at exit, growing between the two", async () => {
    const path = join(mkdtempSync(join(tmpdir(), "tsqemu-stats-")), "stats.jsonl");
    const child = spawn(process.execPath, ["--conditions=source", "--import", "tsx", MAIN], {
      stdio: ["pipe", "pipe", "pipe"],
      env: { ...process.env, TSQEMU_STATS_FILE: path },
    });
    let stdout = "";
    child.stdout.on("data", (d) => (stdout += d));
    const exited = new Promise<number | null>((resolve) => child.on("close", resolve));
    try {
      await until(() => stdout.includes("> "), "the demo's prompt");
      child.kill("SIGUSR2");
      await until(() => records(path).length === 1, "the signal's record");
      child.stdin.end("abc q");
      expect(await exited).toBe(1); // the demo's isa-debug-exit status
    } finally {
      child.kill("SIGKILL");
    }

    const [signal, exit, ...more] = records(path);
    expect(more).toEqual([]);
    expect(signal).toMatchObject({ event: "signal", seq: 1 });
    expect(exit).toMatchObject({ event: "exit", seq: 2 });
    // The banner went out through COM1's port: I/O exits, all counted in the total.
    expect(signal!.vm.ioExits).toBeGreaterThan(100);
    expect(signal!.vm.exits).toBeGreaterThanOrEqual(signal!.vm.ioExits + signal!.vm.haltExits);
    // The echoed keys and the goodbye came after the signal.
    expect(exit!.vm.ioExits).toBeGreaterThan(signal!.vm.ioExits);
    expect(exit!.vm.instructions).toBeGreaterThan(signal!.vm.instructions);
    expect(exit!.unixMs).toBeGreaterThanOrEqual(signal!.unixMs);
    expect(exit!.hostMs).toBeGreaterThan(signal!.hostMs);
    expect(typeof exit!.machine.interruptsInjected).toBe("number");
  });

  it("fails with status 1 when the file cannot be written", async () => {
    const child = spawn(process.execPath, ["--conditions=source", "--import", "tsx", MAIN], {
      stdio: ["pipe", "pipe", "pipe"],
      env: { ...process.env, TSQEMU_STATS_FILE: "/nonexistent-dir/stats.jsonl" },
    });
    let stderr = "";
    child.stderr.on("data", (d) => (stderr += d));
    child.stdin.end("q");
    const status = await new Promise<number | null>((resolve) => child.on("close", resolve));
    expect(status).toBe(1);
    expect(stderr).toContain("TSQEMU_STATS_FILE: could not open '/nonexistent-dir/stats.jsonl'");
  });
});

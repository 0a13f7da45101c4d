// Builds tools/host-oracle/host-oracle.c with `gcc -m32` and runs batches of cases on the host CPU.
import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, readFileSync, renameSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import {
  decodeResults,
  encodeCases,
  type FuzzCase,
  type MachineResult,
  type OracleHeader,
} from "./protocol.js";

const SOURCE = join(dirname(fileURLToPath(import.meta.url)), "../../host-oracle/host-oracle.c");

export type OracleBuild = { binary: string; reason?: undefined } | { binary?: undefined; reason: string };

/** Compiles the oracle (cached in the temp directory by source hash), or says why it cannot. */
export function buildOracle(): OracleBuild {
  if (process.platform !== "linux" || (process.arch !== "x64" && process.arch !== "ia32")) {
    return { reason: `the host oracle needs x86 Linux (this is ${process.platform}/${process.arch})` };
  }
  const source = readFileSync(SOURCE);
  const hash = createHash("sha256").update(source).digest("hex").slice(0, 16);
  const binary = join(tmpdir(), `tsvmm-host-oracle-${hash}`);
  if (existsSync(binary)) return { binary };
  const partial = `${binary}.${process.pid}`;
  const gcc = spawnSync("gcc", ["-m32", "-O2", "-fno-pie", "-no-pie", "-o", partial, SOURCE], {
    encoding: "utf8",
  });
  if (gcc.error !== undefined)
    return { reason: `gcc not found (${gcc.error.message}); install gcc-multilib` };
  if (gcc.status !== 0) {
    return {
      reason: `gcc -m32 failed (install Debian's gcc-multilib for 32-bit support):\n${gcc.stderr.trim()}`,
    };
  }
  renameSync(partial, binary);
  return { binary };
}

/** The vector reported for a case that killed the oracle process itself (it is skipped, not compared). */
export const VECTOR_ORACLE_CRASHED = -2;

/**
 * Runs the cases natively in one process; returns the header and one result per case. A case that
 * kills the harness (an instruction that wrecks the process beyond what a signal handler survives)
 * is isolated by splitting the batch and reported with VECTOR_ORACLE_CRASHED.
 */
export function runOracle(
  binary: string,
  cases: readonly FuzzCase[],
): { header: OracleHeader; results: MachineResult[] } {
  const run = spawnSync(binary, [], { input: encodeCases(cases), maxBuffer: 1 << 30 });
  if (run.error !== undefined) throw run.error;
  if (run.status === 0) return decodeResults(new Uint8Array(run.stdout), cases.length);
  if (run.signal === null || cases.length === 0) {
    throw new Error(`host-oracle exited with ${run.status}: ${run.stderr.toString().trim()}`);
  }
  if (cases.length === 1) {
    const crashed = { vector: VECTOR_ORACLE_CRASHED, eip: 0, regs: [], eflags: 0, changes: new Map() };
    return { header: runOracle(binary, []).header, results: [crashed] };
  }
  const half = cases.length >> 1;
  const first = runOracle(binary, cases.slice(0, half));
  const second = runOracle(binary, cases.slice(half));
  return { header: first.header, results: [...first.results, ...second.results] };
}

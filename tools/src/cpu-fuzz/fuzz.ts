// The differential fuzzer: generates cases, runs them on the host CPU (in batches, one native
// process per batch) and on cpu-x86, and collects every mismatch in a defined result.
import { compareResults, formatReproducer } from "./compare.js";
import { EmulatorRunner } from "./emulator.js";
import { generateCase } from "./generator.js";
import { runOracle, VECTOR_ORACLE_CRASHED } from "./native.js";
import type { FuzzCase } from "./protocol.js";

export interface FuzzOptions {
  binary: string;
  seed: number;
  count: number;
  /** First case index (to rerun one case: first = index, count = 1). */
  first?: number;
  batchSize?: number;
  /** Stop collecting after this many mismatches. */
  maxMismatches?: number;
  onProgress?: (done: number) => void;
}

export interface FuzzReport {
  executed: number;
  mismatches: string[];
  /** Mismatch counts by instruction name. */
  byName: Map<string, number>;
  /** Outcome counts by vector (3 = completed normally). */
  vectors: Map<number, number>;
  /** Cases that killed the native harness: not comparable, listed for a look. */
  oracleCrashes: string[];
}

export function fuzz(options: FuzzOptions): FuzzReport {
  const { binary, seed, count } = options;
  const first = options.first ?? 0;
  const batchSize = options.batchSize ?? 20_000;
  const maxMismatches = options.maxMismatches ?? 50;
  const report: FuzzReport = {
    executed: 0,
    mismatches: [],
    byName: new Map(),
    vectors: new Map(),
    oracleCrashes: [],
  };
  let runner: EmulatorRunner | undefined;
  for (let start = first; start < first + count; start += batchSize) {
    const end = Math.min(first + count, start + batchSize);
    const cases: FuzzCase[] = [];
    for (let i = start; i < end; i++) cases.push(generateCase(seed, i));
    const { header, results } = runOracle(binary, cases);
    runner ??= new EmulatorRunner(header.selectors);
    for (let n = 0; n < cases.length; n++) {
      const c = cases[n];
      const host = results[n];
      if (host.vector === VECTOR_ORACLE_CRASHED) {
        report.oracleCrashes.push(`case ${start + n} (${c.name}) killed the host oracle`);
        continue;
      }
      const emulated = runner.run(c);
      report.executed++;
      report.vectors.set(host.vector, (report.vectors.get(host.vector) ?? 0) + 1);
      const differences = compareResults(c, host, emulated);
      if (emulated.problem !== undefined) differences.unshift(emulated.problem);
      if (differences.length === 0) continue;
      report.byName.set(c.name, (report.byName.get(c.name) ?? 0) + 1);
      if (report.mismatches.length < maxMismatches) {
        report.mismatches.push(formatReproducer(seed, start + n, c, differences));
      }
    }
    options.onProgress?.(end - first);
  }
  return report;
}

/** The closing summary: `cpu-fuzz: N passed, M failed`, then mismatch counts by instruction. */
export function formatReport(report: FuzzReport): string {
  let failed = 0;
  for (const n of report.byName.values()) failed += n;
  const lines = [...report.oracleCrashes];
  lines.push(`cpu-fuzz: ${report.executed - failed} passed, ${failed} failed`);
  for (const [name, n] of [...report.byName].sort((a, b) => b[1] - a[1])) lines.push(`  ${name}: ${n}`);
  return lines.join("\n");
}

// `pnpm fuzz:cpu [--count N] [--seed S] [--case I]`: differential fuzzing of cpu-x86 against the host CPU.

import { formatReport, fuzz } from "./fuzz.js";
import { buildOracle } from "./native.js";

function option(name: string, fallback: number): number {
  const i = process.argv.indexOf(`--${name}`);
  if (i < 0) return fallback;
  const value = Number(process.argv[i + 1]);
  if (!Number.isInteger(value) || value < 0) throw new Error(`--${name} needs a non-negative integer`);
  return value;
}

const seed = option("seed", 1);
const single = option("case", -1);
const count = single >= 0 ? 1 : option("count", 1_000_000);
const build = buildOracle();
if (build.binary === undefined) {
  console.error(`fuzz:cpu: cannot run: ${build.reason}`);
  process.exit(2);
}
const started = Date.now();
const report = fuzz({
  binary: build.binary,
  seed,
  count,
  first: Math.max(single, 0),
  onProgress: (done) => {
    if (count > 100_000)
      process.stderr.write(`\r${done}/${count} (${((Date.now() - started) / 1000).toFixed(0)} s)`);
  },
});
if (count > 100_000) process.stderr.write("\n");
for (const m of report.mismatches) console.log(m);
console.log(
  `outcomes by vector: ${JSON.stringify(Object.fromEntries([...report.vectors].sort((a, b) => a[0] - b[0])))}`,
);
console.log(formatReport(report));
process.exitCode = report.byName.size === 0 ? 0 : 1;

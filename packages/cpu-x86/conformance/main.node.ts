// `pnpm conformance`: runs every single-step suite and prints, per suite, the line
// `<suite>: N passed, M failed`, then the failing opcode files with one example each.
// Arguments: suite names to run (default: all), `--only STEM,STEM` to limit the files.
import { formatResult, missingSuiteReason, runSuite, SUITES } from "./singlestep.node.js";

const args = process.argv.slice(2);
const onlyIndex = args.indexOf("--only");
const only = onlyIndex >= 0 ? args[onlyIndex + 1]?.split(",") : undefined;
const names = args.filter((a, i) => !a.startsWith("--") && (onlyIndex < 0 || i !== onlyIndex + 1));
let failed = 0;
for (const spec of SUITES) {
  if (names.length > 0 && !names.includes(spec.name)) continue;
  const missing = missingSuiteReason(spec);
  if (missing !== undefined) {
    console.log(`${spec.name}: skipped: ${missing}`);
    failed++;
    continue;
  }
  const result = runSuite(spec, undefined, only);
  console.log(formatResult(result));
  failed += result.failed;
}
process.exitCode = failed === 0 ? 0 : 1;

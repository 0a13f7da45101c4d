// CLI of the architecture check: `pnpm check:architecture` (optionally followed by the root to check).
// Exits 1 with a readable report when any import breaks the rules in ARCHITECTURE.md.
import { resolve } from "node:path";
import { checkArchitecture, REPOSITORY_ROOT } from "./architecture.js";

const rootDir = resolve(process.argv[2] ?? REPOSITORY_ROOT);
const report = await checkArchitecture(rootDir);

if (report.modulesCruised === 0) {
  // A check that looked at nothing proves nothing: treat it as a broken setup, not a pass.
  console.error(`Architecture check found no source files under ${rootDir} (packages/, apps/, tools/).`);
  process.exitCode = 1;
} else if (report.violations.length > 0) {
  console.error(report.text);
  console.error(
    `Architecture check failed: ${report.violations.length} forbidden import(s). ` +
      "The rules and the reasons for them are in ARCHITECTURE.md (enforced by .dependency-cruiser.cjs).",
  );
  process.exitCode = 1;
} else {
  console.log(
    `Architecture check passed: ${report.modulesCruised} modules, ${report.dependenciesCruised} imports.`,
  );
}

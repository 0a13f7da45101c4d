// Runs the architecture rules (.dependency-cruiser.cjs at the repository root) over a workspace tree.
// The rules always come from that one file, whichever tree is checked, so tests exercise the real rule set.
import { existsSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { cruise, format, getAvailableTranspilers, type ICruiseResult } from "dependency-cruiser";
import extractDepcruiseOptions from "dependency-cruiser/config-utl/extract-depcruise-options";

/** The repository's rule set. */
export const ARCHITECTURE_RULES_FILE = fileURLToPath(
  new URL("../../.dependency-cruiser.cjs", import.meta.url),
);

/** The repository root (where pnpm-workspace.yaml lives). */
export const REPOSITORY_ROOT = fileURLToPath(new URL("../..", import.meta.url));

/** Top-level folders that hold workspace packages; any of them may be missing while the repository grows. */
export const WORKSPACE_FOLDERS = ["packages", "apps", "tools"] as const;

export interface ArchitectureViolation {
  /** Name of the broken rule, e.g. "allowed-imports/device-model". */
  rule: string;
  /** Importing file, relative to the checked root. */
  from: string;
  /** What it imports: a file relative to the root, a builtin ("fs") or an unresolved name ("@tsvmm/x"). */
  to: string;
}

export interface ArchitectureReport {
  violations: ArchitectureViolation[];
  /** Number of modules (files, builtins, packages) the cruise visited. */
  modulesCruised: number;
  dependenciesCruised: number;
  /** Human-readable report: every violation with the rule's explanation, then a summary line. */
  text: string;
}

/** Checks every workspace package under rootDir against the repository's architecture rules. */
export async function checkArchitecture(rootDir: string): Promise<ArchitectureReport> {
  // Without the TypeScript compiler dependency-cruiser would silently skip .ts files and report nothing.
  const typescript = getAvailableTranspilers().find((transpiler) => transpiler.name === "typescript");
  if (!typescript?.available) {
    throw new Error("dependency-cruiser cannot find the TypeScript compiler; run pnpm install at the root.");
  }
  const folders = WORKSPACE_FOLDERS.filter((folder) => existsSync(join(rootDir, folder)));
  if (folders.length === 0) {
    return { violations: [], modulesCruised: 0, dependenciesCruised: 0, text: "No workspace folders found." };
  }
  const options = await extractDepcruiseOptions(ARCHITECTURE_RULES_FILE);
  const cruised = await cruise(folders, { ...options, baseDir: rootDir, outputType: "json" });
  const result = (
    typeof cruised.output === "string" ? JSON.parse(cruised.output) : cruised.output
  ) as ICruiseResult;
  const readable = await format(result, { outputType: "err-long" });
  const violations = result.summary.violations.map((violation) => ({
    rule: violation.rule.name,
    from: violation.from,
    to: violation.to,
  }));
  return {
    violations,
    modulesCruised: result.summary.totalCruised,
    dependenciesCruised: result.summary.totalDependenciesCruised ?? 0,
    text: String(readable.output),
  };
}

// Runs ACPICA's tools (Debian's acpica-tools: iasl, acpiexec) on tables the tests build, as an independent check
// of the encoders. Tests skip, saying why, when the tools are missing.
import { execFileSync, spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

function missingTool(tool: string): string | undefined {
  const probe = spawnSync(tool, ["-v"], { encoding: "utf8" });
  return probe.error === undefined
    ? undefined
    : `${tool} is not installed (apt-get install acpica-tools to run these checks)`;
}

/** Why the iasl checks cannot run, or undefined when they can. */
export const iaslMissing = missingTool("iasl");
/** Why the acpiexec checks cannot run, or undefined when they can. */
export const acpiexecMissing = missingTool("acpiexec");

function inTempDir<T>(work: (dir: string) => T): T {
  const dir = mkdtempSync(join(tmpdir(), "tsvmm-acpi-"));
  try {
    return work(dir);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * Compiles `body` (ASL terms) inside a DefinitionBlock with iasl and returns the AML after the 36-byte table header.
 * Named-reference optimisation is off (-on) so names stay as written; integers are optimised as the encoder does.
 */
export function compileAslTerms(body: string): Uint8Array {
  return inTempDir((dir) => {
    const source = join(dir, "t.asl");
    writeFileSync(source, `DefinitionBlock ("", "SSDT", 2, "TSVMM ", "TEST", 1)\n{\n${body}\n}\n`);
    execFileSync("iasl", ["-on", "-p", join(dir, "t"), source], { encoding: "utf8" });
    return new Uint8Array(readFileSync(join(dir, "t.aml"))).subarray(36);
  });
}

/** iasl -d on a binary table: the disassembly and everything iasl printed (where warnings and errors go). */
export function disassembleTable(table: Uint8Array): { dsl: string; log: string } {
  return inTempDir((dir) => {
    const file = join(dir, "table.dat");
    writeFileSync(file, table);
    const run = spawnSync("iasl", ["-d", file], { encoding: "utf8" });
    const log = `${run.stdout}${run.stderr}`;
    if (run.status !== 0) throw new Error(`iasl -d failed: ${log}`);
    return { dsl: readFileSync(join(dir, "table.dsl"), "utf8"), log };
  });
}

/** Compiles ASL source (a whole DefinitionBlock) with names as written; returns the AML file. */
export function compileAsl(source: string): Uint8Array {
  return inTempDir((dir) => {
    const file = join(dir, "t.asl");
    writeFileSync(file, source);
    execFileSync("iasl", ["-on", "-p", join(dir, "t"), file], { encoding: "utf8" });
    return new Uint8Array(readFileSync(join(dir, "t.aml")));
  });
}

/** Loads a DSDT into acpiexec's namespace and runs debugger `commands` in batch mode; returns its output. */
export function runAcpiexec(dsdt: Uint8Array, commands: readonly string[]): string {
  return inTempDir((dir) => {
    const file = join(dir, "dsdt.dat");
    writeFileSync(file, dsdt);
    const run = spawnSync("acpiexec", ["-b", commands.join("; "), file], {
      encoding: "utf8",
      timeout: 30_000,
    });
    return `${run.stdout}${run.stderr}`;
  });
}

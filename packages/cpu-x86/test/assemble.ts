// Test support (node-only): assembles GNU as source into a flat binary with the host's binutils.
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

function has(command: string): boolean {
  try {
    execFileSync(command, ["--version"], { stdio: "ignore" });
    return true;
  } catch {
    return false;
  }
}

/** Why assembling is impossible here, or undefined when `as` and `ld` are available. */
export const assemblerMissing: string | undefined =
  has("as") && has("ld")
    ? undefined
    : "GNU as/ld are not installed (Debian package binutils; .ci/run installs it)";

/** Assembles Intel-syntax source (starting in .code16 unless it says otherwise), linked at `origin`. */
export function assemble(source: string, origin: number): Uint8Array {
  const dir = mkdtempSync(join(tmpdir(), "tsvmm-as-"));
  try {
    writeFileSync(join(dir, "t.S"), `.intel_syntax noprefix\n${source}\n`);
    execFileSync("as", ["--32", "-o", join(dir, "t.o"), join(dir, "t.S")], { stdio: "pipe" });
    execFileSync(
      "ld",
      [
        "-m",
        "elf_i386",
        `-Ttext=0x${origin.toString(16)}`,
        "--oformat",
        "binary",
        "-o",
        join(dir, "t.bin"),
        join(dir, "t.o"),
      ],
      { stdio: "pipe" },
    );
    return new Uint8Array(readFileSync(join(dir, "t.bin")));
  } catch (e) {
    const stderr = (e as { stderr?: Buffer }).stderr?.toString() ?? "";
    throw new Error(`assembling failed: ${stderr || (e as Error).message}`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

// Test support (node-only): turns GNU as source into a flat binary with the host's binutils, so guest
// programs in tests read as assembly rather than byte lists.
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

function runs(command: string): boolean {
  try {
    execFileSync(command, ["--version"], { stdio: "ignore" });
    return true;
  } catch {
    return false;
  }
}

/** Why guests cannot be assembled here, or undefined when `as` and `ld` are installed. */
export const assemblerMissing: string | undefined =
  runs("as") && runs("ld") ? undefined : "GNU as/ld are not installed (Debian package binutils)";

/** Assembles Intel-syntax source (16-bit code unless it switches) into bytes linked to run at `origin`. */
export function assemble(source: string, origin: number): Uint8Array {
  const dir = mkdtempSync(join(tmpdir(), "tsvmm-kvm-as-"));
  const file = (name: string) => join(dir, name);
  try {
    writeFileSync(file("guest.S"), `.intel_syntax noprefix\n.code16\n${source}\n`);
    execFileSync("as", ["--32", "-o", file("guest.o"), file("guest.S")], { stdio: "pipe" });
    const ldArgs = ["-m", "elf_i386", `-Ttext=0x${origin.toString(16)}`, "--oformat", "binary"];
    execFileSync("ld", [...ldArgs, "-o", file("guest.bin"), file("guest.o")], { stdio: "pipe" });
    return new Uint8Array(readFileSync(file("guest.bin")));
  } catch (e) {
    const stderr = (e as { stderr?: Buffer }).stderr?.toString() ?? "";
    throw new Error(`assembling the guest failed: ${stderr || (e as Error).message}`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

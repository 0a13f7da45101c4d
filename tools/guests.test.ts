// Checks the committed guest ROMs: the demo ROM's layout invariants always, and, where GNU
// binutils are installed, that rebuilding it from source gives exactly the committed bytes.
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, describe, expect, it } from "vitest";

const repoRoot = join(dirname(fileURLToPath(import.meta.url)), "..");
const buildScript = join(repoRoot, "tools/build-guests.sh");
const committedDemoRom = join(repoRoot, "apps/tsqemu/guests/demo.rom");

const ROM_SIZE = 0x10000;
const RESET_VECTOR_OFFSET = 0xfff0;
const FAR_JMP_OPCODE = 0xea;
const ROM_SEGMENT = 0xf000;
const ERASED_BYTE = 0xff;

function isOnPath(tool: string): boolean {
  const probe = spawnSync(tool, ["--version"], { stdio: "ignore" });
  return probe.error === undefined && probe.status === 0;
}

const missingBinutils = ["as", "ld"].filter((tool) => !isOnPath(tool));
const canRebuild = missingBinutils.length === 0;
if (!canRebuild) {
  console.warn(
    `guests.test.ts: skipping the rebuild check: ${missingBinutils.join(" and ")} not on PATH ` +
      "(install GNU binutils to compare a fresh build of demo.rom with the committed one)",
  );
}

function firstDifference(a: Uint8Array, b: Uint8Array): number {
  const length = Math.min(a.length, b.length);
  for (let i = 0; i < length; i++) {
    if (a[i] !== b[i]) return i;
  }
  return a.length === b.length ? -1 : length;
}

describe("demo.rom layout", () => {
  const rom = readFileSync(committedDemoRom);

  it("is exactly 64 KiB", () => {
    expect(rom.length).toBe(ROM_SIZE);
  });

  it("holds a far jump to segment F000 at the reset vector (offset 0xFFF0)", () => {
    const vector = [...rom.subarray(RESET_VECTOR_OFFSET, RESET_VECTOR_OFFSET + 5)];
    expect(vector[0]).toBe(FAR_JMP_OPCODE);
    expect(rom.readUInt16LE(RESET_VECTOR_OFFSET + 3)).toBe(ROM_SEGMENT);
  });

  it("jumps to code inside the ROM, before the reset vector, not into erased fill", () => {
    const target = rom.readUInt16LE(RESET_VECTOR_OFFSET + 1);
    expect(target).toBeLessThan(RESET_VECTOR_OFFSET);
    expect(rom[target]).not.toBe(ERASED_BYTE);
  });

  it("carries the banner and the usage line it prints", () => {
    const text = rom.toString("latin1");
    expect(text).toContain("tsvmm demo guest");
    expect(text).toContain("Type keys, they are echoed; press q (or Ctrl-D) to quit.");
  });
});

describe("demo.rom build", () => {
  const outDir = mkdtempSync(join(tmpdir(), "tsvmm-guests-"));
  afterAll(() => rmSync(outDir, { recursive: true, force: true }));

  it.skipIf(!canRebuild)("rebuilds from source to the committed bytes (needs GNU as and ld)", () => {
    const build = spawnSync("bash", [buildScript, outDir], { encoding: "utf8" });
    expect(build.status, `build-guests.sh failed:\n${build.stdout}${build.stderr}`).toBe(0);

    const rebuilt = readFileSync(join(outDir, "demo.rom"));
    const committed = readFileSync(committedDemoRom);
    const offset = firstDifference(rebuilt, committed);
    expect(
      offset,
      `rebuilt demo.rom differs from the committed one at offset 0x${offset.toString(16)}: ` +
        "run tools/build-guests.sh and commit apps/tsqemu/guests/demo.rom",
    ).toBe(-1);
  });
});

// The system test guests (guests/system/*.S: descriptors and privilege checks, every exception,
// paging, task switches, the local APIC), run as multiboot kernels on tsqemu. Each guest prints
// PASS/FAIL/SKIP lines on COM1 and ends through isa-debug-exit. Also checks that the committed images
// are what tools/build-system-guests.sh builds from the sources, where GNU binutils are installed.
import { spawnSync } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, describe, expect, it } from "vitest";
import { runTsqemu } from "./run-tsqemu.js";

const GUESTS_DIR = fileURLToPath(new URL("../guests/system/", import.meta.url));
const BUILD_SCRIPT = fileURLToPath(new URL("../../../tools/build-system-guests.sh", import.meta.url));
const RUN_ALL = process.env.TSVMM_SYSTEM_GUESTS_ALL === "1";
/** isa-debug-exit status when a guest writes 0 (nothing failed) or 1 (something failed). */
const STATUS_ALL_PASSED = (0 << 1) | 1;
const STATUS_SOME_FAILED = (1 << 1) | 1;

const GUESTS = readdirSync(GUESTS_DIR)
  .filter((file) => file.endsWith(".S") && file !== "runtime.S")
  .map((file) => file.slice(0, -2))
  .sort();

/** The test names a guest declares: `TESTCASE label, "name"` in its source. */
function declaredTests(guest: string): string[] {
  const source = readFileSync(join(GUESTS_DIR, `${guest}.S`), "utf8");
  return [...source.matchAll(/^TESTCASE\s+\w+\s*,\s*"([^"]+)"/gm)].map((match) => match[1] as string);
}

interface KnownDifferences {
  tsqemu: Map<string, string>;
  qemu: Map<string, string>;
  skipOk: Map<string, string>;
}

/** known-differences.txt: `<tsqemu|qemu|skip-ok> <guest>/<test> <reason>` per line. */
function knownDifferences(): KnownDifferences {
  const lists: KnownDifferences = { tsqemu: new Map(), qemu: new Map(), skipOk: new Map() };
  const text = readFileSync(join(GUESTS_DIR, "known-differences.txt"), "utf8");
  for (const line of text.split("\n")) {
    if (line.trim() === "" || line.startsWith("#")) continue;
    const [kind, name, ...reason] = line.split(/\s+/);
    const list =
      kind === "tsqemu"
        ? lists.tsqemu
        : kind === "qemu"
          ? lists.qemu
          : kind === "skip-ok"
            ? lists.skipOk
            : undefined;
    if (list === undefined || name === undefined || !name.includes("/")) {
      throw new Error(`known-differences.txt: bad line: ${line}`);
    }
    list.set(name, reason.join(" "));
  }
  return lists;
}

interface GuestRun {
  status: number | null;
  results: Map<string, { verdict: "PASS" | "FAIL" | "SKIP"; lines: string[] }>;
  done: boolean;
  output: string;
}

function parseOutput(guest: string, status: number | null, output: string): GuestRun {
  const results: GuestRun["results"] = new Map();
  for (const line of output.split(/\r?\n/)) {
    const match = /^(PASS|FAIL|SKIP) ([^:\s]+)/.exec(line);
    if (match === null) continue;
    const verdict = match[1] as "PASS" | "FAIL" | "SKIP";
    const name = match[2] as string;
    const entry = results.get(name);
    if (entry === undefined) results.set(name, { verdict, lines: [line] });
    else {
      entry.lines.push(line);
      if (verdict === "FAIL") entry.verdict = "FAIL";
    }
  }
  return { status, results, done: output.includes(`DONE ${guest}: `), output };
}

function firstDifference(a: Uint8Array, b: Uint8Array): number {
  const length = Math.min(a.length, b.length);
  for (let i = 0; i < length; i++) if (a[i] !== b[i]) return i;
  return a.length === b.length ? -1 : length;
}

const differences = knownDifferences();
const binutilsMissing = ["as", "ld"].filter((tool) => {
  const probe = spawnSync(tool, ["--version"], { stdio: "ignore" });
  return probe.error !== undefined || probe.status !== 0;
});

describe("system guest images", () => {
  const outDir = mkdtempSync(join(tmpdir(), "tsvmm-system-guests-"));
  afterAll(() => rmSync(outDir, { recursive: true, force: true }));

  it("has a committed image for every guest source", () => {
    expect(GUESTS.length).toBeGreaterThan(0);
    for (const guest of GUESTS)
      expect(readFileSync(join(GUESTS_DIR, `${guest}.bin`)).length).toBeGreaterThan(32);
  });

  it("lists only tests the guests declare in known-differences.txt", () => {
    const declared = new Set(
      GUESTS.flatMap((guest) => declaredTests(guest).map((test) => `${guest}/${test}`)),
    );
    const listed = [...differences.tsqemu.keys(), ...differences.qemu.keys(), ...differences.skipOk.keys()];
    expect(listed.filter((name) => !declared.has(name))).toEqual([]);
  });

  it.skipIf(binutilsMissing.length > 0)(
    "rebuilds from source to the committed bytes (needs GNU as and ld)",
    () => {
      const build = spawnSync("bash", [BUILD_SCRIPT, outDir], { encoding: "utf8" });
      expect(build.status, `build-system-guests.sh failed:\n${build.stdout}${build.stderr}`).toBe(0);
      for (const guest of GUESTS) {
        const rebuilt = readFileSync(join(outDir, `${guest}.bin`));
        const committed = readFileSync(join(GUESTS_DIR, `${guest}.bin`));
        const offset = firstDifference(rebuilt, committed);
        expect(
          offset,
          `rebuilt ${guest}.bin differs from the committed one at offset 0x${offset.toString(16)}: ` +
            "run tools/build-system-guests.sh and commit apps/tsqemu/guests/system/*.bin",
        ).toBe(-1);
      }
    },
  );
});

if (binutilsMissing.length > 0) {
  console.warn(
    `system-guests.test.ts: not rebuilding the guests: ${binutilsMissing.join(" and ")} not on PATH`,
  );
}
if (differences.tsqemu.size > 0) {
  console.log(
    `system guests: known tsqemu failures, ${RUN_ALL ? "run and expected to FAIL (TSVMM_SYSTEM_GUESTS_ALL=1)" : "left out of this run (TSVMM_SYSTEM_GUESTS_ALL=1 runs them)"}:\n` +
      [...differences.tsqemu].map(([name, reason]) => `  ${name}: ${reason}`).join("\n"),
  );
}

describe("system guests on tsqemu", () => {
  for (const guest of GUESTS) {
    it.concurrent(guest, async () => {
      const tests = declaredTests(guest);
      const knownFailures = tests.filter((test) => differences.tsqemu.has(`${guest}/${test}`));
      const leftOut = RUN_ALL ? [] : knownFailures;
      const args = [
        "-m",
        "32M",
        "-kernel",
        join(GUESTS_DIR, `${guest}.bin`),
        "-serial",
        "stdio",
        "-display",
        "none",
      ];
      args.push("-device", "isa-debug-exit,iobase=0xf4,iosize=0x04", "-no-reboot", "-icount", "shift=0");
      if (leftOut.length > 0) args.push("-append", `skip=${leftOut.join(",")}`);
      const { status, stdout, stderr } = await runTsqemu(args, "", 90_000);
      const run = parseOutput(guest, status, stdout);
      const context = `${guest} on tsqemu:\n${stdout}${stderr}`;

      expect(run.done, `no DONE line: the guest did not finish\n${context}`).toBe(true);
      const problems: string[] = [];
      for (const test of tests) {
        const result = run.results.get(test);
        const expectFailure = RUN_ALL && knownFailures.includes(test);
        if (result === undefined) problems.push(`${test}: no PASS/FAIL/SKIP line`);
        else if (expectFailure && result.verdict !== "FAIL") {
          problems.push(
            `${test}: listed as a known tsqemu failure but ${result.verdict}: update known-differences.txt`,
          );
        } else if (!expectFailure && result.verdict === "FAIL") problems.push(...result.lines);
        else if (
          result.verdict === "SKIP" &&
          !leftOut.includes(test) &&
          !differences.skipOk.has(`${guest}/${test}`)
        ) {
          problems.push(...result.lines);
        }
      }
      for (const name of run.results.keys())
        if (!tests.includes(name)) problems.push(`${name}: not declared`);
      expect(problems, context).toEqual([]);
      const expectedStatus = RUN_ALL && knownFailures.length > 0 ? STATUS_SOME_FAILED : STATUS_ALL_PASSED;
      expect(run.status, context).toBe(expectedStatus);
    });
  }
});

// Runs the hardware-captured single-instruction tests (SingleStepTests 8086 and 80286, real mode)
// against the interpreter. Node-only: it reads gzip-compressed JSON Lines from disk.
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { gunzipSync } from "node:zlib";
import { PhysicalMemory } from "@tsvmm/ept";
import { Cpu, STOP_BUDGET, STOP_HLT, STOP_IO } from "../src/cpu.js";
import { CPU_MODEL_8086, CPU_MODEL_80286, type CpuModel } from "../src/cpu-model.js";

/** One suite: a folder of `<stem>.jsonl.gz` files plus metadata.json, and the CPU model it targets. */
export interface SuiteSpec {
  readonly name: string;
  readonly folder: string;
  readonly model: CpuModel;
  /** RAM size: 1 MiB for the 8086 (20 address lines), 16 MiB for the 80286 (24). */
  readonly memorySize: number;
  /** The 80286 set appends a HLT to each test, which runs too (final IP is past it). */
  readonly runsThroughHlt: boolean;
  /** FLAGS bits that the initial state may hold but the CPU cannot (80286 real mode: bits 12-15). */
  readonly initialFlagsMask: number;
}

export const SUITES: readonly SuiteSpec[] = [
  {
    name: "singlestep-8086",
    folder: "singlestep-8086",
    model: CPU_MODEL_8086,
    memorySize: 0x10_0000,
    runsThroughHlt: false,
    initialFlagsMask: 0xffff,
  },
  {
    name: "singlestep-80286",
    folder: "singlestep-80286",
    model: CPU_MODEL_80286,
    memorySize: 0x100_0000,
    runsThroughHlt: true,
    initialFlagsMask: 0x0fff,
  },
];

/** Where the shared test data lives: $TSVMM_TESTDATA, else `<repo root>/../shared/testdata`. */
export function testdataDirectory(): string {
  const fromEnv = process.env.TSVMM_TESTDATA;
  if (fromEnv !== undefined && fromEnv !== "") return resolve(fromEnv);
  const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), "../../..");
  return resolve(repoRoot, "../shared/testdata");
}

/** Why a suite cannot run (its folder or metadata is missing), or undefined when it can. */
export function missingSuiteReason(spec: SuiteSpec, root = testdataDirectory()): string | undefined {
  const folder = join(root, spec.folder);
  if (!existsSync(join(folder, "metadata.json"))) {
    return `${join(folder, "metadata.json")} not found (set TSVMM_TESTDATA to the folder holding ${spec.folder}/)`;
  }
  return undefined;
}

interface Registers {
  ax: number;
  bx: number;
  cx: number;
  dx: number;
  cs: number;
  ss: number;
  ds: number;
  es: number;
  sp: number;
  bp: number;
  si: number;
  di: number;
  ip: number;
  flags: number;
}

interface TestState {
  regs: Partial<Registers>;
  ram: [number, number][];
}

interface TestRecord {
  name: string;
  bytes: number[];
  initial: TestState & { regs: Registers };
  final: TestState;
  exception?: { number: number; flag_address: number };
  idx: number;
}

interface FileMetadata {
  status: string;
  flags_mask: number;
}

/** One failed test: which file and test, and what differed. */
export interface Failure {
  stem: string;
  idx: number;
  name: string;
  bytes: number[];
  differences: string[];
}

export interface SuiteResult {
  suite: string;
  passed: number;
  failed: number;
  failures: Failure[];
}

const GENERAL_REGISTERS = ["ax", "cx", "dx", "bx", "sp", "bp", "si", "di"] as const;
const SEGMENT_REGISTERS = ["es", "cs", "ss", "ds"] as const;
const MAX_INSTRUCTIONS_PER_TEST = 4;

const hex = (value: number, digits = 4) => value.toString(16).padStart(digits, "0");

/** Runs tests against one CPU and memory, reused across tests (only listed bytes are reset). */
export class SingleStepRunner {
  private readonly memory = new PhysicalMemory();
  private readonly cpu: Cpu;
  private readonly bytes: Uint8Array;

  constructor(private readonly spec: SuiteSpec) {
    const slot = this.memory.setUserMemoryRegion({ slot: 0, guestPhysAddr: 0, memorySize: spec.memorySize });
    this.bytes = slot!.bytes;
    this.cpu = new Cpu(this.memory, { model: spec.model });
  }

  /** Runs one test; returns the differences from the hardware's final state (empty: passed). */
  run(test: TestRecord, flagsMask: number): string[] {
    const { cpu, bytes, memory, spec } = this;
    const initial = test.initial.regs;
    // Through PhysicalMemory, so the CPU drops anything it cached (decoded code) for these bytes.
    for (const [address, value] of test.initial.ram) memory.writeU8(address, value);
    cpu.reset();
    GENERAL_REGISTERS.forEach((name, r) => {
      cpu.regs16[r << 1] = initial[name];
    });
    SEGMENT_REGISTERS.forEach((name, s) => {
      cpu.loadRealModeSegment(s, initial[name]);
    });
    cpu.updateCodeMode();
    cpu.eip = initial.ip;
    cpu.flags.load(initial.flags & spec.initialFlagsMask);

    const problem = this.execute();
    const differences: string[] = problem === undefined ? [] : [problem];
    const expected = { ...initial, ...test.final.regs };
    GENERAL_REGISTERS.forEach((name, r) => {
      const actual = cpu.regs16[r << 1];
      if (actual !== expected[name])
        differences.push(`${name}=${hex(actual)} expected ${hex(expected[name])}`);
    });
    SEGMENT_REGISTERS.forEach((name, s) => {
      const actual = cpu.segSelector[s];
      if (actual !== expected[name])
        differences.push(`${name}=${hex(actual)} expected ${hex(expected[name])}`);
    });
    if ((cpu.eip & 0xffff) !== expected.ip)
      differences.push(`ip=${hex(cpu.eip)} expected ${hex(expected.ip)}`);
    const flags = cpu.flags.get() & 0xffff;
    if ((flags & flagsMask) !== (expected.flags & flagsMask)) {
      differences.push(
        `flags=${hex(flags)} expected ${hex(expected.flags)} (mask ${hex(flagsMask)}, differ ${hex((flags ^ expected.flags) & flagsMask)})`,
      );
    }

    const expectedRam = new Map<number, number>(test.initial.ram);
    for (const [address, value] of test.final.ram) expectedRam.set(address, value);
    const flagAddress = test.exception?.flag_address ?? -1;
    for (const [address, value] of expectedRam) {
      let mask = 0xff;
      if (address === flagAddress) mask = flagsMask & 0xff;
      else if (address === flagAddress + 1) mask = flagsMask >> 8;
      const actual = bytes[address];
      if ((actual & mask) !== (value & mask)) {
        differences.push(`[${hex(address, 6)}]=${hex(actual, 2)} expected ${hex(value, 2)}`);
      }
    }
    // Leave memory clean for the next test: everything this test listed goes back to zero.
    for (const address of expectedRam.keys()) memory.writeU8(address, 0);
    return differences;
  }

  /**
   * Executes the instruction (the 8086 set) or the instruction and the HLT after it (the 80286 set).
   * Port reads return all ones, port writes are dropped. Returns a message if the CPU stopped oddly.
   */
  private execute(): string | undefined {
    const cpu = this.cpu;
    const target = cpu.instructionCount + (this.spec.runsThroughHlt ? MAX_INSTRUCTIONS_PER_TEST : 1);
    for (let guard = 0; guard < 1000; guard++) {
      const stop = cpu.run(Math.max(0, target - cpu.instructionCount));
      if (stop === STOP_IO) {
        if (!cpu.pendingAccess.write) cpu.completeRead(cpu.pendingAccess.size === 1 ? 0xff : 0xffff);
        continue;
      }
      if (stop === STOP_HLT) return this.spec.runsThroughHlt ? undefined : "halted";
      if (stop === STOP_BUDGET) {
        if (cpu.instructionCount < target) continue;
        return this.spec.runsThroughHlt ? "did not reach the HLT" : undefined;
      }
      return `stopped with reason ${stop}${cpu.internalError === "" ? "" : `: ${cpu.internalError}`}`;
    }
    return "no progress";
  }
}

/** Lists the test files of a suite: `<stem>.jsonl.gz` names without the extension, sorted. */
export function suiteStems(spec: SuiteSpec, root = testdataDirectory()): string[] {
  return readdirSync(join(root, spec.folder))
    .filter((name) => name.endsWith(".jsonl.gz"))
    .map((name) => name.slice(0, -".jsonl.gz".length))
    .sort();
}

/** Runs a whole suite (or the stems given). */
export function runSuite(spec: SuiteSpec, root = testdataDirectory(), only?: readonly string[]): SuiteResult {
  const folder = join(root, spec.folder);
  const metadata = JSON.parse(readFileSync(join(folder, "metadata.json"), "utf8")) as Record<
    string,
    FileMetadata
  >;
  const runner = new SingleStepRunner(spec);
  const result: SuiteResult = { suite: spec.name, passed: 0, failed: 0, failures: [] };
  for (const stem of only ?? suiteStems(spec, root)) {
    const text = gunzipSync(readFileSync(join(folder, `${stem}.jsonl.gz`))).toString("utf8");
    const flagsMask = metadata[stem]?.flags_mask ?? 0xffff;
    for (const line of text.split("\n")) {
      if (line === "") continue;
      const test = JSON.parse(line) as TestRecord;
      const differences = runner.run(test, flagsMask);
      if (differences.length === 0) result.passed++;
      else {
        result.failed++;
        result.failures.push({ stem, idx: test.idx, name: test.name, bytes: test.bytes, differences });
      }
    }
  }
  return result;
}

/** Failures grouped by file stem: stem -> count. */
export function failureCounts(result: SuiteResult): Map<string, number> {
  const counts = new Map<string, number>();
  for (const f of result.failures) counts.set(f.stem, (counts.get(f.stem) ?? 0) + 1);
  return counts;
}

/** The summary line, then one line per failing opcode file with its count and one example. */
export function formatResult(result: SuiteResult): string {
  const lines = [`${result.suite}: ${result.passed} passed, ${result.failed} failed`];
  const counts = failureCounts(result);
  for (const [stem, count] of [...counts].sort()) {
    const example = result.failures.find((f) => f.stem === stem)!;
    const bytes = example.bytes.map((b) => hex(b, 2)).join(" ");
    lines.push(
      `  ${stem}: ${count} failed; e.g. #${example.idx} "${example.name}" [${bytes}]: ${example.differences.join(", ")}`,
    );
  }
  return lines.join("\n");
}

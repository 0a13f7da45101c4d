// The markdown a virtio benchmark run prints (and appends to BENCHMARKS.md): throughput on both emulators with
// the ratio, and tsqemu's exits per MiB.
import { appendToBenchmarkSection } from "../benchmarks-file.js";
import { formatRatio } from "../boot-bench/report.js";

/** One timed step as one run saw it. */
export interface StepFigures {
  /** The guest's own measurement (its clock around dd). */
  mibPerSecond: number;
  guestUs: number;
  /** Host ms between the step's start line and its result line on the console. */
  hostMs: number | undefined;
  /** tsqemu only: the counters' growth between the records taken at those two lines. */
  counters?: Record<string, number>;
}

export interface BenchRun {
  /** undefined when the run passed; else why it did not. */
  failure: string | undefined;
  /** Seconds from spawning the emulator to the guest's boot marker. */
  bootSeconds: number | undefined;
  wallSeconds: number;
  steps: Record<string, StepFigures>;
}

export function median(values: readonly number[]): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
}

/** The passed runs' figures for one step. */
function stepFigures(runs: readonly BenchRun[], step: string): StepFigures[] {
  return runs.flatMap((run) => (run.failure === undefined && run.steps[step] ? [run.steps[step]!] : []));
}

function mibPerSecondCell(figures: readonly StepFigures[]): string {
  if (figures.length === 0) return "–";
  const values = figures.map((f) => f.mibPerSecond);
  const all = values.map((v) => v.toFixed(1)).join(", ");
  return figures.length === 1 ? all : `**${median(values).toFixed(1)}** (${all})`;
}

function hostMsCell(figures: readonly StepFigures[]): string {
  const values = figures.flatMap((f) => (f.hostMs === undefined ? [] : [f.hostMs]));
  return values.length === 0 ? "–" : values.map((v) => v.toFixed(0)).join(", ");
}

/**
 * Throughput per step: QEMU's and tsqemu's guest-measured MiB/s (median and each run), tsqemu's median over
 * QEMU's, and the host-seen milliseconds between the step's two console lines.
 */
export function formatThroughputTable(
  qemuRuns: readonly BenchRun[],
  tsqemuRuns: readonly BenchRun[],
  steps: readonly string[],
): string {
  const lines = [
    "| step | QEMU TCG MiB/s | tsqemu MiB/s | tsqemu / QEMU | host ms, QEMU | host ms, tsqemu |",
    "| --- | ---: | ---: | ---: | ---: | ---: |",
  ];
  for (const step of steps) {
    const qemu = stepFigures(qemuRuns, step);
    const tsqemu = stepFigures(tsqemuRuns, step);
    const ratio =
      qemu.length > 0 && tsqemu.length > 0
        ? formatRatio(median(tsqemu.map((f) => f.mibPerSecond)) / median(qemu.map((f) => f.mibPerSecond)))
        : "–";
    lines.push(
      `| ${step} | ${mibPerSecondCell(qemu)} | ${mibPerSecondCell(tsqemu)} | ${ratio} | ${hostMsCell(qemu)} | ${hostMsCell(tsqemu)} |`,
    );
  }
  return `${lines.join("\n")}\n`;
}

/** The counters the exits table shows, per MiB, with their column names. */
export const EXIT_COLUMNS: readonly [key: string, title: string][] = [
  ["exits", "exits"],
  ["mmioExits", "MMIO"],
  ["ioExits", "port I/O"],
  ["haltExits", "HLT"],
  ["irqWindowExits", "IRQ window"],
  ["timesliceExits", "timeslice"],
  // Not exits: local APIC accesses answered inside run() (EOIs, the timer), which follow the interrupts. The run
  // loop's interruptsInjected stays 0 with the I/O APIC and MSI-X, which reach the local APIC through signalMsi.
  ["apicAccesses", "LAPIC accesses"],
];

function perMib(value: number | undefined, mib: number): string {
  if (value === undefined) return "–";
  const per = value / mib;
  return per >= 100 ? per.toFixed(0) : per >= 10 ? per.toFixed(1) : per.toFixed(2);
}

/**
 * tsqemu's counters per MiB moved in each step of each run: all exits, then by reason, the local APIC accesses
 * (answered without an exit), and guest instructions. The window runs from the step's start line to its result line, so it
 * also holds the guest's two clock readings (busybox `ts` in a pipeline) and the lines themselves (port I/O to
 * COM1: about 60 exits).
 */
export function formatExitsTable(
  tsqemuRuns: readonly BenchRun[],
  steps: readonly string[],
  mib: number,
): string {
  const lines = [
    `| step | run | ${EXIT_COLUMNS.map(([, title]) => `${title} / MiB`).join(" | ")} | guest instructions / MiB | exits (total) |`,
    `| --- | ---: | ${EXIT_COLUMNS.map(() => "---:").join(" | ")} | ---: | ---: |`,
  ];
  for (const step of steps) {
    tsqemuRuns.forEach((run, index) => {
      const counters = run.failure === undefined ? run.steps[step]?.counters : undefined;
      if (counters === undefined) return;
      const cells = EXIT_COLUMNS.map(([key]) => perMib(counters[key], mib));
      const instructions =
        counters.instructions === undefined
          ? "–"
          : Math.round(counters.instructions / mib).toLocaleString("en-US");
      lines.push(
        `| ${step} | ${index + 1} | ${cells.join(" | ")} | ${instructions} | ${counters.exits?.toLocaleString("en-US") ?? "–"} |`,
      );
    });
  }
  return `${lines.join("\n")}\n`;
}

export interface VirtioBenchContext {
  date: string;
  time: string;
  machine: string;
  command: string;
  guest: string;
  versions: string[];
  commandLines: string[];
  notes: string[];
  mib: number;
  steps: readonly string[];
}

export const SECTION_HEADING = "## virtio-blk throughput";

function failureLines(label: string, runs: readonly BenchRun[]): string[] {
  return runs.flatMap((run, index) =>
    run.failure === undefined ? [] : [`- ${label} run ${index + 1} failed: ${run.failure}`],
  );
}

/** One run's block for BENCHMARKS.md's virtio-blk section. */
export function formatVirtioBenchSection(
  context: VirtioBenchContext,
  qemuRuns: readonly BenchRun[],
  tsqemuRuns: readonly BenchRun[],
): string {
  const boots = (runs: readonly BenchRun[]) =>
    runs.map((run) => (run.bootSeconds === undefined ? "–" : run.bootSeconds.toFixed(1))).join(", ");
  return [
    `### Run of ${context.date}, ${context.time}`,
    "",
    `- **Date:** ${context.date}, ${context.time}`,
    `- **Machine:** ${context.machine}`,
    `- **Command:** \`${context.command}\``,
    `- **Guest:** ${context.guest}`,
    `- **Versions:** ${context.versions.join("; ")}`,
    ...context.notes.map((note) => `- ${note}`),
    `- **Seconds to the boot marker:** QEMU ${boots(qemuRuns)}; tsqemu ${boots(tsqemuRuns)}`,
    ...failureLines("QEMU", qemuRuns),
    ...failureLines("tsqemu", tsqemuRuns),
    "",
    formatThroughputTable(qemuRuns, tsqemuRuns, context.steps),
    `tsqemu's counters per MiB (${context.mib} MiB per step):`,
    "",
    formatExitsTable(tsqemuRuns, context.steps, context.mib),
    "Command lines:",
    "",
    ...context.commandLines.map((line) => `- \`${line}\``),
    "",
  ].join("\n");
}

/** `existing` with the run block appended under the virtio-blk section (created at the end if missing). */
export function appendVirtioBenchSection(existing: string, section: string, sectionIntro: string): string {
  return appendToBenchmarkSection(existing, SECTION_HEADING, section, sectionIntro);
}

// The markdown a boot benchmark run prints (and appends to BENCHMARKS.md): the table and its context.
import { appendToBenchmarkSection } from "../benchmarks-file.js";
import type { BootOutcome } from "./boot-until-marker.js";
import type { EmulatorName } from "./options.js";

export interface BootResultRow {
  name: EmulatorName;
  /** The emulator as the table shows it, e.g. "QEMU 7.2.22 TCG". */
  label: string;
  outcome: BootOutcome;
}

/** A ratio with as many digits as its size deserves: 43.7, 3.69, 0.084. */
export function formatRatio(ratio: number): string {
  if (!Number.isFinite(ratio)) return "–";
  if (ratio >= 100) return ratio.toFixed(0);
  if (ratio >= 10) return ratio.toFixed(1);
  if (ratio >= 0.1) return ratio.toFixed(2);
  return ratio.toPrecision(2);
}

function secondsCell(outcome: BootOutcome): string {
  switch (outcome.kind) {
    case "marker":
      return outcome.seconds.toFixed(1);
    case "timeout":
      return `> ${outcome.seconds.toFixed(0)} (timeout)`;
    case "failed":
      return `failed after ${outcome.seconds.toFixed(1)}: ${outcome.reason.replaceAll("|", "\\|")}`;
  }
}

/** row's time over the reference's, or why there is none; a timeout gives a lower or upper bound. */
function ratioCell(row: BootOutcome, reference: BootOutcome | undefined): string {
  if (reference === undefined || row.kind === "failed" || reference.kind === "failed") return "–";
  if (row.kind === "timeout" && reference.kind === "timeout") return "–";
  const ratio = formatRatio(row.seconds / reference.seconds);
  if (row.kind === "timeout") return `> ${ratio}`;
  if (reference.kind === "timeout") return `< ${ratio}`;
  return ratio;
}

function cpuSeconds(outcome: BootOutcome | undefined): number | undefined {
  return outcome === undefined || outcome.kind === "failed" ? undefined : outcome.cpuSeconds;
}

/** CPU seconds over the reference's, for two runs that both reached the marker. */
function cpuRatioCell(row: BootOutcome, reference: BootOutcome | undefined): string {
  const own = cpuSeconds(row);
  const theirs = cpuSeconds(reference);
  if (own === undefined || theirs === undefined || row.kind !== "marker" || reference?.kind !== "marker")
    return "–";
  return formatRatio(own / theirs);
}

/**
 * The results as a markdown table: seconds to the marker, and each time divided by tsqemu's and by QEMU's
 * (so tsqemu's row says how many times slower than QEMU it is); then the CPU time the process had used by
 * then, which a shared machine disturbs less than the wall-clock time, and its ratio to QEMU's.
 */
export function formatResultsTable(rows: readonly BootResultRow[]): string {
  const tsqemu = rows.find((row) => row.name === "tsqemu")?.outcome;
  const qemu = rows.find((row) => row.name === "qemu")?.outcome;
  const lines = [
    "| emulator | seconds to marker | time / tsqemu's | time / QEMU's | CPU seconds | CPU time / QEMU's |",
    "| --- | ---: | ---: | ---: | ---: | ---: |",
  ];
  for (const row of rows) {
    const cpu = cpuSeconds(row.outcome);
    lines.push(
      `| ${row.label} | ${secondsCell(row.outcome)} | ${ratioCell(row.outcome, tsqemu)} | ` +
        `${ratioCell(row.outcome, qemu)} | ${cpu === undefined ? "–" : cpu.toFixed(1)} | ${cpuRatioCell(row.outcome, qemu)} |`,
    );
  }
  return `${lines.join("\n")}\n`;
}

export interface SectionContext {
  date: string;
  /** The run's start, "HH:MM UTC", which tells runs of one day apart. */
  time: string;
  machine: string;
  command: string;
  guest: string;
  versions: string[];
  /** Each emulator's exact command line. */
  commandLines: string[];
  notes: string[];
}

export const SECTION_HEADING = "## Linux boot";

/** One run's block for BENCHMARKS.md's "Linux boot" section. */
export function formatRunSection(context: SectionContext, rows: readonly BootResultRow[]): string {
  const parts = [
    `### Run of ${context.date}, ${context.time}`,
    "",
    `- **Date:** ${context.date}, ${context.time}`,
    `- **Machine:** ${context.machine}`,
    `- **Command:** \`${context.command}\``,
    `- **Guest:** ${context.guest}`,
    `- **Versions:** ${context.versions.join("; ")}`,
    ...context.notes.map((note) => `- ${note}`),
    "",
    formatResultsTable(rows),
    "Command lines:",
    "",
    ...context.commandLines.map((line) => `- \`${line}\``),
    "",
  ];
  return parts.join("\n");
}

/** `existing` with the run block appended, under the "Linux boot" section (created at the end if missing). */
export function appendRunSection(existing: string, section: string, sectionIntro: string): string {
  return appendToBenchmarkSection(existing, SECTION_HEADING, section, sectionIntro);
}

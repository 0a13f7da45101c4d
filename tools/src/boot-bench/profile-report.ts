// Turns the profile run's raw data into the summary BENCHMARKS.md gets: guest code by kernel symbol, exits,
// I/O ports, and host functions.
import { longestGaps, type TimedLine } from "./console-recorder.js";
import type { CpuProfileSummary } from "./cpu-profile.js";
import { SampleMode } from "./guest-sampler.js";
import type { SymbolTable } from "./kernel-symbols.js";

/** What the guest sampler gathered (the GuestSamples fields this needs). */
export interface SampleData {
  eip: readonly number[];
  mode: readonly number[];
  busyMs: readonly number[];
  /** Host ms of each sample since the run started (for the console phases). */
  atMs?: readonly number[];
  /** Kernel return addresses per sample, innermost first. */
  callers?: readonly (readonly number[])[];
}

export interface GuestCodeRow {
  name: string;
  samples: number;
  /** Share of the samples (of guest instructions). */
  fraction: number;
  /** Busy host ms of the windows ending in this code: a rough share of host time. */
  busyMs: number;
  busyFraction: number;
}

export const PAGING_OFF_LABEL = "(paging off: bzImage decompressor, startup_32)";
export const USER_LABEL = "(user space: busybox)";
export const UNKNOWN_LABEL = "(kernel, outside the symbols)";

/** Each sample's code: a kernel function, or one of the labels above. */
export function sampleLabel(eip: number, mode: number, symbols: SymbolTable): string {
  if (mode === SampleMode.USER) return USER_LABEL;
  if (mode === SampleMode.PAGING_OFF) return PAGING_OFF_LABEL;
  return symbols.lookup(eip)?.name ?? UNKNOWN_LABEL;
}

/** Samples per guest function, most first. */
export function attributeSamples(data: SampleData, symbols: SymbolTable): GuestCodeRow[] {
  const counts = new Map<string, { samples: number; busyMs: number }>();
  let totalBusy = 0;
  for (let i = 0; i < data.eip.length; i++) {
    const name = sampleLabel(data.eip[i], data.mode[i], symbols);
    const row = counts.get(name) ?? { samples: 0, busyMs: 0 };
    row.samples++;
    row.busyMs += Math.max(0, data.busyMs[i]);
    totalBusy += Math.max(0, data.busyMs[i]);
    counts.set(name, row);
  }
  const total = data.eip.length;
  return [...counts]
    .map(([name, row]) => ({
      name,
      samples: row.samples,
      fraction: total > 0 ? row.samples / total : 0,
      busyMs: row.busyMs,
      busyFraction: totalBusy > 0 ? row.busyMs / totalBusy : 0,
    }))
    .sort((a, b) => b.samples - a.samples);
}

/** The functions on a sample's kernel call chain, innermost first: the sampled one, then its callers. */
export function sampleChain(data: SampleData, index: number, symbols: SymbolTable): string[] {
  const chain = [sampleLabel(data.eip[index], data.mode[index], symbols)];
  // A return address points after its call: look up the byte before it, inside the calling function.
  for (const address of data.callers?.[index] ?? [])
    chain.push(symbols.lookup(address - 1)?.name ?? UNKNOWN_LABEL);
  return chain;
}

/** The kernel functions that start work, for "who asked for it": the one each of these called is named. */
const WORK_ROOTS: ReadonlyArray<readonly [string, string]> = [
  ["do_one_initcall", "initcall"],
  ["process_one_work", "work item"],
  ["kthread", "kernel thread"],
  ["start_kernel", "start_kernel"],
];

/**
 * What a sample was done for: the initcall, work item or kernel thread function on its chain (the frame
 * called by do_one_initcall, process_one_work or kthread), else its outermost known function.
 */
export function sampleEntry(chain: readonly string[]): string {
  for (const [root, kind] of WORK_ROOTS) {
    const at = chain.indexOf(root);
    if (at > 0) return `${kind} ${chain[at - 1]}`;
  }
  const known = chain.filter((name) => name !== UNKNOWN_LABEL);
  return known.length > 0 ? known[known.length - 1] : chain[0];
}

export interface CountRow {
  name: string;
  samples: number;
  fraction: number;
}

function rank(counts: Map<string, number>, total: number, top: number): CountRow[] {
  return [...counts]
    .sort((a, b) => b[1] - a[1])
    .slice(0, top)
    .map(([name, samples]) => ({ name, samples, fraction: total > 0 ? samples / total : 0 }));
}

/** Samples per function anywhere on the chain (each function counted once per sample), most first. */
export function inclusiveSamples(data: SampleData, symbols: SymbolTable, top: number): CountRow[] {
  const counts = new Map<string, number>();
  for (let i = 0; i < data.eip.length; i++) {
    for (const name of new Set(sampleChain(data, i, symbols))) counts.set(name, (counts.get(name) ?? 0) + 1);
  }
  return rank(counts, data.eip.length, top);
}

/** Samples per sampleEntry() within [fromMs, toMs) (all samples by default), most first. */
export function entrySamples(
  data: SampleData,
  symbols: SymbolTable,
  top: number,
  fromMs = Number.NEGATIVE_INFINITY,
  toMs = Number.POSITIVE_INFINITY,
): { rows: CountRow[]; total: number } {
  const counts = new Map<string, number>();
  let total = 0;
  for (let i = 0; i < data.eip.length; i++) {
    const at = data.atMs?.[i] ?? 0;
    if (at < fromMs || at >= toMs) continue;
    const entry = sampleEntry(sampleChain(data, i, symbols));
    counts.set(entry, (counts.get(entry) ?? 0) + 1);
    total++;
  }
  return { rows: rank(counts, total, top), total };
}

/** What sits at a PC I/O port, for the port table. */
export function portName(port: number): string {
  if (port >= 0x3f8 && port <= 0x3ff)
    return `COM1 ${["THR/RBR", "IER", "IIR/FCR", "LCR", "MCR", "LSR", "MSR", "SCR"][port - 0x3f8]}`;
  if (port >= 0x2f8 && port <= 0x2ff) return "COM2";
  if (port >= 0x3e8 && port <= 0x3ef) return "COM3";
  if (port >= 0x2e8 && port <= 0x2ef) return "COM4";
  if (port === 0x20 || port === 0x21) return "PIC master";
  if (port === 0xa0 || port === 0xa1) return "PIC slave";
  if (port >= 0x40 && port <= 0x43) return `PIT ${port === 0x43 ? "mode/command" : `channel ${port - 0x40}`}`;
  if (port === 0x61) return "port B (speaker, PIT gate 2)";
  if (port === 0x70 || port === 0x71) return port === 0x70 ? "RTC/CMOS index" : "RTC/CMOS data";
  if (port === 0x60 || port === 0x64) return port === 0x60 ? "i8042 data" : "i8042 status/command";
  if (port === 0x80) return "POST / delay port";
  if (port === 0x92) return "port A (fast A20, reset)";
  if (port === 0x4d0 || port === 0x4d1) return "ELCR";
  if (port >= 0xcf8 && port <= 0xcff) return "PCI configuration";
  if (port >= 0x3c0 && port <= 0x3df) return "VGA";
  if (port >= 0x1f0 && port <= 0x1f7) return "IDE primary";
  if (port >= 0x170 && port <= 0x177) return "IDE secondary";
  if (port >= 0x3f0 && port <= 0x3f7) return "floppy";
  if (port >= 0x278 && port <= 0x27f) return "LPT2";
  if (port >= 0x378 && port <= 0x37f) return "LPT1";
  if (port >= 0x3bc && port <= 0x3be) return "LPT (MDA)";
  return "";
}

function percent(fraction: number): string {
  return `${(fraction * 100).toFixed(1)}%`;
}

export interface ProfileSummaryInput {
  seconds: number;
  reachedMarker: boolean;
  instructions: number;
  exits: Record<string, number>;
  machineStats: Record<string, number>;
  vmStats: Record<string, number>;
  samples: SampleData & { sampleEvery: number; ioPorts: Record<string, number>; idleMs: number };
  lines: readonly TimedLine[];
  symbolSource: string;
}

/** The markdown profile summary: guest code, exits and ports, host functions, slow console gaps. */
export function formatProfileSummary(
  input: ProfileSummaryInput,
  symbols: SymbolTable,
  host: CpuProfileSummary | undefined,
  top = 25,
): string {
  const out: string[] = [];
  const rows = attributeSamples(input.samples, symbols);
  const seconds = input.seconds;
  out.push(
    `Boot ${input.reachedMarker ? "reached the marker" : "timed out"} after ${seconds.toFixed(1)} s: ` +
      `${input.instructions.toLocaleString("en-US")} guest instructions ` +
      `(${(input.instructions / seconds / 1e6).toFixed(1)} MIPS over the whole run), ` +
      `${(input.samples.idleMs / 1000).toFixed(1)} s with the vCPU halted.`,
    "",
    `**Guest code** (one sample every ${input.samples.sampleEvery.toLocaleString("en-US")} instructions, ` +
      `${input.samples.eip.length.toLocaleString("en-US")} samples; symbols from ${input.symbolSource}; ` +
      `"host time" is the busy host time of the sampling windows ending there, a rough share):`,
    "",
    "| guest code | samples | instructions | host time |",
    "| --- | ---: | ---: | ---: |",
  );
  for (const row of rows.slice(0, top)) {
    out.push(`| ${row.name} | ${row.samples} | ${percent(row.fraction)} | ${percent(row.busyFraction)} |`);
  }
  out.push("", "**Exits** (machine.exitCounts) and the run loop's counters:", "");
  out.push("| exit | count | per second |", "| --- | ---: | ---: |");
  for (const [reason, count] of Object.entries(input.exits).sort((a, b) => b[1] - a[1])) {
    out.push(`| ${reason} | ${count.toLocaleString("en-US")} | ${(count / seconds).toFixed(0)} |`);
  }
  const stats = { ...input.machineStats, ...input.vmStats };
  const interesting = [
    "interruptsInjected",
    "idleSleeps",
    "apicAccesses",
    "tlbMisses",
    "pageWalks",
    "tlbFlushes",
    "instructionCacheMisses",
    "instructionCacheInvalidations",
  ];
  out.push(
    "",
    interesting
      .filter((key) => stats[key] !== undefined)
      .map((key) => `${key} ${stats[key].toLocaleString("en-US")}`)
      .join(", "),
  );
  out.push(
    "",
    "**I/O ports** (exits by port and direction):",
    "",
    "| port | device | exits |",
    "| --- | --- | ---: |",
  );
  for (const [key, count] of Object.entries(input.samples.ioPorts)
    .sort((a, b) => b[1] - a[1])
    .slice(0, 12)) {
    const port = Number.parseInt(key, 16);
    out.push(`| ${key} | ${portName(port)} | ${count.toLocaleString("en-US")} |`);
  }
  if (host) {
    out.push(
      "",
      `**Host functions** (node --cpu-prof, self time, ${(host.totalMs / 1000).toFixed(0)} s sampled):`,
      "",
      "| function | self time | share |",
      "| --- | ---: | ---: |",
    );
    for (const fn of host.functions)
      out.push(`| ${fn.name} | ${(fn.ms / 1000).toFixed(1)} s | ${percent(fn.fraction)} |`);
    out.push("", `By code: ${host.groups.map((g) => `${g.name} ${percent(g.fraction)}`).join(", ")}.`);
  }
  if (input.samples.callers?.some((chain) => chain.length > 0)) {
    out.push(
      "",
      "**Call chains** (the kernel's frame pointers walked at each sample): functions by the samples that have " +
        "them anywhere on the stack, and what each sample was done for (the initcall, work item or kernel thread " +
        "function on its chain):",
      "",
      "| on the stack | samples | share |",
      "| --- | ---: | ---: |",
    );
    for (const row of inclusiveSamples(input.samples, symbols, 20)) {
      out.push(`| ${row.name} | ${row.samples} | ${percent(row.fraction)} |`);
    }
    out.push("", "| done for | samples | share |", "| --- | ---: | ---: |");
    for (const row of entrySamples(input.samples, symbols, 15).rows) {
      out.push(`| ${row.name} | ${row.samples} | ${percent(row.fraction)} |`);
    }
  }
  out.push(
    "",
    "**Longest silences on the console** (host seconds between two lines, and what ran meanwhile):",
    "",
  );
  for (const gap of longestGaps(input.lines, 8)) {
    const during = input.samples.atMs
      ? entrySamples(input.samples, symbols, 3, gap.fromMs, gap.toMs)
      : { rows: [], total: 0 };
    const what = during.rows.map((row) => `${row.name} ${percent(row.fraction)}`).join(", ");
    out.push(
      `- ${gap.seconds.toFixed(1)} s before \`${gap.after.slice(0, 90)}\` (after \`${gap.before.slice(0, 70)}\`)` +
        (what ? `: ${what}` : ""),
    );
  }
  return `${out.join("\n")}\n`;
}

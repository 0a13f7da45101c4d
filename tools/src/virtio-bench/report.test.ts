import { describe, expect, it } from "vitest";
import {
  appendVirtioBenchSection,
  type BenchRun,
  formatExitsTable,
  formatThroughputTable,
  formatVirtioBenchSection,
  median,
  SECTION_HEADING,
} from "./report.js";

const STEPS = ["blk-write", "blk-read"];

function run(write: number, read: number, counters?: Record<string, number>): BenchRun {
  return {
    failure: undefined,
    bootSeconds: 10,
    wallSeconds: 12,
    steps: {
      "blk-write": { mibPerSecond: write, guestUs: 1000, hostMs: 110, counters },
      "blk-read": { mibPerSecond: read, guestUs: 500, hostMs: 55, counters },
    },
  };
}

describe("median", () => {
  it("takes the middle value, or the mean of the two middle ones", () => {
    expect(median([3, 1, 2])).toBe(2);
    expect(median([4, 1, 3, 2])).toBe(2.5);
    expect(median([])).toBeNaN();
  });
});

describe("formatThroughputTable", () => {
  it("gives each emulator's median and runs and tsqemu's median over QEMU's", () => {
    const table = formatThroughputTable(
      [run(400, 1200), run(600, 1000), run(500, 1400)],
      [run(20, 40)],
      STEPS,
    );
    expect(table).toContain(
      "| blk-write | **500.0** (400.0, 600.0, 500.0) | 20.0 | 0.040 | 110, 110, 110 | 110 |",
    );
    expect(table).toContain(
      "| blk-read | **1200.0** (1200.0, 1000.0, 1400.0) | 40.0 | 0.033 | 55, 55, 55 | 55 |",
    );
  });

  it("leaves failed runs out and shows a dash where nothing passed", () => {
    const failed: BenchRun = { ...run(1, 1), failure: "exit status 1" };
    const table = formatThroughputTable([run(500, 1000)], [failed], STEPS);
    expect(table).toContain("| blk-write | 500.0 | – | – | 110 | – |");
  });
});

describe("formatExitsTable", () => {
  it("divides each counter by the MiB moved", () => {
    const counters = {
      exits: 6400,
      mmioExits: 640,
      ioExits: 64,
      haltExits: 32,
      irqWindowExits: 0,
      timesliceExits: 5000,
      apicAccesses: 128,
      instructions: 64_000_000,
    };
    const table = formatExitsTable([run(20, 40, counters)], STEPS, 64);
    expect(table).toContain(
      "| blk-write | 1 | 100 | 10.0 | 1.00 | 0.50 | 0.00 | 78.1 | 2.00 | 1,000,000 | 6,400 |",
    );
  });
});

describe("the BENCHMARKS.md section", () => {
  const section = formatVirtioBenchSection(
    {
      date: "2026-11-21",
      time: "10:00 UTC",
      machine: "a CPU",
      command: "pnpm bench:virtio",
      guest: "a guest",
      versions: ["tsqemu 0.1.0", "QEMU 7.2"],
      commandLines: ["qemu: qemu-system-i386 ..."],
      notes: [],
      mib: 64,
      steps: STEPS,
    },
    [run(500, 1000)],
    [{ ...run(1, 1), failure: "killed after 1800 s" }],
  );

  it("holds the context, both tables, the failures and the command lines", () => {
    expect(section).toMatch(/^### Run of 2026-11-21, 10:00 UTC\n/);
    expect(section).toContain("- **Command:** `pnpm bench:virtio`");
    expect(section).toContain("- tsqemu run 1 failed: killed after 1800 s");
    expect(section).toContain("| step | QEMU TCG MiB/s |");
    expect(section).toContain("- `qemu: qemu-system-i386 ...`");
  });

  it("is appended under its heading, before the next section, or in a new section at the end", () => {
    const fresh = appendVirtioBenchSection("# Benchmarks\n", section, "intro");
    expect(fresh).toBe(`# Benchmarks\n\n${SECTION_HEADING}\n\nintro\n\n${section}`);
    const withNext = appendVirtioBenchSection(`${fresh}\n## Later\n`, "### Second\n", "intro");
    expect(withNext.indexOf("### Second")).toBeLessThan(withNext.indexOf("## Later"));
    expect(withNext.indexOf("### Second")).toBeGreaterThan(withNext.indexOf("### Run of"));
  });
});

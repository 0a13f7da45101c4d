import { describe, expect, it } from "vitest";
import {
  appendRunSection,
  type BootResultRow,
  formatRatio,
  formatResultsTable,
  formatRunSection,
} from "./report.js";

const rows: BootResultRow[] = [
  {
    name: "tsqemu",
    label: "tsqemu (source through tsx)",
    outcome: { kind: "marker", seconds: 600, cpuSeconds: 400 },
  },
  { name: "qemu", label: "QEMU 7.2.22 TCG", outcome: { kind: "marker", seconds: 12, cpuSeconds: 8 } },
  { name: "v86", label: "v86 0.5.462", outcome: { kind: "marker", seconds: 48 } },
];

describe("formatRatio", () => {
  it("gives digits by size", () => {
    expect(formatRatio(123.4)).toBe("123");
    expect(formatRatio(43.21)).toBe("43.2");
    expect(formatRatio(3.691)).toBe("3.69");
    expect(formatRatio(0.0841)).toBe("0.084");
    expect(formatRatio(Number.NaN)).toBe("–");
  });
});

describe("formatResultsTable", () => {
  it("divides each time by tsqemu's and by QEMU's", () => {
    expect(formatResultsTable(rows)).toBe(
      [
        "| emulator | seconds to marker | time / tsqemu's | time / QEMU's | CPU seconds | CPU time / QEMU's |",
        "| --- | ---: | ---: | ---: | ---: | ---: |",
        "| tsqemu (source through tsx) | 600.0 | 1.00 | 50.0 | 400.0 | 50.0 |",
        "| QEMU 7.2.22 TCG | 12.0 | 0.020 | 1.00 | 8.0 | 1.00 |",
        "| v86 0.5.462 | 48.0 | 0.080 | 4.00 | – | – |",
        "",
      ].join("\n"),
    );
  });

  it("turns a timeout into a bound and a failure into no ratio", () => {
    const table = formatResultsTable([
      { name: "tsqemu", label: "tsqemu", outcome: { kind: "timeout", seconds: 1800, cpuSeconds: 900 } },
      { name: "qemu", label: "QEMU", outcome: { kind: "marker", seconds: 10 } },
      {
        name: "v86",
        label: "v86",
        outcome: { kind: "failed", seconds: 1, reason: "exited with status 1 | oops" },
      },
    ]);
    expect(table).toContain("| tsqemu | > 1800 (timeout) | – | > 180 | 900.0 | – |");
    expect(table).toContain("| QEMU | 10.0 | < 0.0056 | 1.00 | – | – |");
    expect(table).toContain("| v86 | failed after 1.0: exited with status 1 \\| oops | – | – | – | – |");
  });

  it("leaves the ratio columns empty when the reference did not run", () => {
    const table = formatResultsTable([rows[2]]);
    expect(table).toContain("| v86 0.5.462 | 48.0 | – | – | – | – |");
  });
});

describe("BENCHMARKS.md sections", () => {
  const section = formatRunSection(
    {
      date: "2026-11-21",
      time: "08:57 UTC",
      machine: "AMD EPYC, 2 cores",
      command: "pnpm bench:boot",
      guest: "linux-image-6.1.0-50-686",
      versions: ["tsqemu 0.1.0", "QEMU 7.2.22"],
      commandLines: ["qemu: qemu-system-i386 -accel tcg"],
      notes: ["**Measured:** seconds"],
    },
    rows,
  );

  it("holds the date, machine, command, versions, table and command lines", () => {
    expect(section.startsWith("### Run of 2026-11-21, 08:57 UTC\n")).toBe(true);
    expect(section).toContain("- **Date:** 2026-11-21, 08:57 UTC\n");
    expect(section).toContain("- **Machine:** AMD EPYC, 2 cores\n");
    expect(section).toContain("- **Command:** `pnpm bench:boot`\n");
    expect(section).toContain("- **Versions:** tsqemu 0.1.0; QEMU 7.2.22\n");
    expect(section).toContain("| QEMU 7.2.22 TCG | 12.0 | 0.020 | 1.00 | 8.0 | 1.00 |");
    expect(section).toContain("- `qemu: qemu-system-i386 -accel tcg`");
  });

  it("creates the Linux boot section at the end when it is missing", () => {
    const text = appendRunSection("# Benchmarks\n\n## CPU\n\ntext", section, "Intro.");
    expect(text).toBe(`# Benchmarks\n\n## CPU\n\ntext\n\n## Linux boot\n\nIntro.\n\n${section}`);
  });

  it("adds later runs at the end of the Linux boot section, before the next section", () => {
    const existing = "# B\n\n## Linux boot\n\nIntro.\n\n### Run of 2026-01-01\n\nold\n\n## Later\n\nmore\n";
    const text = appendRunSection(existing, section, "Intro.");
    expect(text).toBe(
      `# B\n\n## Linux boot\n\nIntro.\n\n### Run of 2026-01-01\n\nold\n\n${section}\n## Later\n\nmore\n`,
    );
    const atEnd = appendRunSection("## Linux boot\n\nIntro.\n", section, "Intro.");
    expect(atEnd).toBe(`## Linux boot\n\nIntro.\n\n${section}`);
  });
});

import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { appendToBenchmarkSection, benchOutputDirectory } from "./benchmarks-file.js";

describe("appendToBenchmarkSection", () => {
  it("appends at the end of the named section, before the next one", () => {
    const text = appendToBenchmarkSection(
      "# B\n\n## X\n\nintro\n\n### run 1\n\n## Y\n\ny\n",
      "## X",
      "### run 2\n",
      "intro",
    );
    expect(text).toBe("# B\n\n## X\n\nintro\n\n### run 1\n\n### run 2\n\n## Y\n\ny\n");
  });

  it("creates the section with its introduction when it is missing, and appends at the end of a last section", () => {
    const created = appendToBenchmarkSection("# B", "## X", "### run 1\n", "intro");
    expect(created).toBe("# B\n\n## X\n\nintro\n\n### run 1\n");
    expect(appendToBenchmarkSection(created, "## X", "### run 2\n", "intro")).toBe(`${created}\n### run 2\n`);
  });

  it("does not take a longer heading for the named one", () => {
    const text = appendToBenchmarkSection("## Xylophone\n\nx\n", "## X", "### run\n", "intro");
    expect(text).toBe("## Xylophone\n\nx\n\n## X\n\nintro\n\n### run\n");
  });
});

describe("benchOutputDirectory", () => {
  it("makes the given directory, or a new temporary one", () => {
    const parent = mkdtempSync(join(tmpdir(), "tsvmm-bench-dir-test-"));
    try {
      const given = join(parent, "a", "b");
      expect(benchOutputDirectory(given, "unused-")).toBe(given);
      expect(existsSync(given)).toBe(true);
      const temporary = benchOutputDirectory(undefined, "tsvmm-bench-dir-test-");
      expect(temporary.startsWith(join(tmpdir(), "tsvmm-bench-dir-test-"))).toBe(true);
      expect(existsSync(temporary)).toBe(true);
      rmSync(temporary, { recursive: true });
    } finally {
      rmSync(parent, { recursive: true });
    }
  });
});

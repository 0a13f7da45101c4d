import { describe, expect, it } from "vitest";
import { parseVirtioBenchOptions } from "./options.js";

describe("parseVirtioBenchOptions", () => {
  it("has defaults for a full run", () => {
    expect(parseVirtioBenchOptions([])).toEqual({
      qemuRuns: 3,
      tsqemuRuns: 1,
      mib: 64,
      memoryMiB: 256,
      timeoutSeconds: 1800,
      cmdlineExtra: undefined,
      appendTo: undefined,
      outDir: undefined,
      help: false,
    });
  });

  it("reads every flag", () => {
    const options = parseVirtioBenchOptions([
      "--qemu-runs",
      "0",
      "--tsqemu-runs",
      "2",
      "--mib",
      "32",
      "--memory",
      "128",
      "--timeout",
      "600",
      "--cmdline-extra",
      " cryptomgr.notests ",
      "--append-to",
      "BENCHMARKS.md",
      "--out",
      "/tmp/x",
    ]);
    expect(options).toMatchObject({
      qemuRuns: 0,
      tsqemuRuns: 2,
      mib: 32,
      memoryMiB: 128,
      timeoutSeconds: 600,
      cmdlineExtra: "cryptomgr.notests",
      appendTo: "BENCHMARKS.md",
      outDir: "/tmp/x",
    });
  });

  it("refuses bad numbers, nothing to run and stray arguments", () => {
    expect(() => parseVirtioBenchOptions(["--mib", "0"])).toThrow("--mib needs a positive integer, got '0'");
    expect(() => parseVirtioBenchOptions(["--qemu-runs", "1.5"])).toThrow("--qemu-runs needs a whole number");
    expect(() => parseVirtioBenchOptions(["--qemu-runs", "0", "--tsqemu-runs", "0"])).toThrow(
      "nothing to run",
    );
    expect(() => parseVirtioBenchOptions(["extra"])).toThrow("unexpected argument 'extra'");
  });
});

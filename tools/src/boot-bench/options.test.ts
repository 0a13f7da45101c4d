import { describe, expect, it } from "vitest";
import { parseBenchOptions } from "./options.js";

describe("parseBenchOptions", () => {
  it("defaults to all three emulators from source with a 30 minute timeout", () => {
    expect(parseBenchOptions([])).toEqual({
      emulators: ["tsqemu", "qemu", "v86"],
      timeoutSeconds: 1800,
      memoryMiB: 256,
      cmdlineExtra: undefined,
      tsqemu: "source",
      appendTo: undefined,
      profile: false,
      sampleEvery: 50_000,
      outDir: undefined,
      help: false,
    });
  });

  it("reads --only in the given order without duplicates, and the other flags", () => {
    const options = parseBenchOptions([
      "--only",
      "v86, qemu,v86",
      "--timeout",
      "90.5",
      "--memory",
      "128",
      "--tsqemu",
      "dist",
      "--append-to",
      "BENCHMARKS.md",
      "--out",
      "/tmp/x",
      "--cmdline-extra",
      " cryptomgr.notests io_delay=none ",
    ]);
    expect(options.cmdlineExtra).toBe("cryptomgr.notests io_delay=none");
    expect(parseBenchOptions(["--cmdline-extra", "  "]).cmdlineExtra).toBeUndefined();
    expect(options.emulators).toEqual(["v86", "qemu"]);
    expect(options.timeoutSeconds).toBe(90.5);
    expect(options.memoryMiB).toBe(128);
    expect(options.tsqemu).toBe("dist");
    expect(options.appendTo).toBe("BENCHMARKS.md");
    expect(options.outDir).toBe("/tmp/x");
    expect(parseBenchOptions(["--profile", "--sample-every", "1000"])).toMatchObject({
      profile: true,
      sampleEvery: 1000,
    });
  });

  it("refuses unknown emulators, bad numbers and stray arguments", () => {
    expect(() => parseBenchOptions(["--only", "bochs"])).toThrow(/unknown emulator 'bochs'/);
    expect(() => parseBenchOptions(["--timeout", "0"])).toThrow(/--timeout/);
    expect(() => parseBenchOptions(["--timeout", "soon"])).toThrow(/--timeout/);
    expect(() => parseBenchOptions(["--memory", "1.5"])).toThrow(/--memory needs a positive integer/);
    expect(() => parseBenchOptions(["--sample-every", "-5"])).toThrow(/--sample-every/);
    expect(() => parseBenchOptions(["--tsqemu", "wasm"])).toThrow(/source or dist/);
    expect(() => parseBenchOptions(["extra"])).toThrow(/unexpected argument/);
    expect(() => parseBenchOptions(["--fast"])).toThrow();
  });
});

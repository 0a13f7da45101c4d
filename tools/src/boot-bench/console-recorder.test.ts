import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { ConsoleRecorder, longestGaps } from "./console-recorder.js";

describe("ConsoleRecorder", () => {
  it("finds the marker within one chunk and reports it once", () => {
    const recorder = new ConsoleRecorder("TSVMM-BOOT-OK");
    expect(recorder.feed("[ 1.0] Run /init\r\n", 10)).toBe(false);
    expect(recorder.feed("TSVMM-BOOT-OK\r\n", 25)).toBe(true);
    expect(recorder.feed("TSVMM-BOOT-OK\r\n", 30)).toBe(false);
    expect(recorder.markerMs).toBe(25);
  });

  it("finds a marker that chunk boundaries split, at the time its last piece arrived", () => {
    const recorder = new ConsoleRecorder("TSVMM-BOOT-OK");
    expect(recorder.feed("xxTSV", 1)).toBe(false);
    expect(recorder.feed("MM-BO", 2)).toBe(false);
    expect(recorder.feed("OT-OK\n", 3)).toBe(true);
    expect(recorder.markerMs).toBe(3);
  });

  it("does not take a near miss for the marker", () => {
    const recorder = new ConsoleRecorder("TSVMM-BOOT-OK");
    recorder.feed("TSVMM-BOOT-FAILED\nTSVMM-BOOT-O", 1);
    recorder.feed("\nK", 2);
    expect(recorder.markerMs).toBeUndefined();
  });

  it("detects the marker exactly once however the console is cut into chunks", () => {
    fc.assert(
      fc.property(
        // Text around the marker without an "M", so it holds exactly one marker but near misses ("-OK").
        fc.string({ unit: fc.constantFrom("a", "-", "O", "K", "\r", "\n"), maxLength: 40 }),
        fc.string({ unit: fc.constantFrom("a", "-", "O", "K", "M", "\n"), maxLength: 40 }),
        fc.array(fc.nat(100), { maxLength: 8 }),
        (before, after, cuts) => {
          const text = `${before}M-OK${after}`;
          const points = [...new Set(cuts.map((c) => c % (text.length + 1)))].sort((a, b) => a - b);
          const recorder = new ConsoleRecorder("M-OK");
          let found = 0;
          let last = 0;
          for (const [i, point] of [...points, text.length].entries()) {
            if (recorder.feed(text.slice(last, point), i)) found++;
            last = point;
          }
          expect(found).toBe(1);
        },
      ),
    );
  });

  it("keeps lines without carriage returns, with the time their newline arrived", () => {
    const recorder = new ConsoleRecorder("OK");
    recorder.feed("first li", 5);
    recorder.feed("ne\r\nsecond\r\nthi", 7);
    expect(recorder.lines).toEqual([
      { ms: 7, text: "first line" },
      { ms: 7, text: "second" },
    ]);
    expect(recorder.pendingLine).toBe("thi");
    expect(recorder.formatLog()).toBe("    0.007  first line\n    0.007  second\n           thi\n");
  });

  it("rejects an empty marker", () => {
    expect(() => new ConsoleRecorder("")).toThrow(RangeError);
  });
});

describe("longestGaps", () => {
  it("ranks the silences before the first line and between consecutive lines", () => {
    const lines = [
      { ms: 500, text: "a" },
      { ms: 1000, text: "b" },
      { ms: 6000, text: "c" },
      { ms: 6500, text: "d" },
    ];
    expect(longestGaps(lines, 2)).toEqual([
      { seconds: 5, fromMs: 1000, toMs: 6000, before: "b", after: "c" },
      { seconds: 0.5, fromMs: 0, toMs: 500, before: "(start)", after: "a" },
    ]);
    expect(longestGaps([], 3)).toEqual([]);
  });
});

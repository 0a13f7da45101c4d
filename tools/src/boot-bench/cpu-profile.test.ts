import { describe, expect, it } from "vitest";
import { type CpuProfile, codeGroup, summarizeCpuProfile } from "./cpu-profile.js";

function frame(functionName: string, url: string) {
  return { functionName, url, lineNumber: 0, columnNumber: 0 };
}

const PROFILE: CpuProfile = {
  nodes: [
    { id: 1, callFrame: frame("(root)", "") },
    { id: 2, callFrame: frame("run", "file:///work/main/packages/cpu-x86/src/cpu.ts") },
    { id: 3, callFrame: frame("executeOneByte", "file:///work/main/packages/cpu-x86/src/execute.ts") },
    { id: 4, callFrame: frame("(garbage collector)", "") },
    { id: 5, callFrame: frame("write", "node:internal/fs/utils") },
    // The same function reached through another call path: its self time adds up.
    { id: 6, callFrame: frame("run", "file:///work/main/packages/cpu-x86/src/cpu.ts") },
  ],
  startTime: 0,
  endTime: 10_000,
  samples: [2, 3, 3, 6, 4, 5, 2],
  // The delta before each sample, in µs: sample i lasts until sample i + 1.
  timeDeltas: [0, 1000, 2000, 1000, 3000, 500, 500],
};

describe("summarizeCpuProfile", () => {
  const summary = summarizeCpuProfile(PROFILE, 3);

  it("adds each sample's duration to its function's self time", () => {
    // run: 1 (sample 0) + 3 (sample 3) = 4 ms; executeOneByte 2 + 1 = 3 ms; GC 0.5; write 0.5; last sample 0.
    expect(summary.totalMs).toBe(8);
    expect(summary.functions).toEqual([
      { name: "run (cpu.ts)", ms: 4, fraction: 0.5 },
      { name: "executeOneByte (execute.ts)", ms: 3, fraction: 0.375 },
      { name: "(garbage collector)", ms: 0.5, fraction: 0.0625 },
    ]);
  });

  it("groups self time by where the code lives", () => {
    expect(summary.groups).toEqual([
      { name: "packages/cpu-x86", ms: 7, fraction: 0.875 },
      { name: "(garbage collector)", ms: 0.5, fraction: 0.0625 },
      { name: "node internals", ms: 0.5, fraction: 0.0625 },
    ]);
  });

  it("falls back to hit counts when there are no samples", () => {
    const old = summarizeCpuProfile(
      {
        nodes: [
          { id: 1, callFrame: frame("a", "file:///x/apps/tsqemu/src/main.node.ts"), hitCount: 3 },
          { id: 2, callFrame: frame("b", ""), hitCount: 1 },
        ],
        startTime: 0,
        endTime: 4000,
      },
      5,
    );
    expect(old.functions).toEqual([
      { name: "a (main.node.ts)", ms: 3, fraction: 0.75 },
      { name: "b", ms: 1, fraction: 0.25 },
    ]);
  });
});

describe("codeGroup", () => {
  it("names workspace packages, dependencies, node and V8", () => {
    expect(codeGroup("file:///work/main/packages/vmm-core/src/machine.ts")).toBe("packages/vmm-core");
    expect(codeGroup("file:///work/main/apps/tsqemu/src/main.node.ts")).toBe("apps/tsqemu");
    expect(codeGroup("file:///work/main/node_modules/.pnpm/tsx@4.23.15/node_modules/tsx/dist/x.mjs")).toBe(
      "tsx",
    );
    expect(codeGroup("file:///r/node_modules/@scope/pkg/index.js")).toBe("@scope/pkg");
    expect(codeGroup("file:///work/main/tools/src/boot-bench/profile-run.ts")).toBe("tools");
    expect(codeGroup("node:internal/timers")).toBe("node internals");
    expect(codeGroup("")).toBe("(V8 and native)");
    expect(codeGroup("file:///elsewhere/x.js")).toBe("other");
  });
});

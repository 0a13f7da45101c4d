// Shared vitest settings for every package: resolve workspace packages from source
// (the "source" export condition) so tests never need a prior build.
import { defineProject } from "vitest/config";

export function packageProject(name: string, extra: { testTimeout?: number } = {}) {
  return defineProject({
    resolve: { conditions: ["source"] },
    ssr: { resolve: { conditions: ["source"] } },
    test: {
      name,
      include: ["src/**/*.test.ts", "test/**/*.test.ts"],
      // A guard against hangs, not a speed check: heavy suites (host oracles, conformance data, guests)
      // run minutes on a loaded 2-core machine. Performance is measured in benchmarks only.
      testTimeout: extra.testTimeout ?? 300_000,
    },
  });
}

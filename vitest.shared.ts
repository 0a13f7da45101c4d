// Shared vitest settings for every package: resolve workspace packages from source
// (the "source" export condition) so tests never need a prior build.
import { fileURLToPath } from "node:url";
import { defineProject } from "vitest/config";

const FAST_CHECK_SETUP = fileURLToPath(new URL("./vitest.fc-setup.ts", import.meta.url));

export function packageProject(name: string, extra: { testTimeout?: number } = {}) {
  return defineProject({
    resolve: { conditions: ["source"] },
    ssr: { resolve: { conditions: ["source"] } },
    test: {
      name,
      setupFiles: [FAST_CHECK_SETUP],
      include: ["src/**/*.test.ts", "test/**/*.test.ts"],
      // A guard against hangs, not a speed check: heavy suites (host oracles, conformance data, guests)
      // run minutes on a loaded 2-core machine. Performance is measured in benchmarks only.
      testTimeout: extra.testTimeout ?? 300_000,
    },
  });
}

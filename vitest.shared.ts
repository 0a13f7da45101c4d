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
      testTimeout: extra.testTimeout ?? 20_000,
    },
  });
}

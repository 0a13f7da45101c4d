// `pnpm test:linux`: boots the Debian i386 test guest to a shell prompt (slow; not part of `pnpm test`).
import { defineProject } from "vitest/config";

export default defineProject({
  resolve: { conditions: ["source"] },
  ssr: { resolve: { conditions: ["source"] } },
  test: {
    name: "tsqemu-linux",
    include: ["test/linux-boot.e2e.test.ts"],
    testTimeout: 30 * 60_000,
    hookTimeout: 30 * 60_000,
  },
});

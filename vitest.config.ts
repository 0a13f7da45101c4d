// One root config with a project per package; `pnpm test:unit` runs them all in one vitest process.
import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    projects: ["packages/*", "apps/*", "tools"],
  },
});

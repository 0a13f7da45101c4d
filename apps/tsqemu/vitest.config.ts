import { configDefaults, mergeConfig } from "vitest/config";
import { packageProject } from "../../vitest.shared.ts";

// Tests that spawn tsqemu processes get time to spare on a loaded machine (turbo runs every package's
// tasks at once). The Linux boot test (*.e2e.test.ts) runs only with `pnpm test:linux` (vitest.linux.config.ts).
export default mergeConfig(packageProject("tsqemu", { testTimeout: 120_000 }), {
  test: { exclude: [...configDefaults.exclude, "test/**/*.e2e.test.ts"] },
});

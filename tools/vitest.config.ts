import { mergeConfig } from "vitest/config";
import { packageProject } from "../vitest.shared.ts";

// Scripts live at the top of tools/, so their tests (e.g. guests.test.ts) may sit there too.
export default mergeConfig(packageProject("tools"), { test: { include: ["*.test.ts"] } });

import { expect, it } from "vitest";
import { parseCommandLine } from "./index.js";

// The README example, kept here so it cannot rot.
it("README example", () => {
  const parsed = parseCommandLine(["-m", "64M", "-nographic"]);
  expect(parsed).toMatchObject({
    action: "run",
    options: { memoryBytes: 67108864, serial: { kind: "stdio", mux: true } },
  });
});

// The hardware-captured single-instruction suites (8086 and 80286, real mode) must pass in full.
// Without the data folder the suites are skipped, with the reason printed, never passed silently.
import { describe, expect, it } from "vitest";
import { formatResult, missingSuiteReason, runSuite, SUITES } from "../conformance/singlestep.node.js";

describe("single-step conformance", () => {
  for (const spec of SUITES) {
    const missing = missingSuiteReason(spec);
    if (missing !== undefined) {
      console.warn(`conformance.test.ts: SKIPPING ${spec.name}: ${missing}`);
    }
    it.skipIf(missing !== undefined)(
      `${spec.name}: every test passes`,
      () => {
        const result = runSuite(spec);
        console.log(formatResult(result));
        expect(result.passed).toBeGreaterThan(60_000);
        expect(formatResult(result)).toBe(`${spec.name}: ${result.passed} passed, 0 failed`);
      },
      120_000,
    );
  }
});

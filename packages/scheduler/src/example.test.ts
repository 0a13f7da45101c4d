import { expect, it } from "vitest";
import { RoundRobinScheduler } from "./index.js";

// The README example, kept here so it cannot rot.
it("README example", () => {
  const scheduler = new RoundRobinScheduler<string>({ timeslice: 50_000 });
  scheduler.add("vcpu0");
  scheduler.add("vcpu1");
  scheduler.setRunnable("vcpu1", false); // halted: waits for an interrupt

  const next = scheduler.next(); // "vcpu0"
  const budget = scheduler.timeslice("vcpu0"); // 50_000 guest instructions

  expect([next, budget]).toEqual(["vcpu0", 50_000]);
});

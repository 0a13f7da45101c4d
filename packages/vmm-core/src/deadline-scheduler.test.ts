import { openHypervisor } from "@tsvmm/kvm-api";
import { RoundRobinScheduler } from "@tsvmm/scheduler";
import { describe, expect, it } from "vitest";
import { DeadlineScheduler } from "./index.js";

describe("DeadlineScheduler", () => {
  it("cuts slices at the deadline and otherwise keeps the inner scheduler's", () => {
    const scheduler = new DeadlineScheduler(new RoundRobinScheduler({ timeslice: 5000 }));
    const vm = openHypervisor().createVm({ scheduler, clock: { mode: "instructions", nsPerInstruction: 2 } });
    const vcpu = vm.createVcpu(0);
    let deadline = Number.POSITIVE_INFINITY;
    scheduler.bind(
      () => deadline,
      (ns) => vm.instructionsUntil(ns),
    );
    expect(scheduler.timeslice(vcpu)).toBe(5000);
    deadline = 3001; // 1500.5 instructions of 2 ns away: the slice reaches it
    expect(scheduler.timeslice(vcpu)).toBe(1501);
    deadline = 1e9;
    expect(scheduler.timeslice(vcpu)).toBe(5000);
    deadline = -1; // already passed: one instruction, then the loop polls the timers
    expect(scheduler.timeslice(vcpu)).toBe(1);
    deadline = Number.NEGATIVE_INFINITY; // a poll is due before the next slice
    expect(scheduler.timeslice(vcpu)).toBe(5000);
    expect(scheduler.next()).toBe(vcpu);
    scheduler.setRunnable(vcpu, false);
    expect(scheduler.isRunnable(vcpu)).toBe(false);
    expect(scheduler.next()).toBeUndefined();
  });

  it("checks the clock every few thousand instructions on the host clock", () => {
    const scheduler = new DeadlineScheduler();
    const vm = openHypervisor().createVm({ scheduler });
    const vcpu = vm.createVcpu(0);
    scheduler.bind(
      () => 1e12,
      (ns) => vm.instructionsUntil(ns),
    );
    expect(scheduler.timeslice(vcpu)).toBe(vm.instructionsUntil(1e12));
    expect(scheduler.timeslice(vcpu)).toBeLessThan(200_000);
  });
});

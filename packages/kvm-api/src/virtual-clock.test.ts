import { describe, expect, it } from "vitest";
import { openHypervisor, VirtualClock } from "./index.js";

describe("VirtualClock", () => {
  it("follows the host clock in host mode", () => {
    let ms = 1000;
    const clock = new VirtualClock({ hostNowMs: () => ms });
    expect(clock.nowNs()).toBe(0);
    ms += 2.5;
    expect(clock.nowNs()).toBe(2_500_000);
    expect(clock.hostDelayMs(3_500_000)).toBe(1);
    clock.advanceIdle(10_000_000); // no effect: host time cannot be skipped
    expect(clock.nowNs()).toBe(2_500_000);
  });

  it("counts retired instructions in instruction mode and skips idle time to a deadline", () => {
    let retired = 0;
    const clock = new VirtualClock({ mode: "instructions", nsPerInstruction: 2 });
    clock.bindInstructionCounter(() => retired);
    retired = 500;
    expect(clock.nowNs()).toBe(1000);
    clock.advanceIdle(5000);
    expect(clock.nowNs()).toBe(5000);
    clock.advanceIdle(100); // never backwards
    retired = 600;
    expect(clock.nowNs()).toBe(5200);
    expect(clock.hostDelayMs(1e9)).toBe(0);
    expect(() => new VirtualClock({ nsPerInstruction: 0 })).toThrow(RangeError);
  });

  it("is the VM's clock, summing the vCPUs' instructions", () => {
    const vm = openHypervisor().createVm({ clock: { mode: "instructions" } });
    vm.createVcpu(0);
    expect(vm.clock.nowNs()).toBe(0);
  });
});

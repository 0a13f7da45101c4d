export { ApicBus, matchesDestination } from "./apic-bus.js";
export {
  type Hypervisor,
  KVM_API_VERSION,
  MAX_VCPUS,
  openHypervisor,
  Vm,
  type VmOptions,
} from "./hypervisor.js";
export { ExitReason, exitReasonName, INTERNAL_ERROR_EMULATION, IoDirection, KvmRun } from "./kvm-run.js";
export { Lapic, type LapicHost, type LapicOptions, type LapicState } from "./lapic.js";
export * from "./lapic-registers.js";
export {
  APIC_BUS_CYCLE_NS,
  type LapicTimerState,
  MIN_PERIODIC_NS,
  TSC_TICKS_PER_NS,
  timerDivisor,
} from "./lapic-timer.js";
export type { DescriptorTable, Regs, Segment, Sregs } from "./registers.js";
export type { VcpuStats, VmStats } from "./stats.js";
export { type MpState, Vcpu, type VcpuHost } from "./vcpu.js";
export { type Clock, type ClockMode, VirtualClock, type VirtualClockOptions } from "./virtual-clock.js";

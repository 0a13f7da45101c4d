export {
  type Hypervisor,
  KVM_API_VERSION,
  MAX_VCPUS,
  openHypervisor,
  Vm,
  type VmOptions,
} from "./hypervisor.js";
export { ExitReason, exitReasonName, INTERNAL_ERROR_EMULATION, IoDirection, KvmRun } from "./kvm-run.js";
export type { DescriptorTable, Regs, Segment, Sregs } from "./registers.js";
export { Vcpu } from "./vcpu.js";
export { type Clock, type ClockMode, VirtualClock, type VirtualClockOptions } from "./virtual-clock.js";

/**
 * Exit reasons, numbered as in <linux/kvm.h> so traces read the same as with real KVM.
 */
export const ExitReason = {
  UNKNOWN: 0,
  IO: 2,
  HLT: 5,
  MMIO: 6,
  IRQ_WINDOW_OPEN: 7,
  SHUTDOWN: 8,
  FAIL_ENTRY: 9,
  /** run() returned because the vCPU used up its timeslice (KVM: a signal interrupted KVM_RUN). */
  INTR: 10,
  INTERNAL_ERROR: 17,
} as const;
export type ExitReason = (typeof ExitReason)[keyof typeof ExitReason];

export const IoDirection = { IN: 0, OUT: 1 } as const;
export type IoDirection = (typeof IoDirection)[keyof typeof IoDirection];

/** KVM_INTERNAL_ERROR_EMULATION: the vCPU met something it cannot emulate. */
export const INTERNAL_ERROR_EMULATION = 1;

export function exitReasonName(reason: number): string {
  for (const [name, value] of Object.entries(ExitReason)) if (value === reason) return name;
  return `UNKNOWN(${reason})`;
}

/**
 * The per-vCPU run structure, as KVM shares `struct kvm_run` with userspace: run() fills the exit
 * fields and returns this same object every time (no allocation per exit). For IN and MMIO reads the
 * caller writes the data (io.data / mmio.data, little-endian) before calling run() again; that call
 * completes the instruction first.
 */
export class KvmRun {
  /** Input: exit with IRQ_WINDOW_OPEN as soon as an interrupt can be injected. */
  requestInterruptWindow = false;
  exitReason: ExitReason = ExitReason.UNKNOWN;
  /** Output: an interrupt could be injected now (IF=1, no interrupt shadow, none pending). */
  readyForInterruptInjection = false;
  /** Output: the guest's EFLAGS.IF. */
  ifFlag = false;
  readonly io = {
    direction: IoDirection.IN as IoDirection,
    size: 0,
    port: 0,
    count: 0,
    data: new Uint8Array(8),
  };
  readonly mmio = { physAddr: 0, data: new Uint8Array(8), len: 0, isWrite: false };
  readonly internal = { suberror: 0, message: "" };
}

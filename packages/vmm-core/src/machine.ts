import { ExitReason, exitReasonName, IoDirection, type KvmRun, type Vcpu, type Vm } from "@tsvmm/kvm-api";
import { Bus } from "./bus.js";
import { InterruptLines } from "./interrupt-lines.js";

/** How a machine's run ended. */
export type MachineExit =
  /** The guest wrote to isa-debug-exit: QEMU's exit status (value << 1) | 1. */
  | { kind: "debug-exit"; status: number }
  /** A triple fault with reboot disabled (QEMU's -no-reboot), or a guest power-off. */
  | { kind: "shutdown" }
  /** The host asked the machine to stop (Ctrl-A x, a test). */
  | { kind: "stopped" }
  /** Something the VMM or the CPU cannot emulate. */
  | { kind: "error"; message: string };

/** Returns control to the host event loop, so input, timers and output get serviced. */
export type YieldToHost = () => Promise<void>;

/** The timer functions every JS host has (Node and browsers), typed without DOM or Node typings. */
interface HostTimers {
  setImmediate?: (callback: () => void) => void;
  setTimeout: (callback: () => void, ms: number) => unknown;
}

export function defaultYieldToHost(): Promise<void> {
  const timers = globalThis as unknown as HostTimers;
  const setImmediate = timers.setImmediate;
  if (typeof setImmediate === "function") return new Promise((resolve) => setImmediate(resolve));
  return new Promise((resolve) => timers.setTimeout(resolve, 0));
}

export interface MachineOptions {
  /** What a triple fault does: reset the machine (false, QEMU's default) or end the run (true). */
  noReboot?: boolean;
  yieldToHost?: YieldToHost;
  /** Host milliseconds between yields to the event loop while the guest runs. */
  yieldIntervalMs?: number;
  /** Called on machine reset (after a triple fault) so devices return to their power-on state. */
  onReset?: () => void;
}

/**
 * A running machine: a kvm-api VM, its buses and interrupt lines, and the loop that turns exits into
 * bus accesses. Built by the functions in builder.ts; knows no particular device.
 */
export class Machine {
  readonly pio = new Bus("pio");
  readonly mmio = new Bus("mmio");
  readonly irqs = new InterruptLines(16);
  /** Counts of exits by KVM exit reason, for diagnostics and benchmarks. */
  readonly exitCounts = new Map<number, number>();
  private result: MachineExit | undefined;
  private wakeUp: (() => void) | undefined;
  private readonly pollers: Array<() => void> = [];
  private readonly views = new WeakMap<Uint8Array, Uint8Array[]>();

  constructor(
    readonly vm: Vm,
    private readonly options: MachineOptions = {},
  ) {}

  /** Ends the run with `exit` (the first request wins). */
  requestExit(exit: MachineExit): void {
    this.result ??= exit;
    this.wake();
  }

  /** Something happened that may let a halted vCPU continue (input, an interrupt, a stop request). */
  wake(): void {
    const wake = this.wakeUp;
    this.wakeUp = undefined;
    wake?.();
  }

  /** Registers work done between vCPU slices (feeding host input into devices, for example). */
  addPoller(poll: () => void): void {
    this.pollers.push(poll);
  }

  get running(): boolean {
    return this.result === undefined;
  }

  /** Runs the vCPUs until the machine exits. */
  async run(): Promise<MachineExit> {
    const yieldToHost = this.options.yieldToHost ?? defaultYieldToHost;
    const interval = this.options.yieldIntervalMs ?? 10;
    let lastYield = Date.now();
    while (this.result === undefined) {
      for (const poll of this.pollers) poll();
      const vcpu = this.vm.nextVcpu();
      if (vcpu === undefined) {
        // Every vCPU is halted: sleep until something wakes the machine.
        await new Promise<void>((resolve) => {
          this.wakeUp = resolve;
        });
        lastYield = Date.now();
        continue;
      }
      const run = vcpu.run();
      this.exitCounts.set(run.exitReason, (this.exitCounts.get(run.exitReason) ?? 0) + 1);
      this.handleExit(vcpu, run);
      if (Date.now() - lastYield >= interval) {
        await yieldToHost();
        lastYield = Date.now();
      }
    }
    return this.result;
  }

  private handleExit(vcpu: Vcpu, run: KvmRun): void {
    switch (run.exitReason) {
      case ExitReason.IO: {
        const io = run.io;
        const data = this.dataView(io.data, io.size);
        if (io.direction === IoDirection.OUT) this.pio.write(io.port, data);
        else this.pio.read(io.port, data);
        return;
      }
      case ExitReason.MMIO: {
        const mmio = run.mmio;
        const data = this.dataView(mmio.data, mmio.len);
        if (mmio.isWrite) this.mmio.write(mmio.physAddr, data);
        else this.mmio.read(mmio.physAddr, data);
        return;
      }
      case ExitReason.HLT:
      case ExitReason.INTR:
      case ExitReason.IRQ_WINDOW_OPEN:
        return;
      case ExitReason.SHUTDOWN:
        if (this.options.noReboot) this.requestExit({ kind: "shutdown" });
        else this.reset();
        return;
      case ExitReason.INTERNAL_ERROR:
        this.requestExit({
          kind: "error",
          message: `vCPU ${vcpu.id}: internal error: ${run.internal.message}`,
        });
        return;
      default:
        this.requestExit({
          kind: "error",
          message: `vCPU ${vcpu.id}: unexpected exit ${exitReasonName(run.exitReason)}`,
        });
    }
  }

  /** A system reset: every vCPU back to its power-on state, devices too. RAM keeps its contents. */
  reset(): void {
    for (const vcpu of this.vm.listVcpus()) vcpu.reset();
    this.options.onReset?.();
  }

  /** The exit's data buffer viewed at the access size; views are made once per buffer. */
  private dataView(data: Uint8Array, size: number): Uint8Array {
    let views = this.views.get(data);
    if (views === undefined) {
      views = [data.subarray(0, 1), data.subarray(0, 2), data.subarray(0, 4), data.subarray(0, 8)];
      this.views.set(data, views);
    }
    if (size === 1) return views[0];
    if (size === 2) return views[1];
    if (size === 4) return views[2];
    return size === 8 ? views[3] : data.subarray(0, Math.min(size, data.length));
  }
}

import { ExitReason, exitReasonName, IoDirection, type KvmRun, type Vcpu, type Vm } from "@tsvmm/kvm-api";
import { Bus } from "./bus.js";
import { InterruptLines } from "./interrupt-lines.js";

/** How a machine's run ended. */
export type MachineExit =
  /** The guest wrote to isa-debug-exit: QEMU's exit status (value << 1) | 1. */
  | { kind: "debug-exit"; status: number }
  /** A reset request (triple fault, keyboard controller, port 0x92) with reboot disabled (QEMU's -no-reboot). */
  | { kind: "shutdown" }
  /** The guest powered the machine off (ACPI S5: SLP_EN with the DSDT's \_S5 sleep type). */
  | { kind: "poweroff" }
  /** The host asked the machine to stop (Ctrl-A x, a test). */
  | { kind: "stopped" }
  /** Something the VMM or the CPU cannot emulate. */
  | { kind: "error"; message: string };

/** Returns control to the host event loop, so input, timers and output get serviced. */
export type YieldToHost = () => Promise<void>;

/**
 * An interrupt controller in userspace driving a vCPU's INTR pin, as a VMM does with KVM when the
 * irqchip is not in the kernel (the 8259 PIC pair on a PC).
 */
export interface ExternalInterruptController {
  /** INTR: the controller has an interrupt for the CPU. */
  hasInterrupt(): boolean;
  /** The INTA cycle: the vector to deliver (the request goes in service). */
  acknowledge(): number;
}

/** A device with deadlines on the VM's clock (the PIT, the RTC), which the run loop wakes up for. */
export interface MachineTimer {
  /**
   * Brings the device up to the clock's current reading (raising its interrupt if one is due) and returns the
   * clock reading in ns of its next interrupt, or undefined if none will come unless the guest reprograms it.
   */
  nextEventNs(): number | undefined;
}

/** Counters about the run loop, for diagnostics, status lines and tests. */
export interface MachineStats {
  /** Machine resets performed (triple faults, reset requests). */
  resets: number;
  /** External interrupts injected into the boot vCPU. */
  interruptsInjected: number;
  /** Times every vCPU was halted and the loop slept on the host (host clock, or nothing to wait for). */
  idleSleeps: number;
  /** Times every vCPU was halted and guest time jumped to the next timer deadline (instruction clock). */
  idleSkips: number;
}

/** The timer functions every JS host has (Node and browsers), typed without DOM or Node typings. */
interface HostTimers {
  setImmediate?: (callback: () => void) => void;
  setTimeout: (callback: () => void, ms: number) => unknown;
  clearTimeout: (handle: unknown) => void;
}

const hostTimers = globalThis as unknown as HostTimers;

export function defaultYieldToHost(): Promise<void> {
  const setImmediate = hostTimers.setImmediate;
  if (typeof setImmediate === "function") return new Promise((resolve) => setImmediate(resolve));
  return new Promise((resolve) => hostTimers.setTimeout(resolve, 0));
}

export interface MachineOptions {
  /** What a reset request does: reset the machine (false, QEMU's default) or end the run (true, -no-reboot). */
  noReboot?: boolean;
  yieldToHost?: YieldToHost;
  /** Host milliseconds between yields to the event loop while the guest runs. */
  yieldIntervalMs?: number;
  /** Called on machine reset, after the vCPUs are reset (see also addResetHandler). */
  onReset?: () => void;
}

/**
 * A running machine: a kvm-api VM, its buses and interrupt lines, and the loop that turns exits into
 * bus accesses, delivers external interrupts, and waits for timers. Built by the functions in
 * builder.ts and pc-platform.ts; knows no particular device.
 */
export class Machine {
  readonly pio = new Bus("pio");
  readonly mmio = new Bus("mmio");
  readonly irqs = new InterruptLines(16);
  /** Counts of exits by KVM exit reason, for diagnostics and benchmarks. */
  readonly exitCounts = new Map<number, number>();
  readonly stats: MachineStats = { resets: 0, interruptsInjected: 0, idleSleeps: 0, idleSkips: 0 };
  private result: MachineExit | undefined;
  private wakeUp: (() => void) | undefined;
  /** A wake() that came while the loop was not sleeping: the next sleep returns at once. */
  private wakePending = false;
  private resetPending = false;
  private readonly pollers: Array<() => void> = [];
  private readonly resetHandlers: Array<() => void> = [];
  private readonly timers: MachineTimer[] = [];
  /** The earliest timer deadline (ns) at the last poll; -Infinity makes the next iteration poll. */
  private timerDeadline = Number.NEGATIVE_INFINITY;
  private interruptController: ExternalInterruptController | undefined;
  private interruptVcpu: Vcpu | undefined;
  /**
   * The interrupt vCPU's kvmRun.readyForInterruptInjection is stale: an interrupt was injected (or the vCPU was
   * reset) since its last run(), so nothing more is injected until run() reports afresh.
   */
  private injectionReadinessStale = false;
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

  /**
   * A system reset request (the keyboard controller's reset line, port 0x92, a triple fault). It takes effect
   * after the current exit is handled: the machine resets, or with `noReboot` the run ends with "shutdown".
   */
  requestReset(): void {
    this.resetPending = true;
    this.wake();
  }

  /** Something happened that may let a halted vCPU continue (input, an interrupt, a stop request). */
  wake(): void {
    const wake = this.wakeUp;
    this.wakeUp = undefined;
    if (wake === undefined) this.wakePending = true;
    else wake();
  }

  /** Registers work done between vCPU slices (feeding host input into devices, for example). */
  addPoller(poll: () => void): void {
    this.pollers.push(poll);
  }

  /** Registers work done on every machine reset (devices back to power-on state), in registration order. */
  addResetHandler(handler: () => void): void {
    this.resetHandlers.push(handler);
  }

  /** Registers a device with deadlines on `vm.clock`: it is polled after vCPU slices and woken for when idle. */
  addTimer(timer: MachineTimer): void {
    this.timers.push(timer);
    this.timerDeadline = Number.NEGATIVE_INFINITY;
  }

  /**
   * Connects the interrupt controller whose INTR output drives `vcpu` (the boot vCPU on a PC): before each run,
   * a pending interrupt is acknowledged and injected when the vCPU can take it, otherwise an interrupt window is
   * requested; a halted vCPU wakes when it gets one.
   */
  connectInterruptController(controller: ExternalInterruptController, vcpu: Vcpu): void {
    this.interruptController = controller;
    this.interruptVcpu = vcpu;
  }

  /** Guest ns of the earliest device timer deadline at the last poll (Infinity: none; -Infinity: poll due). */
  get nextTimerDeadlineNs(): number {
    return this.timerDeadline;
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
      this.pollTimers();
      this.injectExternalInterrupt();
      const vcpu = this.vm.nextVcpu();
      if (vcpu === undefined) {
        if (await this.idle()) lastYield = Date.now();
      } else {
        const run = vcpu.run();
        if (vcpu === this.interruptVcpu) this.injectionReadinessStale = false;
        this.exitCounts.set(run.exitReason, (this.exitCounts.get(run.exitReason) ?? 0) + 1);
        this.handleExit(vcpu, run);
      }
      if (this.resetPending) this.completeResetRequest();
      if (Date.now() - lastYield >= interval) {
        await yieldToHost();
        lastYield = Date.now();
      }
    }
    return this.result;
  }

  /** A system reset: every vCPU back to its power-on state, then the reset handlers. RAM keeps its contents. */
  reset(): void {
    this.resetPending = false;
    this.stats.resets++;
    for (const vcpu of this.vm.listVcpus()) vcpu.reset();
    this.injectionReadinessStale = true;
    this.options.onReset?.();
    for (const handler of this.resetHandlers) handler();
    this.timerDeadline = Number.NEGATIVE_INFINITY;
  }

  private completeResetRequest(): void {
    this.resetPending = false;
    if (this.options.noReboot) this.requestExit({ kind: "shutdown" });
    else this.reset();
  }

  /** Polls the timers once guest time has reached the earliest deadline (or after a guest access to a device). */
  private pollTimers(): void {
    const timers = this.timers;
    if (timers.length === 0 || this.vm.clock.nowNs() < this.timerDeadline) return;
    let deadline = Number.POSITIVE_INFINITY;
    for (let i = 0; i < timers.length; i++) {
      const next = timers[i].nextEventNs();
      if (next !== undefined && next < deadline) deadline = next;
    }
    this.timerDeadline = deadline;
  }

  /** KVM userspace irqchip style: inject when the vCPU is ready, else ask to exit when it is. */
  private injectExternalInterrupt(): void {
    const controller = this.interruptController;
    const vcpu = this.interruptVcpu;
    if (controller === undefined || vcpu === undefined) return;
    const kvmRun = vcpu.kvmRun;
    if (!controller.hasInterrupt()) {
      kvmRun.requestInterruptWindow = false;
      return;
    }
    if (kvmRun.readyForInterruptInjection && !this.injectionReadinessStale) {
      vcpu.interrupt(controller.acknowledge());
      this.injectionReadinessStale = true;
      this.stats.interruptsInjected++;
    }
    kvmRun.requestInterruptWindow = controller.hasInterrupt();
  }

  /**
   * Every vCPU is halted: wait for the earliest deadline of the devices' timers and the vCPUs' local APIC
   * timers, or for the host when no timer can wake a vCPU (none has interrupts enabled) or none is armed. In
   * instruction-clock mode guest time jumps to the deadline and the loop goes on at once; with the host clock
   * the loop sleeps until then, or until wake(). Returns whether it slept.
   */
  private async idle(): Promise<boolean> {
    const clock = this.vm.clock;
    const deadline = this.anyHaltedVcpuInterruptible()
      ? Math.min(this.timerDeadline, this.vm.nextTimerEventNs() ?? Number.POSITIVE_INFINITY)
      : Number.POSITIVE_INFINITY;
    if (deadline === Number.POSITIVE_INFINITY) return this.sleep(undefined);
    clock.advanceIdle(deadline);
    const delayMs = clock.hostDelayMs(deadline);
    if (delayMs > 0) return this.sleep(delayMs);
    this.stats.idleSkips++;
    return false;
  }

  /** Whether some vCPU could take an interrupt (IF set), so that a timer interrupt could wake it. */
  private anyHaltedVcpuInterruptible(): boolean {
    for (const vcpu of this.vm.listVcpus()) if (vcpu.kvmRun.ifFlag) return true;
    return false;
  }

  /**
   * Sleeps on the host until wake() or, if given, `ms` milliseconds. Returns false at once, without sleeping,
   * when a wake is pending (it came while the loop was busy) or the run is ending.
   */
  private async sleep(ms: number | undefined): Promise<boolean> {
    if (this.wakePending || this.result !== undefined || this.resetPending) {
      this.wakePending = false;
      return false;
    }
    this.stats.idleSleeps++;
    await new Promise<void>((resolve) => {
      let timer: unknown;
      this.wakeUp = () => {
        if (timer !== undefined) hostTimers.clearTimeout(timer);
        resolve();
      };
      if (ms !== undefined) {
        timer = hostTimers.setTimeout(() => {
          this.wakeUp = undefined;
          resolve();
        }, ms);
      }
    });
    return true;
  }

  private handleExit(vcpu: Vcpu, run: KvmRun): void {
    switch (run.exitReason) {
      case ExitReason.IO: {
        const io = run.io;
        const data = this.dataView(io.data, io.size);
        if (io.direction === IoDirection.OUT) this.pio.write(io.port, data);
        else this.pio.read(io.port, data);
        // The access may have reprogrammed a timer: poll them again before the next slice.
        this.timerDeadline = Number.NEGATIVE_INFINITY;
        return;
      }
      case ExitReason.MMIO: {
        const mmio = run.mmio;
        const data = this.dataView(mmio.data, mmio.len);
        if (mmio.isWrite) this.mmio.write(mmio.physAddr, data);
        else this.mmio.read(mmio.physAddr, data);
        this.timerDeadline = Number.NEGATIVE_INFINITY;
        return;
      }
      case ExitReason.HLT:
      case ExitReason.INTR:
      case ExitReason.IRQ_WINDOW_OPEN:
        return;
      case ExitReason.SHUTDOWN:
        this.requestReset();
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

import type { Vcpu } from "@tsvmm/kvm-api";
import { RoundRobinScheduler, type Scheduler } from "@tsvmm/scheduler";

/**
 * Wraps the VM's scheduler so that no vCPU slice runs past the machine's next timer deadline: the run loop
 * polls the timers between slices, so a long slice would deliver the PIT's or RTC's interrupt late (a 200k-
 * instruction slice is 10 ms at 20 MIPS, longer than a 250 Hz tick). On the instruction clock the slice ends
 * exactly at the deadline; on the host clock, where guest time cannot be predicted from instructions, it is
 * cut to the VM's host-clock check interval (as the local APIC timer does inside the vCPU).
 */
export class DeadlineScheduler implements Scheduler<Vcpu> {
  private deadlineNs: () => number = () => Number.POSITIVE_INFINITY;
  private instructionsUntil: (deadlineNs: number) => number = () => Number.POSITIVE_INFINITY;

  constructor(private readonly inner: Scheduler<Vcpu> = new RoundRobinScheduler<Vcpu>()) {}

  /** Where the next deadline comes from (the machine) and how many instructions reach it (the VM). */
  bind(deadlineNs: () => number, instructionsUntil: (deadlineNs: number) => number): void {
    this.deadlineNs = deadlineNs;
    this.instructionsUntil = instructionsUntil;
  }

  add(vcpu: Vcpu): void {
    this.inner.add(vcpu);
  }

  remove(vcpu: Vcpu): void {
    this.inner.remove(vcpu);
  }

  setRunnable(vcpu: Vcpu, runnable: boolean): void {
    this.inner.setRunnable(vcpu, runnable);
  }

  isRunnable(vcpu: Vcpu): boolean {
    return this.inner.isRunnable(vcpu);
  }

  next(): Vcpu | undefined {
    return this.inner.next();
  }

  timeslice(vcpu: Vcpu): number {
    const slice = this.inner.timeslice(vcpu);
    const deadline = this.deadlineNs();
    if (!Number.isFinite(deadline)) return slice;
    return Math.max(1, Math.min(slice, this.instructionsUntil(deadline)));
  }
}

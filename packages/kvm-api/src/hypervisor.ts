import { CPU_MODEL_P6, Cpu, type CpuModel } from "@tsvmm/cpu-x86";
import { type GuestMemory, type MemoryRegion, PhysicalMemory } from "@tsvmm/ept";
import { RoundRobinScheduler, type Scheduler } from "@tsvmm/scheduler";
import { ApicBus } from "./apic-bus.js";
import { addStats, emptyStats, type VmStats } from "./stats.js";
import { Vcpu, type VcpuHost } from "./vcpu.js";
import { VirtualClock, type VirtualClockOptions } from "./virtual-clock.js";

/** KVM_GET_API_VERSION has returned 12 since Linux 2.6.22. */
export const KVM_API_VERSION = 12;

export interface VmOptions {
  /** Which vCPU runs next and for how long. Defaults to round robin. */
  scheduler?: Scheduler<Vcpu>;
  /** The CPU model every vCPU presents (CPUID and behaviour). Defaults to a P6-family CPU. */
  cpuModel?: CpuModel;
  /** Guest time: from the host clock (default) or from retired instructions (reproducible runs). */
  clock?: VirtualClockOptions;
}

/** The hypervisor (the open /dev/kvm): creates VMs. */
export interface Hypervisor {
  readonly apiVersion: number;
  /** Which backend runs guest code: "software" interprets it. */
  readonly backend: string;
  createVm(options?: VmOptions): Vm;
}

/** Opens the software hypervisor: guest code runs in the cpu-x86 interpreter. Works in any JS host. */
export function openHypervisor(): Hypervisor {
  return { apiVersion: KVM_API_VERSION, backend: "software", createVm: (options) => new Vm(options) };
}

/** The most vCPUs a VM may have (KVM_CAP_MAX_VCPUS on a small host). */
export const MAX_VCPUS = 64;

/**
 * In host-clock mode guest time cannot be predicted from instructions, so a vCPU with an armed APIC
 * timer checks the clock at least this often.
 */
const HOST_CLOCK_TIMER_CHECK_INSTRUCTIONS = 10_000;

/** A virtual machine (the fd KVM_CREATE_VM returns): guest memory and vCPUs. */
export class Vm implements VcpuHost {
  private readonly physicalMemory = new PhysicalMemory();
  private readonly vcpus: Vcpu[] = [];
  private readonly scheduler: Scheduler<Vcpu>;
  private readonly cpuModel: CpuModel;
  /** The VM's one clock: the TSC, the local APIC timer and userspace timers (PIT, RTC) all read it. */
  readonly clock: VirtualClock;
  /** Carries interrupt messages between the vCPUs' local APICs (IPIs) and from devices (MSIs). */
  readonly apicBus = new ApicBus();
  private readonly nsPerInstruction: number;
  private eoiListener: ((vector: number) => void) | undefined;
  private countTlbLookups = false;

  constructor(options: VmOptions = {}) {
    this.scheduler = options.scheduler ?? new RoundRobinScheduler<Vcpu>();
    this.cpuModel = options.cpuModel ?? CPU_MODEL_P6;
    this.clock = new VirtualClock(options.clock);
    this.nsPerInstruction = options.clock?.nsPerInstruction ?? 1;
    this.clock.bindInstructionCounter(() => {
      let total = 0;
      for (const vcpu of this.vcpus) total += vcpu.instructionCount;
      return total;
    });
  }

  /**
   * KVM_SET_USER_MEMORY_REGION: adds, moves, resizes or (memorySize 0) deletes a memory slot, or
   * changes its flags (`logDirtyPages`: KVM_MEM_LOG_DIRTY_PAGES, switched in place when address,
   * size, read-only flag and userspaceMemory stay the same).
   */
  setUserMemoryRegion(region: MemoryRegion): void {
    this.physicalMemory.setUserMemoryRegion(region);
  }

  /**
   * KVM_GET_DIRTY_LOG: the bitmap of the slot's pages written since the last call (by vCPUs, by
   * devices through `memory`, by page-table A/D updates), one bit per 4 KiB page in KVM's layout
   * (page n: byte n >> 3, bit n & 7; whole 64-bit words). Clears the log. The slot must log dirty
   * pages. `into`, when given, receives the bitmap and is returned.
   */
  getDirtyLog(slot: number, into?: Uint8Array): Uint8Array {
    return this.physicalMemory.getDirtyLog(slot, into);
  }

  /** The sums of the vCPUs' counters (exits, TLB, page walks, instruction cache): see VcpuStats. */
  getStats(): VmStats {
    const stats = emptyStats();
    for (const vcpu of this.vcpus) addStats(stats, vcpu.getStats());
    return stats;
  }

  /**
   * Counts every TLB lookup of every vCPU (the stats' tlbLookups), for a TLB hit rate. It makes
   * the vCPUs several times slower: for measurements, not for timed runs.
   */
  setTlbLookupCounting(enabled: boolean): void {
    this.countTlbLookups = enabled;
    for (const vcpu of this.vcpus) vcpu.setTlbLookupCounting(enabled);
  }

  /** Guest RAM as devices see it (userspace's view of the memory it mapped into the VM). */
  get memory(): GuestMemory {
    return this.physicalMemory;
  }

  /** KVM_CREATE_VCPU. */
  createVcpu(id: number): Vcpu {
    if (!Number.isInteger(id) || id < 0 || id >= MAX_VCPUS) throw new RangeError(`bad vCPU id ${id}`);
    if (this.vcpus.some((v) => v.id === id)) throw new Error(`vCPU ${id} already exists`);
    // The TSC runs at 1 GHz of the VM's clock, as the local APIC timer's TSC-deadline mode assumes.
    const cpu = new Cpu(this.physicalMemory, {
      model: this.cpuModel,
      tscSource: () => this.clock.nowNs(),
      cpuidAdjust: (leaf, _subleaf, out) => {
        if (leaf !== 1) return;
        // The initial APIC ID, and the APIC feature bit only while the vCPU's APIC is enabled.
        out[1] = (out[1] & 0x00ffffff) | ((id & 0xff) << 24);
        if (vcpu.lapic.hardwareEnabled) out[3] |= 1 << 9;
        else out[3] &= ~(1 << 9);
      },
    });
    const vcpu = new Vcpu(id, cpu, this);
    if (this.countTlbLookups) vcpu.setTlbLookupCounting(true);
    this.vcpus.push(vcpu);
    this.apicBus.attach(vcpu.lapic);
    this.scheduler.add(vcpu);
    vcpu.pollEvents(); // an application processor starts out waiting for INIT-SIPI
    return vcpu;
  }

  listVcpus(): readonly Vcpu[] {
    return this.vcpus;
  }

  /**
   * The vCPU to run next, or undefined when every vCPU is halted. Expired APIC timers and IPIs are
   * accounted first, so a vCPU they wake is a candidate.
   */
  nextVcpu(): Vcpu | undefined {
    for (const vcpu of this.vcpus) vcpu.pollEvents();
    return this.scheduler.next();
  }

  /**
   * Guest ns of the earliest local APIC timer interrupt of any vCPU, or undefined: when every vCPU is
   * halted the VMM sleeps until this (or its own devices' deadlines), e.g. `clock.advanceIdle(ns)`.
   */
  nextTimerEventNs(): number | undefined {
    let next: number | undefined;
    for (const vcpu of this.vcpus) {
      const ns = vcpu.nextTimerEventNs();
      if (ns !== undefined && (next === undefined || ns < next)) next = ns;
    }
    return next;
  }

  /**
   * KVM_SIGNAL_MSI: delivers a message-signalled interrupt (address 0xFEExxxxx, data with vector,
   * delivery mode and trigger) to the local APICs it names. Returns false outside the MSI window.
   */
  signalMsi(address: number, data: number): boolean {
    return this.apicBus.signalMsi(address, data);
  }

  /**
   * Userspace's IOAPIC listens here for EOIs of level-triggered vectors (KVM's split irqchip reports
   * them as KVM_EXIT_IOAPIC_EOI), to clear its remote IRR and re-check the line.
   */
  setLevelTriggeredEoiListener(listener: ((vector: number) => void) | undefined): void {
    this.eoiListener = listener;
  }

  /** (VcpuHost) A local APIC retired a level-triggered vector: tells the listener. */
  levelTriggeredEoi(vector: number): void {
    this.eoiListener?.(vector);
  }

  /**
   * (VcpuHost) How many instructions a vCPU may run before guest time may reach `deadlineNs`: exact on
   * the instruction clock (for one running vCPU), a polling interval on the host clock.
   */
  instructionsUntil(deadlineNs: number): number {
    const clock = this.clock;
    if (clock.mode !== "instructions") return HOST_CLOCK_TIMER_CHECK_INSTRUCTIONS;
    return Math.max(1, Math.ceil((deadlineNs - clock.nowNs()) / this.nsPerInstruction));
  }

  timeslice(vcpu: Vcpu): number {
    return this.scheduler.timeslice(vcpu);
  }

  setRunnable(vcpu: Vcpu, runnable: boolean): void {
    this.scheduler.setRunnable(vcpu, runnable);
  }

  /** The chipset's A20 gate, driven into every vCPU created so far (a PC's A20M# reaches each CPU). */
  setA20(enabled: boolean): void {
    for (const vcpu of this.vcpus) vcpu.setA20(enabled);
  }
}

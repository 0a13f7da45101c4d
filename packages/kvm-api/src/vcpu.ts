import {
  ACCESS_IO,
  ACCESS_MMIO,
  type Cpu,
  STOP_BUDGET,
  STOP_HLT,
  STOP_INTERNAL_ERROR,
  STOP_IO,
  STOP_IRQ_WINDOW,
  STOP_MMIO,
  STOP_SHUTDOWN,
} from "@tsvmm/cpu-x86";
import type { ApicBus } from "./apic-bus.js";
import { ExitReason, INTERNAL_ERROR_EMULATION, IoDirection, KvmRun } from "./kvm-run.js";
import { Lapic, type LapicHost, type LapicState } from "./lapic.js";
import {
  CPUID_ECX_TSC_DEADLINE,
  CPUID_ECX_X2APIC,
  DELIVERY_INIT,
  DELIVERY_NMI,
  DELIVERY_STARTUP,
} from "./lapic-registers.js";
import { type Regs, SEGMENT_ORDER, type Segment, type Sregs } from "./registers.js";
import { ExitCounters, type VcpuStats } from "./stats.js";
import type { Clock } from "./virtual-clock.js";

/** What a vCPU needs from its VM: scheduling, guest time and the APIC bus. */
export interface VcpuHost {
  timeslice(vcpu: Vcpu): number;
  setRunnable(vcpu: Vcpu, runnable: boolean): void;
  /** The VM clock. */
  readonly clock: Clock;
  /** The most instructions to run before guest time may reach `deadlineNs` (at least 1). */
  instructionsUntil(deadlineNs: number): number;
  /** Where interrupt messages from this vCPU's local APIC go. */
  readonly apicBus: ApicBus;
  /** A level-triggered interrupt was EOIed (for the IOAPIC's remote IRR). */
  levelTriggeredEoi(vector: number): void;
}

/**
 * A vCPU's multiprocessor state (KVM_GET/SET_MP_STATE): running, halted until an interrupt, or an
 * application processor waiting for a startup IPI (after reset or INIT).
 */
export type MpState = "runnable" | "halted" | "wait-for-sipi";

const FLAG_IF = 0x200;
const CS = 1;

/**
 * A virtual CPU (the fd KVM_CREATE_VCPU returns). run() executes guest code until an exit and
 * returns the shared KvmRun; the caller completes I/O and MMIO reads in it before the next run().
 *
 * Each vCPU has its local APIC in the kernel side, as with KVM's in-kernel LAPIC: accesses to the
 * APIC page and the APIC MSRs are answered inside run() and never exit; run() injects the APIC's
 * interrupts (and the 8259's, through interrupt()) as the guest can take them, and ends its slice
 * early at the APIC timer's deadline so the interrupt arrives on time.
 */
export class Vcpu {
  readonly kvmRun = new KvmRun();
  /** The in-kernel local APIC (KVM_GET/SET_LAPIC are getLapicState/setLapicState). */
  readonly lapic: Lapic;
  /** The last exit was a read whose data the caller supplies before the next run(). */
  private completionPending = false;
  /** An 8259 vector from interrupt() (ExtINT), waiting for the guest to take it; -1 when none. */
  private pendingExtInt = -1;
  /** An APIC vector handed to the CPU (and moved to ISR) that the CPU may not have entered yet. */
  private injectedVector = -1;
  /** Core events from the APIC bus, applied before the vCPU next runs. */
  private pendingInit = false;
  private pendingSipiVector = -1;
  private waitingForSipi: boolean;
  /** Inside run(): events for this vCPU are latched rather than applied. */
  private running = false;
  private readonly exitCounters = new ExitCounters();

  constructor(
    readonly id: number,
    private readonly cpu: Cpu,
    private readonly host: VcpuHost,
  ) {
    const lapicHost: LapicHost = {
      nowNs: () => host.clock.nowNs(),
      readTsc: () => this.readTimeStampCounter(),
      sendIpi: (source, icrLow, destination) =>
        host.apicBus.send(source, icrLow, destination, source.x2apicMode),
      coreEvent: (mode, vector) => this.coreEvent(mode, vector),
      interruptStateChanged: () => this.interruptStateChanged(),
      levelTriggeredEoi: (vector) => host.levelTriggeredEoi(vector),
    };
    const features = cpu.model.featuresEcx;
    this.lapic = new Lapic(lapicHost, {
      id,
      bsp: id === 0,
      x2apic: (features & CPUID_ECX_X2APIC) !== 0,
      tscDeadline: (features & CPUID_ECX_TSC_DEADLINE) !== 0,
      physicalAddressBits: cpu.model.physicalAddressBits,
    });
    cpu.msrs.hook = this.lapic;
    // Application processors wait for INIT-SIPI-SIPI; the bootstrap processor runs from reset.
    this.waitingForSipi = id !== 0;
  }

  /** KVM_RUN. */
  run(): KvmRun {
    const kvmRun = this.kvmRun;
    const cpu = this.cpu;
    const lapic = this.lapic;
    if (this.completionPending) {
      this.completionPending = false;
      cpu.completeRead(this.readCompletion());
    }
    const end = cpu.instructionCount + this.host.timeslice(this);
    let stop: number;
    this.running = true;
    try {
      for (;;) {
        if (cpu.instructionCount >= end) {
          stop = STOP_BUDGET;
          break;
        }
        this.applyCoreEvents();
        if (this.waitingForSipi) {
          stop = STOP_HLT;
          break;
        }
        lapic.poll(this.host.clock.nowNs());
        const apicWantsWindow = this.injectPendingInterrupt();
        const userWindow = kvmRun.requestInterruptWindow && this.acceptsExtInt();
        cpu.requestInterruptWindow = apicWantsWindow || userWindow;
        let budget = end - cpu.instructionCount;
        const timerNs = lapic.nextEventNs();
        if (timerNs !== undefined) budget = Math.min(budget, this.host.instructionsUntil(timerNs));
        stop = cpu.run(budget);
        if (this.injectedVector >= 0 && cpu.pendingInterrupt !== this.injectedVector)
          this.injectedVector = -1;
        if (stop === STOP_MMIO && this.handleApicAccess()) {
          this.exitCounters.apicAccesses++;
          continue;
        }
        if (stop === STOP_BUDGET) continue; // the slice ended early (timer deadline, REP iteration)
        if (stop === STOP_IRQ_WINDOW && (this.hasInterruptForCpu() || !userWindow)) continue;
        if (stop === STOP_HLT && this.canWake()) continue;
        break;
      }
    } finally {
      this.running = false;
    }
    kvmRun.ifFlag = (cpu.flags.bits & FLAG_IF) !== 0;
    kvmRun.readyForInterruptInjection = cpu.canInjectInterrupt && this.acceptsExtInt();
    switch (stop) {
      case STOP_IO:
      case STOP_MMIO:
        this.reportAccess(stop === STOP_IO);
        break;
      case STOP_HLT:
        kvmRun.exitReason = ExitReason.HLT;
        this.host.setRunnable(this, false);
        break;
      case STOP_SHUTDOWN:
        kvmRun.exitReason = ExitReason.SHUTDOWN;
        break;
      case STOP_IRQ_WINDOW:
        kvmRun.exitReason = ExitReason.IRQ_WINDOW_OPEN;
        break;
      case STOP_BUDGET:
        kvmRun.exitReason = ExitReason.INTR;
        break;
      case STOP_INTERNAL_ERROR:
        kvmRun.exitReason = ExitReason.INTERNAL_ERROR;
        kvmRun.internal.suberror = INTERNAL_ERROR_EMULATION;
        kvmRun.internal.message = `${cpu.internalError} (at ${hex(cpu.segSelector[1], 4)}:${hex(cpu.eip >>> 0, 8)})`;
        break;
      default:
        kvmRun.exitReason = ExitReason.UNKNOWN;
    }
    this.exitCounters.count(kvmRun.exitReason);
    return kvmRun;
  }

  /** This vCPU's counters: exits by reason, the TLB and page walks, the decoded-instruction cache. */
  getStats(): VcpuStats {
    const exits = this.exitCounters;
    const mmu = this.cpu.mmu.getCounters();
    const icache = this.cpu.instructionCache;
    return {
      instructions: this.cpu.instructionCount,
      exits: exits.exits,
      ioExits: exits.ioExits,
      mmioExits: exits.mmioExits,
      haltExits: exits.haltExits,
      irqWindowExits: exits.irqWindowExits,
      timesliceExits: exits.timesliceExits,
      shutdownExits: exits.shutdownExits,
      internalErrorExits: exits.internalErrorExits,
      apicAccesses: exits.apicAccesses,
      tlbHits: mmu.hits,
      tlbMisses: mmu.misses,
      tlbLookups: mmu.lookups,
      pageWalks: mmu.walks,
      accessedDirtyWrites: mmu.accessedDirtyWrites,
      tlbFlushes: mmu.flushes,
      instructionCacheMisses: icache.misses,
      instructionCacheInvalidations: icache.invalidations,
    };
  }

  /** Counts every TLB lookup in the stats' tlbLookups (slow: for measuring hit rates only). */
  setTlbLookupCounting(enabled: boolean): void {
    this.cpu.mmu.setLookupCounting(enabled);
  }

  /**
   * KVM_INTERRUPT: an external interrupt from the 8259 (ExtINT), taken when the guest's IF allows
   * and the local APIC passes 8259 interrupts on (APIC disabled, or LINT0 an unmasked ExtINT: the
   * reset state). A second call before the guest took the first replaces it.
   */
  interrupt(vector: number): void {
    if (!Number.isInteger(vector) || vector < 0 || vector > 255) throw new RangeError(`bad vector ${vector}`);
    this.pendingExtInt = vector;
    if (!this.running) this.updateRunnable();
  }

  /** Whether 8259 interrupts reach this vCPU (userspace asks before acknowledging the PIC). */
  acceptsExtInt(): boolean {
    return this.pendingExtInt < 0 && this.lapic.acceptsPicInterrupts();
  }

  /** Guest ns of the next local APIC timer interrupt, or undefined: the VMM sleeps no longer than this. */
  nextTimerEventNs(): number | undefined {
    return this.lapic.nextEventNs();
  }

  /**
   * Brings the vCPU up to date while it is not running: applies INIT/SIPI from other vCPUs, fires an
   * expired APIC timer, and wakes a halted vCPU that now has an interrupt it can take. The VM calls it
   * for every vCPU before choosing the next one.
   */
  pollEvents(): void {
    if (this.running) return;
    this.applyCoreEvents();
    if (!this.waitingForSipi && this.cpu.halted) this.lapic.poll(this.host.clock.nowNs());
    this.updateRunnable();
  }

  /** KVM_GET_MP_STATE. */
  getMpState(): MpState {
    if (this.waitingForSipi) return "wait-for-sipi";
    return this.cpu.halted ? "halted" : "runnable";
  }

  /** KVM_SET_MP_STATE. */
  setMpState(state: MpState): void {
    if (state !== "runnable" && state !== "halted" && state !== "wait-for-sipi") {
      throw new RangeError(`bad MP state ${String(state)}`);
    }
    this.waitingForSipi = state === "wait-for-sipi";
    this.cpu.halted = state === "halted";
    this.updateRunnable();
  }

  /** KVM_GET_LAPIC. */
  getLapicState(): LapicState {
    return this.lapic.getState();
  }

  /** KVM_SET_LAPIC. */
  setLapicState(state: LapicState): void {
    this.lapic.setState(state);
    this.updateRunnable();
  }

  /** An NMI reached this vCPU (from the ICR or an LVT entry) and waits for the next boundary. */
  get nmiPending(): boolean {
    return this.cpu.nmiPending;
  }

  /** Whether the vCPU is halted (waiting for an interrupt). */
  get halted(): boolean {
    return this.cpu.halted;
  }

  /** Guest instructions retired so far. */
  get instructionCount(): number {
    return this.cpu.instructionCount;
  }

  /** KVM_GET_REGS. */
  getRegs(): Regs {
    const r = this.cpu.regs;
    return {
      rax: r[0] >>> 0,
      rcx: r[1] >>> 0,
      rdx: r[2] >>> 0,
      rbx: r[3] >>> 0,
      rsp: r[4] >>> 0,
      rbp: r[5] >>> 0,
      rsi: r[6] >>> 0,
      rdi: r[7] >>> 0,
      rip: this.cpu.eip >>> 0,
      rflags: this.cpu.flags.get() >>> 0,
    };
  }

  /** KVM_SET_REGS. */
  setRegs(regs: Regs): void {
    const r = this.cpu.regs;
    const values = [regs.rax, regs.rcx, regs.rdx, regs.rbx, regs.rsp, regs.rbp, regs.rsi, regs.rdi];
    for (let i = 0; i < 8; i++) r[i] = checkU32(values[i], "register");
    this.cpu.eip = checkU32(regs.rip, "rip") | 0;
    this.cpu.flags.load(checkU32(regs.rflags, "rflags"));
  }

  /** KVM_GET_SREGS. */
  getSregs(): Sregs {
    const cpu = this.cpu;
    const segment = (i: number): Segment => {
      const a = cpu.segAttributes[i];
      return {
        base: cpu.segBase[i] >>> 0,
        limit: cpu.segLimit[i] >>> 0,
        selector: cpu.segSelector[i],
        type: a & 15,
        s: (a & 0x10) !== 0,
        dpl: (a >> 5) & 3,
        present: (a & 0x80) !== 0,
        avl: (a & 0x1000) !== 0,
        l: (a & 0x2000) !== 0,
        db: (a & 0x4000) !== 0,
        g: (a & 0x8000) !== 0,
      };
    };
    return {
      es: segment(0),
      cs: segment(1),
      ss: segment(2),
      ds: segment(3),
      fs: segment(4),
      gs: segment(5),
      gdt: { base: cpu.gdtBase >>> 0, limit: cpu.gdtLimit },
      idt: { base: cpu.idtBase >>> 0, limit: cpu.idtLimit },
      cr0: cpu.cr0 >>> 0,
      cr2: cpu.cr2 >>> 0,
      cr3: cpu.cr3 >>> 0,
      cr4: cpu.cr4 >>> 0,
    };
  }

  /** KVM_SET_SREGS: loads segment registers and their hidden caches directly, as KVM does. */
  setSregs(sregs: Sregs): void {
    const cpu = this.cpu;
    SEGMENT_ORDER.forEach((name, i) => {
      const s = sregs[name];
      cpu.segBase[i] = checkU32(s.base, `${name}.base`);
      cpu.segLimit[i] = checkU32(s.limit, `${name}.limit`);
      cpu.segSelector[i] = s.selector & 0xffff;
      cpu.segAttributes[i] =
        (s.type & 15) |
        (s.s ? 0x10 : 0) |
        ((s.dpl & 3) << 5) |
        (s.present ? 0x80 : 0) |
        (s.avl ? 0x1000 : 0) |
        (s.l ? 0x2000 : 0) |
        (s.db ? 0x4000 : 0) |
        (s.g ? 0x8000 : 0);
    });
    cpu.gdtBase = checkU32(sregs.gdt.base, "gdt.base");
    cpu.gdtLimit = sregs.gdt.limit & 0xffff;
    cpu.idtBase = checkU32(sregs.idt.base, "idt.base");
    cpu.idtLimit = sregs.idt.limit & 0xffff;
    cpu.cr0 = checkU32(sregs.cr0, "cr0") | 0;
    cpu.cr2 = checkU32(sregs.cr2, "cr2") | 0;
    cpu.cr3 = checkU32(sregs.cr3, "cr3") | 0;
    cpu.cr4 = checkU32(sregs.cr4, "cr4") | 0;
    cpu.updateCodeMode();
    cpu.flushTlb();
  }

  /**
   * System reset: the architectural power-on state, the local APIC included. The bootstrap processor
   * runs from the reset vector; application processors wait for a startup IPI.
   */
  reset(): void {
    this.completionPending = false;
    this.cpu.reset();
    this.lapic.reset();
    this.clearEvents();
    this.waitingForSipi = !this.lapic.bsp;
    this.updateRunnable();
  }

  // ---------------------------------------------------------------------------------------------
  // Interrupts and the local APIC.

  private clearEvents(): void {
    this.pendingExtInt = -1;
    this.injectedVector = -1;
    this.pendingInit = false;
    this.pendingSipiVector = -1;
  }

  /**
   * Hands the CPU the interrupt it should take next, if it can take one now: an 8259 vector first
   * (ExtINT outranks the APIC, as on hardware), else the APIC's highest deliverable vector, which
   * moves from IRR to ISR here (the acknowledge). Returns whether something is waiting for the CPU
   * to become interruptible (then run() asks the CPU to stop at its interrupt window).
   */
  private injectPendingInterrupt(): boolean {
    const cpu = this.cpu;
    const lapic = this.lapic;
    const extInt = this.pendingExtInt >= 0 && lapic.acceptsPicInterrupts();
    const apicVector = extInt ? -1 : lapic.highestDeliverable();
    if (!extInt && apicVector < 0) return false;
    if (!cpu.canInjectInterrupt) return cpu.pendingInterrupt < 0;
    if (extInt) {
      cpu.injectInterrupt(this.pendingExtInt);
      this.pendingExtInt = -1;
    } else {
      lapic.acknowledge(apicVector);
      cpu.injectInterrupt(apicVector);
      this.injectedVector = apicVector;
    }
    return false;
  }

  /** An 8259 or APIC interrupt is waiting for the CPU. */
  private hasInterruptForCpu(): boolean {
    return (
      (this.pendingExtInt >= 0 && this.lapic.acceptsPicInterrupts()) || this.lapic.highestDeliverable() >= 0
    );
  }

  /** A halted CPU resumes: it is interruptible and an interrupt is waiting (run() then injects it). */
  private canWake(): boolean {
    const cpu = this.cpu;
    return (cpu.flags.bits & FLAG_IF) !== 0 && !cpu.interruptShadow && this.hasInterruptForCpu();
  }

  private updateRunnable(): void {
    const runnable = !this.waitingForSipi && (!this.cpu.halted || this.canWake());
    this.host.setRunnable(this, runnable);
  }

  /** The local APIC may have something new to deliver, or a new timer deadline. */
  private interruptStateChanged(): void {
    // Running (an APIC MSR write in the middle of a slice): stop as soon as the guest could take an
    // interrupt, so run() injects it or shortens the slice to the new deadline.
    if (this.running) this.cpu.requestInterruptWindow = true;
    else this.updateRunnable();
  }

  /** NMI, INIT or SIPI from the APIC bus: latched, and applied before this vCPU runs on. */
  private coreEvent(mode: number, vector: number): void {
    if (mode === DELIVERY_NMI) {
      // The CPU core takes it at the next instruction boundary (and blocks NMIs until IRET).
      this.cpu.injectNmi();
      this.cpu.halted = false;
      if (!this.running) this.updateRunnable();
      return;
    }
    if (mode === DELIVERY_INIT) {
      this.pendingInit = true;
      this.pendingSipiVector = -1;
    } else if (mode === DELIVERY_STARTUP) {
      this.pendingSipiVector = vector;
    } else {
      return;
    }
    if (this.running) this.cpu.requestInterruptWindow = true;
    else this.pollEvents();
  }

  /**
   * INIT resets the processor (the APIC keeps its ID and base) and sends an application processor
   * into wait-for-SIPI; a startup IPI then starts it in real mode at vector * 0x1000 (CS = vector *
   * 0x100, IP = 0). A SIPI that finds the processor running is ignored.
   */
  private applyCoreEvents(): void {
    if (this.pendingInit) {
      this.pendingInit = false;
      this.completionPending = false;
      this.cpu.reset();
      this.lapic.initReset();
      this.pendingExtInt = -1;
      this.injectedVector = -1;
      this.waitingForSipi = !this.lapic.bsp;
    }
    const vector = this.pendingSipiVector;
    if (vector >= 0) {
      this.pendingSipiVector = -1;
      if (this.waitingForSipi) {
        const cpu = this.cpu;
        cpu.segSelector[CS] = vector << 8;
        cpu.segBase[CS] = vector << 12;
        cpu.eip = 0;
        cpu.halted = false;
        cpu.updateCodeMode();
        this.waitingForSipi = false;
      }
    }
  }

  /**
   * Answers an MMIO access that falls in this vCPU's xAPIC page; false when the access is not the
   * APIC's (APIC disabled, x2APIC mode, another page), so it goes to userspace.
   */
  private handleApicAccess(): boolean {
    const cpu = this.cpu;
    const access = cpu.pendingAccess;
    const page = this.lapic.xapicPage;
    if (access.kind !== ACCESS_MMIO || page < 0 || Math.floor((access.address >>> 0) / 4096) !== page) {
      return false;
    }
    const offset = access.address & 0xfff;
    if (access.write) this.lapic.writeMmio(offset, access.size, access.value);
    else cpu.completeRead(this.lapic.readMmio(offset, access.size));
    // A vector handed to the CPU but not yet entered (the CPU stopped first) may have been masked by
    // this write: the APIC then answers the acknowledge with its spurious vector.
    const injected = this.injectedVector;
    if (injected >= 0 && cpu.pendingInterrupt === injected) {
      const vector = this.lapic.reconsiderAcknowledged(injected);
      cpu.injectInterrupt(vector);
      if (vector !== injected) this.injectedVector = -1;
    }
    return true;
  }

  /** The guest's TSC: the CPU offers it only as RDTSC does, into EDX:EAX, so those are put back. */
  private readTimeStampCounter(): number {
    return this.cpu.timeStampCounter();
  }

  private reportAccess(isIo: boolean): void {
    const kvmRun = this.kvmRun;
    const access = this.cpu.pendingAccess;
    if (isIo && access.kind === ACCESS_IO) {
      kvmRun.exitReason = ExitReason.IO;
      const io = kvmRun.io;
      io.direction = access.write ? IoDirection.OUT : IoDirection.IN;
      io.size = access.size;
      io.port = access.address;
      io.count = 1;
      writeLittleEndian(io.data, access.size, access.write ? access.value : 0);
    } else {
      kvmRun.exitReason = ExitReason.MMIO;
      const mmio = kvmRun.mmio;
      mmio.physAddr = access.address;
      mmio.len = access.size;
      mmio.isWrite = access.write;
      writeLittleEndian(mmio.data, access.size, access.write ? access.value : 0);
    }
    this.completionPending = !access.write;
  }

  private readCompletion(): number {
    const kvmRun = this.kvmRun;
    if (kvmRun.exitReason === ExitReason.IO) return readLittleEndian(kvmRun.io.data, kvmRun.io.size);
    return readLittleEndian(kvmRun.mmio.data, kvmRun.mmio.len);
  }

  /** The A20M# pin: with `false` the CPU masks physical address bit 20, as a PC's A20 gate does. */
  setA20(enabled: boolean): void {
    this.cpu.setA20(enabled);
  }
}

function writeLittleEndian(data: Uint8Array, size: number, value: number): void {
  data.fill(0);
  for (let i = 0; i < size && i < 4; i++) data[i] = value >>> (8 * i);
}

function readLittleEndian(data: Uint8Array, size: number): number {
  let value = 0;
  for (let i = Math.min(size, 4) - 1; i >= 0; i--) value = (value << 8) | data[i];
  return value | 0;
}

function checkU32(value: number, what: string): number {
  if (!Number.isInteger(value) || value < 0 || value > 0xffffffff) {
    throw new RangeError(`${what} must be an unsigned 32-bit integer, got ${value}`);
  }
  return value;
}

function hex(value: number, digits: number): string {
  return value.toString(16).padStart(digits, "0");
}

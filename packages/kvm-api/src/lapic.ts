import {
  APIC_APR,
  APIC_BASE_BSP,
  APIC_BASE_ENABLE,
  APIC_BASE_EXTD,
  APIC_DEFAULT_BASE,
  APIC_DFR,
  APIC_EOI,
  APIC_ESR,
  APIC_ICR_HIGH,
  APIC_ICR_LOW,
  APIC_ID,
  APIC_IRR,
  APIC_ISR,
  APIC_LDR,
  APIC_LVT_ERROR,
  APIC_LVT_TIMER,
  APIC_PPR,
  APIC_RRD,
  APIC_SELF_IPI,
  APIC_SVR,
  APIC_TIMER_CURRENT,
  APIC_TIMER_DIVIDE,
  APIC_TIMER_INITIAL,
  APIC_TMR,
  APIC_TPR,
  APIC_VERSION,
  APIC_VERSION_VALUE,
  DELIVERY_EXTINT,
  DELIVERY_FIXED,
  DELIVERY_INIT,
  DELIVERY_LOWEST_PRIORITY,
  DELIVERY_NMI,
  DELIVERY_STARTUP,
  ESR_ILLEGAL_REGISTER,
  ESR_RECEIVE_ILLEGAL_VECTOR,
  ESR_REDIRECTABLE_IPI,
  ESR_SEND_ILLEGAL_VECTOR,
  ICR_LEVEL_ASSERT,
  ICR_SHORTHAND_SHIFT,
  LVT_COUNT,
  LVT_DELIVERY_STATUS,
  LVT_ERROR,
  LVT_LEVEL_TRIGGER,
  LVT_LINT0,
  LVT_LINT1,
  LVT_MASKED,
  LVT_REMOTE_IRR,
  LVT_TIMER,
  LVT_TIMER_MODE,
  LVT_WRITABLE,
  MSR_IA32_APIC_BASE,
  MSR_IA32_TSC_DEADLINE,
  MSR_X2APIC_FIRST,
  MSR_X2APIC_LAST,
  SHORTHAND_SELF,
  SVR_ENABLE,
  TIMER_ONE_SHOT,
  TIMER_TSC_DEADLINE,
} from "./lapic-registers.js";
import { LapicTimer, type LapicTimerState } from "./lapic-timer.js";

/** What a local APIC needs from the vCPU and VM around it. */
export interface LapicHost {
  /** Guest time (the VM clock). */
  nowNs(): number;
  /** The guest's time-stamp counter now (for TSC-deadline mode). */
  readTsc(): number;
  /**
   * Sends an interrupt message (ICR or SELF IPI) to the APIC bus: `icrLow` holds vector, delivery
   * mode, destination mode, level, trigger and shorthand; `destination` the ICR's destination field
   * (8 bits in xAPIC mode, 32 in x2APIC mode).
   */
  sendIpi(source: Lapic, icrLow: number, destination: number): void;
  /** NMI, INIT or SIPI for this APIC's processor: these bypass IRR and ISR. */
  coreEvent(deliveryMode: number, vector: number): void;
  /**
   * What the APIC would deliver, or when, may have changed (IRR gained a vector, the processor
   * priority fell, the timer was re-armed, 8259 pass-through changed): the vCPU re-evaluates soon.
   */
  interruptStateChanged(): void;
  /** A level-triggered vector (TMR set) was EOIed: the IOAPIC clears its remote IRR. */
  levelTriggeredEoi(vector: number): void;
}

export interface LapicOptions {
  /** The initial APIC ID (the vCPU id). */
  id: number;
  /** The bootstrap processor (IA32_APIC_BASE bit 8). */
  bsp: boolean;
  /** x2APIC mode may be enabled (CPUID.1:ECX.x2APIC). */
  x2apic?: boolean;
  /** The timer offers TSC-deadline mode and IA32_TSC_DEADLINE exists (CPUID.1:ECX.TSC_DEADLINE). */
  tscDeadline?: boolean;
  /** Physical address width (MAXPHYADDR): bits of IA32_APIC_BASE above it are reserved. Default 36. */
  physicalAddressBits?: number;
}

/** The local APIC's registers (KVM_GET_LAPIC), as plain JSON-serialisable numbers. */
export interface LapicState {
  apicBaseLow: number;
  apicBaseHigh: number;
  /** The xAPIC ID register (ID in bits 24-31). */
  id: number;
  tpr: number;
  ldr: number;
  dfr: number;
  svr: number;
  /** ESR as last latched by a write, and the errors collected since. */
  esr: number;
  pendingErrors: number;
  icrLow: number;
  icrHigh: number;
  /** LVT timer, thermal, performance, LINT0, LINT1, error. */
  lvt: number[];
  /** 256-bit registers as eight 32-bit words, vector 0 in bit 0 of word 0. */
  irr: number[];
  isr: number[];
  tmr: number[];
  timer: LapicTimerState;
}

/** A 256-bit vector register's highest set bit, or -1. */
function highestVector(bits: Int32Array): number {
  for (let word = 7; word >= 0; word--) {
    const value = bits[word];
    if (value !== 0) return word * 32 + 31 - Math.clz32(value);
  }
  return -1;
}

function testBit(bits: Int32Array, vector: number): boolean {
  return (bits[vector >> 5] & (1 << (vector & 31))) !== 0;
}

function setBit(bits: Int32Array, vector: number): void {
  bits[vector >> 5] |= 1 << (vector & 31);
}

function clearBit(bits: Int32Array, vector: number): void {
  bits[vector >> 5] &= ~(1 << (vector & 31));
}

/** Register access outcomes, for the MSR interface (x2APIC faults where xAPIC flags an error). */
const ACCESS_OK = 0;
const ACCESS_RESERVED = 1;
const ACCESS_READ_ONLY = 2;
const ACCESS_WRITE_ONLY = 3;
const ACCESS_RESERVED_BITS = 4;

/** ICR low bits software may set (vector, delivery and destination mode, level, trigger, shorthand). */
const ICR_LOW_WRITABLE = 0x000c_cfff;

/**
 * A local APIC, as KVM keeps one in the kernel for each vCPU: xAPIC registers in the APIC page,
 * x2APIC registers as MSRs 0x800-0x8FF, IA32_APIC_BASE and IA32_TSC_DEADLINE, interrupt acceptance
 * by priority class with IRR/ISR/TMR, EOI, the timer (one-shot, periodic, TSC deadline) and the
 * interrupt command register. It never sees the CPU: the vCPU asks it for the highest deliverable
 * vector and acknowledges it when the CPU takes it; messages to other APICs and events for the core
 * (NMI, INIT, SIPI) go through its host.
 *
 * Register access follows the SDM: in xAPIC mode, accesses to registers that do not exist set ESR
 * bit 7 and read 0; writes to read-only registers are ignored; only aligned 32-bit writes take effect
 * (smaller or misaligned writes are dropped, as KVM does). In x2APIC mode the same mistakes raise #GP.
 */
export class Lapic {
  readonly initialId: number;
  readonly bsp: boolean;
  readonly x2apicSupported: boolean;
  readonly tscDeadlineSupported: boolean;
  private readonly apicBaseHighMask: number;
  private readonly host: LapicHost;

  private apicBaseLow = 0;
  private apicBaseHigh = 0;
  private id = 0;
  private tpr = 0;
  private ldr = 0;
  private dfr = -1;
  private svr = 0xff;
  private esr = 0;
  private pendingErrors = 0;
  private icrLow = 0;
  private icrHigh = 0;
  private readonly lvt = new Int32Array(LVT_COUNT);
  private readonly irr = new Int32Array(8);
  private readonly isr = new Int32Array(8);
  private readonly tmr = new Int32Array(8);
  private readonly timer = new LapicTimer();
  /** Guards against an error interrupt whose own delivery fails raising another one. */
  private deliveringError = false;
  /** The xAPIC page number (physical address / 4096), or -1 while MMIO does not decode. */
  private mmioPage = -1;

  constructor(host: LapicHost, options: LapicOptions) {
    this.host = host;
    this.initialId = options.id >>> 0;
    this.bsp = options.bsp;
    this.x2apicSupported = options.x2apic ?? false;
    this.tscDeadlineSupported = options.tscDeadline ?? false;
    const bits = Math.min(52, Math.max(32, options.physicalAddressBits ?? 36));
    this.apicBaseHighMask = bits >= 52 ? 0xfffff : (1 << (bits - 32)) - 1;
    this.reset();
  }

  // ---------------------------------------------------------------------------------------------
  // Reset and mode.

  /** Power-on (and system) reset: IA32_APIC_BASE back to 0xFEE00000 enabled, registers cleared. */
  reset(): void {
    this.apicBaseLow = APIC_DEFAULT_BASE | APIC_BASE_ENABLE | (this.bsp ? APIC_BASE_BSP : 0) | 0;
    this.apicBaseHigh = 0;
    this.id = (this.initialId & 0xff) << 24;
    this.resetRegisters();
    this.updateMmioPage();
  }

  /** INIT: like power-on, except that IA32_APIC_BASE (and so the mode) and the APIC ID stay. */
  initReset(): void {
    this.resetRegisters();
  }

  private resetRegisters(): void {
    this.tpr = 0;
    this.ldr = this.x2apicMode ? this.x2apicLogicalId() : 0;
    this.dfr = -1;
    this.svr = 0xff;
    this.esr = this.pendingErrors = 0;
    this.icrLow = this.icrHigh = 0;
    this.lvt.fill(LVT_MASKED);
    // The bootstrap processor's LINT0 starts as an unmasked ExtINT (KVM's LINT0_REENABLED quirk, QEMU's
    // reset): a BIOS that never programs the APIC still gets 8259 interrupts through virtual wire.
    if (this.bsp) this.lvt[LVT_LINT0] = DELIVERY_EXTINT << 8;
    this.irr.fill(0);
    this.isr.fill(0);
    this.tmr.fill(0);
    this.timer.reset();
  }

  /** IA32_APIC_BASE bit 11: without it the processor behaves as if it had no APIC. */
  get hardwareEnabled(): boolean {
    return (this.apicBaseLow & APIC_BASE_ENABLE) !== 0;
  }

  /** SVR bit 8. */
  get softwareEnabled(): boolean {
    return (this.svr & SVR_ENABLE) !== 0;
  }

  get x2apicMode(): boolean {
    return (this.apicBaseLow & (APIC_BASE_ENABLE | APIC_BASE_EXTD)) === (APIC_BASE_ENABLE | APIC_BASE_EXTD);
  }

  /** The APIC ID as destinations match it: 8 bits in xAPIC mode, the 32-bit x2APIC ID otherwise. */
  get apicId(): number {
    return this.x2apicMode ? this.initialId : this.id >>> 24;
  }

  /** The logical destination register as destinations match it. */
  get logicalDestination(): number {
    return this.ldr >>> 0;
  }

  /** DFR bits 28-31: 0xF flat model, 0x0 cluster model. */
  get destinationModel(): number {
    return this.dfr >>> 28;
  }

  /** The guest-physical page (address / 4096) where the xAPIC registers decode, or -1. */
  get xapicPage(): number {
    return this.mmioPage;
  }

  /** The x2APIC logical ID: cluster (ID bits 4-19) in bits 16-31, one bit of 16 for ID bits 0-3. */
  private x2apicLogicalId(): number {
    return ((this.initialId >>> 4) << 16) | (1 << (this.initialId & 15)) | 0;
  }

  private updateMmioPage(): void {
    const low = this.apicBaseLow;
    if ((low & APIC_BASE_ENABLE) === 0 || (low & APIC_BASE_EXTD) !== 0) this.mmioPage = -1;
    else this.mmioPage = (this.apicBaseHigh >>> 0) * 0x10_0000 + ((low >>> 12) & 0xfffff);
  }

  /**
   * WRMSR IA32_APIC_BASE. Returns false (#GP) for reserved bits, for x2APIC without support, and for
   * the transitions the SDM forbids: to (disabled, x2APIC), from x2APIC straight to xAPIC, and from
   * disabled straight to x2APIC. Disabling returns the registers to their power-up state; entering
   * x2APIC mode gives the APIC its x2APIC ID and logical ID. The BSP bit is read-only.
   */
  writeApicBase(low: number, high: number): boolean {
    const reserved = 0x2ff | (this.x2apicSupported ? 0 : APIC_BASE_EXTD);
    if ((low & reserved) !== 0 || (high & ~this.apicBaseHighMask) !== 0) return false;
    const enable = (low & APIC_BASE_ENABLE) !== 0;
    const extd = (low & APIC_BASE_EXTD) !== 0;
    if (extd && !enable) return false;
    const wasEnabled = this.hardwareEnabled;
    const wasX2apic = this.x2apicMode;
    if (wasX2apic && enable && !extd) return false;
    if (!wasEnabled && extd) return false;
    this.apicBaseLow = (low & ~(APIC_BASE_BSP | 0xff)) | (this.bsp ? APIC_BASE_BSP : 0) | 0;
    this.apicBaseHigh = high & this.apicBaseHighMask;
    if (wasEnabled && !enable) {
      this.id = (this.initialId & 0xff) << 24;
      this.resetRegisters();
    } else if (!wasX2apic && extd) {
      this.ldr = this.x2apicLogicalId();
    }
    this.updateMmioPage();
    return true;
  }

  // ---------------------------------------------------------------------------------------------
  // Priorities and interrupt acceptance.

  /** PPR: the task priority, or the class of the highest in-service vector when that is higher. */
  processorPriority(): number {
    const isrv = highestVector(this.isr);
    const isrClass = isrv < 0 ? 0 : isrv & 0xf0;
    return (this.tpr & 0xf0) >= isrClass ? this.tpr : isrClass;
  }

  /** APR (P6 family): what lowest-priority arbitration compares. */
  arbitrationPriority(): number {
    const tprClass = this.tpr & 0xf0;
    const irrv = Math.max(0, highestVector(this.irr));
    const isrv = Math.max(0, highestVector(this.isr));
    if (tprClass >= (irrv & 0xf0) && tprClass > (isrv & 0xf0)) return this.tpr;
    return Math.max(tprClass & isrv & 0xf0, irrv & 0xf0);
  }

  /**
   * The vector the processor should take next: the highest IRR vector whose priority class is above
   * PPR's, or -1. A software-disabled APIC still delivers what it had accepted.
   */
  highestDeliverable(): number {
    if (!this.hardwareEnabled) return -1;
    const irrv = highestVector(this.irr);
    if (irrv < 0 || (irrv & 0xf0) <= (this.processorPriority() & 0xf0)) return -1;
    return irrv;
  }

  /** The processor takes `vector` (interrupt acknowledge): it moves from IRR to ISR. */
  acknowledge(vector: number): void {
    clearBit(this.irr, vector);
    setBit(this.isr, vector);
  }

  /**
   * The processor had been offered `vector` (acknowledged) but has not entered its handler yet when
   * the priority changed: if the vector is still above the processor priority it stays in service;
   * otherwise it returns to IRR and the processor gets the spurious vector instead (which needs no
   * EOI), as an APIC does when its priority rises between INTR and INTA. Returns the vector to take.
   */
  reconsiderAcknowledged(vector: number): number {
    if (!testBit(this.isr, vector)) return vector;
    clearBit(this.isr, vector);
    setBit(this.irr, vector);
    if ((vector & 0xf0) > (this.processorPriority() & 0xf0)) {
      this.acknowledge(vector);
      return vector;
    }
    return this.svr & 0xff;
  }

  /**
   * Receives an interrupt message from the bus or from a local source. Fixed and lowest-priority
   * messages land in IRR (level-triggered ones also set TMR) if the APIC is enabled; vectors 0-15 are
   * refused with a receive-illegal-vector error. NMI, INIT and SIPI go to the processor core, INIT
   * and SIPI even while the APIC is software-disabled. SMI (no SMM) and ExtINT (the 8259 path is
   * Vcpu.interrupt) are not taken from messages.
   */
  accept(deliveryMode: number, vector: number, levelTriggered: boolean): void {
    if (!this.hardwareEnabled) return;
    switch (deliveryMode) {
      case DELIVERY_FIXED:
      case DELIVERY_LOWEST_PRIORITY:
        if (!this.softwareEnabled) return;
        if (vector < 16) {
          this.raiseError(ESR_RECEIVE_ILLEGAL_VECTOR);
          return;
        }
        setBit(this.irr, vector);
        if (levelTriggered) setBit(this.tmr, vector);
        else clearBit(this.tmr, vector);
        this.host.interruptStateChanged();
        return;
      case DELIVERY_NMI:
      case DELIVERY_INIT:
      case DELIVERY_STARTUP:
        this.host.coreEvent(deliveryMode, vector & 0xff);
        return;
      default:
        return;
    }
  }

  /** EOI: retires the highest in-service vector; a level-triggered one is broadcast to the IOAPIC. */
  private endOfInterrupt(): void {
    const vector = highestVector(this.isr);
    if (vector < 0) return;
    clearBit(this.isr, vector);
    if (testBit(this.tmr, vector)) this.host.levelTriggeredEoi(vector);
    if (this.highestDeliverable() >= 0) this.host.interruptStateChanged();
  }

  /** Whether 8259 interrupts (ExtINT) reach the processor: APIC disabled, or LINT0 an unmasked ExtINT. */
  acceptsPicInterrupts(): boolean {
    if (!this.hardwareEnabled) return true;
    const lint0 = this.lvt[LVT_LINT0];
    return (lint0 & LVT_MASKED) === 0 && ((lint0 >> 8) & 7) === DELIVERY_EXTINT;
  }

  /** Delivers a local interrupt source through its LVT entry (unless masked). */
  private deliverLocal(index: number): void {
    const entry = this.lvt[index];
    if ((entry & LVT_MASKED) !== 0 || !this.hardwareEnabled) return;
    const mode = index === LVT_TIMER || index === LVT_ERROR ? DELIVERY_FIXED : (entry >> 8) & 7;
    if (mode === DELIVERY_FIXED) this.accept(DELIVERY_FIXED, entry & 0xff, (entry & LVT_LEVEL_TRIGGER) !== 0);
    else if (mode === DELIVERY_NMI || mode === DELIVERY_INIT) this.host.coreEvent(mode, 0);
  }

  /** Records an error in the ESR and raises the error interrupt (unless masked). */
  private raiseError(bits: number): void {
    this.pendingErrors |= bits;
    if (this.deliveringError) return;
    this.deliveringError = true;
    this.deliverLocal(LVT_ERROR);
    this.deliveringError = false;
  }

  // ---------------------------------------------------------------------------------------------
  // The timer.

  /** Brings the timer up to `nowNs`: an expiry raises the timer interrupt. */
  poll(nowNs: number = this.host.nowNs()): void {
    if (this.timer.expire(nowNs)) this.deliverLocal(LVT_TIMER);
  }

  /** Guest ns of the timer's next interrupt, or undefined when it is not armed. */
  nextEventNs(): number | undefined {
    return this.timer.nextEventNs();
  }

  // ---------------------------------------------------------------------------------------------
  // Interrupt command register.

  private sendInterruptCommand(): void {
    const icr = this.icrLow;
    const mode = (icr >> 8) & 7;
    const vector = icr & 0xff;
    switch (mode) {
      case DELIVERY_FIXED:
      case DELIVERY_LOWEST_PRIORITY:
        if (vector < 16) {
          this.raiseError(ESR_SEND_ILLEGAL_VECTOR);
          return;
        }
        if (mode === DELIVERY_LOWEST_PRIORITY && this.x2apicMode) {
          this.raiseError(ESR_REDIRECTABLE_IPI);
          return;
        }
        break;
      case DELIVERY_INIT:
        // INIT level de-assert (level 0, level-triggered) only synchronised old APIC buses' arbitration IDs.
        if ((icr & ICR_LEVEL_ASSERT) === 0 && (icr & LVT_LEVEL_TRIGGER) !== 0) return;
        break;
      case DELIVERY_NMI:
      case DELIVERY_STARTUP:
      case 2: // SMI: sent, and ignored by processors without SMM
        break;
      default:
        return; // remote read and ExtINT are not valid ICR delivery modes here
    }
    this.host.sendIpi(this, icr, this.x2apicMode ? this.icrHigh >>> 0 : this.icrHigh >>> 24);
  }

  // ---------------------------------------------------------------------------------------------
  // Registers (shared by the xAPIC page and the x2APIC MSRs).

  /** Read result of readRegister(). */
  private readValue = 0;

  /** Reads the 32-bit register at `offset` into readValue; returns an ACCESS_* code. */
  private readRegister(offset: number): number {
    const x2 = this.x2apicMode;
    let value = 0;
    switch (offset) {
      case APIC_ID:
        value = x2 ? this.initialId : this.id;
        break;
      case APIC_VERSION:
        value = APIC_VERSION_VALUE;
        break;
      case APIC_TPR:
        value = this.tpr;
        break;
      case APIC_APR:
        if (x2) return ACCESS_RESERVED;
        value = this.arbitrationPriority();
        break;
      case APIC_PPR:
        value = this.processorPriority();
        break;
      case APIC_EOI:
        if (x2) return ACCESS_WRITE_ONLY;
        break;
      case APIC_RRD:
        if (x2) return ACCESS_RESERVED;
        break;
      case APIC_LDR:
        value = this.ldr;
        break;
      case APIC_DFR:
        if (x2) return ACCESS_RESERVED;
        value = this.dfr | 0x0fff_ffff;
        break;
      case APIC_SVR:
        value = this.svr;
        break;
      case APIC_ESR:
        value = this.esr;
        break;
      case APIC_ICR_LOW:
        value = this.icrLow;
        break;
      case APIC_ICR_HIGH:
        if (x2) return ACCESS_RESERVED;
        value = this.icrHigh;
        break;
      case APIC_TIMER_INITIAL:
        value = this.timer.initial;
        break;
      case APIC_TIMER_CURRENT:
        value = this.timer.currentCount(this.host.nowNs());
        break;
      case APIC_TIMER_DIVIDE:
        value = this.timer.divide;
        break;
      case APIC_SELF_IPI:
        return x2 ? ACCESS_WRITE_ONLY : ACCESS_RESERVED;
      default:
        if (offset >= APIC_ISR && offset < APIC_ISR + 0x80) value = this.isr[(offset - APIC_ISR) >> 4];
        else if (offset >= APIC_TMR && offset < APIC_TMR + 0x80) value = this.tmr[(offset - APIC_TMR) >> 4];
        else if (offset >= APIC_IRR && offset < APIC_IRR + 0x80) value = this.irr[(offset - APIC_IRR) >> 4];
        else if (offset >= APIC_LVT_TIMER && offset <= APIC_LVT_ERROR)
          value = this.lvt[(offset - APIC_LVT_TIMER) >> 4];
        else return ACCESS_RESERVED;
    }
    this.readValue = value | 0;
    return ACCESS_OK;
  }

  /**
   * Writes the 32-bit register at `offset`; returns an ACCESS_* code. With `strict` (x2APIC) a value
   * with reserved bits set is refused before anything changes; otherwise reserved bits are dropped.
   */
  private writeRegister(offset: number, value: number, strict: boolean): number {
    const x2 = this.x2apicMode;
    switch (offset) {
      case APIC_ID:
        if (x2) return ACCESS_READ_ONLY;
        this.id = value & 0xff00_0000;
        return ACCESS_OK;
      case APIC_VERSION:
      case APIC_PPR:
        return ACCESS_READ_ONLY;
      case APIC_APR:
      case APIC_RRD:
        return x2 ? ACCESS_RESERVED : ACCESS_READ_ONLY;
      case APIC_TPR:
        if (strict && (value & ~0xff) !== 0) return ACCESS_RESERVED_BITS;
        this.tpr = value & 0xff;
        if (this.highestDeliverable() >= 0) this.host.interruptStateChanged();
        return ACCESS_OK;
      case APIC_EOI:
        if (strict && value !== 0) return ACCESS_RESERVED_BITS;
        this.endOfInterrupt();
        return ACCESS_OK;
      case APIC_LDR:
        if (x2) return ACCESS_READ_ONLY;
        this.ldr = value & 0xff00_0000;
        return ACCESS_OK;
      case APIC_DFR:
        if (x2) return ACCESS_RESERVED;
        this.dfr = value | 0x0fff_ffff;
        return ACCESS_OK;
      case APIC_SVR:
        if (strict && (value & ~0x3ff) !== 0) return ACCESS_RESERVED_BITS;
        this.writeSvr(value & 0x3ff);
        return ACCESS_OK;
      case APIC_ESR:
        if (strict && value !== 0) return ACCESS_RESERVED_BITS;
        // Any write latches the errors collected since the last write and starts collecting afresh.
        this.esr = this.pendingErrors;
        this.pendingErrors = 0;
        return ACCESS_OK;
      case APIC_ICR_LOW:
        if (strict && (value & ~ICR_LOW_WRITABLE) !== 0) return ACCESS_RESERVED_BITS;
        this.icrLow = value & ICR_LOW_WRITABLE;
        this.sendInterruptCommand();
        return ACCESS_OK;
      case APIC_ICR_HIGH:
        if (x2) return ACCESS_RESERVED;
        this.icrHigh = value & 0xff00_0000;
        return ACCESS_OK;
      case APIC_TIMER_INITIAL:
        this.poll();
        this.timer.setInitialCount(value, this.host.nowNs());
        return ACCESS_OK;
      case APIC_TIMER_CURRENT:
        return ACCESS_READ_ONLY;
      case APIC_TIMER_DIVIDE:
        if (strict && (value & ~0xb) !== 0) return ACCESS_RESERVED_BITS;
        this.poll();
        this.timer.setDivideConfig(value, this.host.nowNs());
        return ACCESS_OK;
      case APIC_SELF_IPI:
        if (!x2) return ACCESS_RESERVED;
        if ((value & ~0xff) !== 0) return ACCESS_RESERVED_BITS;
        this.sendSelfIpi(value & 0xff);
        return ACCESS_OK;
      default:
        if (offset >= APIC_LVT_TIMER && offset <= APIC_LVT_ERROR) {
          return this.writeLvt((offset - APIC_LVT_TIMER) >> 4, value, strict);
        }
        if (offset >= APIC_ISR && offset < APIC_IRR + 0x80) return ACCESS_READ_ONLY;
        return ACCESS_RESERVED;
    }
  }

  private writeSvr(value: number): void {
    this.svr = value;
    // A software-disabled APIC masks every LVT entry (and keeps them masked until enabled again).
    if ((value & SVR_ENABLE) === 0) for (let i = 0; i < LVT_COUNT; i++) this.lvt[i] |= LVT_MASKED;
  }

  private writeLvt(index: number, value: number, strict: boolean): number {
    let writable: number = LVT_WRITABLE[index];
    if (index === LVT_TIMER && !this.tscDeadlineSupported) writable &= ~TIMER_TSC_DEADLINE;
    const readOnly = LVT_DELIVERY_STATUS | (index === LVT_LINT0 || index === LVT_LINT1 ? LVT_REMOTE_IRR : 0);
    if (strict && (value & ~(writable | readOnly)) !== 0) return ACCESS_RESERVED_BITS;
    let entry = (value & writable) | (this.lvt[index] & readOnly & ~LVT_DELIVERY_STATUS);
    if (!this.softwareEnabled) entry |= LVT_MASKED;
    if (index === LVT_TIMER) {
      let mode = entry & LVT_TIMER_MODE;
      if (mode === LVT_TIMER_MODE) {
        // Mode 3 is reserved: x2APIC refuses it, xAPIC keeps the previous mode.
        if (strict) return ACCESS_RESERVED_BITS;
        mode = this.lvt[LVT_TIMER] & LVT_TIMER_MODE;
        entry = (entry & ~LVT_TIMER_MODE) | mode;
      }
      this.poll();
      this.timer.setMode(mode);
    }
    this.lvt[index] = entry;
    return ACCESS_OK;
  }

  private sendSelfIpi(vector: number): void {
    this.icrLow = vector | (SHORTHAND_SELF << ICR_SHORTHAND_SHIFT);
    this.sendInterruptCommand();
  }

  // ---------------------------------------------------------------------------------------------
  // The xAPIC page.

  /**
   * An MMIO read at `offset` (0-0xFFF) in the APIC page, `size` 1, 2 or 4 bytes. Each register
   * occupies the first 4 bytes of its 16; the other 12 read as 0.
   */
  readMmio(offset: number, size: number): number {
    const register = offset & 0xff0;
    const byte = offset & 0xf;
    if (byte >= 4) return 0;
    if (this.readRegister(register) !== ACCESS_OK) {
      this.raiseError(ESR_ILLEGAL_REGISTER);
      return 0;
    }
    const value = this.readValue >>> (byte * 8);
    const bytes = Math.min(size, 4 - byte);
    return bytes >= 4 ? value | 0 : value & ((1 << (bytes * 8)) - 1);
  }

  /** An MMIO write in the APIC page: only aligned 32-bit writes reach a register. */
  writeMmio(offset: number, size: number, value: number): void {
    if (size !== 4 || (offset & 0xf) !== 0) return;
    if (this.writeRegister(offset & 0xff0, value | 0, false) === ACCESS_RESERVED) {
      this.raiseError(ESR_ILLEGAL_REGISTER);
    }
  }

  // ---------------------------------------------------------------------------------------------
  // MSRs (the CPU's MSR hook): IA32_APIC_BASE, IA32_TSC_DEADLINE and the x2APIC registers.

  owns(index: number): boolean {
    return (
      index === MSR_IA32_APIC_BASE ||
      (index >= MSR_X2APIC_FIRST && index <= MSR_X2APIC_LAST) ||
      (index === MSR_IA32_TSC_DEADLINE && this.tscDeadlineSupported)
    );
  }

  /** RDMSR of an owned MSR; false means #GP. */
  read(index: number, result: { resultLow: number; resultHigh: number }): boolean {
    if (index === MSR_IA32_APIC_BASE) {
      result.resultLow = this.apicBaseLow;
      result.resultHigh = this.apicBaseHigh;
      return true;
    }
    if (index === MSR_IA32_TSC_DEADLINE) {
      this.timer.readTscDeadline(result);
      return true;
    }
    if (!this.x2apicMode) return false;
    if (this.readRegister((index - MSR_X2APIC_FIRST) << 4) !== ACCESS_OK) return false;
    result.resultLow = this.readValue;
    result.resultHigh = index === MSR_X2APIC_FIRST + (APIC_ICR_LOW >> 4) ? this.icrHigh : 0;
    return true;
  }

  /**
   * WRMSR of an owned MSR; false means #GP. A write lands in the middle of the vCPU's slice, so the
   * host is told to re-evaluate interrupts and the timer deadline afterwards.
   */
  write(index: number, low: number, high: number): boolean {
    const done = this.writeMsr(index, low, high);
    if (done) this.host.interruptStateChanged();
    return done;
  }

  private writeMsr(index: number, low: number, high: number): boolean {
    if (index === MSR_IA32_APIC_BASE) return this.writeApicBase(low, high);
    if (index === MSR_IA32_TSC_DEADLINE) {
      this.poll();
      if ((this.lvt[LVT_TIMER] & LVT_TIMER_MODE) === TIMER_TSC_DEADLINE) {
        this.timer.setTscDeadline(low, high, this.host.nowNs(), this.host.readTsc());
      }
      return true;
    }
    if (!this.x2apicMode) return false;
    const offset = (index - MSR_X2APIC_FIRST) << 4;
    if (offset === APIC_ICR_LOW) {
      if ((low & ~ICR_LOW_WRITABLE) !== 0) return false;
      this.icrHigh = high | 0;
      this.icrLow = low & ICR_LOW_WRITABLE;
      this.sendInterruptCommand();
      return true;
    }
    if (high !== 0) return false;
    return this.writeRegister(offset, low | 0, true) === ACCESS_OK;
  }

  // ---------------------------------------------------------------------------------------------
  // State.

  getState(): LapicState {
    return {
      apicBaseLow: this.apicBaseLow >>> 0,
      apicBaseHigh: this.apicBaseHigh >>> 0,
      id: this.id >>> 0,
      tpr: this.tpr,
      ldr: this.ldr >>> 0,
      dfr: this.dfr >>> 0,
      svr: this.svr,
      esr: this.esr,
      pendingErrors: this.pendingErrors,
      icrLow: this.icrLow >>> 0,
      icrHigh: this.icrHigh >>> 0,
      lvt: Array.from(this.lvt, (v) => v >>> 0),
      irr: Array.from(this.irr, (v) => v >>> 0),
      isr: Array.from(this.isr, (v) => v >>> 0),
      tmr: Array.from(this.tmr, (v) => v >>> 0),
      timer: this.timer.getState(),
    };
  }

  /**
   * KVM_SET_LAPIC: loads a state from getState(). Fields are masked to what the registers can hold;
   * an IA32_APIC_BASE the CPU could not have reached (reserved bits, x2APIC without support) throws.
   */
  setState(state: LapicState): void {
    const baseLow = state.apicBaseLow | 0;
    const reserved = 0x2ff | (this.x2apicSupported ? 0 : APIC_BASE_EXTD);
    if ((baseLow & reserved) !== 0 || (state.apicBaseHigh & ~this.apicBaseHighMask) !== 0) {
      throw new RangeError(`invalid IA32_APIC_BASE ${state.apicBaseHigh}:${state.apicBaseLow}`);
    }
    if ((baseLow & (APIC_BASE_ENABLE | APIC_BASE_EXTD)) === APIC_BASE_EXTD) {
      throw new RangeError("invalid IA32_APIC_BASE: x2APIC mode with the APIC disabled");
    }
    this.apicBaseLow = (baseLow & ~APIC_BASE_BSP) | (this.bsp ? APIC_BASE_BSP : 0) | 0;
    this.apicBaseHigh = state.apicBaseHigh & this.apicBaseHighMask;
    this.id = state.id & 0xff00_0000;
    this.tpr = state.tpr & 0xff;
    this.ldr = this.x2apicMode ? this.x2apicLogicalId() : state.ldr & 0xff00_0000;
    this.dfr = state.dfr | 0x0fff_ffff;
    this.svr = state.svr & 0x3ff;
    this.esr = state.esr & 0xff;
    this.pendingErrors = state.pendingErrors & 0xff;
    this.icrLow = state.icrLow & ICR_LOW_WRITABLE;
    this.icrHigh = state.icrHigh | 0;
    for (let i = 0; i < LVT_COUNT; i++) {
      const readOnly = i === LVT_LINT0 || i === LVT_LINT1 ? LVT_REMOTE_IRR : 0;
      let writable: number = LVT_WRITABLE[i];
      if (i === LVT_TIMER && !this.tscDeadlineSupported) writable &= ~TIMER_TSC_DEADLINE;
      this.lvt[i] = ((state.lvt[i] ?? LVT_MASKED) & (writable | readOnly)) | 0;
    }
    // Vectors 0-15 cannot be pending or in service.
    for (let w = 0; w < 8; w++) {
      const valid = w === 0 ? 0xffff_0000 : -1;
      this.irr[w] = (state.irr[w] ?? 0) & valid;
      this.isr[w] = (state.isr[w] ?? 0) & valid;
      this.tmr[w] = (state.tmr[w] ?? 0) & valid;
    }
    const timerMode = this.lvt[LVT_TIMER] & LVT_TIMER_MODE;
    this.timer.setState({
      ...state.timer,
      mode: timerMode === LVT_TIMER_MODE ? TIMER_ONE_SHOT : timerMode,
    });
    this.updateMmioPage();
    if (this.highestDeliverable() >= 0) this.host.interruptStateChanged();
  }
}

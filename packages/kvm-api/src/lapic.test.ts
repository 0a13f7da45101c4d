import { CPU_MODEL_P6, type CpuModel } from "@tsvmm/cpu-x86";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  APIC_APR,
  APIC_DFR,
  APIC_EOI,
  APIC_ESR,
  APIC_ICR_HIGH,
  APIC_ID,
  APIC_IRR,
  APIC_ISR,
  APIC_LDR,
  APIC_LVT_ERROR,
  APIC_LVT_LINT0,
  APIC_LVT_LINT1,
  APIC_LVT_TIMER,
  APIC_PPR,
  APIC_SVR,
  APIC_TIMER_CURRENT,
  APIC_TIMER_DIVIDE,
  APIC_TIMER_INITIAL,
  APIC_TMR,
  APIC_TPR,
  APIC_VERSION,
  CPUID_ECX_TSC_DEADLINE,
  CPUID_ECX_X2APIC,
  DELIVERY_FIXED,
  type Lapic,
  MIN_PERIODIC_NS,
  openHypervisor,
  timerDivisor,
  type Vm,
} from "./index.js";

const X2APIC_MODEL: CpuModel = { ...CPU_MODEL_P6, featuresEcx: CPUID_ECX_X2APIC | CPUID_ECX_TSC_DEADLINE };

/** A VM on the instruction clock (time moves only when the test advances it) with `count` vCPUs. */
function setup(count = 1, cpuModel: CpuModel = CPU_MODEL_P6): { vm: Vm; lapics: Lapic[] } {
  const vm = openHypervisor().createVm({ clock: { mode: "instructions" }, cpuModel });
  const lapics: Lapic[] = [];
  for (let i = 0; i < count; i++) lapics.push(vm.createVcpu(i).lapic);
  return { vm, lapics };
}

const read = (lapic: Lapic, register: number): number => lapic.readMmio(register, 4) >>> 0;
const write = (lapic: Lapic, register: number, value: number): void => lapic.writeMmio(register, 4, value);

/** Bit `vector` of a 256-bit register read through the APIC page. */
function bit(lapic: Lapic, base: number, vector: number): boolean {
  return ((read(lapic, base + (vector >> 5) * 16) >>> (vector & 31)) & 1) === 1;
}

function enable(lapic: Lapic): void {
  write(lapic, APIC_SVR, 0x1ff);
}

/** ESR as software sees it: write to latch, then read. */
function errors(lapic: Lapic): number {
  write(lapic, APIC_ESR, 0);
  return read(lapic, APIC_ESR);
}

/** RDMSR through the MSR hook: the value, or "#GP". */
function rdmsr(lapic: Lapic, index: number): number | "#GP" {
  const result = { resultLow: 0, resultHigh: 0 };
  if (!lapic.owns(index) || !lapic.read(index, result)) return "#GP";
  return (result.resultHigh >>> 0) * 2 ** 32 + (result.resultLow >>> 0);
}

function wrmsr(lapic: Lapic, index: number, low: number, high = 0): boolean {
  return lapic.owns(index) && lapic.write(index, low, high);
}

describe("local APIC registers", () => {
  it("has the documented reset state", () => {
    const { lapics } = setup(2);
    const [bsp, ap] = lapics;
    expect(read(bsp, APIC_ID)).toBe(0);
    expect(read(ap, APIC_ID)).toBe(0x0100_0000);
    expect(read(bsp, APIC_VERSION)).toBe(0x0005_0014);
    expect(read(bsp, APIC_SVR)).toBe(0xff);
    expect(read(bsp, APIC_DFR)).toBe(0xffff_ffff);
    expect(read(bsp, APIC_LVT_TIMER)).toBe(0x1_0000);
    expect(read(bsp, APIC_LVT_LINT0)).toBe(0x700); // BSP: ExtINT, unmasked (virtual wire)
    expect(read(ap, APIC_LVT_LINT0)).toBe(0x1_0000);
    expect(read(bsp, APIC_LVT_LINT1)).toBe(0x1_0000);
    expect(rdmsr(bsp, 0x1b)).toBe(0xfee0_0900);
    expect(rdmsr(ap, 0x1b)).toBe(0xfee0_0800);
    expect(bsp.xapicPage).toBe(0xfee00);
    expect(bsp.acceptsPicInterrupts()).toBe(true);
    expect(ap.acceptsPicInterrupts()).toBe(false);
  });

  it("keeps only the bits each register implements", () => {
    const { lapics } = setup();
    const [lapic] = lapics;
    write(lapic, APIC_ID, 0xffff_ffff);
    expect(read(lapic, APIC_ID)).toBe(0xff00_0000);
    write(lapic, APIC_TPR, 0x1ff);
    expect(read(lapic, APIC_TPR)).toBe(0xff);
    write(lapic, APIC_LDR, 0xffff_ffff);
    expect(read(lapic, APIC_LDR)).toBe(0xff00_0000);
    write(lapic, APIC_DFR, 0);
    expect(read(lapic, APIC_DFR)).toBe(0x0fff_ffff);
    write(lapic, APIC_SVR, 0xffff_ffff);
    expect(read(lapic, APIC_SVR)).toBe(0x3ff);
    write(lapic, APIC_ICR_HIGH, 0xffff_ffff);
    expect(read(lapic, APIC_ICR_HIGH)).toBe(0xff00_0000);
    write(lapic, APIC_LVT_TIMER, 0xffff_ffff); // no TSC-deadline on this model: only bit 17 of the mode
    expect(read(lapic, APIC_LVT_TIMER)).toBe(0x3_00ff);
    write(lapic, APIC_LVT_LINT1, 0xffff_ffff);
    expect(read(lapic, APIC_LVT_LINT1)).toBe(0x1_a7ff); // no delivery status, no remote IRR
    write(lapic, APIC_LVT_ERROR, 0xffff_ffff);
    expect(read(lapic, APIC_LVT_ERROR)).toBe(0x1_00ff);
    write(lapic, APIC_TIMER_DIVIDE, 0xffff_ffff);
    expect(read(lapic, APIC_TIMER_DIVIDE)).toBe(0xb);
  });

  it("ignores writes to read-only registers", () => {
    const { lapics } = setup();
    const [lapic] = lapics;
    enable(lapic);
    for (const register of [APIC_VERSION, APIC_PPR, APIC_APR, APIC_ISR, APIC_TMR + 0x10, APIC_IRR + 0x70]) {
      const before = read(lapic, register);
      write(lapic, register, 0xffff_ffff);
      expect(read(lapic, register)).toBe(before);
    }
    write(lapic, APIC_TIMER_CURRENT, 1234);
    expect(read(lapic, APIC_TIMER_CURRENT)).toBe(0);
    expect(read(lapic, APIC_EOI)).toBe(0);
    expect(errors(lapic)).toBe(0);
  });

  it("reads bytes and halves of a register, and drops writes that are not aligned dwords", () => {
    const { lapics } = setup();
    const [lapic] = lapics;
    expect(lapic.readMmio(APIC_VERSION + 2, 1)).toBe(0x05);
    expect(lapic.readMmio(APIC_VERSION, 2)).toBe(0x14);
    expect(lapic.readMmio(APIC_VERSION + 3, 4)).toBe(0);
    expect(lapic.readMmio(APIC_VERSION + 4, 4)).toBe(0);
    lapic.writeMmio(APIC_TPR, 1, 0x40);
    lapic.writeMmio(APIC_TPR + 4, 4, 0x40);
    lapic.writeMmio(APIC_TPR + 1, 4, 0x40);
    expect(read(lapic, APIC_TPR)).toBe(0);
  });

  it("latches errors into the ESR on a write and raises the error interrupt", () => {
    const { lapics } = setup();
    const [lapic] = lapics;
    enable(lapic);
    read(lapic, 0x040); // a register that does not exist
    expect(read(lapic, APIC_ESR)).toBe(0); // not latched yet
    write(lapic, APIC_ESR, 0);
    expect(read(lapic, APIC_ESR)).toBe(0x80);
    expect(errors(lapic)).toBe(0); // each write starts afresh
    write(lapic, APIC_LVT_ERROR, 0xfe);
    write(lapic, 0x3f0, 1); // SELF IPI does not exist in xAPIC mode
    expect(bit(lapic, APIC_IRR, 0xfe)).toBe(true);
    expect(errors(lapic)).toBe(0x80);
    // An error vector below 16 is itself an error, without recursing.
    write(lapic, APIC_LVT_ERROR, 0x05);
    read(lapic, 0x050);
    expect(errors(lapic)).toBe(0x80 | 0x40);
  });

  it("masks every LVT entry while software-disabled", () => {
    const { lapics } = setup();
    const [lapic] = lapics;
    enable(lapic);
    write(lapic, APIC_LVT_TIMER, 0x20);
    write(lapic, APIC_SVR, 0xff);
    expect(read(lapic, APIC_LVT_TIMER)).toBe(0x1_0020);
    expect(read(lapic, APIC_LVT_LINT0)).toBe(0x1_0700);
    write(lapic, APIC_LVT_TIMER, 0x30);
    expect(read(lapic, APIC_LVT_TIMER)).toBe(0x1_0030);
    expect(lapic.acceptsPicInterrupts()).toBe(false);
  });
});

describe("interrupt acceptance, priority and EOI", () => {
  it("computes PPR and APR from TPR, ISR and IRR", () => {
    const { lapics } = setup();
    const [lapic] = lapics;
    enable(lapic);
    write(lapic, APIC_TPR, 0x35);
    expect(read(lapic, APIC_PPR)).toBe(0x35);
    lapic.accept(DELIVERY_FIXED, 0x51, false);
    lapic.acknowledge(0x51);
    expect(read(lapic, APIC_PPR)).toBe(0x50);
    write(lapic, APIC_TPR, 0x65);
    expect(read(lapic, APIC_PPR)).toBe(0x65);
    write(lapic, APIC_EOI, 0);
    write(lapic, APIC_TPR, 0x20);
    lapic.accept(DELIVERY_FIXED, 0x41, false);
    expect(read(lapic, APIC_APR)).toBe(0x40); // IRR class above TPR
    write(lapic, APIC_TPR, 0x50);
    expect(read(lapic, APIC_APR)).toBe(0x50); // TPR at or above IRR and above ISR
  });

  it("delivers the highest vector above the processor priority class, nesting by class", () => {
    const { lapics } = setup();
    const [lapic] = lapics;
    enable(lapic);
    for (const v of [0x40, 0x80, 0x45]) lapic.accept(DELIVERY_FIXED, v, false);
    expect(bit(lapic, APIC_IRR, 0x45)).toBe(true);
    expect(lapic.highestDeliverable()).toBe(0x80);
    lapic.acknowledge(0x80);
    expect(bit(lapic, APIC_ISR, 0x80)).toBe(true);
    expect(bit(lapic, APIC_IRR, 0x80)).toBe(false);
    expect(lapic.highestDeliverable()).toBe(-1); // 0x45 is below class 8
    lapic.accept(DELIVERY_FIXED, 0x91, false);
    expect(lapic.highestDeliverable()).toBe(0x91); // a higher class nests
    lapic.acknowledge(0x91);
    write(lapic, APIC_EOI, 0); // retires 0x91, the highest in service
    expect(bit(lapic, APIC_ISR, 0x91)).toBe(false);
    expect(bit(lapic, APIC_ISR, 0x80)).toBe(true);
    write(lapic, APIC_EOI, 0);
    expect(lapic.highestDeliverable()).toBe(0x45);
    lapic.acknowledge(0x45);
    lapic.accept(DELIVERY_FIXED, 0x4f, false);
    expect(lapic.highestDeliverable()).toBe(-1); // same class as the one in service
    write(lapic, APIC_TPR, 0);
    write(lapic, APIC_EOI, 0);
    write(lapic, APIC_TPR, 0x4f);
    expect(lapic.highestDeliverable()).toBe(-1); // TPR masks class 4
    write(lapic, APIC_TPR, 0x3f);
    expect(lapic.highestDeliverable()).toBe(0x4f);
  });

  it("broadcasts the EOI of a level-triggered vector and keeps edge ones quiet", () => {
    const { vm, lapics } = setup();
    const [lapic] = lapics;
    const eois: number[] = [];
    vm.setLevelTriggeredEoiListener((vector) => eois.push(vector));
    enable(lapic);
    lapic.accept(DELIVERY_FIXED, 0x60, true);
    expect(bit(lapic, APIC_TMR, 0x60)).toBe(true);
    lapic.acknowledge(0x60);
    write(lapic, APIC_EOI, 0);
    lapic.accept(DELIVERY_FIXED, 0x61, false);
    lapic.acknowledge(0x61);
    write(lapic, APIC_EOI, 0);
    write(lapic, APIC_EOI, 0); // nothing in service: no effect
    expect(eois).toEqual([0x60]);
    lapic.accept(DELIVERY_FIXED, 0x60, false);
    expect(bit(lapic, APIC_TMR, 0x60)).toBe(false);
  });

  it("refuses vectors 0-15 and, while software-disabled, fixed interrupts", () => {
    const { lapics } = setup();
    const [lapic] = lapics;
    lapic.accept(DELIVERY_FIXED, 0x40, false);
    expect(lapic.highestDeliverable()).toBe(-1);
    enable(lapic);
    lapic.accept(DELIVERY_FIXED, 0x0f, false);
    expect(read(lapic, APIC_IRR)).toBe(0);
    expect(errors(lapic)).toBe(0x40);
  });

  it("answers an acknowledge with the spurious vector when the priority rose before the CPU took it", () => {
    const { lapics } = setup();
    const [lapic] = lapics;
    write(lapic, APIC_SVR, 0x1ef);
    lapic.accept(DELIVERY_FIXED, 0x50, false);
    lapic.acknowledge(0x50);
    expect(lapic.reconsiderAcknowledged(0x50)).toBe(0x50); // still deliverable: stays in service
    expect(bit(lapic, APIC_ISR, 0x50)).toBe(true);
    write(lapic, APIC_TPR, 0x60);
    expect(lapic.reconsiderAcknowledged(0x50)).toBe(0xef);
    expect(bit(lapic, APIC_ISR, 0x50)).toBe(false);
    expect(bit(lapic, APIC_IRR, 0x50)).toBe(true);
  });
});

describe("the APIC timer", () => {
  it("divides the 1 GHz bus clock by 1 to 128", () => {
    expect([0, 1, 2, 3, 8, 9, 0xa, 0xb].map(timerDivisor)).toEqual([2, 4, 8, 16, 32, 64, 128, 1]);
  });

  it("counts down once and interrupts at zero (one-shot)", () => {
    const { vm, lapics } = setup();
    const [lapic] = lapics;
    enable(lapic);
    write(lapic, APIC_TIMER_DIVIDE, 0xb);
    write(lapic, APIC_LVT_TIMER, 0x40);
    write(lapic, APIC_TIMER_INITIAL, 1000);
    expect(read(lapic, APIC_TIMER_CURRENT)).toBe(1000);
    expect(lapic.nextEventNs()).toBe(1000);
    vm.clock.advanceIdle(250);
    expect(read(lapic, APIC_TIMER_CURRENT)).toBe(750);
    vm.clock.advanceIdle(999);
    lapic.poll();
    expect(lapic.highestDeliverable()).toBe(-1);
    vm.clock.advanceIdle(1000);
    lapic.poll();
    expect(lapic.highestDeliverable()).toBe(0x40);
    expect(read(lapic, APIC_TIMER_CURRENT)).toBe(0);
    expect(lapic.nextEventNs()).toBeUndefined();
    // Divide by 2 (the reset value) doubles the time; writing 0 stops the timer.
    write(lapic, APIC_TIMER_DIVIDE, 0);
    write(lapic, APIC_TIMER_INITIAL, 1000);
    expect(lapic.nextEventNs()).toBe(3000);
    vm.clock.advanceIdle(1500);
    expect(read(lapic, APIC_TIMER_CURRENT)).toBe(750);
    write(lapic, APIC_TIMER_INITIAL, 0);
    expect(lapic.nextEventNs()).toBeUndefined();
    expect(read(lapic, APIC_TIMER_CURRENT)).toBe(0);
  });

  it("reloads in periodic mode, coalescing missed periods into one interrupt", () => {
    const { vm, lapics } = setup();
    const [lapic] = lapics;
    enable(lapic);
    write(lapic, APIC_TIMER_DIVIDE, 0xb);
    write(lapic, APIC_LVT_TIMER, 0x2_0040);
    write(lapic, APIC_TIMER_INITIAL, 300_000);
    vm.clock.advanceIdle(300_000);
    lapic.poll();
    expect(lapic.highestDeliverable()).toBe(0x40);
    expect(read(lapic, APIC_TIMER_CURRENT)).toBe(300_000);
    expect(lapic.nextEventNs()).toBe(600_000);
    vm.clock.advanceIdle(400_000);
    expect(read(lapic, APIC_TIMER_CURRENT)).toBe(200_000);
    lapic.acknowledge(0x40);
    write(lapic, APIC_EOI, 0);
    vm.clock.advanceIdle(1_550_000); // four periods later
    lapic.poll();
    expect(lapic.highestDeliverable()).toBe(0x40);
    lapic.acknowledge(0x40);
    write(lapic, APIC_EOI, 0);
    lapic.poll();
    expect(lapic.highestDeliverable()).toBe(-1); // one interrupt for the missed periods
    expect(lapic.nextEventNs()).toBe(1_800_000);
    expect(read(lapic, APIC_TIMER_CURRENT)).toBe(250_000);
  });

  it("stretches periods shorter than the minimum, keeps counting while masked, and switches modes", () => {
    const { vm, lapics } = setup();
    const [lapic] = lapics;
    enable(lapic);
    write(lapic, APIC_TIMER_DIVIDE, 0xb);
    write(lapic, APIC_LVT_TIMER, 0x3_0040); // periodic, masked
    write(lapic, APIC_TIMER_INITIAL, 1000);
    expect(lapic.nextEventNs()).toBe(MIN_PERIODIC_NS);
    vm.clock.advanceIdle(MIN_PERIODIC_NS / 2);
    expect(read(lapic, APIC_TIMER_CURRENT)).toBe(500);
    vm.clock.advanceIdle(MIN_PERIODIC_NS);
    lapic.poll();
    expect(read(lapic, APIC_IRR + 0x20)).toBe(0); // masked: no interrupt
    expect(lapic.nextEventNs()).toBe(2 * MIN_PERIODIC_NS);
    // Periodic -> one-shot: the current period runs out, then the timer stops.
    write(lapic, APIC_LVT_TIMER, 0x40);
    vm.clock.advanceIdle(2 * MIN_PERIODIC_NS);
    lapic.poll();
    expect(lapic.highestDeliverable()).toBe(0x40);
    expect(lapic.nextEventNs()).toBeUndefined();
  });

  it("keeps a running count across a divide change", () => {
    const { vm, lapics } = setup();
    const [lapic] = lapics;
    enable(lapic);
    write(lapic, APIC_TIMER_DIVIDE, 0xb);
    write(lapic, APIC_LVT_TIMER, 0x40);
    write(lapic, APIC_TIMER_INITIAL, 1000);
    vm.clock.advanceIdle(400);
    write(lapic, APIC_TIMER_DIVIDE, 1); // divide by 4
    expect(read(lapic, APIC_TIMER_CURRENT)).toBe(600);
    expect(lapic.nextEventNs()).toBe(400 + 600 * 4);
  });

  it("fires at a TSC deadline, which clears itself", () => {
    const { vm, lapics } = setup(1, X2APIC_MODEL);
    const [lapic] = lapics;
    enable(lapic);
    expect(rdmsr(lapic, 0x6e0)).toBe(0);
    write(lapic, APIC_LVT_TIMER, 0x4_0040);
    expect(read(lapic, APIC_LVT_TIMER)).toBe(0x4_0040);
    write(lapic, APIC_TIMER_INITIAL, 5); // ignored in TSC-deadline mode
    expect(read(lapic, APIC_TIMER_INITIAL)).toBe(0);
    // The vCPU has retired no instructions: its TSC reads 0.
    expect(wrmsr(lapic, 0x6e0, 5000)).toBe(true);
    expect(rdmsr(lapic, 0x6e0)).toBe(5000);
    expect(lapic.nextEventNs()).toBe(5000);
    expect(read(lapic, APIC_TIMER_CURRENT)).toBe(0);
    vm.clock.advanceIdle(5000);
    lapic.poll();
    expect(lapic.highestDeliverable()).toBe(0x40);
    expect(rdmsr(lapic, 0x6e0)).toBe(0);
    // Leaving TSC-deadline mode disarms it; writes outside that mode are ignored.
    wrmsr(lapic, 0x6e0, 0, 1);
    // The TSC is the VM clock at 1 GHz, idle time included: it reads 5000 now.
    expect(lapic.nextEventNs()).toBe(2 ** 32);
    write(lapic, APIC_LVT_TIMER, 0x40);
    expect(lapic.nextEventNs()).toBeUndefined();
    expect(wrmsr(lapic, 0x6e0, 100)).toBe(true);
    expect(rdmsr(lapic, 0x6e0)).toBe(0);
    expect(lapic.nextEventNs()).toBeUndefined();
  });

  it("has no TSC-deadline mode or MSR unless the CPU model advertises it", () => {
    const { lapics } = setup();
    const [lapic] = lapics;
    write(lapic, APIC_LVT_TIMER, 0x4_0040);
    expect(read(lapic, APIC_LVT_TIMER)).toBe(0x1_0040);
    expect(lapic.owns(0x6e0)).toBe(false);
  });
});

describe("IA32_APIC_BASE and x2APIC", () => {
  it("moves and disables the APIC page, refusing reserved bits", () => {
    const { lapics } = setup();
    const [lapic] = lapics;
    enable(lapic);
    write(lapic, APIC_TPR, 0x20);
    expect(wrmsr(lapic, 0x1b, 0xfed0_0800)).toBe(true);
    expect(rdmsr(lapic, 0x1b)).toBe(0xfed0_0900); // the BSP bit is read-only
    expect(lapic.xapicPage).toBe(0xfed00);
    expect(read(lapic, APIC_TPR)).toBe(0x20);
    expect(wrmsr(lapic, 0x1b, 0xfee0_0801)).toBe(false);
    expect(wrmsr(lapic, 0x1b, 0xfee0_0800, 1)).toBe(false); // above MAXPHYADDR (32 bits)
    expect(wrmsr(lapic, 0x1b, 0xfee0_0c00)).toBe(false); // no x2APIC on this model
    expect(wrmsr(lapic, 0x1b, 0xfee0_0000)).toBe(true);
    expect(lapic.xapicPage).toBe(-1);
    expect(lapic.hardwareEnabled).toBe(false);
    expect(lapic.acceptsPicInterrupts()).toBe(true);
    expect(wrmsr(lapic, 0x1b, 0xfee0_0800)).toBe(true);
    expect(read(lapic, APIC_TPR)).toBe(0); // disabling returned the registers to power-up state
    expect(read(lapic, APIC_SVR)).toBe(0xff);
  });

  it("enters x2APIC mode only through the allowed transitions", () => {
    const { lapics } = setup(1, X2APIC_MODEL);
    const [lapic] = lapics;
    expect(rdmsr(lapic, 0x802)).toBe("#GP"); // xAPIC mode: no x2APIC MSRs
    expect(wrmsr(lapic, 0x1b, 0xfee0_0400)).toBe(false); // x2APIC without enable
    expect(wrmsr(lapic, 0x1b, 0xfee0_0d00)).toBe(true);
    expect(lapic.x2apicMode).toBe(true);
    expect(lapic.xapicPage).toBe(-1);
    expect(wrmsr(lapic, 0x1b, 0xfee0_0800)).toBe(false); // x2APIC -> xAPIC directly
    expect(wrmsr(lapic, 0x1b, 0xfee0_0000)).toBe(true); // -> disabled
    expect(wrmsr(lapic, 0x1b, 0xfee0_0c00)).toBe(false); // disabled -> x2APIC directly
    expect(wrmsr(lapic, 0x1b, 0xfee0_0800)).toBe(true);
    expect(wrmsr(lapic, 0x1b, 0xfee0_0c00)).toBe(true);
  });

  it("offers the registers as MSRs with x2APIC's IDs and faults", () => {
    const { lapics } = setup(18, X2APIC_MODEL);
    const lapic = lapics[17];
    wrmsr(lapic, 0x1b, 0xfee0_0c00);
    expect(rdmsr(lapic, 0x802)).toBe(17);
    expect(rdmsr(lapic, 0x803)).toBe(0x5_0014);
    expect(rdmsr(lapic, 0x80d)).toBe(0x1_0002); // cluster 1, bit 1
    expect(wrmsr(lapic, 0x80f, 0x1ff)).toBe(true);
    expect(rdmsr(lapic, 0x80f)).toBe(0x1ff);
    expect(wrmsr(lapic, 0x808, 0x20)).toBe(true);
    expect(rdmsr(lapic, 0x808)).toBe(0x20);
    for (const index of [0x80b, 0x83f, 0x809, 0x80c, 0x80e, 0x831, 0x840, 0x8ff]) {
      expect(rdmsr(lapic, index), `read ${index.toString(16)}`).toBe("#GP");
    }
    const refused: Array<[number, number, number?]> = [
      [0x802, 17], // read-only
      [0x80d, 0],
      [0x803, 0],
      [0x808, 0x100], // reserved bits
      [0x808, 0, 1], // high half
      [0x80b, 1], // EOI must be 0
      [0x828, 1], // ESR must be 0
      [0x80f, 0x1000],
      [0x83e, 0x4],
      [0x832, 0x6_0000], // reserved timer mode
      [0x832, 0x8_0000],
      [0x830, 0x1000], // ICR bit 12 is reserved in x2APIC
      [0x83f, 0x130],
      [0x80e, 0],
    ];
    for (const [index, low, high] of refused) {
      expect(wrmsr(lapic, index, low, high), `write ${index.toString(16)}`).toBe(false);
    }
    expect(wrmsr(lapic, 0x80b, 0)).toBe(true);
    expect(wrmsr(lapic, 0x828, 0)).toBe(true);
  });

  it("sends self IPIs and 64-bit ICR messages, and refuses lowest priority", () => {
    const { lapics } = setup(2, X2APIC_MODEL);
    const [bsp, ap] = lapics;
    for (const lapic of lapics) {
      wrmsr(lapic, 0x1b, (rdmsr(lapic, 0x1b) as number) | 0x400);
      wrmsr(lapic, 0x80f, 0x1ff);
    }
    expect(wrmsr(bsp, 0x83f, 0x50)).toBe(true);
    expect(bsp.highestDeliverable()).toBe(0x50);
    expect(wrmsr(bsp, 0x830, 0x61, 1)).toBe(true); // fixed, physical, to x2APIC ID 1
    expect(rdmsr(bsp, 0x830)).toBe(2 ** 32 + 0x61);
    expect(ap.highestDeliverable()).toBe(0x61);
    expect(wrmsr(bsp, 0x83f, 0x05)).toBe(true);
    expect(wrmsr(bsp, 0x830, 0x171, 1)).toBe(true); // lowest priority
    expect(ap.highestDeliverable()).toBe(0x61);
    wrmsr(bsp, 0x828, 0);
    expect(rdmsr(bsp, 0x828)).toBe(0x20 | 0x10); // send illegal vector, redirectable IPI
  });
});

describe("LAPIC state", () => {
  it("round-trips through JSON into another APIC", () => {
    const { vm, lapics } = setup(1, X2APIC_MODEL);
    const [lapic] = lapics;
    enable(lapic);
    write(lapic, APIC_TPR, 0x10);
    write(lapic, APIC_LVT_TIMER, 0x2_0040);
    write(lapic, APIC_TIMER_DIVIDE, 0x3);
    write(lapic, APIC_TIMER_INITIAL, 50_000);
    lapic.accept(DELIVERY_FIXED, 0x70, true);
    lapic.accept(DELIVERY_FIXED, 0x90, false);
    lapic.acknowledge(0x90);
    read(lapic, 0x040);
    vm.clock.advanceIdle(123_456);
    const state = JSON.parse(JSON.stringify(lapic.getState()));
    const other = setup(1, X2APIC_MODEL).lapics[0];
    other.setState(state);
    expect(other.getState()).toEqual(lapic.getState());
    expect(other.highestDeliverable()).toBe(-1);
    expect(other.nextEventNs()).toBe(lapic.nextEventNs());
    expect(() => other.setState({ ...state, apicBaseLow: 0xfee0_0401 })).toThrow(RangeError);
  });

  it("survives arbitrary register writes and states without breaking its invariants", () => {
    const { vm, lapics } = setup(2, X2APIC_MODEL);
    const [lapic] = lapics;
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.integer({ min: 0, max: 0xfff }), fc.integer(), fc.constantFrom(1, 2, 4)), {
          maxLength: 40,
        }),
        fc.nat(1_000_000),
        (writes, idle) => {
          for (const [offset, value, size] of writes) lapic.writeMmio(offset & ~3, size, value);
          vm.clock.advanceIdle(vm.clock.nowNs() + idle);
          lapic.poll();
          const vector = lapic.highestDeliverable();
          expect(vector === -1 || (vector >= 16 && vector <= 255)).toBe(true);
          const state = lapic.getState();
          expect(state.irr[0] & 0xffff).toBe(0);
          const next = lapic.nextEventNs();
          expect(next === undefined || Number.isFinite(next)).toBe(true);
          const copy = setup(2, X2APIC_MODEL).lapics[0];
          copy.setState(JSON.parse(JSON.stringify(state)));
          expect(copy.getState()).toEqual(state);
        },
      ),
      { numRuns: 200 },
    );
  });
});

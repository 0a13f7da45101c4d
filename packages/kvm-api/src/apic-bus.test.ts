import { CPU_MODEL_P6, type CpuModel } from "@tsvmm/cpu-x86";
import { describe, expect, it } from "vitest";
import {
  APIC_DFR,
  APIC_ICR_HIGH,
  APIC_ICR_LOW,
  APIC_ID,
  APIC_LDR,
  APIC_SVR,
  APIC_TPR,
  CPUID_ECX_X2APIC,
  type Lapic,
  openHypervisor,
  type Vcpu,
  type Vm,
} from "./index.js";

function setup(count: number, cpuModel: CpuModel = CPU_MODEL_P6): { vm: Vm; vcpus: Vcpu[]; lapics: Lapic[] } {
  const vm = openHypervisor().createVm({ clock: { mode: "instructions" }, cpuModel });
  const vcpus: Vcpu[] = [];
  for (let i = 0; i < count; i++) vcpus.push(vm.createVcpu(i));
  const lapics = vcpus.map((v) => v.lapic);
  for (const lapic of lapics) lapic.writeMmio(APIC_SVR, 4, 0x1ff);
  return { vm, vcpus, lapics };
}

/** Sends an IPI through `lapic`'s xAPIC ICR. */
function sendIpi(lapic: Lapic, destination: number, icrLow: number): void {
  lapic.writeMmio(APIC_ICR_HIGH, 4, destination << 24);
  lapic.writeMmio(APIC_ICR_LOW, 4, icrLow);
}

/** Which APICs have `vector` pending. */
function receivers(lapics: Lapic[], vector: number): number[] {
  return lapics.flatMap((lapic, i) => (lapic.highestDeliverable() === vector ? [i] : []));
}

function acknowledgeAll(lapics: Lapic[]): void {
  for (const lapic of lapics) {
    for (let v = lapic.highestDeliverable(); v >= 0; v = lapic.highestDeliverable()) {
      lapic.acknowledge(v);
      lapic.writeMmio(0xb0, 4, 0);
    }
  }
}

describe("the APIC bus", () => {
  it("delivers fixed IPIs by physical ID, broadcast and shorthand", () => {
    const { lapics } = setup(4);
    sendIpi(lapics[0], 2, 0x40);
    expect(receivers(lapics, 0x40)).toEqual([2]);
    acknowledgeAll(lapics);
    sendIpi(lapics[0], 0xff, 0x41);
    expect(receivers(lapics, 0x41)).toEqual([0, 1, 2, 3]);
    acknowledgeAll(lapics);
    sendIpi(lapics[1], 0, 0x4_0042); // self
    expect(receivers(lapics, 0x42)).toEqual([1]);
    acknowledgeAll(lapics);
    sendIpi(lapics[1], 0, 0x8_0043); // all including self
    expect(receivers(lapics, 0x43)).toEqual([0, 1, 2, 3]);
    acknowledgeAll(lapics);
    sendIpi(lapics[1], 0, 0xc_0044); // all excluding self
    expect(receivers(lapics, 0x44)).toEqual([0, 2, 3]);
    acknowledgeAll(lapics);
    sendIpi(lapics[0], 7, 0x45); // nobody has ID 7
    expect(receivers(lapics, 0x45)).toEqual([]);
    // A changed APIC ID is what physical destinations match.
    lapics[3].writeMmio(APIC_ID, 4, 0x0700_0000);
    sendIpi(lapics[0], 7, 0x46);
    expect(receivers(lapics, 0x46)).toEqual([3]);
  });

  it("matches logical destinations in the flat and cluster models", () => {
    const { lapics } = setup(4);
    lapics.forEach((lapic, i) => {
      lapic.writeMmio(APIC_LDR, 4, (1 << i) << 24);
    });
    sendIpi(lapics[0], 0b1010, 0x850); // logical, flat
    expect(receivers(lapics, 0x50)).toEqual([1, 3]);
    acknowledgeAll(lapics);
    // Cluster model: cluster 2 members 0b0001 and 0b0100 (APICs 0 and 2), cluster 3 member 0b0001 (APIC 1).
    const ldrs = [0x21, 0x31, 0x24, 0x28];
    lapics.forEach((lapic, i) => {
      lapic.writeMmio(APIC_DFR, 4, 0x0fff_ffff);
      lapic.writeMmio(APIC_LDR, 4, ldrs[i] << 24);
    });
    sendIpi(lapics[0], 0x25, 0x851);
    expect(receivers(lapics, 0x51)).toEqual([0, 2]);
    acknowledgeAll(lapics);
    sendIpi(lapics[0], 0xff, 0x852); // broadcast to every cluster
    expect(receivers(lapics, 0x52)).toEqual([0, 1, 2, 3]);
  });

  it("gives a lowest-priority interrupt to the enabled APIC with the lowest arbitration priority", () => {
    const { lapics } = setup(3);
    lapics.forEach((lapic) => {
      lapic.writeMmio(APIC_LDR, 4, 0xff00_0000);
    });
    lapics[0].writeMmio(APIC_TPR, 4, 0x40);
    lapics[1].writeMmio(APIC_TPR, 4, 0x20);
    lapics[2].writeMmio(APIC_TPR, 4, 0x30);
    sendIpi(lapics[0], 0xff, 0x960); // lowest priority, logical
    expect(receivers(lapics, 0x60)).toEqual([1]);
    lapics[1].writeMmio(APIC_SVR, 4, 0xff); // software-disabled APICs do not take part
    sendIpi(lapics[0], 0xff, 0x961);
    expect(receivers(lapics, 0x61)).toEqual([2]);
  });

  it("decodes MSIs: destination, mode, vector, trigger and the redirection hint", () => {
    const { vm, lapics } = setup(3);
    const eois: number[] = [];
    vm.setLevelTriggeredEoiListener((v) => eois.push(v));
    expect(vm.signalMsi(0xfee0_2000, 0x0070)).toBe(true);
    expect(receivers(lapics, 0x70)).toEqual([2]);
    const ap = lapics[2];
    ap.acknowledge(0x70);
    ap.writeMmio(0xb0, 4, 0);
    expect(eois).toEqual([]);
    expect(vm.signalMsi(0xfee0_2000, 0x8071)).toBe(true); // level-triggered
    ap.acknowledge(0x71);
    ap.writeMmio(0xb0, 4, 0);
    expect(eois).toEqual([0x71]);
    lapics.forEach((lapic, i) => {
      lapic.writeMmio(APIC_LDR, 4, (1 << i) << 24);
      lapic.writeMmio(APIC_TPR, 4, i === 1 ? 0 : 0x50);
    });
    expect(vm.signalMsi(0xfee0_7000 | 0xc, 0x0072)).toBe(true); // logical APICs 0-2, hint: lowest priority
    expect(receivers(lapics, 0x72)).toEqual([1]);
    expect(vm.signalMsi(0xfec0_0000, 0x0073)).toBe(false);
  });

  it("routes x2APIC IPIs by 32-bit ID and cluster logical ID", () => {
    const { lapics } = setup(20, { ...CPU_MODEL_P6, featuresEcx: CPUID_ECX_X2APIC });
    for (const lapic of lapics) lapic.write(0x1b, 0xfee0_0c00 | (lapic.bsp ? 0x100 : 0), 0);
    lapics[0].write(0x830, 0x53, 19);
    expect(receivers(lapics, 0x53)).toEqual([19]);
    acknowledgeAll(lapics);
    lapics[0].write(0x830, 0x854, (1 << 16) | 0b1001); // cluster 1 (IDs 16-31), members 0 and 3
    expect(receivers(lapics, 0x54)).toEqual([16, 19]);
    acknowledgeAll(lapics);
    lapics[0].write(0x830, 0x55, 0xffff_ffff);
    expect(receivers(lapics, 0x55)).toHaveLength(20);
  });
});

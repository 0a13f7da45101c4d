import { describe, expect, it } from "vitest";
import type { BusDevice } from "./bus-device.js";
import { type PciBarMappingChange, PciBus, pciPirq } from "./pci-bus.js";
import { PciFunction } from "./pci-function.js";
import { PciCommand, PciConfig, PciHeaderType, PciInterruptPin } from "./pci-registers.js";

const region: BusDevice = { read: (_b, _o, data) => data.fill(0), write: () => {} };

function device(interruptPin: number = PciInterruptPin.IntA) {
  return new PciFunction({ vendorId: 0x1234, deviceId: 0x1111, classCode: 0x030000, interruptPin });
}

function pirqHarness() {
  const levels = [false, false, false, false];
  const changes: string[] = [];
  const bus = new PciBus({
    pirqLines: [0, 1, 2, 3].map((pirq) => ({
      set: (asserted: boolean) => {
        levels[pirq] = asserted;
        changes.push(`${"ABCD"[pirq]}${asserted ? "+" : "-"}`);
      },
    })),
  });
  return { bus, levels, changes };
}

describe("pciPirq", () => {
  it("follows QEMU's i440FX swizzle", () => {
    // Slot 1 INTA# -> PIRQA#, slot 2 INTA# -> PIRQB#, slot 0 INTA# -> PIRQD#; INTB# is one further.
    expect([0, 1, 2, 3, 4, 5].map((slot) => pciPirq(slot, PciInterruptPin.IntA))).toEqual([3, 0, 1, 2, 3, 0]);
    expect([1, 2, 3, 4].map((pin) => pciPirq(1, pin))).toEqual([0, 1, 2, 3]);
    expect([1, 2, 3, 4].map((pin) => pciPirq(3, pin))).toEqual([2, 3, 0, 1]);
  });
});

describe("PciBus", () => {
  it("routes configuration accesses and reads all ones from absent functions", () => {
    const bus = new PciBus();
    bus.register(device(), 3);
    const data = new Uint8Array(4);
    expect(bus.readConfig(3, 0, 0, data)).toBe(true);
    expect([...data]).toEqual([0x34, 0x12, 0x11, 0x11]);
    expect(bus.readConfig(3, 1, 0, data)).toBe(false);
    expect([...data]).toEqual([0xff, 0xff, 0xff, 0xff]);
    expect(bus.readConfig(4, 0, 0, data)).toBe(false);
    expect(bus.readConfig(32, 0, 0, data)).toBe(false);
    expect(bus.writeConfig(4, 0, PciConfig.InterruptLine, new Uint8Array([5]))).toBe(false);
    expect(bus.writeConfig(3, 0, PciConfig.InterruptLine, new Uint8Array([5]))).toBe(true);
    expect(bus.functionAt(3, 0)?.config.byte(PciConfig.InterruptLine)).toBe(5);
    expect(bus.functionAt(-1, 0)).toBeUndefined();
  });

  it("rejects bad and taken slots, and a function registered twice", () => {
    const bus = new PciBus();
    const fn = device();
    bus.register(fn, 1);
    expect(() => bus.register(device(), 1)).toThrow(RangeError);
    expect(() => bus.register(device(), 32)).toThrow(RangeError);
    expect(() => bus.register(device(), 2, 8)).toThrow(RangeError);
    expect(() => bus.register(fn, 2)).toThrow(RangeError);
    expect(() => new PciBus({ pirqLines: [{ set: () => {} }] })).toThrow(RangeError);
  });

  it("sets the multi-function bit on every function of a device with several", () => {
    const bus = new PciBus();
    const f0 = device();
    const f3 = device();
    const other = device();
    bus.register(f0, 1, 0);
    bus.register(other, 2, 0);
    expect(f0.config.byte(PciConfig.HeaderType)).toBe(PciHeaderType.Normal);
    bus.register(f3, 1, 3);
    expect(f0.config.byte(PciConfig.HeaderType)).toBe(PciHeaderType.MultiFunction);
    expect(f3.config.byte(PciConfig.HeaderType)).toBe(PciHeaderType.MultiFunction);
    expect(other.config.byte(PciConfig.HeaderType)).toBe(PciHeaderType.Normal);
  });

  it("swizzles INTx# onto the PIRQ lines and ORs the functions sharing one", () => {
    const h = pirqHarness();
    const slot1 = device(PciInterruptPin.IntA); // PIRQA#
    const slot5 = device(PciInterruptPin.IntA); // PIRQA# too
    const slot2b = device(PciInterruptPin.IntB); // PIRQC#
    h.bus.register(slot1, 1);
    h.bus.register(slot5, 5);
    h.bus.register(slot2b, 2);
    slot1.setInterrupt(true);
    slot5.setInterrupt(true);
    slot1.setInterrupt(false);
    expect(h.levels).toEqual([true, false, false, false]);
    slot2b.setInterrupt(true);
    slot5.setInterrupt(false);
    expect(h.changes).toEqual(["A+", "C+", "A-"]);
    expect(h.bus.pirqAsserted(2)).toBe(true);
    // Interrupt disable takes the function off the wire.
    slot2b.writeConfig(PciConfig.Command, new Uint8Array([0x00, PciCommand.InterruptDisable >> 8]));
    expect(h.levels).toEqual([false, false, false, false]);
  });

  it("reports an interrupt already asserted when the function is registered", () => {
    const h = pirqHarness();
    const fn = device(PciInterruptPin.IntD);
    fn.setInterrupt(true);
    h.bus.register(fn, 2); // (2 + 4 - 2) & 3 = 0: PIRQA#
    expect(h.changes).toEqual(["A+"]);
  });

  it("tells the VMM where BARs move, with the slot", () => {
    const changes: PciBarMappingChange[] = [];
    const bus = new PciBus({ onBarMapping: (change) => changes.push(change) });
    const fn = new PciFunction({
      vendorId: 1,
      deviceId: 2,
      classCode: 0,
      bars: [{ index: 4, kind: "memory64", size: 0x4000, region }],
    });
    bus.register(fn, 4, 2);
    bus.writeConfig(4, 2, 0x20, new Uint8Array([0x00, 0x00, 0x00, 0xfe]));
    bus.writeConfig(4, 2, PciConfig.Command, new Uint8Array([PciCommand.MemorySpace, 0]));
    bus.reset();
    expect(
      changes.map(({ device, functionNumber, bar, oldAddress, newAddress }) => ({
        device,
        functionNumber,
        index: bar.index,
        region: bar.region,
        oldAddress,
        newAddress,
      })),
    ).toEqual([
      { device: 4, functionNumber: 2, index: 4, region, oldAddress: undefined, newAddress: 0xfe000000 },
      { device: 4, functionNumber: 2, index: 4, region, oldAddress: 0xfe000000, newAddress: undefined },
    ]);
    expect(changes[0].pciFunction).toBe(fn);
  });

  it("writes the routed IRQ into each function's interrupt line, as firmware does", () => {
    const bus = new PciBus();
    const slot1 = device(PciInterruptPin.IntA);
    const slot3 = device(PciInterruptPin.IntA);
    const noPin = device(PciInterruptPin.None);
    bus.register(slot1, 1);
    bus.register(slot3, 3);
    bus.register(noPin, 4);
    const routes = [10, 10, undefined, 11];
    bus.assignInterruptLines((pirq) => routes[pirq]);
    expect(slot1.config.byte(PciConfig.InterruptLine)).toBe(10);
    expect(slot3.config.byte(PciConfig.InterruptLine)).toBe(0xff); // PIRQC# goes nowhere
    expect(noPin.config.byte(PciConfig.InterruptLine)).toBe(0);
  });

  it("snapshots every function by slot and restores them", () => {
    const a = pirqHarness();
    const fnA = device();
    a.bus.register(fnA, 1);
    a.bus.writeConfig(1, 0, PciConfig.InterruptLine, new Uint8Array([9]));
    fnA.setInterrupt(true);
    const state = JSON.parse(JSON.stringify(a.bus.getState()));
    expect(Object.keys(state.functions)).toEqual(["01.0"]);
    const b = pirqHarness();
    const fnB = device();
    b.bus.register(fnB, 1);
    b.bus.setState(state);
    expect(fnB.config.byte(PciConfig.InterruptLine)).toBe(9);
    expect(b.levels).toEqual([true, false, false, false]);
    b.bus.setState({ functions: {} });
    b.bus.setState(null as never);
    expect(fnB.config.byte(PciConfig.InterruptLine)).toBe(9);
  });
});

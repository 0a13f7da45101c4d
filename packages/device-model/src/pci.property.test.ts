import fc from "fast-check";
import { describe, expect, it } from "vitest";
import type { BusDevice } from "./bus-device.js";
import { PciBus, pciPirq } from "./pci-bus.js";
import { PciFunction } from "./pci-function.js";
import { PciHostBridge } from "./pci-host-bridge.js";
import { PciCapabilityId, PciConfig, PciInterruptPin, PciStatus } from "./pci-registers.js";
import { Piix3IsaBridge } from "./piix3-isa-bridge.js";

const region: BusDevice = { read: (_b, _o, data) => data.fill(0), write: () => {} };

/** A PC's PCI side: host bridge, PIIX3, and two devices with BARs, capabilities and interrupt pins. */
function machine() {
  const irqs = new Array<boolean>(16).fill(false);
  const mapped = new Map<string, number>();
  const mappingErrors: string[] = [];
  const isa = new Piix3IsaBridge({
    irqLine: (irq) => ({ set: (asserted) => (irqs[irq] = asserted) }),
    pirqRoutes: [10, 0x80, 11, 11],
  });
  const bus = new PciBus({
    pirqLines: [0, 1, 2, 3].map((n) => isa.pirqLine(n)),
    onBarMapping: ({ device, functionNumber, bar, oldAddress, newAddress }) => {
      const key = `${device}.${functionNumber}.${bar.index}`;
      if (mapped.get(key) !== oldAddress)
        mappingErrors.push(`${key}: told ${oldAddress}, had ${mapped.get(key)}`);
      if (newAddress === undefined) mapped.delete(key);
      else mapped.set(key, newAddress);
    },
  });
  const host = new PciHostBridge({ bus, resetControl: isa.resetControl });
  bus.register(isa.pciFunction, 1);
  const devices: PciFunction[] = [];
  for (const [slot, pin] of [
    [3, PciInterruptPin.IntA],
    [4, PciInterruptPin.IntC],
  ]) {
    const fn = new PciFunction({
      vendorId: 0x1af4,
      deviceId: 0x1040 + slot,
      classCode: 0xff0000,
      interruptPin: pin,
      bars: [
        { index: 0, kind: "io", size: 64, region },
        { index: 1, kind: "memory32", size: 0x1000, region },
        { index: 2, kind: "memory64", size: 0x4000, prefetchable: true, region },
      ],
    });
    const cap = fn.addCapability(PciCapabilityId.MsiX, 12);
    fn.defineRegister(cap + 2, 2, { value: 0x0003, writable: 0xc000 });
    fn.addCapability(PciCapabilityId.VendorSpecific, 16);
    fn.defineRegister(0x80, 4, { value: 0xdead0000, writable: 0x0000ffff, writeOneToClear: 0x00f00000 });
    bus.register(fn, slot);
    devices.push(fn);
  }
  const all = [host.pciFunction, isa.pciFunction, ...devices];
  const locations = [
    [0, 0],
    [1, 0],
    [3, 0],
    [4, 0],
  ];
  return { irqs, mapped, mappingErrors, isa, bus, host, devices, all, locations };
}

type Op =
  | { kind: "out"; port: number; width: number; value: number }
  | { kind: "in"; port: number; width: number }
  | { kind: "select"; device: number; fn: number; register: number; enable: boolean }
  | { kind: "interrupt"; device: number; asserted: boolean }
  | { kind: "reset" };

const op: fc.Arbitrary<Op> = fc.oneof(
  {
    weight: 3,
    arbitrary: fc.record({
      kind: fc.constant("select" as const),
      device: fc.constantFrom(0, 1, 3, 4, 5, 31),
      fn: fc.constantFrom(0, 0, 0, 1, 7),
      register: fc.oneof(
        fc.integer({ min: 0, max: 63 }).map((n) => n * 4),
        fc.constantFrom(0x04, 0x10, 0x14, 0x18, 0x1c, 0x40, 0x60, 0x80),
      ),
      enable: fc.boolean(),
    }),
  },
  {
    weight: 6,
    arbitrary: fc.record({
      kind: fc.constant("out" as const),
      port: fc.integer({ min: 0xcf8, max: 0xcff }),
      width: fc.constantFrom(1, 2, 4),
      value: fc.oneof(fc.nat(0xffffffff), fc.constantFrom(0xffffffff, 0, 0x0547, 0xfe000000, 0xc001)),
    }),
  },
  {
    weight: 3,
    arbitrary: fc.record({
      kind: fc.constant("in" as const),
      port: fc.integer({ min: 0xcf8, max: 0xcff }),
      width: fc.constantFrom(1, 2, 4),
    }),
  },
  {
    weight: 2,
    arbitrary: fc.record({
      kind: fc.constant("interrupt" as const),
      device: fc.nat(1),
      asserted: fc.boolean(),
    }),
  },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant("reset" as const) }) },
);

function apply(m: ReturnType<typeof machine>, o: Op): void {
  switch (o.kind) {
    case "select": {
      const address = ((o.enable ? 0x80000000 : 0) | (o.device << 11) | (o.fn << 8) | o.register) >>> 0;
      apply(m, { kind: "out", port: 0xcf8, width: 4, value: address });
      return;
    }
    case "out":
    case "in": {
      const data = new Uint8Array(o.width);
      if (o.kind === "out") for (let i = 0; i < o.width; i++) data[i] = o.value >>> (8 * i);
      const [device, base] = o.port < 0xcfc ? [m.host.configAddress, 0xcf8] : [m.host.configData, 0xcfc];
      // A PIO bus splits an access that runs past a device's 4 ports into bytes; the device sees the rest.
      const offset = o.port - base;
      if (offset + o.width > 4) {
        for (let i = 0; i < o.width && offset + i < 4; i++) {
          const byte = data.subarray(i, i + 1);
          if (o.kind === "out") device.write(base, offset + i, byte);
          else device.read(base, offset + i, byte);
        }
      } else if (o.kind === "out") device.write(base, offset, data);
      else device.read(base, offset, data);
      return;
    }
    case "interrupt":
      m.devices[o.device].setInterrupt(o.asserted);
      return;
    case "reset":
      m.bus.reset();
      m.host.reset();
  }
}

/** The bits of every byte the guest cannot change, except the interrupt status bit (the device's). */
function readOnlyImage(fn: PciFunction): number[] {
  const image: number[] = [];
  for (let at = 0; at < 256; at++) {
    let guest = fn.config.writableMask(at) | fn.config.writeOneToClearMask(at);
    if (at === PciConfig.Status) guest |= PciStatus.InterruptStatus;
    image.push(fn.config.byte(at) & ~guest);
  }
  return image;
}

describe("PCI properties", () => {
  it("random configuration traffic never throws, never changes read-only bits, and keeps wires consistent", () => {
    fc.assert(
      fc.property(fc.array(op, { maxLength: 150 }), (ops) => {
        const m = machine();
        const images = m.all.map(readOnlyImage);
        for (const o of ops) {
          const w1cBefore = m.devices.map((fn) => fn.config.byte(0x82));
          apply(m, o);
          expect(m.all.map(readOnlyImage)).toEqual(images);
          // Write-1-to-clear bits only ever clear (the device never sets them here); a reset restores them.
          if (o.kind !== "reset") {
            expect(m.devices.map((fn, i) => fn.config.byte(0x82) & 0xf0 & ~w1cBefore[i])).toEqual([0, 0]);
          } else {
            expect(m.devices.map((fn) => fn.config.byte(0x82) & 0xf0)).toEqual([0xa0, 0xa0]); // 0xdead0000
          }
          // The status bit shows each device's request.
          for (const fn of m.devices) {
            expect((fn.config.word(PciConfig.Status) & PciStatus.InterruptStatus) !== 0).toBe(
              fn.interruptRequested,
            );
          }
          // Every ISA IRQ is the OR of the PIRQs routed to it, each PIRQ the OR of the pins swizzled onto it.
          const expected = new Array<boolean>(16).fill(false);
          for (const [index, fn] of m.devices.entries()) {
            if (!fn.interruptAsserted) continue;
            const irq = m.isa.routeOf(pciPirq(3 + index, fn.interruptPin));
            if (irq !== undefined) expected[irq] = true;
          }
          expect(m.irqs).toEqual(expected);
        }
        // The VMM's view built from the mapping events matches the functions.
        expect(m.mappingErrors).toEqual([]);
        for (const [index, fn] of m.devices.entries()) {
          for (const bar of [0, 1, 2]) expect(m.mapped.get(`${3 + index}.0.${bar}`)).toBe(fn.barAddress(bar));
        }
      }),
      {
        numRuns: 300,
        examples: [
          // A write clearing W1C bits, then a reset that sets them again (found by a random seed).
          [
            [
              { kind: "select", device: 3, fn: 0, register: 0x80, enable: true },
              { kind: "out", port: 0xcfc, width: 4, value: 0x15600000 },
              { kind: "reset" },
            ],
          ],
        ],
      },
    );
  });

  it("absent functions always read all ones", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 31 }).filter((d) => ![0, 1, 3, 4].includes(d)),
        fc.nat(7),
        fc.nat(63),
        fc.integer({ min: 0, max: 3 }),
        (device, fn, register, offset) => {
          const m = machine();
          const data = new Uint8Array(1);
          data[0] = 0x12;
          apply(m, { kind: "select", device, fn, register: register * 4, enable: true });
          m.host.configData.write(0xcfc, offset, data);
          m.host.configData.read(0xcfc, offset, data);
          expect(data[0]).toBe(0xff);
        },
      ),
    );
  });

  it("a restored PCI snapshot reads back exactly and reports the same mappings", () => {
    fc.assert(
      fc.property(fc.array(op, { maxLength: 100 }), (ops) => {
        const a = machine();
        for (const o of ops) apply(a, o);
        const b = machine();
        b.bus.setState(JSON.parse(JSON.stringify(a.bus.getState())));
        b.host.setState(JSON.parse(JSON.stringify(a.host.getState())));
        expect(b.bus.getState()).toEqual(a.bus.getState());
        expect(b.host.getState()).toEqual(a.host.getState());
        expect([...b.mapped.entries()].sort()).toEqual([...a.mapped.entries()].sort());
        expect(b.irqs).toEqual(a.irqs);
        expect(b.mappingErrors).toEqual([]);
      }),
      { numRuns: 200 },
    );
  });
});

import { describe, expect, it } from "vitest";
import { PciBus } from "./pci-bus.js";
import { PciFunction } from "./pci-function.js";
import { PciConfig, PciInterruptPin } from "./pci-registers.js";
import { PIIX3_PIRQ_ROUTE, Piix3IsaBridge } from "./piix3-isa-bridge.js";

function harness(pirqRoutes?: number[]) {
  const irqs = new Array<boolean>(16).fill(false);
  const changes: string[] = [];
  const resets: string[] = [];
  const requested: number[] = [];
  const isa = new Piix3IsaBridge({
    irqLine: (irq) => {
      requested.push(irq);
      return {
        set: (asserted) => {
          irqs[irq] = asserted;
          changes.push(`${irq}${asserted ? "+" : "-"}`);
        },
      };
    },
    pirqRoutes,
    onReset: (kind) => resets.push(kind),
  });
  const bus = new PciBus({ pirqLines: [0, 1, 2, 3].map((n) => isa.pirqLine(n)) });
  bus.register(isa.pciFunction, 1);
  const route = (pirq: number, value: number) =>
    bus.writeConfig(1, 0, PIIX3_PIRQ_ROUTE + pirq, new Uint8Array([value]));
  const slot = (device: number, pin: number = PciInterruptPin.IntA) => {
    const fn = new PciFunction({ vendorId: 1, deviceId: 2, classCode: 0, interruptPin: pin });
    bus.register(fn, device);
    return fn;
  };
  return { isa, bus, irqs, changes, resets, requested, route, slot };
}

describe("Piix3IsaBridge identity", () => {
  it("is an Intel PIIX3 ISA bridge with the chip's reset values", () => {
    const h = harness();
    const c = h.isa.pciFunction.config;
    expect(c.dword(PciConfig.VendorId)).toBe(0x70008086);
    expect(c.dword(PciConfig.RevisionId)).toBe(0x06010000);
    expect(c.word(PciConfig.Command)).toBe(0x0007);
    expect(c.word(PciConfig.Status)).toBe(0x0200);
    expect(c.dword(PIIX3_PIRQ_ROUTE)).toBe(0x80808080);
    expect(h.requested).toEqual([3, 4, 5, 6, 7, 9, 10, 11, 12, 14, 15]);
  });
});

describe("Piix3IsaBridge PIRQ routing", () => {
  it("routes nothing until the routes are programmed", () => {
    const h = harness();
    const fn = h.slot(5); // PIRQA#
    fn.setInterrupt(true);
    expect(h.changes).toEqual([]);
    expect(h.isa.routeOf(0)).toBeUndefined();
    // Programming the route while the PIRQ is asserted raises the IRQ at once.
    h.route(0, 10);
    expect(h.changes).toEqual(["10+"]);
    expect(h.isa.routeOf(0)).toBe(10);
  });

  it("drives the routed IRQ and ORs PIRQs sharing an IRQ", () => {
    const h = harness([10, 10, 11, 11]);
    const a = h.slot(5); // PIRQA# -> 10
    const b = h.slot(2); // PIRQB# -> 10
    const c = h.slot(3); // PIRQC# -> 11
    a.setInterrupt(true);
    b.setInterrupt(true);
    a.setInterrupt(false);
    expect(h.irqs[10]).toBe(true);
    b.setInterrupt(false);
    c.setInterrupt(true);
    expect(h.changes).toEqual(["10+", "10-", "11+"]);
  });

  it("moves an asserted PIRQ to its new IRQ, lowering the old one first", () => {
    const h = harness([10, 0x80, 0x80, 0x80]);
    h.slot(5).setInterrupt(true);
    h.route(0, 5);
    expect(h.changes).toEqual(["10+", "10-", "5+"]);
    h.route(0, 0x85); // bit 7: disabled
    expect(h.changes.at(-1)).toBe("5-");
  });

  it("routes reserved IRQ encodings nowhere and keeps bits 4-6 at 0", () => {
    const h = harness();
    h.slot(5).setInterrupt(true);
    for (const reserved of [0, 1, 2, 8, 13]) {
      h.route(0, reserved);
      expect(h.isa.routeOf(0)).toBeUndefined();
    }
    expect(h.changes).toEqual([]);
    h.route(0, 0x7b);
    expect(h.isa.pciFunction.config.byte(PIIX3_PIRQ_ROUTE)).toBe(0x0b);
    expect(h.irqs[11]).toBe(true);
  });

  it("follows a PCI bus reset and a restored snapshot", () => {
    const h = harness();
    h.slot(5).setInterrupt(true);
    h.route(0, 11);
    const state = JSON.parse(JSON.stringify(h.bus.getState()));
    h.bus.reset(); // PIRQRC back to 0x80
    expect(h.irqs[11]).toBe(false);
    h.bus.setState(state);
    expect(h.irqs[11]).toBe(true);
    expect(() => h.isa.pirqLine(4)).toThrow(RangeError);
    expect(h.isa.routeOf(4)).toBeUndefined();
  });
});

describe("Piix3IsaBridge reset control", () => {
  it("resets on RCPU, hard when SRST is set in the same write", () => {
    const h = harness();
    const data = new Uint8Array([0x02]);
    h.isa.resetControl.write(0xcf9, 0, data); // Linux's reboot=pci: SRST first...
    h.isa.resetControl.read(0xcf9, 0, data);
    expect(data[0]).toBe(0x02);
    h.isa.resetControl.write(0xcf9, 0, new Uint8Array([0x06])); // ...then RCPU
    h.isa.resetControl.write(0xcf9, 0, new Uint8Array([0x04]));
    expect(h.resets).toEqual(["hard", "soft"]);
    h.isa.resetControl.read(0xcf9, 0, data);
    expect(data[0]).toBe(0x00); // RCPU is not stored; SRST was cleared by the last write
  });

  it("keeps only SRST, and snapshots it", () => {
    const h = harness();
    h.isa.resetControl.write(0xcf9, 0, new Uint8Array([0xfb]));
    expect(h.resets).toEqual([]);
    expect(h.isa.getState()).toEqual({ resetControl: 0x02 });
    h.isa.reset();
    expect(h.isa.getState()).toEqual({ resetControl: 0 });
    h.isa.setState({ resetControl: 0xff });
    expect(h.isa.getState()).toEqual({ resetControl: 0x02 });
    h.isa.setState(undefined as never);
    expect(h.isa.getState()).toEqual({ resetControl: 0 });
  });
});

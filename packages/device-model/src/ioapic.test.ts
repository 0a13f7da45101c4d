import { describe, expect, it } from "vitest";
import { type ApicInterruptMessage, IoApic } from "./ioapic.js";
import {
  DeliveryMode,
  DestinationMode,
  IOAPIC_PINS,
  IoApicRegister,
  IoApicWindow,
  RedirectionEntry,
  TriggerMode,
} from "./ioapic-registers.js";

function harness(id?: number) {
  const messages: ApicInterruptMessage[] = [];
  const ioapic = new IoApic({ output: { deliver: (m) => messages.push({ ...m }) }, id });
  const data = new Uint8Array(4);
  const select = (index: number) => {
    data.fill(0);
    data[0] = index;
    ioapic.write(0xfec00000, IoApicWindow.RegisterSelect, data);
  };
  const writeReg = (index: number, value: number) => {
    select(index);
    new DataView(data.buffer).setUint32(0, value >>> 0, true);
    ioapic.write(0xfec00000, IoApicWindow.Window, data);
  };
  const readReg = (index: number) => {
    select(index);
    ioapic.read(0xfec00000, IoApicWindow.Window, data);
    return new DataView(data.buffer).getUint32(0, true);
  };
  const program = (pin: number, low: number, destination = 0) => {
    writeReg(IoApicRegister.RedirectionTable + 2 * pin + 1, destination << 24);
    writeReg(IoApicRegister.RedirectionTable + 2 * pin, low);
  };
  return { ioapic, messages, select, writeReg, readReg, program };
}

const LEVEL = RedirectionEntry.TriggerLevel;
const MASKED = RedirectionEntry.Masked;

describe("IoApic registers", () => {
  it("reports version 0x20 with 24 entries, and the ID from the options", () => {
    const h = harness(2);
    expect(h.readReg(IoApicRegister.Version)).toBe(0x00170020);
    expect(h.readReg(IoApicRegister.Id)).toBe(0x02000000);
    expect(h.readReg(IoApicRegister.Arbitration)).toBe(0x02000000);
  });

  it("keeps 4 ID bits and loads the arbitration ID on an ID write; version and arbitration are read-only", () => {
    const h = harness();
    h.writeReg(IoApicRegister.Id, 0xffffffff);
    expect(h.readReg(IoApicRegister.Id)).toBe(0x0f000000);
    expect(h.readReg(IoApicRegister.Arbitration)).toBe(0x0f000000);
    h.writeReg(IoApicRegister.Arbitration, 0x05000000);
    h.writeReg(IoApicRegister.Version, 0);
    expect(h.readReg(IoApicRegister.Arbitration)).toBe(0x0f000000);
    expect(h.readReg(IoApicRegister.Version)).toBe(0x00170020);
  });

  it("starts with every entry masked and reads IOREGSEL back in its low byte", () => {
    const h = harness();
    for (let pin = 0; pin < IOAPIC_PINS; pin++) {
      expect(h.readReg(IoApicRegister.RedirectionTable + 2 * pin)).toBe(MASKED);
      expect(h.readReg(IoApicRegister.RedirectionTable + 2 * pin + 1)).toBe(0);
    }
    h.select(0x3f);
    const data = new Uint8Array([0xaa, 0xaa, 0xaa, 0xaa]);
    h.ioapic.read(0, IoApicWindow.RegisterSelect, data);
    expect([...data]).toEqual([0x3f, 0, 0, 0]);
  });

  it("stores the writable fields of an entry and drops reserved and read-only bits", () => {
    const h = harness();
    h.writeReg(0x10 + 2 * 5, 0xffffffff);
    h.writeReg(0x11 + 2 * 5, 0xffffffff);
    // Vector, delivery mode, destination mode, polarity, trigger, mask; not delivery status, remote IRR, 17-31.
    expect(h.readReg(0x10 + 2 * 5)).toBe(0x1afff);
    expect(h.readReg(0x11 + 2 * 5)).toBe(0xff000000);
  });

  it("reads 0 from reserved registers and ignores writes there", () => {
    const h = harness();
    for (const index of [0x03, 0x0f, 0x40, 0xff]) {
      h.writeReg(index, 0xffffffff);
      expect(h.readReg(index)).toBe(0);
    }
  });

  it("ignores IOWIN accesses narrower than 4 bytes and other offsets", () => {
    const h = harness();
    h.select(IoApicRegister.Version);
    const byte = new Uint8Array([0xaa]);
    h.ioapic.read(0, IoApicWindow.Window, byte);
    expect(byte[0]).toBe(0);
    const word = new Uint8Array([0xaa, 0xaa, 0xaa, 0xaa]);
    h.ioapic.read(0, 0x20, word);
    expect([...word]).toEqual([0, 0, 0, 0]);
    h.select(IoApicRegister.Id);
    h.ioapic.write(0, IoApicWindow.Window, new Uint8Array([0, 0, 0]));
    h.ioapic.write(0, 0x14, new Uint8Array([0, 0, 0, 7]));
    expect(h.readReg(IoApicRegister.Id)).toBe(0);
  });

  it("uses the low 4 bytes of an 8-byte IOWIN access", () => {
    const h = harness();
    h.select(IoApicRegister.Version);
    const data = new Uint8Array(8).fill(0xaa);
    h.ioapic.read(0, IoApicWindow.Window, data);
    expect([...data]).toEqual([0x20, 0, 0x17, 0, 0, 0, 0, 0]);
  });
});

describe("IoApic delivery", () => {
  it("delivers an edge on an unmasked entry with the entry's fields", () => {
    const h = harness();
    h.program(1, 0x31 | (DeliveryMode.LowestPriority << 8) | RedirectionEntry.DestinationModeLogical, 0x0f);
    h.ioapic.irqLine(1).set(true);
    expect(h.messages).toEqual([
      {
        vector: 0x31,
        deliveryMode: DeliveryMode.LowestPriority,
        destinationMode: DestinationMode.Logical,
        destination: 0x0f,
        trigger: TriggerMode.Edge,
      },
    ]);
    // Holding the line high is not a new edge; a fall and a rise is.
    h.ioapic.setIrq(1, true);
    expect(h.messages).toHaveLength(1);
    h.ioapic.setIrq(1, false);
    h.ioapic.setIrq(1, true);
    expect(h.messages).toHaveLength(2);
  });

  it("passes NMI, INIT, SMI and ExtINT delivery modes on", () => {
    const h = harness();
    for (const mode of [DeliveryMode.Nmi, DeliveryMode.Init, DeliveryMode.Smi, DeliveryMode.ExtInt]) {
      h.program(0, mode << 8);
      h.ioapic.setIrq(0, true);
      h.ioapic.setIrq(0, false);
    }
    expect(h.messages.map((m) => m.deliveryMode)).toEqual([4, 5, 2, 7]);
  });

  it("loses an edge that arrives while the entry is masked", () => {
    const h = harness();
    h.program(3, 0x40 | MASKED);
    h.ioapic.setIrq(3, true);
    h.program(3, 0x40);
    expect(h.messages).toHaveLength(0);
    h.ioapic.setIrq(3, false);
    h.ioapic.setIrq(3, true);
    expect(h.messages.map((m) => m.vector)).toEqual([0x40]);
  });

  it("sets remote IRR on a level delivery and holds further deliveries until the EOI", () => {
    const h = harness();
    h.program(10, 0x5a | LEVEL, 1);
    h.ioapic.setIrq(10, true);
    expect(h.messages).toEqual([
      { vector: 0x5a, deliveryMode: 0, destinationMode: 0, destination: 1, trigger: TriggerMode.Level },
    ]);
    expect(h.readReg(0x10 + 20) & RedirectionEntry.RemoteIrr).not.toBe(0);
    // Still asserted: nothing more until the EOI, which delivers again while the input stays high.
    h.ioapic.setIrq(10, true);
    expect(h.messages).toHaveLength(1);
    h.ioapic.eoi(0x5a);
    expect(h.messages).toHaveLength(2);
    expect(h.readReg(0x10 + 20) & RedirectionEntry.RemoteIrr).not.toBe(0);
    // The device deasserts; the EOI clears remote IRR and nothing is sent.
    h.ioapic.setIrq(10, false);
    h.ioapic.eoi(0x5a);
    expect(h.messages).toHaveLength(2);
    expect(h.readReg(0x10 + 20) & RedirectionEntry.RemoteIrr).toBe(0);
  });

  it("ignores an EOI for another vector", () => {
    const h = harness();
    h.program(11, 0x60 | LEVEL);
    h.ioapic.setIrq(11, true);
    h.ioapic.eoi(0x61);
    expect(h.readReg(0x10 + 22) & RedirectionEntry.RemoteIrr).not.toBe(0);
    expect(h.messages).toHaveLength(1);
  });

  it("ends level interrupts through the EOI register at 0x40 with a 4-byte write", () => {
    const h = harness();
    h.program(9, 0x70 | LEVEL);
    h.ioapic.setIrq(9, true);
    h.ioapic.setIrq(9, false);
    h.ioapic.write(0, IoApicWindow.Eoi, new Uint8Array([0x70]));
    expect(h.readReg(0x10 + 18) & RedirectionEntry.RemoteIrr).not.toBe(0);
    h.ioapic.write(0, IoApicWindow.Eoi, new Uint8Array([0x70, 0, 0, 0]));
    expect(h.readReg(0x10 + 18) & RedirectionEntry.RemoteIrr).toBe(0);
  });

  it("clears remote IRR of every level entry sharing the vector", () => {
    const h = harness();
    h.program(5, 0x80 | LEVEL);
    h.program(6, 0x80 | LEVEL);
    h.ioapic.setIrq(5, true);
    h.ioapic.setIrq(6, true);
    h.ioapic.setIrq(5, false);
    h.ioapic.setIrq(6, false);
    h.ioapic.eoi(0x80);
    expect(h.readReg(0x10 + 10) & RedirectionEntry.RemoteIrr).toBe(0);
    expect(h.readReg(0x10 + 12) & RedirectionEntry.RemoteIrr).toBe(0);
  });

  it("delivers a masked, asserted level input when it is unmasked", () => {
    const h = harness();
    h.program(16, 0x90 | LEVEL | MASKED);
    h.ioapic.setIrq(16, true);
    expect(h.messages).toHaveLength(0);
    expect(h.readReg(0x10 + 32) & RedirectionEntry.RemoteIrr).toBe(0);
    h.program(16, 0x90 | LEVEL);
    expect(h.messages.map((m) => m.vector)).toEqual([0x90]);
  });

  it("does not deliver a level input that fell while masked", () => {
    const h = harness();
    h.program(4, 0x91 | LEVEL | MASKED);
    h.ioapic.setIrq(4, true);
    h.ioapic.setIrq(4, false);
    h.program(4, 0x91 | LEVEL);
    expect(h.messages).toHaveLength(0);
  });

  it("masking after delivery keeps remote IRR until the EOI", () => {
    const h = harness();
    h.program(7, 0x92 | LEVEL);
    h.ioapic.setIrq(7, true);
    h.program(7, 0x92 | LEVEL | MASKED);
    expect(h.readReg(0x10 + 14) & RedirectionEntry.RemoteIrr).not.toBe(0);
    h.ioapic.eoi(0x92);
    expect(h.readReg(0x10 + 14) & RedirectionEntry.RemoteIrr).toBe(0);
    expect(h.messages).toHaveLength(1); // masked: the still-asserted input is not sent again
  });

  it("clears remote IRR when the entry is switched to edge (Linux's EOI for version 0x11 parts)", () => {
    const h = harness();
    h.program(12, 0x93 | LEVEL);
    h.ioapic.setIrq(12, true);
    h.ioapic.setIrq(12, false);
    h.program(12, 0x93 | MASKED);
    h.program(12, 0x93 | LEVEL);
    expect(h.readReg(0x10 + 24) & RedirectionEntry.RemoteIrr).toBe(0);
    expect(h.messages).toHaveLength(1);
  });

  it("stores the polarity bit without inverting the input", () => {
    const h = harness();
    h.program(17, 0x94 | LEVEL | RedirectionEntry.PolarityLow);
    expect(h.readReg(0x10 + 34) & RedirectionEntry.PolarityLow).not.toBe(0);
    expect(h.messages).toHaveLength(0);
    h.ioapic.setIrq(17, true);
    expect(h.messages).toHaveLength(1);
  });

  it("rejects unknown pins at wiring time and ignores them at run time", () => {
    const h = harness();
    expect(() => h.ioapic.irqLine(24)).toThrow(RangeError);
    expect(() => h.ioapic.irqLine(-1)).toThrow(RangeError);
    h.ioapic.setIrq(24, true);
    h.ioapic.setIrq(Number.NaN, true);
    expect(h.messages).toHaveLength(0);
    expect(() => new IoApic({ output: { deliver: () => {} }, id: 16 })).toThrow(RangeError);
  });

  it("reset masks every entry and keeps the input levels", () => {
    const h = harness(3);
    h.writeReg(IoApicRegister.Id, 0x07000000);
    h.program(2, 0x30);
    h.ioapic.setIrq(2, true);
    h.ioapic.reset();
    expect(h.readReg(IoApicRegister.Id)).toBe(0x03000000);
    expect(h.readReg(0x10 + 4)).toBe(MASKED);
    expect(h.ioapic.getState().inputs).toBe(1 << 2);
  });
});

describe("IoApic state", () => {
  it("round-trips a snapshot", () => {
    const h = harness();
    h.program(10, 0x5a | LEVEL, 3);
    h.ioapic.setIrq(10, true);
    h.select(0x14);
    const state = h.ioapic.getState();
    const copy = harness();
    copy.ioapic.setState(JSON.parse(JSON.stringify(state)));
    expect(copy.ioapic.getState()).toEqual(state);
    expect(copy.messages).toHaveLength(0); // remote IRR is set: nothing to deliver
    copy.ioapic.eoi(0x5a);
    expect(copy.messages.map((m) => [m.vector, m.destination])).toEqual([[0x5a, 3]]);
  });

  it("delivers a pending level interrupt found in a snapshot and repairs malformed fields", () => {
    const h = harness();
    const low = new Array(24).fill(MASKED);
    low[3] = 0x44 | LEVEL;
    low[4] = 0x45 | RedirectionEntry.RemoteIrr; // edge entries have no remote IRR
    h.ioapic.setState({
      registerSelect: 0x1234,
      id: 0x35,
      arbitrationId: Number.NaN,
      redirectionLow: low,
      redirectionHigh: [],
      inputs: (1 << 3) | (1 << 30),
    });
    expect(h.messages.map((m) => m.vector)).toEqual([0x44]);
    const s = h.ioapic.getState();
    expect(s.registerSelect).toBe(0x34);
    expect(s.id).toBe(5);
    expect(s.arbitrationId).toBe(5);
    expect(s.inputs).toBe(1 << 3);
    expect(s.redirectionLow[4]).toBe(0x45);
    expect(s.redirectionHigh).toEqual(new Array(24).fill(0));
    h.ioapic.setState(null as never);
    expect(h.ioapic.getState().redirectionLow).toEqual(new Array(24).fill(MASKED));
  });
});

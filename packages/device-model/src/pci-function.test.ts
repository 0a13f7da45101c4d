import { describe, expect, it } from "vitest";
import type { BusDevice } from "./bus-device.js";
import type { PciBarDefinition } from "./pci-bar.js";
import { PciConfigSpace } from "./pci-config-space.js";
import { PciFunction, type PciFunctionLink } from "./pci-function.js";
import { PciCapabilityId, PciCommand, PciConfig, PciStatus } from "./pci-registers.js";

const region: BusDevice = { read: (_b, _o, data) => data.fill(0), write: () => {} };

function makeFunction(bars: PciBarDefinition[] = [], interruptPin = 1) {
  const events: Array<{ bar: number; from: number; to: number }> = [];
  const interrupts: boolean[] = [];
  const fn = new PciFunction({
    vendorId: 0x1af4,
    deviceId: 0x1041,
    classCode: 0x020000,
    revisionId: 1,
    subsystemVendorId: 0x1af4,
    subsystemId: 0x0001,
    interruptPin,
    bars,
  });
  const link: PciFunctionLink = {
    interruptChanged: (_fn, asserted) => interrupts.push(asserted),
    barMoved: (_fn, bar, from, to) => events.push({ bar: bar.index, from, to }),
  };
  fn.attach(link);
  const read = (offset: number, width: number) => {
    const data = new Uint8Array(width);
    fn.readConfig(offset, data);
    return data.reduceRight((value, byte) => value * 256 + byte, 0);
  };
  const write = (offset: number, width: number, value: number) => {
    const data = new Uint8Array(width);
    for (let i = 0; i < width; i++) data[i] = Math.floor(value / 256 ** i) & 0xff;
    fn.writeConfig(offset, data);
  };
  return { fn, events, interrupts, read, write };
}

describe("PciConfigSpace", () => {
  it("applies writable and write-1-to-clear masks to guest writes only", () => {
    const c = new PciConfigSpace();
    c.define(0x40, 2, { value: 0xf00f, writable: 0x00f0, writeOneToClear: 0xf000 });
    c.write(0x40, new Uint8Array([0xff, 0x5f]));
    // Low byte: 0x0f read-only kept, 0xf0 written. High byte: bits 12 and 14 cleared by the 1s, 13 and 15 kept.
    expect(c.word(0x40)).toBe(0xa0ff);
    c.write(0x40, new Uint8Array([0x00, 0x00]));
    expect(c.word(0x40)).toBe(0xa00f);
    c.setWord(0x40, 0xffff);
    expect(c.word(0x40)).toBe(0xffff);
    c.resetGuestBits();
    expect(c.word(0x40)).toBe(0xff0f); // guest bits back to the defined value, read-only bits untouched
  });

  it("reads all ones past the end and never throws on the guest side", () => {
    const c = new PciConfigSpace();
    const data = new Uint8Array(4);
    c.read(0xfe, data);
    expect([...data]).toEqual([0, 0, 0xff, 0xff]);
    c.write(-3, new Uint8Array(8).fill(0xff));
    c.write(1000, new Uint8Array(4));
    expect(() => c.byte(256)).toThrow(RangeError);
    expect(() => c.define(0x40, 1, { writable: 1, writeOneToClear: 1 })).toThrow(RangeError);
  });
});

describe("PciFunction header", () => {
  it("exposes the identity read-only", () => {
    const h = makeFunction();
    expect(h.read(PciConfig.VendorId, 4)).toBe(0x10411af4);
    expect(h.read(PciConfig.RevisionId, 4)).toBe(0x02000001);
    expect(h.read(PciConfig.SubsystemVendorId, 4)).toBe(0x00011af4);
    expect(h.read(PciConfig.InterruptLine, 4)).toBe(0x00000100);
    for (let offset = 0; offset < 0x100; offset += 4) h.write(offset, 4, 0xffffffff);
    expect(h.read(PciConfig.VendorId, 4)).toBe(0x10411af4);
    expect(h.read(PciConfig.RevisionId, 4)).toBe(0x02000001);
    expect(h.read(PciConfig.CacheLineSize, 4)).toBe(0x0000ffff); // cache line size and latency timer
    expect(h.read(PciConfig.SubsystemVendorId, 4)).toBe(0x00011af4);
    expect(h.read(PciConfig.InterruptLine, 4)).toBe(0x000001ff);
    expect(h.read(PciConfig.HeaderType, 1)).toBe(0);
    expect(h.read(PciConfig.ExpansionRomBase, 4)).toBe(0);
    expect(h.read(PciConfig.CapabilitiesPointer, 4)).toBe(0);
    expect(h.read(0x40, 4)).toBe(0);
  });

  it("has the writable command bits and write-1-to-clear status errors", () => {
    const h = makeFunction();
    h.write(PciConfig.Command, 2, 0xffff);
    expect(h.read(PciConfig.Command, 2)).toBe(0x0547);
    h.fn.config.setWord(PciConfig.Status, PciStatus.ReceivedMasterAbort | PciStatus.SignaledTargetAbort);
    h.write(PciConfig.Status, 2, PciStatus.ReceivedMasterAbort);
    expect(h.read(PciConfig.Status, 2)).toBe(PciStatus.SignaledTargetAbort);
    // A dword write at 0x04 writes command and clears status bits at once.
    h.write(PciConfig.Command, 4, 0xffff0000);
    expect(h.read(PciConfig.Command, 4)).toBe(0);
  });
});

describe("PciFunction BARs", () => {
  const bars: PciBarDefinition[] = [
    { index: 0, kind: "io", size: 32, region },
    { index: 1, kind: "memory32", size: 4096, region },
    { index: 2, kind: "memory64", size: 16384, prefetchable: true, region },
  ];

  it("sizes every kind by writing all ones", () => {
    const h = makeFunction(bars);
    expect(h.read(0x10, 4)).toBe(0x00000001);
    expect(h.read(0x14, 4)).toBe(0x00000000);
    expect(h.read(0x18, 4)).toBe(0x0000000c);
    for (const offset of [0x10, 0x14, 0x18, 0x1c, 0x20, 0x24]) h.write(offset, 4, 0xffffffff);
    expect(h.read(0x10, 4)).toBe(0xffffffe1);
    expect(h.read(0x14, 4)).toBe(0xfffff000);
    expect(h.read(0x18, 4)).toBe(0xffffc00c);
    expect(h.read(0x1c, 4)).toBe(0xffffffff);
    expect(h.read(0x20, 4)).toBe(0); // no BAR 4 or 5
    expect(h.read(0x24, 4)).toBe(0);
  });

  it("sizes a 64-bit BAR larger than 4 GiB through its high dword", () => {
    const h = makeFunction([{ index: 0, kind: "memory64", size: 2 ** 34, region }]);
    h.write(0x10, 4, 0xffffffff);
    h.write(0x14, 4, 0xffffffff);
    expect(h.read(0x10, 4)).toBe(0x00000004);
    expect(h.read(0x14, 4)).toBe(0xfffffffc);
  });

  it("reports mapping changes for BAR writes and command enables", () => {
    const h = makeFunction(bars);
    h.write(0x10, 4, 0xc000);
    h.write(0x14, 4, 0xfebf0000);
    h.write(0x18, 4, 0x00000000);
    h.write(0x1c, 4, 0x00000001);
    expect(h.events).toEqual([]); // decoding is off
    h.write(PciConfig.Command, 2, PciCommand.MemorySpace);
    expect(h.events).toEqual([
      { bar: 1, from: -1, to: 0xfebf0000 },
      { bar: 2, from: -1, to: 2 ** 32 },
    ]);
    h.events.length = 0;
    h.write(PciConfig.Command, 2, PciCommand.MemorySpace | PciCommand.IoSpace);
    expect(h.events).toEqual([{ bar: 0, from: -1, to: 0xc000 }]);
    expect(h.fn.barAddress(0)).toBe(0xc000);
    h.events.length = 0;
    h.write(0x14, 4, 0xfe000000);
    h.write(0x14, 4, 0xfe000000); // the same value again: no event
    expect(h.events).toEqual([{ bar: 1, from: 0xfebf0000, to: 0xfe000000 }]);
    h.events.length = 0;
    h.write(PciConfig.Command, 2, 0);
    expect(h.events).toEqual([
      { bar: 0, from: 0xc000, to: -1 },
      { bar: 1, from: 0xfe000000, to: -1 },
      { bar: 2, from: 2 ** 32, to: -1 },
    ]);
    expect(h.fn.barAddress(1)).toBeUndefined();
    expect(h.fn.barAddress(7)).toBeUndefined();
  });

  it("never maps a BAR holding the sizing pattern, at address 0 or beyond the address space", () => {
    const h = makeFunction(bars);
    h.write(PciConfig.Command, 2, PciCommand.MemorySpace | PciCommand.IoSpace);
    // High dword first: a 64-bit BAR at 0x00000000_ffffc000 would be a real address.
    for (const offset of [0x10, 0x14, 0x1c, 0x18]) h.write(offset, 4, 0xffffffff);
    expect(h.events).toEqual([]);
    h.write(0x10, 4, 0xffe0); // I/O: ports 0xffe0-0xffff fit
    h.write(0x10, 4, 0x10000); // beyond 64 KiB of ports
    h.write(0x1c, 4, 0x00100000); // 2^52: beyond x86's physical address width
    h.write(0x18, 4, 0);
    h.write(0x1c, 4, 0x000fffff); // just below 2^52
    expect(h.events).toEqual([
      { bar: 0, from: -1, to: 0xffe0 },
      { bar: 0, from: 0xffe0, to: -1 },
      { bar: 2, from: -1, to: 0xfffff00000000 },
    ]);
  });

  it("rejects impossible BAR definitions at wiring time", () => {
    expect(() => makeFunction([{ index: 5, kind: "memory64", size: 16, region }])).toThrow(RangeError);
    expect(() => makeFunction([{ index: 0, kind: "io", size: 512, region }])).toThrow(RangeError);
    expect(() => makeFunction([{ index: 0, kind: "memory32", size: 24, region }])).toThrow(RangeError);
    expect(() => makeFunction([{ index: 0, kind: "memory32", size: 8, region }])).toThrow(RangeError);
    expect(() => makeFunction([{ index: 0, kind: "io", size: 4, prefetchable: true, region }])).toThrow(
      RangeError,
    );
    expect(() =>
      makeFunction([
        { index: 0, kind: "memory64", size: 16, region },
        { index: 1, kind: "io", size: 4, region },
      ]),
    ).toThrow(RangeError);
  });
});

describe("PciFunction capabilities", () => {
  it("links capabilities in order, sets the status bit, and keeps the headers read-only", () => {
    const h = makeFunction();
    expect(h.read(PciConfig.Status, 2) & PciStatus.CapabilitiesList).toBe(0);
    const msix = h.fn.addCapability(PciCapabilityId.MsiX, 12);
    const vendor = h.fn.addCapability(PciCapabilityId.VendorSpecific, 16);
    const pm = h.fn.addCapability(PciCapabilityId.PowerManagement, 8, 0xf0);
    expect([msix, vendor, pm]).toEqual([0x40, 0x4c, 0xf0]);
    expect(h.read(PciConfig.Status, 2) & PciStatus.CapabilitiesList).not.toBe(0);
    // Walk the list as a guest does.
    const found: Array<[number, number]> = [];
    for (let at = h.read(PciConfig.CapabilitiesPointer, 1); at !== 0; at = h.read(at + 1, 1) & 0xfc) {
      found.push([at, h.read(at, 1)]);
    }
    expect(found).toEqual([
      [0x40, PciCapabilityId.MsiX],
      [0x4c, PciCapabilityId.VendorSpecific],
      [0xf0, PciCapabilityId.PowerManagement],
    ]);
    h.write(0x40, 2, 0);
    h.write(PciConfig.CapabilitiesPointer, 1, 0);
    expect(h.read(0x40, 2)).toBe(0x4c00 | PciCapabilityId.MsiX);
    expect(h.read(PciConfig.CapabilitiesPointer, 1)).toBe(0x40);
  });

  it("lets the device define capability fields and registers, but not over a header", () => {
    const h = makeFunction();
    h.fn.defineRegister(0x40, 4, { value: 0x12345678, writable: 0xff00 });
    const cap = h.fn.addCapability(PciCapabilityId.Msi, 10);
    expect(cap).toBe(0x44);
    h.fn.defineRegister(cap + 2, 2, { value: 0x0080, writable: 0x0001 });
    h.write(cap + 2, 2, 0xffff);
    expect(h.read(cap + 2, 2)).toBe(0x0081);
    h.write(0x40, 4, 0);
    expect(h.read(0x40, 4)).toBe(0x12340078);
    expect(() => h.fn.defineRegister(cap, 2, {})).toThrow(RangeError);
    expect(() => h.fn.defineRegister(0x3c, 1, {})).toThrow(RangeError);
    expect(() => h.fn.addCapability(PciCapabilityId.Msi, 8, 0x40)).toThrow(RangeError);
    expect(() => h.fn.addCapability(PciCapabilityId.Msi, 8, 0x52)).toThrow(RangeError);
    expect(() => h.fn.addCapability(PciCapabilityId.Msi, 256)).toThrow(RangeError);
  });

  it("calls the device's hooks around guest accesses", () => {
    const calls: string[] = [];
    let counter = 0;
    const fn = new PciFunction({
      vendorId: 1,
      deviceId: 2,
      classCode: 0,
      onConfigRead: (offset, length) => {
        calls.push(`read ${offset} ${length}`);
        if (offset === 0x40) fn.config.setByte(0x40, ++counter);
      },
      onConfigWrite: (offset, length) => calls.push(`write ${offset} ${length}`),
    });
    fn.defineRegister(0x40, 1, {});
    const data = new Uint8Array(1);
    fn.readConfig(0x40, data);
    expect(data[0]).toBe(1);
    fn.writeConfig(0x41, new Uint8Array(2));
    fn.reset();
    expect(calls).toEqual(["read 64 1", "write 65 2", "write 0 256"]);
  });
});

describe("PciFunction INTx", () => {
  it("drives its pin unless the command register disables it; status shows the request either way", () => {
    const h = makeFunction();
    h.fn.setInterrupt(true);
    expect(h.interrupts).toEqual([true]);
    expect(h.read(PciConfig.Status, 2) & PciStatus.InterruptStatus).not.toBe(0);
    h.write(PciConfig.Command, 2, PciCommand.InterruptDisable);
    expect(h.interrupts).toEqual([true, false]);
    expect(h.fn.interruptAsserted).toBe(false);
    expect(h.read(PciConfig.Status, 2) & PciStatus.InterruptStatus).not.toBe(0);
    h.write(PciConfig.Command, 2, 0);
    expect(h.interrupts).toEqual([true, false, true]);
    h.fn.setInterrupt(false);
    expect(h.interrupts).toEqual([true, false, true, false]);
    expect(h.read(PciConfig.Status, 2) & PciStatus.InterruptStatus).toBe(0);
  });

  it("drives nothing without an interrupt pin", () => {
    const h = makeFunction([], 0);
    h.fn.setInterrupt(true);
    expect(h.interrupts).toEqual([]);
    expect(h.fn.interruptRequested).toBe(true);
    expect(() => makeFunction([], 5)).toThrow(RangeError);
  });
});

describe("PciFunction reset and state", () => {
  const bars: PciBarDefinition[] = [{ index: 0, kind: "memory32", size: 4096, region }];

  it("reset returns guest bits to their defaults and unmaps BARs", () => {
    const h = makeFunction(bars);
    h.write(0x10, 4, 0xfe000000);
    h.write(PciConfig.Command, 2, PciCommand.MemorySpace);
    h.write(PciConfig.InterruptLine, 1, 11);
    h.fn.reset();
    expect(h.events.at(-1)).toEqual({ bar: 0, from: 0xfe000000, to: -1 });
    expect(h.read(0x10, 4)).toBe(0);
    expect(h.read(PciConfig.InterruptLine, 1)).toBe(0);
  });

  it("round-trips through a snapshot, remapping BARs and driving INTx", () => {
    const a = makeFunction(bars);
    a.write(0x10, 4, 0xfe000000);
    a.write(PciConfig.Command, 2, PciCommand.MemorySpace);
    a.fn.setInterrupt(true);
    const b = makeFunction(bars);
    b.fn.setState(JSON.parse(JSON.stringify(a.fn.getState())));
    expect(b.fn.getState()).toEqual(a.fn.getState());
    expect(b.events).toEqual([{ bar: 0, from: -1, to: 0xfe000000 }]);
    expect(b.interrupts).toEqual([true]);
  });

  it("takes only guest-changeable bits from a snapshot", () => {
    const h = makeFunction(bars);
    h.fn.setState({ config: new Array(256).fill(0xff), interruptRequest: false });
    expect(h.read(PciConfig.VendorId, 4)).toBe(0x10411af4);
    expect(h.read(0x10, 4)).toBe(0xfffff000);
    expect(h.read(PciConfig.Command, 2)).toBe(0x0547);
    h.fn.setState(null as never);
    h.fn.setState({ config: ["x"], interruptRequest: 1 } as never);
    expect(h.read(PciConfig.Command, 2)).toBe(0x0547);
  });
});

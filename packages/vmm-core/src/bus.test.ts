import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { Bus, type BusDevice, BusError } from "./index.js";

/** A device with `size` byte registers that records what it sees. */
function registers(size: number) {
  const bytes = new Uint8Array(size);
  const seen: Array<[string, number, number, number]> = [];
  const device: BusDevice = {
    read(base, offset, data) {
      seen.push(["r", base, offset, data.length]);
      for (let i = 0; i < data.length; i++) data[i] = bytes[offset + i];
    },
    write(base, offset, data) {
      seen.push(["w", base, offset, data.length]);
      bytes.set(data, offset);
    },
  };
  return { device, bytes, seen };
}

describe("Bus", () => {
  it("routes accesses as (base, offset, data)", () => {
    const bus = new Bus("pio");
    const uart = registers(8);
    bus.insert(uart.device, 0x3f8, 8, "uart");
    expect(bus.write(0x3fb, Uint8Array.of(0x83))).toBe(true);
    const data = new Uint8Array(1);
    expect(bus.read(0x3fb, data)).toBe(true);
    expect(data[0]).toBe(0x83);
    expect(uart.seen).toEqual([
      ["w", 0x3f8, 3, 1],
      ["r", 0x3f8, 3, 1],
    ]);
    expect(bus.deviceAt(0x3ff)).toBe("uart");
    expect(bus.deviceAt(0x400)).toBeUndefined();
  });

  it("rejects overlapping and malformed ranges", () => {
    const bus = new Bus("pio");
    bus.insert(registers(8).device, 0x3f8, 8, "com1");
    expect(() => bus.insert(registers(4).device, 0x3fc, 4, "other")).toThrow(/overlaps com1/);
    expect(() => bus.insert(registers(4).device, 0x3f0, 9, "other")).toThrow(BusError);
    expect(() => bus.insert(registers(4).device, -1, 4)).toThrow(BusError);
    expect(() => bus.insert(registers(4).device, 0, 0)).toThrow(BusError);
    bus.insert(registers(8).device, 0x400, 8, "adjacent");
    expect(bus.remove(0x400)).toBe(true);
    expect(bus.remove(0x400)).toBe(false);
  });

  it("reads all ones and drops writes where nothing answers, and counts them", () => {
    const bus = new Bus("pio");
    const data = Uint8Array.of(0, 0, 0, 0);
    expect(bus.read(0x1234, data)).toBe(false);
    expect([...data]).toEqual([0xff, 0xff, 0xff, 0xff]);
    expect(bus.write(0x1234, Uint8Array.of(1))).toBe(false);
    expect(bus.stats).toEqual({ unhandledReads: 1, droppedWrites: 1 });
  });

  it("splits an access that straddles a device's end into bytes", () => {
    const bus = new Bus("pio");
    const dev = registers(2);
    dev.bytes.set([0x11, 0x22]);
    bus.insert(dev.device, 0x100, 2);
    const data = new Uint8Array(4);
    expect(bus.read(0x101, data)).toBe(true);
    expect([...data]).toEqual([0x22, 0xff, 0xff, 0xff]);
    expect(bus.write(0x0ff, Uint8Array.of(1, 2, 3, 4))).toBe(true);
    expect([...dev.bytes]).toEqual([2, 3]);
  });

  it("never throws or misroutes for random accesses (property)", () => {
    const bus = new Bus("mmio");
    const a = registers(16);
    const b = registers(16);
    bus.insert(a.device, 0x1000, 16, "a");
    bus.insert(b.device, 0x1010, 16, "b");
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 0x2000 }), fc.constantFrom(1, 2, 4, 8), (address, size) => {
        const data = new Uint8Array(size);
        const hit = bus.read(address, data);
        const expectHit = address < 0x1020 && address + size > 0x1000;
        return hit === expectHit;
      }),
    );
  });
});

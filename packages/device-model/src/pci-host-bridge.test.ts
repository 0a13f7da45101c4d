import { describe, expect, it } from "vitest";
import type { BusDevice } from "./bus-device.js";
import { PciBus } from "./pci-bus.js";
import { PciFunction } from "./pci-function.js";
import { PciHostBridge } from "./pci-host-bridge.js";
import { PciConfig } from "./pci-registers.js";

/** Port I/O against the bridge as a PIO bus would route it (0xcf8-0xcfb and 0xcfc-0xcff). */
function harness(resetControl?: BusDevice) {
  const bus = new PciBus();
  const bridge = new PciHostBridge({ bus, resetControl });
  const target = (port: number): [BusDevice, number, number] =>
    port < 0xcfc ? [bridge.configAddress, 0xcf8, port - 0xcf8] : [bridge.configData, 0xcfc, port - 0xcfc];
  const input = (port: number, width: number) => {
    const data = new Uint8Array(width);
    const [device, base, offset] = target(port);
    device.read(base, offset, data);
    return data.reduceRight((value, byte) => value * 256 + byte, 0);
  };
  const output = (port: number, width: number, value: number) => {
    const data = new Uint8Array(width);
    for (let i = 0; i < width; i++) data[i] = Math.floor(value / 256 ** i) & 0xff;
    const [device, base, offset] = target(port);
    device.write(base, offset, data);
  };
  const select = (dev: number, fn: number, register: number, bus = 0) =>
    output(0xcf8, 4, (0x80000000 | (bus << 16) | (dev << 11) | (fn << 8) | register) >>> 0);
  return { bus, bridge, input, output, select };
}

describe("PciHostBridge CONFIG_ADDRESS", () => {
  it("latches only dword writes and keeps the enable bit and the address fields", () => {
    const h = harness();
    h.output(0xcf8, 4, 0xffffffff);
    expect(h.input(0xcf8, 4)).toBe(0x80fffffc); // reserved bits 24-30 and bits 0-1 read 0
    h.output(0xcf8, 4, 0x80000000);
    h.output(0xcf8, 2, 0x1234);
    h.output(0xcfa, 2, 0x1234);
    h.output(0xcfb, 1, 0x01);
    expect(h.input(0xcf8, 4)).toBe(0x80000000);
    expect(h.bridge.address).toBe(0x80000000);
  });

  it("answers non-dword reads like an empty bus", () => {
    const h = harness();
    h.output(0xcf8, 4, 0x80000000);
    expect(h.input(0xcf8, 1)).toBe(0xff);
    expect(h.input(0xcf8, 2)).toBe(0xffff);
    expect(h.input(0xcf9, 1)).toBe(0xff); // no reset control given
    expect(h.input(0xcfa, 2)).toBe(0xffff);
  });

  it("passes byte accesses at 0xcf9 to the reset control register", () => {
    const seen: string[] = [];
    const resetControl: BusDevice = {
      read: (base, offset, data) => {
        seen.push(`read ${base.toString(16)} ${offset}`);
        data[0] = 0x02;
      },
      write: (base, offset, data) => seen.push(`write ${base.toString(16)} ${offset} ${data[0]}`),
    };
    const h = harness(resetControl);
    h.output(0xcf9, 1, 0x06);
    expect(h.input(0xcf9, 1)).toBe(0x02);
    h.output(0xcf9, 2, 0x06); // not a byte: not the reset control register
    expect(seen).toEqual(["write cf9 0 6", "read cf9 0"]);
  });

  it("passes Linux's mechanism #1 probe", () => {
    const h = harness();
    // arch/x86/pci/direct.c: outb(0x01, 0xCFB); tmp = inl(0xCF8); outl(0x80000000, 0xCF8); inl(0xCF8) == 0x80000000
    h.output(0xcfb, 1, 0x01);
    const saved = h.input(0xcf8, 4);
    h.output(0xcf8, 4, 0x80000000);
    expect(h.input(0xcf8, 4)).toBe(0x80000000);
    h.output(0xcf8, 4, saved);
    // The sanity check then looks for a host bridge (class 0x0600) or an Intel device on bus 0.
    h.select(0, 0, 0x08);
    expect(h.input(0xcfe, 2)).toBe(0x0600);
    h.select(0, 0, 0x00);
    expect(h.input(0xcfc, 2)).toBe(0x8086);
  });
});

describe("PciHostBridge CONFIG_DATA", () => {
  it("identifies the i440FX host bridge at 00:00.0", () => {
    const h = harness();
    h.select(0, 0, 0x00);
    expect(h.input(0xcfc, 4)).toBe(0x12378086);
    h.select(0, 0, 0x08);
    expect(h.input(0xcfc, 4)).toBe(0x06000002);
    h.select(0, 0, 0x0c);
    expect(h.input(0xcfc, 4) >>> 16).toBe(0); // header type 0, single function
    expect(h.bus.functionAt(0, 0)).toBe(h.bridge.pciFunction);
  });

  it("reads bytes and words at every offset of the dword", () => {
    const h = harness();
    h.select(0, 0, 0x00);
    expect([0, 1, 2, 3].map((i) => h.input(0xcfc + i, 1))).toEqual([0x86, 0x80, 0x37, 0x12]);
    expect([0, 1, 2].map((i) => h.input(0xcfc + i, 2))).toEqual([0x8086, 0x3780, 0x1237]);
    h.select(0, 0, 0x08);
    expect(h.input(0xcfd, 1)).toBe(0x00);
    expect(h.input(0xcfe, 2)).toBe(0x0600);
  });

  it("writes bytes, words and dwords at their offsets", () => {
    const h = harness();
    const fn = new PciFunction({ vendorId: 1, deviceId: 2, classCode: 0 });
    fn.defineRegister(0x40, 4, { writable: 0xffffffff });
    h.bus.register(fn, 7, 3);
    h.select(7, 3, 0x40);
    h.output(0xcfc, 4, 0x11223344);
    h.output(0xcfd, 1, 0xaa);
    h.output(0xcfe, 2, 0xbbcc);
    expect(h.input(0xcfc, 4)).toBe(0xbbccaa44);
    expect(fn.config.dword(0x40)).toBe(0xbbccaa44);
    h.select(7, 3, 0x3c);
    h.output(0xcfc, 1, 0x0b);
    expect(fn.config.byte(PciConfig.InterruptLine)).toBe(0x0b);
  });

  it("answers all ones for absent devices, functions, other buses and with the enable bit clear", () => {
    const h = harness();
    h.select(5, 0, 0);
    expect(h.input(0xcfc, 4)).toBe(0xffffffff);
    h.select(0, 1, 0);
    expect(h.input(0xcfc, 4)).toBe(0xffffffff);
    h.select(0, 0, 0, 1);
    expect(h.input(0xcfc, 4)).toBe(0xffffffff);
    expect(h.input(0xcfe, 2)).toBe(0xffff);
    h.output(0xcf8, 4, 0x00000000); // 00:00.0 without the enable bit
    expect(h.input(0xcfc, 4)).toBe(0xffffffff);
    expect(h.input(0xcfd, 1)).toBe(0xff);
  });

  it("drops writes with the enable bit clear", () => {
    const h = harness();
    h.output(0xcf8, 4, 0x0000003c);
    h.output(0xcfc, 1, 0x0b);
    expect(h.bridge.pciFunction.config.byte(PciConfig.InterruptLine)).toBe(0);
  });

  it("uses only the bytes inside the dword of an access that runs past 0xcff", () => {
    const h = harness();
    h.select(0, 0, 0);
    const data = new Uint8Array(4);
    h.bridge.configData.read(0xcfc, 2, data);
    expect([...data]).toEqual([0x37, 0x12, 0xff, 0xff]);
    h.bridge.configData.read(0xcfc, 7, data);
    expect([...data]).toEqual([0xff, 0xff, 0xff, 0xff]);
    h.bridge.configData.write(0xcfc, 2, data); // the device ID is read-only anyway: nothing changes
    expect(h.input(0xcfc, 4)).toBe(0x12378086);
  });

  it("snapshots and resets the address latch", () => {
    const h = harness();
    h.select(0, 0, 0x10);
    const state = h.bridge.getState();
    h.bridge.reset();
    expect(h.input(0xcf8, 4)).toBe(0);
    h.bridge.setState(state);
    expect(h.input(0xcf8, 4)).toBe(0x80000010);
    h.bridge.setState({ configAddress: 0xffffffff });
    expect(h.bridge.address).toBe(0x80fffffc);
    h.bridge.setState(null as never);
    expect(h.bridge.address).toBe(0);
  });
});

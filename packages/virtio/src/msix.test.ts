// MSI-X on its own PCI function: the capability, the table and PBA layout and access widths, masking and delivery.
import { PciCapabilityId, PciCommand, PciConfig, PciFunction } from "@tsvmm/device-model";
import { describe, expect, it } from "vitest";
import { MSIX_MAX_VECTORS, Msix, MsixControl } from "./msix.js";

function setup(vectors = 4) {
  const messages: [number, number][] = [];
  const msix = new Msix({ vectors, signalMsi: (address, data) => messages.push([address, data]) });
  const fn = new PciFunction({
    vendorId: 0x1af4,
    deviceId: 0x1040,
    classCode: 0,
    bars: [{ index: 2, kind: "memory32", size: msix.barSize, region: msix.region }],
    onConfigWrite: () => msix.controlChanged(),
  });
  const capability = msix.attach(fn, 2);
  const config = (offset: number, value: number) => {
    const data = new Uint8Array(2);
    new DataView(data.buffer).setUint16(0, value, true);
    fn.writeConfig(offset, data);
  };
  config(PciConfig.Command, PciCommand.BusMaster);
  const read = (offset: number, width = 4) => {
    const data = new Uint8Array(width);
    msix.region.read(0, offset, data);
    return data;
  };
  const read32 = (offset: number) => new DataView(read(offset).buffer).getUint32(0, true);
  /** One 32-bit write per value, at consecutive dwords. */
  const write = (offset: number, ...values: number[]) => {
    values.forEach((value, i) => {
      const data = new Uint8Array(4);
      new DataView(data.buffer).setUint32(0, value, true);
      msix.region.write(0, offset + 4 * i, data);
    });
  };
  const control = (value: number) => config(capability + 2, value);
  return { msix, fn, capability, messages, read, read32, write, control };
}

describe("MSI-X", () => {
  it("describes itself in the capability: table size, BAR and offsets", () => {
    const { fn, capability, msix } = setup(4);
    expect(fn.config.byte(capability)).toBe(PciCapabilityId.MsiX);
    expect(fn.config.word(capability + 2)).toBe(3);
    expect(fn.config.dword(capability + 4)).toBe(0 | 2);
    expect(fn.config.dword(capability + 8)).toBe(0x800 | 2);
    expect(msix.barSize).toBe(0x1000);
    expect(() => msix.attach(fn, 2)).toThrow();
  });

  it.each([
    [1, 0x800, 0x1000],
    [128, 0x800, 0x1000],
    [129, 0x1000, 0x2000],
    [MSIX_MAX_VECTORS, 0x8000, 0x10000],
  ])("lays out %i vectors with the PBA at %i in a BAR of %i bytes", (vectors, pba, size) => {
    const msix = new Msix({ vectors, signalMsi: () => {} });
    expect(msix.pbaOffset).toBe(pba);
    expect(msix.barSize).toBe(size);
  });

  it("refuses vector counts outside 1-2048", () => {
    for (const vectors of [0, 2049, 1.5]) {
      expect(() => new Msix({ vectors, signalMsi: () => {} })).toThrow(RangeError);
    }
  });

  it("starts with every entry masked and zero, and nothing pending", () => {
    const { read32 } = setup(2);
    for (const entry of [0, 16]) {
      expect([read32(entry), read32(entry + 4), read32(entry + 8), read32(entry + 12)]).toEqual([0, 0, 0, 1]);
    }
    expect(read32(0x800)).toBe(0);
  });

  it("takes aligned 32- and 64-bit table accesses only; vector control keeps its mask bit alone", () => {
    const { msix, read, read32, write } = setup(2);
    // A 64-bit write: address low (its low two bits are not stored) and high.
    msix.region.write(0, 16, Uint8Array.of(0x03, 0x10, 0xe0, 0xfe, 1, 0, 0, 0));
    expect(read32(16)).toBe(0xfee01000);
    expect(read32(20)).toBe(1);
    expect([...read(16, 8)]).toEqual([0x00, 0x10, 0xe0, 0xfe, 1, 0, 0, 0]);
    write(28, 0xfffffffe);
    expect(read32(28)).toBe(0);
    write(24, 0x55);
    expect(read32(24)).toBe(0x55);
    // Wrong widths and misaligned accesses.
    msix.region.write(0, 24, Uint8Array.of(0xaa));
    msix.region.write(0, 26, Uint8Array.of(0xaa, 0xaa, 0xaa, 0xaa));
    msix.region.write(0, 20, new Uint8Array(8));
    expect(read32(24)).toBe(0x55);
    expect(read32(20)).toBe(1);
    expect([...read(24, 2)]).toEqual([0, 0]);
    expect([...read(26, 4)]).toEqual([0, 0, 0, 0]);
  });

  it("sends an unmasked vector, holds masked ones pending, and ignores vectors outside the table", () => {
    const { msix, messages, write, read32, control } = setup(4);
    write(3 * 16, 0xfee00000, 0, 0x99, 0);
    msix.notify(3);
    expect(messages).toEqual([]); // MSI-X is disabled
    control(MsixControl.Enable);
    msix.notify(3);
    msix.notify(4);
    msix.notify(0xffff);
    expect(messages).toEqual([[0xfee00000, 0x99]]);
    msix.notify(1); // masked since reset
    msix.notify(1);
    expect(read32(0x800)).toBe(0b10);
    expect(msix.isPending(1)).toBe(true);
    write(0x800, 0); // the PBA is read-only
    expect(read32(0x800)).toBe(0b10);
    write(16, 0xfee00000, 0, 0x11, 0); // unmasks vector 1 last
    expect(messages).toEqual([
      [0xfee00000, 0x99],
      [0xfee00000, 0x11],
    ]);
    expect(read32(0x800)).toBe(0);
  });

  it("holds everything under the function mask and sends what is unmasked when it clears", () => {
    const { msix, messages, write, control, read32 } = setup(2);
    write(0, 0xfee00000, 0, 1, 0);
    write(16, 0xfee00000, 0, 2, 1);
    control(MsixControl.Enable | MsixControl.FunctionMask);
    msix.notify(0);
    msix.notify(1);
    expect(read32(0x800)).toBe(0b11);
    control(MsixControl.Enable);
    expect(messages).toEqual([[0xfee00000, 1]]);
    expect(read32(0x800)).toBe(0b10);
  });

  it("drops messages while bus mastering is off", () => {
    const { msix, fn, messages, write, control } = setup(1);
    write(0, 0xfee00000, 0, 1, 0);
    control(MsixControl.Enable);
    fn.writeConfig(PciConfig.Command, Uint8Array.of(0, 0));
    msix.notify(0);
    expect(messages).toEqual([]);
    expect(msix.isPending(0)).toBe(false);
  });

  it("reads pending bits past the first 32 vectors through the PBA's dwords", () => {
    const { msix, read32, read, control } = setup(40);
    control(MsixControl.Enable);
    msix.notify(33);
    msix.notify(2);
    expect(read32(0x800)).toBe(0b100);
    expect(read32(0x804)).toBe(0b10);
    expect([...read(0x800, 8)]).toEqual([4, 0, 0, 0, 2, 0, 0, 0]);
    expect(read32(0x808)).toBe(0);
  });

  it("resets the table and the PBA", () => {
    const { msix, read32, write, control } = setup(2);
    write(0, 0xfee00000, 0, 1, 1);
    control(MsixControl.Enable);
    msix.notify(0);
    msix.reset();
    expect(read32(0)).toBe(0);
    expect(read32(12)).toBe(1);
    expect(read32(0x800)).toBe(0);
  });
});

// virtio-mmio register decoding: every register, access widths, the interrupt line and its acknowledgement.
import { describe, expect, it } from "vitest";
import { DeviceStatus, VirtioFeature } from "./constants.js";
import { ECHO_DEVICE_TYPE, EchoDevice } from "./echo-device.test-support.js";
import { featureWords } from "./features.js";
import { VirtioMmioRegister as Reg, VIRTIO_MMIO_MAGIC, VIRTIO_MMIO_VENDOR_ID } from "./mmio-registers.js";
import { VirtioMmioTransport } from "./mmio-transport.js";
import { driverOk, negotiate } from "./transport-driver.test-support.js";
import { mmioFixture } from "./transport-fixtures.test-support.js";
import { createGuestRam } from "./virtqueue-driver.test-support.js";

const MODERN = featureWords(VirtioFeature.Version1);

describe("virtio-mmio transport", () => {
  it("identifies itself: magic, version 2, device and vendor IDs", () => {
    const { driver } = mmioFixture();
    expect(driver.read(Reg.MagicValue)).toBe(VIRTIO_MMIO_MAGIC);
    expect(driver.read(Reg.MagicValue)).toBe(0x74726976); // "virt"
    expect(driver.read(Reg.Version)).toBe(2);
    expect(driver.read(Reg.DeviceId)).toBe(ECHO_DEVICE_TYPE);
    expect(driver.read(Reg.VendorId)).toBe(VIRTIO_MMIO_VENDOR_ID);
  });

  it("decodes registers only with aligned 32-bit accesses", () => {
    const { driver } = mmioFixture();
    expect(driver.read(Reg.MagicValue, 1)).toBe(0);
    expect(driver.read(Reg.MagicValue, 2)).toBe(0);
    expect(driver.read(Reg.MagicValue, 8)).toBe(0);
    expect(driver.read(Reg.MagicValue + 2, 4)).toBe(0);
    driver.write(Reg.Status, DeviceStatus.Acknowledge, 1);
    driver.write(Reg.Status, DeviceStatus.Acknowledge, 2);
    driver.write(Reg.Status + 1, DeviceStatus.Acknowledge, 4);
    expect(driver.status()).toBe(0);
    driver.write(Reg.Status, DeviceStatus.Acknowledge, 4);
    expect(driver.status()).toBe(DeviceStatus.Acknowledge);
  });

  it("reads 0 from write-only and reserved registers", () => {
    const { driver } = mmioFixture();
    const writeOnly = [
      Reg.DeviceFeaturesSel,
      Reg.DriverFeatures,
      Reg.DriverFeaturesSel,
      Reg.QueueSel,
      Reg.QueueNum,
      Reg.QueueNotify,
      Reg.InterruptAck,
      Reg.QueueDescLow,
      Reg.QueueDescHigh,
      Reg.QueueDriverLow,
      Reg.QueueDriverHigh,
      Reg.QueueDeviceLow,
      Reg.QueueDeviceHigh,
      Reg.ShmSel,
    ];
    driver.write(Reg.DriverFeatures, 0xffffffff);
    driver.write(Reg.QueueDescLow, 0x1000);
    for (const offset of writeOnly) expect(driver.read(offset)).toBe(0);
    for (const offset of [0x018, 0x028, 0x03c, 0x040, 0x0a8, 0x0c0, 0x0c4, 0x0f8])
      expect(driver.read(offset)).toBe(0);
  });

  it("selects device feature words; words past the second read 0", () => {
    const { device, driver } = mmioFixture();
    driver.write(Reg.DeviceFeaturesSel, 0);
    expect(driver.read(Reg.DeviceFeatures)).toBe(device.features[0]);
    driver.write(Reg.DeviceFeaturesSel, 1);
    expect(driver.read(Reg.DeviceFeatures)).toBe(device.features[1]);
    driver.write(Reg.DeviceFeaturesSel, 2);
    expect(driver.read(Reg.DeviceFeatures)).toBe(0);
  });

  it("ignores driver feature words past the second", () => {
    const { device, driver } = mmioFixture();
    driver.setStatus(DeviceStatus.Acknowledge | DeviceStatus.Driver);
    driver.setDriverFeatures(MODERN);
    driver.write(Reg.DriverFeaturesSel, 2);
    driver.write(Reg.DriverFeatures, 0xffffffff);
    driver.setStatus(DeviceStatus.Acknowledge | DeviceStatus.Driver | DeviceStatus.FeaturesOk);
    driverOk(driver);
    expect(device.activations[0].features).toEqual(MODERN);
  });

  it("reports absent shared memory regions with a length of -1", () => {
    const { driver } = mmioFixture();
    for (const id of [0, 1, 255]) {
      driver.write(Reg.ShmSel, id);
      expect(driver.read(Reg.ShmLenLow)).toBe(0xffffffff);
      expect(driver.read(Reg.ShmLenHigh)).toBe(0xffffffff);
    }
  });

  it("maps the device configuration at 0x100 and reads 0 past it", () => {
    const { device, driver, transport } = mmioFixture();
    device.config.set([1, 2, 3, 4, 5, 6, 7, 8]);
    expect(driver.read(Reg.Config, 1)).toBe(1);
    expect(driver.read(Reg.Config + 6, 2)).toBe(0x0807);
    expect(driver.read(Reg.Config + 4, 4)).toBe(0x08070605);
    const wide = new Uint8Array(8);
    transport.region.read(0, Reg.Config, wide);
    expect(wide).toEqual(Uint8Array.of(1, 2, 3, 4, 5, 6, 7, 8));
    expect(driver.read(Reg.Config + 8, 4)).toBe(0);
    expect(driver.read(0x1fc, 4)).toBe(0);
  });

  it("writes QueueReady 0 to stop a queue, which then reads back as not ready", () => {
    const { driver } = mmioFixture();
    negotiate(driver, MODERN);
    expect(
      driver.setupQueue(0, { size: 16, descriptorArea: 0x10000, driverArea: 0x10100, deviceArea: 0x10200 }),
    ).toBe(true);
    driver.write(Reg.QueueReady, 0);
    expect(driver.read(Reg.QueueReady)).toBe(0);
    driver.write(Reg.QueueReady, 2); // neither 0 nor 1: ignored
    expect(driver.read(Reg.QueueReady)).toBe(0);
  });

  it("holds the line while InterruptStatus is not 0; InterruptACK clears the bits written", () => {
    const { device, driver, lineLevels, transport } = mmioFixture();
    negotiate(driver, MODERN);
    driver.setupQueue(0, { size: 16, descriptorArea: 0x10000, driverArea: 0x10100, deviceArea: 0x10200 });
    driverOk(driver);
    const { interrupt } = device.activations[0];
    interrupt.signalUsedBuffers(0);
    device.setConfigValue(1);
    expect(driver.read(Reg.InterruptStatus)).toBe(3);
    expect(transport.interruptStatus).toBe(3);
    expect(lineLevels).toEqual([true]);
    driver.write(Reg.InterruptAck, 1);
    expect(driver.read(Reg.InterruptStatus)).toBe(2);
    expect(lineLevels).toEqual([true]);
    driver.write(Reg.InterruptAck, 0xfffffffe);
    expect(driver.read(Reg.InterruptStatus)).toBe(0);
    expect(lineLevels).toEqual([true, false]);
    interrupt.signalUsedBuffers(0);
    expect(lineLevels).toEqual([true, false, true]);
    driver.setStatus(0);
    expect(lineLevels).toEqual([true, false, true, false]);
  });

  it("counts the config generation in 32 bits", () => {
    const { device, driver } = mmioFixture();
    negotiate(driver, MODERN);
    driverOk(driver);
    for (let i = 0; i < 300; i++) device.setConfigValue(i);
    expect(driver.read(Reg.ConfigGeneration)).toBe(300);
  });

  it("exposes the status register to the VMM", () => {
    const { driver, transport } = mmioFixture();
    negotiate(driver, MODERN);
    expect(transport.deviceStatus).toBe(driver.status());
  });

  it("refuses a device whose configuration does not fit the window", () => {
    const device = new EchoDevice();
    Object.defineProperty(device, "configSize", { value: 0x101 });
    expect(
      () => new VirtioMmioTransport({ device, memory: createGuestRam(), interrupt: { set: () => {} } }),
    ).toThrow(RangeError);
  });

  it("refuses a device with a bad queue size", () => {
    const device = new EchoDevice({ queueMaxSizes: [0] });
    expect(
      () => new VirtioMmioTransport({ device, memory: createGuestRam(), interrupt: { set: () => {} } }),
    ).toThrow(RangeError);
  });
});

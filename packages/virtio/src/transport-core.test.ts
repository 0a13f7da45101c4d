// What both transports share (VirtioTransportCore), driven through each transport's registers: status rules,
// feature negotiation, queue enable and refusal, notifications, interrupts, configuration and resets.
import { describe, expect, it } from "vitest";
import { DeviceStatus, VirtioFeature } from "./constants.js";
import { ECHO_FEATURE } from "./echo-device.test-support.js";
import { type FeatureWords, featureWords } from "./features.js";
import { driverOk, negotiate } from "./transport-driver.test-support.js";
import { TRANSPORTS } from "./transport-fixtures.test-support.js";
import type { VirtqueueLayout } from "./virtqueue.js";

const MODERN = featureWords(VirtioFeature.Version1);
const PACKED = featureWords(VirtioFeature.Version1, VirtioFeature.RingPacked);
/** A split layout for a queue of 16 in the 4 MiB of guest RAM. */
const LAYOUT: VirtqueueLayout = {
  size: 16,
  descriptorArea: 0x10000,
  driverArea: 0x10100,
  deviceArea: 0x10200,
};
const OK_STATUS = DeviceStatus.Acknowledge | DeviceStatus.Driver | DeviceStatus.FeaturesOk;

describe.each(TRANSPORTS)("%s: shared transport rules", (_name, createFixture) => {
  describe("feature negotiation", () => {
    it("offers the device's 64 feature bits and sets FEATURES_OK for a modern subset of them", () => {
      const { device, driver } = createFixture();
      expect(driver.deviceFeatures()).toEqual(device.features);
      const chosen = featureWords(VirtioFeature.Version1, ECHO_FEATURE);
      expect(negotiate(driver, chosen)).toBe(true);
      expect(driver.status()).toBe(OK_STATUS);
      expect(device.ackedFeatures).toEqual([chosen]);
      driverOk(driver);
      expect(device.activations).toHaveLength(1);
      expect(device.activations[0].features).toEqual(chosen);
    });

    it.each<[string, FeatureWords]>([
      ["without VIRTIO_F_VERSION_1", featureWords(ECHO_FEATURE)],
      ["with a bit the device does not offer", featureWords(VirtioFeature.Version1, 5)],
      ["with a high bit the device does not offer", featureWords(VirtioFeature.Version1, 63)],
    ])("refuses FEATURES_OK %s, and then DRIVER_OK", (_case, features) => {
      const { device, driver } = createFixture();
      expect(negotiate(driver, features)).toBe(false);
      expect(driver.status()).toBe(DeviceStatus.Acknowledge | DeviceStatus.Driver);
      expect(device.ackedFeatures).toEqual([]);
      driver.setStatus(OK_STATUS | DeviceStatus.DriverOk);
      expect(driver.status() & (DeviceStatus.FeaturesOk | DeviceStatus.DriverOk)).toBe(0);
      expect(device.activations).toHaveLength(0);
    });

    it("refuses FEATURES_OK when the device rejects the combination", () => {
      const { device, driver } = createFixture({
        acceptFeatures: (features) => (features[0] & (1 << ECHO_FEATURE)) === 0,
      });
      expect(negotiate(driver, featureWords(VirtioFeature.Version1, ECHO_FEATURE))).toBe(false);
      expect(device.ackedFeatures).toHaveLength(1);
      // The driver retries without the feature after a reset.
      expect(negotiate(driver, MODERN)).toBe(true);
    });

    it("freezes the driver's features once FEATURES_OK is set", () => {
      const { device, driver } = createFixture();
      negotiate(driver, MODERN);
      driver.setDriverFeatures(featureWords(VirtioFeature.Version1, ECHO_FEATURE, VirtioFeature.RingPacked));
      driverOk(driver);
      expect(device.activations[0].features).toEqual(MODERN);
    });
  });

  describe("device status", () => {
    it("only ever adds bits: a driver cannot clear one, nor set DEVICE_NEEDS_RESET", () => {
      const { driver } = createFixture();
      driver.setStatus(DeviceStatus.Acknowledge | DeviceStatus.Driver);
      driver.setStatus(DeviceStatus.Acknowledge);
      expect(driver.status()).toBe(DeviceStatus.Acknowledge | DeviceStatus.Driver);
      driver.setStatus(DeviceStatus.DeviceNeedsReset | DeviceStatus.Failed);
      expect(driver.status()).toBe(DeviceStatus.Acknowledge | DeviceStatus.Driver | DeviceStatus.Failed);
    });

    it("ignores DRIVER_OK before FEATURES_OK", () => {
      const { device, driver } = createFixture();
      driver.setStatus(DeviceStatus.Acknowledge | DeviceStatus.Driver | DeviceStatus.DriverOk);
      expect(driver.status()).toBe(DeviceStatus.Acknowledge | DeviceStatus.Driver);
      expect(device.activations).toHaveLength(0);
    });

    it("resets the device when 0 is written: queues disabled, features and interrupt cleared", () => {
      const { device, driver, interruptAsserted } = createFixture();
      negotiate(driver, MODERN);
      expect(device.resets).toBe(1); // negotiate() starts with a reset
      expect(driver.setupQueue(0, LAYOUT)).toBe(true);
      driverOk(driver);
      device.activations[0].interrupt.signalUsedBuffers(0);
      expect(interruptAsserted()).toBe(true);
      driver.setStatus(0);
      expect(device.resets).toBe(2);
      expect(driver.status()).toBe(0);
      expect(driver.queueReady(0)).toBe(false);
      expect(driver.queueMaxSize(0)).toBe(16);
      expect(interruptAsserted()).toBe(false);
      expect(driver.takeInterruptStatus()).toBe(0);
    });

    it("resets with the machine (the transport's reset())", () => {
      const { device, driver, machineReset } = createFixture();
      negotiate(driver, MODERN);
      driver.setupQueue(0, LAYOUT);
      driverOk(driver);
      machineReset();
      expect(device.resets).toBe(2);
      expect(driver.status()).toBe(0);
      expect(driver.queueReady(0)).toBe(false);
    });
  });

  describe("queues", () => {
    it("reports each queue's maximum size, and 0 for queues the device does not have", () => {
      const { driver } = createFixture({ queueMaxSizes: [256, 8] });
      expect(driver.queueMaxSize(0)).toBe(256);
      expect(driver.queueMaxSize(1)).toBe(8);
      expect(driver.queueMaxSize(2)).toBe(0);
      expect(driver.setupQueue(2, LAYOUT)).toBe(false);
    });

    it("builds the queues the driver enabled and hands them to the device at DRIVER_OK", () => {
      const { device, driver, errors } = createFixture();
      negotiate(driver, MODERN);
      expect(driver.setupQueue(1, { ...LAYOUT, size: 8 })).toBe(true);
      expect(device.activations).toHaveLength(0);
      driverOk(driver);
      const [context] = device.activations;
      expect(context.queues).toHaveLength(2);
      expect(context.queues[0]).toBeUndefined();
      expect(context.queues[1]?.index).toBe(1);
      expect(context.queues[1]?.size).toBe(8);
      expect(errors).toEqual([]);
    });

    it.each<[string, Partial<VirtqueueLayout>]>([
      ["size 0", { size: 0 }],
      ["a size above the maximum", { size: 32 }],
      ["a split size that is not a power of two", { size: 12 }],
      ["a misaligned descriptor table", { descriptorArea: 0x10008 }],
      ["a misaligned available ring", { driverArea: 0x10101 }],
      ["a misaligned used ring", { deviceArea: 0x10202 }],
      ["rings outside guest RAM", { deviceArea: 0x7fff0000 }],
      ["an address beyond 52 bits", { descriptorArea: 2 ** 52 }],
    ])("refuses %s: the queue stays disabled and the device needs a reset", (_case, change) => {
      const { device, driver, errors } = createFixture();
      negotiate(driver, MODERN);
      expect(driver.setupQueue(0, { ...LAYOUT, ...change })).toBe(false);
      expect(driver.status()).toBe(OK_STATUS | DeviceStatus.DeviceNeedsReset);
      expect(errors).toHaveLength(1);
      expect(errors[0]).toMatch(/^queue 0/);
      // DRIVER_OK does not bring the device up, but tells the driver with a configuration interrupt.
      driverOk(driver);
      expect(device.activations).toHaveLength(0);
      expect(driver.takeInterruptStatus()).toBe(2);
      // A reset recovers.
      expect(negotiate(driver, MODERN)).toBe(true);
      expect(driver.setupQueue(0, LAYOUT)).toBe(true);
    });

    it("takes a packed queue of any size up to the maximum", () => {
      const { device, driver } = createFixture();
      negotiate(driver, PACKED);
      expect(driver.setupQueue(0, { ...LAYOUT, size: 12 })).toBe(true);
      driverOk(driver);
      expect(device.activations[0].queues[0]?.size).toBe(12);
    });

    it("refuses a queue enabled before FEATURES_OK or after DRIVER_OK", () => {
      const early = createFixture();
      early.driver.setStatus(DeviceStatus.Acknowledge | DeviceStatus.Driver);
      expect(early.driver.setupQueue(0, LAYOUT)).toBe(false);
      expect(early.driver.status() & DeviceStatus.DeviceNeedsReset).not.toBe(0);

      const late = createFixture();
      negotiate(late.driver, MODERN);
      driverOk(late.driver);
      expect(late.driver.setupQueue(0, LAYOUT)).toBe(false);
      expect(late.driver.status() & DeviceStatus.DeviceNeedsReset).not.toBe(0);
      expect(late.driver.takeInterruptStatus()).toBe(2);
    });

    it("ignores writes to the registers of an enabled queue", () => {
      const { device, driver } = createFixture();
      negotiate(driver, MODERN);
      driver.setupQueue(0, LAYOUT);
      expect(
        driver.setupQueue(0, { size: 4, descriptorArea: 0x20000, driverArea: 0x20040, deviceArea: 0x20080 }),
      ).toBe(true);
      driverOk(driver);
      expect(device.activations[0].queues[0]?.size).toBe(16);
    });
  });

  describe("notifications", () => {
    it("reach the device only after DRIVER_OK, for enabled queues, and not after a reset", () => {
      const { device, driver } = createFixture();
      negotiate(driver, MODERN);
      driver.setupQueue(0, LAYOUT);
      driver.notify(0);
      expect(device.notifies).toEqual([]);
      driverOk(driver);
      driver.notify(0);
      driver.notify(1); // not enabled
      driver.notify(7); // no such queue
      expect(device.notifies).toEqual([0]);
      driver.setStatus(0);
      driver.notify(0);
      expect(device.notifies).toEqual([0]);
    });

    it("contain a device that throws: DEVICE_NEEDS_RESET, a configuration interrupt, no more notifications", () => {
      const { device, driver, errors, interruptAsserted } = createFixture({ throwOnNotify: true });
      negotiate(driver, MODERN);
      driver.setupQueue(0, LAYOUT);
      driverOk(driver);
      driver.notify(0);
      expect(driver.status() & DeviceStatus.DeviceNeedsReset).not.toBe(0);
      expect(errors).toEqual(["device error: echo device bug"]);
      expect(interruptAsserted()).toBe(true);
      expect(driver.takeInterruptStatus()).toBe(2);
      driver.notify(0);
      expect(device.notifies).toEqual([0]);
    });
  });

  describe("interrupts", () => {
    it("raise used-buffer interrupts only for enabled queues of an active device", () => {
      const { device, driver, interruptAsserted } = createFixture();
      negotiate(driver, MODERN);
      driver.setupQueue(0, LAYOUT);
      driverOk(driver);
      const { interrupt } = device.activations[0];
      interrupt.signalUsedBuffers(1); // not enabled
      interrupt.signalUsedBuffers(9); // no such queue
      expect(interruptAsserted()).toBe(false);
      interrupt.signalUsedBuffers(0);
      expect(interruptAsserted()).toBe(true);
      expect(driver.takeInterruptStatus()).toBe(1);
      expect(interruptAsserted()).toBe(false);
    });

    it("drop what a previous activation signals after a reset", () => {
      const { device, driver, interruptAsserted } = createFixture();
      negotiate(driver, MODERN);
      driver.setupQueue(0, LAYOUT);
      driverOk(driver);
      const stale = device.activations[0].interrupt;
      negotiate(driver, MODERN);
      driver.setupQueue(0, LAYOUT);
      driverOk(driver);
      stale.signalUsedBuffers(0);
      stale.signalConfigChange();
      stale.signalNeedsReset("stale");
      expect(interruptAsserted()).toBe(false);
      expect(driver.status() & DeviceStatus.DeviceNeedsReset).toBe(0);
      device.activations[1].interrupt.signalUsedBuffers(0);
      expect(interruptAsserted()).toBe(true);
    });

    it("let the device ask for a reset: DEVICE_NEEDS_RESET and a configuration interrupt", () => {
      const { device, driver, errors } = createFixture();
      negotiate(driver, MODERN);
      driverOk(driver);
      device.activations[0].interrupt.signalNeedsReset("backend gone");
      expect(driver.status()).toBe(OK_STATUS | DeviceStatus.DriverOk | DeviceStatus.DeviceNeedsReset);
      expect(errors).toEqual(["backend gone"]);
      expect(driver.takeInterruptStatus()).toBe(2);
    });
  });

  describe("device configuration", () => {
    it("reads and writes the device's configuration with 8-, 16- and 32-bit accesses", () => {
      const { device, driver } = createFixture();
      device.config.set([0x11, 0x22, 0x33, 0x44]);
      expect(driver.readConfig(0, 4)).toBe(0x44332211);
      expect(driver.readConfig(2, 2)).toBe(0x4433);
      expect(driver.readConfig(3, 1)).toBe(0x44);
      driver.writeConfig(4, 4, 0xdeadbeef);
      driver.writeConfig(0, 4, 0); // read-only for the echo device
      expect(driver.readConfig(4, 4)).toBe(0xdeadbeef);
      expect(driver.readConfig(6, 1)).toBe(0xad);
      expect(driver.readConfig(0, 4)).toBe(0x44332211);
    });

    it("reads 0 past the configuration and for misaligned accesses", () => {
      const { device, driver } = createFixture();
      device.config.fill(0xff);
      expect(driver.readConfig(8, 4)).toBe(0);
      expect(driver.readConfig(1, 2)).toBe(0);
      expect(driver.readConfig(2, 4)).toBe(0);
      driver.writeConfig(5, 2, 0x1234);
      expect(device.config[5]).toBe(0xff);
    });

    it("changes the generation with each change and raises a configuration interrupt", () => {
      const { device, driver, interruptAsserted } = createFixture();
      negotiate(driver, MODERN);
      driverOk(driver);
      const before = driver.configGeneration();
      device.setConfigValue(7);
      expect(driver.configGeneration()).toBe((before + 1) & 0xff);
      expect(driver.readConfig(0, 4)).toBe(7);
      expect(interruptAsserted()).toBe(true);
      expect(driver.takeInterruptStatus()).toBe(2);
    });
  });
});

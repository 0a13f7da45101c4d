// virtio-pci: the configuration header and capabilities, the common configuration's fields and widths, the ISR and
// INTx#, MSI-X vectors and masking, the PCI_CFG window, and bus mastering.
import { PciCapabilityId, PciCommand, PciConfig, PciStatus } from "@tsvmm/device-model";
import { describe, expect, it } from "vitest";
import { DeviceStatus, VirtioDeviceId, VirtioFeature } from "./constants.js";
import { ECHO_CONFIG_SIZE, ECHO_DEVICE_TYPE, EchoDevice } from "./echo-device.test-support.js";
import { featureWords } from "./features.js";
import {
  VirtioPciCapType as CapType,
  VirtioPciCommonCfg as Common,
  VIRTIO_MSI_NO_VECTOR,
  VirtioPciCap,
  VirtioPciClass,
} from "./pci-layout.js";
import { VirtioPciTransport } from "./pci-transport.js";
import { driverOk, negotiate, PciTestDriver } from "./transport-driver.test-support.js";
import { pciFixture } from "./transport-fixtures.test-support.js";
import { AccessCheckingMemory, createGuestRam, VirtqueueDriver } from "./virtqueue-driver.test-support.js";

const MODERN = featureWords(VirtioFeature.Version1);
const LAYOUT = { size: 16, descriptorArea: 0x10000, driverArea: 0x10100, deviceArea: 0x10200 };
const MSI_ADDRESS = 0xfee00000;

/** A device with queue 0 enabled, DRIVER_OK set and MSI-X enabled with vector v at data 0x40 + v. */
function msixFixture() {
  const fixture = pciFixture();
  const { driver } = fixture;
  negotiate(driver, MODERN);
  for (let vector = 0; vector < 3; vector++) driver.programVector(vector, MSI_ADDRESS, 0x40 + vector);
  driver.enableMsix();
  expect(driver.setConfigVector(0)).toBe(0);
  expect(driver.setQueueVector(0, 1)).toBe(1);
  driver.setupQueue(0, LAYOUT);
  driverOk(driver);
  return { ...fixture, interrupt: fixture.device.activations[0].interrupt };
}

describe("virtio-pci transport", () => {
  describe("configuration header", () => {
    it("identifies a modern virtio device", () => {
      const { driver } = pciFixture();
      expect(driver.configRead(PciConfig.VendorId, 2)).toBe(0x1af4);
      expect(driver.configRead(PciConfig.DeviceId, 2)).toBe(0x1040 + ECHO_DEVICE_TYPE);
      expect(driver.configRead(PciConfig.RevisionId, 1)).toBe(1);
      expect(driver.configRead(PciConfig.SubsystemVendorId, 2)).toBe(0x1af4);
      expect(driver.configRead(PciConfig.SubsystemId, 2)).toBeGreaterThanOrEqual(0x40);
      expect(driver.configRead(PciConfig.InterruptPin, 1)).toBe(1);
      expect(driver.configRead(PciConfig.Status, 2) & PciStatus.CapabilitiesList).not.toBe(0);
    });

    it.each([
      [VirtioDeviceId.Block, VirtioPciClass.Block, 0x010000],
      [VirtioDeviceId.Network, VirtioPciClass.Network, 0x020000],
      [VirtioDeviceId.Console, VirtioPciClass.Console, 0x078000],
      [VirtioDeviceId.Entropy, VirtioPciClass.Other, 0x00ff00],
    ])("gives device type %i the class code %i by default", (type, classCode, expected) => {
      const device = new EchoDevice();
      Object.defineProperty(device, "deviceType", { value: type });
      const transport = new VirtioPciTransport({ device, memory: createGuestRam(), signalMsi: () => {} });
      const data = new Uint8Array(4);
      transport.pciFunction.readConfig(PciConfig.RevisionId, data);
      expect(classCode).toBe(expected);
      expect(new DataView(data.buffer).getUint32(0, true) >>> 8).toBe(expected);
      expect(transport.pciFunction.config.word(PciConfig.DeviceId)).toBe(0x1040 + type);
    });

    it("takes the class code from the options", () => {
      const transport = new VirtioPciTransport({
        device: new EchoDevice(),
        memory: createGuestRam(),
        signalMsi: () => {},
        classCode: 0x0c0300,
      });
      expect(transport.pciFunction.config.dword(PciConfig.RevisionId) >>> 8).toBe(0x0c0300);
    });

    it("has a 64-bit prefetchable BAR 4 of 16 KiB and a 32-bit BAR 1 of 4 KiB", () => {
      const { driver } = pciFixture();
      driver.configWrite(PciConfig.Bar0 + 16, 4, 0xffffffff);
      driver.configWrite(PciConfig.Bar0 + 20, 4, 0xffffffff);
      expect(driver.configRead(PciConfig.Bar0 + 16, 4)).toBe(0xffffc00c);
      expect(driver.configRead(PciConfig.Bar0 + 20, 4)).toBe(0xffffffff);
      driver.configWrite(PciConfig.Bar0 + 4, 4, 0xffffffff);
      expect(driver.configRead(PciConfig.Bar0 + 4, 4)).toBe(0xfffff000);
      for (const bar of [0, 2, 3]) {
        driver.configWrite(PciConfig.Bar0 + 4 * bar, 4, 0xffffffff);
        expect(driver.configRead(PciConfig.Bar0 + 4 * bar, 4)).toBe(0);
      }
    });

    it("lists the virtio structures in BAR 4 at page offsets, and the PCI_CFG window", () => {
      const { driver } = pciFixture();
      const get = (type: number) => driver.structures.get(type);
      expect(get(CapType.CommonCfg)).toMatchObject({ bar: 4, offset: 0x0000, length: 0x1000 });
      expect(get(CapType.IsrCfg)).toMatchObject({ bar: 4, offset: 0x1000, length: 1 });
      expect(get(CapType.DeviceCfg)).toMatchObject({ bar: 4, offset: 0x2000, length: ECHO_CONFIG_SIZE });
      expect(get(CapType.NotifyCfg)).toMatchObject({ bar: 4, offset: 0x3000, length: 8 });
      expect(driver.notifyOffMultiplier).toBe(4);
      expect(get(CapType.PciCfg)).toBeDefined();
      for (const [type, { capability }] of driver.structures) {
        const length = type === CapType.NotifyCfg || type === CapType.PciCfg ? 20 : 16;
        expect(driver.configRead(capability + VirtioPciCap.CapLength, 1)).toBe(length);
        // The structure fields are read-only, except in the PCI_CFG window.
        driver.configWrite(capability + VirtioPciCap.Offset, 4, 0x1234);
        expect(driver.configRead(capability + VirtioPciCap.Offset, 4) === 0x1234).toBe(
          type === CapType.PciCfg,
        );
      }
    });

    it("has MSI-X with one vector per queue plus one, table and PBA in BAR 1", () => {
      const { driver } = pciFixture();
      const { capability } = driver.msix;
      expect(driver.configRead(capability, 1)).toBe(PciCapabilityId.MsiX);
      expect(driver.configRead(capability + 2, 2)).toBe(2); // table size 3, disabled, unmasked
      expect(driver.msix).toMatchObject({ bar: 1, tableOffset: 0, pbaBar: 1, pbaOffset: 0x800 });
      driver.configWrite(capability + 2, 2, 0xffff);
      expect(driver.configRead(capability + 2, 2)).toBe(0xc002);
    });

    it("leaves out the device configuration capability for a device without one", () => {
      const device = new EchoDevice();
      Object.defineProperty(device, "configSize", { value: 0 });
      const driver = new PciTestDriver(
        new VirtioPciTransport({ device, memory: createGuestRam(), signalMsi: () => {} }),
      );
      expect(driver.structures.has(CapType.DeviceCfg)).toBe(false);
      expect(driver.structures.has(CapType.CommonCfg)).toBe(true);
    });

    it("refuses devices that do not fit: too many queues or too much configuration", () => {
      const memory = createGuestRam();
      const many = new EchoDevice({ queueMaxSizes: new Array(1025).fill(16) });
      expect(() => new VirtioPciTransport({ device: many, memory, signalMsi: () => {} })).toThrow(RangeError);
      const big = new EchoDevice();
      Object.defineProperty(big, "configSize", { value: 0x1001 });
      expect(() => new VirtioPciTransport({ device: big, memory, signalMsi: () => {} })).toThrow(RangeError);
      const most = new EchoDevice({ queueMaxSizes: new Array(1024).fill(16) });
      const driver = new PciTestDriver(new VirtioPciTransport({ device: most, memory, signalMsi: () => {} }));
      expect(driver.common(Common.NumQueues, 2)).toBe(1024);
      expect(driver.configRead(driver.msix.capability + 2, 2)).toBe(1024);
    });
  });

  describe("common configuration", () => {
    it("decodes each field only at its own width", () => {
      const { driver } = pciFixture();
      expect(driver.common(Common.NumQueues, 2)).toBe(2);
      expect(driver.common(Common.NumQueues, 4)).toBe(0);
      expect(driver.common(Common.NumQueues, 1)).toBe(0);
      expect(driver.common(Common.DeviceFeature, 2)).toBe(0);
      driver.setCommon(Common.DeviceStatus, 2, DeviceStatus.Acknowledge);
      driver.setCommon(Common.DeviceStatus, 4, DeviceStatus.Acknowledge);
      expect(driver.status()).toBe(0);
      driver.setCommon(Common.DeviceStatus, 1, DeviceStatus.Acknowledge);
      expect(driver.status()).toBe(DeviceStatus.Acknowledge);
      expect(driver.common(Common.DeviceStatus, 2)).toBe(0);
    });

    it("selects feature words in both directions and reads the driver's back", () => {
      const { device, driver } = pciFixture();
      driver.setCommon(Common.DeviceFeatureSelect, 4, 1);
      expect(driver.common(Common.DeviceFeatureSelect, 4)).toBe(1);
      expect(driver.common(Common.DeviceFeature, 4)).toBe(device.features[1]);
      driver.setCommon(Common.DeviceFeatureSelect, 4, 2);
      expect(driver.common(Common.DeviceFeature, 4)).toBe(0);
      driver.setDriverFeatures([0x11, 0x22]);
      driver.setCommon(Common.DriverFeatureSelect, 4, 0);
      expect(driver.common(Common.DriverFeature, 4)).toBe(0x11);
      driver.setCommon(Common.DriverFeatureSelect, 4, 1);
      expect(driver.common(Common.DriverFeature, 4)).toBe(0x22);
      driver.setCommon(Common.DriverFeatureSelect, 4, 5);
      driver.setCommon(Common.DriverFeature, 4, 0xffffffff);
      expect(driver.common(Common.DriverFeature, 4)).toBe(0);
    });

    it("holds the queue registers per queue: size (the maximum after reset), addresses, notify offset", () => {
      const { driver } = pciFixture({ queueMaxSizes: [64, 8] });
      driver.setCommon(Common.QueueSelect, 2, 1);
      expect(driver.common(Common.QueueSelect, 2)).toBe(1);
      expect(driver.common(Common.QueueSize, 2)).toBe(8);
      expect(driver.common(Common.QueueNotifyOff, 2)).toBe(1);
      expect(driver.common(Common.QueueEnable, 2)).toBe(0);
      driver.setCommon(Common.QueueSize, 2, 4);
      expect(driver.common(Common.QueueSize, 2)).toBe(4);
      // 64-bit fields: halves, or a whole 64-bit access.
      driver.write(CapType.CommonCfg, Common.QueueDesc, 8, 0x12345000, 0xab);
      expect(driver.common(Common.QueueDesc, 4)).toBe(0x12345000);
      expect(driver.common(Common.QueueDesc + 4, 4)).toBe(0xab);
      driver.setCommon(Common.QueueDriver + 4, 4, 7);
      driver.setCommon(Common.QueueDevice, 4, 0x3000);
      expect(driver.read(CapType.CommonCfg, Common.QueueDriver, 8)).toBe(7 * 2 ** 32);
      expect(driver.common(Common.QueueDevice, 4)).toBe(0x3000);
      expect(driver.common(Common.QueueDesc + 2, 2)).toBe(0);
      expect(driver.common(Common.QueueDesc + 4, 8)).toBe(0);
      driver.setCommon(Common.QueueSelect, 2, 0);
      expect(driver.common(Common.QueueSize, 2)).toBe(64);
      expect(driver.common(Common.QueueDesc, 4)).toBe(0);
      // A queue the device does not have.
      driver.setCommon(Common.QueueSelect, 2, 2);
      expect(driver.common(Common.QueueSize, 2)).toBe(0);
      expect(driver.common(Common.QueueMsixVector, 2)).toBe(VIRTIO_MSI_NO_VECTOR);
      expect(driver.setQueueVector(2, 0)).toBe(VIRTIO_MSI_NO_VECTOR);
    });

    it("ignores queue_enable 0 (a driver must not write it)", () => {
      const { driver } = pciFixture();
      negotiate(driver, MODERN);
      driver.setupQueue(0, LAYOUT);
      driver.setCommon(Common.QueueEnable, 2, 0);
      expect(driver.queueReady(0)).toBe(true);
    });

    it("shows the low 8 bits of the config generation", () => {
      const { device, driver } = pciFixture();
      negotiate(driver, MODERN);
      driverOk(driver);
      for (let i = 0; i < 257; i++) device.setConfigValue(i);
      expect(driver.configGeneration()).toBe(1);
    });

    it("ignores reads and writes of the notification page and the ISR page beyond its byte", () => {
      const { device, driver } = pciFixture();
      negotiate(driver, MODERN);
      driver.setupQueue(0, LAYOUT);
      driverOk(driver);
      expect(driver.read(CapType.NotifyCfg, 0, 2)).toBe(0);
      driver.write(CapType.NotifyCfg, 0, 1, 0); // a byte: wrong width
      driver.write(CapType.NotifyCfg, 2, 2, 0); // not a queue's address
      driver.write(CapType.NotifyCfg, 0, 8, 0);
      expect(device.notifies).toEqual([]);
      driver.write(CapType.NotifyCfg, 0, 4, 0); // 32 bits are fine
      expect(device.notifies).toEqual([0]);
      device.activations[0].interrupt.signalUsedBuffers(0);
      expect(driver.read(CapType.IsrCfg, 0, 4)).toBe(0);
      expect(driver.read(CapType.IsrCfg, 1, 1)).toBe(0);
      expect(driver.takeInterruptStatus()).toBe(1);
    });
  });

  describe("INTx#", () => {
    it("follows the ISR, which a read clears", () => {
      const { device, driver, transport } = pciFixture();
      negotiate(driver, MODERN);
      driver.setupQueue(0, LAYOUT);
      driverOk(driver);
      device.activations[0].interrupt.signalUsedBuffers(0);
      device.setConfigValue(1);
      expect(transport.interruptStatus).toBe(3);
      expect(transport.pciFunction.interruptAsserted).toBe(true);
      expect(driver.configRead(PciConfig.Status, 2) & PciStatus.InterruptStatus).not.toBe(0);
      expect(driver.takeInterruptStatus()).toBe(3);
      expect(transport.pciFunction.interruptAsserted).toBe(false);
      expect(driver.takeInterruptStatus()).toBe(0);
    });

    it("is not driven while MSI-X is enabled", () => {
      const { device, driver, transport } = pciFixture();
      negotiate(driver, MODERN);
      driver.setupQueue(0, LAYOUT);
      driverOk(driver);
      device.activations[0].interrupt.signalUsedBuffers(0);
      expect(transport.pciFunction.interruptAsserted).toBe(true);
      driver.enableMsix();
      expect(transport.pciFunction.interruptAsserted).toBe(false);
      device.activations[0].interrupt.signalUsedBuffers(0);
      expect(transport.pciFunction.interruptAsserted).toBe(false);
    });
  });

  describe("MSI-X", () => {
    it("maps events to vectors; a vector past the table reads back as NO_VECTOR", () => {
      const { driver } = pciFixture();
      expect(driver.setConfigVector(VIRTIO_MSI_NO_VECTOR)).toBe(VIRTIO_MSI_NO_VECTOR);
      expect(driver.setConfigVector(2)).toBe(2);
      expect(driver.setConfigVector(3)).toBe(VIRTIO_MSI_NO_VECTOR);
      expect(driver.setQueueVector(1, 1)).toBe(1);
      expect(driver.setQueueVector(0, 0x7ff)).toBe(VIRTIO_MSI_NO_VECTOR);
      expect(driver.setQueueVector(1, 1)).toBe(1);
      // A device reset unmaps them.
      driver.setStatus(0);
      expect(driver.common(Common.ConfigMsixVector, 2)).toBe(VIRTIO_MSI_NO_VECTOR);
      expect(driver.setQueueVector(1, VIRTIO_MSI_NO_VECTOR)).toBe(VIRTIO_MSI_NO_VECTOR);
    });

    it("sends queue and configuration interrupts to their vectors, and nothing for NO_VECTOR", () => {
      const { device, driver, messages, interrupt, transport } = msixFixture();
      interrupt.signalUsedBuffers(0);
      device.setConfigValue(9);
      expect(messages).toEqual([
        [MSI_ADDRESS, 0x41],
        [MSI_ADDRESS, 0x40],
      ]);
      expect(transport.interruptStatus).toBe(0);
      driver.setConfigVector(VIRTIO_MSI_NO_VECTOR);
      driver.setQueueVector(0, VIRTIO_MSI_NO_VECTOR);
      interrupt.signalUsedBuffers(0);
      device.setConfigValue(10);
      expect(messages).toHaveLength(2);
      expect(driver.pendingBits()).toBe(0);
    });

    it("sends to 64-bit message addresses", () => {
      const { driver, messages, interrupt } = msixFixture();
      driver.programVector(1, 0x1_2345_6780, 7);
      interrupt.signalUsedBuffers(0);
      expect(messages).toEqual([[0x1_2345_6780, 7]]);
    });

    it("holds a masked vector's interrupt pending in the PBA and sends it when unmasked", () => {
      const { driver, messages, interrupt } = msixFixture();
      driver.maskVector(1, true);
      interrupt.signalUsedBuffers(0);
      interrupt.signalUsedBuffers(0);
      expect(messages).toEqual([]);
      expect(driver.pendingBits()).toBe(0b10);
      driver.maskVector(1, false);
      expect(messages).toEqual([[MSI_ADDRESS, 0x41]]);
      expect(driver.pendingBits()).toBe(0);
    });

    it("holds interrupts pending under the function mask and sends those unmasked when it clears", () => {
      const { device, driver, messages, interrupt } = msixFixture();
      driver.enableMsix(true);
      driver.maskVector(0, true);
      interrupt.signalUsedBuffers(0);
      device.setConfigValue(3);
      expect(messages).toEqual([]);
      expect(driver.pendingBits()).toBe(0b11);
      driver.enableMsix(false);
      expect(messages).toEqual([[MSI_ADDRESS, 0x41]]);
      expect(driver.pendingBits()).toBe(0b01);
      driver.maskVector(0, false);
      expect(messages).toEqual([
        [MSI_ADDRESS, 0x41],
        [MSI_ADDRESS, 0x40],
      ]);
    });

    it("sends nothing while bus mastering is off", () => {
      const { driver, messages, interrupt } = msixFixture();
      driver.configWrite(PciConfig.Command, 2, PciCommand.MemorySpace);
      interrupt.signalUsedBuffers(0);
      expect(messages).toEqual([]);
      driver.configWrite(PciConfig.Command, 2, PciCommand.MemorySpace | PciCommand.BusMaster);
      interrupt.signalUsedBuffers(0);
      expect(messages).toHaveLength(1);
    });
  });

  describe("the PCI_CFG window", () => {
    function windowTo(driver: PciTestDriver, bar: number, offset: number, length: number): number {
      const cap = driver.structures.get(CapType.PciCfg)!.capability;
      driver.configWrite(cap + VirtioPciCap.Bar, 1, bar);
      driver.configWrite(cap + VirtioPciCap.Offset, 4, offset);
      driver.configWrite(cap + VirtioPciCap.Length, 4, length);
      return cap + VirtioPciCap.PciCfgData;
    }

    it("reads and writes BAR 4 through configuration space", () => {
      const { device, driver } = pciFixture();
      let data = windowTo(driver, 4, Common.NumQueues, 2);
      expect(driver.configRead(data, 2)).toBe(2);
      data = windowTo(driver, 4, Common.DeviceStatus, 1);
      driver.configWrite(data, 1, DeviceStatus.Acknowledge);
      expect(driver.status()).toBe(DeviceStatus.Acknowledge);
      device.config.set([0xa, 0xb, 0xc, 0xd]);
      data = windowTo(driver, 4, 0x2000, 4);
      expect(driver.configRead(data, 4)).toBe(0x0d0c0b0a);
    });

    it("reaches the MSI-X table in BAR 1", () => {
      const { driver } = pciFixture();
      const data = windowTo(driver, 1, 16 + 8, 4);
      driver.configWrite(data, 4, 0x1234);
      expect(driver.barRead(1, 16 + 8, 4)).toBe(0x1234);
    });

    it("reads the ISR through the window, which clears it", () => {
      const { device, driver, transport } = pciFixture();
      negotiate(driver, MODERN);
      driver.setupQueue(0, LAYOUT);
      driverOk(driver);
      device.activations[0].interrupt.signalUsedBuffers(0);
      const data = windowTo(driver, 4, 0x1000, 1);
      expect(driver.configRead(data, 1)).toBe(1);
      expect(transport.interruptStatus).toBe(0);
      expect(transport.pciFunction.interruptAsserted).toBe(false);
    });

    it("does nothing for a bad length, a misaligned offset, another BAR, or past the BAR", () => {
      const { driver } = pciFixture();
      for (const [bar, offset, length] of [
        [4, Common.DeviceStatus, 3],
        [4, Common.NumQueues + 1, 2],
        [0, 0, 4],
        [4, 0x4000, 4],
        [1, 0x1000, 4],
      ]) {
        const data = windowTo(driver, bar, offset, length);
        driver.configWrite(data, 4, DeviceStatus.Acknowledge);
        expect(driver.status()).toBe(0);
        expect(driver.configRead(data, 4)).toBe(DeviceStatus.Acknowledge); // just what was written
      }
    });
  });

  describe("bus mastering", () => {
    it("must be on for DRIVER_OK to activate the device; without it the device needs a reset", () => {
      const { device, driver, errors } = pciFixture();
      driver.configWrite(PciConfig.Command, 2, PciCommand.MemorySpace);
      negotiate(driver, MODERN);
      driver.setupQueue(0, LAYOUT);
      driverOk(driver);
      expect(device.activations).toHaveLength(0);
      expect(driver.status() & DeviceStatus.DeviceNeedsReset).not.toBe(0);
      expect(errors[0]).toMatch(/bus mastering/);
    });

    it("off: notifications are ignored and the device touches no memory", () => {
      const ram = createGuestRam();
      const memory = new AccessCheckingMemory(ram);
      const device = new EchoDevice();
      const transport = new VirtioPciTransport({ device, memory, signalMsi: () => {} });
      const driver = new PciTestDriver(transport);
      const queue = new VirtqueueDriver({ memory: ram });
      negotiate(driver, MODERN);
      driver.setupQueue(0, queue.layout);
      driverOk(driver);
      queue.add({ readable: [Uint8Array.of(1, 2)], writable: [2] });
      driver.configWrite(PciConfig.Command, 2, PciCommand.MemorySpace);
      memory.accesses.length = 0;
      driver.notify(0);
      expect(memory.accesses).toEqual([]);
      expect(device.notifies).toEqual([]);
      driver.configWrite(PciConfig.Command, 2, PciCommand.MemorySpace | PciCommand.BusMaster);
      driver.notify(0);
      expect(queue.takeUsed().map((used) => [...used.written])).toEqual([[1, 2]]);
    });
  });

  it("resets with the machine: configuration header, MSI-X table and device", () => {
    const { driver, transport, device } = msixFixture();
    driver.maskVector(1, true);
    device.activations[0].interrupt.signalUsedBuffers(0);
    expect(driver.pendingBits()).toBe(0b10);
    transport.reset();
    expect(driver.configRead(PciConfig.Command, 2)).toBe(0);
    expect(driver.configRead(driver.msix.capability + 2, 2)).toBe(2);
    expect(driver.pendingBits()).toBe(0);
    expect(driver.barRead(1, 12, 4)).toBe(1); // masked
    expect(driver.barRead(1, 0, 4)).toBe(0);
    expect(driver.status()).toBe(0);
    expect(device.resets).toBe(2);
  });
});

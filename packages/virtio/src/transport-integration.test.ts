// A driver and an echo device talking through each transport, split and packed: the spec's initialisation,
// buffers through real rings in guest RAM, interrupts (the mmio line, INTx#, MSI-X with masking), broken rings and
// resets while the device holds buffers.
import { describe, expect, it } from "vitest";
import { DeviceStatus } from "./constants.js";
import { VirtioMmioTransport } from "./mmio-transport.js";
import { VirtioPciTransport } from "./pci-transport.js";
import { VirtioRng } from "./rng/virtio-rng.js";
import {
  driverOk,
  MmioTestDriver,
  negotiate,
  PciTestDriver,
  type VirtioTestDriver,
} from "./transport-driver.test-support.js";
import { pciFixture, TRANSPORTS } from "./transport-fixtures.test-support.js";
import { createGuestRam, VirtqueueDriver } from "./virtqueue-driver.test-support.js";

const LAYOUTS: [string, boolean][] = [
  ["split", false],
  ["packed", true],
];
const bytes = (...values: number[]) => Uint8Array.from(values);

describe.each(TRANSPORTS)("%s with a driver", (_name, createFixture) => {
  describe.each(LAYOUTS)("%s rings", (_layout, packed) => {
    /** Initialises the device with queue 0 (and queue 1 if given) the way a driver does. */
    function start(options: { asynchronous?: boolean; eventIdx?: boolean } = {}) {
      const memory = createGuestRam();
      const fixture = createFixture({ asynchronous: options.asynchronous }, memory);
      const queue = new VirtqueueDriver({ memory, packed, eventIdx: options.eventIdx });
      const { driver } = fixture;
      expect(negotiate(driver, queue.features)).toBe(true);
      expect(driver.setupQueue(0, queue.layout)).toBe(true);
      driverOk(driver);
      expect(driver.status()).toBe(
        DeviceStatus.Acknowledge | DeviceStatus.Driver | DeviceStatus.FeaturesOk | DeviceStatus.DriverOk,
      );
      return { ...fixture, queue };
    }

    it("echoes chains: notify, used buffers, an interrupt", () => {
      const { driver, queue, interruptAsserted } = start();
      queue.add({ readable: [bytes(1, 2, 3), bytes(4)], writable: [2, 8] });
      queue.add({ readable: [bytes(9, 8, 7)], writable: [3], indirect: true });
      expect(queue.kick()).toBe(true);
      driver.notify(0);
      expect(interruptAsserted()).toBe(true);
      expect(driver.takeInterruptStatus()).toBe(1);
      expect(interruptAsserted()).toBe(false);
      const used = queue.takeUsed();
      expect(used.map((u) => u.length)).toEqual([4, 3]);
      expect(used.map((u) => [...u.written])).toEqual([
        [1, 2, 3, 4],
        [9, 8, 7],
      ]);
    });

    it("raises no interrupt when the driver suppressed them", () => {
      const { driver, queue, interruptAsserted } = start({ eventIdx: true });
      queue.setInterrupts(false);
      queue.add({ readable: [bytes(5)], writable: [1] });
      driver.notify(0);
      expect(interruptAsserted()).toBe(false);
      expect(queue.takeUsed().map((u) => [...u.written])).toEqual([[5]]);
    });

    it("drops what the device completes after a reset, and works again after re-initialisation", () => {
      const { device, driver, queue, memory, interruptAsserted } = start({ asynchronous: true });
      queue.add({ readable: [bytes(1)], writable: [1] });
      driver.notify(0);
      expect(device.pendingCount).toBe(1);
      driver.setStatus(0);
      device.completePending(); // a device ignoring the reset
      expect(interruptAsserted()).toBe(false);
      expect(driver.takeInterruptStatus()).toBe(0);

      const fresh = new VirtqueueDriver({ memory, packed, ringBase: 0x40000 });
      expect(negotiate(driver, fresh.features)).toBe(true);
      expect(driver.setupQueue(0, fresh.layout)).toBe(true);
      driverOk(driver);
      fresh.add({ readable: [bytes(6, 7)], writable: [2] });
      driver.notify(0);
      device.completePending();
      expect(interruptAsserted()).toBe(true);
      expect(fresh.takeUsed().map((u) => [...u.written])).toEqual([[6, 7]]);
    });
  });

  it("marks the device as needing a reset when the driver corrupts a ring", () => {
    const memory = createGuestRam();
    const { driver, errors, interruptAsserted } = createFixture({}, memory);
    const queue = new VirtqueueDriver({ memory });
    negotiate(driver, queue.features);
    driver.setupQueue(0, queue.layout);
    driverOk(driver);
    queue.setAvailIndex(100); // 100 chains in a ring of 16
    driver.notify(0);
    expect(driver.status() & DeviceStatus.DeviceNeedsReset).not.toBe(0);
    expect(errors).toHaveLength(1);
    expect(errors[0]).toMatch(/^queue 0 broke/);
    expect(interruptAsserted()).toBe(true);
    expect(driver.takeInterruptStatus()).toBe(2);
  });
});

describe("virtio-pci with MSI-X and a driver", () => {
  function start() {
    const memory = createGuestRam();
    const fixture = pciFixture({}, memory);
    const { driver } = fixture;
    const queues = [
      new VirtqueueDriver({ memory, queueIndex: 0 }),
      new VirtqueueDriver({ memory, queueIndex: 1, ringBase: 0x20000 }),
    ];
    expect(negotiate(driver, queues[0].features)).toBe(true);
    // Linux's order: vectors programmed, MSI-X enabled, each event mapped, queues enabled, DRIVER_OK.
    for (let vector = 0; vector < 3; vector++) driver.programVector(vector, 0xfee00000, 0x30 + vector);
    driver.enableMsix();
    expect(driver.setConfigVector(0)).toBe(0);
    for (const queue of queues) {
      expect(driver.setQueueVector(queue.queueIndex, queue.queueIndex + 1)).toBe(queue.queueIndex + 1);
      expect(driver.setupQueue(queue.queueIndex, queue.layout)).toBe(true);
    }
    driverOk(driver);
    return { ...fixture, queues };
  }

  it("signals each queue on its own vector, and no INTx#", () => {
    const { driver, queues, messages, transport } = start();
    queues[1].add({ readable: [bytes(1)], writable: [1] });
    driver.notify(1);
    queues[0].add({ readable: [bytes(2)], writable: [1] });
    driver.notify(0);
    expect(messages).toEqual([
      [0xfee00000, 0x32],
      [0xfee00000, 0x31],
    ]);
    expect(transport.pciFunction.interruptAsserted).toBe(false);
    expect(queues[0].takeUsed().map((u) => [...u.written])).toEqual([[2]]);
    expect(queues[1].takeUsed().map((u) => [...u.written])).toEqual([[1]]);
  });

  it("holds a masked queue's interrupt pending and delivers it on unmask", () => {
    const { driver, queues, messages } = start();
    driver.maskVector(1, true);
    queues[0].add({ readable: [bytes(3)], writable: [1] });
    driver.notify(0);
    expect(messages).toEqual([]);
    expect(driver.pendingBits()).toBe(0b010);
    // The buffers are used already; only the message waits.
    expect(queues[0].takeUsed()).toHaveLength(1);
    driver.maskVector(1, false);
    expect(messages).toEqual([[0xfee00000, 0x31]]);
    expect(driver.pendingBits()).toBe(0);
  });
});

describe("a real device behind each transport", () => {
  it.each([["virtio-mmio"], ["virtio-pci"]])(
    "%s serves virtio-rng requests, completed asynchronously",
    async (name) => {
      const memory = createGuestRam();
      const device = new VirtioRng({ source: { fill: async (dst) => void dst.fill(0xab) } });
      let interrupts = 0;
      let driver: VirtioTestDriver;
      if (name === "virtio-mmio") {
        const transport = new VirtioMmioTransport({
          device,
          memory,
          interrupt: { set: (up) => void (up && interrupts++) },
        });
        driver = new MmioTestDriver(transport);
      } else {
        const transport = new VirtioPciTransport({ device, memory, signalMsi: () => {} });
        transport.pciFunction.attach({
          interruptChanged: (_fn, up) => void (up && interrupts++),
          barMoved: () => {},
        });
        driver = new PciTestDriver(transport);
      }
      const queue = new VirtqueueDriver({ memory, packed: true });
      expect(negotiate(driver, queue.features)).toBe(true);
      expect(driver.setupQueue(0, queue.layout)).toBe(true);
      driverOk(driver);
      queue.add({ writable: [16] });
      driver.notify(0);
      await new Promise((resolve) => setTimeout(resolve, 0));
      expect(interrupts).toBe(1);
      expect(driver.takeInterruptStatus()).toBe(1);
      const [used] = queue.takeUsed();
      expect(used.length).toBe(16);
      expect([...used.written]).toEqual(new Array(16).fill(0xab));
    },
  );
});

// Random guest accesses to both transports (any offset, any width, any value), mixed with proper driver
// initialisations, buffers, device events and resets: nothing throws, and the invariants hold after every step.
import { PciCommand, PciConfig } from "@tsvmm/device-model";
import type { PhysicalMemory } from "@tsvmm/ept";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { DeviceStatus, VirtioFeature } from "./constants.js";
import { EchoDevice } from "./echo-device.test-support.js";
import { type FeatureWords, hasFeature } from "./features.js";
import { VIRTIO_MMIO_SIZE, VirtioMmioRegister } from "./mmio-registers.js";
import { VirtioMmioTransport } from "./mmio-transport.js";
import { VIRTIO_PCI_BAR_SIZE } from "./pci-layout.js";
import { VirtioPciTransport } from "./pci-transport.js";
import {
  driverOk,
  MmioTestDriver,
  negotiate,
  PciTestDriver,
  type VirtioTestDriver,
} from "./transport-driver.test-support.js";
import { AccessCheckingMemory, createGuestRam, VirtqueueDriver } from "./virtqueue-driver.test-support.js";

type Step =
  | { kind: "read" | "write"; space: number; offset: number; width: number; value: number; high: number }
  | { kind: "init"; packed: boolean; eventIdx: boolean; ring: number; size: number }
  | { kind: "chain"; length: number; notify: boolean }
  | { kind: "status"; value: number }
  | { kind: "features"; low: number; high: number }
  | { kind: "event"; which: number }
  | { kind: "reset" };

/** Spaces a raw access goes to: 0 the transport's registers (mmio window / BAR 4), 1 PCI config, 2 BAR 1. */
const step: fc.Arbitrary<Step> = fc.oneof(
  {
    weight: 5,
    arbitrary: fc.record({
      kind: fc.constantFrom("read" as const, "write" as const),
      space: fc.nat(2),
      offset: fc.oneof(fc.nat(0x4100), fc.constantFrom(...Object.values(VirtioMmioRegister))),
      width: fc.constantFrom(1, 2, 4, 8),
      value: fc.oneof(fc.nat(3), fc.constantFrom(0xffff, 0x7fffffff), fc.nat({ max: 0xffffffff })),
      high: fc.oneof(fc.constant(0), fc.nat({ max: 0xffffffff })),
    }),
  },
  {
    weight: 2,
    arbitrary: fc.record({
      kind: fc.constant("init" as const),
      packed: fc.boolean(),
      eventIdx: fc.boolean(),
      ring: fc.nat(3),
      size: fc.constantFrom(4, 8, 16),
    }),
  },
  {
    weight: 4,
    arbitrary: fc.record({ kind: fc.constant("chain" as const), length: fc.nat(64), notify: fc.boolean() }),
  },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant("status" as const), value: fc.nat(0xff) }) },
  {
    weight: 1,
    arbitrary: fc.record({
      kind: fc.constant("features" as const),
      low: fc.oneof(fc.constant(0x70000001), fc.nat({ max: 0xffffffff })),
      high: fc.oneof(fc.constant(0b101), fc.nat({ max: 0xffffffff })),
    }),
  },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant("event" as const), which: fc.nat(3) }) },
  { weight: 1, arbitrary: fc.constant({ kind: "reset" as const }) },
);

interface Harness {
  device: EchoDevice;
  driver: VirtioTestDriver;
  /** Guest RAM, and the view of it the device gets (which records accesses outside RAM). */
  ram: PhysicalMemory;
  memory: AccessCheckingMemory;
  raw(step: Extract<Step, { kind: "read" | "write" }>): void;
  machineReset(): void;
  /** Checks the transport's own invariants. */
  check(): void;
  /** Whether the device may see notifications now (pci: bus mastering). */
  mayNotify(): boolean;
}

function access(width: number, value: number, high: number): Uint8Array {
  const data = new Uint8Array(width);
  for (let i = 0; i < width; i++)
    data[i] = i < 4 ? (value >>> (8 * i)) & 0xff : (high >>> (8 * (i - 4))) & 0xff;
  return data;
}

function mmioHarness(): Harness {
  const ram = createGuestRam(1 << 20);
  const memory = new AccessCheckingMemory(ram);
  memory.record = false;
  const device = new EchoDevice({ queueMaxSizes: [16, 4] });
  let line = false;
  const transport = new VirtioMmioTransport({
    device,
    memory,
    interrupt: { set: (level) => (line = level) },
  });
  const driver = new MmioTestDriver(transport);
  return {
    device,
    driver,
    ram,
    memory,
    raw: ({ kind, offset, width, value, high }) => {
      const at = offset % VIRTIO_MMIO_SIZE;
      const data = access(width, value, high);
      if (kind === "read") transport.region.read(0, at, data);
      else transport.region.write(0, at, data);
    },
    machineReset: () => transport.reset(),
    check: () => {
      expect(line).toBe(transport.interruptStatus !== 0);
      expect(transport.interruptStatus & ~3).toBe(0);
      expect(driver.read(VirtioMmioRegister.InterruptStatus)).toBe(transport.interruptStatus);
      expect(driver.status()).toBe(transport.deviceStatus);
    },
    mayNotify: () => true,
  };
}

function pciHarness(): Harness {
  const ram = createGuestRam(1 << 20);
  const memory = new AccessCheckingMemory(ram);
  memory.record = false;
  const device = new EchoDevice({ queueMaxSizes: [16, 4] });
  const transport: VirtioPciTransport = new VirtioPciTransport({
    device,
    memory,
    signalMsi: () => {
      // A message is a memory write: never without bus mastering.
      expect(transport.pciFunction.busMasterEnabled).toBe(true);
    },
  });
  const fn = transport.pciFunction;
  const driver = new PciTestDriver(transport);
  return {
    device,
    driver,
    ram,
    memory,
    raw: ({ kind, space, offset, width, value, high }) => {
      const data = access(width, value, high);
      if (space === 1) {
        if (kind === "read") fn.readConfig(offset % 0x100, data.subarray(0, Math.min(width, 4)));
        else fn.writeConfig(offset % 0x100, data.subarray(0, Math.min(width, 4)));
        return;
      }
      const bar = fn.bars.find((b) => b.index === (space === 2 ? 1 : 4))!;
      const at = offset % (space === 2 ? bar.size : VIRTIO_PCI_BAR_SIZE);
      if (kind === "read") bar.region.read(0, at, data);
      else bar.region.write(0, at, data);
    },
    machineReset: () => {
      transport.reset();
      fn.writeConfig(PciConfig.Command, Uint8Array.of(PciCommand.MemorySpace | PciCommand.BusMaster, 0));
    },
    check: () => {
      const t = transport;
      const msixEnabled = (fn.config.word(driver.msix.capability + 2) & 0x8000) !== 0;
      expect(fn.interruptRequested).toBe(!msixEnabled && t.interruptStatus !== 0);
      expect(t.interruptStatus & ~3).toBe(0);
      expect(driver.status()).toBe(t.deviceStatus);
    },
    mayNotify: () => fn.busMasterEnabled,
  };
}

function isValidNegotiation(offered: FeatureWords, features: FeatureWords): boolean {
  return (
    (features[0] & ~offered[0]) === 0 &&
    (features[1] & ~offered[1]) === 0 &&
    hasFeature(features, VirtioFeature.Version1)
  );
}

function run(harness: Harness, steps: Step[]): void {
  const { device, driver, ram, memory } = harness;
  let queue: VirtqueueDriver | undefined;
  for (const s of steps) {
    const activations = device.activations.length;
    const notifies = device.notifies.length;
    const mayNotify = harness.mayNotify();
    switch (s.kind) {
      case "read":
      case "write":
        harness.raw(s);
        break;
      case "init": {
        queue = new VirtqueueDriver({
          memory: ram,
          packed: s.packed,
          eventIdx: s.eventIdx,
          size: s.size,
          ringBase: 0x10000 + s.ring * 0x8000,
          dataSize: 0x20000,
        });
        if (negotiate(driver, queue.features)) {
          driver.setupQueue(0, queue.layout);
          driverOk(driver);
        }
        break;
      }
      case "chain":
        if (queue !== undefined) {
          const chain = { readable: [new Uint8Array(s.length).fill(s.length)], writable: [s.length + 1] };
          if (queue.canAdd(chain)) {
            try {
              queue.add(chain);
            } catch {
              // The test driver's buffer space is used up (the device stopped returning chains).
            }
          }
          if (s.notify) driver.notify(0);
        }
        break;
      case "status":
        driver.setStatus(s.value);
        break;
      case "features":
        // Any feature words, then FEATURES_OK (and DRIVER_OK) on top of whatever the status is.
        driver.setDriverFeatures([s.low, s.high]);
        driver.setStatus(driver.status() | DeviceStatus.FeaturesOk);
        driverOk(driver);
        break;
      case "event": {
        const context = device.activeContext;
        if (s.which === 0) context?.interrupt.signalUsedBuffers(0);
        else if (s.which === 1) device.setConfigValue(s.which);
        else if (s.which === 2) context?.interrupt.signalNeedsReset("test");
        else driver.takeInterruptStatus();
        break;
      }
      case "reset":
        harness.machineReset();
        break;
    }
    harness.check();
    const status = driver.status();
    if ((status & DeviceStatus.DriverOk) !== 0) expect(status & DeviceStatus.FeaturesOk).not.toBe(0);
    // An activation happens only at DRIVER_OK, with features the device offered, VERSION_1 among them.
    if (device.activations.length > activations) {
      expect(status & (DeviceStatus.FeaturesOk | DeviceStatus.DriverOk)).toBe(
        DeviceStatus.FeaturesOk | DeviceStatus.DriverOk,
      );
      expect(isValidNegotiation(device.features, device.activations.at(-1)!.features)).toBe(true);
    }
    if (device.notifies.length > notifies) {
      expect(mayNotify).toBe(true);
      expect(device.activeContext).toBeDefined();
    }
    for (const features of device.ackedFeatures)
      expect(isValidNegotiation(device.features, features)).toBe(true);
    // The device never reached for memory outside guest RAM.
    expect(memory.violations).toEqual([]);
  }
}

describe("transports under random guest accesses", () => {
  it.each([
    ["virtio-mmio", mmioHarness],
    ["virtio-pci", pciHarness],
  ])("%s never throws and keeps its invariants", (_name, createHarness) => {
    fc.assert(
      fc.property(fc.array(step, { minLength: 5, maxLength: 150, size: "medium" }), (steps) => {
        run(createHarness(), steps);
      }),
      { numRuns: 100 },
    );
  });
});

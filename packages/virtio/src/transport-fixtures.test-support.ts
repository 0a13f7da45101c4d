// One echo device behind each transport, with a driver and the interrupt as the guest sees it, so the tests of
// what both transports share run on each.
import type { PhysicalMemory } from "@tsvmm/ept";
import { EchoDevice, type EchoDeviceOptions } from "./echo-device.test-support.js";
import { VirtioMmioTransport } from "./mmio-transport.js";
import { VirtioPciTransport } from "./pci-transport.js";
import { MmioTestDriver, PciTestDriver, type VirtioTestDriver } from "./transport-driver.test-support.js";
import { createGuestRam } from "./virtqueue-driver.test-support.js";

export interface TransportFixture {
  device: EchoDevice;
  memory: PhysicalMemory;
  driver: VirtioTestDriver;
  /** The interrupt the guest sees without MSI-X: the mmio line, or INTx#. */
  interruptAsserted(): boolean;
  /** The transport's reset() (machine reset). */
  machineReset(): void;
  /** What the transport reported through onError. */
  errors: string[];
}

export interface MmioFixture extends TransportFixture {
  transport: VirtioMmioTransport;
  driver: MmioTestDriver;
  /** Every level the line was set to, in order. */
  lineLevels: boolean[];
}

export interface PciFixture extends TransportFixture {
  transport: VirtioPciTransport;
  driver: PciTestDriver;
  /** Every MSI-X message sent: [address, data]. */
  messages: [number, number][];
}

export function mmioFixture(options: EchoDeviceOptions = {}, memory = createGuestRam()): MmioFixture {
  const device = new EchoDevice(options);
  const lineLevels: boolean[] = [];
  const errors: string[] = [];
  const transport = new VirtioMmioTransport({
    device,
    memory,
    interrupt: { set: (asserted) => lineLevels.push(asserted) },
    onError: (reason) => errors.push(reason),
  });
  return {
    device,
    memory,
    transport,
    driver: new MmioTestDriver(transport),
    lineLevels,
    errors,
    interruptAsserted: () => lineLevels.at(-1) === true,
    machineReset: () => transport.reset(),
  };
}

export function pciFixture(options: EchoDeviceOptions = {}, memory = createGuestRam()): PciFixture {
  const device = new EchoDevice(options);
  const messages: [number, number][] = [];
  const errors: string[] = [];
  const transport = new VirtioPciTransport({
    device,
    memory,
    signalMsi: (address, data) => messages.push([address, data]),
    onError: (reason) => errors.push(reason),
  });
  return {
    device,
    memory,
    transport,
    driver: new PciTestDriver(transport),
    messages,
    errors,
    interruptAsserted: () => transport.pciFunction.interruptAsserted,
    machineReset: () => transport.reset(),
  };
}

export const TRANSPORTS: [
  string,
  (options?: EchoDeviceOptions, memory?: PhysicalMemory) => TransportFixture,
][] = [
  ["virtio-mmio", mmioFixture],
  ["virtio-pci", pciFixture],
];

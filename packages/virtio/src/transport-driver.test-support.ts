// Guest-driver sides of the virtio-mmio and virtio-pci transports for tests: register accesses the way a driver
// makes them, and the spec's initialisation sequence (3.1.1) on top. The PCI driver finds every structure by
// walking the capability list, as Linux's virtio_pci_modern does, so the tests check the capabilities too.
import { PciCapabilityId, PciCommand, PciConfig } from "@tsvmm/device-model";
import { DeviceStatus } from "./constants.js";
import type { FeatureWords } from "./features.js";
import { VirtioMmioRegister as Mmio } from "./mmio-registers.js";
import type { VirtioMmioTransport } from "./mmio-transport.js";
import { MsixControl } from "./msix.js";
import { VirtioPciCommonCfg as Common, VirtioPciCap, VirtioPciCapType } from "./pci-layout.js";
import type { VirtioPciTransport } from "./pci-transport.js";
import type { VirtqueueLayout } from "./virtqueue.js";

/** What the transport tests need of a driver, on either transport. */
export interface VirtioTestDriver {
  status(): number;
  setStatus(value: number): void;
  deviceFeatures(): FeatureWords;
  setDriverFeatures(features: FeatureWords): void;
  queueMaxSize(index: number): number;
  /** Selects the queue, writes its size and area addresses and enables it; returns whether it reads back enabled. */
  setupQueue(index: number, layout: VirtqueueLayout): boolean;
  queueReady(index: number): boolean;
  notify(index: number): void;
  configGeneration(): number;
  readConfig(offset: number, width: 1 | 2 | 4): number;
  writeConfig(offset: number, width: 1 | 2 | 4, value: number): void;
  /** What an INTx#/line interrupt handler does: reads (mmio: and acknowledges) the interrupt status. */
  takeInterruptStatus(): number;
}

/**
 * Reset, ACKNOWLEDGE, DRIVER, feature negotiation and FEATURES_OK (spec 3.1.1 steps 1-6); returns whether the
 * device accepted the features. The driver sets up its queues and DRIVER_OK next.
 */
export function negotiate(driver: VirtioTestDriver, features: FeatureWords): boolean {
  driver.setStatus(0);
  driver.setStatus(DeviceStatus.Acknowledge);
  driver.setStatus(DeviceStatus.Acknowledge | DeviceStatus.Driver);
  driver.setDriverFeatures(features);
  const status = DeviceStatus.Acknowledge | DeviceStatus.Driver | DeviceStatus.FeaturesOk;
  driver.setStatus(status);
  return (driver.status() & DeviceStatus.FeaturesOk) !== 0;
}

/** Sets DRIVER_OK on top of the status so far. */
export function driverOk(driver: VirtioTestDriver): void {
  driver.setStatus(driver.status() | DeviceStatus.DriverOk);
}

function access(width: number, value = 0, high = 0): Uint8Array {
  const data = new Uint8Array(width);
  const view = new DataView(data.buffer);
  if (width === 1) view.setUint8(0, value);
  else if (width === 2) view.setUint16(0, value, true);
  else {
    view.setUint32(0, value >>> 0, true);
    if (width === 8) view.setUint32(4, high >>> 0, true);
  }
  return data;
}

function value(data: Uint8Array): number {
  const view = new DataView(data.buffer, data.byteOffset, data.length);
  if (data.length === 1) return view.getUint8(0);
  if (data.length === 2) return view.getUint16(0, true);
  return view.getUint32(0, true);
}

/** A virtio-mmio driver: aligned 32-bit register accesses at offsets in the window. */
export class MmioTestDriver implements VirtioTestDriver {
  constructor(readonly transport: VirtioMmioTransport) {}

  read(offset: number, width = 4): number {
    const data = new Uint8Array(width);
    this.transport.region.read(0, offset, data);
    return width === 8 ? value(data.subarray(0, 4)) + value(data.subarray(4)) * 2 ** 32 : value(data);
  }

  write(offset: number, data: number, width = 4): void {
    this.transport.region.write(0, offset, access(width, data));
  }

  status(): number {
    return this.read(Mmio.Status);
  }

  setStatus(status: number): void {
    this.write(Mmio.Status, status);
  }

  deviceFeatures(): FeatureWords {
    this.write(Mmio.DeviceFeaturesSel, 0);
    const low = this.read(Mmio.DeviceFeatures);
    this.write(Mmio.DeviceFeaturesSel, 1);
    return [low, this.read(Mmio.DeviceFeatures)];
  }

  setDriverFeatures(features: FeatureWords): void {
    this.write(Mmio.DriverFeaturesSel, 0);
    this.write(Mmio.DriverFeatures, features[0]);
    this.write(Mmio.DriverFeaturesSel, 1);
    this.write(Mmio.DriverFeatures, features[1]);
  }

  queueMaxSize(index: number): number {
    this.write(Mmio.QueueSel, index);
    return this.read(Mmio.QueueNumMax);
  }

  setupQueue(index: number, layout: VirtqueueLayout): boolean {
    this.write(Mmio.QueueSel, index);
    this.write(Mmio.QueueNum, layout.size);
    const pairs: [number, number, number][] = [
      [Mmio.QueueDescLow, Mmio.QueueDescHigh, layout.descriptorArea],
      [Mmio.QueueDriverLow, Mmio.QueueDriverHigh, layout.driverArea],
      [Mmio.QueueDeviceLow, Mmio.QueueDeviceHigh, layout.deviceArea],
    ];
    for (const [low, high, address] of pairs) {
      this.write(low, address % 2 ** 32);
      this.write(high, Math.floor(address / 2 ** 32));
    }
    this.write(Mmio.QueueReady, 1);
    return this.read(Mmio.QueueReady) === 1;
  }

  queueReady(index: number): boolean {
    this.write(Mmio.QueueSel, index);
    return this.read(Mmio.QueueReady) === 1;
  }

  notify(index: number): void {
    this.write(Mmio.QueueNotify, index);
  }

  configGeneration(): number {
    return this.read(Mmio.ConfigGeneration);
  }

  readConfig(offset: number, width: 1 | 2 | 4): number {
    return this.read(Mmio.Config + offset, width);
  }

  writeConfig(offset: number, width: 1 | 2 | 4, data: number): void {
    this.write(Mmio.Config + offset, data, width);
  }

  takeInterruptStatus(): number {
    const status = this.read(Mmio.InterruptStatus);
    this.write(Mmio.InterruptAck, status);
    return status;
  }
}

/** Where one virtio structure is, from its capability. */
export interface VirtioPciStructure {
  capability: number;
  bar: number;
  offset: number;
  length: number;
}

/**
 * A virtio-pci driver: configuration cycles through the PciFunction, BAR accesses through the BARs' regions
 * (offsets inside the BAR; mapping BARs is the VMM's business). It enables memory decoding and bus mastering as
 * Linux does before it touches the device.
 */
export class PciTestDriver implements VirtioTestDriver {
  readonly structures = new Map<number, VirtioPciStructure>();
  readonly notifyOffMultiplier: number;
  /** The MSI-X capability's offset, its table's BAR and offset. */
  readonly msix: { capability: number; bar: number; tableOffset: number; pbaBar: number; pbaOffset: number };

  constructor(readonly transport: VirtioPciTransport) {
    this.configWrite(PciConfig.Command, 2, PciCommand.MemorySpace | PciCommand.BusMaster);
    let msix: PciTestDriver["msix"] | undefined;
    let multiplier = 0;
    for (
      let at = this.configRead(PciConfig.CapabilitiesPointer, 1);
      at !== 0;
      at = this.configRead(at + 1, 1)
    ) {
      const id = this.configRead(at, 1);
      if (id === PciCapabilityId.MsiX) {
        const table = this.configRead(at + 4, 4);
        const pba = this.configRead(at + 8, 4);
        msix = {
          capability: at,
          bar: table & 7,
          tableOffset: table & ~7,
          pbaBar: pba & 7,
          pbaOffset: pba & ~7,
        };
      } else if (id === PciCapabilityId.VendorSpecific) {
        const type = this.configRead(at + VirtioPciCap.CfgType, 1);
        if (this.structures.has(type)) continue; // the first of each type is the one to use
        this.structures.set(type, {
          capability: at,
          bar: this.configRead(at + VirtioPciCap.Bar, 1),
          offset: this.configRead(at + VirtioPciCap.Offset, 4),
          length: this.configRead(at + VirtioPciCap.Length, 4),
        });
        if (type === VirtioPciCapType.NotifyCfg) {
          multiplier = this.configRead(at + VirtioPciCap.NotifyOffMultiplier, 4);
        }
      }
    }
    if (msix === undefined) throw new Error("no MSI-X capability");
    this.msix = msix;
    this.notifyOffMultiplier = multiplier;
  }

  configRead(offset: number, width: number): number {
    const data = new Uint8Array(width);
    this.transport.pciFunction.readConfig(offset, data);
    return value(data);
  }

  configWrite(offset: number, width: number, data: number): void {
    this.transport.pciFunction.writeConfig(offset, access(width, data));
  }

  barRead(bar: number, offset: number, width: number): number {
    const data = new Uint8Array(width);
    this.region(bar).read(0, offset, data);
    return width === 8 ? value(data.subarray(0, 4)) + value(data.subarray(4)) * 2 ** 32 : value(data);
  }

  barWrite(bar: number, offset: number, width: number, data: number, high = 0): void {
    this.region(bar).write(0, offset, access(width, data, high));
  }

  /** A read of `width` bytes at `offset` in the structure of type `cfgType`. */
  read(cfgType: number, offset: number, width: number): number {
    const s = this.structure(cfgType);
    return this.barRead(s.bar, s.offset + offset, width);
  }

  write(cfgType: number, offset: number, width: number, data: number, high = 0): void {
    const s = this.structure(cfgType);
    this.barWrite(s.bar, s.offset + offset, width, data, high);
  }

  common(offset: number, width: number): number {
    return this.read(VirtioPciCapType.CommonCfg, offset, width);
  }

  setCommon(offset: number, width: number, data: number): void {
    this.write(VirtioPciCapType.CommonCfg, offset, width, data);
  }

  status(): number {
    return this.common(Common.DeviceStatus, 1);
  }

  setStatus(status: number): void {
    this.setCommon(Common.DeviceStatus, 1, status);
  }

  deviceFeatures(): FeatureWords {
    this.setCommon(Common.DeviceFeatureSelect, 4, 0);
    const low = this.common(Common.DeviceFeature, 4);
    this.setCommon(Common.DeviceFeatureSelect, 4, 1);
    return [low, this.common(Common.DeviceFeature, 4)];
  }

  setDriverFeatures(features: FeatureWords): void {
    this.setCommon(Common.DriverFeatureSelect, 4, 0);
    this.setCommon(Common.DriverFeature, 4, features[0]);
    this.setCommon(Common.DriverFeatureSelect, 4, 1);
    this.setCommon(Common.DriverFeature, 4, features[1]);
  }

  queueMaxSize(index: number): number {
    this.setCommon(Common.QueueSelect, 2, index);
    return this.common(Common.QueueSize, 2);
  }

  /** Like Linux: the ring addresses as two 32-bit halves each. */
  setupQueue(index: number, layout: VirtqueueLayout): boolean {
    this.setCommon(Common.QueueSelect, 2, index);
    this.setCommon(Common.QueueSize, 2, layout.size);
    const fields: [number, number][] = [
      [Common.QueueDesc, layout.descriptorArea],
      [Common.QueueDriver, layout.driverArea],
      [Common.QueueDevice, layout.deviceArea],
    ];
    for (const [field, address] of fields) {
      this.setCommon(field, 4, address % 2 ** 32);
      this.setCommon(field + 4, 4, Math.floor(address / 2 ** 32));
    }
    this.setCommon(Common.QueueEnable, 2, 1);
    return this.common(Common.QueueEnable, 2) === 1;
  }

  queueReady(index: number): boolean {
    this.setCommon(Common.QueueSelect, 2, index);
    return this.common(Common.QueueEnable, 2) === 1;
  }

  /** A 16-bit write of the queue index at its notification address (index * multiplier for a queue that is not). */
  notify(index: number): void {
    this.setCommon(Common.QueueSelect, 2, index);
    const off = this.common(Common.QueueSize, 2) === 0 ? index : this.common(Common.QueueNotifyOff, 2);
    this.write(VirtioPciCapType.NotifyCfg, off * this.notifyOffMultiplier, 2, index);
  }

  configGeneration(): number {
    return this.common(Common.ConfigGeneration, 1);
  }

  readConfig(offset: number, width: 1 | 2 | 4): number {
    return this.read(VirtioPciCapType.DeviceCfg, offset, width);
  }

  writeConfig(offset: number, width: 1 | 2 | 4, data: number): void {
    this.write(VirtioPciCapType.DeviceCfg, offset, width, data);
  }

  /** The ISR byte (reading clears it). */
  takeInterruptStatus(): number {
    return this.read(VirtioPciCapType.IsrCfg, 0, 1);
  }

  // --- MSI-X

  setMsixControl(bits: number): void {
    this.configWrite(this.msix.capability + 2, 2, bits);
  }

  enableMsix(functionMask = false): void {
    this.setMsixControl(MsixControl.Enable | (functionMask ? MsixControl.FunctionMask : 0));
  }

  /** Programs table entry `vector` (address, data) and sets its mask bit. */
  programVector(vector: number, address: number, data: number, masked = false): void {
    const entry = this.msix.tableOffset + 16 * vector;
    this.barWrite(this.msix.bar, entry, 4, address % 2 ** 32);
    this.barWrite(this.msix.bar, entry + 4, 4, Math.floor(address / 2 ** 32));
    this.barWrite(this.msix.bar, entry + 8, 4, data);
    this.barWrite(this.msix.bar, entry + 12, 4, masked ? 1 : 0);
  }

  maskVector(vector: number, masked: boolean): void {
    this.barWrite(this.msix.bar, this.msix.tableOffset + 16 * vector + 12, 4, masked ? 1 : 0);
  }

  /** The PBA's pending bits for vectors 0-31. */
  pendingBits(): number {
    return this.barRead(this.msix.pbaBar, this.msix.pbaOffset, 4);
  }

  /** Maps the configuration change event to `vector`; returns what reads back. */
  setConfigVector(vector: number): number {
    this.setCommon(Common.ConfigMsixVector, 2, vector);
    return this.common(Common.ConfigMsixVector, 2);
  }

  /** Maps queue `index` to `vector`; returns what reads back. */
  setQueueVector(index: number, vector: number): number {
    this.setCommon(Common.QueueSelect, 2, index);
    this.setCommon(Common.QueueMsixVector, 2, vector);
    return this.common(Common.QueueMsixVector, 2);
  }

  private structure(cfgType: number): VirtioPciStructure {
    const s = this.structures.get(cfgType);
    if (s === undefined) throw new Error(`no virtio structure of type ${cfgType}`);
    return s;
  }

  private region(bar: number) {
    const definition = this.transport.pciFunction.bars.find((b) => b.index === bar);
    if (definition === undefined) throw new Error(`no BAR ${bar}`);
    return definition.region;
  }
}

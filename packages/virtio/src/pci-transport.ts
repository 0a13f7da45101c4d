// The modern virtio-pci transport (virtio 1.2 spec 4.1): a PCI function whose vendor capabilities point at the
// common configuration, ISR, device configuration and notification structures in a 64-bit memory BAR, with MSI-X
// (table and PBA in a second BAR) or INTx# for interrupts, and the configuration-space window into the BARs.
import { type BusDevice, PciCapabilityId, PciFunction, PciInterruptPin } from "@tsvmm/device-model";
import type { GuestMemory } from "@tsvmm/ept";
import { VirtioDeviceId } from "./constants.js";
import type { VirtioDevice } from "./device.js";
import { Msix } from "./msix.js";
import {
  VirtioPciCommonCfg as Common,
  VIRTIO_MSI_NO_VECTOR,
  VIRTIO_PCI_BAR_SIZE,
  VIRTIO_PCI_DEVICE_ID_BASE,
  VIRTIO_PCI_MAX_CONFIG_SIZE,
  VIRTIO_PCI_MAX_QUEUES,
  VIRTIO_PCI_NOTIFY_OFF_MULTIPLIER,
  VIRTIO_PCI_REVISION,
  VIRTIO_PCI_SUBSYSTEM_ID,
  VIRTIO_PCI_VENDOR_ID,
  VirtioPciBar,
  VirtioPciCap,
  VirtioPciCapType,
  VirtioPciClass,
  VirtioPciIsr,
  VirtioPciRegion,
} from "./pci-layout.js";
import { accessValue, fillAccess, isNaturalAccess } from "./register-access.js";
import { type QueueArea, type TransportInterrupts, VirtioTransportCore } from "./transport-core.js";

export interface VirtioPciTransportOptions {
  device: VirtioDevice;
  /** Guest RAM, where the driver puts the queues. */
  memory: GuestMemory;
  /** Sends an MSI-X message: a 32-bit write of `data` to `address` (the VMM hands it to the interrupt controller). */
  signalMsi(address: number, data: number): void;
  /** The PCI class code; default: VirtioPciClass's entry for the device type (Other if it has none). */
  classCode?: number;
  /** Told why the device set DEVICE_NEEDS_RESET or failed (for the VMM's log). */
  onError?: (reason: string) => void;
}

/** The width of each common configuration field but the 64-bit ring addresses. */
const COMMON_FIELD_WIDTH = new Map<number, number>([
  [Common.DeviceFeatureSelect, 4],
  [Common.DeviceFeature, 4],
  [Common.DriverFeatureSelect, 4],
  [Common.DriverFeature, 4],
  [Common.ConfigMsixVector, 2],
  [Common.NumQueues, 2],
  [Common.DeviceStatus, 1],
  [Common.ConfigGeneration, 1],
  [Common.QueueSelect, 2],
  [Common.QueueSize, 2],
  [Common.QueueMsixVector, 2],
  [Common.QueueEnable, 2],
  [Common.QueueNotifyOff, 2],
]);
const CLASS_BY_DEVICE_TYPE = new Map<number, number>([
  [VirtioDeviceId.Block, VirtioPciClass.Block],
  [VirtioDeviceId.Network, VirtioPciClass.Network],
  [VirtioDeviceId.Console, VirtioPciClass.Console],
  [VirtioDeviceId.Entropy, VirtioPciClass.Other],
]);
/** Bytes of struct virtio_pci_cap, and of the notify and PCI_CFG capabilities that extend it by a dword. */
const CAP_LENGTH = 16;
const EXTENDED_CAP_LENGTH = 20;
/** A guest configuration access is at most this wide; PciFunction reports reset and restore as wider ones. */
const WIDEST_CONFIG_ACCESS = 8;

/**
 * A virtio device on PCI. Register the `pciFunction` on the PCI bus; the VMM maps its BARs where the guest puts them
 * (BAR 1: MSI-X table and PBA; BAR 4: the virtio structures, VIRTIO_PCI_BAR_SIZE bytes). Decoding rules:
 *
 * - common configuration: each field with its own width (the 64-bit ring addresses as 32-bit halves or whole);
 *   other widths, reserved fields, and writes to read-only ones are ignored (reads give 0);
 * - ISR status: a 1-byte read returns it and clears it (and drops INTx#);
 * - device configuration: aligned 8-, 16-, 32- and 64-bit accesses;
 * - notifications: a 16- or 32-bit write at queue n's address (n * 4) notifies queue n;
 * - MSI-X vectors: one per queue plus one (VIRTIO_MSI_NO_VECTOR for none); writing a vector past the table stores
 *   NO_VECTOR. While MSI-X is disabled, interrupts set ISR bits and drive INTx# (INTA#).
 *
 * A device with bus mastering off must not touch memory, so DRIVER_OK without it marks the device as needing a
 * reset instead of activating it, notifications are ignored while it is off, and MSI-X messages are dropped.
 */
export class VirtioPciTransport {
  readonly pciFunction: PciFunction;
  /** BAR 4's registers. */
  readonly region: BusDevice;
  private readonly core: VirtioTransportCore;
  private readonly msix: Msix;
  private readonly queueVectors: Uint16Array;
  private configVector = VIRTIO_MSI_NO_VECTOR;
  private isr = 0;
  /** Offset of the VIRTIO_PCI_CAP_PCI_CFG capability. */
  private readonly pciCfgCap: number;

  constructor(options: VirtioPciTransportOptions) {
    const { device } = options;
    const queueCount = device.queueMaxSizes.length;
    if (queueCount > VIRTIO_PCI_MAX_QUEUES) {
      throw new RangeError(`virtio-pci serves at most ${VIRTIO_PCI_MAX_QUEUES} queues, not ${queueCount}`);
    }
    if (device.configSize > VIRTIO_PCI_MAX_CONFIG_SIZE) {
      throw new RangeError(
        `virtio-pci holds ${VIRTIO_PCI_MAX_CONFIG_SIZE} bytes of configuration, not ${device.configSize}`,
      );
    }
    this.queueVectors = new Uint16Array(queueCount).fill(VIRTIO_MSI_NO_VECTOR);
    this.msix = new Msix({ vectors: queueCount + 1, signalMsi: options.signalMsi });
    this.region = {
      read: (_base, offset, data) => this.readBar(offset, data),
      write: (_base, offset, data) => this.writeBar(offset, data),
    };
    const interrupts: TransportInterrupts = {
      usedBuffers: (queueIndex) => this.interrupt(VirtioPciIsr.Queue, this.queueVectors[queueIndex]),
      configChanged: () => this.interrupt(VirtioPciIsr.ConfigChange, this.configVector),
      reset: () => {
        this.isr = 0;
        this.configVector = VIRTIO_MSI_NO_VECTOR;
        this.queueVectors.fill(VIRTIO_MSI_NO_VECTOR);
        this.updateIntx();
      },
    };
    this.core = new VirtioTransportCore({
      device,
      memory: options.memory,
      interrupts,
      memoryAccessAllowed: () => this.pciFunction.busMasterEnabled,
      onError: options.onError,
    });
    this.pciFunction = new PciFunction({
      vendorId: VIRTIO_PCI_VENDOR_ID,
      deviceId: VIRTIO_PCI_DEVICE_ID_BASE + device.deviceType,
      classCode: options.classCode ?? CLASS_BY_DEVICE_TYPE.get(device.deviceType) ?? VirtioPciClass.Other,
      revisionId: VIRTIO_PCI_REVISION,
      subsystemVendorId: VIRTIO_PCI_VENDOR_ID,
      subsystemId: VIRTIO_PCI_SUBSYSTEM_ID,
      interruptPin: PciInterruptPin.IntA,
      bars: [
        { index: VirtioPciBar.Msix, kind: "memory32", size: this.msix.barSize, region: this.msix.region },
        {
          index: VirtioPciBar.Virtio,
          kind: "memory64",
          size: VIRTIO_PCI_BAR_SIZE,
          prefetchable: true,
          region: this.region,
        },
      ],
      onConfigRead: (offset, length) => this.configRead(offset, length),
      onConfigWrite: (offset, length) => this.configWritten(offset, length),
    });
    const fn = this.pciFunction;
    addVirtioCap(fn, VirtioPciCapType.CommonCfg, VirtioPciRegion.Common, VirtioPciRegion.Size);
    const notify = addVirtioCap(
      fn,
      VirtioPciCapType.NotifyCfg,
      VirtioPciRegion.Notify,
      Math.max(queueCount, 1) * VIRTIO_PCI_NOTIFY_OFF_MULTIPLIER,
      EXTENDED_CAP_LENGTH,
    );
    fn.defineRegister(notify + VirtioPciCap.NotifyOffMultiplier, 4, {
      value: VIRTIO_PCI_NOTIFY_OFF_MULTIPLIER,
    });
    addVirtioCap(fn, VirtioPciCapType.IsrCfg, VirtioPciRegion.Isr, 1);
    if (device.configSize > 0) {
      addVirtioCap(fn, VirtioPciCapType.DeviceCfg, VirtioPciRegion.Device, device.configSize);
    }
    // The window's bar, offset, length and data are the driver's to write.
    this.pciCfgCap = addVirtioCap(fn, VirtioPciCapType.PciCfg, 0, 0, EXTENDED_CAP_LENGTH, 0xffffffff);
    fn.defineRegister(this.pciCfgCap + VirtioPciCap.PciCfgData, 4, { writable: 0xffffffff });
    this.msix.attach(fn, VirtioPciBar.Msix);
  }

  /** The device status register. */
  get deviceStatus(): number {
    return this.core.status;
  }

  /** The ISR status (without the read that clears it). */
  get interruptStatus(): number {
    return this.isr;
  }

  /** Machine reset (RST#): the PCI function, MSI-X and the device return to their reset state. */
  reset(): void {
    this.pciFunction.reset();
    this.msix.reset();
    this.core.reset();
  }

  // --- BAR 4

  private readBar(offset: number, data: Uint8Array): void {
    const within = offset % VirtioPciRegion.Size;
    switch (offset - within) {
      case VirtioPciRegion.Common:
        this.readCommon(within, data);
        return;
      case VirtioPciRegion.Isr:
        if (within === 0 && data.length === 1) {
          data[0] = this.isr;
          this.isr = 0;
          this.updateIntx();
        } else {
          data.fill(0);
        }
        return;
      case VirtioPciRegion.Device:
        if (isNaturalAccess(within, data.length)) this.core.readConfig(within, data);
        else data.fill(0);
        return;
      default:
        data.fill(0); // the notification page reads 0
    }
  }

  private writeBar(offset: number, data: Uint8Array): void {
    const within = offset % VirtioPciRegion.Size;
    switch (offset - within) {
      case VirtioPciRegion.Common:
        this.writeCommon(within, data);
        return;
      case VirtioPciRegion.Device:
        if (isNaturalAccess(within, data.length)) this.core.writeConfig(within, data);
        return;
      case VirtioPciRegion.Notify:
        // The address says which queue; the value (the queue index) adds nothing without NOTIFICATION_DATA.
        if ((data.length === 2 || data.length === 4) && within % VIRTIO_PCI_NOTIFY_OFF_MULTIPLIER === 0) {
          this.core.notify(within / VIRTIO_PCI_NOTIFY_OFF_MULTIPLIER);
        }
        return;
      default:
      // The ISR is read-only.
    }
  }

  // --- Common configuration

  private readCommon(offset: number, data: Uint8Array): void {
    const area = ringArea(offset);
    if (area !== undefined) {
      const half = ringHalf(area, offset, data.length);
      if (half === "both") {
        fillAccess(data, this.core.queueAddressWord(area, false), this.core.queueAddressWord(area, true));
      } else if (half !== undefined) {
        fillAccess(data, this.core.queueAddressWord(area, half === "high"));
      } else {
        data.fill(0);
      }
      return;
    }
    fillAccess(data, COMMON_FIELD_WIDTH.get(offset) === data.length ? this.commonField(offset) : 0);
  }

  private commonField(offset: number): number {
    const core = this.core;
    switch (offset) {
      case Common.DeviceFeatureSelect:
        return core.deviceFeatureSelect;
      case Common.DeviceFeature:
        return core.deviceFeatureWord();
      case Common.DriverFeatureSelect:
        return core.driverFeatureSelect;
      case Common.DriverFeature:
        return core.driverFeatureWord();
      case Common.ConfigMsixVector:
        return this.configVector;
      case Common.NumQueues:
        return core.queueCount;
      case Common.DeviceStatus:
        return core.status;
      case Common.ConfigGeneration:
        return core.configGeneration & 0xff;
      case Common.QueueSelect:
        return core.queueSelect;
      case Common.QueueSize:
        return core.queueSize();
      case Common.QueueMsixVector:
        return this.queueVectors[core.queueSelect] ?? VIRTIO_MSI_NO_VECTOR;
      case Common.QueueEnable:
        return core.queueReady() ? 1 : 0;
      case Common.QueueNotifyOff:
        // Queue n notifies at n * multiplier.
        return core.queueSelect < core.queueCount ? core.queueSelect : 0;
      default:
        return 0;
    }
  }

  private writeCommon(offset: number, data: Uint8Array): void {
    const core = this.core;
    const area = ringArea(offset);
    if (area !== undefined) {
      const half = ringHalf(area, offset, data.length);
      if (half === "both") {
        core.setQueueAddressWord(area, false, accessValue(data));
        core.setQueueAddressWord(area, true, accessValue(data.subarray(4)));
      } else if (half !== undefined) {
        core.setQueueAddressWord(area, half === "high", accessValue(data));
      }
      return;
    }
    if (COMMON_FIELD_WIDTH.get(offset) !== data.length) return;
    const value = accessValue(data);
    switch (offset) {
      case Common.DeviceFeatureSelect:
        core.selectDeviceFeatures(value);
        return;
      case Common.DriverFeatureSelect:
        core.selectDriverFeatures(value);
        return;
      case Common.DriverFeature:
        core.writeDriverFeatureWord(value);
        return;
      case Common.ConfigMsixVector:
        this.configVector = this.vectorOrNone(value);
        return;
      case Common.DeviceStatus:
        core.writeStatus(value);
        return;
      case Common.QueueSelect:
        core.selectQueue(value);
        return;
      case Common.QueueSize:
        core.setQueueSize(value);
        return;
      case Common.QueueMsixVector:
        if (core.queueSelect < core.queueCount)
          this.queueVectors[core.queueSelect] = this.vectorOrNone(value);
        return;
      case Common.QueueEnable:
        // The driver must not write 0 (there is no VIRTIO_F_RING_RESET); 1 enables.
        if (value === 1) core.enableQueue();
        return;
      default:
      // Read-only fields.
    }
  }

  /** A vector the table has, else NO_VECTOR (so the driver reads back that the mapping failed). */
  private vectorOrNone(vector: number): number {
    return this.msix.isValidVector(vector) ? vector : VIRTIO_MSI_NO_VECTOR;
  }

  // --- Interrupts

  /** An event: its MSI-X vector when MSI-X is enabled, else an ISR bit and INTx#. */
  private interrupt(isrBit: number, vector: number): void {
    if (this.msix.enabled) {
      this.msix.notify(vector);
      return;
    }
    this.isr |= isrBit;
    this.updateIntx();
  }

  /** INTx# follows the ISR while MSI-X is disabled; an enabled MSI-X silences it. */
  private updateIntx(): void {
    this.pciFunction.setInterrupt(!this.msix.enabled && this.isr !== 0);
  }

  // --- Configuration space hooks

  private configRead(offset: number, length: number): void {
    if (overlapsWindow(offset, length, this.pciCfgCap)) this.windowRead();
  }

  private configWritten(offset: number, length: number): void {
    if (length <= WIDEST_CONFIG_ACCESS && overlapsWindow(offset, length, this.pciCfgCap)) this.windowWrite();
    // MSI-X enable or function mask may have changed.
    this.msix.controlChanged();
    this.updateIntx();
  }

  /** The BAR access the PCI_CFG capability describes, or undefined if it describes none (spec 4.1.4.9). */
  private windowTarget(): { region: BusDevice; base: number; offset: number; length: number } | undefined {
    const config = this.pciFunction.config;
    const bar = config.byte(this.pciCfgCap + VirtioPciCap.Bar);
    const offset = config.dword(this.pciCfgCap + VirtioPciCap.Offset);
    const length = config.dword(this.pciCfgCap + VirtioPciCap.Length);
    if ((length !== 1 && length !== 2 && length !== 4) || offset % length !== 0) return undefined;
    const target =
      bar === VirtioPciBar.Virtio
        ? { region: this.region, size: VIRTIO_PCI_BAR_SIZE }
        : bar === VirtioPciBar.Msix
          ? { region: this.msix.region, size: this.msix.barSize }
          : undefined;
    if (target === undefined || offset + length > target.size) return undefined;
    return { region: target.region, base: this.pciFunction.barAddress(bar) ?? 0, offset, length };
  }

  private windowRead(): void {
    const target = this.windowTarget();
    if (target === undefined) return;
    const data = new Uint8Array(target.length);
    target.region.read(target.base, target.offset, data);
    for (let i = 0; i < data.length; i++) {
      this.pciFunction.config.setByte(this.pciCfgCap + VirtioPciCap.PciCfgData + i, data[i]);
    }
  }

  private windowWrite(): void {
    const target = this.windowTarget();
    if (target === undefined) return;
    const data = new Uint8Array(target.length);
    for (let i = 0; i < data.length; i++) {
      data[i] = this.pciFunction.config.byte(this.pciCfgCap + VirtioPciCap.PciCfgData + i);
    }
    target.region.write(target.base, target.offset, data);
  }
}

/** Adds a virtio vendor capability for a structure in the virtio BAR; returns its offset. */
function addVirtioCap(
  fn: PciFunction,
  cfgType: number,
  offset: number,
  length: number,
  capLength = CAP_LENGTH,
  /** Bits of bar, offset and length the driver may write (the PCI_CFG window's). */
  writable = 0,
): number {
  const at = fn.addCapability(PciCapabilityId.VendorSpecific, capLength);
  fn.defineRegister(at + VirtioPciCap.CapLength, 1, { value: capLength });
  fn.defineRegister(at + VirtioPciCap.CfgType, 1, { value: cfgType });
  fn.defineRegister(at + VirtioPciCap.Bar, 1, { value: VirtioPciBar.Virtio, writable: writable });
  fn.defineRegister(at + VirtioPciCap.Offset, 4, { value: offset, writable: writable });
  fn.defineRegister(at + VirtioPciCap.Length, 4, { value: length, writable: writable });
  return at;
}

/** Which queue area's 64-bit field `offset` falls in, if any. */
function ringArea(offset: number): QueueArea | undefined {
  if (offset < Common.QueueDesc || offset >= Common.QueueDevice + 8) return undefined;
  return ((offset - Common.QueueDesc) >> 3) as QueueArea;
}

/** Which half of a ring address an access touches: a 32-bit half, the whole field, or none (a bad access). */
function ringHalf(area: QueueArea, offset: number, width: number): "low" | "high" | "both" | undefined {
  const within = offset - (Common.QueueDesc + 8 * area);
  if (width === 8) return within === 0 ? "both" : undefined;
  if (width === 4) return within === 0 ? "low" : within === 4 ? "high" : undefined;
  return undefined;
}

function overlapsWindow(offset: number, length: number, cap: number): boolean {
  const start = cap + VirtioPciCap.PciCfgData;
  return offset < start + 4 && offset + length > start;
}

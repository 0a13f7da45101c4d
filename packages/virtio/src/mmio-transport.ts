// virtio-mmio version 2 (virtio 1.2 spec 4.2): one device in a 0x200-byte MMIO window with a level-triggered
// interrupt line, as on QEMU's microvm and Firecracker.
import type { BusDevice, Trigger } from "@tsvmm/device-model";
import type { GuestMemory } from "@tsvmm/ept";
import type { VirtioDevice } from "./device.js";
import {
  VirtioMmioRegister as Reg,
  VIRTIO_MMIO_CONFIG_SIZE,
  VIRTIO_MMIO_MAGIC,
  VIRTIO_MMIO_VENDOR_ID,
  VIRTIO_MMIO_VERSION,
  VirtioMmioInterrupt,
} from "./mmio-registers.js";
import { accessValue, fillAccess, isNaturalAccess } from "./register-access.js";
import { QueueArea, type TransportInterrupts, VirtioTransportCore } from "./transport-core.js";

export interface VirtioMmioTransportOptions {
  device: VirtioDevice;
  /** Guest RAM, where the driver puts the queues. */
  memory: GuestMemory;
  /** The device's interrupt line: asserted while InterruptStatus is not 0. */
  interrupt: Trigger;
  /** Told why the device set DEVICE_NEEDS_RESET or failed (for the VMM's log). */
  onError?: (reason: string) => void;
}

/** What a read of an absent shared memory region's length (or base) gives: -1, as a 32-bit half. */
const NO_SHARED_MEMORY = 0xffffffff;

/**
 * A virtio-mmio device window (a BusDevice of VIRTIO_MMIO_SIZE bytes). Registers take aligned 32-bit accesses
 * only and the configuration space aligned 8-, 16- and 32-bit ones; anything else reads 0 and writes nothing, as
 * do the reserved and write-only registers on a read. The device has no shared memory regions (their lengths read
 * -1) and no VIRTIO_F_RING_RESET (QueueReset reads 0). Register semantics beyond decoding (status, features,
 * queues) are VirtioTransportCore's.
 */
export class VirtioMmioTransport implements BusDevice {
  /** The window to map on the MMIO bus (this object). */
  readonly region: BusDevice = this;
  private readonly core: VirtioTransportCore;
  private readonly line: Trigger;
  private status = 0;
  private lineAsserted = false;

  constructor(options: VirtioMmioTransportOptions) {
    if (options.device.configSize > VIRTIO_MMIO_CONFIG_SIZE) {
      throw new RangeError(
        `a virtio-mmio window holds ${VIRTIO_MMIO_CONFIG_SIZE} bytes of configuration, not ${options.device.configSize}`,
      );
    }
    this.line = options.interrupt;
    const interrupts: TransportInterrupts = {
      usedBuffers: () => this.raise(VirtioMmioInterrupt.UsedBuffer),
      configChanged: () => this.raise(VirtioMmioInterrupt.ConfigChange),
      reset: () => this.setInterruptStatus(0),
    };
    this.core = new VirtioTransportCore({
      device: options.device,
      memory: options.memory,
      interrupts,
      onError: options.onError,
    });
  }

  /** The device status register. */
  get deviceStatus(): number {
    return this.core.status;
  }

  /** The InterruptStatus register. */
  get interruptStatus(): number {
    return this.status;
  }

  /** Machine reset: the device resets and the line drops. */
  reset(): void {
    this.core.reset();
  }

  read(_base: number, offset: number, data: Uint8Array): void {
    if (offset >= Reg.Config) {
      if (isNaturalAccess(offset, data.length)) this.core.readConfig(offset - Reg.Config, data);
      else data.fill(0);
      return;
    }
    fillAccess(data, data.length === 4 && (offset & 3) === 0 ? this.readRegister(offset) : 0);
  }

  write(_base: number, offset: number, data: Uint8Array): void {
    if (offset >= Reg.Config) {
      if (isNaturalAccess(offset, data.length)) this.core.writeConfig(offset - Reg.Config, data);
      return;
    }
    if (data.length === 4 && (offset & 3) === 0) this.writeRegister(offset, accessValue(data));
  }

  private readRegister(offset: number): number {
    const core = this.core;
    switch (offset) {
      case Reg.MagicValue:
        return VIRTIO_MMIO_MAGIC;
      case Reg.Version:
        return VIRTIO_MMIO_VERSION;
      case Reg.DeviceId:
        return core.device.deviceType;
      case Reg.VendorId:
        return VIRTIO_MMIO_VENDOR_ID;
      case Reg.DeviceFeatures:
        return core.deviceFeatureWord();
      case Reg.QueueNumMax:
        return core.queueMaxSize();
      case Reg.QueueReady:
        return core.queueReady() ? 1 : 0;
      case Reg.InterruptStatus:
        return this.status;
      case Reg.Status:
        return core.status;
      case Reg.ShmLenLow:
      case Reg.ShmLenHigh:
      case Reg.ShmBaseLow:
      case Reg.ShmBaseHigh:
        return NO_SHARED_MEMORY;
      case Reg.ConfigGeneration:
        return core.configGeneration;
      default:
        return 0;
    }
  }

  private writeRegister(offset: number, value: number): void {
    const core = this.core;
    switch (offset) {
      case Reg.DeviceFeaturesSel:
        core.selectDeviceFeatures(value);
        return;
      case Reg.DriverFeatures:
        core.writeDriverFeatureWord(value);
        return;
      case Reg.DriverFeaturesSel:
        core.selectDriverFeatures(value);
        return;
      case Reg.QueueSel:
        core.selectQueue(value);
        return;
      case Reg.QueueNum:
        core.setQueueSize(value);
        return;
      case Reg.QueueReady:
        if (value === 1) core.enableQueue();
        else if (value === 0) core.disableQueue();
        return;
      case Reg.QueueNotify:
        // Without VIRTIO_F_NOTIFICATION_DATA the value is the queue index.
        core.notify(value);
        return;
      case Reg.InterruptAck:
        this.setInterruptStatus(this.status & ~value);
        return;
      case Reg.Status:
        core.writeStatus(value);
        return;
      case Reg.QueueDescLow:
      case Reg.QueueDescHigh:
        core.setQueueAddressWord(QueueArea.Descriptor, offset === Reg.QueueDescHigh, value);
        return;
      case Reg.QueueDriverLow:
      case Reg.QueueDriverHigh:
        core.setQueueAddressWord(QueueArea.Driver, offset === Reg.QueueDriverHigh, value);
        return;
      case Reg.QueueDeviceLow:
      case Reg.QueueDeviceHigh:
        core.setQueueAddressWord(QueueArea.Device, offset === Reg.QueueDeviceHigh, value);
        return;
      default:
      // Read-only, reserved and SHMSel (there are no regions to select): nothing to do.
    }
  }

  private raise(bit: number): void {
    this.setInterruptStatus(this.status | bit);
  }

  private setInterruptStatus(status: number): void {
    this.status = status & (VirtioMmioInterrupt.UsedBuffer | VirtioMmioInterrupt.ConfigChange);
    const asserted = this.status !== 0;
    if (asserted === this.lineAsserted) return;
    this.lineAsserted = asserted;
    this.line.set(asserted);
  }
}

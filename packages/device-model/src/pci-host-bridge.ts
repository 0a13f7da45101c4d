// The PC's host-to-PCI bridge: configuration mechanism #1 (CONFIG_ADDRESS at port 0xcf8, CONFIG_DATA at 0xcfc-0xcff)
// and the bridge's own PCI function at 00:00.0, identified as an Intel 82441FX (i440FX PMC) as QEMU's pc machine is.

import { accessValue, fillAccessValue } from "./access-value.js";
import type { BusDevice } from "./bus-device.js";
import type { PciBus } from "./pci-bus.js";
import { PciFunction } from "./pci-function.js";
import { PciClass, PciVendor } from "./pci-registers.js";

export interface PciHostBridgeOptions {
  /** Bus 0, where the bridge puts its own function at 00:00.0. */
  bus: PciBus;
  /**
   * The register a PC decodes at port 0xcf9 inside CONFIG_ADDRESS's range (PIIX3's reset control register,
   * Piix3IsaBridge.resetControl). Byte accesses at offset 1 of configAddress go to it at offset 0.
   */
  resetControl?: BusDevice;
}

/** Snapshot of a PciHostBridge (plain, JSON-serialisable); the 00:00.0 function is part of the PciBus state. */
export interface PciHostBridgeState {
  configAddress: number;
}

/** CONFIG_ADDRESS fields. */
export const PciConfigAddress = {
  /** Bit 31: CONFIG_DATA accesses become configuration cycles. */
  Enable: 0x80000000,
  BusShift: 16,
  DeviceShift: 11,
  FunctionShift: 8,
  /** Bits 2-7: the dword register number (bits 0-1 read 0; bits 24-30 are reserved and read 0). */
  RegisterMask: 0xfc,
} as const;

/** Intel 82441FX PMC, the i440FX host bridge (QEMU's "i440FX" device: revision 2). */
export const I440FX_DEVICE_ID = 0x1237;
const I440FX_REVISION = 0x02;
const ADDRESS_MASK = 0x80fffffc;
const RESET_CONTROL_OFFSET = 1;

/**
 * Configuration mechanism #1. Map `configAddress` at 0xcf8 and `configData` at 0xcfc, 4 ports each.
 *
 * - CONFIG_ADDRESS latches only full 4-byte writes and answers only 4-byte reads (the enable bit, bus, device,
 *   function and register number; reserved bits and bits 0-1 read 0). Narrower accesses are ordinary I/O, as the
 *   specification says: a byte at 0xcf9 goes to `resetControl`, others read all ones and are dropped, so Linux's
 *   probe (a byte write to 0xcfb, then a dword write and read of 0x80000000) finds mechanism #1.
 * - CONFIG_DATA: an access of 1, 2 or 4 bytes at 0xcfc + n reads or writes configuration bytes register + n
 *   onwards of the selected function, with bus 0 only. With the enable bit clear, on another bus, or for an absent
 *   function, reads return all ones and writes are dropped. Bytes past 0xcff read all ones.
 *
 * Accesses never throw.
 */
export class PciHostBridge {
  /** CONFIG_ADDRESS (4 ports at 0xcf8). */
  readonly configAddress: BusDevice;
  /** CONFIG_DATA (4 ports at 0xcfc). */
  readonly configData: BusDevice;
  /** The bridge's own function at 00:00.0 (8086:1237, class 0x060000). */
  readonly pciFunction: PciFunction;
  private readonly bus: PciBus;
  private readonly resetControl: BusDevice | undefined;
  private readonly byte = new Uint8Array(1);
  private latch = 0;

  constructor(options: PciHostBridgeOptions) {
    this.bus = options.bus;
    this.resetControl = options.resetControl;
    this.pciFunction = new PciFunction({
      vendorId: PciVendor.Intel,
      deviceId: I440FX_DEVICE_ID,
      revisionId: I440FX_REVISION,
      classCode: PciClass.HostBridge,
    });
    this.bus.register(this.pciFunction, 0, 0);
    this.configAddress = {
      read: (base, offset, data) => this.readAddress(base, offset, data),
      write: (base, offset, data) => this.writeAddress(base, offset, data),
    };
    this.configData = {
      read: (_base, offset, data) => this.accessData(offset, data, false),
      write: (_base, offset, data) => this.accessData(offset, data, true),
    };
  }

  /** The CONFIG_ADDRESS latch. */
  get address(): number {
    return this.latch;
  }

  /** Reset: CONFIG_ADDRESS returns to 0. */
  reset(): void {
    this.latch = 0;
  }

  getState(): PciHostBridgeState {
    return { configAddress: this.latch };
  }

  /** Restores a snapshot; a malformed address becomes 0, reserved bits are dropped. */
  setState(state: PciHostBridgeState): void {
    const value = state !== null && typeof state === "object" ? state.configAddress : undefined;
    this.latch = typeof value === "number" && Number.isFinite(value) ? (value & ADDRESS_MASK) >>> 0 : 0;
  }

  private readAddress(base: number, offset: number, data: Uint8Array): void {
    if (offset === 0 && data.length === 4) {
      fillAccessValue(data, this.latch);
    } else if (offset === RESET_CONTROL_OFFSET && data.length === 1 && this.resetControl !== undefined) {
      this.resetControl.read(base + RESET_CONTROL_OFFSET, 0, data);
    } else {
      data.fill(0xff);
    }
  }

  private writeAddress(base: number, offset: number, data: Uint8Array): void {
    if (offset === 0 && data.length === 4) {
      this.latch = (accessValue(data) & ADDRESS_MASK) >>> 0;
    } else if (offset === RESET_CONTROL_OFFSET && data.length === 1 && this.resetControl !== undefined) {
      this.resetControl.write(base + RESET_CONTROL_OFFSET, 0, data);
    }
  }

  private accessData(offset: number, data: Uint8Array, write: boolean): void {
    const address = this.latch;
    const enabled =
      (address & PciConfigAddress.Enable) !== 0 && ((address >>> PciConfigAddress.BusShift) & 0xff) === 0;
    const device = (address >>> PciConfigAddress.DeviceShift) & 0x1f;
    const fn = (address >>> PciConfigAddress.FunctionShift) & 7;
    const register = (address & PciConfigAddress.RegisterMask) + offset;
    if (!enabled || !(offset >= 0 && offset < 4)) {
      if (!write) data.fill(0xff);
      return;
    }
    if (offset + data.length <= 4) {
      if (write) this.bus.writeConfig(device, fn, register, data);
      else this.bus.readConfig(device, fn, register, data);
      return;
    }
    // Wider than what is left of the dword: the bytes inside it, one by one; the rest is not CONFIG_DATA.
    const byte = this.byte;
    for (let i = 0; i < data.length; i++) {
      if (offset + i >= 4) {
        if (!write) data[i] = 0xff;
        continue;
      }
      if (write) {
        byte[0] = data[i];
        this.bus.writeConfig(device, fn, register + i, byte);
      } else {
        this.bus.readConfig(device, fn, register + i, byte);
        data[i] = byte[0];
      }
    }
  }
}

/** The device side of a bus: what the bus calls (structurally the same as device-model's BusDevice). */
export interface BusDevice {
  read(base: number, offset: number, data: Uint8Array): void;
  write(base: number, offset: number, data: Uint8Array): void;
}

export class BusError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "BusError";
  }
}

interface Range {
  base: number;
  length: number;
  name: string;
  device: BusDevice;
}

/** Counters a bus keeps about accesses that hit no device. */
export interface BusStats {
  unhandledReads: number;
  droppedWrites: number;
}

/**
 * An address space of devices (the PIO bus or the MMIO bus): ranges registered per device, overlaps
 * rejected. A device sees (base, offset, data) and never its absolute address. Reads that hit nothing
 * return all ones, as an undriven ISA/PCI bus does; writes that hit nothing are dropped and counted.
 * An access that does not fit inside one device is split into bytes, each routed on its own.
 */
export class Bus {
  private readonly ranges: Range[] = [];
  readonly stats: BusStats = { unhandledReads: 0, droppedWrites: 0 };
  private readonly byte = new Uint8Array(1);

  constructor(readonly name: string) {}

  insert(device: BusDevice, base: number, length: number, name = "device"): void {
    if (!Number.isInteger(base) || base < 0 || !Number.isInteger(length) || length <= 0) {
      throw new BusError(`${this.name}: bad range for ${name}: base ${base}, length ${length}`);
    }
    for (const r of this.ranges) {
      if (base < r.base + r.length && r.base < base + length) {
        throw new BusError(
          `${this.name}: ${name} at 0x${base.toString(16)}+0x${length.toString(16)} overlaps ${r.name} at 0x${r.base.toString(16)}+0x${r.length.toString(16)}`,
        );
      }
    }
    this.ranges.push({ base, length, name, device });
    this.ranges.sort((a, b) => a.base - b.base);
  }

  remove(base: number): boolean {
    const i = this.ranges.findIndex((r) => r.base === base);
    if (i < 0) return false;
    this.ranges.splice(i, 1);
    return true;
  }

  /** The ranges devices claim, in address order (for diagnostics and tests, like QEMU's `info mtree`). */
  entries(): Array<{ base: number; length: number; name: string }> {
    return this.ranges.map(({ base, length, name }) => ({ base, length, name }));
  }

  /** Whether no device claims any address of [base, base + length). */
  isFree(base: number, length: number): boolean {
    return !this.anyDeviceIn(base, length);
  }

  /** The name of the device at `address`, or undefined. */
  deviceAt(address: number): string | undefined {
    return this.find(address)?.name;
  }

  /** Fills `data` from the device(s) at `address`; returns false when nothing answered at all. */
  read(address: number, data: Uint8Array): boolean {
    const range = this.find(address);
    if (range !== undefined && address + data.length <= range.base + range.length) {
      range.device.read(range.base, address - range.base, data);
      return true;
    }
    if (data.length === 1 || range === undefined) {
      if (data.length > 1 && this.anyDeviceIn(address, data.length)) return this.readBytes(address, data);
      data.fill(0xff);
      this.stats.unhandledReads++;
      return false;
    }
    return this.readBytes(address, data);
  }

  /** Sends `data` to the device(s) at `address`; returns false when it was dropped entirely. */
  write(address: number, data: Uint8Array): boolean {
    const range = this.find(address);
    if (range !== undefined && address + data.length <= range.base + range.length) {
      range.device.write(range.base, address - range.base, data);
      return true;
    }
    if (data.length > 1 && this.anyDeviceIn(address, data.length)) {
      let any = false;
      for (let i = 0; i < data.length; i++) {
        this.byte[0] = data[i];
        any = this.write(address + i, this.byte) || any;
      }
      return any;
    }
    this.stats.droppedWrites++;
    return false;
  }

  private readBytes(address: number, data: Uint8Array): boolean {
    let any = false;
    for (let i = 0; i < data.length; i++) {
      any = this.read(address + i, this.byte) || any;
      data[i] = this.byte[0];
    }
    return any;
  }

  private anyDeviceIn(address: number, length: number): boolean {
    for (const r of this.ranges) if (address < r.base + r.length && r.base < address + length) return true;
    return false;
  }

  private find(address: number): Range | undefined {
    const ranges = this.ranges;
    let lo = 0;
    let hi = ranges.length - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      const r = ranges[mid];
      if (address < r.base) hi = mid - 1;
      else if (address >= r.base + r.length) lo = mid + 1;
      else return r;
    }
    return undefined;
  }
}

// The guest's side of virtio for vmm-core's tests, written from the virtio 1.2 spec (not from @tsvmm/virtio's
// constants): register accesses made on the machine's buses as the CPU would make them, a split virtqueue laid out in
// guest RAM, and drivers that bring a device up through virtio-mmio (spec 4.2) or virtio-pci (spec 4.1, the
// capabilities walked through configuration mechanism #1).
import type { GuestMemory } from "@tsvmm/ept";
import type { Machine } from "./machine.js";

/** Device status bits (spec 2.1). */
export const STATUS = { acknowledge: 1, driver: 2, driverOk: 4, featuresOk: 8, needsReset: 64 } as const;
/** VIRTIO_F_VERSION_1: feature bit 32, bit 0 of feature word 1. */
const VERSION_1_WORD = 1;
const VERSION_1_BIT = 1;

/** MMIO and port accesses on the machine's buses, as the vCPU's exits would make them. */
export class GuestBuses {
  private readonly data = new Uint8Array(8);
  private readonly view = new DataView(this.data.buffer);

  constructor(private readonly machine: Machine) {}

  readMmio(address: number, size: 1 | 2 | 4 | 8): number {
    const data = this.data.subarray(0, size);
    this.machine.mmio.read(address, data);
    return this.value(size);
  }

  writeMmio(address: number, size: 1 | 2 | 4 | 8, value: number): void {
    this.setValue(size, value);
    this.machine.mmio.write(address, this.data.subarray(0, size));
  }

  inb(port: number): number {
    this.machine.pio.read(port, this.data.subarray(0, 1));
    return this.data[0];
  }

  /** A configuration read of bus 0 through 0xCF8/0xCFC (the data port offset by the register's low bits). */
  configRead(slot: number, register: number, size: 1 | 2 | 4): number {
    this.selectConfig(slot, register);
    this.machine.pio.read(0xcfc + (register & 3), this.data.subarray(0, size));
    return this.value(size);
  }

  configWrite(slot: number, register: number, size: 1 | 2 | 4, value: number): void {
    this.selectConfig(slot, register);
    this.setValue(size, value);
    this.machine.pio.write(0xcfc + (register & 3), this.data.subarray(0, size));
  }

  private selectConfig(slot: number, register: number): void {
    this.view.setUint32(0, (0x80000000 | (slot << 11) | (register & 0xfc)) >>> 0, true);
    this.machine.pio.write(0xcf8, this.data.subarray(0, 4));
  }

  private value(size: number): number {
    if (size === 1) return this.data[0];
    if (size === 2) return this.view.getUint16(0, true);
    if (size === 4) return this.view.getUint32(0, true);
    return this.view.getUint32(0, true) + this.view.getUint32(4, true) * 2 ** 32;
  }

  private setValue(size: number, value: number): void {
    if (size === 1) this.data[0] = value;
    else if (size === 2) this.view.setUint16(0, value, true);
    else if (size === 4) this.view.setUint32(0, value >>> 0, true);
    else {
      this.view.setUint32(0, value % 2 ** 32, true);
      this.view.setUint32(4, Math.floor(value / 2 ** 32), true);
    }
  }
}

/** A used buffer: its chain's head, the length the device wrote, and the writable buffers' contents. */
export interface UsedChain {
  id: number;
  length: number;
  written: Uint8Array[];
}

/**
 * A split virtqueue (spec 2.7) in guest RAM at `base`: the descriptor table, the available ring (2-byte aligned after
 * it), the used ring (4-byte aligned), then an area for the buffers. Chains use fresh descriptors and buffers each
 * time (enough for a test's few requests).
 */
export class GuestSplitQueue {
  readonly descAddress: number;
  readonly availAddress: number;
  readonly usedAddress: number;
  private nextDescriptor = 0;
  private nextBuffer: number;
  private availIndex = 0;
  private usedSeen = 0;
  private readonly chains = new Map<number, { writable: { address: number; length: number }[] }>();

  constructor(
    private readonly memory: GuestMemory,
    base: number,
    readonly size: number,
  ) {
    this.descAddress = base;
    this.availAddress = base + 16 * size;
    this.usedAddress = align(this.availAddress + 6 + 2 * size, 4);
    this.nextBuffer = align(this.usedAddress + 6 + 8 * size, 4096);
    // The rings start zeroed: no flags, index 0.
    memory.write(base, new Uint8Array(this.nextBuffer - base));
  }

  /** Puts a chain of `readable` buffers then `writable` ones (their lengths) on the available ring; returns its head. */
  add(readable: readonly Uint8Array[], writable: readonly number[]): number {
    const buffers = [
      ...readable.map((bytes) => ({ bytes, length: bytes.length, write: false })),
      ...writable.map((length) => ({ bytes: undefined, length, write: true })),
    ];
    if (this.nextDescriptor + buffers.length > this.size)
      throw new Error("the queue's descriptors are used up");
    const head = this.nextDescriptor;
    const chain = { writable: [] as { address: number; length: number }[] };
    buffers.forEach((buffer, i) => {
      const descriptor = this.nextDescriptor++;
      const address = this.nextBuffer;
      this.nextBuffer = align(address + buffer.length, 16);
      if (buffer.bytes !== undefined) this.memory.write(address, buffer.bytes);
      else chain.writable.push({ address, length: buffer.length });
      const at = this.descAddress + 16 * descriptor;
      const last = i === buffers.length - 1;
      this.memory.writeU64(at, address, 0);
      this.memory.writeU32(at + 8, buffer.length);
      this.memory.writeU16(at + 12, (last ? 0 : 1) | (buffer.write ? 2 : 0)); // NEXT, WRITE
      this.memory.writeU16(at + 14, last ? 0 : descriptor + 1);
    });
    this.chains.set(head, chain);
    this.memory.writeU16(this.availAddress + 4 + 2 * (this.availIndex % this.size), head);
    this.availIndex = (this.availIndex + 1) & 0xffff;
    this.memory.writeU16(this.availAddress + 2, this.availIndex);
    return head;
  }

  /** The used ring's index as the device last wrote it. */
  usedIndex(): number {
    return this.memory.readU16(this.usedAddress + 2);
  }

  /** The chains the device returned since the last call. */
  takeUsed(): UsedChain[] {
    const used: UsedChain[] = [];
    const index = this.usedIndex();
    while (this.usedSeen !== index) {
      const at = this.usedAddress + 4 + 8 * (this.usedSeen % this.size);
      const id = this.memory.readU32(at);
      const length = this.memory.readU32(at + 4);
      const chain = this.chains.get(id);
      if (chain === undefined) throw new Error(`the device returned chain ${id}, which is not outstanding`);
      this.chains.delete(id);
      const written = chain.writable.map(({ address, length: size }) => {
        const bytes = new Uint8Array(size);
        this.memory.read(address, bytes);
        return bytes;
      });
      used.push({ id, length, written });
      this.usedSeen = (this.usedSeen + 1) & 0xffff;
    }
    return used;
  }
}

/** Waits (on the host's event loop) until `done()` holds: asynchronous device work finishes between the turns. */
export async function waitFor(done: () => boolean, what: string, turns = 1000): Promise<void> {
  for (let turn = 0; turn < turns; turn++) {
    if (done()) return;
    await new Promise<void>((resolve) => setTimeout(resolve, 1));
  }
  throw new Error(`timed out waiting for ${what}`);
}

/** A virtio-mmio driver (spec 4.2.3): the register offsets of version 2. */
export class MmioGuestDriver {
  static readonly register = {
    magic: 0x000,
    version: 0x004,
    deviceId: 0x008,
    vendorId: 0x00c,
    deviceFeatures: 0x010,
    deviceFeaturesSel: 0x014,
    driverFeatures: 0x020,
    driverFeaturesSel: 0x024,
    queueSel: 0x030,
    queueNumMax: 0x034,
    queueNum: 0x038,
    queueReady: 0x044,
    queueNotify: 0x050,
    interruptStatus: 0x060,
    interruptAck: 0x064,
    status: 0x070,
    queueDescLow: 0x080,
    queueDescHigh: 0x084,
    queueDriverLow: 0x090,
    queueDriverHigh: 0x094,
    queueDeviceLow: 0x0a0,
    queueDeviceHigh: 0x0a4,
    config: 0x100,
  } as const;

  constructor(
    private readonly buses: GuestBuses,
    readonly base: number,
  ) {}

  read(register: number): number {
    return this.buses.readMmio(this.base + register, 4);
  }

  write(register: number, value: number): void {
    this.buses.writeMmio(this.base + register, 4, value);
  }

  /** Reset, ACKNOWLEDGE, DRIVER, VIRTIO_F_VERSION_1 only, FEATURES_OK (checked), then each queue, then DRIVER_OK. */
  initialize(queues: readonly GuestSplitQueue[]): void {
    const r = MmioGuestDriver.register;
    this.write(r.status, 0);
    this.write(r.status, STATUS.acknowledge);
    this.write(r.status, STATUS.acknowledge | STATUS.driver);
    this.write(r.deviceFeaturesSel, VERSION_1_WORD);
    if ((this.read(r.deviceFeatures) & VERSION_1_BIT) === 0)
      throw new Error("the device is not a virtio 1 device");
    this.write(r.driverFeaturesSel, 0);
    this.write(r.driverFeatures, 0);
    this.write(r.driverFeaturesSel, VERSION_1_WORD);
    this.write(r.driverFeatures, VERSION_1_BIT);
    this.write(r.status, STATUS.acknowledge | STATUS.driver | STATUS.featuresOk);
    if ((this.read(r.status) & STATUS.featuresOk) === 0) throw new Error("the device refused the features");
    queues.forEach((queue, index) => {
      this.write(r.queueSel, index);
      if (this.read(r.queueNumMax) < queue.size)
        throw new Error(`queue ${index} is smaller than ${queue.size}`);
      this.write(r.queueNum, queue.size);
      this.write(r.queueDescLow, queue.descAddress);
      this.write(r.queueDescHigh, 0);
      this.write(r.queueDriverLow, queue.availAddress);
      this.write(r.queueDriverHigh, 0);
      this.write(r.queueDeviceLow, queue.usedAddress);
      this.write(r.queueDeviceHigh, 0);
      this.write(r.queueReady, 1);
    });
    this.write(r.status, STATUS.acknowledge | STATUS.driver | STATUS.featuresOk | STATUS.driverOk);
  }

  notify(queueIndex: number): void {
    this.write(MmioGuestDriver.register.queueNotify, queueIndex);
  }
}

/** virtio-pci's structure types (spec 4.1.4) and the common configuration's fields (4.1.4.3). */
const CAP = { common: 1, notify: 2, isr: 3, device: 4 } as const;
export const COMMON = {
  deviceFeatureSelect: 0x00,
  deviceFeature: 0x04,
  driverFeatureSelect: 0x08,
  driverFeature: 0x0c,
  configMsixVector: 0x10,
  numQueues: 0x12,
  deviceStatus: 0x14,
  queueSelect: 0x16,
  queueSize: 0x18,
  queueMsixVector: 0x1a,
  queueEnable: 0x1c,
  queueNotifyOff: 0x1e,
  queueDesc: 0x20,
  queueDriver: 0x28,
  queueDevice: 0x30,
} as const;
const PCI_COMMAND = 0x04;
const PCI_CAPABILITIES_POINTER = 0x34;
const PCI_CAP_ID_VENDOR = 0x09;
const PCI_CAP_ID_MSIX = 0x11;

/** A virtio-pci driver (spec 4.1.5): the capabilities found by walking the list, the structures reached by MMIO. */
export class PciGuestDriver {
  readonly structures = new Map<number, number>();
  notifyMultiplier = 0;
  msixCapability = 0;

  constructor(
    private readonly buses: GuestBuses,
    readonly slot: number,
  ) {
    let cap = buses.configRead(slot, PCI_CAPABILITIES_POINTER, 1) & 0xfc;
    for (let hops = 0; cap !== 0 && hops < 48; hops++) {
      const id = buses.configRead(slot, cap, 1);
      if (id === PCI_CAP_ID_VENDOR) {
        const type = buses.configRead(slot, cap + 3, 1);
        const bar = buses.configRead(slot, cap + 4, 1);
        const offset = buses.configRead(slot, cap + 8, 4);
        if (type >= CAP.common && type <= CAP.device && !this.structures.has(type)) {
          this.structures.set(type, this.barAddress(bar) + offset);
        }
        if (type === CAP.notify) this.notifyMultiplier = buses.configRead(slot, cap + 16, 4);
      } else if (id === PCI_CAP_ID_MSIX) {
        this.msixCapability = cap;
      }
      cap = buses.configRead(slot, cap + 1, 1) & 0xfc;
    }
  }

  /** Where BAR `index` is (a 64-bit BAR's two halves together). */
  barAddress(index: number): number {
    const low = this.buses.configRead(this.slot, 0x10 + 4 * index, 4);
    const is64 = (low & 0x7) === 0x4;
    const high = is64 ? this.buses.configRead(this.slot, 0x14 + 4 * index, 4) : 0;
    return ((low & 0xfffffff0) >>> 0) + high * 2 ** 32;
  }

  command(): number {
    return this.buses.configRead(this.slot, PCI_COMMAND, 2);
  }

  enableBusMastering(): void {
    this.buses.configWrite(this.slot, PCI_COMMAND, 2, this.command() | 0x4);
  }

  common(field: number, size: 1 | 2 | 4 | 8): number {
    return this.buses.readMmio(this.structure(CAP.common) + field, size);
  }

  setCommon(field: number, size: 1 | 2 | 4 | 8, value: number): void {
    this.buses.writeMmio(this.structure(CAP.common) + field, size, value);
  }

  /** The ISR status byte (reading it clears it). */
  readIsr(): number {
    return this.buses.readMmio(this.structure(CAP.isr), 1);
  }

  /** Reset, ACKNOWLEDGE, DRIVER, VIRTIO_F_VERSION_1 only, FEATURES_OK (checked), each queue, DRIVER_OK. */
  initialize(queues: readonly GuestSplitQueue[], queueVector = 0xffff): void {
    this.setCommon(COMMON.deviceStatus, 1, 0);
    this.setCommon(COMMON.deviceStatus, 1, STATUS.acknowledge | STATUS.driver);
    this.setCommon(COMMON.deviceFeatureSelect, 4, VERSION_1_WORD);
    if ((this.common(COMMON.deviceFeature, 4) & VERSION_1_BIT) === 0)
      throw new Error("not a virtio 1 device");
    this.setCommon(COMMON.driverFeatureSelect, 4, 0);
    this.setCommon(COMMON.driverFeature, 4, 0);
    this.setCommon(COMMON.driverFeatureSelect, 4, VERSION_1_WORD);
    this.setCommon(COMMON.driverFeature, 4, VERSION_1_BIT);
    this.setCommon(COMMON.deviceStatus, 1, STATUS.acknowledge | STATUS.driver | STATUS.featuresOk);
    if ((this.common(COMMON.deviceStatus, 1) & STATUS.featuresOk) === 0) throw new Error("features refused");
    queues.forEach((queue, index) => {
      this.setCommon(COMMON.queueSelect, 2, index);
      this.setCommon(COMMON.queueSize, 2, queue.size);
      this.setCommon(COMMON.queueMsixVector, 2, queueVector);
      this.setCommon(COMMON.queueDesc, 8, queue.descAddress);
      this.setCommon(COMMON.queueDriver, 8, queue.availAddress);
      this.setCommon(COMMON.queueDevice, 8, queue.usedAddress);
      this.setCommon(COMMON.queueEnable, 2, 1);
    });
    this.setCommon(
      COMMON.deviceStatus,
      1,
      STATUS.acknowledge | STATUS.driver | STATUS.featuresOk | STATUS.driverOk,
    );
  }

  notify(queueIndex: number): void {
    this.setCommon(COMMON.queueSelect, 2, queueIndex);
    const offset = this.common(COMMON.queueNotifyOff, 2);
    this.buses.writeMmio(this.structure(CAP.notify) + offset * this.notifyMultiplier, 2, queueIndex);
  }

  /** MSI-X on (message control bit 15) with table entry `entry` sending `data` to `address`, unmasked. */
  enableMsix(entry: number, address: number, data: number): void {
    if (this.msixCapability === 0) throw new Error("no MSI-X capability");
    const tableRegister = this.buses.configRead(this.slot, this.msixCapability + 4, 4);
    const table = this.barAddress(tableRegister & 7) + ((tableRegister & ~7) >>> 0);
    const at = table + 16 * entry;
    this.buses.writeMmio(at, 4, address);
    this.buses.writeMmio(at + 4, 4, 0);
    this.buses.writeMmio(at + 8, 4, data);
    this.buses.writeMmio(at + 12, 4, 0);
    const control = this.buses.configRead(this.slot, this.msixCapability + 2, 2);
    this.buses.configWrite(this.slot, this.msixCapability + 2, 2, (control | 0x8000) & ~0x4000);
  }

  private structure(type: number): number {
    const address = this.structures.get(type);
    if (address === undefined) throw new Error(`no virtio structure of type ${type}`);
    return address;
  }
}

function align(value: number, alignment: number): number {
  return Math.ceil(value / alignment) * alignment;
}

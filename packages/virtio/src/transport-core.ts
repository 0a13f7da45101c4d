// What the virtio-mmio and virtio-pci transports share (spec 2.1, 2.2, 3.1): the device status and its rules,
// 64-bit feature negotiation through select registers, the per-queue registers, building a queue when the driver
// enables it, activating the device at DRIVER_OK, the config generation counter and the device's interrupts. A
// transport only decodes its registers into these calls and turns interrupts into its own signals.
import type { GuestMemory } from "@tsvmm/ept";
import { DeviceStatus, MAX_QUEUE_SIZE, VirtioFeature } from "./constants.js";
import { createVirtqueue, validateQueueLayout } from "./create-virtqueue.js";
import type { VirtioDevice, VirtioInterrupt } from "./device.js";
import { type FeatureWords, hasFeature } from "./features.js";
import type { Virtqueue, VirtqueueLayout } from "./virtqueue.js";

/** How a transport delivers the device's interrupts (mmio: InterruptStatus and a line; pci: ISR and INTx#, or MSI-X). */
export interface TransportInterrupts {
  /** Queue `queueIndex` has used buffers the driver wants to hear of. */
  usedBuffers(queueIndex: number): void;
  /** The device configuration changed, or the device needs a reset. */
  configChanged(): void;
  /** The device was reset: drop pending interrupts and return per-device interrupt registers to their reset values. */
  reset(): void;
}

export interface VirtioTransportCoreOptions {
  device: VirtioDevice;
  memory: GuestMemory;
  interrupts: TransportInterrupts;
  /** Whether the device may touch guest memory now (pci: bus mastering is on). Default: always. */
  memoryAccessAllowed?: () => boolean;
  /** Told why the device set DEVICE_NEEDS_RESET or failed (for the VMM's log). */
  onError?: (reason: string) => void;
}

/** The three guest-physical areas of a queue, in register order. */
export const QueueArea = { Descriptor: 0, Driver: 1, Device: 2 } as const;
export type QueueArea = (typeof QueueArea)[keyof typeof QueueArea];

const TWO_32 = 2 ** 32;
/** Status bits the driver may set; DEVICE_NEEDS_RESET is the device's. */
const DRIVER_STATUS_BITS = 0xff & ~DeviceStatus.DeviceNeedsReset;

/** One queue's registers and, once the driver enabled it, the queue built from them. */
class QueueRegisters {
  size: number;
  ready = false;
  /** Low and high words of the descriptor, driver and device area addresses. */
  readonly addressWords = new Uint32Array(6);
  virtqueue: Virtqueue | undefined = undefined;

  constructor(readonly maxSize: number) {
    this.size = maxSize;
  }

  layout(): VirtqueueLayout {
    const address = (area: QueueArea) =>
      this.addressWords[2 * area + 1] * TWO_32 + this.addressWords[2 * area];
    return {
      size: this.size,
      descriptorArea: address(QueueArea.Descriptor),
      driverArea: address(QueueArea.Driver),
      deviceArea: address(QueueArea.Device),
    };
  }

  reset(): void {
    this.size = this.maxSize;
    this.ready = false;
    this.addressWords.fill(0);
    this.virtqueue = undefined;
  }
}

/**
 * The transport-independent state of one virtio device. Rules it enforces, so that nothing a driver writes can
 * make the device misbehave:
 *
 * - status: writing 0 resets the device; other writes only add bits (a driver must not clear one), and never
 *   DEVICE_NEEDS_RESET. FEATURES_OK sticks only if the driver's features are a subset of the offered ones,
 *   include VIRTIO_F_VERSION_1 and the device accepts them; DRIVER_OK only after FEATURES_OK, and it activates the
 *   device. Driver features are frozen once FEATURES_OK is set;
 * - queues: their registers are frozen while the queue is enabled. Enabling one builds it with the negotiated
 *   features; a bad layout, or enabling it before FEATURES_OK or after DRIVER_OK, leaves it disabled and sets
 *   DEVICE_NEEDS_RESET, as does a queue that breaks later and any exception out of the device;
 * - notifications reach the device only while it is active, not marked as needing a reset, and allowed to
 *   access memory; used-buffer interrupts only while it is active. Interrupts from a previous activation (work
 *   that finished after a reset) are dropped;
 * - the config generation changes with every configuration change the device signals.
 */
export class VirtioTransportCore implements VirtioInterrupt {
  readonly device: VirtioDevice;
  private readonly memory: GuestMemory;
  private readonly interrupts: TransportInterrupts;
  private readonly memoryAccessAllowed: () => boolean;
  private readonly onError: ((reason: string) => void) | undefined;
  private readonly queues: QueueRegisters[];
  private statusBits = 0;
  private deviceFeatureWordSelect = 0;
  private driverFeatureWordSelect = 0;
  private readonly driverFeatures: [number, number] = [0, 0];
  private selectedQueue = 0;
  private generation = 0;
  /** Counts resets: queues and activations remember the one they were made in, so stale callbacks are dropped. */
  private epoch = 0;
  private live = false;

  constructor(options: VirtioTransportCoreOptions) {
    const { device } = options;
    checkDevice(device);
    this.device = device;
    this.memory = options.memory;
    this.interrupts = options.interrupts;
    this.memoryAccessAllowed = options.memoryAccessAllowed ?? (() => true);
    this.onError = options.onError;
    this.queues = device.queueMaxSizes.map((max) => new QueueRegisters(max));
  }

  /** The device status byte. */
  get status(): number {
    return this.statusBits;
  }

  /** Whether the device was activated (DRIVER_OK) and not reset since. */
  get active(): boolean {
    return this.live;
  }

  /** Changes with every configuration change the device signals (32 bits; virtio-pci shows the low 8). */
  get configGeneration(): number {
    return this.generation;
  }

  get queueCount(): number {
    return this.queues.length;
  }

  /** The driver's feature bits as written so far (the negotiated ones once FEATURES_OK is set). */
  get driverFeatureWords(): FeatureWords {
    return [this.driverFeatures[0], this.driverFeatures[1]];
  }

  // --- Device status

  /** A driver write of the status register. */
  writeStatus(value: number): void {
    value &= 0xff;
    if (value === 0) {
      this.reset();
      return;
    }
    const current = this.statusBits;
    let added = value & DRIVER_STATUS_BITS & ~current;
    if ((added & DeviceStatus.FeaturesOk) !== 0 && !this.acceptFeatures()) added &= ~DeviceStatus.FeaturesOk;
    if ((added & DeviceStatus.DriverOk) !== 0 && ((current | added) & DeviceStatus.FeaturesOk) === 0) {
      added &= ~DeviceStatus.DriverOk;
    }
    this.statusBits = current | added;
    if ((added & DeviceStatus.DriverOk) !== 0) this.activate();
  }

  /** Device reset (status 0, or the machine's reset): the device stops and every register returns to reset. */
  reset(): void {
    this.epoch++;
    this.live = false;
    try {
      this.device.reset();
    } catch (error) {
      this.onError?.(`device error on reset: ${describe(error)}`);
    }
    this.statusBits = 0;
    this.deviceFeatureWordSelect = 0;
    this.driverFeatureWordSelect = 0;
    this.driverFeatures[0] = 0;
    this.driverFeatures[1] = 0;
    this.selectedQueue = 0;
    for (const queue of this.queues) queue.reset();
    this.interrupts.reset();
  }

  // --- Features

  get deviceFeatureSelect(): number {
    return this.deviceFeatureWordSelect;
  }

  selectDeviceFeatures(word: number): void {
    this.deviceFeatureWordSelect = word >>> 0;
  }

  /** The offered feature bits 32 * select to 32 * select + 31 (0 past bit 63). */
  deviceFeatureWord(): number {
    const select = this.deviceFeatureWordSelect;
    return select < 2 ? this.device.features[select] >>> 0 : 0;
  }

  get driverFeatureSelect(): number {
    return this.driverFeatureWordSelect;
  }

  selectDriverFeatures(word: number): void {
    this.driverFeatureWordSelect = word >>> 0;
  }

  driverFeatureWord(): number {
    const select = this.driverFeatureWordSelect;
    return select < 2 ? this.driverFeatures[select] : 0;
  }

  /** Ignored past bit 63 and once FEATURES_OK is set (the negotiation is closed). */
  writeDriverFeatureWord(value: number): void {
    const select = this.driverFeatureWordSelect;
    if (select >= 2 || (this.statusBits & DeviceStatus.FeaturesOk) !== 0) return;
    this.driverFeatures[select] = value >>> 0;
  }

  // --- Queues (the selected one)

  get queueSelect(): number {
    return this.selectedQueue;
  }

  selectQueue(index: number): void {
    this.selectedQueue = index >>> 0;
  }

  /** The selected queue's largest size, 0 if it does not exist. */
  queueMaxSize(): number {
    return this.selected()?.maxSize ?? 0;
  }

  /** The selected queue's size (its maximum after reset), 0 if it does not exist. */
  queueSize(): number {
    return this.selected()?.size ?? 0;
  }

  /** Takes any value; enabling the queue checks it. Ignored while the queue is enabled. */
  setQueueSize(size: number): void {
    const queue = this.selected();
    if (queue !== undefined && !queue.ready) queue.size = size >>> 0;
  }

  queueReady(): boolean {
    return this.selected()?.ready ?? false;
  }

  /** Half (`high` or low) of one area address of the selected queue. */
  queueAddressWord(area: QueueArea, high: boolean): number {
    return this.selected()?.addressWords[2 * area + (high ? 1 : 0)] ?? 0;
  }

  /** Ignored while the queue is enabled. */
  setQueueAddressWord(area: QueueArea, high: boolean, value: number): void {
    const queue = this.selected();
    if (queue !== undefined && !queue.ready) queue.addressWords[2 * area + (high ? 1 : 0)] = value >>> 0;
  }

  /**
   * The driver enables the selected queue: it is built from its registers and the negotiated features. A queue
   * that cannot be built stays disabled and the device needs a reset.
   */
  enableQueue(): void {
    const queue = this.selected();
    if (queue === undefined || queue.ready) return;
    const index = this.selectedQueue;
    const built = this.buildQueue(index, queue);
    if (typeof built === "string") {
      this.markNeedsReset(`queue ${index}: ${built}`);
      return;
    }
    queue.virtqueue = built;
    queue.ready = true;
  }

  /**
   * virtio-mmio's QueueReady = 0: the queue reads back as disabled and its notifications are ignored. (A driver
   * resets the device before it stops using a queue; a device that is active keeps the queue it was given.)
   */
  disableQueue(): void {
    const queue = this.selected();
    if (queue === undefined) return;
    queue.ready = false;
    queue.virtqueue = undefined;
  }

  /** The driver notified queue `queueIndex` (available buffers). */
  notify(queueIndex: number): void {
    if (!this.live || (this.statusBits & DeviceStatus.DeviceNeedsReset) !== 0) return;
    if (!this.memoryAccessAllowed()) return;
    const queue = this.queues[queueIndex];
    if (queue === undefined || !queue.ready) return;
    try {
      this.device.queueNotify(queueIndex);
    } catch (error) {
      this.deviceError(error);
    }
  }

  // --- Device configuration

  /** Reads the device configuration; an access reaching past its end reads 0. */
  readConfig(offset: number, data: Uint8Array): void {
    data.fill(0);
    if (!this.inConfig(offset, data.length)) return;
    try {
      this.device.readConfig(offset, data);
    } catch (error) {
      data.fill(0);
      this.deviceError(error);
    }
  }

  /** Writes the device configuration; an access reaching past its end is ignored. */
  writeConfig(offset: number, data: Uint8Array): void {
    if (!this.inConfig(offset, data.length)) return;
    try {
      this.device.writeConfig(offset, data);
    } catch (error) {
      this.deviceError(error);
    }
  }

  // --- VirtioInterrupt (for the device)

  signalUsedBuffers(queueIndex: number): void {
    if (!this.live || this.queues[queueIndex]?.ready !== true) return;
    this.interrupts.usedBuffers(queueIndex);
  }

  signalConfigChange(): void {
    this.generation = (this.generation + 1) >>> 0;
    if ((this.statusBits & DeviceStatus.DriverOk) !== 0) this.interrupts.configChanged();
  }

  signalNeedsReset(reason: string): void {
    this.markNeedsReset(reason);
  }

  // --- Internals

  private selected(): QueueRegisters | undefined {
    return this.queues[this.selectedQueue];
  }

  private inConfig(offset: number, length: number): boolean {
    return Number.isInteger(offset) && offset >= 0 && offset + length <= this.device.configSize;
  }

  /** FEATURES_OK: the driver's features are a subset of the offered ones, modern, and the device agrees. */
  private acceptFeatures(): boolean {
    const offered = this.device.features;
    const wanted = this.driverFeatures;
    if ((wanted[0] & ~offered[0]) !== 0 || (wanted[1] & ~offered[1]) !== 0) return false;
    if (!hasFeature(wanted, VirtioFeature.Version1)) return false;
    try {
      return this.device.ackFeatures?.([wanted[0], wanted[1]]) !== false;
    } catch (error) {
      this.deviceError(error);
      return false;
    }
  }

  /** The queue, or why it cannot be built. */
  private buildQueue(index: number, queue: QueueRegisters): Virtqueue | string {
    const status = this.statusBits;
    if ((status & DeviceStatus.FeaturesOk) === 0) return "enabled before FEATURES_OK";
    if ((status & DeviceStatus.DriverOk) !== 0) return "enabled after DRIVER_OK";
    const layout = queue.layout();
    const features = this.driverFeatureWords;
    const error = validateQueueLayout(layout, queue.maxSize, hasFeature(features, VirtioFeature.RingPacked));
    if (error !== undefined) return error;
    const epoch = this.epoch;
    const virtqueue = createVirtqueue({
      memory: this.memory,
      index,
      layout,
      features,
      onBroken: (reason) => {
        if (epoch === this.epoch) this.markNeedsReset(`queue ${index} broke: ${reason}`);
      },
    });
    // Rings outside guest RAM give a queue that is broken from the start.
    return virtqueue.broken ?? virtqueue;
  }

  private activate(): void {
    if ((this.statusBits & DeviceStatus.DeviceNeedsReset) !== 0) {
      // A queue was refused before DRIVER_OK: now that the driver listens, tell it.
      this.interrupts.configChanged();
      return;
    }
    if (!this.memoryAccessAllowed()) {
      this.markNeedsReset("DRIVER_OK while the device may not access memory (bus mastering is off)");
      return;
    }
    this.live = true;
    try {
      this.device.activate({
        memory: this.memory,
        features: this.driverFeatureWords,
        queues: this.queues.map((queue) => (queue.ready ? queue.virtqueue : undefined)),
        interrupt: this.interruptFor(this.epoch),
      });
    } catch (error) {
      this.deviceError(error);
    }
  }

  /** The device's interrupt interface for one activation: it goes quiet once the device is reset. */
  private interruptFor(epoch: number): VirtioInterrupt {
    return {
      signalUsedBuffers: (queueIndex) => {
        if (epoch === this.epoch) this.signalUsedBuffers(queueIndex);
      },
      signalConfigChange: () => {
        if (epoch === this.epoch) this.signalConfigChange();
      },
      signalNeedsReset: (reason) => {
        if (epoch === this.epoch) this.markNeedsReset(reason);
      },
    };
  }

  private deviceError(error: unknown): void {
    this.markNeedsReset(`device error: ${describe(error)}`);
  }

  /** Sets DEVICE_NEEDS_RESET (once) and, if the driver set DRIVER_OK, raises a configuration change interrupt. */
  private markNeedsReset(reason: string): void {
    if (this.statusBits === 0 || (this.statusBits & DeviceStatus.DeviceNeedsReset) !== 0) return;
    this.statusBits |= DeviceStatus.DeviceNeedsReset;
    this.onError?.(reason);
    if ((this.statusBits & DeviceStatus.DriverOk) !== 0) this.interrupts.configChanged();
  }
}

/** A device definition the transports cannot serve is a wiring error. */
function checkDevice(device: VirtioDevice): void {
  if (!Number.isInteger(device.deviceType) || device.deviceType < 1 || device.deviceType > 0xffff) {
    throw new RangeError(`bad virtio device type ${device.deviceType}`);
  }
  for (const max of device.queueMaxSizes) {
    if (!Number.isInteger(max) || max < 1 || max > MAX_QUEUE_SIZE) {
      throw new RangeError(`bad queue size ${max}: it must be 1 to ${MAX_QUEUE_SIZE}`);
    }
  }
  if (!Number.isInteger(device.configSize) || device.configSize < 0) {
    throw new RangeError(`bad configuration size ${device.configSize}`);
  }
}

function describe(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

// The device side of virtio: what a device model implements, and what the transport hands it. A device knows only
// GuestMemory and an interrupt interface, so it runs behind virtio-mmio, virtio-pci or a test harness, in Node or a
// browser.
import type { GuestMemory } from "@tsvmm/ept";
import type { FeatureWords } from "./features.js";
import type { Virtqueue } from "./virtqueue.js";

/** How a device raises interrupts; the transport maps these to its ISR status, INTx# or MSI-X vectors. */
export interface VirtioInterrupt {
  /** Used buffers were added to queue `queueIndex` (call after Virtqueue.needsInterrupt() said so). */
  signalUsedBuffers(queueIndex: number): void;
  /** The device configuration space changed. */
  signalConfigChange(): void;
  /** The device hit an error it cannot recover from: sets DEVICE_NEEDS_RESET and signals a config change. */
  signalNeedsReset(reason: string): void;
}

/** What a device gets when the driver sets DRIVER_OK. */
export interface VirtioDeviceContext {
  readonly memory: GuestMemory;
  /** The features both sides agreed on. */
  readonly features: FeatureWords;
  /** One entry per queue the device declared: the queue, or undefined if the driver did not enable it. */
  readonly queues: readonly (Virtqueue | undefined)[];
  readonly interrupt: VirtioInterrupt;
}

/**
 * A virtio device model (virtio-blk, virtio-net, ...). The transport calls these in the order the spec's driver
 * initialisation implies: features (ackFeatures) -> activate at DRIVER_OK -> queueNotify for each kick -> reset.
 * Work a device finishes asynchronously (a file read) after reset() or a new activate() must be dropped, not
 * completed into the new queues.
 */
export interface VirtioDevice {
  /** The virtio device ID (VirtioDeviceId). */
  readonly deviceType: number;
  /** The largest size of each queue; the number of entries is the number of queues. */
  readonly queueMaxSizes: readonly number[];
  /** The features the device offers, VIRTIO_F_VERSION_1 and the ring features included. */
  readonly features: FeatureWords;
  /** Size in bytes of the device-specific configuration space. */
  readonly configSize: number;
  /** Reads the device configuration (offset + data.length <= configSize; the transport checks). */
  readConfig(offset: number, data: Uint8Array): void;
  /** A driver write to the device configuration (writable fields only; others are ignored). */
  writeConfig(offset: number, data: Uint8Array): void;
  /** The driver set FEATURES_OK with `features` (a subset of the offered ones); false rejects the combination. */
  ackFeatures?(features: FeatureWords): boolean;
  /** The driver set DRIVER_OK: start serving the queues. */
  activate(context: VirtioDeviceContext): void;
  /** The driver notified queue `queueIndex` (available buffers). */
  queueNotify(queueIndex: number): void;
  /** The driver reset the device (status 0) or the machine reset: stop using the queues and memory. */
  reset(): void;
}

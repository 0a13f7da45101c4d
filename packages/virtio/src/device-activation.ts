// One activation of a device: what the transport handed it at DRIVER_OK, until reset or the next activation.
// Asynchronous work captures the activation it started under and completes through it, so a completion that
// arrives after a reset (or after the driver re-initialised the device) is dropped instead of landing in queues
// the driver has since replaced.
import { GuestMemoryError } from "@tsvmm/ept";
import type { VirtioDeviceContext } from "./device.js";
import { type FeatureWords, hasFeature } from "./features.js";
import type { DescriptorChain, Virtqueue } from "./virtqueue.js";

export class DeviceActivation {
  private live = true;

  constructor(private readonly context: VirtioDeviceContext) {}

  /** False once the device was reset or activated again: results of work started under it are dropped. */
  get active(): boolean {
    return this.live;
  }

  get features(): FeatureWords {
    return this.context.features;
  }

  hasFeature(bit: number): boolean {
    return hasFeature(this.context.features, bit);
  }

  /** The queue, if the driver enabled it and this activation is still live. */
  queue(index: number): Virtqueue | undefined {
    return this.live ? this.context.queues[index] : undefined;
  }

  /**
   * Returns `chain` to the driver with `writtenLength` bytes written and raises the queue's interrupt if the driver
   * wants one. Does nothing once the activation ended.
   */
  complete(queue: Virtqueue, chain: DescriptorChain, writtenLength: number): void {
    if (!this.live) return;
    queue.pushUsed(chain, writtenLength);
    this.notifyIfNeeded(queue);
  }

  /** Returns a chain without raising the interrupt; call notifyIfNeeded() after a batch. */
  completeQuietly(queue: Virtqueue, chain: DescriptorChain, writtenLength: number): void {
    if (this.live) queue.pushUsed(chain, writtenLength);
  }

  notifyIfNeeded(queue: Virtqueue): void {
    if (this.live && queue.needsInterrupt()) this.context.interrupt.signalUsedBuffers(queue.index);
  }

  signalConfigChange(): void {
    if (this.live) this.context.interrupt.signalConfigChange();
  }

  end(): void {
    this.live = false;
  }
}

/**
 * Runs a guest-memory access through a chain; a GuestMemoryError (a buffer the queue accepted but that is not RAM
 * any more, e.g. after a memory slot was removed) becomes `undefined` instead of an exception out of the device.
 */
export function guestAccess<T>(access: () => T): T | undefined {
  try {
    return access();
  } catch (e) {
    if (e instanceof GuestMemoryError) return undefined;
    throw e;
  }
}

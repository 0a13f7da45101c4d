// A small virtio device for transport tests: every queue echoes, copying each chain's device-readable bytes into
// its device-writable part. It records what the transport did to it, can complete asynchronously (to test resets
// mid-flight), and has an 8-byte configuration space: a read-only word the test changes, and a writable one.

import { VirtioFeature } from "./constants.js";
import type { VirtioDevice, VirtioDeviceContext } from "./device.js";
import { type FeatureWords, featureWords } from "./features.js";
import type { DescriptorChain, Virtqueue } from "./virtqueue.js";

/** Not a real virtio device ID; the transports take any. */
export const ECHO_DEVICE_TYPE = 0x3f;
/** A device-specific feature bit the echo device offers (it means nothing). */
export const ECHO_FEATURE = 0;
/** Configuration: a read-only 32-bit value (setConfigValue), then a 32-bit value the driver may write. */
export const ECHO_CONFIG_SIZE = 8;

export interface EchoDeviceOptions {
  /** Maximum size of each queue (default [16, 16]). */
  queueMaxSizes?: number[];
  /** Offered features (default: VERSION_1, RING_PACKED, EVENT_IDX, INDIRECT_DESC and ECHO_FEATURE). */
  features?: FeatureWords;
  /** Hold completions until completePending() (default false: complete during queueNotify). */
  asynchronous?: boolean;
  /** ackFeatures answers this (default: accept). */
  acceptFeatures?: (features: FeatureWords) => boolean;
  /** Throw from queueNotify (a device bug the transport must contain). */
  throwOnNotify?: boolean;
}

interface PendingCompletion {
  context: VirtioDeviceContext;
  queue: Virtqueue;
  chain: DescriptorChain;
  written: number;
}

export class EchoDevice implements VirtioDevice {
  readonly deviceType = ECHO_DEVICE_TYPE;
  readonly queueMaxSizes: readonly number[];
  readonly features: FeatureWords;
  readonly configSize = ECHO_CONFIG_SIZE;
  /** Every context the device was activated with, in order. */
  readonly activations: VirtioDeviceContext[] = [];
  readonly notifies: number[] = [];
  readonly ackedFeatures: FeatureWords[] = [];
  resets = 0;
  /** The configuration bytes. */
  readonly config = new Uint8Array(ECHO_CONFIG_SIZE);
  throwOnNotify: boolean;
  private readonly asynchronous: boolean;
  private readonly acceptFeatures: (features: FeatureWords) => boolean;
  private context: VirtioDeviceContext | undefined;
  private pending: PendingCompletion[] = [];

  constructor(options: EchoDeviceOptions = {}) {
    this.queueMaxSizes = options.queueMaxSizes ?? [16, 16];
    this.features =
      options.features ??
      featureWords(
        VirtioFeature.Version1,
        VirtioFeature.RingPacked,
        VirtioFeature.RingEventIdx,
        VirtioFeature.RingIndirectDesc,
        ECHO_FEATURE,
      );
    this.asynchronous = options.asynchronous ?? false;
    this.acceptFeatures = options.acceptFeatures ?? (() => true);
    this.throwOnNotify = options.throwOnNotify ?? false;
  }

  /** The context of the current activation (undefined before DRIVER_OK and after reset). */
  get activeContext(): VirtioDeviceContext | undefined {
    return this.context;
  }

  readConfig(offset: number, data: Uint8Array): void {
    data.set(this.config.subarray(offset, offset + data.length));
  }

  writeConfig(offset: number, data: Uint8Array): void {
    for (let i = 0; i < data.length; i++) if (offset + i >= 4) this.config[offset + i] = data[i];
  }

  ackFeatures(features: FeatureWords): boolean {
    this.ackedFeatures.push(features);
    return this.acceptFeatures(features);
  }

  activate(context: VirtioDeviceContext): void {
    this.context = context;
    this.activations.push(context);
  }

  queueNotify(queueIndex: number): void {
    this.notifies.push(queueIndex);
    if (this.throwOnNotify) throw new Error("echo device bug");
    const context = this.context;
    const queue = context?.queues[queueIndex];
    if (context === undefined || queue === undefined) return;
    for (let chain = queue.pop(); chain !== null; chain = queue.pop()) {
      const written = chain.error === undefined ? echo(chain) : 0;
      if (this.asynchronous) this.pending.push({ context, queue, chain, written });
      else queue.pushUsed(chain, written);
    }
    if (!this.asynchronous && queue.needsInterrupt()) context.interrupt.signalUsedBuffers(queueIndex);
  }

  /**
   * Completes the held chains through the context each started under, as a device that ignores resets would
   * (a well-behaved device drops them on reset): the transport must not let them raise interrupts.
   */
  completePending(): void {
    const pending = this.pending;
    this.pending = [];
    for (const { context, queue, chain, written } of pending) {
      queue.pushUsed(chain, written);
      if (queue.needsInterrupt()) context.interrupt.signalUsedBuffers(queue.index);
    }
  }

  get pendingCount(): number {
    return this.pending.length;
  }

  reset(): void {
    this.resets++;
    this.context = undefined;
  }

  /** Changes the read-only configuration word and tells the driver. */
  setConfigValue(value: number): void {
    new DataView(this.config.buffer).setUint32(0, value, true);
    this.context?.interrupt.signalConfigChange();
  }
}

function echo(chain: DescriptorChain): number {
  const bytes = new Uint8Array(Math.min(chain.readableLength, chain.writableLength));
  chain.read(0, bytes);
  return chain.write(0, bytes);
}

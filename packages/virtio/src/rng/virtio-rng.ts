// virtio-rng (virtio 1.2 section 5.4): one request queue whose device-writable buffers the device fills with
// random bytes from an EntropySource, asynchronously.
import { VirtioDeviceId, VirtioFeature } from "../constants.js";
import type { VirtioDevice, VirtioDeviceContext } from "../device.js";
import { DeviceActivation, guestAccess } from "../device-activation.js";
import { type FeatureWords, featureWords, hasFeature } from "../features.js";
import type { DescriptorChain, Virtqueue } from "../virtqueue.js";
import { CryptoEntropySource, type EntropySource } from "./entropy-source.js";

/** At most this many bytes per request: the device may return fewer than the buffer holds (spec 5.4.6.1). */
const MAX_BYTES_PER_REQUEST = 65536;
const DEFAULT_QUEUE_SIZE = 64;

export interface VirtioRngOptions {
  /** Default: CryptoEntropySource (globalThis.crypto). */
  source?: EntropySource;
  /** Maximum size of the queue (default 64). */
  queueSize?: number;
}

export class VirtioRng implements VirtioDevice {
  readonly deviceType = VirtioDeviceId.Entropy;
  readonly queueMaxSizes: readonly number[];
  readonly features = featureWords(
    VirtioFeature.Version1,
    VirtioFeature.RingIndirectDesc,
    VirtioFeature.RingEventIdx,
    VirtioFeature.RingPacked,
  );
  readonly configSize = 0;

  private readonly source: EntropySource;
  private activation: DeviceActivation | undefined;

  constructor(options: VirtioRngOptions = {}) {
    this.source = options.source ?? new CryptoEntropySource();
    this.queueMaxSizes = [options.queueSize ?? DEFAULT_QUEUE_SIZE];
  }

  readConfig(_offset: number, _data: Uint8Array): void {}

  writeConfig(_offset: number, _data: Uint8Array): void {}

  ackFeatures(features: FeatureWords): boolean {
    return hasFeature(features, VirtioFeature.Version1);
  }

  activate(context: VirtioDeviceContext): void {
    this.activation?.end();
    this.activation = new DeviceActivation(context);
  }

  reset(): void {
    this.activation?.end();
    this.activation = undefined;
  }

  queueNotify(queueIndex: number): void {
    const activation = this.activation;
    const queue = activation?.queue(queueIndex);
    if (!activation || !queue || queueIndex !== 0) return;
    for (let chain = queue.pop(); chain !== null; chain = queue.pop())
      void this.serve(activation, queue, chain);
  }

  private async serve(activation: DeviceActivation, queue: Virtqueue, chain: DescriptorChain): Promise<void> {
    const length = chain.error === undefined ? Math.min(chain.writableLength, MAX_BYTES_PER_REQUEST) : 0;
    let written = 0;
    if (length > 0) {
      const bytes = new Uint8Array(length);
      try {
        await this.source.fill(bytes);
        // After a reset the buffer is no longer the device's to write.
        if (!activation.active) return;
        written = guestAccess(() => chain.write(0, bytes)) ?? 0;
      } catch {
        // A failed source returns the buffer empty; the driver asks again.
        written = 0;
      }
    }
    activation.complete(queue, chain, written);
  }
}

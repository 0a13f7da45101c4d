// virtio-console (virtio 1.2 section 5.3) with a single port: queue 0 (receiveq) carries host input to the guest,
// queue 1 (transmitq) guest output to the host. No MULTIPORT, no SIZE; VIRTIO_CONSOLE_F_EMERG_WRITE lets the guest
// write one byte through the configuration space before (or without) the queues.
import { VirtioDeviceId, VirtioFeature } from "../constants.js";
import type { VirtioDevice, VirtioDeviceContext } from "../device.js";
import { DeviceActivation, guestAccess } from "../device-activation.js";
import { type FeatureWords, featureWords, hasFeature } from "../features.js";
import type { CharBackend } from "./char-backend.js";

/** virtio-console feature bits (spec 5.3.3). */
export const ConsoleFeature = {
  Size: 0,
  Multiport: 1,
  EmergencyWrite: 2,
} as const;

/** cols (le16), rows (le16), max_nr_ports (le32), emerg_wr (le32). */
export const CONSOLE_CONFIG_SIZE = 12;
const EMERGENCY_WRITE_OFFSET = 8;

const RECEIVE_QUEUE = 0;
const TRANSMIT_QUEUE = 1;
const DEFAULT_QUEUE_SIZE = 128;
/** Host input kept while the guest has no receive buffer posted; more is dropped (a UART's FIFO overruns too). */
const DEFAULT_INPUT_LIMIT = 64 * 1024;
/** Guest output moves to the backend in pieces of at most this size. */
const OUTPUT_CHUNK = 64 * 1024;

export interface VirtioConsoleOptions {
  backend: CharBackend;
  /** Bytes of host input kept while the guest is not reading (default 64 KiB). */
  inputLimit?: number;
  /** Maximum size of each queue (default 128). */
  queueSize?: number;
}

export class VirtioConsole implements VirtioDevice {
  readonly deviceType = VirtioDeviceId.Console;
  readonly queueMaxSizes: readonly number[];
  readonly features: FeatureWords;
  readonly configSize = CONSOLE_CONFIG_SIZE;
  /** Host input bytes dropped because the guest did not read them in time. */
  inputDropped = 0;

  private readonly backend: CharBackend;
  private readonly inputLimit: number;
  private readonly config = new Uint8Array(CONSOLE_CONFIG_SIZE);
  private activation: DeviceActivation | undefined;
  /** Host input not yet given to the guest, oldest first; kept across resets, like bytes in a host pipe. */
  private pendingInput: Uint8Array[] = [];
  private pendingBytes = 0;

  constructor(options: VirtioConsoleOptions) {
    this.backend = options.backend;
    this.inputLimit = options.inputLimit ?? DEFAULT_INPUT_LIMIT;
    const queueSize = options.queueSize ?? DEFAULT_QUEUE_SIZE;
    this.queueMaxSizes = [queueSize, queueSize];
    this.features = featureWords(
      VirtioFeature.Version1,
      VirtioFeature.RingIndirectDesc,
      VirtioFeature.RingEventIdx,
      VirtioFeature.RingPacked,
      ConsoleFeature.EmergencyWrite,
    );
    // max_nr_ports is only meaningful with MULTIPORT; 1 is the truth either way.
    new DataView(this.config.buffer).setUint32(4, 1, true);
    this.backend.onData((bytes) => this.input(bytes));
  }

  readConfig(offset: number, data: Uint8Array): void {
    data.set(this.config.subarray(offset, offset + data.length));
  }

  /** A write to emerg_wr sends its low byte to the host; everything else is read-only. */
  writeConfig(offset: number, data: Uint8Array): void {
    if (offset === EMERGENCY_WRITE_OFFSET && data.length > 0) this.backend.write(data.slice(0, 1));
  }

  ackFeatures(features: FeatureWords): boolean {
    return hasFeature(features, VirtioFeature.Version1);
  }

  activate(context: VirtioDeviceContext): void {
    this.activation?.end();
    this.activation = new DeviceActivation(context);
    this.deliverInput();
  }

  reset(): void {
    this.activation?.end();
    this.activation = undefined;
  }

  queueNotify(queueIndex: number): void {
    if (queueIndex === TRANSMIT_QUEUE) this.transmit();
    else if (queueIndex === RECEIVE_QUEUE) this.deliverInput();
  }

  private input(bytes: Uint8Array): void {
    const room = this.inputLimit - this.pendingBytes;
    const kept = bytes.subarray(0, Math.max(0, room));
    this.inputDropped += bytes.length - kept.length;
    if (kept.length > 0) {
      this.pendingInput.push(kept.slice());
      this.pendingBytes += kept.length;
    }
    this.deliverInput();
  }

  /** Fills posted receive buffers with pending input, as much per buffer as fits. */
  private deliverInput(): void {
    const activation = this.activation;
    const queue = activation?.queue(RECEIVE_QUEUE);
    if (!activation || !queue) return;
    let returned = false;
    while (this.pendingBytes > 0) {
      const chain = queue.pop();
      if (chain === null) break;
      returned = true;
      if (chain.error !== undefined || chain.writableLength === 0) {
        activation.completeQuietly(queue, chain, 0);
        continue;
      }
      const take = this.takeInput(chain.writableLength);
      const written = guestAccess(() => chain.write(0, take)) ?? 0;
      // Bytes the guest's buffer could not take (it left RAM) are lost, as they would be on a line.
      this.inputDropped += take.length - written;
      activation.completeQuietly(queue, chain, written);
    }
    if (returned) activation.notifyIfNeeded(queue);
  }

  private takeInput(max: number): Uint8Array {
    const out = new Uint8Array(Math.min(max, this.pendingBytes));
    let at = 0;
    while (at < out.length) {
      const head = this.pendingInput[0];
      const n = Math.min(head.length, out.length - at);
      out.set(head.subarray(0, n), at);
      at += n;
      if (n === head.length) this.pendingInput.shift();
      else this.pendingInput[0] = head.subarray(n);
    }
    this.pendingBytes -= out.length;
    return out;
  }

  private transmit(): void {
    const activation = this.activation;
    const queue = activation?.queue(TRANSMIT_QUEUE);
    if (!activation || !queue) return;
    let returned = false;
    for (let chain = queue.pop(); chain !== null; chain = queue.pop()) {
      returned = true;
      const length = chain.error === undefined ? chain.readableLength : 0;
      for (let done = 0; done < length; done += OUTPUT_CHUNK) {
        const piece = new Uint8Array(Math.min(OUTPUT_CHUNK, length - done));
        const read = guestAccess(() => chain.read(done, piece)) ?? 0;
        if (read > 0) this.backend.write(piece.subarray(0, read));
        if (read < piece.length) break;
      }
      activation.completeQuietly(queue, chain, 0);
    }
    if (returned) activation.notifyIfNeeded(queue);
  }
}

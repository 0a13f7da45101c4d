// virtio-net (virtio 1.2 section 5.1) without offloads: queue 0 receives, queue 1 transmits, every buffer starts
// with the 12-byte virtio_net_hdr of VIRTIO_F_VERSION_1, and each frame takes one whole rx chain (no MRG_RXBUF).
// Frames the guest sends are handed to a NetBackend; frames from the backend wait in a short backlog until the
// driver posts rx buffers.
import { VirtioDeviceId, VirtioFeature } from "../constants.js";
import type { VirtioDevice, VirtioDeviceContext } from "../device.js";
import { DeviceActivation, guestAccess } from "../device-activation.js";
import { type FeatureWords, featureWords, hasFeature } from "../features.js";
import type { DescriptorChain } from "../virtqueue.js";
import type { NetBackend } from "./net-backend.js";

/** virtio-net feature bits (spec 5.1.3), those this device knows of. */
export const NetFeature = {
  Csum: 0,
  GuestCsum: 1,
  Mtu: 3,
  Mac: 5,
  MergeRxBuffers: 15,
  Status: 16,
  ControlQueue: 17,
} as const;

/** Bits of the configuration's status field. */
export const NetStatus = {
  LinkUp: 1,
  Announce: 2,
} as const;

/** struct virtio_net_hdr with VIRTIO_F_VERSION_1: flags, gso_type, hdr_len, gso_size, csum_start, csum_offset,
 * num_buffers. */
export const NET_HEADER_SIZE = 12;
/** mac[6] and status (le16). */
export const NET_CONFIG_SIZE = 8;
/** An Ethernet header: anything shorter is not a frame. */
export const ETHERNET_HEADER_SIZE = 14;
/** The largest frame either way: a 64 KiB IP packet with an Ethernet and a VLAN header. */
export const MAX_FRAME_SIZE = 65535 + ETHERNET_HEADER_SIZE + 4;
/** QEMU's default MAC for the first NIC. */
export const DEFAULT_MAC = "52:54:00:12:34:56";

const RX_QUEUE = 0;
const TX_QUEUE = 1;
const DEFAULT_QUEUE_SIZE = 256;
const DEFAULT_RX_BACKLOG = 256;

export interface VirtioNetOptions {
  backend: NetBackend;
  /** "52:54:00:12:34:56" or 6 bytes (default DEFAULT_MAC). */
  mac?: string | Uint8Array;
  /** Frames kept while the driver has no rx buffer posted; more are dropped (default 256). */
  rxBacklog?: number;
  /** Maximum size of each queue (default 256). */
  queueSize?: number;
}

/** Counters, as a NIC keeps them: what went through and what was dropped on each side. */
export interface NetCounters {
  txFrames: number;
  txDropped: number;
  rxFrames: number;
  rxDropped: number;
}

/** Parses "aa:bb:cc:dd:ee:ff" (or "-" separated) into 6 bytes. */
export function parseMac(text: string): Uint8Array {
  const parts = text.split(/[:-]/);
  if (parts.length !== 6 || parts.some((p) => !/^[0-9a-fA-F]{2}$/.test(p))) {
    throw new RangeError(`bad MAC address '${text}'`);
  }
  return Uint8Array.from(parts.map((p) => Number.parseInt(p, 16)));
}

export class VirtioNet implements VirtioDevice {
  readonly deviceType = VirtioDeviceId.Network;
  readonly queueMaxSizes: readonly number[];
  readonly features: FeatureWords;
  readonly configSize = NET_CONFIG_SIZE;
  readonly mac: Uint8Array;
  readonly counters: NetCounters = { txFrames: 0, txDropped: 0, rxFrames: 0, rxDropped: 0 };

  private readonly backend: NetBackend;
  private readonly rxBacklogLimit: number;
  private readonly config = new Uint8Array(NET_CONFIG_SIZE);
  private activation: DeviceActivation | undefined;
  /** Frames from the backend waiting for rx buffers, oldest first. */
  private backlog: Uint8Array[] = [];
  /** An rx chain popped for a frame that did not fit: kept for the next frame rather than wasted. */
  private heldRxChain: DescriptorChain | undefined;

  constructor(options: VirtioNetOptions) {
    this.backend = options.backend;
    const mac = options.mac ?? DEFAULT_MAC;
    this.mac = typeof mac === "string" ? parseMac(mac) : Uint8Array.from(mac);
    if (this.mac.length !== 6) throw new RangeError("a MAC address has 6 bytes");
    this.rxBacklogLimit = options.rxBacklog ?? DEFAULT_RX_BACKLOG;
    const queueSize = options.queueSize ?? DEFAULT_QUEUE_SIZE;
    this.queueMaxSizes = [queueSize, queueSize];
    this.features = featureWords(
      VirtioFeature.Version1,
      VirtioFeature.RingIndirectDesc,
      VirtioFeature.RingEventIdx,
      VirtioFeature.RingPacked,
      NetFeature.Mac,
      NetFeature.Status,
    );
    this.config.set(this.mac, 0);
    this.config[6] = NetStatus.LinkUp;
    this.backend.setReceiver((frame) => this.receive(frame));
  }

  get linkUp(): boolean {
    return (this.config[6] & NetStatus.LinkUp) !== 0;
  }

  /** Changes the link status the driver sees (VIRTIO_NET_S_LINK_UP) and tells it. */
  setLinkUp(up: boolean): void {
    const status = up ? NetStatus.LinkUp : 0;
    if (this.config[6] === status) return;
    this.config[6] = status;
    this.activation?.signalConfigChange();
  }

  readConfig(offset: number, data: Uint8Array): void {
    data.set(this.config.subarray(offset, offset + data.length));
  }

  /** The MAC is read-only with VIRTIO_F_VERSION_1, and so is the status. */
  writeConfig(_offset: number, _data: Uint8Array): void {}

  ackFeatures(features: FeatureWords): boolean {
    return hasFeature(features, VirtioFeature.Version1);
  }

  activate(context: VirtioDeviceContext): void {
    this.stop();
    this.activation = new DeviceActivation(context);
  }

  reset(): void {
    this.stop();
  }

  queueNotify(queueIndex: number): void {
    if (queueIndex === TX_QUEUE) this.transmit();
    else if (queueIndex === RX_QUEUE) this.deliverBacklog();
  }

  /** A frame from the backend: queued, then written into an rx buffer as soon as the driver has one. */
  private receive(frame: Uint8Array): void {
    const rxEnabled = this.activation?.queue(RX_QUEUE) !== undefined;
    if (
      !rxEnabled ||
      frame.length < ETHERNET_HEADER_SIZE ||
      frame.length > MAX_FRAME_SIZE ||
      this.backlog.length >= this.rxBacklogLimit
    ) {
      this.counters.rxDropped++;
      return;
    }
    // The backend may reuse its buffer once this returns.
    this.backlog.push(frame.slice());
    this.deliverBacklog();
  }

  private deliverBacklog(): void {
    const activation = this.activation;
    const queue = activation?.queue(RX_QUEUE);
    if (!activation || !queue) return;
    let returned = false;
    while (this.backlog.length > 0) {
      const chain = this.heldRxChain ?? queue.pop();
      this.heldRxChain = undefined;
      if (chain === null) break;
      if (chain.error !== undefined || chain.writableLength < NET_HEADER_SIZE + ETHERNET_HEADER_SIZE) {
        // Unusable for any frame: give it back empty.
        activation.completeQuietly(queue, chain, 0);
        returned = true;
        continue;
      }
      const frame = this.backlog.shift()!;
      if (chain.writableLength < NET_HEADER_SIZE + frame.length) {
        this.counters.rxDropped++;
        this.heldRxChain = chain;
        continue;
      }
      const written = this.writeRxBuffer(chain, frame);
      if (written === undefined) this.counters.rxDropped++;
      else this.counters.rxFrames++;
      activation.completeQuietly(queue, chain, written ?? 0);
      returned = true;
    }
    if (returned) activation.notifyIfNeeded(queue);
  }

  /** Header then frame; the length written, or undefined if guest memory refused it. */
  private writeRxBuffer(chain: DescriptorChain, frame: Uint8Array): number | undefined {
    const header = new Uint8Array(NET_HEADER_SIZE);
    // num_buffers: always 1 without VIRTIO_NET_F_MRG_RXBUF; no checksum or GSO information.
    header[10] = 1;
    const ok =
      guestAccess(() => chain.write(0, header)) === NET_HEADER_SIZE &&
      guestAccess(() => chain.write(NET_HEADER_SIZE, frame)) === frame.length;
    return ok ? NET_HEADER_SIZE + frame.length : undefined;
  }

  private transmit(): void {
    const activation = this.activation;
    const queue = activation?.queue(TX_QUEUE);
    if (!activation || !queue) return;
    let returned = false;
    for (let chain = queue.pop(); chain !== null; chain = queue.pop()) {
      const frame = this.readTxFrame(chain);
      if (frame) {
        this.backend.send(frame);
        this.counters.txFrames++;
      } else {
        this.counters.txDropped++;
      }
      activation.completeQuietly(queue, chain, 0);
      returned = true;
    }
    if (returned) activation.notifyIfNeeded(queue);
  }

  /**
   * The frame after the header, or undefined for a chain that carries none. The header's flags and GSO fields
   * are ignored: no offload was negotiated, so a driver has nothing to ask for there.
   */
  private readTxFrame(chain: DescriptorChain): Uint8Array | undefined {
    if (chain.error !== undefined) return undefined;
    const length = chain.readableLength - NET_HEADER_SIZE;
    if (length < ETHERNET_HEADER_SIZE || length > MAX_FRAME_SIZE) return undefined;
    const frame = new Uint8Array(length);
    return guestAccess(() => chain.read(NET_HEADER_SIZE, frame)) === length ? frame : undefined;
  }

  private stop(): void {
    this.activation?.end();
    this.activation = undefined;
    this.backlog = [];
    this.heldRxChain = undefined;
  }
}

// virtio-blk (virtio 1.2 section 5.2): one request queue, requests served asynchronously by a BlockBackend.
// Requests run concurrently and complete in any order, except that a FLUSH waits for every write submitted
// before it. Anything malformed gets VIRTIO_BLK_S_IOERR in its status byte, or, without a status byte, is
// returned with nothing written.
import { VirtioDeviceId, VirtioFeature } from "../constants.js";
import type { VirtioDevice, VirtioDeviceContext } from "../device.js";
import { DeviceActivation, guestAccess } from "../device-activation.js";
import { type FeatureWords, featureWords, hasFeature } from "../features.js";
import type { DescriptorChain, Virtqueue } from "../virtqueue.js";
import type { BlockBackend } from "./block-backend.js";
import { TransferBufferPool } from "./transfer-buffers.js";

/** virtio-blk feature bits (spec 5.2.3). */
export const BlockFeature = {
  SizeMax: 1,
  SegMax: 2,
  Geometry: 4,
  ReadOnly: 5,
  BlockSize: 6,
  Flush: 9,
  Topology: 10,
  ConfigWce: 11,
  MultiQueue: 12,
  Discard: 13,
  WriteZeroes: 14,
} as const;

/** Request types (spec 5.2.6). */
export const BlockRequestType = {
  In: 0,
  Out: 1,
  Flush: 4,
  GetId: 8,
  GetLifetime: 10,
  Discard: 11,
  WriteZeroes: 13,
  SecureErase: 14,
} as const;

/** The status byte at the end of every request. */
export const BlockStatus = {
  Ok: 0,
  IoError: 1,
  Unsupported: 2,
} as const;

export const SECTOR_SIZE = 512;
/** The request header: le32 type, le32 reserved, le64 sector. */
export const BLOCK_REQUEST_HEADER_SIZE = 16;
/** One discard / write-zeroes segment: le64 sector, le32 num_sectors, le32 flags. */
export const BLOCK_SEGMENT_SIZE = 16;
/** The GET_ID answer: the serial, NUL-padded, with no terminator when it is 20 bytes long. */
export const BLOCK_ID_BYTES = 20;
/** Configuration space up to and including write_zeroes_may_unmap and its padding (spec 5.2.4). */
export const BLOCK_CONFIG_SIZE = 60;

const SEGMENT_FLAG_UNMAP = 1;
const DEFAULT_QUEUE_SIZE = 256;
/** Segments per discard or write-zeroes request, and sectors per segment. */
const MAX_DISCARD_SEGMENTS = 32;
const MAX_DISCARD_SECTORS = 0x40_0000;
const MAX_WRITE_ZEROES_SECTORS = 0x4_0000;
/** Data moves between guest memory and the backend in pieces of at most this size, so no request can make the
 * host allocate a buffer as large as guest RAM. */
const TRANSFER_CHUNK = 1 << 20;
/** Transfer buffers kept between requests: enough for a few requests in flight, at most 4 MiB held while idle. */
const KEPT_TRANSFER_BUFFERS = 4;

export interface VirtioBlockOptions {
  backend: BlockBackend;
  /** What GET_ID returns (at most 20 bytes once UTF-8 encoded; longer is cut). Default: empty. */
  serial?: string;
  /** Expose the disk read-only even if the backend could write (it is read-only anyway if the backend is). */
  readOnly?: boolean;
  /** The request queue's maximum size (default 256). */
  queueSize?: number;
}

interface Outcome {
  status: number;
  /** Bytes of data written into the chain before the status byte. */
  dataWritten: number;
}

const ok = (dataWritten = 0): Outcome => ({ status: BlockStatus.Ok, dataWritten });
const ioError: Outcome = { status: BlockStatus.IoError, dataWritten: 0 };
const unsupported: Outcome = { status: BlockStatus.Unsupported, dataWritten: 0 };

export class VirtioBlock implements VirtioDevice {
  readonly deviceType = VirtioDeviceId.Block;
  readonly queueMaxSizes: readonly number[];
  readonly features: FeatureWords;
  readonly configSize = BLOCK_CONFIG_SIZE;
  readonly readOnly: boolean;
  /** Whole 512-byte sectors of the backend. */
  readonly capacity: number;

  private readonly backend: BlockBackend;
  private readonly id: Uint8Array;
  private readonly config = new Uint8Array(BLOCK_CONFIG_SIZE);
  private activation: DeviceActivation | undefined;
  private readonly transferBuffers = new TransferBufferPool(TRANSFER_CHUNK, KEPT_TRANSFER_BUFFERS);
  /** Writes (OUT, DISCARD, WRITE_ZEROES) not finished yet, across activations: a FLUSH waits for them. */
  private readonly writesInFlight = new Set<Promise<unknown>>();
  /** Every request not completed yet (drain() waits for them). */
  private readonly requestsInFlight = new Set<Promise<void>>();

  constructor(options: VirtioBlockOptions) {
    this.backend = options.backend;
    this.readOnly = (options.readOnly ?? false) || options.backend.readOnly;
    this.capacity = Math.floor(options.backend.size / SECTOR_SIZE);
    const queueSize = options.queueSize ?? DEFAULT_QUEUE_SIZE;
    this.queueMaxSizes = [queueSize];
    this.id = new Uint8Array(BLOCK_ID_BYTES);
    const serial = new TextEncoder().encode(options.serial ?? "");
    this.id.set(serial.subarray(0, BLOCK_ID_BYTES));

    const bits: number[] = [
      VirtioFeature.Version1,
      VirtioFeature.RingIndirectDesc,
      VirtioFeature.RingEventIdx,
      VirtioFeature.RingPacked,
      BlockFeature.SegMax,
      BlockFeature.BlockSize,
      BlockFeature.Flush,
    ];
    if (this.readOnly) bits.push(BlockFeature.ReadOnly);
    else {
      bits.push(BlockFeature.WriteZeroes);
      if (this.backend.discard) bits.push(BlockFeature.Discard);
    }
    this.features = featureWords(...bits);

    const view = new DataView(this.config.buffer);
    view.setUint32(0, this.capacity >>> 0, true);
    view.setUint32(4, Math.floor(this.capacity / 2 ** 32), true);
    // Each request needs a header and a status descriptor besides its data segments.
    view.setUint32(12, Math.max(1, queueSize - 2), true);
    view.setUint32(20, SECTOR_SIZE, true);
    view.setUint32(36, MAX_DISCARD_SECTORS, true);
    view.setUint32(40, MAX_DISCARD_SEGMENTS, true);
    view.setUint32(44, 1, true);
    view.setUint32(48, MAX_WRITE_ZEROES_SECTORS, true);
    view.setUint32(52, MAX_DISCARD_SEGMENTS, true);
    // write_zeroes_may_unmap: a WRITE_ZEROES with UNMAP may deallocate when the backend's discard leaves zeroes.
    this.config[56] = !this.readOnly && this.discardZeroes ? 1 : 0;
  }

  readConfig(offset: number, data: Uint8Array): void {
    data.set(this.config.subarray(offset, offset + data.length));
  }

  /** Nothing in the configuration is writable without VIRTIO_BLK_F_CONFIG_WCE, which is not offered. */
  writeConfig(_offset: number, _data: Uint8Array): void {}

  /** A modern-only device: the driver must accept VIRTIO_F_VERSION_1. */
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
      this.startRequest(activation, queue, chain);
  }

  /** Resolves once every request started so far has finished (for tests and orderly shutdown). */
  async drain(): Promise<void> {
    while (this.requestsInFlight.size > 0) await Promise.allSettled([...this.requestsInFlight]);
  }

  private startRequest(activation: DeviceActivation, queue: Virtqueue, chain: DescriptorChain): void {
    const statusOffset = chain.writableLength - 1;
    if (chain.error !== undefined || statusOffset < 0) {
      // Malformed, or nowhere to put a status: returned untouched.
      activation.complete(queue, chain, 0);
      return;
    }
    const request = this.serve(activation, chain, statusOffset)
      .catch((): Outcome => ioError)
      .then((outcome) => {
        if (!activation.active) return;
        const written = guestAccess(() => chain.write(statusOffset, Uint8Array.of(outcome.status)));
        activation.complete(queue, chain, written === 1 ? outcome.dataWritten + 1 : 0);
      })
      .finally(() => this.requestsInFlight.delete(request));
    this.requestsInFlight.add(request);
  }

  /** Runs one request; backend failures reject (and become IOERR), guest-memory faults resolve to IOERR. */
  private async serve(
    activation: DeviceActivation,
    chain: DescriptorChain,
    dataInLength: number,
  ): Promise<Outcome> {
    const header = new Uint8Array(BLOCK_REQUEST_HEADER_SIZE);
    if (guestAccess(() => chain.read(0, header)) !== header.length) return ioError;
    const view = new DataView(header.buffer);
    const type = view.getUint32(0, true);
    const sectorLow = view.getUint32(8, true);
    const sectorHigh = view.getUint32(12, true);
    const dataOutLength = chain.readableLength - BLOCK_REQUEST_HEADER_SIZE;

    switch (type) {
      case BlockRequestType.In: {
        const offset = this.byteRange(sectorLow, sectorHigh, dataInLength);
        if (offset === undefined) return ioError;
        return this.readSectors(activation, chain, offset, dataInLength);
      }
      case BlockRequestType.Out: {
        if (this.readOnly) return ioError;
        const offset = this.byteRange(sectorLow, sectorHigh, dataOutLength);
        if (offset === undefined) return ioError;
        return this.trackWrite(activation, () => this.writeSectors(activation, chain, offset, dataOutLength));
      }
      case BlockRequestType.Flush:
        return this.flush();
      case BlockRequestType.GetId: {
        const n = Math.min(BLOCK_ID_BYTES, dataInLength);
        const written = guestAccess(() => chain.write(0, this.id.subarray(0, n)));
        return written === n ? ok(n) : ioError;
      }
      case BlockRequestType.Discard:
      case BlockRequestType.WriteZeroes:
        return this.discardOrWriteZeroes(activation, chain, type, dataOutLength);
      default:
        return unsupported;
    }
  }

  /** The byte offset of a sector range inside the disk, or undefined if any of it is outside or not whole sectors. */
  private byteRange(sectorLow: number, sectorHigh: number, length: number): number | undefined {
    if (length % SECTOR_SIZE !== 0 || sectorHigh >= 0x20_0000) return undefined;
    const sector = sectorHigh * 2 ** 32 + sectorLow;
    if (sector > this.capacity || length / SECTOR_SIZE > this.capacity - sector) return undefined;
    return sector * SECTOR_SIZE;
  }

  private async readSectors(
    activation: DeviceActivation,
    chain: DescriptorChain,
    offset: number,
    length: number,
  ): Promise<Outcome> {
    for (let done = 0; done < length; done += TRANSFER_CHUNK) {
      const copied = await this.transferBuffers.with(
        Math.min(TRANSFER_CHUNK, length - done),
        async (piece) => {
          await this.backend.read(offset + done, piece);
          // After a reset the guest's buffers are no longer ours to write.
          if (!activation.active) return false;
          return guestAccess(() => chain.write(done, piece)) === piece.length;
        },
      );
      if (!copied) return ioError;
    }
    return ok(length);
  }

  private async writeSectors(
    activation: DeviceActivation,
    chain: DescriptorChain,
    offset: number,
    length: number,
  ): Promise<Outcome> {
    for (let done = 0; done < length; done += TRANSFER_CHUNK) {
      // After a reset the guest's buffers are no longer ours to read.
      if (!activation.active) return ioError;
      const written = await this.transferBuffers.with(
        Math.min(TRANSFER_CHUNK, length - done),
        async (piece) => {
          const read = guestAccess(() => chain.read(BLOCK_REQUEST_HEADER_SIZE + done, piece));
          if (read !== piece.length) return false;
          await this.backend.write(offset + done, piece);
          return true;
        },
      );
      if (!written) return ioError;
    }
    return ok();
  }

  private async discardOrWriteZeroes(
    activation: DeviceActivation,
    chain: DescriptorChain,
    type: number,
    segmentBytes: number,
  ): Promise<Outcome> {
    const discard = type === BlockRequestType.Discard;
    const feature = discard ? BlockFeature.Discard : BlockFeature.WriteZeroes;
    if (!hasFeature(this.features, feature) || !activation.hasFeature(feature)) return unsupported;
    const maxSectors = discard ? MAX_DISCARD_SECTORS : MAX_WRITE_ZEROES_SECTORS;
    const count = segmentBytes / BLOCK_SEGMENT_SIZE;
    if (!Number.isInteger(count) || count < 1 || count > MAX_DISCARD_SEGMENTS) return ioError;

    const raw = new Uint8Array(segmentBytes);
    if (guestAccess(() => chain.read(BLOCK_REQUEST_HEADER_SIZE, raw)) !== raw.length) return ioError;
    const view = new DataView(raw.buffer);
    const ranges: { offset: number; length: number; unmap: boolean }[] = [];
    for (let i = 0; i < count; i++) {
      const at = i * BLOCK_SEGMENT_SIZE;
      const sectors = view.getUint32(at + 8, true);
      const flags = view.getUint32(at + 12, true);
      // Unknown flags, and unmap on a discard, must be refused as unsupported (spec 5.2.6.2).
      if ((flags & ~SEGMENT_FLAG_UNMAP) !== 0 || (discard && flags !== 0)) return unsupported;
      if (sectors > maxSectors) return ioError;
      const length = sectors * SECTOR_SIZE;
      const offset = this.byteRange(view.getUint32(at, true), view.getUint32(at + 4, true), length);
      if (offset === undefined) return ioError;
      ranges.push({ offset, length, unmap: flags === SEGMENT_FLAG_UNMAP });
    }
    if (this.readOnly) return ioError;

    return this.trackWrite(activation, async () => {
      for (const { offset, length, unmap } of ranges) {
        if (!activation.active) return ioError;
        if (discard || (unmap && this.discardZeroes)) await this.backend.discard!(offset, length);
        else await this.writeZeroes(offset, length);
      }
      return ok();
    });
  }

  /** Whether the backend's discard leaves zeroes, so a WRITE_ZEROES with UNMAP can deallocate (QEMU's MAY_UNMAP). */
  private get discardZeroes(): boolean {
    return this.backend.discard !== undefined && this.backend.discardZeroes === true;
  }

  private async writeZeroes(offset: number, length: number): Promise<void> {
    const zeroes = new Uint8Array(Math.min(TRANSFER_CHUNK, length));
    for (let done = 0; done < length; done += zeroes.length) {
      const n = Math.min(zeroes.length, length - done);
      await this.backend.write(offset + done, zeroes.subarray(0, n));
    }
  }

  /**
   * Runs a write so that a later FLUSH waits for it. Without VIRTIO_BLK_F_FLUSH negotiated the driver assumes a
   * write-through disk (spec 5.2.6.2), so the write is made durable before it completes.
   */
  private trackWrite(activation: DeviceActivation, write: () => Promise<Outcome>): Promise<Outcome> {
    const run = write().then(async (outcome) => {
      if (outcome.status === BlockStatus.Ok && !activation.hasFeature(BlockFeature.Flush))
        await this.backend.flush();
      return outcome;
    });
    const tracked = run.catch(() => undefined);
    this.writesInFlight.add(tracked);
    void tracked.then(() => this.writesInFlight.delete(tracked));
    return run;
  }

  private async flush(): Promise<Outcome> {
    await Promise.allSettled([...this.writesInFlight]);
    await this.backend.flush();
    return ok();
  }
}

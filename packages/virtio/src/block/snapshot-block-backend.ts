// QEMU's -snapshot: the guest sees a writable disk, but its writes go to an in-memory overlay of 4 KiB clusters and
// the base image is only ever read. The overlay is lost when the backend is closed. With discard on, a discarded
// cluster leaves the overlay (giving its memory back) and reads as zeroes from then on, as in QEMU's qcow2 overlay;
// the base is not touched either way.
import { type BlockBackend, BlockBackendError, checkBlockRange } from "./block-backend.js";

const CLUSTER_SIZE = 4096;

export interface SnapshotBlockBackendOptions {
  /** Let the guest discard (QEMU's discard=unmap on the drive). Default false: no DISCARD is offered. */
  discard?: boolean;
}

export class SnapshotBlockBackend implements BlockBackend {
  readonly readOnly = false;
  /** Present only with the `discard` option. */
  readonly discard?: (offset: number, length: number) => Promise<void>;
  /** A discarded range reads back as zeroes. */
  readonly discardZeroes: boolean;
  /** Clusters written since the snapshot started, by cluster index; everything else is read from the base. */
  private readonly overlay = new Map<number, Uint8Array>();
  /**
   * One bit per cluster discarded and not written since: it reads as zeroes, not from the base. Allocated on the
   * first discard; at most one bit per cluster of the disk, however large the ranges a guest discards.
   */
  private zeroed: Uint8Array | undefined;
  private closed = false;

  constructor(
    private readonly base: BlockBackend,
    options: SnapshotBlockBackendOptions = {},
  ) {
    this.discardZeroes = options.discard ?? false;
    if (this.discardZeroes) this.discard = (offset, length) => this.discardRange(offset, length);
  }

  get size(): number {
    return this.base.size;
  }

  /** Bytes held by the overlay. */
  get overlayBytes(): number {
    return this.overlay.size * CLUSTER_SIZE;
  }

  async read(offset: number, dst: Uint8Array): Promise<void> {
    this.checkOpen();
    checkBlockRange(this.size, offset, dst.length);
    let done = 0;
    while (done < dst.length) {
      const position = offset + done;
      const cluster = Math.floor(position / CLUSTER_SIZE);
      const within = position - cluster * CLUSTER_SIZE;
      const written = this.overlay.get(cluster);
      if (written || this.isZeroed(cluster)) {
        const n = Math.min(CLUSTER_SIZE - within, dst.length - done);
        if (written) dst.set(written.subarray(within, within + n), done);
        else dst.fill(0, done, done + n);
        done += n;
        continue;
      }
      // A run of clusters the overlay does not hold comes from the base in one read.
      let end = (cluster + 1) * CLUSTER_SIZE;
      while (end < offset + dst.length && this.inBase(end / CLUSTER_SIZE)) end += CLUSTER_SIZE;
      const n = Math.min(end, offset + dst.length) - position;
      await this.base.read(position, dst.subarray(done, done + n));
      done += n;
    }
  }

  async write(offset: number, src: Uint8Array): Promise<void> {
    this.checkOpen();
    checkBlockRange(this.size, offset, src.length);
    let done = 0;
    while (done < src.length) {
      const position = offset + done;
      const index = Math.floor(position / CLUSTER_SIZE);
      const within = position - index * CLUSTER_SIZE;
      const n = Math.min(CLUSTER_SIZE - within, src.length - done);
      const cluster = await this.clusterForWrite(index, n === CLUSTER_SIZE);
      cluster.set(src.subarray(done, done + n), within);
      done += n;
    }
  }

  /** Nothing to make durable: the overlay lives and dies with the process, and the base is never written. */
  async flush(): Promise<void> {
    this.checkOpen();
  }

  /** Drops the overlay; the base backend stays open (its owner closes it). */
  async close(): Promise<void> {
    this.closed = true;
    this.overlay.clear();
    this.zeroed = undefined;
  }

  /** Whole clusters leave the overlay and read as zeroes; the partial ones at the ends get zeroes written. */
  private async discardRange(offset: number, length: number): Promise<void> {
    this.checkOpen();
    checkBlockRange(this.size, offset, length);
    const end = offset + length;
    // Clusters [first, last) lie wholly inside the range (the last cluster of an odd-sized image ends at its end).
    const first = Math.ceil(offset / CLUSTER_SIZE);
    const last = end === this.size ? Math.ceil(end / CLUSTER_SIZE) : Math.floor(end / CLUSTER_SIZE);
    if (first >= last) {
      if (length > 0) await this.write(offset, new Uint8Array(length));
      return;
    }
    this.zeroClusters(first, last);
    if (offset < first * CLUSTER_SIZE)
      await this.write(offset, new Uint8Array(first * CLUSTER_SIZE - offset));
    if (last * CLUSTER_SIZE < end)
      await this.write(last * CLUSTER_SIZE, new Uint8Array(end - last * CLUSTER_SIZE));
  }

  /** Marks clusters [first, last) zeroed and frees what the overlay held of them, in time bounded by the disk. */
  private zeroClusters(first: number, last: number): void {
    if (this.overlay.size < last - first) {
      for (const index of this.overlay.keys()) if (index >= first && index < last) this.overlay.delete(index);
    } else {
      for (let index = first; index < last; index++) this.overlay.delete(index);
    }
    this.zeroed ??= new Uint8Array(Math.ceil(this.size / CLUSTER_SIZE / 8));
    const zeroed = this.zeroed;
    let index = first;
    for (; index < last && index % 8 !== 0; index++) zeroed[index >> 3] |= 1 << (index & 7);
    const wholeBytesEnd = last - (last % 8);
    if (index < wholeBytesEnd) {
      zeroed.fill(0xff, index >> 3, wholeBytesEnd >> 3);
      index = wholeBytesEnd;
    }
    for (; index < last; index++) zeroed[index >> 3] |= 1 << (index & 7);
  }

  private isZeroed(index: number): boolean {
    return this.zeroed !== undefined && (this.zeroed[index >> 3] & (1 << (index & 7))) !== 0;
  }

  /** Whether a cluster's bytes are the base's (neither written nor discarded). */
  private inBase(index: number): boolean {
    return !this.overlay.has(index) && !this.isZeroed(index);
  }

  private async clusterForWrite(index: number, whole: boolean): Promise<Uint8Array> {
    const existing = this.overlay.get(index);
    if (existing) return existing;
    const fresh = new Uint8Array(CLUSTER_SIZE);
    if (!whole && !this.isZeroed(index)) {
      // The cluster's other bytes come from the base; the last cluster of an odd-sized image is partial.
      const start = index * CLUSTER_SIZE;
      await this.base.read(start, fresh.subarray(0, Math.min(CLUSTER_SIZE, this.size - start)));
    }
    // Another write may have created the cluster while the base read was pending: write into that one.
    const raced = this.overlay.get(index);
    if (raced) return raced;
    // A discard that came meanwhile wins over the base's bytes just read.
    if (this.zeroed !== undefined && this.isZeroed(index)) {
      fresh.fill(0);
      this.zeroed[index >> 3] &= ~(1 << (index & 7));
    }
    this.overlay.set(index, fresh);
    return fresh;
  }

  private checkOpen(): void {
    if (this.closed) throw new BlockBackendError("the snapshot is closed");
  }
}

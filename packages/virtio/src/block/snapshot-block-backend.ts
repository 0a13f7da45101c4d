// QEMU's -snapshot: the guest sees a writable disk, but its writes go to an in-memory overlay of 4 KiB clusters and
// the base image is only ever read. The overlay is lost when the backend is closed.
import { type BlockBackend, BlockBackendError, checkBlockRange } from "./block-backend.js";

const CLUSTER_SIZE = 4096;

export class SnapshotBlockBackend implements BlockBackend {
  readonly readOnly = false;
  /** Clusters written since the snapshot started, by cluster index; everything else is read from the base. */
  private readonly overlay = new Map<number, Uint8Array>();
  private closed = false;

  constructor(private readonly base: BlockBackend) {}

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
      if (written) {
        const n = Math.min(CLUSTER_SIZE - within, dst.length - done);
        dst.set(written.subarray(within, within + n), done);
        done += n;
        continue;
      }
      // A run of clusters the overlay does not hold comes from the base in one read.
      let end = (cluster + 1) * CLUSTER_SIZE;
      while (end < offset + dst.length && !this.overlay.has(end / CLUSTER_SIZE)) end += CLUSTER_SIZE;
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
  }

  private async clusterForWrite(index: number, whole: boolean): Promise<Uint8Array> {
    const existing = this.overlay.get(index);
    if (existing) return existing;
    const fresh = new Uint8Array(CLUSTER_SIZE);
    if (!whole) {
      // The cluster's other bytes come from the base; the last cluster of an odd-sized image is partial.
      const start = index * CLUSTER_SIZE;
      await this.base.read(start, fresh.subarray(0, Math.min(CLUSTER_SIZE, this.size - start)));
    }
    // Another write may have created the cluster while the base read was pending: write into that one.
    const raced = this.overlay.get(index);
    if (raced) return raced;
    this.overlay.set(index, fresh);
    return fresh;
  }

  private checkOpen(): void {
    if (this.closed) throw new BlockBackendError("the snapshot is closed");
  }
}

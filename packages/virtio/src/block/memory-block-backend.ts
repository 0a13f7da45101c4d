// A disk held in a byte array: for tests, for browsers, and for small scratch disks.
import { type BlockBackend, BlockBackendError, checkBlockRange } from "./block-backend.js";

export interface MemoryBlockBackendOptions {
  readOnly?: boolean;
}

export class MemoryBlockBackend implements BlockBackend {
  readonly bytes: Uint8Array;
  readonly readOnly: boolean;
  /** discard() zeroes, so WRITE_ZEROES with UNMAP is served by it. */
  readonly discardZeroes = true;

  /** A zeroed disk of `size` bytes, or one over `bytes` (used in place, not copied). */
  constructor(sizeOrBytes: number | Uint8Array, options: MemoryBlockBackendOptions = {}) {
    this.bytes = typeof sizeOrBytes === "number" ? new Uint8Array(sizeOrBytes) : sizeOrBytes;
    this.readOnly = options.readOnly ?? false;
  }

  get size(): number {
    return this.bytes.length;
  }

  async read(offset: number, dst: Uint8Array): Promise<void> {
    checkBlockRange(this.size, offset, dst.length);
    dst.set(this.bytes.subarray(offset, offset + dst.length));
  }

  async write(offset: number, src: Uint8Array): Promise<void> {
    this.checkWritable();
    checkBlockRange(this.size, offset, src.length);
    this.bytes.set(src, offset);
  }

  async flush(): Promise<void> {}

  /** Zeroes the range: memory has nothing to give back, and zeroes are the least surprising contents. */
  async discard(offset: number, length: number): Promise<void> {
    this.checkWritable();
    checkBlockRange(this.size, offset, length);
    this.bytes.fill(0, offset, offset + length);
  }

  async close(): Promise<void> {}

  private checkWritable(): void {
    if (this.readOnly) throw new BlockBackendError("the disk is read-only");
  }
}

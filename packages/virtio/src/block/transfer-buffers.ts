// Host buffers for moving request data between guest memory and a block backend, reused across requests. A fresh
// 1 MiB Uint8Array per request costs the host a zero-filled allocation, a page fault per 4 KiB page on first touch
// (on the run loop's thread for a write, whose data is copied out of guest memory there) and garbage-collector work
// for the external memory; a reused buffer has its pages mapped already.

export class TransferBufferPool {
  private readonly free: Uint8Array[] = [];

  /**
   * @param bufferSize the size of every pooled buffer: the largest piece a request moves at once
   * @param maxFree how many buffers are kept for reuse when no request holds them (host memory held while idle:
   *   `bufferSize * maxFree`); more can be in use at once, the extra ones are dropped when released
   */
  constructor(
    readonly bufferSize: number,
    private readonly maxFree: number,
  ) {}

  /** Buffers kept for reuse now (for tests and diagnostics). */
  get freeCount(): number {
    return this.free.length;
  }

  /**
   * Runs `use` with a buffer of `length` bytes (at most bufferSize) that nothing else uses until the promise it
   * returns settles; the buffer then goes back to the pool. Its contents are whatever the last user left.
   */
  async with<T>(length: number, use: (buffer: Uint8Array) => Promise<T>): Promise<T> {
    if (length > this.bufferSize)
      throw new RangeError(`a transfer of ${length} bytes exceeds ${this.bufferSize}`);
    const buffer = this.free.pop() ?? new Uint8Array(this.bufferSize);
    try {
      return await use(buffer.subarray(0, length));
    } finally {
      if (this.free.length < this.maxFree) this.free.push(buffer);
    }
  }
}

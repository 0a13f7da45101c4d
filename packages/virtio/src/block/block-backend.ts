// What virtio-blk needs from the storage behind it. Offsets and lengths are in bytes; the device keeps every access
// inside [0, size) and, for writes, only calls them when the backend is writable.

export interface BlockBackend {
  /** The size in bytes (the device exposes the whole 512-byte sectors of it). */
  readonly size: number;
  /** Writes, discards and write-zeroes are refused (the device offers VIRTIO_BLK_F_RO). */
  readonly readOnly: boolean;
  /**
   * Fills all of `dst`. The buffers of read() and write() are lent for the call only: the device reuses them for
   * other requests once the promise settles, so a backend copies what it keeps.
   */
  read(offset: number, dst: Uint8Array): Promise<void>;
  write(offset: number, src: Uint8Array): Promise<void>;
  /** Makes every completed write durable (fsync for a file). */
  flush(): Promise<void>;
  /**
   * Lets the backend deallocate a range; its contents afterwards are unspecified unless `discardZeroes`. Absent when
   * the backend cannot discard, and then the device does not offer VIRTIO_BLK_F_DISCARD.
   */
  discard?(offset: number, length: number): Promise<void>;
  /**
   * discard() leaves the range reading back as zeroes (a hole punched in a file, say), so the device serves a
   * WRITE_ZEROES whose guest allows unmapping with it instead of writing zeroes.
   */
  readonly discardZeroes?: boolean;
  /** Releases the storage; no call may follow. */
  close(): Promise<void>;
}

/** Raised by backends for an access outside [0, size) or a write to a read-only backend. */
export class BlockBackendError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "BlockBackendError";
  }
}

/** Throws unless [offset, offset + length) lies inside a backend of `size` bytes. */
export function checkBlockRange(size: number, offset: number, length: number): void {
  if (!Number.isSafeInteger(offset) || !Number.isSafeInteger(length) || offset < 0 || length < 0) {
    throw new BlockBackendError(`bad block range ${offset}+${length}`);
  }
  if (offset > size || length > size - offset) {
    throw new BlockBackendError(`block range ${offset}+${length} is past the end (${size} bytes)`);
  }
}

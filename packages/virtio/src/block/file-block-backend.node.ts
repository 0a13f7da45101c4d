// A raw disk image in a host file (QEMU's format=raw), through node:fs/promises. flush() is a real fsync.
// Discard is off unless asked for (QEMU's discard=ignore, the default). With `discard: true` (discard=unmap) a
// discarded range is deallocated by punching a hole in the file where the host can (Linux: fallocate through koffi,
// which Node lacks), and otherwise overwritten with zeroes, so it reads back as zeroes either way; WRITE_ZEROES with
// UNMAP then takes the same path.
import { constants, type FileHandle, open } from "node:fs/promises";
import { type BlockBackend, BlockBackendError, checkBlockRange } from "./block-backend.js";
import { type HolePuncher, loadHolePuncher, type PunchOutcome } from "./file-hole-punch.node.js";

export interface FileBlockBackendOptions {
  /** Open the file read-only: the device offers VIRTIO_BLK_F_RO and the file cannot be changed. */
  readOnly?: boolean;
  /**
   * Let the guest discard (QEMU's discard=unmap; default false, discard=ignore): holes punched in the file where the
   * host can, zeroes written where it cannot (`discardMethod` says which). Never for a read-only file.
   */
  discard?: boolean;
}

/**
 * How a FileBlockBackend discards: "none" (not asked for, or read-only), "punch-hole" (the range is deallocated),
 * or "zero-fill" (not Linux, koffi or glibc missing, or a filesystem that cannot punch holes).
 */
export type FileDiscardMethod = "none" | "punch-hole" | "zero-fill";

/** Zero-filling writes at most this much per call, from one buffer, whatever the size of the range. */
const ZERO_FILL_CHUNK = 1 << 20;

export class FileBlockBackend implements BlockBackend {
  /** Present only when discarding was asked for and the file is writable (the device then offers DISCARD). */
  readonly discard?: (offset: number, length: number) => Promise<void>;
  /** Both ways of discarding leave zeroes. */
  readonly discardZeroes: boolean;
  private closed = false;
  private method: FileDiscardMethod;
  /** fallocate calls on koffi's thread: close() waits for them, as FileHandle.close() does for its own. */
  private readonly punchesInFlight = new Set<Promise<unknown>>();

  private constructor(
    private readonly handle: FileHandle,
    readonly size: number,
    readonly readOnly: boolean,
    readonly path: string,
    method: FileDiscardMethod,
    private readonly puncher: HolePuncher | undefined,
  ) {
    this.method = method;
    this.discardZeroes = method !== "none";
    if (method !== "none") this.discard = (offset, length) => this.discardRange(offset, length);
  }

  /** Opens an existing image; its size is the file's size at open time. */
  static async open(path: string, options: FileBlockBackendOptions = {}): Promise<FileBlockBackend> {
    const readOnly = options.readOnly ?? false;
    const handle = await open(path, readOnly ? constants.O_RDONLY : constants.O_RDWR);
    try {
      const stats = await handle.stat();
      // A block device's stat size is 0; only image files are supported.
      if (!stats.isFile()) throw new BlockBackendError(`'${path}' is not a regular file`);
      if (readOnly || !(options.discard ?? false))
        return new FileBlockBackend(handle, stats.size, readOnly, path, "none", undefined);
      const puncher = await loadHolePuncher();
      const punches = puncher !== undefined && (await canPunchHoles(puncher, handle.fd, stats.size));
      return punches
        ? new FileBlockBackend(handle, stats.size, readOnly, path, "punch-hole", puncher)
        : new FileBlockBackend(handle, stats.size, readOnly, path, "zero-fill", undefined);
    } catch (e) {
      await handle.close();
      throw e;
    }
  }

  /** How discard() works now; "punch-hole" turns into "zero-fill" if the filesystem refuses a hole later. */
  get discardMethod(): FileDiscardMethod {
    return this.method;
  }

  async read(offset: number, dst: Uint8Array): Promise<void> {
    this.checkOpen();
    checkBlockRange(this.size, offset, dst.length);
    let done = 0;
    while (done < dst.length) {
      const { bytesRead } = await this.handle.read(dst, done, dst.length - done, offset + done);
      if (bytesRead === 0) {
        // The file shrank under us: what is gone reads as zeroes, as past the end of a sparse file.
        dst.fill(0, done);
        return;
      }
      done += bytesRead;
    }
  }

  async write(offset: number, src: Uint8Array): Promise<void> {
    this.checkOpen();
    if (this.readOnly) throw new BlockBackendError(`'${this.path}' is open read-only`);
    checkBlockRange(this.size, offset, src.length);
    let done = 0;
    while (done < src.length) {
      const { bytesWritten } = await this.handle.write(src, done, src.length - done, offset + done);
      done += bytesWritten;
    }
  }

  async flush(): Promise<void> {
    this.checkOpen();
    if (!this.readOnly) await this.handle.sync();
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    // A punch still running holds the descriptor number, which must not be reused under it.
    await Promise.allSettled([...this.punchesInFlight]);
    await this.handle.close();
  }

  private async discardRange(offset: number, length: number): Promise<void> {
    this.checkOpen();
    checkBlockRange(this.size, offset, length);
    if (length === 0) return;
    if (this.method === "punch-hole" && this.puncher !== undefined) {
      if ((await this.punch(this.puncher, offset, length)) === "punched") return;
      // The filesystem refused after all (the probe at open passed): zeroes from now on, as without koffi.
      this.method = "zero-fill";
    }
    await this.zeroFill(offset, length);
  }

  private async punch(puncher: HolePuncher, offset: number, length: number): Promise<PunchOutcome> {
    const punch = puncher.punch(this.handle.fd, offset, length);
    this.punchesInFlight.add(punch);
    try {
      return await punch;
    } catch (e) {
      throw new BlockBackendError(`'${this.path}': ${e instanceof Error ? e.message : String(e)}`);
    } finally {
      this.punchesInFlight.delete(punch);
    }
  }

  private async zeroFill(offset: number, length: number): Promise<void> {
    const zeroes = new Uint8Array(Math.min(ZERO_FILL_CHUNK, length));
    for (let done = 0; done < length; done += zeroes.length) {
      await this.write(offset + done, zeroes.subarray(0, Math.min(zeroes.length, length - done)));
    }
  }

  private checkOpen(): void {
    if (this.closed) throw new BlockBackendError(`'${this.path}' is closed`);
  }
}

/**
 * Whether the file's filesystem punches holes, asked without touching the image: a 1-byte hole punched just past
 * its end, where KEEP_SIZE leaves size and contents alone (at most blocks preallocated past the end are freed).
 * Any failure counts as no.
 */
async function canPunchHoles(puncher: HolePuncher, fd: number, size: number): Promise<boolean> {
  try {
    return (await puncher.punch(fd, size, 1)) === "punched";
  } catch {
    return false;
  }
}

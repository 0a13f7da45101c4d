// A raw disk image in a host file (QEMU's format=raw), through node:fs/promises. flush() is a real fsync.
// Discard is not offered: Node has no fallocate(PUNCH_HOLE), and writing zeroes instead would cost the I/O the
// guest meant to save and un-sparsify the image.
import { constants, type FileHandle, open } from "node:fs/promises";
import { type BlockBackend, BlockBackendError, checkBlockRange } from "./block-backend.js";

export interface FileBlockBackendOptions {
  /** Open the file read-only: the device offers VIRTIO_BLK_F_RO and the file cannot be changed. */
  readOnly?: boolean;
}

export class FileBlockBackend implements BlockBackend {
  private closed = false;

  private constructor(
    private readonly handle: FileHandle,
    readonly size: number,
    readonly readOnly: boolean,
    readonly path: string,
  ) {}

  /** Opens an existing image; its size is the file's size at open time. */
  static async open(path: string, options: FileBlockBackendOptions = {}): Promise<FileBlockBackend> {
    const readOnly = options.readOnly ?? false;
    const handle = await open(path, readOnly ? constants.O_RDONLY : constants.O_RDWR);
    try {
      const stats = await handle.stat();
      // A block device's stat size is 0; only image files are supported.
      if (!stats.isFile()) throw new BlockBackendError(`'${path}' is not a regular file`);
      return new FileBlockBackend(handle, stats.size, readOnly, path);
    } catch (e) {
      await handle.close();
      throw e;
    }
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
    await this.handle.close();
  }

  private checkOpen(): void {
    if (this.closed) throw new BlockBackendError(`'${this.path}' is closed`);
  }
}

// QEMU's `-object rng-random,filename=/dev/urandom`: entropy read from a host file or device.
import { type FileHandle, open } from "node:fs/promises";
import type { EntropySource } from "./entropy-source.js";

export class FileEntropySource implements EntropySource {
  private constructor(
    private readonly handle: FileHandle,
    readonly path: string,
  ) {}

  static async open(path = "/dev/urandom"): Promise<FileEntropySource> {
    return new FileEntropySource(await open(path, "r"), path);
  }

  /** Reads until `dst` is full; a source that runs dry (a regular file at its end) is an error, not short data. */
  async fill(dst: Uint8Array): Promise<void> {
    let done = 0;
    while (done < dst.length) {
      const { bytesRead } = await this.handle.read(dst, done, dst.length - done, null);
      if (bytesRead === 0) throw new Error(`entropy source '${this.path}' ran dry`);
      done += bytesRead;
    }
  }

  async close(): Promise<void> {
    await this.handle.close();
  }
}

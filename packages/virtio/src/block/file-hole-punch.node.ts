// Punching holes in host files, which Node cannot do: fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
// offset, length) deallocates the range, which then reads back as zeroes, and leaves the file's size alone (QEMU's
// discard=unmap on a raw file). Linux with glibc only, through koffi, loaded on first use; each call runs on koffi's
// worker thread, since freeing a large range can take a while.

const FALLOC_FL_KEEP_SIZE = 0x01;
const FALLOC_FL_PUNCH_HOLE = 0x02;

/** "unsupported": the file's filesystem (or kernel) cannot punch holes. */
export type PunchOutcome = "punched" | "unsupported";

export interface HolePuncher {
  /** Rejects for any failure other than the filesystem not supporting it (EIO, EBADF, ...). */
  punch(fd: number, offset: number, length: number): Promise<PunchOutcome>;
}

interface Koffi {
  errno(): number;
  os: { errno: Record<string, number> };
}

type AsyncFallocate = {
  async(
    fd: number,
    mode: number,
    offset: number,
    length: number,
    done: (error: unknown, result: number) => void,
  ): void;
};

let puncherPromise: Promise<HolePuncher | undefined> | undefined;

/**
 * The hole puncher, loaded once; undefined where there is none (not Linux, koffi or glibc's fallocate64 cannot be
 * loaded), and then files are zeroed by writing instead.
 */
export function loadHolePuncher(): Promise<HolePuncher | undefined> {
  puncherPromise ??= (async () => {
    if (process.platform !== "linux") return undefined;
    try {
      const koffi = (await import("koffi")).default;
      // fallocate64 takes 64-bit offsets on every glibc target, 32-bit ones included.
      const fallocate = koffi
        .load("libc.so.6")
        .func("int fallocate64(int fd, int mode, int64_t offset, int64_t len)");
      return new KoffiHolePuncher(koffi as unknown as Koffi, fallocate as unknown as AsyncFallocate);
    } catch {
      return undefined;
    }
  })();
  return puncherPromise;
}

class KoffiHolePuncher implements HolePuncher {
  private readonly unsupported: ReadonlySet<number>;
  private readonly interrupted: number;

  constructor(
    private readonly koffi: Koffi,
    private readonly fallocate: AsyncFallocate,
  ) {
    const codes = koffi.os.errno;
    this.unsupported = new Set(
      [codes.EOPNOTSUPP, codes.ENOTSUP, codes.ENOSYS].filter((c) => c !== undefined),
    );
    this.interrupted = codes.EINTR;
  }

  async punch(fd: number, offset: number, length: number): Promise<PunchOutcome> {
    for (;;) {
      const errno = await this.call(fd, offset, length);
      if (errno === 0) return "punched";
      if (this.unsupported.has(errno)) return "unsupported";
      if (errno !== this.interrupted)
        throw new Error(`fallocate(PUNCH_HOLE) failed: ${this.errnoName(errno)}`);
    }
  }

  /** 0, or the errno of the failed call (koffi keeps it for the callback of an asynchronous call). */
  private call(fd: number, offset: number, length: number): Promise<number> {
    return new Promise((resolve, reject) => {
      this.fallocate.async(
        fd,
        FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
        offset,
        length,
        (error, result) => {
          if (error) reject(error);
          else resolve(result === 0 ? 0 : this.koffi.errno());
        },
      );
    });
  }

  private errnoName(errno: number): string {
    const name = Object.entries(this.koffi.os.errno).find(([, code]) => code === errno)?.[0];
    return name === undefined ? `errno ${errno}` : `${name} (errno ${errno})`;
  }
}

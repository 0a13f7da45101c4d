// QEMU's `-netdev tap,ifname=...`: a Linux TAP interface (/dev/net/tun, TUNSETIFF with IFF_TAP | IFF_NO_PI), so each
// read is one Ethernet frame the host sent to the guest and each write one frame from the guest. Node cannot wait
// on a character device, so koffi (loaded on first use) calls poll() on a worker thread, on the TAP descriptor and
// a wake-up pipe that close() writes to; frames are read and written with non-blocking read()/write().
import { closeSync, constants, openSync } from "node:fs";
import type { NetBackend } from "./net-backend.js";

/** _IOW('T', 202, int). */
const TUNSETIFF = 0x400454ca;
const IFF_TAP = 0x0002;
const IFF_NO_PI = 0x1000;
/** struct ifreq: a 16-byte name, then (here) the short flags. */
const IFREQ_SIZE = 40;
const IFNAMSIZ = 16;
const POLLIN = 1;
const O_CLOEXEC = 0o2000000;
const EPERM = 1;
const EBUSY = 16;
/** Frames are at most this long (a 64 KiB IP packet with its Ethernet and VLAN headers). */
const READ_BUFFER = 65536 + 18;

export interface TapNetBackendOptions {
  /** The interface name; "tap%d" (the default) lets the kernel number it. At most 15 bytes. */
  ifname?: string;
}

export class TapNetBackendError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "TapNetBackendError";
  }
}

interface Libc {
  koffi: { errno(): number };
  ioctl: (fd: number, request: number, type: string, arg: Uint8Array) => number;
  poll: ((fds: Uint8Array, count: number, timeout: number) => number) & {
    async(
      fds: Uint8Array,
      count: number,
      timeout: number,
      done: (error: unknown, result: number) => void,
    ): void;
  };
  read: (fd: number, buffer: Uint8Array, length: number) => number;
  write: (fd: number, buffer: Uint8Array, length: number) => number;
  pipe2: (fds: Int32Array, flags: number) => number;
}

let libcPromise: Promise<Libc> | undefined;

/** koffi and the libc functions, loaded once and only when a TAP backend is opened. */
function loadLibc(): Promise<Libc> {
  libcPromise ??= (async () => {
    const koffi = (await import("koffi")).default;
    const libc = koffi.load("libc.so.6");
    return {
      koffi,
      ioctl: libc.func("int ioctl(int fd, unsigned long request, ...)"),
      poll: libc.func("int poll(_Inout_ uint8_t *fds, unsigned long nfds, int timeout)"),
      read: libc.func("long read(int fd, _Out_ uint8_t *buf, unsigned long count)"),
      write: libc.func("long write(int fd, const uint8_t *buf, unsigned long count)"),
      pipe2: libc.func("int pipe2(_Out_ int *fds, int flags)"),
    } as unknown as Libc;
  })();
  return libcPromise;
}

export class TapNetBackend implements NetBackend {
  private receiver: ((frame: Uint8Array) => void) | undefined;
  private readonly readBuffer = new Uint8Array(READ_BUFFER);
  /** struct pollfd[2]: the TAP descriptor and the wake-up pipe's read end. */
  private readonly pollFds = new Uint8Array(16);
  private closed = false;
  private polling: Promise<void> | undefined;
  /** Frames the kernel refused (interface down, queue full). */
  sendDropped = 0;

  private constructor(
    private readonly libc: Libc,
    private readonly fd: number,
    private readonly wakeRead: number,
    private readonly wakeWrite: number,
    /** The name the kernel gave the interface. */
    readonly ifname: string,
  ) {
    const view = new DataView(this.pollFds.buffer);
    view.setInt32(0, fd, true);
    view.setInt16(4, POLLIN, true);
    view.setInt32(8, wakeRead, true);
    view.setInt16(12, POLLIN, true);
    this.polling = this.pollLoop();
  }

  /** Opens (or creates) the TAP interface; fails with a TapNetBackendError that says what to do. */
  static async open(options: TapNetBackendOptions = {}): Promise<TapNetBackend> {
    const ifname = options.ifname ?? "tap%d";
    const nameBytes = new TextEncoder().encode(ifname);
    if (nameBytes.length === 0 || nameBytes.length >= IFNAMSIZ || nameBytes.includes(0)) {
      throw new TapNetBackendError(`bad TAP interface name '${ifname}' (1 to ${IFNAMSIZ - 1} bytes)`);
    }
    const libc = await loadLibc();
    let fd: number;
    try {
      fd = openSync("/dev/net/tun", constants.O_RDWR | constants.O_NONBLOCK);
    } catch (e) {
      const code = (e as { code?: string }).code;
      const hint =
        code === "ENOENT"
          ? "the tun module is not loaded or /dev/net/tun is missing"
          : code === "EACCES" || code === "EPERM"
            ? "no permission to open it: run as root or give node CAP_NET_ADMIN"
            : String(e);
      throw new TapNetBackendError(`cannot open /dev/net/tun: ${hint}`);
    }
    const ifreq = new Uint8Array(IFREQ_SIZE);
    ifreq.set(nameBytes);
    new DataView(ifreq.buffer).setUint16(IFNAMSIZ, IFF_TAP | IFF_NO_PI, true);
    if (libc.ioctl(fd, TUNSETIFF, "uint8_t *", ifreq) < 0) {
      const errno = libc.koffi.errno();
      closeSync(fd);
      const why =
        errno === EPERM
          ? "operation not permitted: creating or attaching a TAP interface needs CAP_NET_ADMIN (run as root, or create it beforehand with `ip tuntap add dev NAME mode tap user USER`)"
          : errno === EBUSY
            ? "the interface is busy (another process has it open, or it is not a TAP interface)"
            : `errno ${errno}`;
      throw new TapNetBackendError(`TUNSETIFF '${ifname}' failed: ${why}`);
    }
    const pipe = new Int32Array(2);
    if (libc.pipe2(pipe, constants.O_NONBLOCK | O_CLOEXEC) < 0) {
      closeSync(fd);
      throw new TapNetBackendError(`pipe2 failed: errno ${libc.koffi.errno()}`);
    }
    const given = new TextDecoder().decode(ifreq.subarray(0, IFNAMSIZ)).replace(/\0.*$/s, "");
    return new TapNetBackend(libc, fd, pipe[0], pipe[1], given);
  }

  send(frame: Uint8Array): void {
    if (this.closed) return;
    // Non-blocking: a frame the interface cannot take now (down, queue full) is dropped, as by a NIC.
    if (this.libc.write(this.fd, frame, frame.length) !== frame.length) this.sendDropped++;
  }

  setReceiver(receiver: ((frame: Uint8Array) => void) | undefined): void {
    this.receiver = receiver;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.libc.write(this.wakeWrite, Uint8Array.of(1), 1);
    await this.polling;
    for (const fd of [this.fd, this.wakeRead, this.wakeWrite]) closeSync(fd);
  }

  private async pollLoop(): Promise<void> {
    while (!this.closed) {
      const ready = await new Promise<number>((resolve) =>
        this.libc.poll.async(this.pollFds, 2, -1, (error, result) => resolve(error ? -1 : result)),
      );
      // poll() failing (a descriptor gone bad) is not something a retry fixes: stop receiving rather than spin.
      if (this.closed || ready < 0) return;
      this.drain();
    }
  }

  /** Reads every frame waiting on the interface. */
  private drain(): void {
    for (;;) {
      // -1 with EAGAIN once the queue is empty (or any other error): wait for the next poll.
      const n = this.libc.read(this.fd, this.readBuffer, this.readBuffer.length);
      if (n <= 0) return;
      this.receiver?.(this.readBuffer.slice(0, n));
    }
  }
}

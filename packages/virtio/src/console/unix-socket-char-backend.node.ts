// QEMU's `-chardev socket,path=...,server=on,wait=off`: a Unix socket server the VM does not wait for. One client
// at a time (later ones are turned away while it is connected); output with no client connected is dropped; the
// socket file is replaced at start (as QEMU unlinks a stale one) and removed at close.
import { lstat, unlink } from "node:fs/promises";
import { createServer, type Server, type Socket } from "node:net";
import type { CharBackend } from "./char-backend.js";

export class UnixSocketCharBackend implements CharBackend {
  private client: Socket | undefined;
  private receiver: ((bytes: Uint8Array) => void) | undefined;
  private readonly clientWaiters: (() => void)[] = [];
  private closed = false;

  private constructor(
    private readonly server: Server,
    readonly path: string,
  ) {}

  /** Listens on `path`; resolves once listening, without waiting for a client. */
  static async listen(path: string): Promise<UnixSocketCharBackend> {
    await removeStaleSocket(path);
    const server = createServer();
    const backend = new UnixSocketCharBackend(server, path);
    server.on("connection", (socket) => backend.accept(socket));
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(path, () => {
        server.off("error", reject);
        resolve();
      });
    });
    server.on("error", () => undefined);
    return backend;
  }

  get connected(): boolean {
    return this.client !== undefined;
  }

  /** Resolves when a client is connected (at once if one is). */
  whenConnected(): Promise<void> {
    if (this.client) return Promise.resolve();
    return new Promise((resolve) => this.clientWaiters.push(resolve));
  }

  write(bytes: Uint8Array): void {
    this.client?.write(bytes);
  }

  onData(receiver: ((bytes: Uint8Array) => void) | undefined): void {
    this.receiver = receiver;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.client?.destroy();
    this.client = undefined;
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
    await unlink(this.path).catch(() => undefined);
  }

  private accept(socket: Socket): void {
    if (this.client || this.closed) {
      socket.destroy();
      return;
    }
    this.client = socket;
    socket.on("data", (chunk: Buffer) => this.receiver?.(new Uint8Array(chunk)));
    socket.on("error", () => undefined);
    socket.on("close", () => {
      if (this.client === socket) this.client = undefined;
    });
    for (const waiter of this.clientWaiters.splice(0)) waiter();
  }
}

/** Removes a socket file left by an earlier run; refuses to delete anything that is not a socket. */
async function removeStaleSocket(path: string): Promise<void> {
  const stats = await lstat(path).catch(() => undefined);
  if (!stats) return;
  if (!stats.isSocket()) throw new Error(`'${path}' exists and is not a socket`);
  await unlink(path);
}

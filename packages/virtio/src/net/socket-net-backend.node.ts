// QEMU's `-netdev socket,listen=host:port` and `-netdev socket,connect=host:port`: Ethernet frames over one TCP
// stream, each preceded by its 4-byte big-endian length, so a tsqemu and a QEMU (or two of either) can be wired
// together. As in QEMU's net/socket.c: a listener serves one peer at a time and accepts the next one after it
// leaves; frames sent while no peer is connected are dropped; a frame longer than 69632 bytes ends the connection;
// a connecting side does not reconnect.
import { createServer, type Server, type Socket, connect as tcpConnect } from "node:net";
import { encodeLengthPrefixedFrame, LengthPrefixedFrameReader } from "./length-prefixed-frames.js";
import type { NetBackend } from "./net-backend.js";

export interface SocketAddress {
  /** Host name or address; "" or undefined listens on every address (QEMU's `listen=:port`). */
  host?: string;
  port: number;
}

/** Bytes queued in the socket beyond which frames are dropped, like a NIC with a full transmit ring. */
const SEND_BUFFER_LIMIT = 1 << 20;

export class SocketNetBackend implements NetBackend {
  private socket: Socket | undefined;
  private receiver: ((frame: Uint8Array) => void) | undefined;
  private readonly connectionWaiters: (() => void)[] = [];
  private closed = false;

  private constructor(private readonly server: Server | undefined) {}

  /** Listens on `address` (port 0 picks a free one: see `address`); resolves once listening, before any peer. */
  static async listen(address: SocketAddress): Promise<SocketNetBackend> {
    const server = createServer();
    const backend = new SocketNetBackend(server);
    server.on("connection", (socket) => backend.accept(socket));
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen({ host: address.host || undefined, port: address.port }, () => {
        server.off("error", reject);
        resolve();
      });
    });
    // Later server errors (none are expected once listening) must not crash the process.
    server.on("error", () => undefined);
    return backend;
  }

  /** Connects to a listening peer; rejects if it cannot (QEMU fails to start then too). */
  static async connect(address: SocketAddress): Promise<SocketNetBackend> {
    const backend = new SocketNetBackend(undefined);
    const socket = tcpConnect({ host: address.host || "localhost", port: address.port });
    await new Promise<void>((resolve, reject) => {
      socket.once("error", reject);
      socket.once("connect", () => {
        socket.off("error", reject);
        resolve();
      });
    });
    backend.attach(socket);
    return backend;
  }

  /** Where a listening backend listens (with the port the system picked for port 0). */
  get address(): { host: string; port: number } | undefined {
    const bound = this.server?.address();
    return bound && typeof bound === "object" ? { host: bound.address, port: bound.port } : undefined;
  }

  /** Whether a peer is connected now. */
  get connected(): boolean {
    return this.socket !== undefined;
  }

  /** Resolves when a peer is connected (at once if one is). */
  whenConnected(): Promise<void> {
    if (this.socket) return Promise.resolve();
    return new Promise((resolve) => this.connectionWaiters.push(resolve));
  }

  send(frame: Uint8Array): void {
    const socket = this.socket;
    if (!socket || socket.writableLength > SEND_BUFFER_LIMIT) return;
    socket.write(encodeLengthPrefixedFrame(frame));
  }

  setReceiver(receiver: ((frame: Uint8Array) => void) | undefined): void {
    this.receiver = receiver;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.socket?.destroy();
    this.socket = undefined;
    const server = this.server;
    if (server?.listening) await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  private accept(socket: Socket): void {
    // One peer at a time, as QEMU stops accepting while connected.
    if (this.socket || this.closed) {
      socket.destroy();
      return;
    }
    this.attach(socket);
  }

  private attach(socket: Socket): void {
    this.socket = socket;
    socket.setNoDelay(true);
    const reader = new LengthPrefixedFrameReader((frame) => this.receiver?.(frame));
    socket.on("data", (chunk: Buffer) => {
      if (!reader.push(chunk)) socket.destroy();
    });
    socket.on("error", () => undefined);
    socket.on("close", () => {
      if (this.socket === socket) this.socket = undefined;
    });
    for (const waiter of this.connectionWaiters.splice(0)) waiter();
  }
}

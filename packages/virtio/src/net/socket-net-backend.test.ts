import { connect, createServer, type Socket } from "node:net";
import { afterEach, describe, expect, it, vi } from "vitest";
import {
  encodeLengthPrefixedFrame,
  LengthPrefixedFrameReader,
  MAX_SOCKET_FRAME,
} from "./length-prefixed-frames.js";
import { SocketNetBackend } from "./socket-net-backend.node.js";

const opened: { close(): Promise<void> }[] = [];
afterEach(async () => {
  for (const backend of opened.splice(0)) await backend.close();
});

async function listen(): Promise<SocketNetBackend> {
  const backend = await SocketNetBackend.listen({ host: "127.0.0.1", port: 0 });
  opened.push(backend);
  return backend;
}

function frame(length: number, seed: number): Uint8Array {
  return Uint8Array.from({ length }, (_, i) => (i * 31 + seed) & 0xff);
}

describe("length-prefixed frames", () => {
  it("reassembles frames split at every byte, skipping empty ones", () => {
    const frames = [frame(60, 1), new Uint8Array(0), frame(1500, 2), frame(1, 3)];
    const stream = Buffer.concat(frames.map((f) => encodeLengthPrefixedFrame(f)));
    for (const step of [1, 3, 7, 4096]) {
      const got: Uint8Array[] = [];
      const reader = new LengthPrefixedFrameReader((f) => got.push(f));
      for (let at = 0; at < stream.length; at += step)
        expect(reader.push(stream.subarray(at, at + step))).toBe(true);
      expect(got).toEqual([frames[0], frames[2], frames[3]]);
    }
  });

  it("fails for good on a frame longer than QEMU's buffer", () => {
    const got: Uint8Array[] = [];
    const reader = new LengthPrefixedFrameReader((f) => got.push(f));
    const oversized = new Uint8Array(4);
    new DataView(oversized.buffer).setUint32(0, MAX_SOCKET_FRAME + 1, false);
    expect(reader.push(oversized)).toBe(false);
    expect(reader.push(encodeLengthPrefixedFrame(frame(60, 1)))).toBe(false);
    expect(got).toEqual([]);
  });

  it("puts the length in front in big-endian order", () => {
    expect(Array.from(encodeLengthPrefixedFrame(Uint8Array.of(9, 8, 7)))).toEqual([0, 0, 0, 3, 9, 8, 7]);
  });
});

describe("SocketNetBackend", () => {
  it("exchanges frames both ways between a listening and a connecting instance over localhost TCP", async () => {
    const server = await listen();
    const address = server.address!;
    expect(address.port).toBeGreaterThan(0);
    const client = await SocketNetBackend.connect({ host: "127.0.0.1", port: address.port });
    opened.push(client);
    await server.whenConnected();

    const atServer: Uint8Array[] = [];
    const atClient: Uint8Array[] = [];
    server.setReceiver((f) => atServer.push(f));
    client.setReceiver((f) => atClient.push(f));
    const toServer = [frame(60, 1), frame(1514, 2), frame(9000, 3)];
    const toClient = [frame(64, 4), frame(65535, 5)];
    for (const f of toServer) client.send(f);
    for (const f of toClient) server.send(f);
    await vi.waitFor(() => expect(atServer.length + atClient.length).toBe(5));
    expect(atServer).toEqual(toServer);
    expect(atClient).toEqual(toClient);
  });

  it("speaks QEMU's framing to a plain TCP peer, drops frames while no peer is connected, and takes the next peer", async () => {
    const server = await listen();
    const received: Uint8Array[] = [];
    server.setReceiver((f) => received.push(f));
    expect(server.connected).toBe(false);
    server.send(frame(60, 1)); // no peer: dropped

    const peer = connect({ host: "127.0.0.1", port: server.address!.port });
    const bytes: Buffer[] = [];
    peer.on("data", (chunk) => bytes.push(chunk));
    await server.whenConnected();
    server.send(Uint8Array.of(1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14));
    await vi.waitFor(() => expect(Buffer.concat(bytes).length).toBe(18));
    expect(Array.from(Buffer.concat(bytes).subarray(0, 4))).toEqual([0, 0, 0, 14]);
    // A frame whose length and body arrive in separate segments.
    peer.write(Buffer.from([0, 0, 0, 3, 0xaa]));
    await new Promise((resolve) => setTimeout(resolve, 20));
    peer.write(Buffer.from([0xbb, 0xcc]));
    await vi.waitFor(() => expect(received).toEqual([Uint8Array.of(0xaa, 0xbb, 0xcc)]));

    // A second peer is turned away while the first is connected.
    const second = connect({ host: "127.0.0.1", port: server.address!.port });
    await new Promise<void>((resolve) => second.on("close", () => resolve()).on("error", () => undefined));

    peer.destroy();
    await vi.waitFor(() => expect(server.connected).toBe(false));
    const third: Socket = connect({ host: "127.0.0.1", port: server.address!.port });
    await server.whenConnected();
    third.write(Buffer.from(encodeLengthPrefixedFrame(frame(20, 7))));
    await vi.waitFor(() => expect(received.length).toBe(2));
    expect(received[1]).toEqual(frame(20, 7));
    third.destroy();
  });

  it("drops the connection of a peer that sends an oversized frame", async () => {
    const server = await listen();
    const peer = connect({ host: "127.0.0.1", port: server.address!.port });
    peer.on("error", () => undefined);
    await server.whenConnected();
    const closed = new Promise<void>((resolve) => peer.on("close", () => resolve()));
    peer.write(Buffer.from([0x00, 0x02, 0x00, 0x00]));
    await closed;
    expect(server.connected).toBe(false);
  });

  it("fails to connect when nobody listens", async () => {
    const probe = createServer();
    await new Promise<void>((resolve) => probe.listen(0, "127.0.0.1", () => resolve()));
    const { port } = probe.address() as { port: number };
    await new Promise<void>((resolve) => probe.close(() => resolve()));
    await expect(SocketNetBackend.connect({ host: "127.0.0.1", port })).rejects.toThrow(/ECONNREFUSED/);
  });
});

describe("two virtio-net devices wired by socket backends", () => {
  it("carries a frame from one guest's tx queue to the other guest's rx buffer", async () => {
    const { VirtioNet, NET_HEADER_SIZE } = await import("./virtio-net.js");
    const { DeviceBench } = await import("../device-bench.test-support.js");
    const serverLink = await listen();
    const clientLink = await SocketNetBackend.connect({ host: "127.0.0.1", port: serverLink.address!.port });
    opened.push(clientLink);
    await serverLink.whenConnected();
    const a = new DeviceBench(new VirtioNet({ backend: serverLink, mac: "52:54:00:00:00:01" }));
    const b = new DeviceBench(new VirtioNet({ backend: clientLink, mac: "52:54:00:00:00:02" }), {
      packed: true,
    });
    const rx = b.offer(0, { writable: [NET_HEADER_SIZE + 1514] });
    b.kick(0);
    const payload = frame(98, 42);
    a.submit(1, { readable: [new Uint8Array(NET_HEADER_SIZE), payload] });
    await vi.waitFor(() => expect(b.usedLength(rx)).toBe(NET_HEADER_SIZE + 98));
    expect(b.writtenBytes(rx).subarray(NET_HEADER_SIZE, NET_HEADER_SIZE + 98)).toEqual(payload);
  });
});

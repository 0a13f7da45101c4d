import { describe, expect, it } from "vitest";
import { VirtioDeviceId, VirtioFeature } from "../constants.js";
import { DeviceBench } from "../device-bench.test-support.js";
import { featureWords, hasFeature } from "../features.js";
import type { NetBackend } from "./net-backend.js";
import { MAX_FRAME_SIZE, NET_HEADER_SIZE, NetFeature, NetStatus, parseMac, VirtioNet } from "./virtio-net.js";

/** A backend that records what the guest sent and lets the test inject frames. */
class RecordingNetBackend implements NetBackend {
  readonly sent: Uint8Array[] = [];
  receiver: ((frame: Uint8Array) => void) | undefined;

  send(frame: Uint8Array): void {
    this.sent.push(frame);
  }

  setReceiver(receiver: ((frame: Uint8Array) => void) | undefined): void {
    this.receiver = receiver;
  }

  inject(frame: Uint8Array): void {
    this.receiver?.(frame);
  }

  async close(): Promise<void> {}
}

function frame(length: number, seed = 1): Uint8Array {
  const bytes = new Uint8Array(length);
  for (let i = 0; i < length; i++) bytes[i] = (i * 13 + seed) & 0xff;
  return bytes;
}

function setUp(options: { rxBacklog?: number } = {}) {
  const backend = new RecordingNetBackend();
  const device = new VirtioNet({ backend, mac: "02:00:00:aa:bb:cc", rxBacklog: options.rxBacklog });
  const bench = new DeviceBench(device);
  return { backend, device, bench };
}

const RX = 0;
const TX = 1;

describe("virtio-net configuration", () => {
  it("offers MAC, STATUS, VERSION_1 and the ring features, and no offloads", () => {
    const { device } = setUp();
    expect(device.deviceType).toBe(VirtioDeviceId.Network);
    expect(device.queueMaxSizes).toEqual([256, 256]);
    for (const bit of [
      NetFeature.Mac,
      NetFeature.Status,
      VirtioFeature.Version1,
      VirtioFeature.RingIndirectDesc,
      VirtioFeature.RingEventIdx,
      VirtioFeature.RingPacked,
    ]) {
      expect(hasFeature(device.features, bit)).toBe(true);
    }
    for (const bit of [
      NetFeature.Csum,
      NetFeature.GuestCsum,
      NetFeature.MergeRxBuffers,
      NetFeature.ControlQueue,
    ]) {
      expect(hasFeature(device.features, bit)).toBe(false);
    }
    expect(device.ackFeatures(featureWords(NetFeature.Mac))).toBe(false);
    expect(device.ackFeatures(featureWords(VirtioFeature.Version1))).toBe(true);
  });

  it("exposes the MAC and LINK_UP, and signals a config change when the link goes down", () => {
    const { device, bench } = setUp();
    const config = new Uint8Array(8);
    device.readConfig(0, config);
    expect(Array.from(config)).toEqual([0x02, 0, 0, 0xaa, 0xbb, 0xcc, NetStatus.LinkUp, 0]);
    device.writeConfig(0, new Uint8Array(6));
    device.readConfig(0, config);
    expect(config[0]).toBe(0x02);
    device.setLinkUp(false);
    device.setLinkUp(false);
    device.readConfig(6, config.subarray(0, 2));
    expect(config[0]).toBe(0);
    expect(bench.configChanges).toBe(1);
  });

  it("parses MAC addresses and rejects malformed ones", () => {
    expect(Array.from(parseMac("52-54-00-12-34-5F"))).toEqual([0x52, 0x54, 0, 0x12, 0x34, 0x5f]);
    for (const bad of ["52:54:00:12:34", "52:54:00:12:34:567", "zz:54:00:12:34:56", ""]) {
      expect(() => parseMac(bad)).toThrow(RangeError);
    }
    expect(() => new VirtioNet({ backend: new RecordingNetBackend(), mac: new Uint8Array(5) })).toThrow(
      RangeError,
    );
  });
});

describe("virtio-net transmit", () => {
  it("hands the frame after the 12-byte header to the backend, gathered across buffers", () => {
    const { backend, device, bench } = setUp();
    const data = frame(100);
    const header = new Uint8Array(NET_HEADER_SIZE);
    const sent = bench.submit(TX, {
      readable: [header.subarray(0, 5), concat(header.subarray(5), data.subarray(0, 30)), data.subarray(30)],
    });
    expect(backend.sent).toEqual([data]);
    expect(bench.usedLength(sent)).toBe(0);
    expect(bench.interrupts).toEqual([TX]);
    expect(device.counters.txFrames).toBe(1);
  });

  it("drops chains without a whole frame, too long, malformed or outside RAM, and still returns them", () => {
    const { backend, device, bench } = setUp();
    const header = new Uint8Array(NET_HEADER_SIZE);
    const requests = [
      bench.offer(TX, { readable: [header.subarray(0, 8)] }),
      bench.offer(TX, { readable: [header, frame(13)] }),
      bench.offer(TX, { readable: [header, frame(MAX_FRAME_SIZE + 1)] }),
      bench.offer(TX, { error: "descriptor loop" }),
      bench.offer(TX, { readable: [header, frame(60)], outsideRam: 1 }),
      bench.offer(TX, { writable: [100] }),
    ];
    bench.kick(TX);
    expect(backend.sent).toEqual([]);
    expect(requests.map((r) => bench.usedLength(r))).toEqual([0, 0, 0, 0, 0, 0]);
    expect(device.counters.txDropped).toBe(6);
  });

  it("does nothing before activation or after reset", () => {
    const backend = new RecordingNetBackend();
    const device = new VirtioNet({ backend });
    expect(() => device.queueNotify(TX)).not.toThrow();
    const bench = new DeviceBench(device);
    device.reset();
    bench.submit(TX, { readable: [new Uint8Array(NET_HEADER_SIZE), frame(60)] });
    expect(backend.sent).toEqual([]);
    expect(bench.used(TX)).toEqual([]);
  });
});

describe("virtio-net receive", () => {
  it("writes the header (num_buffers 1) and the frame into a posted rx buffer", () => {
    const { backend, device, bench } = setUp();
    const buffer = bench.offer(RX, { writable: [NET_HEADER_SIZE + 1514] });
    const data = frame(60, 9);
    backend.inject(data);
    expect(bench.usedLength(buffer)).toBe(NET_HEADER_SIZE + 60);
    const out = bench.writtenBytes(buffer);
    expect(Array.from(out.subarray(0, NET_HEADER_SIZE))).toEqual([0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0]);
    expect(out.subarray(NET_HEADER_SIZE, NET_HEADER_SIZE + 60)).toEqual(data);
    expect(bench.interrupts).toEqual([RX]);
    expect(device.counters.rxFrames).toBe(1);
  });

  it("keeps frames while no buffer is posted and delivers them, in order, when the driver kicks rx", () => {
    const { backend, bench } = setUp();
    backend.inject(frame(60, 1));
    backend.inject(frame(70, 2));
    const first = bench.offer(RX, { writable: [6, 200] });
    const second = bench.offer(RX, { writable: [200] });
    bench.kick(RX);
    expect(bench.usedLength(first)).toBe(NET_HEADER_SIZE + 60);
    expect(bench.usedLength(second)).toBe(NET_HEADER_SIZE + 70);
    expect(bench.writtenBytes(first).subarray(NET_HEADER_SIZE, NET_HEADER_SIZE + 60)).toEqual(frame(60, 1));
    expect(bench.writtenBytes(second).subarray(NET_HEADER_SIZE, NET_HEADER_SIZE + 70)).toEqual(frame(70, 2));
  });

  it("bounds the backlog: frames beyond it are dropped", () => {
    const { backend, device, bench } = setUp({ rxBacklog: 2 });
    for (let i = 0; i < 5; i++) backend.inject(frame(60, i));
    const buffers = [0, 1, 2].map(() => bench.offer(RX, { writable: [2048] }));
    bench.kick(RX);
    expect(buffers.map((b) => bench.usedLength(b))).toEqual([72, 72, undefined]);
    expect(bench.writtenBytes(buffers[1]).subarray(NET_HEADER_SIZE, 72)).toEqual(frame(60, 1));
    expect(device.counters.rxDropped).toBe(3);
  });

  it("drops a frame that does not fit and keeps the buffer for the next frame", () => {
    const { backend, device, bench } = setUp();
    const buffer = bench.offer(RX, { writable: [NET_HEADER_SIZE + 100] });
    backend.inject(frame(101, 1));
    expect(bench.usedLength(buffer)).toBeUndefined();
    backend.inject(frame(100, 2));
    expect(bench.usedLength(buffer)).toBe(NET_HEADER_SIZE + 100);
    expect(bench.writtenBytes(buffer).subarray(NET_HEADER_SIZE)).toEqual(frame(100, 2));
    expect(device.counters).toMatchObject({ rxFrames: 1, rxDropped: 1 });
  });

  it("returns rx chains that are malformed, too small for any frame, or outside RAM, with length 0", () => {
    const { backend, device, bench } = setUp();
    const malformed = bench.offer(RX, { error: "bad" });
    const tiny = bench.offer(RX, { writable: [NET_HEADER_SIZE + 13] });
    const outside = bench.offer(RX, { writable: [2048], outsideRam: 0 });
    const good = bench.offer(RX, { writable: [2048] });
    backend.inject(frame(60, 1));
    backend.inject(frame(60, 2));
    expect([malformed, tiny, outside].map((c) => bench.usedLength(c))).toEqual([0, 0, 0]);
    expect(bench.usedLength(good)).toBe(72);
    expect(bench.writtenBytes(good).subarray(NET_HEADER_SIZE, 72)).toEqual(frame(60, 2));
    expect(device.counters).toMatchObject({ rxFrames: 1, rxDropped: 1 });
  });

  it("drops frames while not activated, runts and giants, and forgets the backlog on reset", () => {
    const backend = new RecordingNetBackend();
    const device = new VirtioNet({ backend });
    backend.inject(frame(60));
    expect(device.counters.rxDropped).toBe(1);
    const bench = new DeviceBench(device);
    backend.inject(frame(13));
    backend.inject(frame(MAX_FRAME_SIZE + 1));
    expect(device.counters.rxDropped).toBe(3);
    backend.inject(frame(60, 5));
    device.reset();
    bench.activate(device.features);
    const buffer = bench.offer(RX, { writable: [2048] });
    bench.kick(RX);
    expect(bench.usedLength(buffer)).toBeUndefined();
    backend.inject(frame(64, 6));
    expect(bench.writtenBytes(buffer).subarray(NET_HEADER_SIZE, NET_HEADER_SIZE + 64)).toEqual(frame(64, 6));
  });

  it("copies an injected frame, so the backend may reuse its buffer", () => {
    const { backend, bench } = setUp();
    const data = frame(60, 3);
    backend.inject(data);
    data.fill(0);
    const buffer = bench.offer(RX, { writable: [2048] });
    bench.kick(RX);
    expect(bench.writtenBytes(buffer).subarray(NET_HEADER_SIZE, 72)).toEqual(frame(60, 3));
  });
});

function concat(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((sum, p) => sum + p.length, 0));
  let at = 0;
  for (const part of parts) {
    out.set(part, at);
    at += part.length;
  }
  return out;
}

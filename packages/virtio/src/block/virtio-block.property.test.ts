// Random request chains against virtio-blk on real queues: nothing throws, every chain comes back exactly once,
// and each status (and the data read or written) is what an independent model of the spec says.
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { VirtioFeature } from "../constants.js";
import { DeviceBench, type Request, type Submitted, settle } from "../device-bench.test-support.js";
import { featureWords } from "../features.js";
import { blockHeader, pattern } from "./block-request.test-support.js";
import { MemoryBlockBackend } from "./memory-block-backend.js";
import { BlockFeature, BlockRequestType, BlockStatus, VirtioBlock } from "./virtio-block.js";

const SECTORS = 32;
const SERIAL = "prop-serial";

const sectorArb = fc.oneof(
  fc.integer({ min: 0, max: SECTORS + 2 }),
  fc.constantFrom(SECTORS - 2, SECTORS - 1, SECTORS),
  fc.constantFrom(2 ** 32 - 1, 2 ** 32, 2 ** 53 - 1, 2 ** 63),
);
const dataLengthArb = fc.oneof(
  { arbitrary: fc.constantFrom(0, 512, 1024, 2048), weight: 3 },
  { arbitrary: fc.integer({ min: 0, max: 1100 }), weight: 1 },
);
const segmentArb = fc.record({
  sector: sectorArb,
  sectors: fc.oneof(fc.integer({ min: 0, max: 4 }), fc.constant(0x10_0000)),
  flags: fc.constantFrom(0, 0, 1, 2),
});

interface Generated {
  type: number;
  sector: number;
  /** Bytes after the header (OUT data or discard segments). */
  payload: Uint8Array;
  /** Cut the header to this many bytes (16 = whole). */
  headerBytes: number;
  /** Writable buffer sizes (the last byte of the last is the status). */
  writable: number[];
  /** How the readable bytes are split into buffers. */
  readableSplit: number;
  outsideRam: number | undefined;
  error: boolean;
}

const requestArb: fc.Arbitrary<Generated> = fc
  .record({
    type: fc.oneof(
      fc.constantFrom(
        BlockRequestType.In,
        BlockRequestType.Out,
        BlockRequestType.Flush,
        BlockRequestType.GetId,
        BlockRequestType.Discard,
        BlockRequestType.WriteZeroes,
      ),
      fc.integer({ min: 0, max: 2 ** 32 - 1 }),
    ),
    sector: sectorArb,
    dataLength: dataLengthArb,
    segments: fc.array(segmentArb, { minLength: 0, maxLength: 3 }),
    rawSegments: fc.boolean(),
    headerBytes: fc.oneof(fc.constant(16), fc.integer({ min: 0, max: 16 })),
    extraWritable: fc.oneof(
      { arbitrary: fc.constant([]), weight: 3 },
      { arbitrary: fc.array(fc.integer({ min: 0, max: 600 }), { maxLength: 2 }), weight: 1 },
    ),
    statusBytes: fc.constantFrom(0, 1, 1, 1, 2),
    readableSplit: fc.integer({ min: 1, max: 3 }),
    outsideRam: fc.oneof(
      { arbitrary: fc.constant(undefined), weight: 4 },
      { arbitrary: fc.integer({ min: 0, max: 5 }), weight: 1 },
    ),
    error: fc.integer({ min: 0, max: 9 }).map((n) => n === 0),
  })
  .map((r) => {
    const isSegments = r.type === BlockRequestType.Discard || r.type === BlockRequestType.WriteZeroes;
    let payload: Uint8Array;
    if (isSegments && !r.rawSegments) payload = encodeSegments(r.segments);
    else if (r.type === BlockRequestType.Out || (isSegments && r.rawSegments))
      payload = pattern(r.dataLength, r.sector & 0xff);
    else payload = new Uint8Array(0);
    const inData = r.type === BlockRequestType.In || r.type === BlockRequestType.GetId ? [r.dataLength] : [];
    const writable = [...inData, ...r.extraWritable, ...(r.statusBytes > 0 ? [r.statusBytes] : [])];
    // A chain has at least one buffer, if only an empty one.
    if (writable.length === 0 && r.headerBytes + payload.length === 0) writable.push(0);
    return {
      type: r.type,
      sector: r.sector,
      payload,
      headerBytes: r.headerBytes,
      writable,
      readableSplit: r.readableSplit,
      outsideRam: r.outsideRam ?? undefined,
      error: r.error,
    };
  });

function encodeSegments(segments: { sector: number; sectors: number; flags: number }[]): Uint8Array {
  const bytes = new Uint8Array(segments.length * 16);
  const view = new DataView(bytes.buffer);
  segments.forEach((s, i) => {
    view.setUint32(i * 16, s.sector % 2 ** 32, true);
    view.setUint32(i * 16 + 4, Math.floor(s.sector / 2 ** 32) % 2 ** 32, true);
    view.setUint32(i * 16 + 8, s.sectors, true);
    view.setUint32(i * 16 + 12, s.flags, true);
  });
  return bytes;
}

/** The request as the bench takes it, and which buffer (if any) faults: -1 for none. */
function readableBytes(g: Generated): Uint8Array {
  const readable = new Uint8Array(g.headerBytes + g.payload.length);
  readable.set(blockHeader(g.type, g.sector).subarray(0, g.headerBytes));
  readable.set(g.payload, g.headerBytes);
  return readable;
}

function toRequest(g: Generated): Request & { statusBuffer: number } {
  const readable = readableBytes(g);
  const cut = Math.ceil(readable.length / g.readableSplit);
  const pieces: Uint8Array[] = [];
  for (let at = 0; at < readable.length; at += cut) pieces.push(readable.subarray(at, at + cut));
  const buffers = pieces.length + g.writable.length;
  return {
    readable: pieces,
    writable: g.writable,
    outsideRam: g.outsideRam !== undefined && g.outsideRam < buffers ? g.outsideRam : undefined,
    error: g.error ? "malformed" : undefined,
    statusBuffer: buffers - 1,
  };
}

interface Expected {
  /** The used length; undefined for "IOERR because a faulting buffer was hit" being also acceptable. */
  length: number;
  status: number | undefined;
}

/** The model: what the spec (and this device's documented limits) say a request must get. */
function expectedOutcome(g: Generated, disk: Uint8Array, readOnly: boolean): Expected {
  const writableTotal = g.writable.reduce((a, b) => a + b, 0);
  if (g.error || writableTotal === 0) return { length: 0, status: undefined };
  // Decode what the device will actually see: a cut header runs into the payload.
  const readable = readableBytes(g);
  const readableTotal = readable.length;
  const dataIn = writableTotal - 1;
  const io = { length: 1, status: BlockStatus.IoError };
  const ok = (data = 0) => ({ length: data + 1, status: BlockStatus.Ok });
  if (readableTotal < 16) return io;
  const header = new DataView(readable.buffer, readable.byteOffset, 16);
  const type = header.getUint32(0, true);
  const sector = header.getUint32(8, true) + header.getUint32(12, true) * 2 ** 32;
  const payload = readable.subarray(16);
  const range = (start: number, bytes: number) =>
    bytes % 512 === 0 && start <= SECTORS && bytes / 512 <= SECTORS - start;
  switch (type) {
    case BlockRequestType.In:
      return range(sector, dataIn) ? ok(dataIn) : io;
    case BlockRequestType.Out: {
      const bytes = readableTotal - 16;
      if (readOnly || !range(sector, bytes)) return io;
      disk.set(payload, sector * 512);
      return ok();
    }
    case BlockRequestType.Flush:
      return ok();
    case BlockRequestType.GetId:
      return ok(Math.min(20, dataIn));
    case BlockRequestType.Discard:
    case BlockRequestType.WriteZeroes: {
      if (readOnly) return { length: 1, status: BlockStatus.Unsupported };
      const bytes = readableTotal - 16;
      if (bytes === 0 || bytes % 16 !== 0 || bytes / 16 > 32) return io;
      const view = new DataView(payload.buffer, payload.byteOffset, payload.byteLength);
      const discard = type === BlockRequestType.Discard;
      const ranges: [number, number][] = [];
      for (let at = 0; at < bytes; at += 16) {
        const sector = view.getUint32(at, true) + view.getUint32(at + 4, true) * 2 ** 32;
        const sectors = view.getUint32(at + 8, true);
        const flags = view.getUint32(at + 12, true);
        if ((flags & ~1) !== 0 || (discard && flags !== 0))
          return { length: 1, status: BlockStatus.Unsupported };
        if (sectors > (discard ? 0x40_0000 : 0x4_0000) || !range(sector, sectors * 512)) return io;
        ranges.push([sector * 512, sectors * 512]);
      }
      for (const [offset, length] of ranges) disk.fill(0, offset, offset + length);
      return ok();
    }
    default:
      return { length: 1, status: BlockStatus.Unsupported };
  }
}

describe("virtio-blk under random requests", () => {
  it("never throws, returns every chain once, and answers as the model says", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(requestArb, { minLength: 1, maxLength: 12 }),
        fc.boolean(),
        fc.boolean(),
        fc.boolean(),
        fc.boolean(),
        async (requests, readOnly, packed, flushNegotiated, sequential) => {
          const backend = new MemoryBlockBackend(pattern(SECTORS * 512, 9));
          const model = backend.bytes.slice();
          const device = new VirtioBlock({ backend, serial: SERIAL, readOnly });
          const bits: number[] = [VirtioFeature.Version1, BlockFeature.Discard, BlockFeature.WriteZeroes];
          if (flushNegotiated) bits.push(BlockFeature.Flush);
          const bench = new DeviceBench(device, { packed, features: featureWords(...bits) });
          // Batched requests run concurrently, so only their statuses are checked; sequential ones also have their
          // data checked against the model.
          const submitted: Submitted[] = [];
          for (const g of requests) {
            submitted.push(bench.offer(0, toRequest(g)));
            if (sequential) {
              expect(() => bench.kick(0)).not.toThrow();
              await settle(4);
            }
          }
          expect(() => bench.kick(0)).not.toThrow();
          await settle(10);
          // Every chain comes back exactly once (the driver harness throws on an id returned twice).
          expect(bench.used(0).length).toBe(requests.length);

          requests.forEach((g, i) => {
            const request = toRequest(g);
            const poisoned = !g.error && request.outsideRam !== undefined;
            const snapshot = model.slice();
            const expected = expectedOutcome(g, model, readOnly);
            const length = bench.usedLength(submitted[i])!;
            const out = bench.writtenBytes(submitted[i]);
            if (poisoned) {
              // A faulting buffer may turn the request into IOERR, or (holding the status) into length 0; the
              // model's disk follows whatever the device did for a write that faulted part-way.
              if (length === 0) {
                expect(expected.length === 0 || request.outsideRam === request.statusBuffer).toBe(true);
              } else {
                expect([expected.status, BlockStatus.IoError]).toContain(out[out.length - 1]);
              }
              model.set(backend.bytes);
              return;
            }
            expect({ index: i, length }).toEqual({ index: i, length: expected.length });
            if (expected.status !== undefined) expect(out[out.length - 1]).toBe(expected.status);
            const whole = g.headerBytes === 16;
            if (sequential && whole && g.type === BlockRequestType.In && expected.status === BlockStatus.Ok) {
              const dataIn = out.length - 1;
              expect(
                Buffer.from(out.subarray(0, dataIn)).equals(
                  snapshot.subarray(g.sector * 512, g.sector * 512 + dataIn),
                ),
              ).toBe(true);
            }
            if (whole && g.type === BlockRequestType.GetId && expected.status === BlockStatus.Ok) {
              const id = new Uint8Array(20);
              id.set(new TextEncoder().encode(SERIAL));
              expect(Array.from(out.subarray(0, expected.length - 1))).toEqual(
                Array.from(id.subarray(0, expected.length - 1)),
              );
            }
          });
          if (sequential) expect(Buffer.from(backend.bytes).equals(model)).toBe(true);
        },
      ),
      { numRuns: 250 },
    );
  });
});

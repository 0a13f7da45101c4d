import { describe, expect, it, vi } from "vitest";
import { VirtioDeviceId, VirtioFeature } from "../constants.js";
import { DeviceBench, settle } from "../device-bench.test-support.js";
import { featureWords, hasFeature } from "../features.js";
import { BlockBackendError } from "./block-backend.js";
import { blockHeader, blockSegments, GatedBlockBackend, pattern } from "./block-request.test-support.js";
import { MemoryBlockBackend } from "./memory-block-backend.js";
import { BlockFeature, BlockRequestType, BlockStatus, VirtioBlock } from "./virtio-block.js";

const DISK_SIZE = 64 * 512;

function setUp(options: { readOnly?: boolean; serial?: string; size?: number } = {}) {
  const backend = new MemoryBlockBackend(pattern(options.size ?? DISK_SIZE, 3));
  const device = new VirtioBlock({ backend, serial: options.serial, readOnly: options.readOnly });
  const bench = new DeviceBench(device);
  return { backend, device, bench };
}

function configU32(device: VirtioBlock, offset: number): number {
  const bytes = new Uint8Array(4);
  device.readConfig(offset, bytes);
  return new DataView(bytes.buffer).getUint32(0, true);
}

describe("virtio-blk configuration and features", () => {
  it("reports capacity in 512-byte sectors, seg_max, blk_size and the discard limits", () => {
    const { device } = setUp({ size: DISK_SIZE + 100 });
    expect(device.deviceType).toBe(VirtioDeviceId.Block);
    expect(device.queueMaxSizes).toEqual([256]);
    expect(configU32(device, 0)).toBe(64);
    expect(configU32(device, 4)).toBe(0);
    expect(configU32(device, 12)).toBe(254);
    expect(configU32(device, 20)).toBe(512);
    expect(configU32(device, 36)).toBeGreaterThan(0);
    expect(configU32(device, 40)).toBeGreaterThan(0);
    expect(configU32(device, 44)).toBe(1);
    for (const bit of [
      VirtioFeature.Version1,
      VirtioFeature.RingIndirectDesc,
      VirtioFeature.RingEventIdx,
      VirtioFeature.RingPacked,
      BlockFeature.SegMax,
      BlockFeature.BlockSize,
      BlockFeature.Flush,
      BlockFeature.Discard,
      BlockFeature.WriteZeroes,
    ]) {
      expect(hasFeature(device.features, bit), `bit ${bit}`).toBe(true);
    }
    expect(hasFeature(device.features, BlockFeature.ReadOnly)).toBe(false);
  });

  it("reads a capacity above 4 GiB sectors as two 32-bit halves", () => {
    const size = 2 ** 32 * 512 + 512 * 3;
    const backend = {
      size,
      readOnly: true,
      read: async () => {},
      write: async () => {},
      flush: async () => {},
      close: async () => {},
    };
    const device = new VirtioBlock({ backend });
    expect(configU32(device, 0)).toBe(3);
    expect(configU32(device, 4)).toBe(1);
  });

  it("offers RO and neither DISCARD nor WRITE_ZEROES when read-only", () => {
    const { device } = setUp({ readOnly: true });
    expect(hasFeature(device.features, BlockFeature.ReadOnly)).toBe(true);
    expect(hasFeature(device.features, BlockFeature.Discard)).toBe(false);
    expect(hasFeature(device.features, BlockFeature.WriteZeroes)).toBe(false);
  });

  it("offers DISCARD only when the backend can discard", () => {
    const backend = new MemoryBlockBackend(DISK_SIZE);
    const noDiscard = {
      size: backend.size,
      readOnly: false,
      read: backend.read.bind(backend),
      write: backend.write.bind(backend),
      flush: backend.flush.bind(backend),
      close: backend.close.bind(backend),
    };
    expect(hasFeature(new VirtioBlock({ backend: noDiscard }).features, BlockFeature.Discard)).toBe(false);
  });

  it("refuses a driver that does not accept VERSION_1, and ignores config writes", () => {
    const { device } = setUp();
    expect(device.ackFeatures(featureWords(BlockFeature.Flush))).toBe(false);
    expect(device.ackFeatures(featureWords(VirtioFeature.Version1, BlockFeature.Flush))).toBe(true);
    device.writeConfig(0, new Uint8Array([0xff, 0xff, 0xff, 0xff]));
    expect(configU32(device, 0)).toBe(64);
  });
});

describe("virtio-blk requests", () => {
  it("reads sectors into a chain of several buffers and reports data + status as written", async () => {
    const { backend, bench } = setUp();
    const request = bench.submit(0, {
      readable: [blockHeader(BlockRequestType.In, 2)],
      writable: [300, 724, 1],
    });
    await settle();
    expect(bench.usedLength(request)).toBe(1025);
    const out = bench.writtenBytes(request);
    expect(out.subarray(0, 1024)).toEqual(backend.bytes.subarray(1024, 2048));
    expect(out[1024]).toBe(BlockStatus.Ok);
    expect(bench.interrupts).toEqual([0]);
  });

  it("writes sectors gathered from several buffers", async () => {
    const { backend, bench } = setUp();
    const data = pattern(1024, 99);
    const request = bench.submit(0, {
      readable: [blockHeader(BlockRequestType.Out, 5), data.subarray(0, 100), data.subarray(100)],
      writable: [1],
    });
    await settle();
    expect(bench.usedLength(request)).toBe(1);
    expect(bench.writtenBytes(request)).toEqual(Uint8Array.of(BlockStatus.Ok));
    expect(backend.bytes.subarray(5 * 512, 7 * 512)).toEqual(data);
  });

  it("answers GET_ID with the serial, NUL-padded to 20 bytes", async () => {
    const { bench } = setUp({ serial: "disk-0" });
    const request = bench.submit(0, { readable: [blockHeader(BlockRequestType.GetId)], writable: [20, 1] });
    await settle();
    expect(bench.usedLength(request)).toBe(21);
    const out = bench.writtenBytes(request);
    expect(new TextDecoder().decode(out.subarray(0, 6))).toBe("disk-0");
    expect(out.subarray(6, 20).every((b) => b === 0)).toBe(true);
    expect(out[20]).toBe(BlockStatus.Ok);
  });

  it("cuts a long serial to 20 bytes and writes only what a short GET_ID buffer holds", async () => {
    const { bench } = setUp({ serial: "0123456789abcdefghijKLMN" });
    const full = bench.submit(0, { readable: [blockHeader(BlockRequestType.GetId)], writable: [21] });
    const short = bench.submit(0, { readable: [blockHeader(BlockRequestType.GetId)], writable: [5] });
    await settle();
    expect(new TextDecoder().decode(bench.writtenBytes(full).subarray(0, 20))).toBe("0123456789abcdefghij");
    expect(bench.usedLength(short)).toBe(5);
    expect(bench.writtenBytes(short)).toEqual(Uint8Array.of(0x30, 0x31, 0x32, 0x33, BlockStatus.Ok));
  });

  it("answers unknown and unimplemented request types with UNSUPP", async () => {
    const { bench } = setUp();
    for (const type of [BlockRequestType.GetLifetime, BlockRequestType.SecureErase, 2, 0xffffffff]) {
      const request = bench.submit(0, { readable: [blockHeader(type)], writable: [8] });
      await settle();
      expect(bench.usedLength(request)).toBe(1);
      expect(bench.writtenBytes(request)[7]).toBe(BlockStatus.Unsupported);
    }
  });

  it("refuses reads and writes past the end, of partial sectors, or at huge sector numbers with IOERR", async () => {
    const { backend, bench } = setUp();
    const before = backend.bytes.slice();
    const requests = [
      { readable: [blockHeader(BlockRequestType.In, 63)], writable: [1024, 1] },
      { readable: [blockHeader(BlockRequestType.In, 64)], writable: [512, 1] },
      { readable: [blockHeader(BlockRequestType.In, 0)], writable: [100, 1] },
      { readable: [blockHeader(BlockRequestType.In, 0xffffffff, 0xffffffff)], writable: [512, 1] },
      { readable: [blockHeader(BlockRequestType.In, 0, 1)], writable: [512, 1] },
      { readable: [blockHeader(BlockRequestType.Out, 63), new Uint8Array(1024)], writable: [1] },
      { readable: [blockHeader(BlockRequestType.Out, 2 ** 53 - 1), new Uint8Array(512)], writable: [1] },
      { readable: [blockHeader(BlockRequestType.Out, 0), new Uint8Array(511)], writable: [1] },
    ];
    const submitted = requests.map((r) => bench.submit(0, r));
    await settle();
    for (const request of submitted) {
      expect(bench.usedLength(request)).toBe(1);
      const out = bench.writtenBytes(request);
      expect(out[out.length - 1]).toBe(BlockStatus.IoError);
      // Nothing was read into the data buffers either.
      expect(out.subarray(0, out.length - 1).every((b) => b === 0xee)).toBe(true);
    }
    expect(backend.bytes).toEqual(before);
  });

  it("accepts a read that ends exactly at the last sector and an empty read", async () => {
    const { bench } = setUp();
    const last = bench.submit(0, { readable: [blockHeader(BlockRequestType.In, 63)], writable: [512, 1] });
    const empty = bench.submit(0, { readable: [blockHeader(BlockRequestType.In, 64)], writable: [1] });
    await settle();
    expect(bench.writtenBytes(last)[512]).toBe(BlockStatus.Ok);
    expect(bench.writtenBytes(empty)).toEqual(Uint8Array.of(BlockStatus.Ok));
  });

  it("refuses writes on a read-only disk with IOERR and leaves the data alone", async () => {
    const { backend, bench } = setUp({ readOnly: true });
    const before = backend.bytes.slice();
    const request = bench.submit(0, {
      readable: [blockHeader(BlockRequestType.Out, 0), new Uint8Array(512)],
      writable: [1],
    });
    await settle();
    expect(bench.writtenBytes(request)).toEqual(Uint8Array.of(BlockStatus.IoError));
    expect(backend.bytes).toEqual(before);
  });

  it("answers a header shorter than 16 bytes with IOERR", async () => {
    const { bench } = setUp();
    const request = bench.submit(0, {
      readable: [blockHeader(BlockRequestType.In).subarray(0, 12)],
      writable: [1],
    });
    await settle();
    expect(bench.writtenBytes(request)).toEqual(Uint8Array.of(BlockStatus.IoError));
  });

  it("returns a chain with no writable byte, or a malformed one, with length 0 and does not act on it", async () => {
    const { backend, bench } = setUp();
    const before = backend.bytes.slice();
    const noStatus = bench.submit(0, {
      readable: [blockHeader(BlockRequestType.Out, 0), new Uint8Array(512)],
    });
    const malformed = bench.submit(0, { error: "loop in the descriptor chain" });
    await settle();
    expect(bench.usedLength(noStatus)).toBe(0);
    expect(bench.usedLength(malformed)).toBe(0);
    expect(backend.bytes).toEqual(before);
  });

  it("turns data buffers outside guest RAM into IOERR, and a status byte outside RAM into length 0", async () => {
    const { bench } = setUp();
    const badData = bench.submit(0, {
      readable: [blockHeader(BlockRequestType.In, 0)],
      writable: [512, 1],
      outsideRam: 1,
    });
    const badWriteData = bench.submit(0, {
      readable: [blockHeader(BlockRequestType.Out, 0), new Uint8Array(512)],
      writable: [1],
      outsideRam: 1,
    });
    const badHeader = bench.submit(0, {
      readable: [blockHeader(BlockRequestType.In, 0)],
      writable: [1],
      outsideRam: 0,
    });
    const badStatus = bench.submit(0, {
      readable: [blockHeader(BlockRequestType.In, 0)],
      writable: [512, 1],
      outsideRam: 2,
    });
    await settle();
    expect(bench.usedLength(badData)).toBe(1);
    expect(bench.writtenBytes(badData)[512]).toBe(BlockStatus.IoError);
    expect(bench.writtenBytes(badWriteData)).toEqual(Uint8Array.of(BlockStatus.IoError));
    expect(bench.writtenBytes(badHeader)).toEqual(Uint8Array.of(BlockStatus.IoError));
    expect(bench.usedLength(badStatus)).toBe(0);
  });

  it("turns a backend failure into IOERR", async () => {
    const backend = new MemoryBlockBackend(DISK_SIZE);
    backend.read = async () => {
      throw new BlockBackendError("medium error");
    };
    const bench = new DeviceBench(new VirtioBlock({ backend }));
    const request = bench.submit(0, { readable: [blockHeader(BlockRequestType.In, 0)], writable: [512, 1] });
    await settle();
    expect(bench.usedLength(request)).toBe(1);
    expect(bench.writtenBytes(request)[512]).toBe(BlockStatus.IoError);
  });
});

describe("virtio-blk discard and write zeroes", () => {
  it("discards and zeroes ranges of several segments", async () => {
    const { backend, bench } = setUp();
    const discard = bench.submit(0, {
      readable: [
        blockHeader(BlockRequestType.Discard),
        blockSegments({ sector: 1, sectors: 2 }, { sector: 10, sectors: 1 }),
      ],
      writable: [1],
    });
    const zeroes = bench.submit(0, {
      readable: [
        blockHeader(BlockRequestType.WriteZeroes),
        blockSegments({ sector: 20, sectors: 3, flags: 1 }),
      ],
      writable: [1],
    });
    await settle();
    expect(bench.writtenBytes(discard)).toEqual(Uint8Array.of(BlockStatus.Ok));
    expect(bench.writtenBytes(zeroes)).toEqual(Uint8Array.of(BlockStatus.Ok));
    const zero = (from: number, sectors: number) =>
      backend.bytes.subarray(from * 512, (from + sectors) * 512).every((b) => b === 0);
    expect(zero(1, 2) && zero(10, 1) && zero(20, 3)).toBe(true);
    expect(zero(0, 1) || zero(3, 1) || zero(23, 1)).toBe(false);
  });

  it("refuses unmap on discard and unknown flags with UNSUPP, bad ranges and segment counts with IOERR", async () => {
    const { backend, bench } = setUp();
    const before = backend.bytes.slice();
    const status = async (type: number, segments: Uint8Array) => {
      const request = bench.submit(0, { readable: [blockHeader(type), segments], writable: [1] });
      await settle();
      return bench.writtenBytes(request)[0];
    };
    expect(await status(BlockRequestType.Discard, blockSegments({ sector: 0, sectors: 1, flags: 1 }))).toBe(
      BlockStatus.Unsupported,
    );
    expect(
      await status(BlockRequestType.WriteZeroes, blockSegments({ sector: 0, sectors: 1, flags: 2 })),
    ).toBe(BlockStatus.Unsupported);
    expect(await status(BlockRequestType.Discard, blockSegments({ sector: 60, sectors: 5 }))).toBe(
      BlockStatus.IoError,
    );
    expect(await status(BlockRequestType.Discard, new Uint8Array(0))).toBe(BlockStatus.IoError);
    expect(await status(BlockRequestType.Discard, new Uint8Array(24))).toBe(BlockStatus.IoError);
    const tooMany = blockSegments(...Array.from({ length: 33 }, () => ({ sector: 0, sectors: 1 })));
    expect(await status(BlockRequestType.Discard, tooMany)).toBe(BlockStatus.IoError);
    expect(await status(BlockRequestType.WriteZeroes, blockSegments({ sector: 0, sectors: 0x10_0000 }))).toBe(
      BlockStatus.IoError,
    );
    // One bad segment fails the whole request before any segment runs.
    const mixed = blockSegments({ sector: 0, sectors: 1 }, { sector: 64, sectors: 1 });
    expect(await status(BlockRequestType.WriteZeroes, mixed)).toBe(BlockStatus.IoError);
    expect(backend.bytes).toEqual(before);
  });

  it("serves WRITE_ZEROES with UNMAP by a discard only when the backend's discard leaves zeroes", async () => {
    const recording = (discardZeroes: boolean) => {
      const inner = new MemoryBlockBackend(pattern(DISK_SIZE, 4));
      const calls: string[] = [];
      const backend = {
        size: inner.size,
        readOnly: false,
        discardZeroes,
        read: inner.read.bind(inner),
        write: async (offset: number, src: Uint8Array) => {
          calls.push(`write ${offset}+${src.length}`);
          await inner.write(offset, src);
        },
        discard: async (offset: number, length: number) => {
          calls.push(`discard ${offset}+${length}`);
          await inner.discard(offset, length);
        },
        flush: async () => {},
        close: async () => {},
      };
      return { inner, calls, device: new VirtioBlock({ backend }) };
    };
    const mayUnmap = (device: VirtioBlock) => {
      const byte = new Uint8Array(1);
      device.readConfig(56, byte);
      return byte[0];
    };
    for (const discardZeroes of [true, false]) {
      const { inner, calls, device } = recording(discardZeroes);
      expect(mayUnmap(device)).toBe(discardZeroes ? 1 : 0);
      const bench = new DeviceBench(device);
      const request = bench.submit(0, {
        readable: [
          blockHeader(BlockRequestType.WriteZeroes),
          blockSegments({ sector: 2, sectors: 2, flags: 1 }, { sector: 8, sectors: 1 }),
        ],
        writable: [1],
      });
      await settle();
      expect(bench.writtenBytes(request)).toEqual(Uint8Array.of(BlockStatus.Ok));
      expect(calls).toEqual([discardZeroes ? "discard 1024+1024" : "write 1024+1024", "write 4096+512"]);
      expect(inner.bytes.subarray(1024, 2048).every((b) => b === 0)).toBe(true);
      expect(inner.bytes.subarray(4096, 4608).every((b) => b === 0)).toBe(true);
    }
    expect(mayUnmap(setUp().device)).toBe(1);
    expect(mayUnmap(setUp({ readOnly: true }).device)).toBe(0);
  });

  it("answers DISCARD with UNSUPP when the driver did not negotiate it", async () => {
    const backend = new MemoryBlockBackend(pattern(DISK_SIZE));
    const before = backend.bytes.slice();
    const bench = new DeviceBench(new VirtioBlock({ backend }), {
      features: featureWords(VirtioFeature.Version1, BlockFeature.Flush),
    });
    const request = bench.submit(0, {
      readable: [blockHeader(BlockRequestType.Discard), blockSegments({ sector: 0, sectors: 1 })],
      writable: [1],
    });
    await settle();
    expect(bench.writtenBytes(request)).toEqual(Uint8Array.of(BlockStatus.Unsupported));
    expect(backend.bytes).toEqual(before);
  });
});

describe("virtio-blk asynchronous completion", () => {
  it("completes a FLUSH only after the writes submitted before it, and only then calls the backend's flush", async () => {
    const gated = new GatedBlockBackend(new MemoryBlockBackend(DISK_SIZE));
    const bench = new DeviceBench(new VirtioBlock({ backend: gated }));
    const write = bench.offer(0, {
      readable: [blockHeader(BlockRequestType.Out, 0), new Uint8Array(512).fill(1)],
      writable: [1],
    });
    const flush = bench.offer(0, { readable: [blockHeader(BlockRequestType.Flush)], writable: [1] });
    bench.kick(0);
    // The vCPU is not held: the notify returned with both requests pending.
    await settle();
    expect(gated.calls).toEqual(["write 0+512"]);
    expect(bench.used(0)).toEqual([]);
    gated.release();
    await settle();
    expect(gated.calls).toEqual(["write 0+512", "wrote 0+512", "flush"]);
    expect(bench.usedLength(write)).toBe(1);
    expect(bench.usedLength(flush)).toBeUndefined();
    gated.release();
    await settle();
    expect(bench.writtenBytes(flush)).toEqual(Uint8Array.of(BlockStatus.Ok));
    expect(bench.used(0).map((u) => u.id)).toEqual([write.id, flush.id]);
  });

  it("serves requests concurrently: a read is not held up by a slow write", async () => {
    const gated = new GatedBlockBackend(new MemoryBlockBackend(DISK_SIZE));
    const bench = new DeviceBench(new VirtioBlock({ backend: gated }));
    const write = bench.offer(0, {
      readable: [blockHeader(BlockRequestType.Out, 0), new Uint8Array(512)],
      writable: [1],
    });
    const read = bench.offer(0, { readable: [blockHeader(BlockRequestType.In, 1)], writable: [512, 1] });
    bench.kick(0);
    await settle();
    expect(gated.pending).toBe(2);
    gated.release("read");
    await settle();
    expect(bench.used(0)).toEqual([{ id: read.id, length: 513 }]);
    gated.release("write");
    await settle();
    expect(bench.usedLength(write)).toBe(1);
  });

  it("reuses its host transfer buffers across requests, and gives requests in flight together their own", async () => {
    const gated = new GatedBlockBackend(new MemoryBlockBackend(pattern(DISK_SIZE, 5)));
    const lent: ArrayBufferLike[] = [];
    const recording = {
      size: gated.size,
      readOnly: false,
      read: (offset: number, dst: Uint8Array) => {
        lent.push(dst.buffer);
        return gated.read(offset, dst);
      },
      write: (offset: number, src: Uint8Array) => {
        lent.push(src.buffer);
        return gated.write(offset, src);
      },
      flush: () => gated.flush(),
      close: async () => {},
    };
    const bench = new DeviceBench(new VirtioBlock({ backend: recording }));
    // Two writes in flight at once, with different data: each needs its own buffer.
    const writes = [1, 2].map((n) =>
      bench.offer(0, {
        readable: [blockHeader(BlockRequestType.Out, n), new Uint8Array(512).fill(n)],
        writable: [1],
      }),
    );
    bench.kick(0);
    await settle();
    expect(lent.length).toBe(2);
    expect(lent[0]).not.toBe(lent[1]);
    gated.release();
    gated.release();
    await settle();
    for (const write of writes) expect(bench.writtenBytes(write)).toEqual(Uint8Array.of(BlockStatus.Ok));
    // Then sequential reads: both land in memory the writes used, and each gets its own sector's data.
    for (const n of [1, 2]) {
      const read = bench.submit(0, { readable: [blockHeader(BlockRequestType.In, n)], writable: [512, 1] });
      await settle();
      gated.release();
      await settle();
      expect(bench.writtenBytes(read)).toEqual(Uint8Array.of(...new Uint8Array(512).fill(n), BlockStatus.Ok));
    }
    expect(lent.length).toBe(4);
    expect([lent[0], lent[1]]).toContain(lent[2]);
    expect(lent[3]).toBe(lent[2]);
  });

  it("drops completions that arrive after a reset, and serves the re-activated device normally", async () => {
    const gated = new GatedBlockBackend(new MemoryBlockBackend(pattern(DISK_SIZE)));
    const device = new VirtioBlock({ backend: gated });
    const bench = new DeviceBench(device);
    const stale = bench.submit(0, { readable: [blockHeader(BlockRequestType.In, 0)], writable: [512, 1] });
    await settle();
    device.reset();
    gated.release();
    await settle();
    expect(bench.usedLength(stale)).toBeUndefined();
    expect(bench.writtenBytes(stale).every((b) => b === 0xee)).toBe(true);
    expect(bench.interrupts).toEqual([]);

    bench.activate(device.features);
    const fresh = bench.submit(0, { readable: [blockHeader(BlockRequestType.In, 0)], writable: [512, 1] });
    await settle();
    gated.release();
    await settle();
    expect(bench.usedLength(fresh)).toBe(513);
    expect(bench.used(0)).toEqual([{ id: fresh.id, length: 513 }]);
  });

  it("ignores notifications before activation, after reset, and for queues it does not have", async () => {
    const backend = new MemoryBlockBackend(DISK_SIZE);
    const device = new VirtioBlock({ backend });
    expect(() => device.queueNotify(0)).not.toThrow();
    const bench = new DeviceBench(device);
    device.reset();
    bench.submit(0, { readable: [blockHeader(BlockRequestType.In, 0)], writable: [512, 1] });
    expect(() => device.queueNotify(5)).not.toThrow();
    await settle();
    expect(bench.used(0)).toEqual([]);
  });

  it("makes each write durable before completing it when the driver did not negotiate FLUSH", async () => {
    const backend = new MemoryBlockBackend(DISK_SIZE);
    const flush = vi.spyOn(backend, "flush");
    const bench = new DeviceBench(new VirtioBlock({ backend }), {
      features: featureWords(VirtioFeature.Version1),
    });
    const request = bench.submit(0, {
      readable: [blockHeader(BlockRequestType.Out, 0), new Uint8Array(512)],
      writable: [1],
    });
    await settle();
    expect(bench.writtenBytes(request)).toEqual(Uint8Array.of(BlockStatus.Ok));
    expect(flush).toHaveBeenCalledTimes(1);
  });

  it("does not flush per write when FLUSH was negotiated", async () => {
    const backend = new MemoryBlockBackend(DISK_SIZE);
    const flush = vi.spyOn(backend, "flush");
    const bench = new DeviceBench(new VirtioBlock({ backend }));
    bench.submit(0, { readable: [blockHeader(BlockRequestType.Out, 0), new Uint8Array(512)], writable: [1] });
    await settle();
    expect(flush).not.toHaveBeenCalled();
  });

  it("drain() resolves once every started request has completed", async () => {
    const gated = new GatedBlockBackend(new MemoryBlockBackend(DISK_SIZE));
    const device = new VirtioBlock({ backend: gated });
    const bench = new DeviceBench(device);
    const read = bench.submit(0, { readable: [blockHeader(BlockRequestType.In, 0)], writable: [512, 1] });
    let drained = false;
    const draining = device.drain().then(() => {
      drained = true;
    });
    await settle();
    expect(drained).toBe(false);
    gated.release();
    await draining;
    expect(bench.usedLength(read)).toBe(513);
  });

  it("moves a large read through the backend in pieces", async () => {
    const size = 3 << 20;
    const backend = new MemoryBlockBackend(pattern(size, 5));
    const read = vi.spyOn(backend, "read");
    const bench = new DeviceBench(new VirtioBlock({ backend }));
    const request = bench.submit(0, {
      readable: [blockHeader(BlockRequestType.In, 0)],
      writable: [size - 512, 1],
    });
    await settle(20);
    expect(bench.usedLength(request)).toBe(size - 511);
    const out = Buffer.from(bench.writtenBytes(request).subarray(0, size - 512));
    expect(out.equals(backend.bytes.subarray(0, size - 512))).toBe(true);
    expect(read.mock.calls.length).toBe(3);
  });
});

import { createHash } from "node:crypto";
import { mkdtemp, open, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { DeviceBench, settle } from "../device-bench.test-support.js";
import { hasFeature } from "../features.js";
import { type BlockBackend, BlockBackendError } from "./block-backend.js";
import { blockHeader, pattern } from "./block-request.test-support.js";
import { FileBlockBackend } from "./file-block-backend.node.js";
import { SnapshotBlockBackend } from "./snapshot-block-backend.js";
import { BlockFeature, BlockRequestType, BlockStatus, VirtioBlock } from "./virtio-block.js";

let dir: string;
let image: string;
const IMAGE = pattern(64 * 1024, 11);

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), "tsvmm-blk-"));
  image = join(dir, "disk.img");
  await writeFile(image, IMAGE);
});

afterEach(async () => {
  vi.restoreAllMocks();
  await rm(dir, { recursive: true, force: true });
});

const sha256 = async (path: string) =>
  createHash("sha256")
    .update(await readFile(path))
    .digest("hex");

/** FileHandle's prototype, so a test can watch sync() on the backend's private handle. */
async function fileHandlePrototype() {
  const handle = await open(image, "r");
  const prototype = Object.getPrototypeOf(handle);
  await handle.close();
  return prototype;
}

describe("FileBlockBackend", () => {
  it("reads and writes the image in place and fsyncs on flush", async () => {
    const backend = await FileBlockBackend.open(image);
    expect(backend.size).toBe(IMAGE.length);
    expect(backend.readOnly).toBe(false);
    expect((backend as BlockBackend).discard).toBeUndefined();
    const out = new Uint8Array(1000);
    await backend.read(5000, out);
    expect(Buffer.from(out).equals(IMAGE.subarray(5000, 6000))).toBe(true);

    const sync = vi.spyOn(await fileHandlePrototype(), "sync");
    await backend.write(512, pattern(1024, 77));
    expect(sync).not.toHaveBeenCalled();
    await backend.flush();
    expect(sync).toHaveBeenCalledTimes(1);
    await backend.close();
    const onDisk = await readFile(image);
    expect(onDisk.subarray(512, 1536).equals(pattern(1024, 77))).toBe(true);
    expect(onDisk.subarray(0, 512).equals(IMAGE.subarray(0, 512))).toBe(true);
  });

  it("refuses writes when opened read-only, and accesses past the end or after close", async () => {
    const backend = await FileBlockBackend.open(image, { readOnly: true });
    await expect(backend.write(0, new Uint8Array(512))).rejects.toThrow(/read-only/);
    await expect(backend.read(IMAGE.length - 10, new Uint8Array(20))).rejects.toBeInstanceOf(
      BlockBackendError,
    );
    await backend.flush();
    await backend.close();
    await expect(backend.read(0, new Uint8Array(1))).rejects.toThrow(/closed/);
    expect(await readFile(image)).toEqual(Buffer.from(IMAGE));
  });

  it("fails to open a missing file or a directory", async () => {
    await expect(FileBlockBackend.open(join(dir, "missing.img"))).rejects.toThrow(/ENOENT/);
    await expect(FileBlockBackend.open(dir, { readOnly: true })).rejects.toThrow(/not a regular file/);
  });

  it("backs virtio-blk: a guest FLUSH after a write is an fsync, and the write is in the file", async () => {
    const backend = await FileBlockBackend.open(image);
    const bench = new DeviceBench(new VirtioBlock({ backend }));
    const sync = vi.spyOn(await fileHandlePrototype(), "sync");
    const data = pattern(512, 200);
    const write = bench.offer(0, { readable: [blockHeader(BlockRequestType.Out, 3), data], writable: [1] });
    const flush = bench.offer(0, { readable: [blockHeader(BlockRequestType.Flush)], writable: [1] });
    bench.kick(0);
    await vi.waitFor(() => expect(bench.usedLength(flush)).toBe(1));
    expect(bench.writtenBytes(write)).toEqual(Uint8Array.of(BlockStatus.Ok));
    expect(bench.writtenBytes(flush)).toEqual(Uint8Array.of(BlockStatus.Ok));
    expect(sync).toHaveBeenCalledTimes(1);
    await backend.close();
    expect((await readFile(image)).subarray(3 * 512, 4 * 512).equals(data)).toBe(true);
  });

  it("backs a read-only virtio-blk that answers writes with IOERR and leaves the file alone", async () => {
    const before = await sha256(image);
    const backend = await FileBlockBackend.open(image, { readOnly: true });
    const device = new VirtioBlock({ backend });
    expect(hasFeature(device.features, BlockFeature.ReadOnly)).toBe(true);
    const bench = new DeviceBench(device);
    const write = bench.submit(0, {
      readable: [blockHeader(BlockRequestType.Out, 0), new Uint8Array(512)],
      writable: [1],
    });
    await settle();
    expect(bench.writtenBytes(write)).toEqual(Uint8Array.of(BlockStatus.IoError));
    await backend.close();
    expect(await sha256(image)).toBe(before);
  });

  it("under -snapshot, the guest reads back its writes and the image file is untouched", async () => {
    const before = await sha256(image);
    const base = await FileBlockBackend.open(image, { readOnly: true });
    const snapshot = new SnapshotBlockBackend(base);
    const bench = new DeviceBench(new VirtioBlock({ backend: snapshot }));
    const data = pattern(2048, 123);
    bench.submit(0, { readable: [blockHeader(BlockRequestType.Out, 1), data], writable: [1] });
    const flush = bench.submit(0, { readable: [blockHeader(BlockRequestType.Flush)], writable: [1] });
    await vi.waitFor(() => expect(bench.usedLength(flush)).toBe(1));
    const read = bench.submit(0, { readable: [blockHeader(BlockRequestType.In, 0)], writable: [4096, 1] });
    await vi.waitFor(() => expect(bench.usedLength(read)).toBe(4097));
    const out = bench.writtenBytes(read);
    expect(Buffer.from(out.subarray(0, 512)).equals(IMAGE.subarray(0, 512))).toBe(true);
    expect(Buffer.from(out.subarray(512, 2560)).equals(data)).toBe(true);
    expect(Buffer.from(out.subarray(2560, 4096)).equals(IMAGE.subarray(2560, 4096))).toBe(true);
    expect(out[4096]).toBe(BlockStatus.Ok);
    await snapshot.close();
    await base.close();
    expect(await sha256(image)).toBe(before);
  });
});

// FileBlockBackend's discard where no hole can be punched, on real files: koffi that cannot be loaded (as on a host
// without it), and a filesystem that answers EOPNOTSUPP (played by a stand-in for koffi's fallocate, since the test
// machine's filesystems all punch holes). The range is then overwritten with zeroes in bounded writes.
import { mkdtemp, open, readFile, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { DeviceBench } from "../device-bench.test-support.js";
import { blockHeader, blockSegments, pattern } from "./block-request.test-support.js";
import type { FileBlockBackend as FileBlockBackendClass } from "./file-block-backend.node.js";
import { BlockRequestType, BlockStatus, VirtioBlock } from "./virtio-block.js";

const MiB = 1 << 20;
const EINTR = 4;
const EIO = 5;
const EOPNOTSUPP = 95;

/** What the stand-in fallocate answers, call by call (the first call is the probe at open); "missing": no koffi. */
const libc = vi.hoisted(() => ({
  koffi: "missing" as "missing" | "loaded",
  answers: [] as number[],
  calls: [] as { fd: number; mode: number; offset: number; length: number }[],
  errno: 0,
}));

vi.mock("koffi", () => {
  if (libc.koffi === "missing") throw new Error("Cannot find module 'koffi'");
  const fallocate = {
    async(fd: number, mode: number, offset: number, length: number, done: (e: unknown, r: number) => void) {
      libc.calls.push({ fd, mode, offset, length });
      const errno = libc.answers.shift() ?? EOPNOTSUPP;
      setImmediate(() => {
        libc.errno = errno;
        done(null, errno === 0 ? 0 : -1);
      });
    },
  };
  return {
    default: {
      load: () => ({ func: () => fallocate }),
      errno: () => libc.errno,
      os: { errno: { EINTR, EIO, EOPNOTSUPP, ENOTSUP: EOPNOTSUPP, ENOSYS: 38 } },
    },
  };
});

let dir: string;
let path: string;
const IMAGE = pattern(4 * MiB, 23);

/** A fresh copy of the backend module, so koffi is loaded (or not) anew for each test. */
async function openBackend(): Promise<FileBlockBackendClass> {
  const { FileBlockBackend } = await import("./file-block-backend.node.js");
  return FileBlockBackend.open(path, { discard: true });
}

beforeEach(async () => {
  vi.resetModules();
  libc.koffi = "missing";
  libc.answers = [];
  libc.calls = [];
  dir = await mkdtemp(join(tmpdir(), "tsvmm-zero-fill-"));
  path = join(dir, "disk.img");
  await writeFile(path, IMAGE, { flush: true });
});

afterEach(async () => {
  vi.restoreAllMocks();
  await rm(dir, { recursive: true, force: true });
});

/** FileHandle.prototype.write, watched: the zero-filling writes go through it. */
async function watchWrites() {
  const handle = await open(path, "r");
  const prototype = Object.getPrototypeOf(handle);
  await handle.close();
  return vi.spyOn(prototype, "write");
}

describe("FileBlockBackend discard without hole punching", () => {
  it("without koffi, writes zeroes in writes of at most 1 MiB, keeping the file's blocks", async () => {
    const backend = await openBackend();
    expect(backend.discardMethod).toBe("zero-fill");
    expect(backend.discardZeroes).toBe(true);
    const blocksBefore = (await stat(path)).blocks;
    const write = await watchWrites();

    await backend.discard!(512, 2 * MiB + 1024);
    expect(write.mock.calls.length).toBe(3);
    for (const call of write.mock.calls) expect((call[0] as Uint8Array).length).toBeLessThanOrEqual(MiB);
    await backend.flush();
    const out = new Uint8Array(4 * MiB);
    await backend.read(0, out);
    const expected = IMAGE.slice();
    expected.fill(0, 512, 2 * MiB + 1536);
    expect(Buffer.from(out).equals(expected)).toBe(true);
    await backend.close();
    const after = await stat(path);
    expect(after.size).toBe(4 * MiB);
    // Zeroes were written, not holes punched: nothing was deallocated.
    expect(after.blocks).toBeGreaterThanOrEqual(blocksBefore);
    expect((await readFile(path)).equals(expected)).toBe(true);
  });

  it("falls back to zeroes when the filesystem cannot punch holes, whether it says so at open or later", async () => {
    libc.koffi = "loaded";
    libc.answers = [EOPNOTSUPP];
    const refusedAtOpen = await openBackend();
    expect(libc.calls).toEqual([{ fd: expect.any(Number), mode: 3, offset: 4 * MiB, length: 1 }]);
    expect(refusedAtOpen.discardMethod).toBe("zero-fill");
    await refusedAtOpen.discard!(0, 4096);
    expect(libc.calls.length).toBe(1);
    await refusedAtOpen.close();

    vi.resetModules();
    libc.calls = [];
    // The probe passes, an interrupted call is retried, then the filesystem refuses a real range.
    libc.answers = [0, EINTR, EOPNOTSUPP];
    const refusedLater = await openBackend();
    expect(refusedLater.discardMethod).toBe("punch-hole");
    await refusedLater.discard!(MiB, 8192);
    expect(libc.calls.map((c) => [c.mode, c.offset, c.length])).toEqual([
      [3, 4 * MiB, 1],
      [3, MiB, 8192],
      [3, MiB, 8192],
    ]);
    expect(refusedLater.discardMethod).toBe("zero-fill");
    const out = new Uint8Array(8192 + 2);
    await refusedLater.read(MiB - 1, out);
    expect(Array.from(out.subarray(1, 8193)).every((b) => b === 0)).toBe(true);
    expect([out[0], out[8193]]).toEqual([IMAGE[MiB - 1], IMAGE[MiB + 8192]]);
    // From then on, no more fallocate calls.
    await refusedLater.discard!(0, 512);
    expect(libc.calls.length).toBe(3);
    await refusedLater.close();
    expect((await readFile(path)).subarray(0, 512).every((b) => b === 0)).toBe(true);
  });

  it("turns any other fallocate failure into IOERR for the guest, and the image keeps its bytes", async () => {
    libc.koffi = "loaded";
    libc.answers = [0, EIO];
    const backend = await openBackend();
    await expect(backend.discard!(0, 4096)).rejects.toThrow(/fallocate\(PUNCH_HOLE\) failed: EIO/);
    expect(backend.discardMethod).toBe("punch-hole");
    libc.answers = [EIO];
    const bench = new DeviceBench(new VirtioBlock({ backend }));
    const discard = bench.submit(0, {
      readable: [blockHeader(BlockRequestType.Discard), blockSegments({ sector: 0, sectors: 8 })],
      writable: [1],
    });
    await vi.waitFor(() => expect(bench.usedLength(discard)).toBe(1));
    expect(bench.writtenBytes(discard)).toEqual(Uint8Array.of(BlockStatus.IoError));
    await backend.close();
    expect((await readFile(path)).equals(IMAGE)).toBe(true);
  });

  it("serves the guest's DISCARD and WRITE_ZEROES with UNMAP by zero-filling through the queue", async () => {
    const backend = await openBackend();
    const bench = new DeviceBench(new VirtioBlock({ backend }));
    const discard = bench.submit(0, {
      readable: [blockHeader(BlockRequestType.Discard), blockSegments({ sector: 8, sectors: 2048 })],
      writable: [1],
    });
    const zeroes = bench.submit(0, {
      readable: [
        blockHeader(BlockRequestType.WriteZeroes),
        blockSegments({ sector: 4096, sectors: 16, flags: 1 }),
      ],
      writable: [1],
    });
    await vi.waitFor(() => expect(bench.usedLength(zeroes)).toBe(1));
    await vi.waitFor(() => expect(bench.usedLength(discard)).toBe(1));
    expect(bench.writtenBytes(discard)).toEqual(Uint8Array.of(BlockStatus.Ok));
    expect(bench.writtenBytes(zeroes)).toEqual(Uint8Array.of(BlockStatus.Ok));
    await backend.close();
    const expected = IMAGE.slice();
    expected.fill(0, 8 * 512, (8 + 2048) * 512);
    expected.fill(0, 4096 * 512, (4096 + 16) * 512);
    expect((await readFile(path)).equals(expected)).toBe(true);
  });
});

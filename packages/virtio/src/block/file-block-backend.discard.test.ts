// FileBlockBackend's discard on real files in the temporary directory: holes punched (st_blocks shrinks) where the
// filesystem can, and the device's DISCARD and WRITE_ZEROES through the queue harness. The zero-filling fallback,
// where holes cannot be punched, is in file-block-backend.zero-fill.test.ts.
import { createHash } from "node:crypto";
import { mkdtemp, readFile, rm, stat, statfs, truncate, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { DeviceBench } from "../device-bench.test-support.js";
import { hasFeature } from "../features.js";
import { BlockBackendError } from "./block-backend.js";
import { blockHeader, blockSegments, pattern } from "./block-request.test-support.js";
import { FileBlockBackend } from "./file-block-backend.node.js";
import { SnapshotBlockBackend } from "./snapshot-block-backend.js";
import { BlockFeature, BlockRequestType, BlockStatus, VirtioBlock } from "./virtio-block.js";

const MiB = 1 << 20;
/** statfs f_type of Linux filesystems that punch holes (fallocate(2)): ext4, XFS, Btrfs, tmpfs, F2FS, OCFS2. */
const PUNCHING_FILESYSTEMS = new Map([
  [0xef53, "ext4"],
  [0x58465342, "xfs"],
  [0x9123683e, "btrfs"],
  [0x01021994, "tmpfs"],
  [0xf2f52010, "f2fs"],
  [0x7461636f, "ocfs2"],
]);

let dir: string;
/** Why holes cannot be punched under the temporary directory, or undefined when they can. */
let noHoles: string | undefined;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "tsvmm-discard-"));
  const { type } = await statfs(dir);
  // A file extended without writing must hold no blocks, or st_blocks says nothing about holes here.
  const probe = join(dir, "sparse-probe");
  await writeFile(probe, new Uint8Array(0));
  await truncate(probe, MiB);
  const sparse = (await stat(probe)).blocks === 0;
  if (process.platform !== "linux") noHoles = `${process.platform} has no fallocate(PUNCH_HOLE)`;
  else if (!PUNCHING_FILESYSTEMS.has(type))
    noHoles = `the filesystem under ${tmpdir()} (statfs type 0x${type.toString(16)}) is not known to punch holes`;
  else if (!sparse)
    noHoles = `the ${PUNCHING_FILESYSTEMS.get(type)} under ${tmpdir()} does not keep files sparse`;
  if (noHoles !== undefined)
    console.warn(`file discard tests: ${noHoles}; only the zero-filling path is checked (zero-fill test)`);
});

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** A fully written image of `size` bytes, synced so st_blocks counts all of it. */
async function writtenImage(name: string, size: number): Promise<{ path: string; bytes: Uint8Array }> {
  const path = join(dir, name);
  const bytes = pattern(size, 41);
  await writeFile(path, bytes, { flush: true });
  return { path, bytes };
}

const sha256 = async (path: string) =>
  createHash("sha256")
    .update(await readFile(path))
    .digest("hex");

const isZero = (bytes: Uint8Array) => bytes.every((b) => b === 0);

describe("FileBlockBackend discard", () => {
  it("is off by default (QEMU's discard=ignore): no discard, and the device offers no DISCARD", async () => {
    const { path } = await writtenImage("default.img", 64 << 10);
    const backend = await FileBlockBackend.open(path);
    expect(backend.discardMethod).toBe("none");
    expect(backend.discard).toBeUndefined();
    expect(backend.discardZeroes).toBe(false);
    const device = new VirtioBlock({ backend });
    expect(hasFeature(device.features, BlockFeature.Discard)).toBe(false);
    await backend.close();
  });

  it("never discards a read-only image, even when asked: DISCARD is refused and the file is untouched", async () => {
    const { path } = await writtenImage("readonly.img", 64 << 10);
    const before = await sha256(path);
    const backend = await FileBlockBackend.open(path, { readOnly: true, discard: true });
    expect(backend.discardMethod).toBe("none");
    expect(backend.discard).toBeUndefined();
    const device = new VirtioBlock({ backend });
    expect(hasFeature(device.features, BlockFeature.ReadOnly)).toBe(true);
    expect(hasFeature(device.features, BlockFeature.Discard)).toBe(false);
    const bench = new DeviceBench(device);
    const discard = bench.submit(0, {
      readable: [blockHeader(BlockRequestType.Discard), blockSegments({ sector: 0, sectors: 64 })],
      writable: [1],
    });
    const zeroes = bench.submit(0, {
      readable: [
        blockHeader(BlockRequestType.WriteZeroes),
        blockSegments({ sector: 0, sectors: 64, flags: 1 }),
      ],
      writable: [1],
    });
    await vi.waitFor(() => expect(bench.usedLength(zeroes)).toBe(1));
    expect(bench.writtenBytes(discard)).toEqual(Uint8Array.of(BlockStatus.Unsupported));
    expect(bench.writtenBytes(zeroes)).toEqual(Uint8Array.of(BlockStatus.Unsupported));
    await backend.close();
    expect(await sha256(path)).toBe(before);
  });

  it("punches a hole: st_blocks shrinks, the range reads back as zeroes, the size and the rest stay", async (context) => {
    if (noHoles !== undefined) context.skip(noHoles);
    const { path, bytes } = await writtenImage("punch.img", 4 * MiB);
    const backend = await FileBlockBackend.open(path, { discard: true });
    expect(backend.discardMethod).toBe("punch-hole");
    expect(backend.discardZeroes).toBe(true);
    const before = await stat(path);
    expect(before.blocks * 512).toBeGreaterThanOrEqual(4 * MiB);

    // 1 MiB-aligned, so it frees whole blocks on any filesystem block size up to 1 MiB.
    await backend.discard!(MiB, 2 * MiB);
    await backend.flush();
    const after = await stat(path);
    expect(after.size).toBe(4 * MiB);
    expect(before.blocks - after.blocks).toBeGreaterThanOrEqual((2 * MiB) / 512);
    const out = new Uint8Array(4 * MiB);
    await backend.read(0, out);
    expect(isZero(out.subarray(MiB, 3 * MiB))).toBe(true);
    expect(Buffer.from(out.subarray(0, MiB)).equals(bytes.subarray(0, MiB))).toBe(true);
    expect(Buffer.from(out.subarray(3 * MiB)).equals(bytes.subarray(3 * MiB))).toBe(true);

    // An unaligned range: the filesystem zeroes the partial blocks, exactly the range reads as zeroes.
    await backend.discard!(1000, 5000);
    const head = new Uint8Array(8192);
    await backend.read(0, head);
    const expected = bytes.slice(0, 8192);
    expected.fill(0, 1000, 6000);
    expect(Buffer.from(head).equals(expected)).toBe(true);
    await backend.close();
    expect((await readFile(path)).subarray(MiB, 3 * MiB).every((b) => b === 0)).toBe(true);
  });

  it("checks bounds and refuses a closed file, and an empty range is a no-op", async () => {
    const { path } = await writtenImage("bounds.img", 64 << 10);
    const before = await sha256(path);
    const backend = await FileBlockBackend.open(path, { discard: true });
    const discard = backend.discard!;
    await expect(discard((64 << 10) - 512, 1024)).rejects.toBeInstanceOf(BlockBackendError);
    await expect(discard(-512, 512)).rejects.toBeInstanceOf(BlockBackendError);
    await expect(discard(0.5, 512)).rejects.toBeInstanceOf(BlockBackendError);
    await expect(discard(0, 2 ** 60)).rejects.toBeInstanceOf(BlockBackendError);
    await discard(4096, 0);
    await backend.close();
    await expect(discard(0, 512)).rejects.toThrow(/closed/);
    expect(await sha256(path)).toBe(before);
    expect((await stat(path)).size).toBe(64 << 10);
  });
});

describe("virtio-blk on a file with discard", () => {
  it("serves DISCARD and WRITE_ZEROES with UNMAP by deallocating, and WRITE_ZEROES without UNMAP by writing", async () => {
    const { path, bytes } = await writtenImage("device.img", 8 * MiB);
    const backend = await FileBlockBackend.open(path, { discard: true });
    const device = new VirtioBlock({ backend });
    expect(hasFeature(device.features, BlockFeature.Discard)).toBe(true);
    expect(hasFeature(device.features, BlockFeature.WriteZeroes)).toBe(true);
    const mayUnmap = new Uint8Array(1);
    device.readConfig(56, mayUnmap);
    expect(mayUnmap[0]).toBe(1);
    const bench = new DeviceBench(device);
    const sectors = (bytes: number) => bytes / 512;
    const before = await stat(path);

    // Two segments in one DISCARD (1 MiB each), one WRITE_ZEROES with UNMAP (1 MiB), one without (1 MiB).
    const discard = bench.submit(0, {
      readable: [
        blockHeader(BlockRequestType.Discard),
        blockSegments(
          { sector: sectors(MiB), sectors: sectors(MiB) },
          { sector: sectors(3 * MiB), sectors: sectors(MiB) },
        ),
      ],
      writable: [1],
    });
    const zeroesUnmap = bench.submit(0, {
      readable: [
        blockHeader(BlockRequestType.WriteZeroes),
        blockSegments({ sector: sectors(5 * MiB), sectors: sectors(MiB), flags: 1 }),
      ],
      writable: [1],
    });
    const zeroesKeep = bench.submit(0, {
      readable: [
        blockHeader(BlockRequestType.WriteZeroes),
        blockSegments({ sector: sectors(7 * MiB), sectors: sectors(MiB) }),
      ],
      writable: [1],
    });
    const flush = bench.submit(0, { readable: [blockHeader(BlockRequestType.Flush)], writable: [1] });
    await vi.waitFor(() => expect(bench.usedLength(flush)).toBe(1));
    for (const request of [discard, zeroesUnmap, zeroesKeep, flush])
      expect(bench.writtenBytes(request)).toEqual(Uint8Array.of(BlockStatus.Ok));

    // What the guest reads back: zeroes in all four ranges, the image's bytes between them.
    const read = bench.submit(0, {
      readable: [blockHeader(BlockRequestType.In, sectors(MiB) - 1)],
      writable: [MiB + 1024, 1],
    });
    await vi.waitFor(() => expect(bench.usedLength(read)).toBe(MiB + 1025));
    const guest = bench.writtenBytes(read);
    expect(Buffer.from(guest.subarray(0, 512)).equals(bytes.subarray(MiB - 512, MiB))).toBe(true);
    expect(isZero(guest.subarray(512, MiB + 512))).toBe(true);
    expect(
      Buffer.from(guest.subarray(MiB + 512, MiB + 1024)).equals(bytes.subarray(2 * MiB, 2 * MiB + 512)),
    ).toBe(true);
    expect(guest[MiB + 1024]).toBe(BlockStatus.Ok);
    await backend.close();

    const onDisk = await readFile(path);
    const expected = bytes.slice();
    for (const at of [1, 3, 5, 7]) expected.fill(0, at * MiB, (at + 1) * MiB);
    expect(onDisk.equals(expected)).toBe(true);
    if (noHoles !== undefined) {
      console.warn(`virtio-blk file discard: ${noHoles}; st_blocks not checked`);
      return;
    }
    // Three ranges deallocated; the one zeroed without UNMAP keeps its blocks.
    const freed = (before.blocks - (await stat(path)).blocks) * 512;
    expect(freed).toBeGreaterThanOrEqual(3 * MiB);
    expect(freed).toBeLessThan(4 * MiB);
  });

  it("under -snapshot, DISCARD goes to the overlay and the image keeps its bytes and its blocks", async () => {
    const { path, bytes } = await writtenImage("snapshot.img", 2 * MiB);
    const before = await sha256(path);
    const blocksBefore = (await stat(path)).blocks;
    const image = await FileBlockBackend.open(path, { readOnly: true, discard: true });
    const snapshot = new SnapshotBlockBackend(image, { discard: true });
    const bench = new DeviceBench(new VirtioBlock({ backend: snapshot }));
    const write = bench.submit(0, {
      readable: [blockHeader(BlockRequestType.Out, 0), new Uint8Array(64 << 10).fill(9)],
      writable: [1],
    });
    await vi.waitFor(() => expect(bench.usedLength(write)).toBe(1));
    expect(snapshot.overlayBytes).toBe(64 << 10);
    const discard = bench.submit(0, {
      readable: [blockHeader(BlockRequestType.Discard), blockSegments({ sector: 0, sectors: 2 * 2048 })],
      writable: [1],
    });
    await vi.waitFor(() => expect(bench.usedLength(discard)).toBe(1));
    expect(bench.writtenBytes(discard)).toEqual(Uint8Array.of(BlockStatus.Ok));
    expect(snapshot.overlayBytes).toBe(0);
    const out = new Uint8Array(2 * MiB);
    await snapshot.read(0, out);
    expect(isZero(out)).toBe(true);
    await snapshot.close();
    await image.close();
    expect(await sha256(path)).toBe(before);
    expect((await stat(path)).blocks).toBe(blocksBefore);
    expect(Buffer.from(await readFile(path)).equals(bytes)).toBe(true);
  });
});

import { describe, expect, it } from "vitest";
import { BlockBackendError } from "./block-backend.js";
import { GatedBlockBackend, pattern } from "./block-request.test-support.js";
import { MemoryBlockBackend } from "./memory-block-backend.js";
import { SnapshotBlockBackend } from "./snapshot-block-backend.js";

describe("MemoryBlockBackend", () => {
  it("reads, writes and discards (to zeroes) inside its bytes", async () => {
    const backend = new MemoryBlockBackend(pattern(4096));
    const out = new Uint8Array(10);
    await backend.write(100, Uint8Array.of(1, 2, 3));
    await backend.read(99, out);
    expect(Array.from(out.subarray(0, 5))).toEqual([pattern(4096)[99], 1, 2, 3, pattern(4096)[103]]);
    await backend.discard(0, 4096);
    expect(backend.bytes.every((b) => b === 0)).toBe(true);
  });

  it("refuses accesses past the end and writes when read-only", async () => {
    const backend = new MemoryBlockBackend(512, { readOnly: true });
    await expect(backend.read(510, new Uint8Array(4))).rejects.toBeInstanceOf(BlockBackendError);
    await expect(backend.read(-1, new Uint8Array(1))).rejects.toBeInstanceOf(BlockBackendError);
    await expect(backend.write(0, new Uint8Array(1))).rejects.toThrow(/read-only/);
    await expect(backend.discard(0, 1)).rejects.toThrow(/read-only/);
  });
});

describe("SnapshotBlockBackend", () => {
  it("reads through to the base until written, then reads the overlay; the base never changes", async () => {
    const base = new MemoryBlockBackend(pattern(5 * 4096 + 512, 7), { readOnly: true });
    const original = base.bytes.slice();
    const snapshot = new SnapshotBlockBackend(base);
    expect(snapshot.readOnly).toBe(false);
    expect(snapshot.size).toBe(base.size);

    const expected = original.slice();
    const writes: [number, Uint8Array][] = [
      [10, pattern(20, 100)],
      [4096 - 5, pattern(10, 50)],
      [2 * 4096, pattern(4096, 9)],
      [5 * 4096 + 100, pattern(412, 33)],
    ];
    for (const [offset, bytes] of writes) {
      await snapshot.write(offset, bytes);
      expected.set(bytes, offset);
    }
    const all = new Uint8Array(snapshot.size);
    await snapshot.read(0, all);
    expect(Buffer.from(all).equals(expected)).toBe(true);
    const middle = new Uint8Array(7000);
    await snapshot.read(3000, middle);
    expect(Buffer.from(middle).equals(expected.subarray(3000, 10000))).toBe(true);
    expect(Buffer.from(base.bytes).equals(original)).toBe(true);
    expect(snapshot.overlayBytes).toBe(4 * 4096);
  });

  it("keeps both of two concurrent partial writes to one cluster", async () => {
    const base = new MemoryBlockBackend(8192);
    const snapshot = new SnapshotBlockBackend(base);
    await Promise.all([snapshot.write(0, Uint8Array.of(1)), snapshot.write(1, Uint8Array.of(2))]);
    const out = new Uint8Array(2);
    await snapshot.read(0, out);
    expect(Array.from(out)).toEqual([1, 2]);
  });

  it("offers no discard unless asked for", () => {
    const snapshot = new SnapshotBlockBackend(new MemoryBlockBackend(4096));
    expect(snapshot.discard).toBeUndefined();
    expect(snapshot.discardZeroes).toBe(false);
  });

  it("discards into the overlay: whole clusters leave it and read as zeroes, partial ones are zeroed, the base stays", async () => {
    const base = new MemoryBlockBackend(pattern(6 * 4096 + 1024, 5), { readOnly: true });
    const original = base.bytes.slice();
    const snapshot = new SnapshotBlockBackend(base, { discard: true });
    expect(snapshot.discardZeroes).toBe(true);
    const discard = snapshot.discard!;
    await snapshot.write(4096, pattern(3 * 4096, 90));
    expect(snapshot.overlayBytes).toBe(3 * 4096);
    const expected = original.slice();
    expected.set(pattern(3 * 4096, 90), 4096);

    // Clusters 1 and 2 whole and cluster 3 partly, all three written before.
    await discard(4096, 2 * 4096 + 512);
    expected.fill(0, 4096, 3 * 4096 + 512);
    expect(snapshot.overlayBytes).toBe(4096);
    // Base clusters that were never written: cluster 5 whole, cluster 4 from byte 100 on.
    await discard(4 * 4096 + 100, 4096 * 2 - 100);
    expected.fill(0, 4 * 4096 + 100, 6 * 4096);
    // The odd-sized image's last cluster counts as whole when the range runs to the end.
    await discard(6 * 4096, 1024);
    expected.fill(0, 6 * 4096);
    expect(snapshot.overlayBytes).toBe(2 * 4096);

    const all = new Uint8Array(snapshot.size);
    await snapshot.read(0, all);
    expect(Buffer.from(all).equals(expected)).toBe(true);
    // A partial write into a discarded cluster keeps zeroes, not the base, around it.
    await snapshot.write(5 * 4096 + 10, Uint8Array.of(7, 8));
    expected.set([7, 8], 5 * 4096 + 10);
    await snapshot.read(0, all);
    expect(Buffer.from(all).equals(expected)).toBe(true);
    expect(Buffer.from(base.bytes).equals(original)).toBe(true);

    await expect(discard(snapshot.size - 512, 1024)).rejects.toBeInstanceOf(BlockBackendError);
    await expect(discard(-512, 512)).rejects.toBeInstanceOf(BlockBackendError);
    await discard(100, 0);
    await snapshot.close();
    await expect(discard(0, 512)).rejects.toThrow(/closed/);
  });

  it("lets a discard that lands while a partial write reads the base win over the base's bytes", async () => {
    const gated = new GatedBlockBackend(new MemoryBlockBackend(pattern(8192, 3)), true);
    const snapshot = new SnapshotBlockBackend(gated, { discard: true });
    const write = snapshot.write(100, Uint8Array.of(1, 2, 3));
    expect(gated.pending).toBe(1);
    await snapshot.discard!(0, 8192);
    gated.release("read");
    await write;
    const out = new Uint8Array(8192);
    await snapshot.read(0, out);
    const expected = new Uint8Array(8192);
    expected.set([1, 2, 3], 100);
    expect(Buffer.from(out).equals(expected)).toBe(true);
  });

  it("refuses accesses past the end and any use after close", async () => {
    const snapshot = new SnapshotBlockBackend(new MemoryBlockBackend(4096));
    await expect(snapshot.write(4000, new Uint8Array(200))).rejects.toBeInstanceOf(BlockBackendError);
    await snapshot.close();
    await expect(snapshot.read(0, new Uint8Array(1))).rejects.toThrow(/closed/);
    await expect(snapshot.flush()).rejects.toThrow(/closed/);
  });
});

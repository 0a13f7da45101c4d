import { describe, expect, it } from "vitest";
import { BlockBackendError } from "./block-backend.js";
import { pattern } from "./block-request.test-support.js";
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

  it("refuses accesses past the end and any use after close", async () => {
    const snapshot = new SnapshotBlockBackend(new MemoryBlockBackend(4096));
    await expect(snapshot.write(4000, new Uint8Array(200))).rejects.toBeInstanceOf(BlockBackendError);
    await snapshot.close();
    await expect(snapshot.read(0, new Uint8Array(1))).rejects.toThrow(/closed/);
    await expect(snapshot.flush()).rejects.toThrow(/closed/);
  });
});

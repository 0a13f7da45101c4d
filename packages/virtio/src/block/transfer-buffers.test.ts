import { describe, expect, it } from "vitest";
import { TransferBufferPool } from "./transfer-buffers.js";

describe("TransferBufferPool", () => {
  it("lends the same memory again once a user is done, sized to what was asked", async () => {
    const pool = new TransferBufferPool(4096, 2);
    const first = await pool.with(4096, async (buffer) => buffer);
    const second = await pool.with(512, async (buffer) => buffer);
    expect(second.length).toBe(512);
    expect(second.buffer).toBe(first.buffer);
    expect(pool.freeCount).toBe(1);
  });

  it("never lends one buffer to two users at once", async () => {
    const pool = new TransferBufferPool(1024, 4);
    const held: Uint8Array[] = [];
    let release!: () => void;
    const gate = new Promise<void>((resolve) => {
      release = resolve;
    });
    const users = [1, 2, 3].map((n) =>
      pool.with(1024, async (buffer) => {
        buffer.fill(n);
        held.push(buffer);
        await gate;
        return buffer.every((b) => b === n);
      }),
    );
    expect(new Set(held.map((b) => b.buffer)).size).toBe(3);
    release();
    expect(await Promise.all(users)).toEqual([true, true, true]);
    expect(pool.freeCount).toBe(3);
  });

  it("takes a buffer back when its user fails, and keeps at most maxFree", async () => {
    const pool = new TransferBufferPool(64, 1);
    await expect(
      pool.with(64, async () => {
        throw new Error("backend failed");
      }),
    ).rejects.toThrow("backend failed");
    expect(pool.freeCount).toBe(1);
    await Promise.all([pool.with(64, async () => {}), pool.with(64, async () => {})]);
    expect(pool.freeCount).toBe(1);
  });

  it("refuses a transfer larger than its buffers", async () => {
    const pool = new TransferBufferPool(64, 1);
    await expect(pool.with(65, async () => {})).rejects.toBeInstanceOf(RangeError);
  });
});

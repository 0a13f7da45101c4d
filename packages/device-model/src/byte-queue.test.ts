import { describe, expect, it } from "vitest";
import { ByteQueue } from "./byte-queue.js";

describe("ByteQueue", () => {
  it("is first in, first out across the wrap-around", () => {
    const q = new ByteQueue(3);
    expect(q.shift()).toBe(-1);
    for (let round = 0; round < 5; round++) {
      expect(q.push(round)).toBe(true);
      expect(q.push(round + 100)).toBe(true);
      expect(q.shift()).toBe(round);
      expect(q.shift()).toBe(round + 100);
    }
    expect(q.count).toBe(0);
  });

  it("refuses bytes when full and reports room", () => {
    const q = new ByteQueue(2);
    expect(q.free).toBe(2);
    expect(q.push(1)).toBe(true);
    expect(q.push(2)).toBe(true);
    expect(q.push(3)).toBe(false);
    expect(q.free).toBe(0);
    expect(q.contents()).toEqual([1, 2]);
    q.clear();
    expect(q.contents()).toEqual([]);
  });

  it("loads snapshots defensively", () => {
    const q = new ByteQueue(2);
    q.load([0x1ff, "x", 5]);
    expect(q.contents()).toEqual([0xff, 0]);
    q.load(undefined);
    expect(q.count).toBe(0);
  });
});

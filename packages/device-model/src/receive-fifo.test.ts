import { describe, expect, it } from "vitest";
import { RECEIVE_FIFO_DEPTH, ReceiveFifo } from "./receive-fifo.js";

describe("ReceiveFifo", () => {
  it("keeps order and error bits across wrap-around", () => {
    const fifo = new ReceiveFifo();
    for (let round = 0; round < 3; round++) {
      for (let i = 0; i < RECEIVE_FIFO_DEPTH; i++) fifo.push(i + round, i === 5 ? 0x10 : 0);
      expect(fifo.count).toBe(RECEIVE_FIFO_DEPTH);
      expect(fifo.erroneousCount).toBe(1);
      for (let i = 0; i < 10; i++) {
        expect(fifo.headErrors()).toBe(i === 5 ? 0x10 : 0);
        expect(fifo.pop()).toBe(i + round);
      }
      expect(fifo.erroneousCount).toBe(0);
      expect(fifo.contents()).toEqual(Array.from({ length: 6 }, (_, i) => i + 10 + round));
      fifo.clear();
      expect(fifo.count).toBe(0);
      expect(fifo.headErrors()).toBe(0);
      // Start the next round from a shifted head.
      fifo.push(0, 0);
      fifo.pop();
    }
  });

  it("replaces the newest byte and tracks its errors", () => {
    const fifo = new ReceiveFifo();
    fifo.push(1, 0x08);
    fifo.replaceNewest(2, 0);
    expect(fifo.erroneousCount).toBe(0);
    fifo.replaceNewest(3, 0x04);
    expect(fifo.erroneousCount).toBe(1);
    expect(fifo.contents()).toEqual([3]);
    expect(fifo.errorContents()).toEqual([0x04]);
  });
});

import { describe, expect, it } from "vitest";
import { createGuestRam, VirtqueueDriver } from "./virtqueue-driver.test-support.js";

describe("VirtqueueDriver (test harness)", () => {
  it("keeps the buffers of drivers sharing a memory off each other's rings and buffers", () => {
    const memory = createGuestRam();
    const first = new VirtqueueDriver({ memory, size: 64 });
    const second = new VirtqueueDriver({ memory, size: 64, ringBase: 0x20000 });
    const firstQueue = first.createQueue();
    const secondQueue = second.createQueue();
    // 64 chains of 2 KiB: the first driver's buffers run past the second driver's rings.
    for (let i = 0; i < 32; i++) {
      first.add({ readable: [new Uint8Array(2048).fill(i)] });
      second.add({ readable: [new Uint8Array(2048).fill(0x80 + i)] });
    }
    for (let i = 0; i < 32; i++) {
      for (const [queue, fill] of [
        [firstQueue, i],
        [secondQueue, 0x80 + i],
      ] as const) {
        const chain = queue.pop()!;
        expect(chain.error).toBeUndefined();
        const data = new Uint8Array(2048);
        chain.read(0, data);
        expect(data.every((b) => b === fill)).toBe(true);
        queue.pushUsed(chain, 0);
      }
    }
    expect(first.takeUsed()).toHaveLength(32);
    expect(second.takeUsed()).toHaveLength(32);
  });

  it("lets a driver replace another at the same rings (a queue set up again), freeing the old buffers", () => {
    const memory = createGuestRam(1 << 20);
    for (let round = 0; round < 8; round++) {
      const driver = new VirtqueueDriver({ memory, size: 8 });
      // 8 x 100 KiB never returned: would not fit 1 MiB twice over if the replaced drivers kept theirs.
      for (let i = 0; i < 8; i++) driver.add({ writable: [100 << 10] });
    }
  });

  it("refuses rings laid over another driver's buffers", () => {
    const memory = createGuestRam();
    const first = new VirtqueueDriver({ memory });
    const address = first.alloc(16);
    expect(() => new VirtqueueDriver({ memory, ringBase: address })).toThrow(
      /overlap another driver's buffer/,
    );
  });
});

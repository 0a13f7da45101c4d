import { describe, expect, it } from "vitest";
import { createVirtqueue } from "./create-virtqueue.js";
import { vringNeedEvent } from "./split-virtqueue.js";
import type { DescriptorChain } from "./virtqueue.js";
import { VirtqueueDriver } from "./virtqueue-driver.test-support.js";

const bytes = (...values: number[]) => Uint8Array.from(values);

function readAll(chain: DescriptorChain): Uint8Array {
  const data = new Uint8Array(chain.readableLength);
  expect(chain.read(0, data)).toBe(data.length);
  return data;
}

describe("split virtqueue", () => {
  it("pops a chain with readable then writable buffers and returns it through the used ring", () => {
    const driver = new VirtqueueDriver({ size: 8 });
    const queue = driver.createQueue();
    expect(queue.size).toBe(8);
    expect(queue.pop()).toBeNull();

    const id = driver.add({ readable: [bytes(1, 2, 3), bytes(4, 5)], writable: [4, 6] });
    const chain = queue.pop()!;
    expect(chain.error).toBeUndefined();
    expect(chain.id).toBe(id);
    expect(chain.readableLength).toBe(5);
    expect(chain.writableLength).toBe(10);
    expect(readAll(chain)).toEqual(bytes(1, 2, 3, 4, 5));
    // Reads and writes across buffer boundaries, and at the end of each part.
    const middle = new Uint8Array(3);
    expect(chain.read(2, middle)).toBe(3);
    expect(middle).toEqual(bytes(3, 4, 5));
    expect(chain.read(4, new Uint8Array(8))).toBe(1);
    expect(chain.read(5, new Uint8Array(1))).toBe(0);
    expect(chain.write(2, bytes(9, 8, 7, 6, 5))).toBe(5);
    expect(chain.write(8, bytes(1, 2, 3, 4))).toBe(2);
    expect(queue.pop()).toBeNull();

    queue.pushUsed(chain, 10);
    const [used] = driver.takeUsed();
    expect(used.id).toBe(id);
    expect(used.length).toBe(10);
    expect(used.written).toEqual(bytes(0xee, 0xee, 9, 8, 7, 6, 5, 0xee, 1, 2));
    // The chain went back to the driver: it no longer reaches guest memory.
    expect(chain.write(0, bytes(1))).toBe(0);
    expect(chain.read(0, new Uint8Array(1))).toBe(0);
  });

  it("pops chains in the order the driver made them available, across the 16-bit index wrap", () => {
    const driver = new VirtqueueDriver({ size: 8 });
    const queue = driver.createQueue();
    let counter = 0;
    // 70,000 chains: the free-running avail and used indices wrap past 65535.
    for (let round = 0; round < 70_000 / 3; round++) {
      const ids: number[] = [];
      for (let i = 0; i < 3; i++)
        ids.push(driver.add({ readable: [bytes(counter++ & 0xff)], writable: [1] }));
      for (let i = 0; i < 3; i++) {
        const chain = queue.pop()!;
        expect(chain.id).toBe(ids[i]);
        expect(readAll(chain)[0]).toBe((counter - 3 + i) & 0xff);
        chain.write(0, bytes(i));
        queue.pushUsed(chain, 1);
      }
      expect(queue.pop()).toBeNull();
      const used = driver.takeUsed();
      expect(used.map((u) => u.id)).toEqual(ids);
      expect(used.map((u) => u.written[0])).toEqual([0, 1, 2]);
    }
    expect(queue.broken).toBeUndefined();
  });

  it("returns chains out of order with the lengths pushed", () => {
    const driver = new VirtqueueDriver({ size: 8 });
    const queue = driver.createQueue();
    const a = driver.add({ writable: [16] });
    const b = driver.add({ readable: [bytes(1)], writable: [16] });
    const first = queue.pop()!;
    const second = queue.pop()!;
    queue.pushUsed(second, 3);
    queue.pushUsed(first, 7);
    expect(driver.takeUsed().map((u) => [u.id, u.length])).toEqual([
      [b, 3],
      [a, 7],
    ]);
  });

  it("follows an indirect table", () => {
    const driver = new VirtqueueDriver({ size: 8 });
    const queue = driver.createQueue();
    const id = driver.add({ readable: [bytes(1, 2), bytes(3)], writable: [2, 2], indirect: true });
    const chain = queue.pop()!;
    expect(chain.error).toBeUndefined();
    expect(chain.id).toBe(id);
    expect(readAll(chain)).toEqual(bytes(1, 2, 3));
    expect(chain.writableLength).toBe(4);
    chain.write(1, bytes(5, 6, 7));
    queue.pushUsed(chain, 4);
    expect(driver.takeUsed()[0].written).toEqual(bytes(0xee, 5, 6, 7));
  });

  it("clamps the used length to the writable bytes and ignores chains that are not outstanding", () => {
    const driver = new VirtqueueDriver({ size: 8 });
    const queue = driver.createQueue();
    driver.add({ readable: [bytes(1)], writable: [4] });
    const chain = queue.pop()!;
    queue.pushUsed(chain, 1000);
    queue.pushUsed(chain, 1); // twice: ignored
    const other = new VirtqueueDriver({ size: 8 });
    other.add({ writable: [4] });
    queue.pushUsed(other.createQueue().pop()!, 1); // another queue's chain: ignored
    const used = driver.takeUsed();
    expect(used).toHaveLength(1);
    expect(used[0].length).toBe(4);
  });

  describe("notifications without VIRTIO_F_RING_EVENT_IDX", () => {
    it("sets and clears VRING_USED_F_NO_NOTIFY", () => {
      const driver = new VirtqueueDriver({ size: 8 });
      const queue = driver.createQueue();
      driver.add({ writable: [1] });
      expect(driver.kick()).toBe(true);
      queue.setNotifications(false);
      driver.add({ writable: [1] });
      expect(driver.kick()).toBe(false);
      queue.setNotifications(true);
      expect(driver.kick()).toBe(true);
    });

    it("honours VRING_AVAIL_F_NO_INTERRUPT and wants nothing when no buffer was used", () => {
      const driver = new VirtqueueDriver({ size: 8 });
      const queue = driver.createQueue();
      expect(queue.needsInterrupt()).toBe(false);
      driver.add({ writable: [1] });
      driver.add({ writable: [1] });
      queue.pushUsed(queue.pop()!, 0);
      expect(queue.needsInterrupt()).toBe(true);
      expect(queue.needsInterrupt()).toBe(false); // nothing new since
      driver.setInterrupts(false);
      queue.pushUsed(queue.pop()!, 0);
      expect(queue.needsInterrupt()).toBe(false);
      driver.setInterrupts(true);
      // The buffer used while interrupts were off still counts.
      expect(queue.needsInterrupt()).toBe(true);
    });
  });

  describe("VIRTIO_F_RING_EVENT_IDX", () => {
    it("vring_need_event handles the 16-bit wrap", () => {
      expect(vringNeedEvent(0, 1, 0)).toBe(true);
      expect(vringNeedEvent(1, 1, 0)).toBe(false);
      expect(vringNeedEvent(0xffff, 2, 0xfffe)).toBe(true);
      expect(vringNeedEvent(0, 2, 0xfffe)).toBe(true);
      expect(vringNeedEvent(1, 2, 0xfffe)).toBe(true);
      expect(vringNeedEvent(2, 2, 0xfffe)).toBe(false);
      expect(vringNeedEvent(0xfffd, 2, 0xfffe)).toBe(false);
    });

    it("interrupts when the used index passes used_event, across the wrap", () => {
      const driver = new VirtqueueDriver({ size: 8, eventIdx: true });
      const queue = driver.createQueue();
      const cycle = (n: number) => {
        for (let i = 0; i < n; i++) driver.add({ writable: [1] });
        for (let i = 0; i < n; i++) queue.pushUsed(queue.pop()!, 0);
        driver.takeUsed();
      };
      // Move the used index to 0xfffc.
      driver.setUsedEvent(0x8000);
      for (let i = 0; i < 0xfffc / 4; i++) cycle(4);
      expect(queue.needsInterrupt()).toBe(true); // the window passed 0x8000
      driver.setUsedEvent(0xfffe); // interrupt me once entry 0xfffe is used
      cycle(2); // used idx 0xfffe: entries 0xfffc, 0xfffd
      expect(queue.needsInterrupt()).toBe(false);
      cycle(1); // entry 0xfffe used, idx 0xffff
      expect(queue.needsInterrupt()).toBe(true);
      driver.setUsedEvent(1);
      cycle(1); // entry 0xffff, idx 0
      expect(queue.needsInterrupt()).toBe(false);
      cycle(1); // entry 0, idx 1
      expect(queue.needsInterrupt()).toBe(false);
      cycle(1); // entry 1, idx 2
      expect(queue.needsInterrupt()).toBe(true);
      // The flag is ignored with EVENT_IDX.
      driver.setUsedEvent(2);
      driver.setInterrupts(true);
      cycle(1);
      expect(queue.needsInterrupt()).toBe(true);
    });

    it("keeps avail_event at the next entry to consume, and leaves it behind when notifications are off", () => {
      const driver = new VirtqueueDriver({ size: 8, eventIdx: true });
      const queue = driver.createQueue();
      driver.add({ writable: [1] });
      expect(driver.kick()).toBe(true); // avail_event 0 is passed by entry 0
      queue.pushUsed(queue.pop()!, 0); // avail_event := 1
      driver.add({ writable: [1] });
      driver.add({ writable: [1] });
      expect(driver.kick()).toBe(true);
      queue.setNotifications(false);
      queue.pushUsed(queue.pop()!, 0);
      queue.pushUsed(queue.pop()!, 0);
      driver.add({ writable: [1] });
      expect(driver.kick()).toBe(false);
      queue.setNotifications(true); // avail_event := 3, the entry added while notifications were off
      expect(driver.kick()).toBe(false); // nothing added since the last kick
      // So a device drains the queue after enabling notifications; the pop moves avail_event on.
      queue.pushUsed(queue.pop()!, 0);
      expect(queue.pop()).toBeNull();
      driver.add({ writable: [1] });
      expect(driver.kick()).toBe(true);
      expect(queue.pop()).not.toBeNull();
    });
  });

  it("creates a packed or split queue from the features", () => {
    const split = new VirtqueueDriver({ size: 8 });
    split.add({ writable: [1] });
    expect(createVirtqueue(split.queueOptions()).pop()?.error).toBeUndefined();
  });
});

import { describe, expect, it } from "vitest";
import { DescriptorFlag } from "./constants.js";
import { PackedEventFlag } from "./packed-virtqueue.js";
import type { DescriptorChain } from "./virtqueue.js";
import { VirtqueueDriver } from "./virtqueue-driver.test-support.js";

const bytes = (...values: number[]) => Uint8Array.from(values);

function readAll(chain: DescriptorChain): Uint8Array {
  const data = new Uint8Array(chain.readableLength);
  expect(chain.read(0, data)).toBe(data.length);
  return data;
}

describe("packed virtqueue", () => {
  it("pops a chain and writes one used descriptor for it, flags last", () => {
    const driver = new VirtqueueDriver({ size: 8, packed: true });
    const memory = driver.memory;
    const queue = driver.createQueue();
    expect(queue.pop()).toBeNull();
    const id = driver.add({ readable: [bytes(1, 2, 3), bytes(4)], writable: [3, 3] });
    const chain = queue.pop()!;
    expect(chain.error).toBeUndefined();
    expect(chain.id).toBe(id);
    expect(readAll(chain)).toEqual(bytes(1, 2, 3, 4));
    expect(chain.writableLength).toBe(6);
    expect(chain.write(2, bytes(7, 8))).toBe(2);
    expect(queue.pop()).toBeNull();

    const writes: number[] = [];
    const stop = memory.onWrite((gpa) => writes.push(gpa - driver.layout.descriptorArea));
    queue.pushUsed(chain, 4);
    stop();
    // len, then id, then the flags that hand the element over.
    expect(writes).toEqual([8, 12, 14]);
    const flags = memory.readU16(driver.layout.descriptorArea + 14);
    expect(flags & (DescriptorFlag.Avail | DescriptorFlag.Used)).toBe(
      DescriptorFlag.Avail | DescriptorFlag.Used,
    );
    expect(flags & DescriptorFlag.Write).toBe(DescriptorFlag.Write);
    const [used] = driver.takeUsed();
    expect(used.id).toBe(id);
    expect(used.length).toBe(4);
    expect(used.written).toEqual(bytes(0xee, 0xee, 7, 8));
  });

  it("keeps order and wrap counters over many laps, with chains that straddle the ring's end", () => {
    const driver = new VirtqueueDriver({ size: 5, packed: true });
    const queue = driver.createQueue();
    let counter = 0;
    for (let round = 0; round < 2000; round++) {
      const ids: number[] = [];
      const values: number[] = [];
      // A 3-descriptor chain and a 2-descriptor one: 5 descriptors, then the ring is full.
      for (const readable of [2, 1]) {
        const data = Array.from({ length: readable }, () => bytes(counter++ & 0xff));
        values.push(data[0][0]);
        ids.push(driver.add({ readable: data, writable: [2] }));
      }
      expect(driver.canAdd({ writable: [1] })).toBe(false);
      const chains = [queue.pop()!, queue.pop()!];
      expect(queue.pop()).toBeNull();
      expect(chains.map((c) => c.id)).toEqual(ids);
      expect(chains.map((c) => readAll(c)[0])).toEqual(values);
      // Complete them in reverse order every other round.
      const order = round % 2 === 0 ? [0, 1] : [1, 0];
      for (const i of order) {
        chains[i].write(0, bytes(i));
        queue.pushUsed(chains[i], 1);
      }
      const used = driver.takeUsed();
      expect(used.map((u) => u.id)).toEqual(order.map((i) => ids[i]));
      expect(used.map((u) => u.written[0])).toEqual(order);
    }
    expect(queue.broken).toBeUndefined();
  });

  it("follows an indirect table", () => {
    const driver = new VirtqueueDriver({ size: 4, packed: true });
    const queue = driver.createQueue();
    const id = driver.add({ readable: [bytes(1), bytes(2, 3)], writable: [1, 3], indirect: true });
    const chain = queue.pop()!;
    expect(chain.error).toBeUndefined();
    expect(chain.id).toBe(id);
    expect(readAll(chain)).toEqual(bytes(1, 2, 3));
    expect(chain.write(0, bytes(4, 5, 6, 7))).toBe(4);
    queue.pushUsed(chain, 4);
    expect(driver.takeUsed()[0].written).toEqual(bytes(4, 5, 6, 7));
  });

  describe("event suppression", () => {
    it("sets the device event suppression flags", () => {
      const driver = new VirtqueueDriver({ size: 8, packed: true });
      const queue = driver.createQueue();
      driver.add({ writable: [1] });
      expect(driver.kick()).toBe(true);
      queue.setNotifications(false);
      expect(driver.memory.readU16(driver.layout.deviceArea + 2)).toBe(PackedEventFlag.Disable);
      driver.add({ writable: [1] });
      expect(driver.kick()).toBe(false);
      queue.setNotifications(true);
      expect(driver.kick()).toBe(true);
    });

    it("honours enable and disable in the driver event suppression structure", () => {
      const driver = new VirtqueueDriver({ size: 8, packed: true });
      const queue = driver.createQueue();
      for (let i = 0; i < 3; i++) driver.add({ writable: [1] });
      expect(queue.needsInterrupt()).toBe(false);
      queue.pushUsed(queue.pop()!, 0);
      expect(queue.needsInterrupt()).toBe(true);
      expect(queue.needsInterrupt()).toBe(false);
      driver.setInterrupts(false);
      queue.pushUsed(queue.pop()!, 0);
      expect(queue.needsInterrupt()).toBe(false);
      driver.setInterrupts(true);
      expect(queue.needsInterrupt()).toBe(true);
      // DESC without VIRTIO_F_RING_EVENT_IDX is not allowed: treated as enable.
      driver.setDriverEvent(PackedEventFlag.Desc, 7, false);
      queue.pushUsed(queue.pop()!, 0);
      expect(queue.needsInterrupt()).toBe(true);
    });

    it("interrupts when the descriptor named by off and wrap is used, across laps", () => {
      const driver = new VirtqueueDriver({ size: 6, packed: true, eventIdx: true });
      const queue = driver.createQueue();
      const cycle = (readable: number) => {
        driver.add({ readable: Array.from({ length: readable }, () => bytes(0)) });
        queue.pushUsed(queue.pop()!, 0);
        driver.takeUsed();
      };
      // Lap 1 (wrap 1): ask for the descriptor at 4.
      driver.setDriverEvent(PackedEventFlag.Desc, 4, true);
      cycle(2); // positions 0-1
      expect(queue.needsInterrupt()).toBe(false);
      cycle(2); // 2-3
      expect(queue.needsInterrupt()).toBe(false);
      cycle(3); // 4,5 and 0 of the next lap: passes 4
      expect(queue.needsInterrupt()).toBe(true);
      // Now in lap 2 (wrap 0) at position 1: ask for position 2 of this lap.
      driver.setDriverEvent(PackedEventFlag.Desc, 2, false);
      cycle(1); // 1
      expect(queue.needsInterrupt()).toBe(false);
      cycle(1); // 2
      expect(queue.needsInterrupt()).toBe(true);
      // An event in the lap that already ended (wrap 1, position 5) lies behind: never reached again until a
      // whole ring's worth of descriptors is used.
      driver.setDriverEvent(PackedEventFlag.Desc, 5, true);
      cycle(2); // 3-4
      expect(queue.needsInterrupt()).toBe(false);
      cycle(2); // 5 (wrap 0), 0 (wrap 1)
      expect(queue.needsInterrupt()).toBe(false);
      // A ring's worth of descriptors used since the last interrupt: whatever the event, it was passed.
      cycle(2); // 1-2
      expect(queue.needsInterrupt()).toBe(true);
    });

    it("lets the driver ask for an interrupt at the next used descriptor", () => {
      const driver = new VirtqueueDriver({ size: 4, packed: true, eventIdx: true });
      const queue = driver.createQueue();
      for (let round = 0; round < 50; round++) {
        driver.setInterrupts(true); // DESC at the next used position
        driver.add({ writable: [1] });
        const chain = queue.pop()!;
        expect(queue.needsInterrupt()).toBe(false);
        queue.pushUsed(chain, 1);
        expect(queue.needsInterrupt()).toBe(true);
        driver.takeUsed();
      }
    });
  });
});

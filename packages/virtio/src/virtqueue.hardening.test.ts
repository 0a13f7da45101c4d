// What a hostile or buggy driver can do to a queue, case by case: each malformed chain is consumed with an error
// (and can still be returned with pushUsed(chain, 0)), each corruption no chain can be returned for breaks the
// queue once; nothing throws.
import { describe, expect, it, vi } from "vitest";
import { DESCRIPTOR_SIZE, DescriptorFlag, VirtioFeature } from "./constants.js";
import { createVirtqueue, validateQueueLayout } from "./create-virtqueue.js";
import { featureWords } from "./features.js";
import type { Virtqueue } from "./virtqueue.js";
import {
  createGuestRam,
  type RawDescriptor,
  VirtqueueDriver,
  type VirtqueueDriverOptions,
} from "./virtqueue-driver.test-support.js";

const { Next, Write, Indirect } = DescriptorFlag;
const RAM_SIZE = 4 << 20;

function setup(options: VirtqueueDriverOptions = {}) {
  const driver = new VirtqueueDriver({ size: 8, ...options });
  const onBroken = vi.fn();
  const queue = driver.createQueue({ onBroken });
  return { driver, queue, onBroken };
}

/** Pops the one chain, expects it malformed with `reason`, returns it with length 0 and checks the used entry. */
function expectErrorChain(driver: VirtqueueDriver, queue: Virtqueue, reason: RegExp, id?: number): void {
  const chain = queue.pop();
  expect(chain).not.toBeNull();
  expect(chain!.error).toMatch(reason);
  if (id !== undefined) expect(chain!.id).toBe(id);
  expect(chain!.readableLength).toBe(0);
  expect(chain!.writableLength).toBe(0);
  expect(chain!.read(0, new Uint8Array(4))).toBe(0);
  expect(chain!.write(0, new Uint8Array(4))).toBe(0);
  queue.pushUsed(chain!, 100);
  const used = driver.takeUsed();
  expect(used.map((u) => [u.id, u.length])).toEqual([[chain!.id, 0]]);
  expect(queue.broken).toBeUndefined();
  // The queue goes on working.
  driver.add({ readable: [Uint8Array.of(1)] });
  const next = queue.pop()!;
  expect(next.error).toBeUndefined();
  queue.pushUsed(next, 0);
  driver.takeUsed();
}

function expectBroken(queue: Virtqueue, onBroken: ReturnType<typeof vi.fn>, reason: RegExp): void {
  expect(queue.pop()).toBeNull();
  expect(queue.broken).toMatch(reason);
  expect(onBroken).toHaveBeenCalledTimes(1);
  expect(onBroken).toHaveBeenCalledWith(queue.broken);
  // Nothing more happens, and nothing throws.
  expect(queue.pop()).toBeNull();
  expect(queue.needsInterrupt()).toBe(false);
  queue.setNotifications(false);
  expect(onBroken).toHaveBeenCalledTimes(1);
}

describe.each([
  ["split", false],
  ["packed", true],
])("%s queue hardening", (_name, packed) => {
  const publish = (driver: VirtqueueDriver, descriptors: RawDescriptor[]) => driver.addRaw(descriptors);
  const buffer = (driver: VirtqueueDriver, length = 16) => driver.alloc(length);

  it("refuses a buffer outside RAM, crossing into MMIO, or writable in ROM", () => {
    const { driver, queue } = setup({ packed });
    driver.memory.setUserMemoryRegion({
      slot: 1,
      guestPhysAddr: RAM_SIZE + 0x1000,
      memorySize: 0x1000,
      readOnly: true,
    });
    const cases = [
      { address: RAM_SIZE + 0x10_0000, length: 16, flags: 0 }, // MMIO hole
      { address: RAM_SIZE - 8, length: 16, flags: 0 }, // crosses the end of RAM
      { address: RAM_SIZE + 0x1000, length: 16, flags: Write }, // ROM is not writable
    ];
    for (const d of cases) {
      publish(driver, [d]);
      expectErrorChain(driver, queue, /not guest RAM/);
    }
    // ROM is fine to read from.
    publish(driver, [{ address: RAM_SIZE + 0x1000, length: 16, flags: 0 }]);
    const chain = queue.pop()!;
    expect(chain.error).toBeUndefined();
    expect(chain.readableLength).toBe(16);
  });

  it("refuses addresses whose end is beyond 2^52", () => {
    const { driver, queue } = setup({ packed });
    publish(driver, [{ address: 2 ** 52 - 8, length: 16, flags: 0 }]);
    expectErrorChain(driver, queue, /outside the guest address space/);
    publish(driver, [{ address: 0xffff_ffff_ffff_f000, length: 0x2000, flags: 0 }]);
    expectErrorChain(driver, queue, /outside the guest address space/);
  });

  it("refuses a readable descriptor after a writable one", () => {
    const { driver, queue } = setup({ packed });
    publish(driver, [
      { address: buffer(driver), length: 16, flags: Next | Write },
      { address: buffer(driver), length: 16, flags: 0 },
    ]);
    expectErrorChain(driver, queue, /readable descriptor follows a device-writable/);
  });

  it("refuses indirect descriptors when VIRTIO_F_RING_INDIRECT_DESC was not negotiated", () => {
    const { driver, queue } = setup({ packed, indirectDesc: false });
    driver.add({ readable: [Uint8Array.of(1)], indirect: true });
    expectErrorChain(driver, queue, /without VIRTIO_F_RING_INDIRECT_DESC/);
  });

  it.each([0, 8, 24])("refuses an indirect table of %i bytes", (length) => {
    const { driver, queue } = setup({ packed });
    publish(driver, [{ address: buffer(driver, 64), length, flags: Indirect }]);
    expectErrorChain(driver, queue, /indirect table of/);
  });

  it("refuses an indirect table outside RAM or larger than 32768 entries", () => {
    const { driver, queue } = setup({ packed });
    publish(driver, [{ address: RAM_SIZE - 16, length: 32, flags: Indirect }]);
    expectErrorChain(driver, queue, /indirect table .* is not guest RAM/);
    publish(driver, [{ address: 0, length: 32769 * DESCRIPTOR_SIZE, flags: Indirect }]);
    expectErrorChain(driver, queue, /32769 entries/);
  });

  it("refuses an indirect descriptor with NEXT set", () => {
    const { driver, queue } = setup({ packed });
    const table = buffer(driver, 16);
    driver.writeTable(table, [{ address: buffer(driver), length: 16, flags: 0 }]);
    publish(driver, [
      { address: table, length: 16, flags: Indirect | Next },
      { address: buffer(driver), length: 16, flags: 0 },
    ]);
    expectErrorChain(driver, queue, /indirect descriptor has NEXT set/);
  });

  it("refuses an indirect table inside an indirect table", () => {
    const { driver, queue } = setup({ packed });
    const inner = buffer(driver, 16);
    driver.writeTable(inner, [{ address: buffer(driver), length: 16, flags: 0 }]);
    const outer = buffer(driver, 32);
    driver.writeTable(outer, [
      { address: buffer(driver), length: 16, flags: packed ? 0 : Next, nextOrId: 1 },
      { address: inner, length: 16, flags: Indirect },
    ]);
    publish(driver, [{ address: outer, length: 32, flags: Indirect }]);
    expectErrorChain(driver, queue, /indirect table holds another indirect/);
  });

  it("checks every buffer of an indirect table", () => {
    const { driver, queue } = setup({ packed });
    const table = buffer(driver, 32);
    driver.writeTable(table, [
      { address: buffer(driver), length: 16, flags: packed ? Write : Write | Next, nextOrId: 1 },
      { address: RAM_SIZE, length: 16, flags: Write },
    ]);
    publish(driver, [{ address: table, length: 32, flags: Indirect }]);
    expectErrorChain(driver, queue, /not guest RAM/);
  });

  it("returns an error chain, out of order, with the id the driver gave it", () => {
    const { driver, queue } = setup({ packed });
    driver.add({ writable: [4] });
    driver.add({ writable: [4] });
    queue.pushUsed(queue.pop()!, 4);
    driver.takeUsed();
    const badId = driver.addRaw([
      { address: RAM_SIZE, length: 4, flags: 0, nextOrId: packed ? 5 : undefined },
    ]);
    const good = queue.pop()!;
    const bad = queue.pop()!;
    expect(bad.id).toBe(badId);
    if (packed) expect(bad.id).toBe(5);
    expect(bad.error).toMatch(/not guest RAM/);
    queue.pushUsed(bad, 0);
    queue.pushUsed(good, 2);
    expect(driver.takeUsed().map((u) => [u.id, u.length])).toEqual([
      [badId, 0],
      [good.id, 2],
    ]);
  });

  it("breaks, once, when a ring is not in RAM at creation", () => {
    const memory = createGuestRam();
    const onBroken = vi.fn();
    const layouts = [
      { size: 8, descriptorArea: RAM_SIZE, driverArea: 0x1000, deviceArea: 0x2000 },
      { size: 8, descriptorArea: 0x1000, driverArea: packed ? RAM_SIZE : RAM_SIZE - 4, deviceArea: 0x2000 },
      { size: 8, descriptorArea: 0x1000, driverArea: 0x2000, deviceArea: RAM_SIZE + 0x1000 },
    ];
    for (const layout of layouts) {
      onBroken.mockClear();
      const features = featureWords(VirtioFeature.Version1, ...(packed ? [VirtioFeature.RingPacked] : []));
      const queue = createVirtqueue({ memory, index: 0, layout, features, onBroken });
      expect(queue.broken).toMatch(/not in (writable )?guest RAM/);
      expectBroken(queue, onBroken, /not in/);
    }
  });

  it("breaks on a layout validateQueueLayout refuses", () => {
    const memory = createGuestRam();
    const onBroken = vi.fn();
    const features = featureWords(VirtioFeature.Version1, ...(packed ? [VirtioFeature.RingPacked] : []));
    const layout = { size: 65536, descriptorArea: 0x1000, driverArea: 0x2000, deviceArea: 0x3000 };
    const queue = createVirtqueue({ memory, index: 0, layout, features, onBroken });
    expectBroken(queue, onBroken, /queue size 65536/);
  });

  it("breaks when a ring stops being RAM, and chains in flight stop at the hole", () => {
    const memory = createGuestRam();
    const { driver, queue, onBroken } = setup({ packed, memory });
    driver.add({ readable: [new Uint8Array(16).fill(3)], writable: [16] });
    const chain = queue.pop()!;
    // The whole of RAM goes away (a hot-unplug race): the chain copies nothing, the queue breaks.
    memory.setUserMemoryRegion({ slot: 0, guestPhysAddr: 0, memorySize: 0 });
    expect(chain.read(0, new Uint8Array(16))).toBe(0);
    expect(chain.write(0, new Uint8Array(16))).toBe(0);
    queue.pushUsed(chain, 16);
    expect(queue.broken).toMatch(/no longer guest RAM/);
    expectBroken(queue, onBroken, /no longer guest RAM/);
  });

  it("ignores pushUsed of a chain twice, of another queue's chain, and of a chain after the queue broke", () => {
    const { driver, queue } = setup({ packed });
    driver.add({ writable: [4] });
    const chain = queue.pop()!;
    queue.pushUsed(chain, 4);
    queue.pushUsed(chain, 4);
    const other = new VirtqueueDriver({ packed });
    other.add({ writable: [4] });
    queue.pushUsed(other.createQueue().pop()!, 1);
    queue.pushUsed(
      { id: 0, error: undefined, readableLength: 0, writableLength: 0, read: () => 0, write: () => 0 },
      0,
    );
    expect(driver.takeUsed().map((u) => u.length)).toEqual([4]);
  });

  it("clamps the used length to the writable bytes, and treats negative or NaN lengths as 0", () => {
    const { driver, queue } = setup({ packed });
    for (const [written, expected] of [
      [1e12, 8],
      [-5, 0],
      [Number.NaN, 0],
      [3.7, 3],
    ]) {
      driver.add({ readable: [Uint8Array.of(1)], writable: [4, 4] });
      queue.pushUsed(queue.pop()!, written);
      expect(driver.takeUsed()[0].length).toBe(expected);
    }
    driver.add({ readable: [Uint8Array.of(1)] });
    queue.pushUsed(queue.pop()!, 10);
    expect(driver.takeUsed()[0].length).toBe(0);
  });

  it("accepts zero-length buffers anywhere in the address space", () => {
    const { driver, queue } = setup({ packed });
    publish(driver, [
      { address: RAM_SIZE + 0x1234, length: 0, flags: Next },
      { address: buffer(driver), length: 16, flags: Write },
    ]);
    const chain = queue.pop()!;
    expect(chain.error).toBeUndefined();
    expect(chain.readableLength).toBe(0);
    expect(chain.writableLength).toBe(16);
  });

  it("reads and writes through chain buffers only within their bounds", () => {
    const { driver, queue } = setup({ packed });
    driver.add({ readable: [Uint8Array.of(1, 2)], writable: [2] });
    const chain = queue.pop()!;
    expect(chain.read(-1, new Uint8Array(1))).toBe(0);
    expect(chain.read(0.5, new Uint8Array(1))).toBe(0);
    expect(chain.write(2, new Uint8Array(1))).toBe(0);
    expect(chain.write(Number.NaN, new Uint8Array(1))).toBe(0);
    expect(chain.write(1, new Uint8Array(4).fill(9))).toBe(1);
  });
});

describe("split queue hardening", () => {
  it("consumes a descriptor loop with an error", () => {
    const { driver, queue } = setup();
    const b = driver.alloc(16);
    driver.writeDescriptor(0, { address: b, length: 16, flags: Next, nextOrId: 1 });
    driver.writeDescriptor(1, { address: b, length: 16, flags: Next, nextOrId: 0 });
    driver.publishHead(0);
    expectErrorChain(driver, queue, /longer than the queue size/, 0);
  });

  it("consumes a chain longer than the queue (each descriptor once, but the head is reached again)", () => {
    const { driver, queue } = setup({ size: 4 });
    const b = driver.alloc(16);
    for (let i = 0; i < 4; i++)
      driver.writeDescriptor(i, { address: b, length: 16, flags: Next, nextOrId: (i + 1) % 4 });
    driver.publishHead(2);
    expectErrorChain(driver, queue, /longer than the queue size/, 2);
  });

  it("accepts a chain exactly as long as the queue", () => {
    const { driver, queue } = setup({ size: 4 });
    const b = driver.alloc(16);
    for (let i = 0; i < 4; i++)
      driver.writeDescriptor(i, { address: b, length: 16, flags: i < 3 ? Next : 0, nextOrId: i + 1 });
    driver.publishHead(0);
    expect(queue.pop()!.readableLength).toBe(64);
  });

  it("consumes a chain whose next index is out of range", () => {
    const { driver, queue } = setup();
    driver.writeDescriptor(3, { address: driver.alloc(16), length: 16, flags: Next, nextOrId: 8 });
    driver.publishHead(3);
    expectErrorChain(driver, queue, /links to descriptor 8/, 3);
  });

  it("consumes a loop or a next index out of range inside an indirect table", () => {
    const { driver, queue } = setup();
    const b = driver.alloc(16);
    const table = driver.alloc(32);
    driver.writeTable(table, [
      { address: b, length: 16, flags: Next, nextOrId: 1 },
      { address: b, length: 16, flags: Next, nextOrId: 0 },
    ]);
    driver.addRaw([{ address: table, length: 32, flags: Indirect }]);
    expectErrorChain(driver, queue, /longer than its table/);
    driver.writeTable(table, [
      { address: b, length: 16, flags: Next, nextOrId: 1 },
      { address: b, length: 16, flags: Next, nextOrId: 2 },
    ]);
    driver.addRaw([{ address: table, length: 32, flags: Indirect }]);
    expectErrorChain(driver, queue, /links to 2, outside its table of 2/);
  });

  it("breaks on a head index out of range", () => {
    const { driver, queue, onBroken } = setup();
    driver.publishHead(8);
    expectBroken(queue, onBroken, /names descriptor 8/);
  });

  it("breaks when the available index moves by more than the queue size", () => {
    const { driver, queue, onBroken } = setup();
    driver.add({ writable: [1] });
    queue.pushUsed(queue.pop()!, 0);
    driver.setAvailIndex(1 + 9);
    expectBroken(queue, onBroken, /moved from 1 to 10/);
  });

  it("breaks when the available index goes backwards", () => {
    const { driver, queue, onBroken } = setup();
    driver.add({ writable: [1] });
    driver.add({ writable: [1] });
    queue.pop();
    queue.pop();
    driver.setAvailIndex(1);
    expectBroken(queue, onBroken, /moved from 2 to 1/);
  });

  it("accepts an available index exactly the queue size ahead", () => {
    const { driver, queue } = setup({ size: 4 });
    for (let i = 0; i < 4; i++) driver.add({ writable: [1] });
    for (let i = 0; i < 4; i++) expect(queue.pop()?.error).toBeUndefined();
    expect(queue.pop()).toBeNull();
  });

  it("reads avail idx once per batch: entries published after it are popped only once it is read again", () => {
    const { driver, queue } = setup();
    driver.add({ writable: [1] });
    driver.add({ writable: [1] });
    const reads: number[] = [];
    const memory = driver.memory;
    const original = memory.readU16.bind(memory);
    memory.readU16 = (gpa: number) => {
      if (gpa === driver.layout.driverArea + 2) reads.push(gpa);
      return original(gpa);
    };
    queue.pop();
    queue.pop();
    expect(reads).toHaveLength(1);
    expect(queue.pop()).toBeNull();
    expect(reads).toHaveLength(2);
  });
});

describe("packed queue hardening", () => {
  it("breaks on a buffer ID out of range", () => {
    const { driver, queue, onBroken } = setup({ packed: true });
    driver.addRaw([{ address: driver.alloc(16), length: 16, flags: 0, nextOrId: 8 }]);
    expectBroken(queue, onBroken, /buffer ID 8/);
  });

  it("reads the buffer ID from the chain's last descriptor", () => {
    const { driver, queue } = setup({ packed: true });
    driver.addRaw([
      { address: driver.alloc(16), length: 16, flags: Next, nextOrId: 100 },
      { address: driver.alloc(16), length: 16, flags: 0, nextOrId: 6 },
    ]);
    expect(queue.pop()!.id).toBe(6);
  });

  it("breaks on a chain that never ends (NEXT on every descriptor of the ring)", () => {
    const { driver, queue, onBroken } = setup({ packed: true, size: 4 });
    const b = driver.alloc(16);
    driver.addRaw(Array.from({ length: 4 }, () => ({ address: b, length: 16, flags: Next })));
    expectBroken(queue, onBroken, /longer than the ring/);
  });

  it("breaks on a chain that runs into a descriptor that is not available", () => {
    const { driver, queue, onBroken } = setup({ packed: true });
    const b = driver.alloc(16);
    driver.addRaw([
      { address: b, length: 16, flags: Next },
      { address: b, length: 16, flags: 0 },
    ]);
    driver.writeDescriptor(1, { address: b, length: 16, flags: 0 }); // neither AVAIL nor USED: not available
    expectBroken(queue, onBroken, /not available/);
  });

  it("breaks when more descriptors are made available than the ring holds", () => {
    const { driver, queue, onBroken } = setup({ packed: true, size: 2 });
    driver.add({ writable: [1] });
    driver.add({ writable: [1] });
    queue.pop();
    queue.pop();
    // The driver marks position 0 available again (with the next lap's wrap counter) while both are outstanding.
    driver.addRaw([{ address: driver.alloc(16), length: 16, flags: 0, nextOrId: 1 }]);
    expectBroken(queue, onBroken, /more descriptors available than the ring/);
  });

  it("consumes an indirect table with NEXT ignored in its entries", () => {
    const { driver, queue } = setup({ packed: true });
    const table = driver.alloc(32);
    driver.writeTable(table, [
      { address: driver.alloc(16), length: 16, flags: Next, nextOrId: 7 },
      { address: driver.alloc(8), length: 8, flags: Write, nextOrId: 9 },
    ]);
    driver.addRaw([{ address: table, length: 32, flags: Indirect, nextOrId: 3 }]);
    const chain = queue.pop()!;
    expect(chain.error).toBeUndefined();
    expect(chain.id).toBe(3);
    expect([chain.readableLength, chain.writableLength]).toEqual([16, 8]);
  });
});

describe("validateQueueLayout", () => {
  const layout = (size: number, descriptorArea = 0x1000, driverArea = 0x2000, deviceArea = 0x3000) => ({
    size,
    descriptorArea,
    driverArea,
    deviceArea,
  });

  it("accepts split sizes that are powers of two up to the maximum", () => {
    for (const size of [1, 2, 256, 32768])
      expect(validateQueueLayout(layout(size), 32768, false)).toBeUndefined();
    expect(validateQueueLayout(layout(3), 256, false)).toMatch(/not a power of two/);
    expect(validateQueueLayout(layout(512), 256, false)).toMatch(/larger than the device's maximum 256/);
  });

  it("accepts any packed size up to the maximum", () => {
    for (const size of [1, 3, 255, 32768])
      expect(validateQueueLayout(layout(size), 32768, true)).toBeUndefined();
    expect(validateQueueLayout(layout(300), 256, true)).toMatch(/maximum/);
  });

  it.each([0, -1, 65536, 1.5, Number.NaN])("refuses size %s", (size) => {
    expect(validateQueueLayout(layout(size), 65536, false)).toMatch(/queue size/);
    expect(validateQueueLayout(layout(size), 65536, true)).toMatch(/queue size/);
  });

  it("checks the areas' alignment", () => {
    expect(validateQueueLayout(layout(8, 0x1008), 8, false)).toMatch(/descriptor table .* 16-byte/);
    expect(validateQueueLayout(layout(8, 0x1000, 0x2001), 8, false)).toMatch(/available ring .* 2-byte/);
    expect(validateQueueLayout(layout(8, 0x1000, 0x2002), 8, false)).toBeUndefined();
    expect(validateQueueLayout(layout(8, 0x1000, 0x2002, 0x3002), 8, false)).toMatch(/used ring .* 4-byte/);
    expect(validateQueueLayout(layout(8, 0x1008), 8, true)).toMatch(/descriptor ring .* 16-byte/);
    expect(validateQueueLayout(layout(8, 0x1000, 0x2002), 8, true)).toMatch(/driver event .* 4-byte/);
    expect(validateQueueLayout(layout(8, 0x1000, 0x2000, 0x3002), 8, true)).toMatch(/device event .* 4-byte/);
  });

  it("refuses addresses outside the guest address space", () => {
    expect(validateQueueLayout(layout(8, 2 ** 52), 8, false)).toMatch(/outside/);
    expect(validateQueueLayout(layout(8, 0x1000, -2), 8, false)).toMatch(/outside/);
    expect(validateQueueLayout(layout(8, 0x1000, 0x2000, 12288.5), 8, true)).toMatch(/outside/);
  });
});

// Property tests for both ring layouts: hostile ring contents never make a queue throw or touch memory outside
// guest RAM, and an honest driver's chains come out once, in order, byte for byte, with the used lengths pushed and
// no lost notification or interrupt.
import { PhysicalMemory } from "@tsvmm/ept";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { DESCRIPTOR_SIZE, VirtioFeature } from "./constants.js";
import { createVirtqueue } from "./create-virtqueue.js";
import { featureWords } from "./features.js";
import type { DescriptorChain } from "./virtqueue.js";
import { AccessCheckingMemory, VirtqueueDriver } from "./virtqueue-driver.test-support.js";

// A small machine: RAM, ROM right after it, an MMIO hole, then a little more RAM.
const RAM = [0, 0x10000] as const;
const ROM = [0x10000, 0x11000] as const;
const HIGH_RAM = [0x20000, 0x21000] as const;
const RING_BASE = 0x1000;
/** Where hostile indirect tables live (random bytes too). */
const TABLE_AREA = [0x4000, 0x4400] as const;

function hostileMachine(): PhysicalMemory {
  const memory = new PhysicalMemory();
  memory.setUserMemoryRegion({ slot: 0, guestPhysAddr: RAM[0], memorySize: RAM[1] - RAM[0] });
  memory.setUserMemoryRegion({ slot: 1, guestPhysAddr: ROM[0], memorySize: ROM[1] - ROM[0], readOnly: true });
  memory.setUserMemoryRegion({ slot: 2, guestPhysAddr: HIGH_RAM[0], memorySize: HIGH_RAM[1] - HIGH_RAM[0] });
  return memory;
}

const flagsArbitrary = fc.oneof(
  fc.integer({ min: 0, max: 0xffff }),
  // The bits that matter, in every combination: NEXT, WRITE, INDIRECT, AVAIL, USED.
  fc
    .tuple(fc.boolean(), fc.boolean(), fc.boolean(), fc.boolean(), fc.boolean())
    .map(([n, w, i, a, u]) => (n ? 1 : 0) | (w ? 2 : 0) | (i ? 4 : 0) | (a ? 0x80 : 0) | (u ? 0x8000 : 0)),
);

const descriptorArbitrary = fc.record({
  slot: fc.nat({ max: 40 }),
  lo: fc.oneof(
    fc.integer({ min: RAM[0], max: RAM[1] - 1 }),
    fc.constantFrom(TABLE_AREA[0], TABLE_AREA[0] + 16, TABLE_AREA[0] + 0x100, RING_BASE),
    fc.integer({ min: RAM[1] - 0x40, max: ROM[1] + 0x40 }),
    fc.integer({ min: HIGH_RAM[0] - 0x40, max: HIGH_RAM[1] + 0x40 }),
    fc.integer({ min: 0, max: 0xffff_ffff }),
  ),
  hi: fc.oneof(
    { weight: 6, arbitrary: fc.constant(0) },
    { weight: 1, arbitrary: fc.constantFrom(1, 0xf_ffff, 0x10_0000, 0x1f_ffff, 0xffff_ffff) },
  ),
  length: fc.oneof(
    fc.integer({ min: 0, max: 64 }),
    fc.constantFrom(16, 32, 48, 0x400, 0x1000, 0x10000, 0xffff_fff0, 0xffff_ffff),
    fc.integer({ min: 0, max: 0xffff_ffff }),
  ),
  flags: flagsArbitrary,
  nextOrId: fc.oneof(fc.nat({ max: 20 }), fc.integer({ min: 0, max: 0xffff })),
});

type RawDescriptorCase = typeof descriptorArbitrary extends fc.Arbitrary<infer T> ? T : never;

const lengthArbitrary = fc.oneof(
  fc.integer({ min: -4, max: 80 }),
  fc.constantFrom(Number.NaN, Number.POSITIVE_INFINITY, 2 ** 40, 0.5),
);

const hostileOp = fc.oneof(
  fc.record({
    op: fc.constant("pop" as const),
    readOffset: fc.integer({ min: -2, max: 100 }),
    readLength: fc.nat({ max: 100 }),
    writeOffset: fc.integer({ min: -2, max: 100 }),
    writeLength: fc.nat({ max: 100 }),
  }),
  fc.record({ op: fc.constant("push" as const), which: fc.nat(), length: lengthArbitrary }),
  fc.record({ op: fc.constant("interrupt" as const) }),
  fc.record({ op: fc.constant("notifications" as const), enabled: fc.boolean() }),
  // The driver scribbles over its rings (indices, flags, event structures) between device calls.
  fc.record({
    op: fc.constant("scribble" as const),
    offset: fc.nat(),
    value: fc.integer({ min: 0, max: 0xffff }),
  }),
  fc.record({ op: fc.constant("descriptor" as const), descriptor: descriptorArbitrary }),
);

describe("virtqueue properties", () => {
  it("random ring contents never throw, never reach outside RAM, never write the driver's areas", () => {
    fc.assert(
      fc.property(
        fc.record({
          packed: fc.boolean(),
          eventIdx: fc.boolean(),
          indirect: fc.boolean(),
          sizeLog: fc.integer({ min: 0, max: 4 }),
          packedSize: fc.integer({ min: 1, max: 16 }),
          ringBytes: fc.uint8Array({ minLength: 0, maxLength: 700 }),
          tableBytes: fc.uint8Array({ minLength: 0, maxLength: TABLE_AREA[1] - TABLE_AREA[0] }),
          descriptors: fc.array(descriptorArbitrary, { maxLength: 24 }),
          tableDescriptors: fc.array(descriptorArbitrary, { maxLength: 16 }),
          ops: fc.array(hostileOp, { maxLength: 40 }),
        }),
        (c) => {
          const memory = hostileMachine();
          const size = c.packed ? c.packedSize : 1 << c.sizeLog;
          const driver = new VirtqueueDriver({
            memory,
            size,
            packed: c.packed,
            eventIdx: c.eventIdx,
            indirectDesc: c.indirect,
            ringBase: RING_BASE,
            dataSize: 0x1000,
          });
          const { layout } = driver;
          const ringEnd = c.packed ? layout.driverArea + 8 : layout.deviceArea + 6 + 8 * size;
          memory.write(RING_BASE, c.ringBytes.subarray(0, ringEnd - RING_BASE));
          memory.write(TABLE_AREA[0], c.tableBytes);
          const writeRaw = (at: number, d: RawDescriptorCase) => {
            memory.writeU32(at, d.lo);
            memory.writeU32(at + 4, d.hi);
            memory.writeU32(at + 8, d.length);
            memory.writeU16(at + (c.packed ? 14 : 12), d.flags);
            memory.writeU16(at + (c.packed ? 12 : 14), d.nextOrId);
          };
          for (const d of c.descriptors)
            writeRaw(layout.descriptorArea + DESCRIPTOR_SIZE * (d.slot % size), d);
          c.tableDescriptors.forEach((d, i) => {
            writeRaw(TABLE_AREA[0] + DESCRIPTOR_SIZE * i, d);
          });
          if (!c.packed && c.ringBytes.length > 0) {
            // Keep the available index near 0 half the time, so chains are popped rather than the queue breaking.
            if (c.ringBytes[0] & 1) memory.writeU16(layout.driverArea + 2, c.ringBytes[0] % (size + 2));
          }

          const checked = new AccessCheckingMemory(memory);
          checked.record = false;
          // Everything the driver owns: split descriptor table and available ring, packed driver event structure;
          // and the indirect tables.
          const driverAreas: [number, number][] = c.packed
            ? [[layout.driverArea, layout.driverArea + 4]]
            : [
                [layout.descriptorArea, layout.descriptorArea + DESCRIPTOR_SIZE * size],
                [layout.driverArea, layout.driverArea + 6 + 2 * size],
              ];
          driverAreas.push([TABLE_AREA[0], TABLE_AREA[1]]);
          checked.noWrite.push(...driverAreas);
          let brokenCalls = 0;
          const queue = createVirtqueue({
            memory: checked,
            index: 0,
            layout,
            features: driver.features,
            onBroken: () => brokenCalls++,
          });
          const chains: DescriptorChain[] = [];
          for (const op of c.ops) {
            switch (op.op) {
              case "pop": {
                const chain = queue.pop();
                if (chain === null) break;
                chains.push(chain);
                if (chain.error !== undefined) {
                  expect(chain.readableLength + chain.writableLength).toBe(0);
                } else if (chain.readableLength <= 1 << 20) {
                  // A usable chain is readable in full: every buffer was checked against the memory map.
                  expect(chain.read(0, new Uint8Array(chain.readableLength))).toBe(chain.readableLength);
                }
                chain.read(op.readOffset, new Uint8Array(op.readLength));
                // The driver may point a writable buffer anywhere in its RAM, its own rings included.
                checked.noWrite.length = 0;
                const written = chain.write(op.writeOffset, new Uint8Array(op.writeLength).fill(0x5a));
                checked.noWrite.push(...driverAreas);
                expect(written).toBeLessThanOrEqual(
                  Math.max(0, Math.min(op.writeLength, chain.writableLength)),
                );
                break;
              }
              case "push":
                if (chains.length > 0) queue.pushUsed(chains[op.which % chains.length], op.length);
                break;
              case "interrupt":
                queue.needsInterrupt();
                break;
              case "notifications":
                queue.setNotifications(op.enabled);
                break;
              case "scribble":
                memory.writeU16(RING_BASE + (op.offset % (ringEnd - RING_BASE - 1)), op.value);
                break;
              case "descriptor":
                writeRaw(
                  layout.descriptorArea + DESCRIPTOR_SIZE * (op.descriptor.slot % size),
                  op.descriptor,
                );
                break;
            }
          }
          expect(checked.violations).toEqual([]);
          expect(brokenCalls).toBe(queue.broken === undefined ? 0 : 1);
          if (queue.broken !== undefined) expect(queue.pop()).toBeNull();
        },
      ),
      { numRuns: 400 },
    );
  });

  const modelOp = fc.oneof(
    {
      weight: 4,
      arbitrary: fc.record({
        op: fc.constant("add" as const),
        readable: fc.array(fc.uint8Array({ maxLength: 24 }), { maxLength: 3 }),
        writable: fc.array(fc.nat({ max: 24 }), { maxLength: 3 }),
        indirect: fc.boolean(),
        kick: fc.boolean(),
      }),
    },
    { weight: 4, arbitrary: fc.record({ op: fc.constant("pop" as const) }) },
    {
      weight: 4,
      arbitrary: fc.record({
        op: fc.constant("complete" as const),
        which: fc.nat(),
        data: fc.uint8Array({ maxLength: 40 }),
        offset: fc.nat({ max: 8 }),
        length: fc.oneof(fc.nat({ max: 60 }), fc.constant(-1)),
      }),
    },
    { weight: 2, arbitrary: fc.record({ op: fc.constant("takeUsed" as const) }) },
    { weight: 1, arbitrary: fc.record({ op: fc.constant("interrupts" as const), enabled: fc.boolean() }) },
    { weight: 1, arbitrary: fc.record({ op: fc.constant("needsInterrupt" as const) }) },
    { weight: 1, arbitrary: fc.record({ op: fc.constant("notifyCheck" as const) }) },
    { weight: 1, arbitrary: fc.record({ op: fc.constant("quietCheck" as const) }) },
  );

  it("an honest driver's chains come back once, in order, byte for byte, with no lost notification", () => {
    fc.assert(
      fc.property(
        fc.record({
          packed: fc.boolean(),
          eventIdx: fc.boolean(),
          sizeLog: fc.integer({ min: 0, max: 4 }),
          packedSize: fc.integer({ min: 1, max: 12 }),
          ops: fc.array(modelOp, { maxLength: 80 }),
        }),
        (c) => {
          const size = c.packed ? c.packedSize : 1 << c.sizeLog;
          const driver = new VirtqueueDriver({ size, packed: c.packed, eventIdx: c.eventIdx });
          const checked = new AccessCheckingMemory(driver.memory);
          checked.record = false;
          const queue = createVirtqueue({ ...driver.queueOptions(), memory: checked });

          interface Expected {
            id: number;
            readable: Uint8Array;
            writable: number;
          }
          const available: Expected[] = []; // added, not popped: FIFO
          const inFlight: { chain: DescriptorChain; expected: Expected; written: Uint8Array }[] = [];
          const returned: { id: number; length: number; written: Uint8Array }[] = [];
          let interruptsArmed = false;
          let interruptsOff = false;

          const pop = () => {
            const chain = queue.pop();
            const expected = available.shift();
            if (expected === undefined) {
              expect(chain).toBeNull();
              return false;
            }
            expect(chain).not.toBeNull();
            expect(chain!.error).toBeUndefined();
            expect(chain!.id).toBe(expected.id);
            const data = new Uint8Array(expected.readable.length + 1);
            expect(chain!.read(0, data)).toBe(expected.readable.length);
            expect(data.subarray(0, expected.readable.length)).toEqual(expected.readable);
            expect(chain!.writableLength).toBe(expected.writable);
            inFlight.push({ chain: chain!, expected, written: new Uint8Array(expected.writable).fill(0xee) });
            return true;
          };
          const add = (readable: Uint8Array[], writable: number[], indirect: boolean) => {
            if (readable.length + writable.length === 0) writable = [1];
            const chain = { readable, writable, indirect };
            if (!driver.canAdd(chain)) return false;
            const id = driver.add(chain);
            const bytes = new Uint8Array(readable.reduce((n, b) => n + b.length, 0));
            let at = 0;
            for (const b of readable) {
              bytes.set(b, at);
              at += b.length;
            }
            available.push({ id, readable: bytes, writable: writable.reduce((n, w) => n + w, 0) });
            return true;
          };
          const takeUsed = () => {
            const used = driver.takeUsed();
            expect(used.map((u) => ({ id: u.id, length: u.length, written: u.written }))).toEqual(returned);
            returned.length = 0;
          };

          for (const op of c.ops) {
            switch (op.op) {
              case "add":
                if (add(op.readable, op.writable, op.indirect) && op.kick) driver.kick();
                break;
              case "pop":
                pop();
                break;
              case "complete": {
                if (inFlight.length === 0) break;
                const [entry] = inFlight.splice(op.which % inFlight.length, 1);
                const copied = entry.chain.write(op.offset, op.data);
                const expectedCopied = Math.max(
                  0,
                  Math.min(op.data.length, entry.expected.writable - op.offset),
                );
                expect(copied).toBe(expectedCopied);
                entry.written.set(op.data.subarray(0, copied), Math.min(op.offset, entry.written.length));
                const length = op.length < 0 ? entry.expected.writable : op.length;
                queue.pushUsed(entry.chain, length);
                const clamped = Math.min(length, entry.expected.writable);
                returned.push({
                  id: entry.expected.id,
                  length: clamped,
                  written: entry.written.slice(0, clamped),
                });
                if (interruptsArmed) {
                  expect(queue.needsInterrupt()).toBe(true);
                  interruptsArmed = false;
                } else if (interruptsOff && (!c.eventIdx || c.packed)) {
                  expect(queue.needsInterrupt()).toBe(false);
                }
                break;
              }
              case "takeUsed":
                takeUsed();
                break;
              case "interrupts":
                // The driver enables interrupts after consuming everything used, as a driver re-arming does.
                takeUsed();
                driver.setInterrupts(op.enabled);
                interruptsArmed = op.enabled;
                interruptsOff = !op.enabled;
                break;
              case "needsInterrupt":
                if (queue.needsInterrupt()) interruptsArmed = false;
                break;
              case "notifyCheck":
                // A device that enables notifications and drains the queue is notified of the next chain.
                queue.setNotifications(true);
                while (pop()) {}
                driver.kick();
                if (add([Uint8Array.of(1)], [], false)) expect(driver.kick()).toBe(true);
                break;
              case "quietCheck":
                // Without EVENT_IDX (split) the flag is exact: no notification while disabled.
                queue.setNotifications(false);
                driver.kick();
                if (add([], [4], false) && (!c.eventIdx || c.packed)) expect(driver.kick()).toBe(false);
                queue.setNotifications(true);
                break;
            }
          }
          // Drain everything and check the totals.
          while (pop()) {}
          for (const entry of inFlight.splice(0)) {
            queue.pushUsed(entry.chain, 0);
            returned.push({ id: entry.expected.id, length: 0, written: new Uint8Array(0) });
          }
          takeUsed();
          expect(driver.pending).toBe(0);
          expect(queue.broken).toBeUndefined();
          expect(checked.violations).toEqual([]);
        },
      ),
      { numRuns: 300 },
    );
  });

  it("no feature combination makes a fresh, empty queue do anything", () => {
    for (const packed of [false, true]) {
      const driver = new VirtqueueDriver({ packed });
      const features = featureWords(
        VirtioFeature.Version1,
        VirtioFeature.RingEventIdx,
        VirtioFeature.RingIndirectDesc,
        ...(packed ? [VirtioFeature.RingPacked] : []),
      );
      const checked = new AccessCheckingMemory(driver.memory);
      const queue = createVirtqueue({ ...driver.queueOptions(), features, memory: checked });
      expect(queue.pop()).toBeNull();
      expect(queue.needsInterrupt()).toBe(false);
      // Only reads so far: no write before the device is asked to do something.
      expect(checked.accesses.filter((a) => a.write)).toEqual([]);
    }
  });
});

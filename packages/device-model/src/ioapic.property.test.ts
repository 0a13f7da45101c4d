import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { type ApicInterruptMessage, IoApic } from "./ioapic.js";
import { IOAPIC_PINS, RedirectionEntry } from "./ioapic-registers.js";

type Op =
  | { kind: "select"; value: number }
  | { kind: "write"; offset: number; value: number; width: number }
  | { kind: "read"; offset: number; width: number }
  | { kind: "irq"; pin: number; level: boolean }
  | { kind: "eoi"; vector: number }
  | { kind: "reset" };

/** Register indexes biased towards real registers; vectors from a small set so EOIs match. */
const index = fc.oneof(fc.nat(255), fc.integer({ min: 0x10, max: 0x3f }), fc.constantFrom(0, 1, 2));
const vector = fc.constantFrom(0x20, 0x21, 0x30, 0xff);
const entryLow = fc
  .record({
    vector,
    mode: fc.nat(7),
    bits: fc.subarray([0x800, 0x1000, 0x2000, 0x4000, 0x8000, 0x10000, 0x80000000]),
  })
  .map(({ vector, mode, bits }) => (vector | (mode << 8) | bits.reduce((a, b) => a | b, 0)) >>> 0);
const op: fc.Arbitrary<Op> = fc.oneof(
  { weight: 3, arbitrary: fc.record({ kind: fc.constant("select" as const), value: index }) },
  {
    weight: 4,
    arbitrary: fc.record({
      kind: fc.constant("write" as const),
      offset: fc.constantFrom(0x00, 0x10, 0x40, 0x04, 0x11),
      value: fc.oneof(entryLow, fc.nat(0xffffffff)),
      width: fc.constantFrom(1, 2, 4, 8),
    }),
  },
  {
    weight: 2,
    arbitrary: fc.record({
      kind: fc.constant("read" as const),
      offset: fc.constantFrom(0x00, 0x10, 0x40, 0x13),
      width: fc.constantFrom(1, 4, 8),
    }),
  },
  {
    weight: 6,
    arbitrary: fc.record({ kind: fc.constant("irq" as const), pin: fc.nat(25), level: fc.boolean() }),
  },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant("eoi" as const), vector }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant("reset" as const) }) },
);

function apply(ioapic: IoApic, o: Op): void {
  const data = new Uint8Array(o.kind === "write" || o.kind === "read" ? o.width : 4);
  switch (o.kind) {
    case "select":
      data[0] = o.value;
      ioapic.write(0, 0, data);
      return;
    case "write":
      for (let i = 0; i < Math.min(4, o.width); i++) data[i] = o.value >>> (8 * i);
      ioapic.write(0, o.offset, data);
      return;
    case "read":
      ioapic.read(0, o.offset, data);
      return;
    case "irq":
      ioapic.setIrq(o.pin, o.level);
      return;
    case "eoi":
      ioapic.eoi(o.vector);
      return;
    case "reset":
      ioapic.reset();
  }
}

describe("IoApic properties", () => {
  it("random traffic never throws and keeps remote IRR consistent with the entries and inputs", () => {
    fc.assert(
      fc.property(fc.array(op, { maxLength: 120 }), (ops) => {
        const sent: ApicInterruptMessage[] = [];
        const ioapic = new IoApic({ output: { deliver: (m) => sent.push({ ...m }) } });
        for (const o of ops) {
          const before = ioapic.getState();
          sent.length = 0;
          apply(ioapic, o);
          const after = ioapic.getState();
          for (let pin = 0; pin < IOAPIC_PINS; pin++) {
            const low = after.redirectionLow[pin];
            const level = (low & RedirectionEntry.TriggerLevel) !== 0;
            const asserted = (after.inputs & (1 << pin)) !== 0;
            // Edge entries never hold remote IRR; the delivery status bit never shows.
            if (!level) expect(low & RedirectionEntry.RemoteIrr).toBe(0);
            expect(low & RedirectionEntry.DeliveryStatus).toBe(0);
            // An unmasked level entry with its input asserted has always been sent (remote IRR set).
            if (level && asserted && (low & RedirectionEntry.Masked) === 0) {
              expect(low & RedirectionEntry.RemoteIrr).not.toBe(0);
            }
          }
          // Every message comes from an unmasked entry whose fields it carries; a level message sets remote IRR.
          for (const m of sent) {
            const pins = after.redirectionLow
              .map((low, pin) => ({ low, pin }))
              .filter(
                ({ low, pin }) =>
                  (low & RedirectionEntry.Masked) === 0 &&
                  (low & 0xff) === m.vector &&
                  ((low >> 8) & 7) === m.deliveryMode &&
                  (low >>> 15) % 2 === m.trigger &&
                  after.redirectionHigh[pin] >>> 24 === m.destination,
              );
            expect(pins.length).toBeGreaterThan(0);
            if (m.trigger === 1) {
              expect(pins.some(({ low }) => (low & RedirectionEntry.RemoteIrr) !== 0)).toBe(true);
            }
          }
          // An edge message needs a rising input (or nothing is sent).
          if (o.kind !== "irq") {
            expect(sent.every((m) => m.trigger === 1)).toBe(true);
          } else if (sent.length > 0 && sent[0].trigger === 0) {
            expect((before.inputs & (1 << o.pin)) === 0 && o.level).toBe(true);
          }
        }
      }),
      { numRuns: 300 },
    );
  });

  it("a restored snapshot behaves like the original", () => {
    fc.assert(
      fc.property(fc.array(op, { maxLength: 60 }), fc.array(op, { maxLength: 60 }), (prefix, suffix) => {
        const sentA: ApicInterruptMessage[] = [];
        const sentB: ApicInterruptMessage[] = [];
        const a = new IoApic({ output: { deliver: (m) => sentA.push({ ...m }) } });
        for (const o of prefix) apply(a, o);
        const b = new IoApic({ output: { deliver: (m) => sentB.push({ ...m }) } });
        b.setState(JSON.parse(JSON.stringify(a.getState())));
        expect(sentB).toEqual([]);
        sentA.length = 0;
        for (const o of suffix) {
          apply(a, o);
          apply(b, o);
        }
        expect(sentB).toEqual(sentA);
        expect(b.getState()).toEqual(a.getState());
      }),
      { numRuns: 200 },
    );
  });
});

import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { Pic8259Pair, type Pic8259PairState } from "./pic8259-pair.js";

type Op =
  | { kind: "write"; chip: number; offset: number; value: number }
  | { kind: "read"; chip: number; offset: number }
  | { kind: "irq"; irq: number; level: boolean }
  | { kind: "ack" }
  | { kind: "reset" };

/** Biased towards meaningful commands: ICW1, OCW2 EOIs/rotations, OCW3, masks. */
const commandByte = fc.oneof(
  fc.nat(255),
  fc.constantFrom(
    0x11,
    0x13,
    0x19,
    0x10,
    0x20,
    0x60,
    0x62,
    0xa0,
    0xe3,
    0xc5,
    0x80,
    0x00,
    0x0a,
    0x0b,
    0x0c,
    0x68,
    0x48,
  ),
);
const op: fc.Arbitrary<Op> = fc.oneof(
  {
    weight: 5,
    arbitrary: fc.record({
      kind: fc.constant("write" as const),
      chip: fc.nat(2),
      offset: fc.nat(3),
      value: commandByte,
    }),
  },
  {
    weight: 2,
    arbitrary: fc.record({ kind: fc.constant("read" as const), chip: fc.nat(2), offset: fc.nat(3) }),
  },
  {
    weight: 6,
    arbitrary: fc.record({ kind: fc.constant("irq" as const), irq: fc.nat(15), level: fc.boolean() }),
  },
  { weight: 3, arbitrary: fc.record({ kind: fc.constant("ack" as const) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant("reset" as const) }) },
);

function harness(latchEdgeRequests: boolean) {
  const h = { intr: false, outputs: [] as number[], pic: undefined as unknown as Pic8259Pair };
  h.pic = new Pic8259Pair({ latchEdgeRequests, intr: { set: (asserted) => (h.intr = asserted) } });
  return h;
}

function apply(h: ReturnType<typeof harness>, o: Op): void {
  const device = (chip: number) => (chip === 0 ? h.pic.master : chip === 1 ? h.pic.slave : h.pic.elcr);
  const data = new Uint8Array(1);
  switch (o.kind) {
    case "write":
      data[0] = o.value;
      device(o.chip).write(0, o.offset, data);
      return;
    case "read":
      device(o.chip).read(0, o.offset, data);
      h.outputs.push(data[0]);
      return;
    case "irq":
      h.pic.setIrq(o.irq, o.level);
      return;
    case "ack":
      h.outputs.push(h.pic.acknowledge());
      return;
    case "reset":
      h.pic.reset();
  }
}

const ops = fc.array(op, { maxLength: 120 });

describe("Pic8259Pair properties", () => {
  it("random traffic never throws; INTR always equals hasInterrupt(); results are bytes", () => {
    fc.assert(
      fc.property(ops, fc.boolean(), (sequence, latch) => {
        const h = harness(latch);
        for (const o of sequence) {
          apply(h, o);
          expect(h.intr).toBe(h.pic.hasInterrupt());
        }
        for (const value of h.outputs)
          expect(value >= 0 && value <= 0xff && Number.isInteger(value)).toBe(true);
      }),
    );
  });

  it("never puts a masked line in service, and acknowledging without INTR changes nothing but gives IR7", () => {
    fc.assert(
      fc.property(ops, fc.boolean(), (sequence, latch) => {
        const h = harness(latch);
        for (const o of sequence) {
          if (o.kind !== "ack") {
            apply(h, o);
            continue;
          }
          const before = h.pic.getState();
          const intr = h.pic.hasInterrupt();
          const vector = h.pic.acknowledge();
          const after = h.pic.getState();
          for (const chip of ["master", "slave"] as const) {
            const newlyInService = after[chip].isr & ~before[chip].isr;
            expect(newlyInService & before[chip].imr).toBe(0);
          }
          if (!intr) {
            expect(vector).toBe((before.master.icw2 & 0xf8) | 7);
            expect(after).toEqual(before);
          }
        }
      }),
    );
  });

  it("a vector is only delivered for a requested, unmasked line (automatic EOI included)", () => {
    fc.assert(
      fc.property(ops, (sequence) => {
        // Fixed, distinct vector bases so a vector names its chip and line; AEOI on both to exercise that path too.
        const h = harness(false);
        const init = (chip: number, base: number, icw3: number) => {
          for (const [offset, value] of [
            [0, 0x11],
            [1, base],
            [1, icw3],
            [1, 0x03],
          ]) {
            apply(h, { kind: "write", chip, offset, value });
          }
        };
        init(0, 0x20, 0x04);
        init(1, 0x28, 0x02);
        for (const o of sequence) {
          if (o.kind === "write" && (o.chip === 2 || (o.offset & 1) === 1 || (o.value & 0x10) === 0))
            apply(h, o);
          else if (o.kind === "irq" || o.kind === "read") apply(h, o);
          else if (o.kind === "ack") {
            const before = h.pic.getState();
            const vector = h.pic.acknowledge();
            const spuriousMaster = vector === 0x27 && (before.master.irr & ~before.master.imr & 0x80) === 0;
            const spuriousSlave = vector === 0x2f && (before.slave.irr & ~before.slave.imr & 0x80) === 0;
            if (spuriousMaster || spuriousSlave) continue;
            const chip = vector >= 0x28 ? before.slave : before.master;
            const line = vector & 7;
            expect(vector >= 0x20 && vector < 0x30).toBe(true);
            expect((chip.imr >> line) & 1).toBe(0);
            expect((chip.irr >> line) & 1).toBe(1);
            if (vector >= 0x28) expect(before.master.imr & 0x04).toBe(0);
          }
        }
      }),
    );
  });

  it("a restored snapshot behaves exactly like the original", () => {
    fc.assert(
      fc.property(ops, ops, fc.boolean(), (prefix, suffix, latch) => {
        const a = harness(latch);
        for (const o of prefix) apply(a, o);
        const snapshot: Pic8259PairState = JSON.parse(JSON.stringify(a.pic.getState()));
        const b = harness(latch);
        // The device wires come first (they are not part of the controller), then the controller's state.
        for (let irq = 0; irq < 16; irq++) {
          const chip = irq < 8 ? snapshot.master : snapshot.slave;
          if (irq !== 2) b.pic.setIrq(irq, ((chip.inputs >> (irq & 7)) & 1) === 1);
        }
        b.pic.setState(snapshot);
        expect(b.pic.getState()).toEqual(a.pic.getState());
        expect(b.intr).toBe(a.intr);
        a.outputs.length = 0;
        for (const o of suffix) {
          apply(a, o);
          apply(b, o);
          expect(b.intr).toBe(a.intr);
        }
        expect(b.outputs).toEqual(a.outputs);
      }),
    );
  });
});

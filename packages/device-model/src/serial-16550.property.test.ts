import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { Serial16550 } from "./serial-16550.js";
import { Iir, Lsr, Mcr, UartRegister as R } from "./serial-16550-registers.js";

type Op =
  | { kind: "write"; offset: number; value: number; width: number }
  | { kind: "read"; offset: number; width: number }
  | { kind: "receive"; bytes: Uint8Array }
  | { kind: "break" }
  | { kind: "modem"; lines: number }
  | { kind: "reset" };

const width = fc.constantFrom(1, 2, 4, 8);
const offset = fc.integer({ min: 0, max: 15 });
const op: fc.Arbitrary<Op> = fc.oneof(
  {
    weight: 6,
    arbitrary: fc.record({ kind: fc.constant("write" as const), offset, value: fc.nat(255), width }),
  },
  { weight: 6, arbitrary: fc.record({ kind: fc.constant("read" as const), offset, width }) },
  {
    weight: 3,
    arbitrary: fc.record({ kind: fc.constant("receive" as const), bytes: fc.uint8Array({ maxLength: 20 }) }),
  },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant("break" as const) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant("modem" as const), lines: fc.nat(255) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant("reset" as const) }) },
);

function harness() {
  const sent: number[] = [];
  const reads: number[] = [];
  const h = {
    level: false,
    sent,
    reads,
    uart: undefined as unknown as Serial16550,
  };
  h.uart = new Serial16550({ irq: { set: (a) => (h.level = a) }, transmit: (b) => sent.push(b) });
  return h;
}

function apply(h: ReturnType<typeof harness>, o: Op): void {
  switch (o.kind) {
    case "write": {
      const data = new Uint8Array(o.width);
      data[0] = o.value;
      h.uart.write(0x3f8, o.offset, data);
      return;
    }
    case "read": {
      const data = new Uint8Array(o.width);
      h.uart.read(0x3f8, o.offset, data);
      h.reads.push(...data);
      return;
    }
    case "receive":
      h.reads.push(h.uart.receive(o.bytes));
      return;
    case "break":
      h.reads.push(h.uart.receiveBreak() ? 1 : 0);
      return;
    case "modem":
      h.uart.setModemInputs(o.lines);
      return;
    case "reset":
      h.uart.reset();
  }
}

function readByte(uart: Serial16550, offset: number): number {
  const data = new Uint8Array(1);
  uart.read(0x3f8, offset, data);
  return data[0];
}

describe("Serial16550 properties", () => {
  it("random accesses never throw and keep LSR, IIR and the IRQ line consistent with the state", () => {
    fc.assert(
      fc.property(fc.array(op, { maxLength: 120 }), (ops) => {
        const h = harness();
        for (const o of ops) {
          apply(h, o);
          const state = h.uart.getState();
          expect(state.rxBytes.length).toBeLessThanOrEqual(state.fifosEnabled ? 16 : 1);
          // Probe a copy so the side-effecting reads do not disturb the sequence under test.
          const copy = harness();
          copy.uart.setState(state);
          expect(copy.level).toBe(h.level);
          const lsr = readByte(copy.uart, R.LineStatus);
          expect((lsr & Lsr.DataReady) !== 0).toBe(state.rxBytes.length > 0);
          expect(lsr & 0x60).toBe(0x60);
          expect((lsr & Lsr.ReceiveFifoError) !== 0).toBe(
            state.fifosEnabled && state.rxErrors.some((e) => e !== 0),
          );
          // A fresh copy for IIR: the LSR read above clears line-status errors, and with them the
          // line-status interrupt, so IIR read after it no longer matches the state under test.
          const iirCopy = harness();
          iirCopy.uart.setState(state);
          const iir = readByte(iirCopy.uart, R.InterruptIdFifoControl);
          expect(iir & 0x30).toBe(0);
          expect(iir & Iir.FifosEnabled).toBe(state.fifosEnabled ? Iir.FifosEnabled : 0);
          const gate = (state.mcr & (Mcr.Out2 | Mcr.Loopback)) === Mcr.Out2;
          expect(h.level).toBe(gate && (iir & Iir.NoInterrupt) === 0);
        }
      }),
      { numRuns: 300 },
    );
  });

  it("bytes received with back-pressure are read back in order, without loss or overrun", () => {
    fc.assert(
      fc.property(
        fc.array(fc.uint8Array({ maxLength: 40 }), { maxLength: 20 }),
        fc.option(fc.constantFrom(0x01, 0x41, 0x81, 0xc1), { nil: undefined }),
        fc.array(fc.nat(20), { minLength: 1, maxLength: 10 }),
        (chunks, fcr, readBursts) => {
          const h = harness();
          if (fcr !== undefined) h.uart.write(0x3f8, R.InterruptIdFifoControl, Uint8Array.of(fcr));
          const out: number[] = [];
          let burst = 0;
          const guestReads = (max: number) => {
            for (let i = 0; i < max && (readByte(h.uart, R.LineStatus) & Lsr.DataReady) !== 0; i++) {
              out.push(readByte(h.uart, R.Data));
            }
          };
          for (const chunk of chunks) {
            let pending = chunk;
            while (pending.length > 0) {
              const taken = h.uart.receive(pending);
              expect(taken).toBeLessThanOrEqual(pending.length);
              pending = pending.subarray(taken);
              guestReads(Math.max(1, readBursts[burst++ % readBursts.length]));
            }
          }
          guestReads(Number.POSITIVE_INFINITY);
          expect(out).toEqual(chunks.flatMap((c) => [...c]));
          expect(h.uart.getState().lineErrors).toBe(0);
        },
      ),
      { numRuns: 300 },
    );
  });

  it("loopback returns every transmitted byte in order while the guest keeps up", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 100 }), fc.boolean(), (bytes, fifo) => {
        const h = harness();
        if (fifo) h.uart.write(0x3f8, R.InterruptIdFifoControl, Uint8Array.of(0x01));
        h.uart.write(0x3f8, R.ModemControl, Uint8Array.of(Mcr.Loopback));
        const capacity = fifo ? 16 : 1;
        const out: number[] = [];
        for (let i = 0; i < bytes.length; i++) {
          h.uart.write(0x3f8, R.Data, bytes.subarray(i, i + 1));
          if ((i + 1) % capacity === 0) {
            while (readByte(h.uart, R.LineStatus) & Lsr.DataReady) out.push(readByte(h.uart, R.Data));
          }
        }
        while (readByte(h.uart, R.LineStatus) & Lsr.DataReady) out.push(readByte(h.uart, R.Data));
        expect(out).toEqual([...bytes]);
        expect(h.sent).toEqual([]);
      }),
      { numRuns: 200 },
    );
  });

  it("a restored snapshot behaves exactly like the original", () => {
    fc.assert(
      fc.property(fc.array(op, { maxLength: 60 }), fc.array(op, { maxLength: 60 }), (before, after) => {
        const a = harness();
        for (const o of before) apply(a, o);
        const b = harness();
        b.uart.setState(JSON.parse(JSON.stringify(a.uart.getState())));
        expect(b.level).toBe(a.level);
        a.reads.length = 0;
        a.sent.length = 0;
        for (const o of after) {
          apply(a, o);
          apply(b, o);
          expect(b.level).toBe(a.level);
        }
        expect(b.reads).toEqual(a.reads);
        expect(b.sent).toEqual(a.sent);
        expect(b.uart.getState()).toEqual(a.uart.getState());
      }),
      { numRuns: 200 },
    );
  });
});

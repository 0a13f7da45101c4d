// Random chains on every queue of virtio-net, virtio-console and virtio-rng (split and packed): nothing throws, each
// chain comes back exactly once, and no device reports more bytes written than the chain could hold, or anything
// but what its spec allows.
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { MemoryCharBackend } from "./console/memory-char-backend.js";
import { VirtioConsole } from "./console/virtio-console.js";
import { DeviceBench, type Request, settle } from "./device-bench.test-support.js";
import { hostileRequestArb, readableTotal, writableTotal } from "./device-chains.test-support.js";
import type { NetBackend } from "./net/net-backend.js";
import { ETHERNET_HEADER_SIZE, NET_HEADER_SIZE, VirtioNet } from "./net/virtio-net.js";
import { CountingEntropy } from "./rng/counting-entropy.test-support.js";
import { VirtioRng } from "./rng/virtio-rng.js";

const frameArb = fc.uint8Array({ minLength: 0, maxLength: 1600 });

/** Whether the request's faulting buffer holds any byte of the frame (the header is not read). */
function faultsInFrame(request: Request): boolean {
  if (request.outsideRam === undefined) return false;
  let start = 0;
  for (const [index, buffer] of (request.readable ?? []).entries()) {
    const end = start + buffer.length;
    if (index === request.outsideRam) return buffer.length > 0 && end > NET_HEADER_SIZE;
    start = end;
  }
  return false;
}

describe("devices under random chains", () => {
  it("virtio-net: tx sends exactly the well-formed frames, rx fills buffers with header + whole frames", () => {
    fc.assert(
      fc.property(
        fc.array(hostileRequestArb, { maxLength: 8 }),
        fc.array(hostileRequestArb, { maxLength: 8 }),
        fc.array(frameArb, { maxLength: 8 }),
        fc.boolean(),
        (txRequests, rxRequests, frames, packed) => {
          const sent: Uint8Array[] = [];
          let receive: ((frame: Uint8Array) => void) | undefined;
          const backend: NetBackend = {
            send: (frame) => sent.push(frame),
            setReceiver: (r) => {
              receive = r;
            },
            close: async () => {},
          };
          const device = new VirtioNet({ backend });
          const bench = new DeviceBench(device, { packed });
          const tx = txRequests.map((r) => bench.offer(1, r));
          const rx = rxRequests.map((r) => bench.offer(0, r));
          expect(() => {
            bench.kick(1);
            bench.kick(0);
            for (const frame of frames) receive?.(frame);
          }).not.toThrow();

          expect(bench.used(1).length).toBe(txRequests.length);
          for (const t of tx) expect(bench.usedLength(t)).toBe(0);
          const wellFormed = txRequests.filter(
            (r) =>
              !r.error && readableTotal(r) - NET_HEADER_SIZE >= ETHERNET_HEADER_SIZE && !faultsInFrame(r),
          );
          expect(sent.length).toBe(wellFormed.length);
          sent.forEach((frame, i) => {
            const whole = Buffer.concat(wellFormed[i].readable ?? []);
            expect(Buffer.from(frame).equals(whole.subarray(NET_HEADER_SIZE))).toBe(true);
          });

          const returned = bench.used(0);
          const delivered = frames.filter((f) => f.length >= ETHERNET_HEADER_SIZE);
          for (const entry of returned) {
            const index = rx.findIndex((s) => s.id === entry.id);
            expect(entry.length).toBeLessThanOrEqual(writableTotal(rxRequests[index]));
            if (entry.length === 0) continue;
            const bytes = bench.writtenBytes(rx[index]);
            expect(bytes[10]).toBe(1);
            const frame = bytes.subarray(NET_HEADER_SIZE, entry.length);
            expect(delivered.some((f) => Buffer.from(f).equals(frame))).toBe(true);
          }
          expect(device.counters.rxFrames).toBe(returned.filter((u) => u.length > 0).length);
        },
      ),
      { numRuns: 200 },
    );
  });

  it("virtio-console: output is the concatenation of readable parts, input arrives in order and whole", () => {
    fc.assert(
      fc.property(
        fc.array(hostileRequestArb, { maxLength: 8 }),
        fc.array(hostileRequestArb, { maxLength: 8 }),
        fc.array(fc.uint8Array({ minLength: 1, maxLength: 300 }), { maxLength: 6 }),
        fc.boolean(),
        (txRequests, rxRequests, inputs, packed) => {
          const backend = new MemoryCharBackend();
          const device = new VirtioConsole({ backend });
          const bench = new DeviceBench(device, { packed });
          bench.offer(1, { readable: [Uint8Array.of(0x41)] });
          for (const r of txRequests) bench.offer(1, r);
          const rx = rxRequests.map((r) => bench.offer(0, r));
          expect(() => {
            bench.kick(1);
            bench.kick(0);
            for (const input of inputs) backend.input(input);
          }).not.toThrow();
          expect(bench.used(1).length).toBe(txRequests.length + 1);
          const expectedOutput = Buffer.concat([
            Uint8Array.of(0x41),
            ...txRequests
              .filter((r) => !r.error && r.outsideRam === undefined)
              .flatMap((r) => r.readable ?? []),
          ]);
          if (txRequests.every((r) => r.outsideRam === undefined)) {
            expect(Buffer.from(backend.output).equals(expectedOutput)).toBe(true);
          }

          const received: Uint8Array[] = [];
          for (const entry of bench.used(0)) {
            const index = rx.findIndex((s) => s.id === entry.id);
            expect(entry.length).toBeLessThanOrEqual(writableTotal(rxRequests[index]));
            received.push(bench.writtenBytes(rx[index]).subarray(0, entry.length));
          }
          const all = Buffer.concat(inputs);
          const got = Buffer.concat(received);
          if (rxRequests.every((r) => r.outsideRam === undefined)) {
            // In order, nothing skipped: what the guest got is a prefix of what was typed.
            expect(got.equals(all.subarray(0, got.length))).toBe(true);
            expect(got.length + device.inputDropped).toBeLessThanOrEqual(all.length);
          }
        },
      ),
      { numRuns: 200 },
    );
  });

  it("virtio-rng: each chain comes back once with min(writable, 64 KiB) bytes of the source, or 0", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(hostileRequestArb, { maxLength: 10 }),
        fc.boolean(),
        async (requests, packed) => {
          const device = new VirtioRng({ source: new CountingEntropy() });
          const bench = new DeviceBench(device, { packed });
          const submitted = requests.map((r) => bench.offer(0, r));
          expect(() => bench.kick(0)).not.toThrow();
          await settle();
          expect(bench.used(0).length).toBe(requests.length);
          requests.forEach((r, i) => {
            const length = bench.usedLength(submitted[i]);
            const clean = !r.error && r.outsideRam === undefined;
            expect(length).toBe(clean ? Math.min(writableTotal(r), 65536) : length === 0 ? 0 : length);
            expect(length).toBeLessThanOrEqual(writableTotal(r));
          });
        },
      ),
      { numRuns: 150 },
    );
  });
});

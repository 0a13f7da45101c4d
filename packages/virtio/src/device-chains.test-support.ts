// Random request chains for device property tests: readable and writable buffers of hostile sizes, sometimes
// malformed or faulting.
import fc from "fast-check";
import type { Request } from "./device-bench.test-support.js";

export const hostileRequestArb: fc.Arbitrary<Request> = fc
  .record({
    readable: fc.array(fc.uint8Array({ maxLength: 200 }), { maxLength: 3 }),
    writable: fc.array(fc.oneof(fc.integer({ min: 0, max: 64 }), fc.integer({ min: 0, max: 3000 })), {
      maxLength: 3,
    }),
    outsideRam: fc.oneof(
      { arbitrary: fc.constant(undefined), weight: 4 },
      { arbitrary: fc.integer({ min: 0, max: 5 }), weight: 1 },
    ),
    error: fc.integer({ min: 0, max: 9 }).map((n) => (n === 0 ? "malformed" : undefined)),
  })
  .map((r) => {
    const buffers = r.readable.length + r.writable.length;
    return {
      readable: r.readable,
      writable: buffers === 0 ? [0] : r.writable,
      outsideRam:
        r.outsideRam !== undefined && r.outsideRam < Math.max(1, buffers) ? r.outsideRam : undefined,
      error: r.error,
    };
  });

export function writableTotal(request: Request): number {
  return (request.writable ?? []).reduce((a, b) => a + b, 0);
}

export function readableTotal(request: Request): number {
  return (request.readable ?? []).reduce((a, b) => a + b.length, 0);
}

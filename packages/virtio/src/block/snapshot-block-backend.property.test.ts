import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { pattern } from "./block-request.test-support.js";
import { MemoryBlockBackend } from "./memory-block-backend.js";
import { SnapshotBlockBackend } from "./snapshot-block-backend.js";

const CLUSTER = 4096;
const SIZE = 9 * CLUSTER + 1536;

const rangeArb = fc
  .tuple(fc.integer({ min: 0, max: SIZE }), fc.integer({ min: 0, max: 3 * CLUSTER }))
  .map(([offset, length]) => ({ offset, length: Math.min(length, SIZE - offset) }));
const opArb = fc.oneof(
  rangeArb.map((r) => ({ kind: "write" as const, ...r, seed: r.offset & 0xff })),
  rangeArb.map((r) => ({ kind: "discard" as const, ...r })),
);

describe("SnapshotBlockBackend with discard, under random writes and discards", () => {
  it("reads like a disk where discard writes zeroes, never writes the base, and frees discarded clusters", async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(opArb, { maxLength: 20 }), fc.boolean(), async (ops, concurrent) => {
        const base = new MemoryBlockBackend(pattern(SIZE, 17), { readOnly: true });
        const original = base.bytes.slice();
        const snapshot = new SnapshotBlockBackend(base, { discard: true });
        const model = original.slice();
        const run = (op: (typeof ops)[number]) =>
          op.kind === "write"
            ? snapshot.write(op.offset, pattern(op.length, op.seed))
            : snapshot.discard!(op.offset, op.length);
        // Concurrent operations may overlap, and then their order is open: only run disjoint ones concurrently.
        if (concurrent) {
          const disjoint = ops.filter(
            (op, i) =>
              !ops.some(
                (o, j) => j !== i && o.offset < op.offset + op.length && op.offset < o.offset + o.length,
              ),
          );
          await Promise.all(disjoint.map(run));
          for (const op of disjoint) applyToModel(model, op);
        } else {
          for (const op of ops) {
            await run(op);
            applyToModel(model, op);
          }
        }
        const out = new Uint8Array(SIZE);
        await snapshot.read(0, out);
        expect(Buffer.from(out).equals(model)).toBe(true);
        expect(Buffer.from(base.bytes).equals(original)).toBe(true);
        // The overlay holds no more clusters than there are clusters in the disk.
        expect(snapshot.overlayBytes).toBeLessThanOrEqual(Math.ceil(SIZE / CLUSTER) * CLUSTER);
      }),
      { numRuns: 200 },
    );
  });
});

function applyToModel(
  model: Uint8Array,
  op: { kind: "write" | "discard"; offset: number; length: number; seed?: number },
): void {
  if (op.kind === "write") model.set(pattern(op.length, op.seed), op.offset);
  else model.fill(0, op.offset, op.offset + op.length);
}

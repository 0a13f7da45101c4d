import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { RoundRobinScheduler } from "./index.js";

describe("RoundRobinScheduler", () => {
  it("takes turns in the order entities were added", () => {
    const s = new RoundRobinScheduler<string>();
    s.add("a");
    s.add("b");
    s.add("c");
    s.add("a"); // already present
    expect([s.next(), s.next(), s.next(), s.next()]).toEqual(["a", "b", "c", "a"]);
  });

  it("skips blocked entities and returns undefined when all are blocked", () => {
    const s = new RoundRobinScheduler<number>();
    for (const id of [0, 1, 2]) s.add(id);
    s.setRunnable(1, false);
    expect([s.next(), s.next(), s.next()]).toEqual([0, 2, 0]);
    s.setRunnable(0, false);
    s.setRunnable(2, false);
    expect(s.next()).toBeUndefined();
    s.setRunnable(1, true);
    expect(s.isRunnable(1)).toBe(true);
    expect(s.next()).toBe(1);
  });

  it("keeps the rotation fair across removals", () => {
    const s = new RoundRobinScheduler<string>();
    for (const id of ["a", "b", "c"]) s.add(id);
    expect(s.next()).toBe("a");
    s.remove("a");
    expect([s.next(), s.next(), s.next()]).toEqual(["b", "c", "b"]);
    s.remove("zzz");
    expect(s.isRunnable("zzz")).toBe(false);
  });

  it("gives every entity the configured timeslice and rejects bad ones", () => {
    expect(new RoundRobinScheduler({ timeslice: 1234 }).timeslice("x")).toBe(1234);
    expect(() => new RoundRobinScheduler({ timeslice: 0 })).toThrow(RangeError);
    expect(() => new RoundRobinScheduler({ timeslice: 1.5 })).toThrow(RangeError);
  });

  it("serves every runnable entity within one round, whatever the history (property)", () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.integer({ min: 0, max: 5 }), fc.boolean()), { maxLength: 30 }),
        (ops) => {
          const s = new RoundRobinScheduler<number>();
          for (let id = 0; id < 6; id++) s.add(id);
          for (const [id, runnable] of ops) {
            s.setRunnable(id, runnable);
            s.next();
          }
          const runnable = [0, 1, 2, 3, 4, 5].filter((id) => s.isRunnable(id));
          if (runnable.length === 0) {
            expect(s.next()).toBeUndefined();
            return;
          }
          const served = new Set(runnable.map(() => s.next()));
          expect([...served].sort()).toEqual(runnable);
        },
      ),
      // Every entity blocked: a counterexample found by a random seed in a loaded CI-style run.
      {
        examples: [
          [
            [
              [5, false],
              [2, false],
              [1, false],
              [0, false],
              [4, false],
              [3, false],
            ],
          ],
        ],
      },
    );
  });
});

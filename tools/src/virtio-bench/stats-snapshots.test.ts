import { describe, expect, it } from "vitest";
import { parseStatsRecords, type StatsRecord, StatsSnapshots, statsDelta } from "./stats-snapshots.js";

function record(seq: number, exits: number, event: StatsRecord["event"] = "signal"): StatsRecord {
  return {
    event,
    seq,
    unixMs: 1_000 + seq,
    hostMs: 100 * seq,
    guestNs: 1_000_000 * seq,
    vm: { exits, mmioExits: exits / 2, instructions: exits * 1000 },
    machine: { interruptsInjected: seq },
  };
}

/** A tsqemu stand-in: each signal appends one record to its file, when the test lets it. */
class FakeStatsFile {
  text = "";
  signals = 0;
  private exits = 0;
  signal = () => {
    this.signals++;
  };
  /** Writes a record for every signal received so far (coalescing, as standard signals do). */
  answer(exitsSince: number): void {
    if (this.signals === 0) return;
    this.signals = 0;
    this.exits += exitsSince;
    const seq = this.text.split("\n").filter((l) => l !== "").length + 1;
    this.text += `${JSON.stringify(record(seq, this.exits))}\n`;
  }
}

describe("parseStatsRecords", () => {
  it("reads complete lines and leaves a line still being written", () => {
    const text = `${JSON.stringify(record(1, 10))}\n\n${JSON.stringify(record(2, 20)).slice(0, 15)}`;
    expect(parseStatsRecords(text)).toEqual([record(1, 10)]);
    expect(parseStatsRecords("")).toEqual([]);
  });
});

describe("StatsSnapshots", () => {
  it("files each record under the labels that asked for it, one signal in flight at a time", () => {
    const file = new FakeStatsFile();
    const snapshots = new StatsSnapshots(file.signal, () => file.text);
    snapshots.request("write:start");
    expect(file.signals).toBe(1);
    file.answer(5);
    snapshots.poll();
    expect(snapshots.get("write:start")?.vm.exits).toBe(5);

    // Two requests close together: the second waits for the first's record, then gets its own signal.
    snapshots.request("write:end");
    snapshots.request("read:start");
    expect(file.signals).toBe(1);
    expect(snapshots.pending).toEqual(["write:end", "read:start"]);
    file.answer(100);
    snapshots.poll();
    expect(snapshots.get("write:end")?.vm.exits).toBe(105);
    expect(snapshots.get("read:start")).toBeUndefined();
    expect(file.signals).toBe(1);
    file.answer(1);
    snapshots.poll();
    expect(snapshots.get("read:start")?.vm.exits).toBe(106);
    expect(snapshots.pending).toEqual([]);
  });

  it("shares one record among requests made before its signal went out", () => {
    const file = new FakeStatsFile();
    const snapshots = new StatsSnapshots(file.signal, () => file.text);
    snapshots.request("a");
    snapshots.request("b"); // waits: a's signal is in flight
    snapshots.request("c"); // waits with b
    file.answer(1);
    snapshots.poll();
    file.answer(2);
    snapshots.poll();
    expect(snapshots.get("a")?.seq).toBe(1);
    expect(snapshots.get("b")?.seq).toBe(2);
    expect(snapshots.get("c")?.seq).toBe(2);
  });

  it("ignores the exit record and leaves a request without a record pending", () => {
    const file = new FakeStatsFile();
    const snapshots = new StatsSnapshots(file.signal, () => file.text);
    snapshots.request("late");
    file.text += `${JSON.stringify(record(1, 9, "exit"))}\n`;
    snapshots.poll();
    expect(snapshots.get("late")).toBeUndefined();
    expect(snapshots.pending).toEqual(["late"]);
  });
});

describe("statsDelta", () => {
  it("subtracts every VM and machine counter and the clocks", () => {
    expect(statsDelta(record(1, 10), record(3, 70))).toEqual({
      exits: 60,
      mmioExits: 30,
      instructions: 60_000,
      interruptsInjected: 2,
      hostMs: 200,
      guestNs: 2_000_000,
    });
  });
});

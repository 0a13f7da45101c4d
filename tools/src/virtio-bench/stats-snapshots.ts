// tsqemu's exit counters at moments the benchmark picks: it asks for a record with SIGUSR2 (tsqemu then appends a
// JSON line to its TSQEMU_STATS_FILE, apps/tsqemu/src/stats-file.node.ts) and reads the file back. Standard signals
// do not queue, so one request is in flight at a time: requests made meanwhile share the next record, asked for
// as soon as the one in flight has arrived.

/** One line of tsqemu's statistics file (the fields the benchmark reads). */
export interface StatsRecord {
  event: "signal" | "exit";
  seq: number;
  unixMs: number;
  hostMs: number;
  guestNs: number;
  /** kvm-api's VmStats: instructions, exits, ioExits, mmioExits, haltExits, ... */
  vm: Record<string, number>;
  /** vmm-core's MachineStats: resets, interruptsInjected, idleSleeps, idleSkips. */
  machine: Record<string, number>;
}

/** The records of a statistics file's text; a last line still being written is left for the next read. */
export function parseStatsRecords(text: string): StatsRecord[] {
  const complete = text.slice(0, text.lastIndexOf("\n") + 1);
  return complete
    .split("\n")
    .filter((line) => line.trim() !== "")
    .map((line) => JSON.parse(line) as StatsRecord);
}

export class StatsSnapshots {
  private readonly taken = new Map<string, StatsRecord>();
  private waiting: string[] = [];
  private inFlight: string[] = [];
  private seen = 0;

  /** `signal` asks tsqemu for a record; `read` returns the statistics file's text so far. */
  constructor(
    private readonly signal: () => void,
    private readonly read: () => string,
  ) {}

  /** Asks for the counters as of now, kept under `label`. */
  request(label: string): void {
    this.waiting.push(label);
    this.pump();
  }

  /** Reads records that arrived since the last poll and files them under the labels waiting for them. */
  poll(): void {
    const records = parseStatsRecords(this.read());
    for (const record of records.slice(this.seen)) {
      if (record.event !== "signal") continue;
      for (const label of this.inFlight) this.taken.set(label, record);
      this.inFlight = [];
    }
    this.seen = records.length;
    this.pump();
  }

  /** The record taken for `label`, if it has arrived. */
  get(label: string): StatsRecord | undefined {
    return this.taken.get(label);
  }

  /** Labels still without a record. */
  get pending(): string[] {
    return [...this.inFlight, ...this.waiting];
  }

  private pump(): void {
    if (this.inFlight.length > 0 || this.waiting.length === 0) return;
    this.inFlight = this.waiting;
    this.waiting = [];
    this.signal();
  }
}

/** The counters that changed between two records: after minus before, for every VM and machine counter. */
export function statsDelta(before: StatsRecord, after: StatsRecord): Record<string, number> {
  const delta: Record<string, number> = {};
  for (const group of ["vm", "machine"] as const) {
    for (const [key, value] of Object.entries(after[group])) delta[key] = value - (before[group][key] ?? 0);
  }
  delta.hostMs = after.hostMs - before.hostMs;
  delta.guestNs = after.guestNs - before.guestNs;
  return delta;
}

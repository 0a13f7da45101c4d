// TSQEMU_STATS_FILE=PATH: tsqemu's exit statistics for benchmarks (tsqemu-specific; QEMU has no such
// switch). Each SIGUSR2 and the end of the run append one JSON line to PATH with the VM's counters
// (kvm-api's VmStats: exits by reason, instructions, TLB) and the run loop's (MachineStats), so a benchmark
// can take the difference between two moments it chose, e.g. around a guest's timed step. SIGUSR1 is left
// alone: Node reserves it for its inspector.
import { closeSync, openSync, writeSync } from "node:fs";
import process from "node:process";
import type { VmStats } from "@tsvmm/kvm-api";
import type { MachineStats } from "@tsvmm/vmm-core";

/** The environment variable that names the statistics file. */
export const STATS_FILE_ENV = "TSQEMU_STATS_FILE";
/** The signal that asks for a record. */
export const STATS_SIGNAL = "SIGUSR2";

/** One line of the statistics file. */
export interface StatsRecord {
  /** "signal": asked for with SIGUSR2; "exit": the run ended (the last record). */
  event: "signal" | "exit";
  /** 1, 2, ... in the order written. */
  seq: number;
  /** Host milliseconds since the Unix epoch (Date.now()), to line records up with other processes' clocks. */
  unixMs: number;
  /** Host milliseconds since tsqemu started. */
  hostMs: number;
  /** Guest time (the VM clock) in ns. */
  guestNs: number;
  vm: VmStats;
  machine: MachineStats;
}

/** What a record is taken from: the counters at this moment. */
export interface StatsSource {
  vmStats(): VmStats;
  machineStats(): MachineStats;
  guestNs(): number;
}

/** An open statistics file: a record on every SIGUSR2 until close(), which writes the exit record. */
export interface StatsFile {
  close(): void;
}

/**
 * Truncates `path` and starts answering SIGUSR2 with a record. Throws when the file cannot be opened
 * (tsqemu then fails as for any unreadable or unwritable file).
 */
export function openStatsFile(path: string, source: StatsSource, startMs: number): StatsFile {
  const fd = openSync(path, "w");
  let seq = 0;
  const write = (event: StatsRecord["event"]) => {
    const record: StatsRecord = {
      event,
      seq: ++seq,
      unixMs: Date.now(),
      hostMs: Math.round((performance.now() - startMs) * 1000) / 1000,
      guestNs: source.guestNs(),
      vm: source.vmStats(),
      machine: source.machineStats(),
    };
    writeSync(fd, `${JSON.stringify(record)}\n`);
  };
  const onSignal = () => write("signal");
  process.on(STATS_SIGNAL, onSignal);
  return {
    close() {
      process.off(STATS_SIGNAL, onSignal);
      write("exit");
      closeSync(fd);
    },
  };
}

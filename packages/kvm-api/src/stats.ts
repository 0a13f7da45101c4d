import { ExitReason } from "./kvm-run.js";

/**
 * Counters of one vCPU, or of a whole VM (the sum over its vCPUs), in the spirit of KVM's per-vCPU
 * statistics (exits, io_exits, mmio_exits, halt_exits...). All are cumulative since the vCPU was
 * created; take differences between two calls to measure an interval.
 */
export interface VcpuStats {
  /** Guest instructions retired. */
  instructions: number;
  /** run() returns, whatever the reason. */
  exits: number;
  /** Exits by reason: port I/O, MMIO to userspace, HLT, interrupt window, end of timeslice. */
  ioExits: number;
  mmioExits: number;
  haltExits: number;
  irqWindowExits: number;
  timesliceExits: number;
  /** Shutdown (triple fault) and internal-error exits. */
  shutdownExits: number;
  internalErrorExits: number;
  /** MMIO accesses to the local APIC page, answered inside run() without an exit. */
  apicAccesses: number;
  /**
   * TLB hits the MMU saw. The CPU compares TLB tags inline and counts none of its own hits, so
   * outside lookup counting this is only the hits of its slow path (see tlbLookups).
   */
  tlbHits: number;
  /** Translations the TLB did not hold (each walks the page tables when paging is on). */
  tlbMisses: number;
  /**
   * Every TLB lookup, counted only while vm.setTlbLookupCounting(true) (it slows the vCPUs several
   * times over); 0 otherwise. While counting, the hit rate is 1 - tlbMisses / tlbLookups.
   */
  tlbLookups: number;
  /** Guest page-table walks. */
  pageWalks: number;
  /** Accessed/dirty bits the walker wrote back into guest page tables. */
  accessedDirtyWrites: number;
  /** Full or non-global TLB flushes (CR3 loads, paging-mode changes). */
  tlbFlushes: number;
  /** Instructions decoded and kept in the decoded-instruction cache (its misses). */
  instructionCacheMisses: number;
  /** Guest-physical pages whose decoded instructions were dropped because they were written. */
  instructionCacheInvalidations: number;
}

/** The statistics of a VM: the sums of its vCPUs' counters (see VcpuStats). */
export type VmStats = VcpuStats;

/** A VcpuStats with every counter at zero. */
export function emptyStats(): VcpuStats {
  return {
    instructions: 0,
    exits: 0,
    ioExits: 0,
    mmioExits: 0,
    haltExits: 0,
    irqWindowExits: 0,
    timesliceExits: 0,
    shutdownExits: 0,
    internalErrorExits: 0,
    apicAccesses: 0,
    tlbHits: 0,
    tlbMisses: 0,
    tlbLookups: 0,
    pageWalks: 0,
    accessedDirtyWrites: 0,
    tlbFlushes: 0,
    instructionCacheMisses: 0,
    instructionCacheInvalidations: 0,
  };
}

/** Adds every counter of `from` into `into`. */
export function addStats(into: VcpuStats, from: VcpuStats): void {
  for (const key of Object.keys(into) as (keyof VcpuStats)[]) into[key] += from[key];
}

/** The exit counters a vCPU keeps as run() returns: plain fields, nothing allocated per exit. */
export class ExitCounters {
  exits = 0;
  ioExits = 0;
  mmioExits = 0;
  haltExits = 0;
  irqWindowExits = 0;
  timesliceExits = 0;
  shutdownExits = 0;
  internalErrorExits = 0;
  apicAccesses = 0;

  /** Counts one run() return with this exit reason. */
  count(reason: number): void {
    this.exits++;
    switch (reason) {
      case ExitReason.IO:
        this.ioExits++;
        break;
      case ExitReason.MMIO:
        this.mmioExits++;
        break;
      case ExitReason.HLT:
        this.haltExits++;
        break;
      case ExitReason.IRQ_WINDOW_OPEN:
        this.irqWindowExits++;
        break;
      case ExitReason.INTR:
        this.timesliceExits++;
        break;
      case ExitReason.SHUTDOWN:
        this.shutdownExits++;
        break;
      case ExitReason.INTERNAL_ERROR:
        this.internalErrorExits++;
        break;
    }
  }
}

// `pnpm bench` (after mips.ts): the cost of address translation. The same loop body runs with paging
// off, with paging on while the TLB holds every page, and with paging on over more pages than the TLB
// has entries (4 KiB and 4 MiB pages), on cpu-x86 and on qemu-system-i386 (TCG) with the very same
// ROM images. Reports MIPS, TLB misses and page walks per 1,000 instructions, and the TLB hit rate
// (from a second, shorter run with every lookup counted: counting is too slow to time). The last rows
// run the TLB-friendly loop with dirty-page logging on, the log fetched at a typical interval and at
// one so short that nearly every store is the first to its page since the last fetch.
// Each row runs in a fresh Node process, so no row inherits another's JIT state (the order of the rows
// would otherwise change the figures), and keeps the best of RUNS runs there. Node-only.
import { execFileSync, spawnSync } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import { cpus } from "node:os";
import { PhysicalMemory } from "@tsvmm/ept";
import { Cpu, STOP_BUDGET, STOP_IO } from "../src/index.js";
import { buildPagingRom, PAGING_LOOPS, type PagingLoop } from "./paging-loops.js";

const args = process.argv.slice(2);
/** Set in the child process that measures one row: `--row=<loop name>[,count|,dirty=<interval>]`. */
const row = args.find((a) => a.startsWith("--row="))?.slice(6);
const withQemu = !args.includes("--no-qemu");
const only = args.find((a) => a.startsWith("--only="))?.slice(7);
/** The counted run is this much shorter than the timed one: the rates do not depend on its length. */
const COUNTED_FRACTION = 10;
/** The dirty-logging rows fetch the log after every this many guest instructions. */
const DIRTY_LOG_INTERVALS = [100_000, 2_000];
const RAM_SLOT = 2;
/** Timed runs (tsvmm and QEMU) are repeated and the fastest kept: the machine may be shared. */
const RUNS = 3;
const QEMU_TARGET_SECONDS = 2;
/** The loop counter is ECX. */
const MAX_ITERATIONS = 0xffff_ffff;
const BITS_SET = Uint8Array.from({ length: 256 }, (_, byte) => byte.toString(2).replaceAll("0", "").length);

interface GuestRun {
  instructions: number;
  seconds: number;
  misses: number;
  walks: number;
  /** Every TLB lookup (counted runs only). */
  lookups: number;
  dirtyLogFetches: number;
  /** Pages found dirty over all fetches: each was a store that took the slow path to be logged. */
  dirtyPages: number;
}

/**
 * Runs a ROM on a bare cpu-x86 (RAM below 0xF0000 and from 1 MiB to 16 MiB, the ROM at 0xF0000 and
 * below 4 GiB) until the guest writes to port 0xf4. Time is CPU time (user + system): the machine
 * may be shared, and CPU time is what contention changes least.
 */
function runRom(
  rom: Uint8Array,
  options: { countLookups?: boolean; dirtyLogInterval?: number } = {},
): GuestRun {
  const memory = new PhysicalMemory();
  memory.setUserMemoryRegion({ slot: 0, guestPhysAddr: 0, memorySize: 0xf0000 });
  memory.setUserMemoryRegion({
    slot: 1,
    guestPhysAddr: 0xf0000,
    memorySize: 0x10000,
    userspaceMemory: rom,
    readOnly: true,
  });
  memory.setUserMemoryRegion({
    slot: RAM_SLOT,
    guestPhysAddr: 0x100000,
    memorySize: 0xf00000,
    logDirtyPages: options.dirtyLogInterval !== undefined,
  });
  memory.setUserMemoryRegion({
    slot: 3,
    guestPhysAddr: 0xffff0000,
    memorySize: 0x10000,
    userspaceMemory: rom,
    readOnly: true,
  });
  const cpu = new Cpu(memory);
  if (options.countLookups) cpu.mmu.setLookupCounting(true);
  const bitmap = new Uint8Array(0xf00000 / 4096 / 8);
  const budget = options.dirtyLogInterval ?? 10_000_000;
  let dirtyLogFetches = 0;
  let dirtyPages = 0;
  const t0 = process.cpuUsage();
  for (;;) {
    const stop = cpu.run(budget);
    if (stop === STOP_BUDGET) {
      if (options.dirtyLogInterval !== undefined) {
        memory.getDirtyLog(RAM_SLOT, bitmap);
        dirtyLogFetches++;
        for (let i = 0; i < bitmap.length; i++) dirtyPages += BITS_SET[bitmap[i]];
      }
      continue;
    }
    if (stop === STOP_IO && cpu.pendingAccess.address === 0xf4) break;
    const at = `${cpu.segSelector[1].toString(16)}:${(cpu.eip >>> 0).toString(16)}`;
    throw new Error(`benchmark guest stopped (${stop}) at ${at}: ${cpu.internalError}`);
  }
  const used = process.cpuUsage(t0);
  const seconds = (used.user + used.system) / 1e6;
  const counters = cpu.mmu.getCounters();
  return {
    instructions: cpu.instructionCount,
    seconds,
    misses: counters.misses,
    walks: counters.walks,
    lookups: counters.lookups,
    dirtyLogFetches,
    dirtyPages,
  };
}

function qemuVersion(): string | undefined {
  try {
    return execFileSync("qemu-system-i386", ["--version"], { encoding: "utf8" }).split("\n")[0];
  } catch {
    return undefined;
  }
}

/**
 * CPU seconds (user + system, all threads) of qemu-system-i386 running the ROM to isa-debug-exit,
 * best of `runs`. Taken from bash's \`times\` for its child, since Node does not report a child's.
 */
function qemuSeconds(path: string, runs: number): number | undefined {
  const command = [
    'qemu-system-i386 -accel tcg -bios "$1" -display none -serial none -monitor none',
    "-device isa-debug-exit,iobase=0xf4,iosize=0x04 </dev/null >/dev/null 2>&1",
    "; status=$?; times; exit $status",
  ].join(" ");
  let best = Number.POSITIVE_INFINITY;
  for (let i = 0; i < runs; i++) {
    const result = spawnSync("bash", ["-c", command, "bash", path], { encoding: "utf8", timeout: 300_000 });
    if (result.status !== 3) return undefined;
    // `times` prints the shell's user and system time, then its children's: "0m1.234s 0m0.056s".
    const children = result.stdout.trim().split("\n").at(-1) ?? "";
    const seconds = [...children.matchAll(/(\d+)m([\d.]+)s/g)].reduce(
      (sum, m) => sum + Number(m[1]) * 60 + Number(m[2]),
      0,
    );
    best = Math.min(best, seconds);
  }
  return best;
}

function hostCpu(): string {
  try {
    const model = /^model name\s*:\s*(.*)$/m.exec(readFileSync("/proc/cpuinfo", "utf8"))?.[1];
    if (model) return model;
  } catch {
    // not Linux: fall back to what Node reports
  }
  return cpus()[0]?.model ?? "unknown CPU";
}

function perThousand(count: number, instructions: number): string {
  return ((count / instructions) * 1000).toFixed(1);
}

if (row !== undefined) {
  // Child: measure one row and print it as JSON.
  const [name, option] = row.split(",");
  const loop = PAGING_LOOPS.find((l) => l.name === name);
  if (loop === undefined) throw new Error(`no loop ${name}`);
  let result: GuestRun;
  if (option === "count") {
    const rom = buildPagingRom({ ...loop, iterations: loop.iterations / COUNTED_FRACTION });
    result = runRom(rom, { countLookups: true });
  } else {
    const dirtyLogInterval = option?.startsWith("dirty=") ? Number(option.slice(6)) : undefined;
    result = bestOf(RUNS, () => runRom(buildPagingRom(loop), { dirtyLogInterval }));
  }
  console.log(JSON.stringify(result));
} else {
  report();
}

/** Measures a row in a fresh Node process (same flags as this one). */
function measureRow(spec: string): GuestRun {
  const child = spawnSync(process.execPath, [...process.execArgv, process.argv[1], `--row=${spec}`], {
    encoding: "utf8",
    maxBuffer: 1 << 20,
  });
  if (child.status !== 0) throw new Error(`row ${spec} failed: ${child.stderr}`);
  return JSON.parse(child.stdout.trim().split("\n").at(-1) as string) as GuestRun;
}

function report(): void {
  const qemu = withQemu ? qemuVersion() : undefined;
  console.log("");
  console.log(
    `# Paging and the TLB (${new Date().toISOString().slice(0, 10)}, ${hostCpu()}, ${cpus().length} cores, node ${process.version})`,
  );
  console.log(
    `# command: pnpm --filter @tsvmm/cpu-x86 bench:paging${args.length ? ` ${args.join(" ")}` : ""}`,
  );
  console.log(
    qemu
      ? `# reference: ${qemu} -accel tcg, CPU time, the same ROMs with the loop count scaled up to run ${QEMU_TARGET_SECONDS} s or more (best of ${RUNS}, start-up of an empty ROM subtracted)`
      : "# reference: qemu-system-i386 not installed (apt-get install qemu-system-x86)",
  );
  console.log(
    `# tsvmm: CPU time (user + system), each row in a fresh process, best of ${RUNS} runs; TLB hit rate from a run of 1/${COUNTED_FRACTION} the length with every lookup counted`,
  );
  console.log("");
  console.log(
    "| loop | guest instructions | tsvmm CPU s | tsvmm MIPS | TLB misses /1k instr | walks /1k instr | TLB hit rate | QEMU loop count | QEMU CPU s | QEMU MIPS | tsvmm/QEMU |",
  );
  console.log("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |");

  let startup: number | undefined;
  const timed = new Map<string, GuestRun>();
  for (const loop of PAGING_LOOPS) {
    if (only && loop.name !== only) continue;
    const run = measureRow(loop.name);
    timed.set(loop.name, run);
    const counted = measureRow(`${loop.name},count`);
    const hitRate = 1 - counted.misses / counted.lookups;
    const mips = run.instructions / run.seconds / 1e6;
    let reference = "| - | - | - | - |";
    if (qemu) {
      startup ??= qemuSeconds(
        writeRom("empty", buildPagingRom({ ...loop, paging: "off", iterations: 1 })),
        RUNS,
      );
      const measured = startup === undefined ? undefined : measureQemu(loop, startup);
      if (measured) {
        // Instructions are the set-up plus 8 per iteration: the set-up is what our run counted beyond that.
        const instructions = run.instructions + 8 * (measured.iterations - loop.iterations);
        const qemuMips = instructions / measured.seconds / 1e6;
        reference = `| ${measured.iterations.toLocaleString("en-US")} | ${measured.seconds.toFixed(2)} | ${qemuMips.toFixed(1)} | ${(mips / qemuMips).toFixed(3)} |`;
      }
    }
    console.log(
      `| ${loop.name} | ${run.instructions.toLocaleString("en-US")} | ${run.seconds.toFixed(2)} | ${mips.toFixed(1)} | ${perThousand(run.misses, run.instructions)} | ${perThousand(run.walks, run.instructions)} | ${(hitRate * 100).toFixed(2)}% ${reference}`,
    );
  }

  const fits = PAGING_LOOPS.find((l) => l.name === "paging-4k-tlb-fits") as PagingLoop;
  const logged = new Map<number, GuestRun>();
  for (const interval of only && only !== "dirty-log" ? [] : DIRTY_LOG_INTERVALS) {
    const run = measureRow(`${fits.name},dirty=${interval}`);
    logged.set(interval, run);
    const mips = run.instructions / run.seconds / 1e6;
    console.log(
      `| ${fits.name} + dirty log fetched every ${interval.toLocaleString("en-US")} instr (${run.dirtyLogFetches.toLocaleString("en-US")} fetches, ${run.dirtyPages.toLocaleString("en-US")} pages logged) | ${run.instructions.toLocaleString("en-US")} | ${run.seconds.toFixed(2)} | ${mips.toFixed(1)} | ${perThousand(run.misses, run.instructions)} | ${perThousand(run.walks, run.instructions)} | - | - | - | - | - |`,
    );
  }

  console.log("");
  // What translation costs: paging on against off, and the thrashing loops against the one whose
  // pages all stay in the TLB, per walk.
  const base = timed.get("paging-4k-tlb-fits");
  const off = timed.get("paging-off");
  if (base && off) {
    console.log(
      `paging on (TLB hits) vs off: ${((off.seconds / base.seconds) * 100).toFixed(0)}% of the speed`,
    );
  }
  for (const name of ["paging-4k-tlb-thrash", "paging-4m-tlb-thrash"]) {
    const run = timed.get(name);
    if (!base || !run || run.walks === 0) continue;
    const extra = ((run.seconds - base.seconds) / (run.walks - base.walks)) * 1e9;
    console.log(
      `${name}: ${((base.seconds / run.seconds) * 100).toFixed(0)}% of the speed of paging-4k-tlb-fits; ${extra.toFixed(0)} ns per TLB miss and walk`,
    );
  }
  for (const [interval, run] of logged) {
    if (!base || run.dirtyPages === 0) continue;
    const speed = base.seconds / run.seconds;
    // Below a few percent the difference is run-to-run noise, not a cost per page.
    const perPage =
      speed < 0.97
        ? `${(((run.seconds - base.seconds) / run.dirtyPages) * 1e9).toFixed(0)} ns per logged page (fetches included)`
        : "no cost above the noise";
    console.log(
      `dirty log every ${interval.toLocaleString("en-US")} instr: ${(speed * 100).toFixed(0)}% of the speed without logging; ${perPage}`,
    );
  }
}

/**
 * QEMU runs these loops in a fraction of a second, close to its own start-up time: the loop count is
 * scaled until a run takes QEMU_TARGET_SECONDS, and the start-up is subtracted.
 */
function measureQemu(
  loop: PagingLoop,
  startupSeconds: number,
): { iterations: number; seconds: number } | undefined {
  let iterations = loop.iterations;
  for (;;) {
    const once = qemuSeconds(writeRom(loop.name, buildPagingRom({ ...loop, iterations })), 1);
    if (once === undefined) return undefined;
    const seconds = once - startupSeconds;
    if (seconds >= QEMU_TARGET_SECONDS || iterations >= MAX_ITERATIONS) break;
    const scale = Math.min(
      Math.ceil(QEMU_TARGET_SECONDS / Math.max(seconds, 0.05)),
      MAX_ITERATIONS / iterations,
    );
    iterations = Math.min(Math.floor(iterations * Math.max(scale, 2)), MAX_ITERATIONS);
  }
  const best = qemuSeconds(`/tmp/tsvmm-bench-${loop.name}.rom`, RUNS);
  return best === undefined ? undefined : { iterations, seconds: best - startupSeconds };
}

function bestOf(runs: number, measure: () => GuestRun): GuestRun {
  let best = measure();
  for (let i = 1; i < runs; i++) {
    const run = measure();
    if (run.seconds < best.seconds) best = run;
  }
  return best;
}

function writeRom(name: string, data: Uint8Array): string {
  const path = `/tmp/tsvmm-bench-${name}.rom`;
  writeFileSync(path, data);
  return path;
}

import { describe, expect, it } from "vitest";
import { SampleMode } from "./guest-sampler.js";
import { SymbolTable } from "./kernel-symbols.js";
import {
  attributeSamples,
  entrySamples,
  formatProfileSummary,
  inclusiveSamples,
  PAGING_OFF_LABEL,
  portName,
  sampleChain,
  sampleEntry,
  sampleLabel,
  UNKNOWN_LABEL,
  USER_LABEL,
} from "./profile-report.js";

const symbols = SymbolTable.parse(
  [
    "c1000000 T _text",
    "c1000000 T startup_32",
    "c1000100 T memcpy",
    "c1000200 T default_idle",
    "c1000300 T rsa_verify",
    "c1000400 T do_one_initcall",
    "c1000500 T kernel_init",
    "c1000600 T kthread",
    "c1000700 T cryptomgr_test",
    "c1000800 T _etext",
  ].join("\n"),
);

describe("sampleLabel", () => {
  it("maps kernel samples to functions and names the other modes", () => {
    expect(sampleLabel(0xc1000180, SampleMode.KERNEL, symbols)).toBe("memcpy");
    expect(sampleLabel(0xc2000000, SampleMode.KERNEL, symbols)).toBe(UNKNOWN_LABEL);
    expect(sampleLabel(0x08049000, SampleMode.USER, symbols)).toBe(USER_LABEL);
    expect(sampleLabel(0x01000000, SampleMode.PAGING_OFF, symbols)).toBe(PAGING_OFF_LABEL);
  });
});

describe("attributeSamples", () => {
  it("counts samples and busy host time per function", () => {
    const rows = attributeSamples(
      {
        eip: [0xc1000100, 0xc1000104, 0xc1000200, 0x08049000],
        mode: [SampleMode.KERNEL, SampleMode.KERNEL, SampleMode.KERNEL, SampleMode.USER],
        busyMs: [1, 1, 6, -1],
      },
      symbols,
    );
    expect(rows).toEqual([
      { name: "memcpy", samples: 2, fraction: 0.5, busyMs: 2, busyFraction: 0.25 },
      { name: "default_idle", samples: 1, fraction: 0.25, busyMs: 6, busyFraction: 0.75 },
      { name: USER_LABEL, samples: 1, fraction: 0.25, busyMs: 0, busyFraction: 0 },
    ]);
  });
});

describe("call chains", () => {
  // Sample 0: memcpy called by rsa_verify, an initcall; sample 1: memcpy in the cryptomgr_test thread;
  // sample 2: default_idle with no chain; sample 3: user space.
  const data = {
    eip: [0xc1000110, 0xc1000120, 0xc1000200, 0x08049000],
    mode: [SampleMode.KERNEL, SampleMode.KERNEL, SampleMode.KERNEL, SampleMode.USER],
    busyMs: [1, 1, 1, 1],
    atMs: [10, 20, 30, 40],
    callers: [[0xc1000310, 0xc1000420, 0xc1000510], [0xc1000710, 0xc1000620], [], []],
  };

  it("names a sample's functions from the return addresses (the byte before each)", () => {
    expect(sampleChain(data, 0, symbols)).toEqual(["memcpy", "rsa_verify", "do_one_initcall", "kernel_init"]);
    // A return address just past a function's end still belongs to it.
    expect(sampleChain({ ...data, callers: [[0xc1000400]] }, 0, symbols)).toEqual(["memcpy", "rsa_verify"]);
    expect(sampleChain(data, 3, symbols)).toEqual([USER_LABEL]);
  });

  it("says what each sample was done for", () => {
    expect(sampleEntry(["memcpy", "rsa_verify", "do_one_initcall", "kernel_init"])).toBe(
      "initcall rsa_verify",
    );
    expect(sampleEntry(["memcpy", "cryptomgr_test", "kthread"])).toBe("kernel thread cryptomgr_test");
    expect(sampleEntry(["memcpy", "x", "process_one_work", "worker_thread", "kthread"])).toBe("work item x");
    expect(sampleEntry(["memcpy", "setup_arch", "start_kernel"])).toBe("start_kernel setup_arch");
    expect(sampleEntry(["memcpy", "a", UNKNOWN_LABEL])).toBe("a");
    expect(sampleEntry([USER_LABEL])).toBe(USER_LABEL);
  });

  it("counts functions anywhere on the stack once per sample", () => {
    const rows = inclusiveSamples(data, symbols, 3);
    expect(rows[0]).toEqual({ name: "memcpy", samples: 2, fraction: 0.5 });
    expect(rows.map((row) => row.samples)).toEqual([2, 1, 1]);
  });

  it("counts entries overall and within a time window", () => {
    expect(entrySamples(data, symbols, 10).rows).toEqual([
      { name: "initcall rsa_verify", samples: 1, fraction: 0.25 },
      { name: "kernel thread cryptomgr_test", samples: 1, fraction: 0.25 },
      { name: "default_idle", samples: 1, fraction: 0.25 },
      { name: USER_LABEL, samples: 1, fraction: 0.25 },
    ]);
    expect(entrySamples(data, symbols, 10, 15, 31)).toEqual({
      rows: [
        { name: "kernel thread cryptomgr_test", samples: 1, fraction: 0.5 },
        { name: "default_idle", samples: 1, fraction: 0.5 },
      ],
      total: 2,
    });
  });
});

describe("portName", () => {
  it("names the PC's ports", () => {
    expect(portName(0x3fd)).toBe("COM1 LSR");
    expect(portName(0x3f8)).toBe("COM1 THR/RBR");
    expect(portName(0x43)).toBe("PIT mode/command");
    expect(portName(0x40)).toBe("PIT channel 0");
    expect(portName(0x21)).toBe("PIC master");
    expect(portName(0x71)).toBe("RTC/CMOS data");
    expect(portName(0xcfc)).toBe("PCI configuration");
    expect(portName(0x1234)).toBe("");
  });
});

describe("formatProfileSummary", () => {
  it("reports guest code, exits, ports, host functions and console gaps", () => {
    const text = formatProfileSummary(
      {
        seconds: 10,
        reachedMarker: true,
        instructions: 200_000_000,
        exits: { IO: 5000, INTR: 20000 },
        machineStats: { interruptsInjected: 2500, idleSleeps: 3, resets: 0, idleSkips: 0 },
        vmStats: { tlbMisses: 100, pageWalks: 90 },
        samples: {
          sampleEvery: 50_000,
          eip: [0xc1000100, 0xc1000100, 0xc1000200],
          mode: [SampleMode.KERNEL, SampleMode.KERNEL, SampleMode.KERNEL],
          busyMs: [1, 1, 1],
          atMs: [1000, 2000, 4200],
          callers: [[0xc1000310, 0xc1000420], [0xc1000310, 0xc1000420], []],
          ioPorts: { "0x03fd/in": 4000, "0x0043/out": 1000 },
          idleMs: 1500,
        },
        lines: [
          { ms: 0, text: "Linux version 6.1" },
          { ms: 4000, text: "Freeing initrd memory" },
          { ms: 4500, text: "TSVMM-BOOT-OK" },
        ],
        symbolSource: "a test table",
      },
      symbols,
      {
        totalMs: 1000,
        functions: [{ name: "run (cpu.ts)", ms: 600, fraction: 0.6 }],
        groups: [{ name: "packages/cpu-x86", ms: 1000, fraction: 1 }],
      },
    );
    expect(text).toContain("Boot reached the marker after 10.0 s: 200,000,000 guest instructions (20.0 MIPS");
    expect(text).toContain("1.5 s with the vCPU halted");
    expect(text).toContain("| memcpy | 2 | 66.7% | 66.7% |");
    expect(text).toContain("| INTR | 20,000 | 2000 |");
    expect(text.indexOf("| INTR |")).toBeLessThan(text.indexOf("| IO |"));
    expect(text).toContain("interruptsInjected 2,500, idleSleeps 3, tlbMisses 100, pageWalks 90");
    expect(text).toContain("| 0x03fd/in | COM1 LSR | 4,000 |");
    expect(text).toContain("| run (cpu.ts) | 0.6 s | 60.0% |");
    expect(text).toContain("By code: packages/cpu-x86 100.0%.");
    expect(text).toContain("| rsa_verify | 2 | 66.7% |");
    expect(text).toContain("| initcall rsa_verify | 2 | 66.7% |");
    expect(text).toContain(
      "- 4.0 s before `Freeing initrd memory` (after `Linux version 6.1`): initcall rsa_verify 100.0%",
    );
    expect(text).toContain(
      "- 0.5 s before `TSVMM-BOOT-OK` (after `Freeing initrd memory`): default_idle 100.0%",
    );
  });
});

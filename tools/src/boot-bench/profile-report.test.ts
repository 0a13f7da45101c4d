import { describe, expect, it } from "vitest";
import { SampleMode } from "./guest-sampler.js";
import { SymbolTable } from "./kernel-symbols.js";
import {
  attributeSamples,
  formatProfileSummary,
  PAGING_OFF_LABEL,
  portName,
  sampleLabel,
  UNKNOWN_LABEL,
  USER_LABEL,
} from "./profile-report.js";

const symbols = SymbolTable.parse(
  "c1000000 T _text\nc1000000 T startup_32\nc1000100 T memcpy\nc1000200 T default_idle\nc1000300 T _etext\n",
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
    expect(text).toContain("- 4.0 s before `Freeing initrd memory` (after `Linux version 6.1`)");
  });
});

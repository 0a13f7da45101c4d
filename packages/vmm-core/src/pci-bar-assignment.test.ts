// assignPciBars on a device-model PciBus: where BARs go (aligned, inside their window, never overlapping, largest
// first), that the bus reports each placement to the VMM, which decoding is turned on, and what does not fit.
import {
  type BusDevice,
  type PciBarDefinition,
  type PciBarKind,
  PciBus,
  PciCommand,
  PciFunction,
} from "@tsvmm/device-model";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { assignPciBars, type PciBarWindows } from "./pci-bar-assignment.js";

const region: BusDevice = { read: (_base, _offset, data) => data.fill(0), write: () => undefined };
const WINDOWS: PciBarWindows = {
  memoryBase: 0x08000000,
  memoryTop: 0xfeb00000,
  ioBase: 0xc000,
  ioTop: 0x10000,
};

function fn(bars: Omit<PciBarDefinition, "region">[], command = 0): PciFunction {
  return new PciFunction({
    vendorId: 0x1af4,
    deviceId: 0x1040,
    classCode: 0xff0000,
    command,
    bars: bars.map((bar) => ({ ...bar, region })),
  });
}

function busWith(functions: PciFunction[]) {
  const mapped: { kind: PciBarKind; address: number; size: number }[] = [];
  const bus = new PciBus({
    onBarMapping: ({ bar, newAddress }) => {
      if (newAddress !== undefined) mapped.push({ kind: bar.kind, address: newAddress, size: bar.size });
    },
  });
  functions.forEach((f, i) => {
    bus.register(f, 2 + i);
  });
  return { bus, mapped };
}

function overlaps(a: { address: number; size: number }, b: { address: number; size: number }): boolean {
  return a.address < b.address + b.size && b.address < a.address + a.size;
}

describe("assignPciBars", () => {
  it("places memory BARs down from the top, largest first, I/O BARs up from 0xC000, and turns decoding on", () => {
    const virtio = fn([
      { index: 1, kind: "memory32", size: 0x1000 },
      { index: 4, kind: "memory64", size: 0x4000, prefetchable: true },
    ]);
    const legacy = fn([{ index: 0, kind: "io", size: 0x20 }], PciCommand.BusMaster);
    const { bus, mapped } = busWith([virtio, legacy]);
    const placed = assignPciBars(bus, WINDOWS);
    expect(placed.map((b) => [b.slot, b.index, b.address])).toEqual([
      [2, 1, 0xfeafb000],
      [2, 4, 0xfeafc000],
      [3, 0, 0xc000],
    ]);
    expect(virtio.barAddress(4)).toBe(0xfeafc000);
    expect(virtio.config.dword(0x24)).toBe(0); // the 64-bit BAR's high half
    expect(legacy.barAddress(0)).toBe(0xc000);
    expect(virtio.command & 0x7).toBe(PciCommand.MemorySpace);
    expect(legacy.command & 0x7).toBe(PciCommand.IoSpace | PciCommand.BusMaster);
    expect(mapped).toEqual([
      { kind: "memory32", address: 0xfeafb000, size: 0x1000 },
      { kind: "memory64", address: 0xfeafc000, size: 0x4000 },
      { kind: "io", address: 0xc000, size: 0x20 },
    ]);
  });

  it("gives small memory BARs a page of their own, and leaves functions without BARs alone", () => {
    const small = fn([
      { index: 0, kind: "memory32", size: 0x10 },
      { index: 1, kind: "memory32", size: 0x100 },
    ]);
    const none = fn([]);
    const { bus } = busWith([small, none]);
    assignPciBars(bus, WINDOWS);
    expect([small.barAddress(0), small.barAddress(1)]).toEqual([0xfeafe000, 0xfeaff000]);
    expect(none.command).toBe(0);
  });

  it("throws when the BARs do not fit their windows", () => {
    const big = fn([{ index: 0, kind: "memory32", size: 0x10000000 }]);
    expect(() =>
      assignPciBars(busWith([big]).bus, { ...WINDOWS, memoryBase: 0xf0000000, memoryTop: 0xfeb00000 }),
    ).toThrow(/memory BARs do not fit/);
    const io = [0, 1, 2].map(() => fn([{ index: 0, kind: "io", size: 0x100 }]));
    expect(() => assignPciBars(busWith(io).bus, { ...WINDOWS, ioBase: 0xfe00 })).toThrow(
      /I\/O BARs do not fit/,
    );
  });

  it("never overlaps, misaligns or leaves the window, whatever the BARs", () => {
    const barKind = fc.constantFrom<PciBarKind>("memory32", "memory64", "io");
    const barSpec = fc.record({ kind: barKind, log2: fc.integer({ min: 4, max: 24 }) });
    const functionSpec = fc.array(barSpec, { minLength: 0, maxLength: 3 });
    fc.assert(
      fc.property(fc.array(functionSpec, { minLength: 1, maxLength: 8 }), (specs) => {
        const functions = specs.map((bars) => {
          // Slots 0, 2, 4 (memory64 takes two): each kind at its slot, I/O sizes capped at 256.
          return fn(
            bars.map((b, i) => ({
              index: i * 2,
              kind: b.kind,
              size: b.kind === "io" ? 2 ** Math.min(b.log2, 8) : 2 ** b.log2,
            })),
          );
        });
        const { bus } = busWith(functions);
        const placed = assignPciBars(bus, WINDOWS);
        for (const bar of placed) {
          const window =
            bar.kind === "io" ? [WINDOWS.ioBase, WINDOWS.ioTop] : [WINDOWS.memoryBase, WINDOWS.memoryTop];
          expect(bar.address % bar.size).toBe(0);
          expect(bar.address).toBeGreaterThanOrEqual(window[0]);
          expect(bar.address + bar.size).toBeLessThanOrEqual(window[1]);
          const f = bus.functionAt(bar.slot, 0);
          expect(f?.barAddress(bar.index)).toBe(bar.address);
        }
        for (let i = 0; i < placed.length; i++) {
          for (let j = i + 1; j < placed.length; j++) {
            const a = placed[i];
            const b = placed[j];
            if ((a.kind === "io") === (b.kind === "io")) expect(overlaps(a, b)).toBe(false);
          }
        }
      }),
      { numRuns: 200 },
    );
  });
});

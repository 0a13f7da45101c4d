// The MP tables read back by a parser written from the MultiProcessor Specification 1.4 (chapter 4), independent of
// the builder: the floating pointer found the way Linux's smp_scan_config looks, then every entry decoded.
import type { GuestMemory } from "@tsvmm/ept";
import { openHypervisor } from "@tsvmm/kvm-api";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { E820_RESERVED, pcE820Map } from "./boot-memory-map.js";
import { addPcRam, loadFirmware } from "./builder.js";
import { pcFirmwareDescription } from "./firmware-description.js";
import { PC_FIRMWARE_TABLES } from "./firmware-tables-area.js";
import { buildMpTable, writeMpTable } from "./mp-table.js";

const MiB = 1024 * 1024;

function pcMemory(ramBytes = 32 * MiB) {
  const vm = openHypervisor().createVm();
  addPcRam(vm, ramBytes);
  loadFirmware(vm, new Uint8Array(0x20000).fill(0xff));
  return vm.memory;
}

const sum = (bytes: Uint8Array) => bytes.reduce((total, b) => (total + b) & 0xff, 0);
const text = (bytes: Uint8Array, start: number, length: number) =>
  String.fromCharCode(...bytes.subarray(start, start + length));

function read(memory: GuestMemory, address: number, length: number): Uint8Array {
  const bytes = new Uint8Array(length);
  memory.read(address, bytes);
  return bytes;
}

/** Linux's search: the first KiB, the top KiB below 640 KiB, the BIOS ROM, then the EBDA named at 0x40E. */
function findFloatingPointer(memory: GuestMemory): number | undefined {
  const areas: Array<[number, number]> = [
    [0, 0x400],
    [639 * 0x400, 0x400],
    [0xf0000, 0x10000],
    [memory.readU16(0x40e) << 4, 0x400],
  ];
  for (const [start, length] of areas) {
    for (let at = start; at + 16 <= start + length; at += 16) {
      const candidate = read(memory, at, 16);
      if (text(candidate, 0, 4) === "_MP_" && candidate[8] === 1 && sum(candidate) === 0) return at;
    }
  }
  return undefined;
}

type Entry =
  | {
      type: "processor";
      apicId: number;
      apicVersion: number;
      enabled: boolean;
      bsp: boolean;
      signature: number;
      features: number;
    }
  | { type: "bus"; id: number; name: string }
  | { type: "ioapic"; id: number; version: number; enabled: boolean; address: number }
  | {
      type: "io-interrupt";
      kind: number;
      flags: number;
      bus: number;
      busIrq: number;
      apic: number;
      pin: number;
    }
  | {
      type: "local-interrupt";
      kind: number;
      flags: number;
      bus: number;
      busIrq: number;
      apic: number;
      lint: number;
    };

function parseMpTables(memory: GuestMemory) {
  const pointerAddress = findFloatingPointer(memory);
  if (pointerAddress === undefined) throw new Error("no MP floating pointer");
  const pointer = read(memory, pointerAddress, 16);
  const pv = new DataView(pointer.buffer);
  expect(pointer[9]).toBe(4); // spec revision 1.4
  expect(pointer[11]).toBe(0); // feature byte 1: a configuration table follows
  const tableAddress = pv.getUint32(4, true);
  const header = read(memory, tableAddress, 44);
  const hv = new DataView(header.buffer);
  expect(text(header, 0, 4)).toBe("PCMP");
  const length = hv.getUint16(4, true);
  const table = read(memory, tableAddress, length);
  expect(sum(table)).toBe(0);
  expect(table[6]).toBe(4);
  expect(hv.getUint32(28, true)).toBe(0); // no OEM table
  expect(hv.getUint16(40, true)).toBe(0); // no extended entries
  const view = new DataView(table.buffer);
  const entries: Entry[] = [];
  let at = 44;
  let lastType = 0;
  for (let i = 0; i < hv.getUint16(34, true); i++) {
    const type = table[at];
    expect(type).toBeGreaterThanOrEqual(lastType); // entries come sorted by type
    lastType = type;
    switch (type) {
      case 0:
        entries.push({
          type: "processor",
          apicId: table[at + 1],
          apicVersion: table[at + 2],
          enabled: (table[at + 3] & 1) !== 0,
          bsp: (table[at + 3] & 2) !== 0,
          signature: view.getUint32(at + 4, true),
          features: view.getUint32(at + 8, true),
        });
        at += 20;
        break;
      case 1:
        entries.push({ type: "bus", id: table[at + 1], name: text(table, at + 2, 6) });
        at += 8;
        break;
      case 2:
        entries.push({
          type: "ioapic",
          id: table[at + 1],
          version: table[at + 2],
          enabled: (table[at + 3] & 1) !== 0,
          address: view.getUint32(at + 4, true),
        });
        at += 8;
        break;
      case 3:
      case 4: {
        const fields = {
          kind: table[at + 1],
          flags: view.getUint16(at + 2, true),
          bus: table[at + 4],
          busIrq: table[at + 5],
          apic: table[at + 6],
        };
        entries.push(
          type === 3
            ? { type: "io-interrupt", ...fields, pin: table[at + 7] }
            : { type: "local-interrupt", ...fields, lint: table[at + 7] },
        );
        at += 8;
        break;
      }
      default:
        throw new Error(`unknown MP entry type ${type}`);
    }
  }
  expect(at).toBe(length);
  return {
    pointerAddress,
    pointer,
    tableAddress,
    length,
    lapic: hv.getUint32(36, true),
    oem: text(header, 8, 8),
    entries,
  };
}

describe("MP tables", () => {
  it("are found where Linux looks and describe the pc machine", () => {
    const memory = pcMemory();
    const placement = writeMpTable(memory, pcFirmwareDescription({ ramBytes: 32 * MiB, cpus: 2 }));
    const mp = parseMpTables(memory);
    expect(mp.pointerAddress).toBe(placement.floatingPointerAddress);
    expect(mp.pointerAddress).toBe(0x9fc00);
    expect(mp.pointer[12] & 0x80).toBe(0); // virtual wire mode: no IMCR
    expect(mp.tableAddress).toBe(placement.configTable.start);
    expect(mp.lapic).toBe(0xfee00000);
    expect(mp.oem).toBe("TSVMM   ");
    const of = <T extends Entry["type"]>(type: T) =>
      mp.entries.filter((e) => e.type === type) as Extract<Entry, { type: T }>[];
    expect(of("processor")).toEqual([
      {
        type: "processor",
        apicId: 0,
        apicVersion: 0x14,
        enabled: true,
        bsp: true,
        signature: 0x600,
        features: 0x201,
      },
      {
        type: "processor",
        apicId: 1,
        apicVersion: 0x14,
        enabled: true,
        bsp: false,
        signature: 0x600,
        features: 0x201,
      },
    ]);
    expect(of("bus")).toEqual([{ type: "bus", id: 0, name: "ISA   " }]);
    expect(of("ioapic")).toEqual([
      { type: "ioapic", id: 0, version: 0x20, enabled: true, address: 0xfec00000 },
    ]);
    const isa = of("io-interrupt").map((e) => [e.busIrq, e.pin, e.flags, e.kind, e.bus, e.apic]);
    expect(isa).toEqual([
      [0, 2, 0x05, 0, 0, 0], // IRQ 0 -> pin 2, edge, active high
      [1, 1, 0, 0, 0, 0],
      // IRQ 2, the cascade, is left out: its pin carries IRQ 0.
      [3, 3, 0, 0, 0, 0],
      [4, 4, 0, 0, 0, 0],
      [5, 5, 0, 0, 0, 0],
      [6, 6, 0, 0, 0, 0],
      [7, 7, 0, 0, 0, 0],
      [8, 8, 0, 0, 0, 0],
      [9, 9, 0x0d, 0, 0, 0], // the SCI: level, active high
      [10, 10, 0, 0, 0, 0],
      [11, 11, 0, 0, 0, 0],
      [12, 12, 0, 0, 0, 0],
      [13, 13, 0, 0, 0, 0],
      [14, 14, 0, 0, 0, 0],
      [15, 15, 0, 0, 0, 0],
    ]);
    expect(of("local-interrupt").map((e) => [e.kind, e.lint, e.apic, e.flags, e.bus, e.busIrq])).toEqual([
      [3, 0, 0xff, 0, 0, 0], // ExtINT on LINT0 of every local APIC
      [1, 1, 0xff, 0, 0, 0], // NMI on LINT1
    ]);
  });

  it("adds bus 0 PCI and each slot's interrupts, through the PIIX3's routes, when the machine has PCI", () => {
    const memory = pcMemory();
    writeMpTable(memory, pcFirmwareDescription({ ramBytes: 32 * MiB, pci: true }));
    const mp = parseMpTables(memory);
    const buses = mp.entries.filter((e) => e.type === "bus");
    expect(buses).toEqual([
      { type: "bus", id: 0, name: "PCI   " },
      { type: "bus", id: 1, name: "ISA   " },
    ]);
    const pci = mp.entries.filter((e) => e.type === "io-interrupt" && e.bus === 0);
    expect(pci).toHaveLength(128);
    for (const e of pci) {
      if (e.type !== "io-interrupt") continue;
      const slot = e.busIrq >> 2;
      const pin = e.busIrq & 3;
      // i440FX: slot d pin p (1-4) drives PIRQ (d + p - 2) mod 4; SeaBIOS's routes put PIRQA-D on 10, 10, 11, 11.
      expect(e.pin).toBe([10, 10, 11, 11][(slot + pin + 1 - 2 + 4) % 4]);
      expect(e.flags).toBe(0x0d); // level, active high
    }
    expect(pci.slice(4, 8).map((e) => (e.type === "io-interrupt" ? e.pin : -1))).toEqual([10, 10, 11, 11]); // slot 1
    const isa = mp.entries.filter((e) => e.type === "io-interrupt" && e.bus === 1);
    expect(isa).toHaveLength(15);
    expect(
      isa
        .filter((e) => e.type === "io-interrupt" && e.flags === 0x0d)
        .map((e) => e.type === "io-interrupt" && e.busIrq),
    ).toEqual([9, 10, 11]);
    expect(mp.entries.filter((e) => e.type === "local-interrupt").every((e) => e.bus === 1)).toBe(true);
  });

  it("describes the isapc machine without an I/O APIC", () => {
    const memory = pcMemory();
    writeMpTable(memory, pcFirmwareDescription({ machineType: "isapc", ramBytes: 32 * MiB, cpus: 2 }));
    const types = parseMpTables(memory).entries.map((e) => e.type);
    expect(types).toEqual(["processor", "processor", "bus", "local-interrupt", "local-interrupt"]);
  });

  it("keeps the buses but no I/O APIC entries for a pc without its I/O APIC", () => {
    const memory = pcMemory();
    writeMpTable(memory, pcFirmwareDescription({ ramBytes: 32 * MiB, ioApic: false, pci: true }));
    const types = parseMpTables(memory).entries.map((e) => e.type);
    expect(types).toEqual(["processor", "bus", "bus", "local-interrupt", "local-interrupt"]);
  });

  it("lies in memory the E820 map reserves", () => {
    const memory = pcMemory();
    const placement = writeMpTable(
      memory,
      pcFirmwareDescription({ ramBytes: 32 * MiB, cpus: 255, pci: true }),
    );
    const map = pcE820Map(32 * MiB, 0x20000);
    for (const [start, end] of [
      [placement.floatingPointerAddress, placement.floatingPointerAddress + 16],
      [placement.configTable.start, placement.configTable.end],
    ]) {
      expect(map.find((e) => start >= e.address && end <= e.address + e.size)?.type).toBe(E820_RESERVED);
    }
  });

  it("refuses a table that does not fit and writes nothing", () => {
    const memory = pcMemory();
    const small = { ...PC_FIRMWARE_TABLES, mpConfigTable: { start: 0xd0000, end: 0xd0100 } };
    expect(() =>
      writeMpTable(memory, pcFirmwareDescription({ ramBytes: 32 * MiB, cpus: 16 }), small),
    ).toThrow(RangeError);
    const inRom = { ...PC_FIRMWARE_TABLES, mpConfigTable: { start: 0xf0000, end: 0xf2000 } };
    expect(() => writeMpTable(memory, pcFirmwareDescription({ ramBytes: 32 * MiB }), inRom)).toThrow(
      /not writable/,
    );
    expect(findFloatingPointer(memory)).toBeUndefined();
  });

  it("checksums and sizes every table it builds (property)", () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 255 }), fc.boolean(), fc.boolean(), (cpus, pci, isa) => {
        const set = buildMpTable(
          pcFirmwareDescription({
            machineType: isa ? "isapc" : "pc",
            ramBytes: 32 * MiB,
            cpus,
            pci: pci && !isa,
          }),
        );
        expect(sum(set.floatingPointer.bytes)).toBe(0);
        expect(sum(set.configTable.bytes)).toBe(0);
        const view = new DataView(set.configTable.bytes.buffer);
        expect(view.getUint16(4, true)).toBe(set.configTable.bytes.length);
        const ioEntries = isa ? 0 : 15 + (pci ? 128 : 0) + 1;
        const buses = pci && !isa ? 2 : 1;
        expect(view.getUint16(34, true)).toBe(cpus + buses + ioEntries + 2);
      }),
      { numRuns: 50 },
    );
  });
});

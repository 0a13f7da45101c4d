import { ACPI_PM_IO_LENGTH, AcpiPm, AcpiPmOffset, Pm1Control } from "@tsvmm/device-model";
import type { GuestMemory } from "@tsvmm/ept";
import { openHypervisor } from "@tsvmm/kvm-api";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { buildAcpiTables, writeAcpiTables } from "./acpi-tables.js";
import {
  acpiexecMissing,
  compileAsl,
  disassembleTable,
  iaslMissing,
  runAcpiexec,
} from "./acpica-tools.test-support.js";
import { E820_RESERVED, pcE820Map } from "./boot-memory-map.js";
import { addPcRam, loadFirmware } from "./builder.js";
import {
  type PcFirmwareDescription,
  type PcIsaDevice,
  pcFirmwareDescription,
} from "./firmware-description.js";
import { PC_FIRMWARE_TABLES } from "./firmware-tables-area.js";
import { Machine } from "./machine.js";

const MiB = 1024 * 1024;

/** A PC's RAM with a 128 KiB firmware image, so 0xE0000-0xFFFFF is read-only ROM as on a real PC. */
function pcMemory(ramBytes = 64 * MiB) {
  const vm = openHypervisor().createVm();
  vm.createVcpu(0);
  addPcRam(vm, ramBytes);
  loadFirmware(vm, new Uint8Array(0x20000).fill(0xff));
  return vm;
}

function sum(bytes: Uint8Array): number {
  return bytes.reduce((total, byte) => (total + byte) & 0xff, 0);
}

function readBytes(memory: GuestMemory, address: number, length: number): Uint8Array {
  const bytes = new Uint8Array(length);
  memory.read(address, bytes);
  return bytes;
}

const text = (bytes: Uint8Array, start: number, length: number) =>
  String.fromCharCode(...bytes.subarray(start, start + length));

/** Linux's acpi_find_root_pointer: the EBDA's first KiB (segment at 0x40E), then 0xE0000-0xFFFFF, 16-byte steps. */
function findRsdpLikeLinux(memory: GuestMemory): number | undefined {
  const ebda = memory.readU16(0x40e) << 4;
  const areas: Array<[number, number]> = [[0xe0000, 0x20000]];
  if (ebda > 0x400) areas.unshift([ebda, 1024]);
  for (const [start, length] of areas) {
    for (let at = start; at + 36 <= start + length; at += 16) {
      const candidate = readBytes(memory, at, 36);
      if (text(candidate, 0, 8) !== "RSD PTR " || sum(candidate.subarray(0, 20)) !== 0) continue;
      if (candidate[15] >= 2 && sum(candidate) !== 0) continue;
      return at;
    }
  }
  return undefined;
}

/** A system description table read from guest memory, checked the way an OS checks it. */
function readTable(memory: GuestMemory, address: number, signature: string) {
  const header = readBytes(memory, address, 36);
  expect(text(header, 0, 4)).toBe(signature);
  const length = new DataView(header.buffer).getUint32(4, true);
  const bytes = readBytes(memory, address, length);
  expect(sum(bytes)).toBe(0);
  expect(text(bytes, 10, 6)).toBe("TSVMM ");
  return { bytes, view: new DataView(bytes.buffer), length, revision: bytes[8] };
}

function u64(view: DataView, offset: number): number {
  return view.getUint32(offset, true) + view.getUint32(offset + 4, true) * 2 ** 32;
}

/** Walks RSDP -> XSDT/RSDT -> FADT/MADT -> FACS/DSDT the way an OS does and returns what it found. */
function walkTables(memory: GuestMemory) {
  const rsdpAddress = findRsdpLikeLinux(memory);
  if (rsdpAddress === undefined) throw new Error("no RSDP found");
  const rsdp = readBytes(memory, rsdpAddress, 36);
  const rsdpView = new DataView(rsdp.buffer);
  expect(rsdp[15]).toBe(2);
  expect(rsdpView.getUint32(20, true)).toBe(36);
  const rsdt = readTable(memory, rsdpView.getUint32(16, true), "RSDT");
  const xsdt = readTable(memory, u64(rsdpView, 24), "XSDT");
  const rsdtEntries = Array.from({ length: (rsdt.length - 36) / 4 }, (_, i) =>
    rsdt.view.getUint32(36 + 4 * i, true),
  );
  const xsdtEntries = Array.from({ length: (xsdt.length - 36) / 8 }, (_, i) => u64(xsdt.view, 36 + 8 * i));
  expect(xsdtEntries).toEqual(rsdtEntries);
  const bySignature = new Map(
    xsdtEntries.map((address) => [text(readBytes(memory, address, 4), 0, 4), address]),
  );
  const fadt = readTable(memory, bySignature.get("FACP") ?? -1, "FACP");
  const madt = readTable(memory, bySignature.get("APIC") ?? -1, "APIC");
  const dsdt = readTable(memory, fadt.view.getUint32(40, true), "DSDT");
  const facsAddress = fadt.view.getUint32(36, true);
  const facs = readBytes(memory, facsAddress, 64);
  return {
    rsdpAddress,
    rsdt,
    xsdt,
    fadt,
    madt,
    dsdt,
    facs,
    facsAddress,
    signatures: [...bySignature.keys()],
  };
}

/** The MADT's interrupt controller structures, by type. */
function madtEntries(madt: { bytes: Uint8Array; length: number }) {
  const entries: Array<{ type: number; bytes: Uint8Array }> = [];
  for (let at = 44; at < madt.length; at += madt.bytes[at + 1]) {
    expect(madt.bytes[at + 1]).toBeGreaterThan(0);
    entries.push({ type: madt.bytes[at], bytes: madt.bytes.subarray(at, at + madt.bytes[at + 1]) });
  }
  return entries;
}

const pc = (options: Partial<Parameters<typeof pcFirmwareDescription>[0]> = {}) =>
  pcFirmwareDescription({ ramBytes: 64 * MiB, ...options });

describe("ACPI tables in guest memory", () => {
  it("puts an RSDP where Linux's scan finds it, leading to valid XSDT, RSDT, FADT, MADT, FACS and DSDT", () => {
    const vm = pcMemory();
    const placement = writeAcpiTables(vm.memory, pc({ cpus: 2 }));
    const found = walkTables(vm.memory);
    expect(found.rsdpAddress).toBe(placement.rsdpAddress);
    expect(placement.rsdpAddress).toBe(0x9fc10);
    expect(vm.memory.readU16(0x40e)).toBe(0x9fc0); // the BIOS data area's EBDA segment
    expect(vm.memory.readU16(0x413)).toBe(639);
    expect(found.signatures).toEqual(["FACP", "APIC"]);
    expect(found.facsAddress % 64).toBe(0);
    expect(text(found.facs, 0, 4)).toBe("FACS");
    expect(new DataView(found.facs.buffer).getUint32(4, true)).toBe(64);
    expect(found.facs[32]).toBe(2); // version
    expect(placement.tables.map((t) => t.signature)).toEqual([
      "FACS",
      "DSDT",
      "FACP",
      "APIC",
      "RSDT",
      "XSDT",
    ]);
  });

  it("writes only into memory the PC's E820 map already reserves, so the loaders need no new entry", () => {
    const vm = pcMemory();
    const placement = writeAcpiTables(vm.memory, pc());
    const map = pcE820Map(64 * MiB, 0x20000);
    const ranges = [{ start: placement.rsdpAddress, end: placement.rsdpAddress + 36 }, placement.tablesRange];
    for (const range of ranges) {
      const entry = map.find((e) => range.start >= e.address && range.end <= e.address + e.size);
      expect(entry?.type).toBe(E820_RESERVED);
    }
    expect(placement.tablesRange.start).toBeGreaterThanOrEqual(PC_FIRMWARE_TABLES.acpiTables.start);
    expect(placement.tablesRange.end).toBeLessThanOrEqual(PC_FIRMWARE_TABLES.acpiTables.end);
  });

  it("fills the FADT (revision 6) at the offsets ACPI 6.0 defines", () => {
    const vm = pcMemory();
    writeAcpiTables(vm.memory, pc());
    const { fadt, dsdt } = walkTables(vm.memory);
    const v = fadt.view;
    expect(fadt.length).toBe(276);
    expect(fadt.revision).toBe(6);
    expect(v.getUint8(45)).toBe(0); // Preferred_PM_Profile
    expect(v.getUint16(46, true)).toBe(9); // SCI_INT
    expect(v.getUint32(48, true)).toBe(0); // SMI_CMD: no SMM
    expect([v.getUint8(52), v.getUint8(53)]).toEqual([0, 0]); // ACPI_ENABLE, ACPI_DISABLE
    expect(v.getUint32(56, true)).toBe(0x600); // PM1a_EVT_BLK
    expect(v.getUint32(60, true)).toBe(0); // PM1b_EVT_BLK
    expect(v.getUint32(64, true)).toBe(0x604); // PM1a_CNT_BLK
    expect(v.getUint32(72, true)).toBe(0); // PM2_CNT_BLK
    expect(v.getUint32(76, true)).toBe(0x608); // PM_TMR_BLK
    expect(v.getUint32(80, true)).toBe(0x60c); // GPE0_BLK
    expect([88, 89, 90, 91, 92, 93].map((o) => v.getUint8(o))).toEqual([4, 2, 0, 4, 4, 0]); // block lengths
    expect([v.getUint16(96, true), v.getUint16(98, true)]).toEqual([0x0fff, 0x0fff]); // no C2, no C3
    expect(v.getUint8(108)).toBe(0x32); // CENTURY
    expect(v.getUint16(109, true)).toBe(0b0111); // legacy devices, 8042, VGA not present
    const flags = v.getUint32(112, true);
    expect(flags & (1 << 0)).not.toBe(0); // WBINVD
    expect(flags & (1 << 2)).not.toBe(0); // PROC_C1
    expect(flags & (1 << 4)).toBe(0); // the power button is fixed hardware
    expect(flags & (1 << 5)).not.toBe(0); // no fixed sleep button
    expect(flags & (1 << 8)).toBe(0); // TMR_VAL_EXT clear: a 24-bit PM timer
    expect(flags & (1 << 20)).toBe(0); // not hardware-reduced
    expect(u64(v, 132)).toBe(0); // X_FIRMWARE_CTRL unused: FIRMWARE_CTRL has the FACS
    expect(u64(v, 140)).toBe(v.getUint32(40, true)); // X_DSDT = DSDT
    expect(dsdt.revision).toBe(2);
    // X_PM1a_EVT_BLK, X_PM1a_CNT_BLK, X_PM_TMR_BLK, X_GPE0_BLK: SystemIO, width, access size, the same ports.
    const gas = (offset: number) => [
      v.getUint8(offset),
      v.getUint8(offset + 1),
      v.getUint8(offset + 3),
      u64(v, offset + 4),
    ];
    expect(gas(148)).toEqual([1, 32, 2, 0x600]);
    expect(gas(172)).toEqual([1, 16, 2, 0x604]);
    expect(gas(208)).toEqual([1, 32, 3, 0x608]);
    expect(gas(220)).toEqual([1, 32, 1, 0x60c]);
    expect(gas(160)[0]).toBe(0); // no PM1b
  });

  it("gives the FADT the PIIX3's reset register when the machine has PCI", () => {
    const vm = pcMemory();
    writeAcpiTables(vm.memory, pc());
    expect(walkTables(vm.memory).fadt.view.getUint32(112, true) & (1 << 10)).toBe(0);
    writeAcpiTables(vm.memory, pc({ pci: true }));
    const v = walkTables(vm.memory).fadt.view;
    expect(v.getUint32(112, true) & (1 << 10)).not.toBe(0); // RESET_REG_SUP
    expect([v.getUint8(116), v.getUint8(117), v.getUint8(119), u64(v, 120)]).toEqual([1, 8, 1, 0xcf9]);
    expect(v.getUint8(128)).toBe(6); // RESET_VALUE
  });

  it("derives the FADT's IA-PC boot flags and century index from the devices", () => {
    const vm = pcMemory();
    writeAcpiTables(vm.memory, pc({ isaDevices: ["pic", "pit", "com1"], vga: true }));
    const { fadt } = walkTables(vm.memory);
    expect(fadt.view.getUint16(109, true)).toBe(0b10_0001); // legacy devices, CMOS RTC not present
    expect(fadt.view.getUint8(108)).toBe(0);
  });

  it("lists a local APIC per CPU, the I/O APIC, the overrides and the LINT1 NMI in the MADT", () => {
    const vm = pcMemory();
    writeAcpiTables(vm.memory, pc({ cpus: 3 }));
    const { madt } = walkTables(vm.memory);
    expect(madt.revision).toBe(3);
    expect(madt.view.getUint32(36, true)).toBe(0xfee00000);
    expect(madt.view.getUint32(40, true)).toBe(1); // PCAT_COMPAT
    const entries = madtEntries(madt).map((e) => [...e.bytes]);
    expect(entries).toEqual([
      [0, 8, 0, 0, 1, 0, 0, 0], // processor UID 0, APIC ID 0, enabled
      [0, 8, 1, 1, 1, 0, 0, 0],
      [0, 8, 2, 2, 1, 0, 0, 0],
      [1, 12, 0, 0, 0x00, 0x00, 0xc0, 0xfe, 0, 0, 0, 0], // I/O APIC 0 at 0xFEC00000, GSI base 0
      [2, 10, 0, 0, 2, 0, 0, 0, 0x05, 0x00], // ISA IRQ 0 -> GSI 2, edge, active high
      [2, 10, 0, 9, 9, 0, 0, 0, 0x0d, 0x00], // ISA IRQ 9 (SCI) -> GSI 9, level, active high
      [4, 6, 0xff, 0, 0, 1], // NMI on LINT1 of every processor
    ]);
    writeAcpiTables(vm.memory, pc({ pci: true }));
    const overrides = madtEntries(walkTables(vm.memory).madt).filter((e) => e.type === 2);
    expect(overrides.map((e) => [e.bytes[3], e.bytes[4], e.bytes[8]])).toEqual([
      [0, 2, 0x05],
      [9, 9, 0x0d],
      [10, 10, 0x0d], // the PCI IRQs: level, active high
      [11, 11, 0x0d],
    ]);
  });

  it("lists only the local APICs and the NMI in the MADT of a pc without its I/O APIC", () => {
    const vm = pcMemory();
    writeAcpiTables(vm.memory, pc({ cpus: 2, ioApic: false, pci: true }));
    const { madt } = walkTables(vm.memory);
    expect(madtEntries(madt).map((e) => e.type)).toEqual([0, 0, 4]);
    expect(madt.view.getUint32(40, true)).toBe(1); // PCAT_COMPAT: the 8259s serve every IRQ
  });

  it("refuses what cannot work and writes nothing then", () => {
    const vm = pcMemory();
    expect(() =>
      writeAcpiTables(vm.memory, pcFirmwareDescription({ machineType: "isapc", ramBytes: 64 * MiB })),
    ).toThrow(/ACPI PM block/);
    const tiny = { ...PC_FIRMWARE_TABLES, acpiTables: { start: 0xd2000, end: 0xd2400 } };
    expect(() => writeAcpiTables(vm.memory, pc({ cpus: 8 }), tiny)).toThrow(RangeError);
    const inRom = { ...PC_FIRMWARE_TABLES, acpiTables: { start: 0xe0000, end: 0xf0000 } };
    expect(() => writeAcpiTables(vm.memory, pc(), inRom)).toThrow(/not writable RAM/);
    const rsdpOutsideEbda = { ...PC_FIRMWARE_TABLES, rsdp: 0x9f000 };
    expect(() => writeAcpiTables(vm.memory, pc(), rsdpOutsideEbda)).toThrow(RangeError);
    expect(readBytes(vm.memory, 0xd0000, 0x10000).every((b) => b === 0)).toBe(true);
    expect(vm.memory.readU16(0x40e)).toBe(0);
  });

  it("builds consistent tables for any valid description (property)", () => {
    const devices: PcIsaDevice[] = ["pic", "pit", "rtc", "keyboard", "mouse", "speaker", "com1", "com2"];
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 255 }),
        fc.boolean(),
        fc.subarray(devices),
        fc.integer({ min: 2, max: 0xe00 }),
        (cpus, pci, isaDevices, ramMiB) => {
          const description = pcFirmwareDescription({ ramBytes: ramMiB * MiB, cpus, pci, isaDevices });
          const set = buildAcpiTables(description);
          let end = PC_FIRMWARE_TABLES.acpiTables.start;
          for (const table of set.tables) {
            expect(table.address).toBeGreaterThanOrEqual(end);
            end = table.address + table.bytes.length;
            if (table.signature === "FACS") continue;
            expect(sum(table.bytes)).toBe(0);
            expect(new DataView(table.bytes.buffer).getUint32(4, true)).toBe(table.bytes.length);
          }
          expect(end).toBeLessThanOrEqual(PC_FIRMWARE_TABLES.acpiTables.end);
          expect(sum(set.rsdp.bytes)).toBe(0);
          expect(sum(set.rsdp.bytes.subarray(0, 20))).toBe(0);
        },
      ),
      { numRuns: 40 },
    );
  });
});

describe("the DSDT's \\_S5 and the AcpiPm device", () => {
  it("powers the machine off when an OS writes \\_S5's SLP_TYP with SLP_EN to the FADT's PM1a control block", () => {
    const vm = pcMemory();
    const machine = new Machine(vm);
    let poweredOff = false;
    const pm = new AcpiPm({
      clock: { nowNs: () => 0 },
      sci: machine.irqs.line(9),
      onPowerOff: () => {
        poweredOff = true;
      },
    });
    machine.pio.insert(pm, 0x600, ACPI_PM_IO_LENGTH, "acpi-pm");
    writeAcpiTables(vm.memory, pc());
    const { fadt, dsdt } = walkTables(vm.memory);
    // The DSDT opens with Name (\_S5, Package (4) { SLP_TYPa, ... }): find it and read SLP_TYPa.
    const s5 = [0x08, 0x5c, ...Array.from("_S5_", (c) => c.charCodeAt(0)), 0x12];
    const at = dsdt.bytes.findIndex((_, i) => s5.every((b, j) => dsdt.bytes[i + j] === b));
    expect(at).toBe(36);
    const element = dsdt.bytes.subarray(at + s5.length + 2); // skip PkgLength (1 byte) and the element count
    const slpTyp = element[0] === 0x00 ? 0 : element[0] === 0x01 ? 1 : element[1];
    const pm1aControl = fadt.view.getUint32(64, true);
    expect(pm1aControl).toBe(0x600 + AcpiPmOffset.Pm1Control);
    const value = (slpTyp << Pm1Control.SleepTypeShift) | Pm1Control.SleepEnable;
    machine.pio.write(pm1aControl, Uint8Array.of(value & 0xff, value >> 8));
    expect(poweredOff).toBe(true);
  });
});

describe.skipIf(iaslMissing !== undefined)("the tables disassembled by iasl", () => {
  const description = pc({
    cpus: 4,
    pci: true,
    isaDevices: ["pic", "pit", "rtc", "keyboard", "mouse", "speaker", "com1", "com2"],
  });
  const set = buildAcpiTables(description);

  for (const table of set.tables) {
    it(`${table.signature} decodes without warnings`, () => {
      const { log } = disassembleTable(table.bytes);
      expect(log).not.toMatch(/warning|error/i);
      expect(log).toMatch(new RegExp(`ACPI: ${table.signature}`));
    });
  }

  it("shows the FADT's blocks and flags as intended", () => {
    const { dsl } = disassembleTable(set.tables[2].bytes);
    expect(dsl).toMatch(/Revision : 06/);
    expect(dsl).toMatch(/PM1A Event Block Address : 00000600/);
    expect(dsl).toMatch(/PM Timer Block Address : 00000608/);
    expect(dsl).toMatch(/32-bit PM Timer \(V1\) : 0/);
    expect(dsl).toMatch(/WBINVD instruction is operational \(V1\) : 1/);
    expect(dsl).toMatch(/8042 Present on ports 60\/64 \(V2\) : 1/);
  });

  it("recompiles the disassembled DSDT to the same AML", () => {
    const dsdt = set.tables[1].bytes;
    const { dsl } = disassembleTable(dsdt);
    expect(dsl).toMatch(/Device \(PCI0\)/);
    expect(dsl).toMatch(/EisaId \("PNP0A03"\)/);
    expect(dsl).toMatch(/Interrupt \(ResourceConsumer, Level, ActiveHigh, Shared, ,, \)/);
    for (const name of [
      "C000",
      "C003",
      "LNKA",
      "LNKD",
      "PIC",
      "TMR",
      "RTC",
      "KBD",
      "MOU",
      "SPKR",
      "COM1",
      "COM2",
    ]) {
      expect(dsl).toContain(`Device (${name})`);
    }
    expect([...compileAsl(dsl).subarray(36)]).toEqual([...dsdt.subarray(36)]);
  });

  it("leaves PCI out of the DSDT of a machine without it", () => {
    const { dsl } = disassembleTable(buildAcpiTables(pc()).tables[1].bytes);
    expect(dsl).not.toMatch(/PCI0|LNK/);
    expect(dsl).toMatch(/Device \(COM1\)/);
  });
});

describe.skipIf(acpiexecMissing !== undefined)("the DSDT in ACPICA's interpreter (acpiexec)", () => {
  const run = (description: PcFirmwareDescription, commands: string[]) =>
    runAcpiexec(buildAcpiTables(description).tables[1].bytes, commands);

  it("loads, and evaluates \\_S5, a link's and the serial port's resources", () => {
    const out = run(pc({ cpus: 2, pci: true }), [
      "Evaluate \\_S5",
      "Evaluate \\_SB.LNKC._CRS",
      "Evaluate \\_SB.COM1._CRS",
    ]);
    expect(out).not.toMatch(/ACPI Error|ACPI Warning|AE_/);
    expect(out).toMatch(/Table \[DSDT: TSVMDSDT\] \(id \d+\) - +\d+ Objects with +\d+ Devices/);
    expect(out).toMatch(/\[Package\] Contains 4 Elements:\s+\[Integer\] = 0000000000000000/);
    expect(out).toMatch(/89 06 00 09 01 0B 00 00 00 79 00/); // LNKC: IRQ 11, level, active high, shared
    expect(out).toMatch(/47 01 F8 03 F8 03 01 08 22 10 00 79 00/); // COM1: 0x3F8-0x3FF, IRQ 4
  });

  it("accepts the links' _SRS as an OS calls it", () => {
    // The argument is the buffer _CRS returns: IRQ 10, level, active high, shared.
    const out = run(pc({ pci: true }), ["Evaluate \\_SB.LNKA._SRS (89 06 00 09 01 0A 00 00 00 79 00)"]);
    expect(out).not.toMatch(/ACPI Error|ACPI Warning|AE_/);
    expect(out).toMatch(/No object was returned from evaluation of \\_SB.LNKA._SRS/);
  });
});

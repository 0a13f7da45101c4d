// The Intel MultiProcessor Specification 1.4 tables of a PC: the MP floating pointer structure and the MP
// configuration table it points at, built from the same PcFirmwareDescription as the ACPI tables. An OS booted
// with ACPI off (or one that predates it) finds the CPUs, the I/O APIC and the interrupt wiring here.
//
// Entries, in the type order the specification requires:
// - a processor per CPU (APIC ID = index, CPU 0 the bootstrap processor, all enabled);
// - bus 0 "PCI" when the machine has PCI, then the ISA bus;
// - the I/O APIC (enabled);
// - I/O interrupt assignments: each ISA IRQ to its I/O APIC input (through the description's overrides, so IRQ 0
//   goes to input 2 and the cascade IRQ 2, whose input IRQ 0 took, is left out), and each PCI slot's INTA#-INTD#
//   to the input of the ISA IRQ its PIRQ is routed to, level-triggered active high;
// - local interrupt assignments: the 8259's ExtINT on LINT0 and NMI on LINT1 of every local APIC.
// Virtual wire mode: there is no IMCR (feature byte 2 bit 7 clear).

import { PciInterruptPin, pciPirq } from "@tsvmm/device-model";
import type { GuestMemory } from "@tsvmm/ept";
import type { GuestRange } from "./boot-memory-map.js";
import {
  checkFirmwareDescription,
  isaIrqGsi,
  mpsIntiFlags,
  type PcFirmwareDescription,
} from "./firmware-description.js";
import {
  checkTableFits,
  type FirmwareTablesLayout,
  PC_FIRMWARE_TABLES,
  writeEbdaPointer,
} from "./firmware-tables-area.js";
import { checksumByte, writeAscii } from "./table-bytes.js";

/** MP configuration table entry types. */
export const MpEntryType = {
  Processor: 0,
  Bus: 1,
  IoApic: 2,
  IoInterrupt: 3,
  LocalInterrupt: 4,
} as const;

/** Interrupt types of the interrupt assignment entries. */
export const MpInterruptType = { Int: 0, Nmi: 1, Smi: 2, ExtInt: 3 } as const;

const FLOATING_POINTER_LENGTH = 16;
const HEADER_LENGTH = 44;
const PROCESSOR_ENTRY_LENGTH = 20;
const ENTRY_LENGTH = 8;
const SPEC_REVISION = 4;
/** Destination local APIC ID meaning "every local APIC". */
const ALL_LOCAL_APICS = 0xff;
const PCI_SLOTS = 32;

/** The two structures with their addresses. */
export interface MpTableSet {
  floatingPointer: { address: number; bytes: Uint8Array };
  configTable: { address: number; bytes: Uint8Array };
}

/** Where writeMpTable put things. */
export interface MpTablePlacement {
  floatingPointerAddress: number;
  configTable: GuestRange;
}

/**
 * Builds the floating pointer (at `layout.mpFloatingPointer`) and the configuration table (at the start of
 * `layout.mpConfigTable`). Throws a RangeError for an invalid description or a table that does not fit.
 */
export function buildMpTable(
  description: PcFirmwareDescription,
  layout: FirmwareTablesLayout = PC_FIRMWARE_TABLES,
): MpTableSet {
  checkFirmwareDescription(description);
  const configAddress = layout.mpConfigTable.start;
  const configTable = buildConfigTable(description);
  if (configAddress + configTable.length > layout.mpConfigTable.end) {
    throw new RangeError(
      `the MP configuration table (${configTable.length} bytes) does not fit in 0x${configAddress.toString(16)}-0x${layout.mpConfigTable.end.toString(16)}`,
    );
  }
  return {
    floatingPointer: { address: layout.mpFloatingPointer, bytes: buildFloatingPointer(configAddress) },
    configTable: { address: configAddress, bytes: configTable },
  };
}

/**
 * Builds the MP tables and writes them into guest RAM, with the BIOS data area's EBDA pointer (the floating pointer
 * lies in the EBDA's first KiB). Checks everything fits in writable RAM before writing.
 */
export function writeMpTable(
  memory: GuestMemory,
  description: PcFirmwareDescription,
  layout: FirmwareTablesLayout = PC_FIRMWARE_TABLES,
): MpTablePlacement {
  const set = buildMpTable(description, layout);
  const pointer = set.floatingPointer;
  if (pointer.address % 16 !== 0) throw new RangeError("the MP floating pointer must be 16-byte aligned");
  checkTableFits(
    memory,
    { start: layout.ebda, end: layout.ebda + 1024 },
    pointer.address,
    FLOATING_POINTER_LENGTH,
    "MP floating pointer",
  );
  const config = set.configTable;
  checkTableFits(memory, layout.mpConfigTable, config.address, config.bytes.length, "MP configuration table");
  writeEbdaPointer(memory, layout.ebda);
  memory.write(pointer.address, pointer.bytes);
  memory.write(config.address, config.bytes);
  return {
    floatingPointerAddress: pointer.address,
    configTable: { start: config.address, end: config.address + config.bytes.length },
  };
}

/** The 16-byte floating pointer: "_MP_", the table's address, length 1 (paragraphs), revision 1.4, checksum. */
export function buildFloatingPointer(configTableAddress: number): Uint8Array {
  const bytes = new Uint8Array(FLOATING_POINTER_LENGTH);
  writeAscii(bytes, 0, "_MP_", 4);
  new DataView(bytes.buffer).setUint32(4, configTableAddress, true);
  bytes[8] = 1;
  bytes[9] = SPEC_REVISION;
  // Feature byte 1 = 0: a configuration table is present. Byte 2 bit 7 = 0: virtual wire mode, no IMCR.
  bytes[10] = checksumByte(bytes);
  return bytes;
}

/** The configuration table: header and entries, checksummed. */
export function buildConfigTable(d: PcFirmwareDescription): Uint8Array {
  const entries: Uint8Array[] = [];
  const entry = () => {
    const bytes = new Uint8Array(ENTRY_LENGTH);
    entries.push(bytes);
    return { bytes, view: new DataView(bytes.buffer) };
  };

  for (let cpu = 0; cpu < d.cpus; cpu++) {
    const bytes = new Uint8Array(PROCESSOR_ENTRY_LENGTH);
    const view = new DataView(bytes.buffer);
    bytes.set([MpEntryType.Processor, cpu, d.localApicVersion, cpu === 0 ? 0x03 : 0x01]); // EN, BP for CPU 0
    view.setUint32(4, d.cpuSignature, true);
    view.setUint32(8, d.cpuFeatures, true);
    entries.push(bytes);
  }

  const pciBus = d.pci !== undefined ? 0 : undefined;
  const isaBus = pciBus === undefined ? 0 : 1;
  if (pciBus !== undefined) {
    const { bytes } = entry();
    bytes.set([MpEntryType.Bus, pciBus]);
    writeAscii(bytes, 2, "PCI", 6);
  }
  {
    const { bytes } = entry();
    bytes.set([MpEntryType.Bus, isaBus]);
    writeAscii(bytes, 2, "ISA", 6);
  }

  const ioApic = d.ioApic;
  if (ioApic !== undefined) {
    const { bytes, view } = entry();
    bytes.set([MpEntryType.IoApic, ioApic.id, ioApic.version, 0x01]); // enabled
    view.setUint32(4, ioApic.address, true);

    const ioInterrupt = (flags: number, bus: number, busIrq: number, gsi: number) => {
      const { bytes, view } = entry();
      bytes[0] = MpEntryType.IoInterrupt;
      bytes[1] = MpInterruptType.Int;
      view.setUint16(2, flags, true);
      bytes.set([bus, busIrq, ioApic.id, gsi - ioApic.gsiBase], 4);
    };
    const overridden = new Map(d.isaInterruptOverrides.map((o) => [o.irq, o]));
    const takenGsis = new Set(d.isaInterruptOverrides.map((o) => o.gsi));
    for (let irq = 0; irq < 16; irq++) {
      const override = overridden.get(irq);
      if (override !== undefined) {
        ioInterrupt(mpsIntiFlags(override.polarity, override.trigger), isaBus, irq, override.gsi);
      } else if (!takenGsis.has(ioApic.gsiBase + irq) && irq < ioApic.pins) {
        ioInterrupt(0, isaBus, irq, ioApic.gsiBase + irq);
      }
    }
    if (d.pci !== undefined && pciBus !== undefined) {
      const flags = mpsIntiFlags("active-high", "level");
      for (let slot = 0; slot < PCI_SLOTS; slot++) {
        for (let pin = 0; pin < 4; pin++) {
          const irq = d.pci.pirqIrqs[pciPirq(slot, PciInterruptPin.IntA + pin)];
          ioInterrupt(flags, pciBus, (slot << 2) | pin, isaIrqGsi(d, irq));
        }
      }
    }
  }

  const localInterrupt = (type: number, lint: number) => {
    const { bytes } = entry();
    bytes.set([MpEntryType.LocalInterrupt, type, 0, 0, isaBus, 0, ALL_LOCAL_APICS, lint]);
  };
  localInterrupt(MpInterruptType.ExtInt, 0);
  localInterrupt(MpInterruptType.Nmi, 1);

  let length = HEADER_LENGTH;
  for (const e of entries) length += e.length;
  if (length > 0xffff) throw new RangeError(`MP configuration table of ${length} bytes exceeds 64 KiB`);
  const table = new Uint8Array(length);
  const view = new DataView(table.buffer);
  writeAscii(table, 0, "PCMP", 4);
  view.setUint16(4, length, true);
  table[6] = SPEC_REVISION;
  writeAscii(table, 8, "TSVMM", 8);
  writeAscii(table, 16, d.machineType.toUpperCase(), 12);
  view.setUint16(34, entries.length, true);
  view.setUint32(36, d.localApicAddress, true);
  let at = HEADER_LENGTH;
  for (const e of entries) {
    table.set(e, at);
    at += e.length;
  }
  table[7] = checksumByte(table);
  return table;
}

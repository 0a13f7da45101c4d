// Where the VMM puts firmware tables for a kernel booted without firmware, and how the kernel finds them.
//
// Everything lies in memory pcE820Map() already reports reserved, so the memory map needs no new entry and no
// loader places anything there:
// - the Extended BIOS Data Area, the top KiB of conventional memory (0x9FC00), holds the MP floating pointer and
//   the RSDP: OSes scan the EBDA's first KiB for both (and Linux scans 639-640 KiB for the MP pointer anyway); the
//   BIOS data area's word at 0x40E points at it as a BIOS leaves it;
// - RAM in the option-ROM area (0xD0000-0xDFFFF; 0xC0000 is left for a VGA BIOS, the firmware alias starts at
//   0xE0000 or higher) holds the MP configuration table and the ACPI tables.

import type { GuestMemory } from "@tsvmm/ept";
import type { GuestRange } from "./boot-memory-map.js";
import { LOW_RAM_END } from "./boot-memory-map.js";

/** The addresses of the firmware tables. */
export interface FirmwareTablesLayout {
  /** Start of the EBDA (its segment goes in the BIOS data area); the MP pointer and RSDP lie in its first KiB. */
  ebda: number;
  /** The MP floating pointer structure (16 bytes, 16-byte aligned). */
  mpFloatingPointer: number;
  /** Where the MP configuration table may go. */
  mpConfigTable: GuestRange;
  /** The RSDP (36 bytes, 16-byte aligned). */
  rsdp: number;
  /** Where the ACPI tables the RSDP leads to may go. */
  acpiTables: GuestRange;
}

export const PC_FIRMWARE_TABLES: FirmwareTablesLayout = {
  ebda: LOW_RAM_END,
  mpFloatingPointer: LOW_RAM_END,
  rsdp: LOW_RAM_END + 0x10,
  mpConfigTable: { start: 0xd0000, end: 0xd2000 },
  acpiTables: { start: 0xd2000, end: 0xe0000 },
};

/** BIOS data area words: the EBDA's segment and the KiB of conventional memory below it. */
const BDA_EBDA_SEGMENT = 0x40e;
const BDA_BASE_MEMORY_KIB = 0x413;

/**
 * Points the BIOS data area at the EBDA as a BIOS leaves it: its segment at 0x40E and the conventional memory
 * below it, in KiB, at 0x413 (Linux reads both to find the EBDA and the RSDP).
 */
export function writeEbdaPointer(memory: GuestMemory, ebda: number): void {
  if (!Number.isInteger(ebda) || ebda % 1024 !== 0 || ebda < 0x20000 || ebda >= 0xa0000) {
    throw new RangeError(`the EBDA must start on a KiB boundary from 128 to 640 KiB, got ${ebda}`);
  }
  memory.writeU16(BDA_EBDA_SEGMENT, ebda >> 4);
  memory.writeU16(BDA_BASE_MEMORY_KIB, ebda / 1024);
}

/** Throws a RangeError unless [address, address + length) is writable guest RAM inside `area`. */
export function checkTableFits(
  memory: GuestMemory,
  area: GuestRange,
  address: number,
  length: number,
  what: string,
): void {
  if (address < area.start || address + length > area.end) {
    throw new RangeError(
      `${what} (${length} bytes at 0x${address.toString(16)}) does not fit in 0x${area.start.toString(16)}-0x${area.end.toString(16)}`,
    );
  }
  if (!memory.isRam(address, length, true)) {
    throw new RangeError(`${what} at 0x${address.toString(16)} is not writable RAM in this VM`);
  }
}

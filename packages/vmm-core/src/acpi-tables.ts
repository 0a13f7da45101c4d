// The ACPI tables of a PC (ACPI 6.0 layouts): RSDP 2.0 -> RSDT and XSDT -> FADT (-> FACS, DSDT) and MADT, built from
// a PcFirmwareDescription and written where FirmwareTablesLayout says.
//
// Choices (QEMU's pc machine makes the same ones unless noted):
// - FADT revision 6: the PM1a event/control blocks, the 24-bit PM timer and GPE0 of device-model's AcpiPm, SCI on
//   the description's IRQ; SMI_CMD 0 (no SMM, so the OS finds the system in ACPI mode); WBINVD works, C1 on all
//   CPUs, no C2/C3 (latencies 0xFFF), a fixed-hardware power button and no sleep button; the reset register when
//   the description has one (the PIIX3's 0xCF9; QEMU's FADT revision 1 has none); IA-PC boot flags from
//   the legacy devices (8042, VGA, CMOS RTC); the RTC century index 0x32. Both the 32-bit and X_ fields are filled,
//   with equal values.
// - MADT: one enabled local APIC per CPU (UID = APIC ID = index), the I/O APIC, the interrupt source overrides,
//   and local APIC NMI on LINT1 for all processors; PCAT_COMPAT (the 8259 pair is present).
// - DSDT: see dsdt.ts.

import { ACPI_PM_BLOCK_LENGTHS, ACPI_PM_TIMER_BITS, AcpiPmOffset } from "@tsvmm/device-model";
import type { GuestMemory } from "@tsvmm/ept";
import type { GuestRange } from "./boot-memory-map.js";
import { dsdtAml } from "./dsdt.js";
import {
  checkFirmwareDescription,
  mpsIntiFlags,
  type PcFirmwareDescription,
} from "./firmware-description.js";
import {
  checkTableFits,
  type FirmwareTablesLayout,
  PC_FIRMWARE_TABLES,
  writeEbdaPointer,
} from "./firmware-tables-area.js";
import { checksumByte, setUint64, writeAscii } from "./table-bytes.js";

/** The OEM fields every table carries. */
export const ACPI_OEM_ID = "TSVMM";
const OEM_TABLE_ID_PREFIX = "TSVM";
const CREATOR_ID = "TSVM";
const OEM_REVISION = 1;
const CREATOR_REVISION = 1;

const HEADER_LENGTH = 36;
const RSDP_LENGTH = 36;
const FADT_LENGTH = 276;
const FACS_LENGTH = 64;

/** FADT flags (ACPI 6.0, table 5-35). */
export const FadtFlag = {
  Wbinvd: 1 << 0,
  ProcC1: 1 << 2,
  /** Set: the power button is a control-method device (or none); clear: the fixed-hardware power button. */
  PowerButton: 1 << 4,
  /** Set: no fixed-hardware sleep button. */
  SleepButton: 1 << 5,
  /** Set: the PM timer has 32 bits; clear: 24. */
  TimerValueExtended: 1 << 8,
  /** RESET_REG and RESET_VALUE are valid. */
  ResetRegisterSupported: 1 << 10,
} as const;

/** IA-PC boot architecture flags (ACPI 6.0, table 5-36). */
export const IapcBootFlag = {
  LegacyDevices: 1 << 0,
  I8042: 1 << 1,
  VgaNotPresent: 1 << 2,
  MsiNotSupported: 1 << 3,
  PcieAspmControls: 1 << 4,
  CmosRtcNotPresent: 1 << 5,
} as const;

/** One table as placed in guest memory. */
export interface AcpiTable {
  signature: string;
  address: number;
  bytes: Uint8Array;
}

/** The RSDP and the tables it leads to, with their addresses: what writeAcpiTables writes. */
export interface AcpiTableSet {
  rsdp: AcpiTable;
  /** FACS, DSDT, FADT, MADT, RSDT, XSDT, in address order. */
  tables: AcpiTable[];
}

/** Where writeAcpiTables put things. */
export interface AcpiTablesPlacement {
  /** The RSDP's address (for the Linux zero page's acpi_rsdp_addr). */
  rsdpAddress: number;
  /** The range the tables occupy (the RSDP aside), inside the layout's ACPI area. */
  tablesRange: GuestRange;
  tables: Array<{ signature: string; address: number; length: number }>;
}

/**
 * Builds the tables for `description`, laid out from the start of `layout.acpiTables` (the FACS first, for its
 * 64-byte alignment, each other table 16-byte aligned). Throws a RangeError for an invalid description, one without
 * the ACPI PM block, or tables that overflow the area.
 */
export function buildAcpiTables(
  description: PcFirmwareDescription,
  layout: FirmwareTablesLayout = PC_FIRMWARE_TABLES,
): AcpiTableSet {
  checkFirmwareDescription(description);
  if (description.acpiPm === undefined) {
    throw new RangeError("ACPI tables need the ACPI PM block (the isapc machine has none)");
  }
  const area = layout.acpiTables;
  if (area.start % 64 !== 0) throw new RangeError("the ACPI table area must be 64-byte aligned for the FACS");
  let next = area.start;
  const place = (length: number) => {
    const address = next;
    next = alignTo(next + length, 16);
    if (address + length > area.end) {
      throw new RangeError(
        `the ACPI tables need more than the ${area.end - area.start} bytes at 0x${area.start.toString(16)}`,
      );
    }
    return address;
  };
  const facs: AcpiTable = { signature: "FACS", address: place(FACS_LENGTH), bytes: buildFacs() };
  const dsdtBytes = buildDsdt(description);
  const dsdt: AcpiTable = { signature: "DSDT", address: place(dsdtBytes.length), bytes: dsdtBytes };
  const fadt: AcpiTable = {
    signature: "FACP",
    address: place(FADT_LENGTH),
    bytes: buildFadt(description, facs.address, dsdt.address),
  };
  const madtBytes = buildMadt(description);
  const madt: AcpiTable = { signature: "APIC", address: place(madtBytes.length), bytes: madtBytes };
  const entries = [fadt.address, madt.address];
  const rsdtBytes = buildRsdt(entries);
  const rsdt: AcpiTable = { signature: "RSDT", address: place(rsdtBytes.length), bytes: rsdtBytes };
  const xsdtBytes = buildXsdt(entries);
  const xsdt: AcpiTable = { signature: "XSDT", address: place(xsdtBytes.length), bytes: xsdtBytes };
  const rsdp: AcpiTable = {
    signature: "RSD PTR ",
    address: layout.rsdp,
    bytes: buildRsdp(rsdt.address, xsdt.address),
  };
  return { rsdp, tables: [facs, dsdt, fadt, madt, rsdt, xsdt] };
}

/**
 * Builds the tables and writes them into guest RAM: the tables in `layout.acpiTables`, the RSDP at `layout.rsdp`
 * in the EBDA, and the BIOS data area's EBDA pointer. Checks everything fits in writable RAM before writing.
 */
export function writeAcpiTables(
  memory: GuestMemory,
  description: PcFirmwareDescription,
  layout: FirmwareTablesLayout = PC_FIRMWARE_TABLES,
): AcpiTablesPlacement {
  const set = buildAcpiTables(description, layout);
  const ebdaFirstKib = { start: layout.ebda, end: layout.ebda + 1024 };
  checkTableFits(memory, ebdaFirstKib, set.rsdp.address, RSDP_LENGTH, "RSDP");
  if (set.rsdp.address % 16 !== 0) throw new RangeError("the RSDP must be 16-byte aligned");
  for (const table of set.tables) {
    checkTableFits(memory, layout.acpiTables, table.address, table.bytes.length, table.signature);
  }
  writeEbdaPointer(memory, layout.ebda);
  memory.write(set.rsdp.address, set.rsdp.bytes);
  for (const table of set.tables) memory.write(table.address, table.bytes);
  const last = set.tables[set.tables.length - 1];
  return {
    rsdpAddress: set.rsdp.address,
    tablesRange: { start: set.tables[0].address, end: last.address + last.bytes.length },
    tables: set.tables.map((t) => ({ signature: t.signature, address: t.address, length: t.bytes.length })),
  };
}

function alignTo(value: number, alignment: number): number {
  return Math.ceil(value / alignment) * alignment;
}

/** A table of `length` bytes with its header filled in; finishTable() sets the checksum once the body is written. */
function newTable(
  signature: string,
  length: number,
  revision: number,
): { bytes: Uint8Array; view: DataView } {
  const bytes = new Uint8Array(length);
  const view = new DataView(bytes.buffer);
  writeAscii(bytes, 0, signature, 4);
  view.setUint32(4, length, true);
  bytes[8] = revision;
  writeAscii(bytes, 10, ACPI_OEM_ID, 6);
  writeAscii(bytes, 16, OEM_TABLE_ID_PREFIX + signature, 8);
  view.setUint32(24, OEM_REVISION, true);
  writeAscii(bytes, 28, CREATOR_ID, 4);
  view.setUint32(32, CREATOR_REVISION, true);
  return { bytes, view };
}

function finishTable(bytes: Uint8Array): Uint8Array {
  bytes[9] = 0;
  bytes[9] = checksumByte(bytes);
  return bytes;
}

/** RSDP revision 2 (ACPI 2.0+): both the RSDT and the XSDT, the first 20 bytes and all 36 checksummed. */
export function buildRsdp(rsdtAddress: number, xsdtAddress: number): Uint8Array {
  const bytes = new Uint8Array(RSDP_LENGTH);
  const view = new DataView(bytes.buffer);
  writeAscii(bytes, 0, "RSD PTR ", 8);
  writeAscii(bytes, 9, ACPI_OEM_ID, 6);
  bytes[15] = 2;
  view.setUint32(16, rsdtAddress, true);
  view.setUint32(20, RSDP_LENGTH, true);
  setUint64(view, 24, xsdtAddress);
  bytes[8] = checksumByte(bytes, 0, 20);
  bytes[32] = checksumByte(bytes);
  return bytes;
}

/** RSDT: the header and 32-bit table addresses. */
export function buildRsdt(entries: readonly number[]): Uint8Array {
  const { bytes, view } = newTable("RSDT", HEADER_LENGTH + 4 * entries.length, 1);
  entries.forEach((address, i) => {
    view.setUint32(HEADER_LENGTH + 4 * i, address, true);
  });
  return finishTable(bytes);
}

/** XSDT: the header and 64-bit table addresses. */
export function buildXsdt(entries: readonly number[]): Uint8Array {
  const { bytes, view } = newTable("XSDT", HEADER_LENGTH + 8 * entries.length, 1);
  entries.forEach((address, i) => {
    setUint64(view, HEADER_LENGTH + 8 * i, address);
  });
  return finishTable(bytes);
}

/** FACS (64 bytes, no checksum): version 2, no waking vector yet, global lock free. */
export function buildFacs(): Uint8Array {
  const bytes = new Uint8Array(FACS_LENGTH);
  writeAscii(bytes, 0, "FACS", 4);
  new DataView(bytes.buffer).setUint32(4, FACS_LENGTH, true);
  bytes[32] = 2;
  return bytes;
}

/** DSDT revision 2 (64-bit integers) around the AML from dsdt.ts. */
export function buildDsdt(description: PcFirmwareDescription): Uint8Array {
  const aml = dsdtAml(description);
  const { bytes } = newTable("DSDT", HEADER_LENGTH + aml.length, 2);
  bytes.set(aml, HEADER_LENGTH);
  return finishTable(bytes);
}

/** ACPI's Generic Address Structure address space IDs and access sizes. */
const SYSTEM_IO = 1;
const AccessSize = { Byte: 1, Word: 2, Dword: 3 } as const;

/** A Generic Address Structure for an I/O block of `length` bytes. */
function setIoGas(view: DataView, offset: number, port: number, length: number, accessSize: number): void {
  view.setUint8(offset, SYSTEM_IO);
  view.setUint8(offset + 1, length * 8);
  view.setUint8(offset + 2, 0);
  view.setUint8(offset + 3, accessSize);
  setUint64(view, offset + 4, port);
}

/** FADT revision 6 (ACPI 6.0, 276 bytes) for the AcpiPm block at the description's I/O base. */
export function buildFadt(
  description: PcFirmwareDescription,
  facsAddress: number,
  dsdtAddress: number,
): Uint8Array {
  const pm = description.acpiPm;
  if (pm === undefined) throw new RangeError("the FADT needs the ACPI PM block");
  const { bytes, view } = newTable("FACP", FADT_LENGTH, 6);
  const pm1Event = pm.ioBase + AcpiPmOffset.Pm1Status;
  const pm1Control = pm.ioBase + AcpiPmOffset.Pm1Control;
  const timer = pm.ioBase + AcpiPmOffset.Timer;
  const gpe0 = pm.ioBase + AcpiPmOffset.Gpe0Status;
  const has = (device: string) => description.isaDevices.some((d) => d === device);

  view.setUint32(36, facsAddress, true); // FIRMWARE_CTRL
  view.setUint32(40, dsdtAddress, true); // DSDT
  view.setUint8(45, 0); // Preferred_PM_Profile: unspecified
  view.setUint16(46, pm.sciIrq, true); // SCI_INT
  view.setUint32(48, 0, true); // SMI_CMD: no SMM, ACPI mode only
  view.setUint32(56, pm1Event, true); // PM1a_EVT_BLK
  view.setUint32(64, pm1Control, true); // PM1a_CNT_BLK
  view.setUint32(76, timer, true); // PM_TMR_BLK
  view.setUint32(80, gpe0, true); // GPE0_BLK
  view.setUint8(88, ACPI_PM_BLOCK_LENGTHS.pm1Event); // PM1_EVT_LEN
  view.setUint8(89, ACPI_PM_BLOCK_LENGTHS.pm1Control); // PM1_CNT_LEN
  view.setUint8(91, ACPI_PM_BLOCK_LENGTHS.timer); // PM_TMR_LEN
  view.setUint8(92, ACPI_PM_BLOCK_LENGTHS.gpe0); // GPE0_BLK_LEN
  view.setUint16(96, 0x0fff, true); // P_LVL2_LAT: above 100 means no C2
  view.setUint16(98, 0x0fff, true); // P_LVL3_LAT: above 1000 means no C3
  view.setUint8(108, has("rtc") ? 0x32 : 0); // CENTURY: the CMOS index of the century byte
  let boot = 0;
  if (description.isaDevices.length > 0) boot |= IapcBootFlag.LegacyDevices;
  if (has("keyboard")) boot |= IapcBootFlag.I8042;
  if (!description.vga) boot |= IapcBootFlag.VgaNotPresent;
  if (!has("rtc")) boot |= IapcBootFlag.CmosRtcNotPresent;
  view.setUint16(109, boot, true); // IAPC_BOOT_ARCH
  let flags = FadtFlag.Wbinvd | FadtFlag.ProcC1 | FadtFlag.SleepButton;
  if (ACPI_PM_TIMER_BITS > 24) flags |= FadtFlag.TimerValueExtended;
  const reset = description.resetRegister;
  if (reset !== undefined) {
    flags |= FadtFlag.ResetRegisterSupported;
    setIoGas(view, 116, reset.port, 1, AccessSize.Byte); // RESET_REG
    view.setUint8(128, reset.value); // RESET_VALUE
  }
  view.setUint32(112, flags, true);
  view.setUint8(131, 0); // FADT minor version: ACPI 6.0
  setUint64(view, 132, 0); // X_FIRMWARE_CTRL: zero since FIRMWARE_CTRL is used
  setUint64(view, 140, dsdtAddress); // X_DSDT
  setIoGas(view, 148, pm1Event, ACPI_PM_BLOCK_LENGTHS.pm1Event, AccessSize.Word); // X_PM1a_EVT_BLK
  setIoGas(view, 172, pm1Control, ACPI_PM_BLOCK_LENGTHS.pm1Control, AccessSize.Word); // X_PM1a_CNT_BLK
  setIoGas(view, 208, timer, ACPI_PM_BLOCK_LENGTHS.timer, AccessSize.Dword); // X_PM_TMR_BLK
  setIoGas(view, 220, gpe0, ACPI_PM_BLOCK_LENGTHS.gpe0, AccessSize.Byte); // X_GPE0_BLK
  return finishTable(bytes);
}

const MadtEntry = { LocalApic: 0, IoApic: 1, InterruptSourceOverride: 2, LocalApicNmi: 4 } as const;
/** The MADT flag saying an 8259 pair is present too. */
const PCAT_COMPAT = 1;

/** MADT revision 3: local APICs, the I/O APIC, interrupt source overrides and the LINT1 NMI. */
export function buildMadt(description: PcFirmwareDescription): Uint8Array {
  const ioApic = description.ioApic;
  const overrides = ioApic === undefined ? [] : description.isaInterruptOverrides;
  const length = HEADER_LENGTH + 8 + 8 * description.cpus + (ioApic ? 12 : 0) + 10 * overrides.length + 6;
  const { bytes, view } = newTable("APIC", length, 3);
  view.setUint32(36, description.localApicAddress, true);
  view.setUint32(40, PCAT_COMPAT, true);
  let at = 44;
  for (let cpu = 0; cpu < description.cpus; cpu++) {
    bytes.set([MadtEntry.LocalApic, 8, cpu, cpu], at);
    view.setUint32(at + 4, 1, true); // enabled
    at += 8;
  }
  if (ioApic !== undefined) {
    bytes.set([MadtEntry.IoApic, 12, ioApic.id, 0], at);
    view.setUint32(at + 4, ioApic.address, true);
    view.setUint32(at + 8, ioApic.gsiBase, true);
    at += 12;
  }
  for (const o of overrides) {
    bytes.set([MadtEntry.InterruptSourceOverride, 10, 0 /* ISA */, o.irq], at);
    view.setUint32(at + 4, o.gsi, true);
    view.setUint16(at + 8, mpsIntiFlags(o.polarity, o.trigger), true);
    at += 10;
  }
  // NMI on LINT1 of every processor (UID 0xFF), with the bus's default signalling.
  bytes.set([MadtEntry.LocalApicNmi, 6, 0xff, 0, 0, 1], at);
  return finishTable(bytes);
}

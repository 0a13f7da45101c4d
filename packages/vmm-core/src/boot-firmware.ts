// What firmware leaves behind for an OS, done by the VMM when it boots a kernel without firmware (direct kernel boot):
// the MP table and the ACPI tables from one firmware description, as one recipe step.
import { type AcpiTablesPlacement, writeAcpiTables } from "./acpi-tables.js";
import type { PcFirmwareDescription } from "./firmware-description.js";
import type { Machine } from "./machine.js";
import { type MpTablePlacement, writeMpTable } from "./mp-table.js";

/** Where the tables went. */
export interface FirmwareTablesPlacement {
  mp: MpTablePlacement;
  /** undefined for a machine without ACPI (isapc). */
  acpi: AcpiTablesPlacement | undefined;
}

/**
 * Writes the MP table and, for a machine with the ACPI PM block, the ACPI tables (RSDP, RSDT, XSDT, FADT, FACS, DSDT,
 * MADT) for `description`, now and again after every machine reset (a guest may have written over them). They go
 * where pcE820Map already reports reserved memory (the EBDA and the option-ROM area), so the loaders' memory maps
 * need no change. Register it before the kernel loader's reset handler: the loader reads the RSDP address from here.
 */
export function addFirmwareTables(
  machine: Machine,
  description: PcFirmwareDescription,
): FirmwareTablesPlacement {
  const write = (): FirmwareTablesPlacement => ({
    mp: writeMpTable(machine.vm.memory, description),
    acpi: description.acpiPm !== undefined ? writeAcpiTables(machine.vm.memory, description) : undefined,
  });
  const placement = write();
  machine.addResetHandler(write);
  return placement;
}

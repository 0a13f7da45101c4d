// The pc machine's ACPI PM register block as one recipe step (the tables that point at it: acpi-tables.ts).
import { ACPI_PM_IO_LENGTH, AcpiPm } from "@tsvmm/device-model";
import { PC_ACPI_PM_IO_BASE, PC_SCI_IRQ } from "./firmware-description.js";
import type { Machine } from "./machine.js";

/**
 * device-model's AcpiPm (PIIX4-style PM1 event/control blocks, PM timer, GPE0) at `ioBase` (QEMU's 0x600), counting
 * on the VM's clock, its SCI on ISA IRQ `sciIrq` (9). Its timer is one of the machine's timers; it returns to its
 * power-on state on reset; a guest power-off (SLP_EN with S5) ends the run with "poweroff", as QEMU exits (status 0).
 */
export function attachAcpiPm(machine: Machine, ioBase = PC_ACPI_PM_IO_BASE, sciIrq = PC_SCI_IRQ): AcpiPm {
  const pm = new AcpiPm({
    clock: machine.vm.clock,
    sci: machine.irqs.line(sciIrq),
    onPowerOff: () => machine.requestExit({ kind: "poweroff" }),
  });
  machine.pio.insert(pm, ioBase, ACPI_PM_IO_LENGTH, "acpi-pm (piix4)");
  machine.addTimer(pm);
  machine.addResetHandler(() => pm.reset());
  return pm;
}

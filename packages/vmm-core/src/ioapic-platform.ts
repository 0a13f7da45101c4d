// The pc machine's I/O APIC as one recipe step: on the MMIO bus, fed by the ISA IRQ lines beside the 8259s, its
// messages going to the local APICs as MSIs (KVM_SIGNAL_MSI), and the local APICs' EOIs coming back to it.
import { type ApicInterruptMessage, IOAPIC_WINDOW_SIZE, IoApic } from "@tsvmm/device-model";
import { PC_IO_APIC_ADDRESS } from "./firmware-description.js";
import type { Machine } from "./machine.js";

/** The MSI window: address 0xFEExxxxx, the destination in bits 12-19, bit 2 for a logical destination. */
const MSI_ADDRESS_BASE = 0xfee0_0000;
const MSI_DESTINATION_SHIFT = 12;
const MSI_DESTINATION_LOGICAL = 1 << 2;
/** MSI data: vector in bits 0-7, delivery mode in 8-10, level assert (14) and level-triggered (15). */
const MSI_DELIVERY_MODE_SHIFT = 8;
const MSI_LEVEL_ASSERT = 1 << 14;
const MSI_TRIGGER_LEVEL = 1 << 15;

/**
 * The I/O APIC input an ISA IRQ drives on a PC: its own number, except IRQ 0 (the PIT), which QEMU and PC chipsets
 * wire to input 2 (the MADT's interrupt source override says so), and IRQ 2, the 8259s' cascade, which no device
 * drives and which reaches no input (-1); input 0 stays free.
 */
export function isaIrqIoApicPin(irq: number): number {
  if (irq === 0) return 2;
  return irq === 2 ? -1 : irq;
}

/**
 * An interrupt message as the MSI the local APICs receive: the address names the destination (physical APIC ID or
 * logical set), the data the vector, delivery mode and trigger. The redirection hint stays clear, so the delivery
 * mode is the entry's own.
 */
export function ioApicMessageToMsi(message: ApicInterruptMessage): { address: number; data: number } {
  const address =
    (MSI_ADDRESS_BASE |
      ((message.destination & 0xff) << MSI_DESTINATION_SHIFT) |
      (message.destinationMode !== 0 ? MSI_DESTINATION_LOGICAL : 0)) >>>
    0;
  const data =
    (message.vector & 0xff) |
    ((message.deliveryMode & 7) << MSI_DELIVERY_MODE_SHIFT) |
    MSI_LEVEL_ASSERT |
    (message.trigger !== 0 ? MSI_TRIGGER_LEVEL : 0);
  return { address, data };
}

/**
 * device-model's IoApic at `address` (0xFEC00000), 4 KiB on the MMIO bus. Every ISA IRQ line drives its input
 * (`isaIrqIoApicPin`) as well as the 8259's; each message goes to the local APICs through `vm.signalMsi`, as a VMM
 * with KVM's split irqchip sends its userspace I/O APIC's messages; the local APICs' EOI broadcasts for
 * level-triggered vectors come back as `eoi(vector)`, clearing remote IRR. A halted vCPU the message wakes makes the
 * machine's loop go on. It returns to its power-on state (every entry masked) on reset.
 *
 * ExtINT messages reach no vCPU: the kernel side's local APIC takes 8259 vectors only through LINT0 (the firmware
 * tables give no I/O APIC input an ExtINT route, so Linux never programs one).
 */
export function attachIoApic(machine: Machine, address = PC_IO_APIC_ADDRESS): IoApic {
  const vm = machine.vm;
  const ioApic = new IoApic({
    output: {
      deliver: (message) => {
        const msi = ioApicMessageToMsi(message);
        vm.signalMsi(msi.address, msi.data);
        machine.wake();
      },
    },
  });
  machine.mmio.insert(ioApic, address, IOAPIC_WINDOW_SIZE, "ioapic");
  machine.irqs.onChange((line, asserted) => {
    const pin = isaIrqIoApicPin(line);
    if (pin >= 0) ioApic.setIrq(pin, asserted);
  });
  vm.setLevelTriggeredEoiListener((vector) => ioApic.eoi(vector));
  machine.addResetHandler(() => ioApic.reset());
  return ioApic;
}

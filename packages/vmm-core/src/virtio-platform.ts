// virtio devices on the PC as recipe steps: a virtio-mmio window on the MMIO bus with its own level-triggered ISA IRQ,
// or a virtio-pci function on PCI bus 0 whose MSI-X messages go to the local APICs through the VM (KVM_SIGNAL_MSI)
// and whose INTA# goes through the PIIX3's PIRQ routing. Either way the device reads guest RAM through the VM's
// memory, resets with the machine, and wakes the run loop when it interrupts, so requests that finish on the host
// (a file read, a socket) reach a halted guest.
import type { Pic8259Pair } from "@tsvmm/device-model";
import { VIRTIO_MMIO_SIZE, type VirtioDevice, VirtioMmioTransport, VirtioPciTransport } from "@tsvmm/virtio";
import type { IsaInterruptOverride, PcFirmwareDescription } from "./firmware-description.js";
import { checkFirmwareDescription } from "./firmware-description.js";
import type { Machine } from "./machine.js";
import { PC_LAYOUT } from "./pc-layout.js";
import type { PcPci } from "./pci-platform.js";

/**
 * The ISA IRQs of the virtio-mmio windows, in order: the ones the pc machine leaves free (0 timer, 1 keyboard, 2
 * cascade, 4 COM1, 8 RTC, 9 SCI, 10 and 11 PCI, 12 mouse and 13 FPU are taken). They are level-triggered and active
 * high (virtio-mmio holds its line while InterruptStatus is not 0): marked so in the ELCR for the 8259s and, with
 * direct kernel boot, in the MADT, MP table and DSDT (withVirtioMmioDevices). The 8259s cannot see I/O APIC inputs
 * 16-23, so those stay unused and guests booted with `noapic` or `acpi=off` still get their interrupts.
 */
export const PC_VIRTIO_MMIO_IRQS: readonly number[] = [5, 6, 7, 3, 14, 15];
/** The first PCI slot for devices: 00.0 is the i440FX, 01.0 the PIIX3. */
export const FIRST_PCI_DEVICE_SLOT = 2;
const PCI_SLOTS = 32;

/** Where virtio-mmio window `n` (0-based) of the pc machine goes: its address and ISA IRQ. */
export function pcVirtioMmioPlacement(n: number): { address: number; irq: number } {
  const irq = PC_VIRTIO_MMIO_IRQS[n];
  if (!Number.isInteger(n) || n < 0 || irq === undefined) {
    throw new RangeError(
      `the pc machine has ${PC_VIRTIO_MMIO_IRQS.length} virtio-mmio slots (IRQs), not ${n + 1}`,
    );
  }
  return { address: PC_LAYOUT.virtioMmioBase + n * PC_LAYOUT.virtioMmioStride, irq };
}

/**
 * The kernel parameter with which Linux finds a virtio-mmio device on a machine without a device tree
 * (CONFIG_VIRTIO_MMIO_CMDLINE_DEVICES), as Firecracker passes it: `virtio_mmio.device=512@0xfeb00000:5`.
 */
export function virtioMmioKernelParameter(address: number, irq: number): string {
  return `virtio_mmio.device=${VIRTIO_MMIO_SIZE}@0x${address.toString(16)}:${irq}`;
}

/**
 * A virtio-mmio device: `VIRTIO_MMIO_SIZE` bytes at `address` on the MMIO bus, its interrupt on ISA IRQ `irq`, which
 * is made level-triggered in the ELCR (now and after every reset, after the 8259s' own reset). The transport resets
 * with the machine.
 */
export function attachVirtioMmio(
  machine: Machine,
  pic: Pic8259Pair,
  device: VirtioDevice,
  placement: { address: number; irq: number },
  onError?: (reason: string) => void,
): VirtioMmioTransport {
  const { address, irq } = placement;
  const transport = new VirtioMmioTransport({
    device,
    memory: machine.vm.memory,
    interrupt: machine.irqs.line(irq),
    onError,
  });
  machine.mmio.insert(transport.region, address, VIRTIO_MMIO_SIZE, `virtio-mmio (irq ${irq})`);
  setLevelTriggered(pic, irq);
  machine.addResetHandler(() => {
    transport.reset();
    setLevelTriggered(pic, irq);
  });
  return transport;
}

/**
 * A virtio-pci device in `slot` of PCI bus 0: its MSI-X messages go to the local APICs through `vm.signalMsi` (and
 * wake the run loop), INTA# goes to the PIRQ its slot is swizzled onto, and its BARs are mapped on the buses wherever
 * the guest (or the VMM's firmware step, assignPciBars) puts them. The transport resets with the machine, after the
 * PCI bus.
 */
export function attachVirtioPci(
  machine: Machine,
  pci: PcPci,
  device: VirtioDevice,
  slot: number,
  onError?: (reason: string) => void,
): VirtioPciTransport {
  const vm = machine.vm;
  const transport = new VirtioPciTransport({
    device,
    memory: vm.memory,
    signalMsi: (address, data) => {
      vm.signalMsi(address, data);
      machine.wake();
    },
    onError,
  });
  pci.bus.register(transport.pciFunction, slot);
  machine.addResetHandler(() => transport.reset());
  return transport;
}

/** A virtio device for buildPc: which transport it sits behind. */
export interface PcVirtioDevice {
  device: VirtioDevice;
  transport: "pci" | "mmio";
  /** virtio-pci: its slot on bus 0 (2-31); default the lowest free one. */
  pciSlot?: number;
  /** What the device is called in messages (QEMU's model name, say); default "virtio-<transport>". */
  name?: string;
}

/** Where buildPc put a virtio device. */
export type AttachedVirtioDevice =
  | {
      kind: "mmio";
      name: string;
      device: VirtioDevice;
      transport: VirtioMmioTransport;
      address: number;
      irq: number;
      /** For a Linux command line (appended with direct kernel boot when the kernel does not read the DSDT). */
      kernelParameter: string;
    }
  | { kind: "pci"; name: string; device: VirtioDevice; transport: VirtioPciTransport; slot: number };

/**
 * The pc machine's virtio devices, in order: virtio-mmio ones in windows 0, 1, ... (pcVirtioMmioPlacement), virtio-pci
 * ones in their slot or the lowest free one from 2. `onError(name, reason)` hears why a device needed a reset.
 */
export function attachVirtioDevices(
  machine: Machine,
  pic: Pic8259Pair,
  pci: PcPci | undefined,
  devices: readonly PcVirtioDevice[],
  onError?: (name: string, reason: string) => void,
): AttachedVirtioDevice[] {
  const slots = freePciSlots(pci, devices);
  let mmioWindows = 0;
  return devices.map((entry): AttachedVirtioDevice => {
    if (entry.transport === "mmio") {
      const placement = pcVirtioMmioPlacement(mmioWindows++);
      const name = entry.name ?? "virtio-mmio";
      const transport = attachVirtioMmio(machine, pic, entry.device, placement, (reason) =>
        onError?.(name, reason),
      );
      return {
        kind: "mmio",
        name,
        device: entry.device,
        transport,
        ...placement,
        kernelParameter: virtioMmioKernelParameter(placement.address, placement.irq),
      };
    }
    if (pci === undefined) throw new RangeError("virtio-pci needs a PCI bus (the pc machine)");
    const slot = entry.pciSlot ?? slots.shift();
    if (slot === undefined) throw new RangeError("PCI bus 0 has no free slot left");
    const name = entry.name ?? "virtio-pci";
    const transport = attachVirtioPci(machine, pci, entry.device, slot, (reason) => onError?.(name, reason));
    return { kind: "pci", name, device: entry.device, transport, slot };
  });
}

/**
 * The firmware description with the virtio-mmio transports in it: with ACPI, the DSDT describes each one (an
 * LNRO0005 device with its window and IRQ, as on QEMU's microvm), and with an I/O APIC their IRQs are level-triggered
 * and active high (MADT interrupt source overrides and MP table entries). Unchanged without virtio-mmio devices.
 */
export function withVirtioMmioDevices(
  description: PcFirmwareDescription,
  attached: readonly AttachedVirtioDevice[],
): PcFirmwareDescription {
  const transports = attached.flatMap((a) =>
    a.kind === "mmio" ? [{ address: a.address, size: VIRTIO_MMIO_SIZE, irq: a.irq }] : [],
  );
  if (transports.length === 0) return description;
  const overrides: IsaInterruptOverride[] =
    description.ioApic === undefined
      ? []
      : transports.map(({ irq }) => ({ irq, gsi: irq, polarity: "active-high", trigger: "level" }));
  const result: PcFirmwareDescription = {
    ...description,
    isaInterruptOverrides: [...description.isaInterruptOverrides, ...overrides].sort((a, b) => a.irq - b.irq),
    virtioMmio: description.acpiPm === undefined ? undefined : transports,
  };
  checkFirmwareDescription(result);
  return result;
}

/**
 * Whether a Linux kernel given `cmdline` on a machine with ACPI tables (`machineHasAcpi`) reads the DSDT, and so
 * finds the virtio-mmio devices there: not on isapc, and not with `acpi=off`. Otherwise only virtio_mmio.device= on
 * its command line can tell it (and then a kernel with CONFIG_VIRTIO_MMIO_CMDLINE_DEVICES needs it; giving both would
 * make it probe each device twice).
 */
export function linuxReadsAcpi(cmdline: string, machineHasAcpi: boolean): boolean {
  return machineHasAcpi && !/(^|\s)acpi=off(\s|$)/.test(cmdline);
}

/** The free slots from 2 up, in order, minus the ones devices ask for; a RangeError for a slot taken twice. */
function freePciSlots(pci: PcPci | undefined, devices: readonly PcVirtioDevice[]): number[] {
  const taken = new Set<number>();
  for (const entry of devices) {
    if (entry.transport !== "pci" || entry.pciSlot === undefined) continue;
    const slot = entry.pciSlot;
    if (!Number.isInteger(slot) || slot < FIRST_PCI_DEVICE_SLOT || slot >= PCI_SLOTS || taken.has(slot)) {
      throw new RangeError(`PCI slot ${slot} is not free for a device`);
    }
    taken.add(slot);
  }
  const free: number[] = [];
  for (let slot = FIRST_PCI_DEVICE_SLOT; slot < PCI_SLOTS; slot++) {
    if (!taken.has(slot) && pci?.bus.functionAt(slot, 0) === undefined) free.push(slot);
  }
  return free;
}

function setLevelTriggered(pic: Pic8259Pair, irq: number): void {
  const elcr = new Uint8Array(2);
  pic.elcr.read(0, 0, elcr);
  elcr[irq >> 3] |= 1 << (irq & 7);
  pic.elcr.write(0, 0, elcr);
}

/** `cmdline` with the virtio_mmio.device= parameter of every virtio-mmio device appended. */
export function appendVirtioMmioKernelParameters(
  cmdline: string,
  attached: readonly AttachedVirtioDevice[],
): string {
  const parameters = attached.flatMap((a) => (a.kind === "mmio" ? [a.kernelParameter] : []));
  return [cmdline, ...parameters].filter((part) => part !== "").join(" ");
}

// What the firmware tables (ACPI, MP) say about the machine: one plain description both are generated from, so the
// two can never disagree. pcFirmwareDescription() gives QEMU's choices for its pc and isapc machines.

import { PC_LAYOUT } from "./pc-layout.js";
import type { VirtioMmioDescription } from "./virtio-mmio-aml.js";

/** The polarity of an interrupt input, as MADT and MP table flags encode it ("conforms": the bus's default). */
export type InterruptPolarity = "conforms" | "active-high" | "active-low";
/** The trigger mode of an interrupt input ("conforms": the bus's default, edge for ISA, level for PCI). */
export type InterruptTrigger = "conforms" | "edge" | "level";

/** An ISA IRQ that does not reach the I/O APIC pin of the same number, or not with ISA's edge/high signalling. */
export interface IsaInterruptOverride {
  /** The ISA IRQ (0-15). */
  irq: number;
  /** The global system interrupt it is wired to (gsiBase + I/O APIC input). */
  gsi: number;
  polarity: InterruptPolarity;
  trigger: InterruptTrigger;
}

/** The legacy devices the DSDT can declare (ACPI's PNP IDs), each at its standard ports and IRQs. */
export type PcIsaDevice = "pic" | "pit" | "rtc" | "keyboard" | "mouse" | "speaker" | "com1" | "com2";

export interface IoApicDescription {
  /** The I/O APIC ID (its ID register after reset). */
  id: number;
  /** The version register's low byte. */
  version: number;
  address: number;
  /** The GSI of input 0. */
  gsiBase: number;
  /** Number of inputs (redirection entries). */
  pins: number;
}

export interface PcFirmwareDescription {
  /** QEMU's machine types: "pc" has ACPI and (usually) an I/O APIC, and may have PCI; "isapc" has only the 8259s. */
  machineType: "pc" | "isapc";
  /** Guest RAM below 4 GiB, in bytes: PCI's memory window starts above it. */
  ramBytes: number;
  /** vCPUs, with APIC IDs and ACPI processor UIDs 0 to cpus - 1; CPU 0 boots. */
  cpus: number;
  localApicAddress: number;
  /** The local APIC version register's low byte (the MP table's processor entries carry it). */
  localApicVersion: number;
  /** CPUID leaf 1 EAX (family/model/stepping) and EDX (features), for the MP table's processor entries. */
  cpuSignature: number;
  cpuFeatures: number;
  /** undefined: no I/O APIC (the isapc machine). */
  ioApic: IoApicDescription | undefined;
  /** ISA IRQs wired differently from identity edge/high (MADT interrupt source overrides, MP table entries). */
  isaInterruptOverrides: readonly IsaInterruptOverride[];
  /**
   * PCI bus 0 behind an i440FX host bridge (configuration ports 0xCF8-0xCFF) with a PIIX3 at 00:01.0; undefined: no
   * PCI. Pin INTA#-INTD# of the device in slot s drives PIRQ pciPirq(s, pin) (device-model's i440FX swizzle), which
   * the PIIX3 routes to ISA IRQ pirqIrqs[pirq]: level-triggered, active high (the 8259 and the I/O APIC take inputs
   * as logical requests, as QEMU's tables say), shared, on the same-numbered I/O APIC input.
   */
  pci: { pirqIrqs: readonly [number, number, number, number] } | undefined;
  /** The FADT's reset register (the PIIX3's reset control at 0xCF9, value 6: a hard reset); undefined: none. */
  resetRegister: { port: number; value: number } | undefined;
  /** The ACPI PM register block (device-model's AcpiPm) at `ioBase`, its SCI on ISA IRQ `sciIrq`; undefined: no ACPI. */
  acpiPm: { ioBase: number; sciIrq: number } | undefined;
  /** Legacy devices present, for the DSDT's device objects and the FADT's boot flags. */
  isaDevices: readonly PcIsaDevice[];
  /** A VGA-compatible display decodes the legacy VGA ports and window (the FADT's "VGA not present" flag is clear). */
  vga: boolean;
  /** virtio-mmio transports, which the DSDT describes (LNRO0005 devices, as on QEMU's microvm); needs ACPI. */
  virtioMmio?: readonly VirtioMmioDescription[];
}

export interface PcFirmwareOptions {
  machineType?: "pc" | "isapc";
  ramBytes: number;
  cpus?: number;
  /** Whether the pc machine has its I/O APIC (default true; false until the VMM maps one). */
  ioApic?: boolean;
  /** Whether the machine has the i440FX/PIIX3 PCI bus (default false). Needs machine type "pc". */
  pci?: boolean;
  /** The PIIX3's PIRQA#-D# routes (default 10, 10, 11, 11: what SeaBIOS programs on QEMU). */
  pirqIrqs?: readonly [number, number, number, number];
  /** Default: the PC's motherboard devices (PIC, PIT, RTC, keyboard and mouse, speaker port) and COM1. */
  isaDevices?: readonly PcIsaDevice[];
  vga?: boolean;
}

/** Where QEMU's pc machine puts the ACPI PM block (the PIIX4's PMBA as SeaBIOS programs it). */
export const PC_ACPI_PM_IO_BASE = 0x600;
/** The SCI's ISA IRQ on a PIIX4. */
export const PC_SCI_IRQ = 9;
/** The PIIX3's PIRQ routes SeaBIOS programs on QEMU's pc. */
export const PC_PIRQ_IRQS = [10, 10, 11, 11] as const;
/** The PIIX3's reset control register and the value that resets the machine (RCPU | SRST). */
export const PC_RESET_REGISTER = { port: 0xcf9, value: 0x06 } as const;
/** ISA IRQs a PIIX3 PIRQ route register can select. */
const PIRQ_ROUTABLE_IRQS: ReadonlySet<number> = new Set([3, 4, 5, 6, 7, 9, 10, 11, 12, 14, 15]);
export const PC_LOCAL_APIC_ADDRESS = 0xfee00000;
export const PC_IO_APIC_ADDRESS = 0xfec00000;

const DEFAULT_ISA_DEVICES: readonly PcIsaDevice[] = [
  "pic",
  "pit",
  "rtc",
  "keyboard",
  "mouse",
  "speaker",
  "com1",
];

/**
 * QEMU's firmware view of its pc machine: one I/O APIC (ID 0, version 0x20, 24 inputs at 0xFEC00000, GSI base 0),
 * IRQ 0 on GSI 2, the SCI (IRQ 9) and the PCI IRQs level-triggered active high, the ACPI PM block at 0x600, and
 * with PCI the PIIX3's reset register; or of its isapc machine: the 8259 pair only, no ACPI. CPUs report family 6
 * with an FPU and a local APIC.
 */
export function pcFirmwareDescription(options: PcFirmwareOptions): PcFirmwareDescription {
  const machineType = options.machineType ?? "pc";
  const pc = machineType === "pc";
  const pirqIrqs = options.pirqIrqs ?? PC_PIRQ_IRQS;
  const hasIoApic = pc && (options.ioApic ?? true);
  const levelIrqs = [PC_SCI_IRQ, ...(options.pci ? pirqIrqs : [])];
  const description: PcFirmwareDescription = {
    machineType,
    ramBytes: options.ramBytes,
    cpus: options.cpus ?? 1,
    localApicAddress: PC_LOCAL_APIC_ADDRESS,
    localApicVersion: 0x14,
    cpuSignature: 0x0600,
    cpuFeatures: 0x0201, // FPU, APIC
    ioApic: hasIoApic
      ? { id: 0, version: 0x20, address: PC_IO_APIC_ADDRESS, gsiBase: 0, pins: 24 }
      : undefined,
    isaInterruptOverrides: hasIoApic
      ? [
          { irq: 0, gsi: 2, polarity: "active-high", trigger: "edge" },
          ...[...new Set(levelIrqs)]
            .sort((a, b) => a - b)
            .map(
              (irq): IsaInterruptOverride => ({ irq, gsi: irq, polarity: "active-high", trigger: "level" }),
            ),
        ]
      : [],
    pci: options.pci ? { pirqIrqs } : undefined,
    resetRegister: options.pci ? PC_RESET_REGISTER : undefined,
    acpiPm: pc ? { ioBase: PC_ACPI_PM_IO_BASE, sciIrq: PC_SCI_IRQ } : undefined,
    isaDevices: options.isaDevices ?? DEFAULT_ISA_DEVICES,
    vga: options.vga ?? false,
  };
  checkFirmwareDescription(description);
  return description;
}

/** The MPS INTI flags of MADT overrides and MP table entries: polarity in bits 0-1, trigger mode in bits 2-3. */
export function mpsIntiFlags(polarity: InterruptPolarity, trigger: InterruptTrigger): number {
  const po = polarity === "active-high" ? 1 : polarity === "active-low" ? 3 : 0;
  const el = trigger === "edge" ? 1 : trigger === "level" ? 3 : 0;
  return po | (el << 2);
}

/** The GSI an ISA IRQ reaches on the I/O APIC: its override's, else the input of the same number. */
export function isaIrqGsi(d: PcFirmwareDescription, irq: number): number {
  const override = d.isaInterruptOverrides.find((o) => o.irq === irq);
  return override?.gsi ?? (d.ioApic?.gsiBase ?? 0) + irq;
}

const ISA_DEVICE_NAMES: ReadonlySet<string> = new Set<PcIsaDevice>([
  "pic",
  "pit",
  "rtc",
  "keyboard",
  "mouse",
  "speaker",
  "com1",
  "com2",
]);

function check(condition: boolean, message: string): void {
  if (!condition) throw new RangeError(`firmware description: ${message}`);
}

function isIntegerIn(value: unknown, min: number, max: number): boolean {
  return typeof value === "number" && Number.isInteger(value) && value >= min && value <= max;
}

/**
 * Throws a RangeError naming the first inconsistency: values out of their fields' ranges, GSIs the I/O APIC does
 * not have, overrides or PCI without an I/O APIC, duplicate IRQs or devices.
 */
export function checkFirmwareDescription(d: PcFirmwareDescription): void {
  check(d.machineType === "pc" || d.machineType === "isapc", `unknown machine type ${String(d.machineType)}`);
  check(
    isIntegerIn(d.ramBytes, PC_LAYOUT.minimumRam, PC_LAYOUT.maximumRam),
    `RAM must be ${PC_LAYOUT.minimumRam} to ${PC_LAYOUT.maximumRam} bytes, got ${d.ramBytes}`,
  );
  // APIC IDs are 8 bits and 0xFF is the broadcast ID.
  check(isIntegerIn(d.cpus, 1, 255), `CPU count must be 1 to 255, got ${d.cpus}`);
  check(
    isIntegerIn(d.localApicAddress, 0, 0xfffff000) && d.localApicAddress % 0x1000 === 0,
    "the local APIC address must be a 4 KiB-aligned 32-bit address",
  );
  check(isIntegerIn(d.localApicVersion, 0, 0xff), "the local APIC version is one byte");
  check(isIntegerIn(d.cpuSignature, 0, 0xffffffff), "the CPU signature is 32 bits");
  check(isIntegerIn(d.cpuFeatures, 0, 0xffffffff), "the CPU feature flags are 32 bits");
  const ioApic = d.ioApic;
  if (ioApic !== undefined) {
    check(isIntegerIn(ioApic.id, 0, 254), `I/O APIC ID must be 0-254, got ${ioApic.id}`);
    check(isIntegerIn(ioApic.version, 0, 0xff), "the I/O APIC version is one byte");
    check(
      isIntegerIn(ioApic.address, 0, 0xfffffc00) && ioApic.address % 0x400 === 0,
      "the I/O APIC address must be a 1 KiB-aligned 32-bit address",
    );
    check(isIntegerIn(ioApic.gsiBase, 0, 0xffff), `bad I/O APIC GSI base ${ioApic.gsiBase}`);
    check(isIntegerIn(ioApic.pins, 1, 240), `I/O APIC inputs must be 1-240, got ${ioApic.pins}`);
  }
  const hasGsi = (gsi: number) =>
    ioApic !== undefined && isIntegerIn(gsi, ioApic.gsiBase, ioApic.gsiBase + ioApic.pins - 1);
  const irqs = new Set<number>();
  for (const o of d.isaInterruptOverrides) {
    check(ioApic !== undefined, "interrupt source overrides need an I/O APIC");
    check(isIntegerIn(o.irq, 0, 15), `override of a non-ISA IRQ ${o.irq}`);
    check(!irqs.has(o.irq), `IRQ ${o.irq} is overridden twice`);
    irqs.add(o.irq);
    check(hasGsi(o.gsi), `IRQ ${o.irq} is routed to GSI ${o.gsi}, which the I/O APIC does not have`);
    check(["conforms", "active-high", "active-low"].includes(o.polarity), `bad polarity for IRQ ${o.irq}`);
    check(["conforms", "edge", "level"].includes(o.trigger), `bad trigger mode for IRQ ${o.irq}`);
  }
  if (d.pci !== undefined) {
    check(d.machineType === "pc", "PCI needs the pc machine");
    check(d.pci.pirqIrqs.length === 4, "PCI needs the four PIRQ routes");
    for (const irq of d.pci.pirqIrqs) {
      check(PIRQ_ROUTABLE_IRQS.has(irq), `a PIRQ cannot be routed to IRQ ${irq}`);
      if (ioApic !== undefined) check(hasGsi(irq), `PCI IRQ ${irq} is not an I/O APIC input`);
    }
  }
  if (d.acpiPm !== undefined) {
    check(isIntegerIn(d.acpiPm.ioBase, 0x100, 0xfff0), `ACPI PM I/O base out of range: ${d.acpiPm.ioBase}`);
    check(isIntegerIn(d.acpiPm.sciIrq, 0, 15), `the SCI must be an ISA IRQ, got ${d.acpiPm.sciIrq}`);
  }
  if (d.resetRegister !== undefined) {
    check(isIntegerIn(d.resetRegister.port, 0, 0xffff), `bad reset register port ${d.resetRegister.port}`);
    check(isIntegerIn(d.resetRegister.value, 0, 0xff), `bad reset value ${d.resetRegister.value}`);
  }
  const devices = new Set<string>();
  for (const device of d.isaDevices) {
    check(ISA_DEVICE_NAMES.has(device), `unknown ISA device ${String(device)}`);
    check(!devices.has(device), `ISA device ${device} listed twice`);
    devices.add(device);
  }
  check(typeof d.vga === "boolean", "vga must be true or false");
  for (const t of d.virtioMmio ?? []) {
    check(d.acpiPm !== undefined, "virtio-mmio transports are described by ACPI, which the machine lacks");
    check(
      isIntegerIn(t.address, 0, 0xffffffff) && isIntegerIn(t.size, 1, 0x100000000 - t.address),
      `bad virtio-mmio window 0x${Number(t.address).toString(16)}`,
    );
    check(isIntegerIn(t.irq, 0, 15), `a virtio-mmio transport's IRQ must be an ISA IRQ, got ${t.irq}`);
  }
}

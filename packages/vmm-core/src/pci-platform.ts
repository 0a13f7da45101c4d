// The pc machine's PCI bus 0 as one recipe step: configuration mechanism #1 with the i440FX host bridge at 00:00.0,
// the PIIX3 ISA bridge at 00:01.0 (PIRQ routing, the reset control register), and BARs moved on the buses as the
// guest programs them.
import {
  type BusDevice,
  type PciBarMappingChange,
  PciBus,
  PciHostBridge,
  type Pic8259Pair,
  Piix3IsaBridge,
} from "@tsvmm/device-model";
import type { Bus } from "./bus.js";
import type { Machine } from "./machine.js";

/** Configuration mechanism #1: CONFIG_ADDRESS at 0xCF8, CONFIG_DATA at 0xCFC, 4 ports each. */
export const PCI_CONFIG_ADDRESS_PORT = 0xcf8;
export const PCI_CONFIG_DATA_PORT = 0xcfc;
/** The PIIX3's slot on bus 0 (function 0: the ISA bridge). */
export const PIIX3_SLOT = 1;
/** The PIIX3's PIRQ route control registers PIRQRCA-D in its configuration space. */
const PIIX3_PIRQ_ROUTE_REGISTER = 0x60;

/** The PCI side of a pc machine, for front ends and tests. */
export interface PcPci {
  readonly bus: PciBus;
  readonly hostBridge: PciHostBridge;
  readonly isaBridge: Piix3IsaBridge;
}

/**
 * Keeps the buses in step with the functions' BARs: a region leaves its old address and appears at its new one, on
 * the PIO bus for I/O BARs and the MMIO bus for memory BARs. A BAR the guest places over a device already on the bus
 * stays unreachable (the device there wins) until it moves again, and one over guest RAM is shadowed by the RAM
 * (only accesses RAM does not take reach the MMIO bus); nothing the guest writes can throw.
 */
export class PciBarMapper {
  /** What this mapper inserted, per bus and base, so a move removes only its own region. */
  private readonly mapped = new Map<Bus, Map<number, BusDevice>>();
  /** BARs the guest placed where another device already was. */
  collisions = 0;

  constructor(
    private readonly pio: Bus,
    private readonly mmio: Bus,
  ) {}

  apply(change: PciBarMappingChange): void {
    const { bar, oldAddress, newAddress } = change;
    const bus = bar.kind === "io" ? this.pio : this.mmio;
    let regions = this.mapped.get(bus);
    if (regions === undefined) {
      regions = new Map();
      this.mapped.set(bus, regions);
    }
    if (oldAddress !== undefined && regions.get(oldAddress) === bar.region) {
      bus.remove(oldAddress);
      regions.delete(oldAddress);
    }
    if (newAddress === undefined) return;
    const name = `pci ${hex2(change.device)}.${change.functionNumber} bar ${bar.index}`;
    if (!bus.isFree(newAddress, bar.size)) {
      this.collisions++;
      return;
    }
    bus.insert(bar.region, newAddress, bar.size, name);
    regions.set(newAddress, bar.region);
  }
}

function hex2(value: number): string {
  return value.toString(16).padStart(2, "0");
}

/**
 * PCI bus 0 of QEMU's pc machine: `PciHostBridge` (the i440FX at 00:00.0) on ports 0xCF8-0xCFF, `Piix3IsaBridge` at
 * 00:01.0 whose PIRQ routes drive the machine's ISA IRQ lines (so the 8259s and the I/O APIC see PCI interrupts) and
 * whose reset control register (0xCF9) resets the machine, and BAR mappings applied to the PIO and MMIO buses. The
 * PIRQ routes start as the chip's reset value (not routed): firmware programs them (`programPciInterruptRouting`).
 * Every function returns to its reset state with the machine.
 */
export function attachPciBus(machine: Machine): PcPci {
  const isaBridge = new Piix3IsaBridge({
    irqLine: (irq) => machine.irqs.line(irq),
    onReset: () => machine.requestReset(),
  });
  const mapper = new PciBarMapper(machine.pio, machine.mmio);
  const bus = new PciBus({
    pirqLines: [0, 1, 2, 3].map((pirq) => isaBridge.pirqLine(pirq)),
    onBarMapping: (change) => mapper.apply(change),
  });
  const hostBridge = new PciHostBridge({ bus, resetControl: isaBridge.resetControl });
  bus.register(isaBridge.pciFunction, PIIX3_SLOT);
  machine.pio.insert(hostBridge.configAddress, PCI_CONFIG_ADDRESS_PORT, 4, "pci config address (i440fx)");
  machine.pio.insert(hostBridge.configData, PCI_CONFIG_DATA_PORT, 4, "pci config data (i440fx)");
  machine.addResetHandler(() => {
    hostBridge.reset();
    isaBridge.reset();
    bus.reset();
  });
  return { bus, hostBridge, isaBridge };
}

/**
 * What SeaBIOS leaves behind for an OS on QEMU's pc, done by the VMM when it boots a kernel without firmware: the
 * PIIX3's PIRQA#-D# routed to `pirqIrqs` (10, 10, 11, 11), those IRQs level-triggered in the ELCR (PCI interrupts
 * are shared, level, active high), and every function's interrupt line register naming its routed IRQ.
 */
export function programPciInterruptRouting(
  pci: PcPci,
  pic: Pic8259Pair,
  pirqIrqs: readonly [number, number, number, number],
): void {
  const data = new Uint8Array(1);
  pirqIrqs.forEach((irq, pirq) => {
    data[0] = irq;
    pci.bus.writeConfig(PIIX3_SLOT, 0, PIIX3_PIRQ_ROUTE_REGISTER + pirq, data);
  });
  const elcr = new Uint8Array(2);
  pic.elcr.read(0, 0, elcr);
  for (const irq of pirqIrqs) elcr[irq >> 3] |= 1 << (irq & 7);
  pic.elcr.write(0, 0, elcr);
  pci.bus.assignInterruptLines((pirq) => pci.isaBridge.routeOf(pirq));
}

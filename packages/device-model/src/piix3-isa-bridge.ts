// The PCI-to-ISA bridge of a PIIX3 (Intel 82371SB function 0), as at 00:01.0 of QEMU's pc machine: its PCI
// identity, the PIRQ route control registers that connect PCI interrupts to ISA IRQs, and the reset control
// register at port 0xcf9.

import type { BusDevice } from "./bus-device.js";
import { PciFunction } from "./pci-function.js";
import { PciClass, PciCommand, PciStatus, PciVendor } from "./pci-registers.js";
import type { Trigger } from "./trigger.js";

export interface Piix3IsaBridgeOptions {
  /** The wire of ISA IRQ `irq`; called once, at construction, for each IRQ a PIRQ can be routed to. */
  irqLine: (irq: number) => Trigger;
  /**
   * PIRQRC[A-D] (config 0x60-0x63) after reset: bit 7 set = not routed, bits 0-3 = the ISA IRQ. Default 0x80 for
   * each, the chip's reset value; firmware then routes them (SeaBIOS on QEMU: 10, 10, 11, 11). A VMM that boots a
   * kernel without firmware passes the routing it describes to the guest here.
   */
  pirqRoutes?: readonly number[];
  /** A reset through the reset control register: "hard" (system reset, SRST set) or "soft" (CPU INIT). */
  onReset?: (kind: "hard" | "soft") => void;
}

/** Snapshot of a Piix3IsaBridge (plain, JSON-serialisable); its configuration is part of the PciBus state. */
export interface Piix3IsaBridgeState {
  /** The reset control register (bit 1, SRST). */
  resetControl: number;
}

/** Intel 82371SB PIIX3 function 0, the PCI-to-ISA bridge. */
export const PIIX3_ISA_DEVICE_ID = 0x7000;
/** Configuration offset of PIRQRC[A]; B-D follow. */
export const PIIX3_PIRQ_ROUTE = 0x60;
/** PIRQRC bit 7: the PIRQ line is not routed. */
export const PIIX3_PIRQ_DISABLED = 0x80;

/** Reset control register bits (port 0xcf9). */
export const ResetControl = {
  /** SRST: the reset RCPU starts is a full system reset (hard) rather than a CPU INIT (soft). */
  SystemReset: 0x02,
  /** RCPU: writing 1 starts the reset. Not stored. */
  ResetCpu: 0x04,
} as const;

/** IRQs PIRQRC can select (datasheet: 3-7, 9-12, 14, 15; other encodings are reserved and route nowhere). */
const ROUTABLE_IRQS = 0xdef8;
const PIRQS = 4;

/**
 * PIIX3 PCI-to-ISA bridge: register `pciFunction` at 00:01.0, give `pirqLine(0..3)` to the PciBus as its PIRQ
 * lines, map `resetControl` at port 0xcf9 (through PciHostBridge's resetControl option: it sits inside
 * CONFIG_ADDRESS's ports).
 *
 * - PIRQRC[A-D] at config 0x60-0x63 (bits 7 and 0-3 writable, 4-6 read 0): while PIRQ n is asserted, the ISA IRQ
 *   its register names is asserted (wired-OR: an IRQ stays asserted while any PIRQ routed to it is). Route
 *   changes take effect at once. Reserved IRQ encodings and bit 7 route nowhere.
 * - Reset control (0xcf9): a write with RCPU (bit 2) set calls onReset, "hard" if the same write sets SRST (bit 1);
 *   SRST is stored and read back, the other bits read 0.
 * - The identity is 8086:7000, class 0x060100, command 0x0007, DEVSEL medium. The chip's other registers (ISA
 *   clocks, top of memory, motherboard IRQ/DMA routing, APIC base, SMI) are not modelled and read 0.
 */
export class Piix3IsaBridge {
  readonly pciFunction: PciFunction;
  /** The reset control register (one port at 0xcf9). */
  readonly resetControl: BusDevice;
  private readonly irqLines: (Trigger | undefined)[] = new Array(16).fill(undefined);
  private readonly pirqs: Trigger[] = [];
  private readonly onReset: ((kind: "hard" | "soft") => void) | undefined;
  private pirqLevels = 0;
  /** ISA IRQs this bridge asserts now, bit n = IRQ n. */
  private assertedIrqs = 0;
  private resetControlValue = 0;

  constructor(options: Piix3IsaBridgeOptions) {
    this.onReset = options.onReset;
    for (let irq = 0; irq < 16; irq++) {
      if (((ROUTABLE_IRQS >> irq) & 1) !== 0) this.irqLines[irq] = options.irqLine(irq);
    }
    this.pciFunction = new PciFunction({
      vendorId: PciVendor.Intel,
      deviceId: PIIX3_ISA_DEVICE_ID,
      classCode: PciClass.IsaBridge,
      command: PciCommand.IoSpace | PciCommand.MemorySpace | PciCommand.BusMaster,
      status: PciStatus.DevselMedium,
      onConfigWrite: (offset, length) => {
        if (offset < PIIX3_PIRQ_ROUTE + PIRQS && offset + length > PIIX3_PIRQ_ROUTE) this.updateIrqs();
      },
    });
    const routes = options.pirqRoutes ?? [];
    for (let pirq = 0; pirq < PIRQS; pirq++) {
      const route = routes[pirq];
      this.pciFunction.defineRegister(PIIX3_PIRQ_ROUTE + pirq, 1, {
        value: typeof route === "number" ? route & 0x8f : PIIX3_PIRQ_DISABLED,
        writable: 0x8f,
      });
      this.pirqs.push({ set: (asserted) => this.setPirq(pirq, asserted) });
    }
    this.resetControl = {
      read: (_base, _offset, data) => {
        data.fill(0);
        if (data.length > 0) data[0] = this.resetControlValue;
      },
      write: (_base, _offset, data) => {
        if (data.length > 0) this.writeResetControl(data[0]);
      },
    };
  }

  /** The Trigger of PIRQ line `pirq` (0-3 for PIRQA#-PIRQD#; a RangeError for others, at wiring time). */
  pirqLine(pirq: number): Trigger {
    const line = this.pirqs[pirq];
    if (line === undefined) throw new RangeError(`no PIRQ line ${pirq}`);
    return line;
  }

  /** The ISA IRQ PIRQ line `pirq` (0-3) is routed to now, or undefined. */
  routeOf(pirq: number): number | undefined {
    if (!(pirq >= 0 && pirq < PIRQS)) return undefined;
    const route = this.pciFunction.config.byte(PIIX3_PIRQ_ROUTE + pirq);
    const irq = route & 0x0f;
    return (route & PIIX3_PIRQ_DISABLED) === 0 && ((ROUTABLE_IRQS >> irq) & 1) !== 0 ? irq : undefined;
  }

  /** Reset: the reset control register returns to 0 (the PCI configuration resets with the bus). */
  reset(): void {
    this.resetControlValue = 0;
  }

  getState(): Piix3IsaBridgeState {
    return { resetControl: this.resetControlValue };
  }

  setState(state: Piix3IsaBridgeState): void {
    const value = state !== null && typeof state === "object" ? state.resetControl : undefined;
    this.resetControlValue = typeof value === "number" ? value & ResetControl.SystemReset : 0;
  }

  private setPirq(pirq: number, asserted: boolean): void {
    const bit = 1 << pirq;
    this.pirqLevels = asserted ? this.pirqLevels | bit : this.pirqLevels & ~bit;
    this.updateIrqs();
  }

  /** Drives every ISA IRQ to the OR of the PIRQ lines routed to it. */
  private updateIrqs(): void {
    let wanted = 0;
    for (let pirq = 0; pirq < PIRQS; pirq++) {
      if ((this.pirqLevels & (1 << pirq)) === 0) continue;
      const irq = this.routeOf(pirq);
      if (irq !== undefined) wanted |= 1 << irq;
    }
    const changed = wanted ^ this.assertedIrqs;
    if (changed === 0) return;
    this.assertedIrqs = wanted;
    // Lower first, so a PIRQ moving from one IRQ to another never shows on both at once.
    for (let irq = 0; irq < 16; irq++) {
      if ((changed & (1 << irq)) !== 0 && (wanted & (1 << irq)) === 0) this.irqLines[irq]?.set(false);
    }
    for (let irq = 0; irq < 16; irq++) {
      if ((changed & wanted & (1 << irq)) !== 0) this.irqLines[irq]?.set(true);
    }
  }

  private writeResetControl(value: number): void {
    this.resetControlValue = value & ResetControl.SystemReset;
    if ((value & ResetControl.ResetCpu) !== 0) {
      this.onReset?.((value & ResetControl.SystemReset) !== 0 ? "hard" : "soft");
    }
  }
}

// PCI bus 0: the functions registered in its 32 device slots, configuration cycles routed to them, INTx# pins
// swizzled onto the four PIRQ lines, and BAR moves reported to the VMM.

import type { PciBarDefinition } from "./pci-bar.js";
import type { PciFunction, PciFunctionLink, PciFunctionState } from "./pci-function.js";
import { PciConfig } from "./pci-registers.js";
import type { Trigger } from "./trigger.js";

/** A BAR whose decoded address changed: unmap `oldAddress` (if any), map `bar.region` at `newAddress` (if any). */
export interface PciBarMappingChange {
  device: number;
  functionNumber: number;
  pciFunction: PciFunction;
  /** The BAR: index, kind (memory32/memory64: the MMIO bus; io: the PIO bus), size and region. */
  bar: PciBarDefinition;
  oldAddress: number | undefined;
  newAddress: number | undefined;
}

export interface PciBusOptions {
  /**
   * PIRQA#-PIRQD#, the four shared interrupt lines the slots' INTx# pins are swizzled onto (see pciPirq). Each is
   * asserted while any function on it asserts its pin. Typically Piix3IsaBridge.pirqLine(n), which routes them to
   * ISA IRQs; any other Trigger gives a fixed map (e.g. I/O APIC inputs 16-19).
   */
  pirqLines?: readonly Trigger[];
  /** Told whenever a BAR starts, stops or moves decoding (guest BAR writes, command register, reset, restore). */
  onBarMapping?: (change: PciBarMappingChange) => void;
}

/** Snapshot of a PciBus (plain, JSON-serialisable): the functions' states keyed by "dd.f" (hex, e.g. "01.0"). */
export interface PciBusState {
  functions: Record<string, PciFunctionState>;
}

const DEVICES = 32;
const FUNCTIONS = 8;
const PIRQS = 4;

/**
 * The PIRQ line (0-3 for PIRQA#-PIRQD#) that INTx# pin `pin` (1-4 for INTA#-INTD#) of device slot `device` is wired
 * to: (device + pin - 2) mod 4, the swizzle of QEMU's i440FX/PIIX3 board. Slot 1 INTA# is PIRQA#, slot 2 INTA# is
 * PIRQB#, slot 3 INTA# is PIRQC#, slot 4 INTA# is PIRQD#, slot 5 INTA# is PIRQA# again; slot 1 INTB# is PIRQB#.
 */
export function pciPirq(device: number, pin: number): number {
  return (device + pin - 2) & 3;
}

/**
 * PCI bus 0. Devices register functions at device 0-31, function 0-7. A configuration access to an absent
 * function reads all ones (a master abort) and its writes are dropped. The header type's multi-function bit is
 * set on every function of a device that has more than one (guests look past function 0 only then).
 */
export class PciBus {
  private readonly functions: (PciFunction | undefined)[] = new Array(DEVICES * FUNCTIONS).fill(undefined);
  private readonly pirqLines: readonly (Trigger | undefined)[];
  private readonly pirqCounts = new Int32Array(PIRQS);
  private readonly onBarMapping: ((change: PciBarMappingChange) => void) | undefined;

  constructor(options: PciBusOptions = {}) {
    const lines = options.pirqLines ?? [];
    if (lines.length !== 0 && lines.length !== PIRQS) throw new RangeError("pirqLines needs 4 Triggers");
    this.pirqLines = lines;
    this.onBarMapping = options.onBarMapping;
  }

  /**
   * Puts `pciFunction` at `device`.`functionNumber` (a RangeError for a bad or taken slot, at wiring time). BARs
   * it already decodes and an INTx# it already asserts are reported at once.
   */
  register(pciFunction: PciFunction, device: number, functionNumber = 0): void {
    if (!isSlot(device, functionNumber)) throw new RangeError(`no PCI slot ${device}.${functionNumber}`);
    const devfn = device * FUNCTIONS + functionNumber;
    if (this.functions[devfn] !== undefined)
      throw new RangeError(`PCI slot ${slotName(device, functionNumber)} is taken`);
    if (this.functions.includes(pciFunction)) throw new RangeError("this PCI function is already registered");
    this.functions[devfn] = pciFunction;
    const bus = this;
    const link: PciFunctionLink = {
      interruptChanged(_fn, asserted) {
        bus.interruptChanged(device, pciFunction.interruptPin, asserted);
      },
      barMoved(fn, bar, oldAddress, newAddress) {
        bus.onBarMapping?.({
          device,
          functionNumber,
          pciFunction: fn,
          bar,
          oldAddress: oldAddress < 0 ? undefined : oldAddress,
          newAddress: newAddress < 0 ? undefined : newAddress,
        });
      },
    };
    pciFunction.attach(link);
    this.updateMultiFunction(device);
  }

  /** The function at `device`.`functionNumber`, or undefined. */
  functionAt(device: number, functionNumber: number): PciFunction | undefined {
    return isSlot(device, functionNumber) ? this.functions[device * FUNCTIONS + functionNumber] : undefined;
  }

  /**
   * A configuration read of data.length bytes at `offset` (0-255). Returns false, with data all ones, when no
   * function answers.
   */
  readConfig(device: number, functionNumber: number, offset: number, data: Uint8Array): boolean {
    const target = this.functionAt(device, functionNumber);
    if (target === undefined) {
      data.fill(0xff);
      return false;
    }
    target.readConfig(offset, data);
    return true;
  }

  /** A configuration write; returns false (and drops it) when no function answers. */
  writeConfig(device: number, functionNumber: number, offset: number, data: Uint8Array): boolean {
    const target = this.functionAt(device, functionNumber);
    if (target === undefined) return false;
    target.writeConfig(offset, data);
    return true;
  }

  /** Whether PIRQ line `pirq` (0-3) is asserted by some function. */
  pirqAsserted(pirq: number): boolean {
    return (this.pirqCounts[pirq] ?? 0) > 0;
  }

  /**
   * What firmware does after routing the PIRQ lines: writes each function's interrupt line register with the IRQ
   * its pin reaches (`irqForPirq(pirq)`), or 0xff (unknown) where that is undefined. Functions without a pin keep 0.
   */
  assignInterruptLines(irqForPirq: (pirq: number) => number | undefined): void {
    const data = new Uint8Array(1);
    this.forEachFunction((fn, device) => {
      if (fn.interruptPin === 0) return;
      const irq = irqForPirq(pciPirq(device, fn.interruptPin));
      data[0] = irq === undefined ? 0xff : irq;
      fn.writeConfig(PciConfig.InterruptLine, data);
    });
  }

  /** RST# on the bus: every function's configuration returns to its reset values (BAR decoding stops). */
  reset(): void {
    this.forEachFunction((fn) => fn.reset());
  }

  getState(): PciBusState {
    const functions: Record<string, PciFunctionState> = {};
    this.forEachFunction((fn, device, functionNumber) => {
      functions[slotName(device, functionNumber)] = fn.getState();
    });
    return { functions };
  }

  /** Restores the functions found in the snapshot (by slot); functions it does not name are left as they are. */
  setState(state: PciBusState): void {
    const s: Partial<PciBusState> = state !== null && typeof state === "object" ? state : {};
    const functions = s.functions !== null && typeof s.functions === "object" ? s.functions : {};
    this.forEachFunction((fn, device, functionNumber) => {
      const name = slotName(device, functionNumber);
      if (Object.hasOwn(functions, name)) fn.setState(functions[name]);
    });
  }

  private interruptChanged(device: number, pin: number, asserted: boolean): void {
    const pirq = pciPirq(device, pin);
    const before = this.pirqCounts[pirq];
    const after = before + (asserted ? 1 : -1);
    this.pirqCounts[pirq] = after;
    if (before > 0 !== after > 0) this.pirqLines[pirq]?.set(after > 0);
  }

  private updateMultiFunction(device: number): void {
    let count = 0;
    for (let f = 0; f < FUNCTIONS; f++) if (this.functions[device * FUNCTIONS + f] !== undefined) count++;
    for (let f = 0; f < FUNCTIONS; f++) this.functions[device * FUNCTIONS + f]?.setMultiFunction(count > 1);
  }

  private forEachFunction(visit: (fn: PciFunction, device: number, functionNumber: number) => void): void {
    for (let devfn = 0; devfn < DEVICES * FUNCTIONS; devfn++) {
      const fn = this.functions[devfn];
      if (fn !== undefined) visit(fn, devfn >> 3, devfn & 7);
    }
  }
}

function isSlot(device: number, functionNumber: number): boolean {
  return (
    Number.isInteger(device) &&
    Number.isInteger(functionNumber) &&
    device >= 0 &&
    device < DEVICES &&
    functionNumber >= 0 &&
    functionNumber < FUNCTIONS
  );
}

function slotName(device: number, functionNumber: number): string {
  return `${device.toString(16).padStart(2, "0")}.${functionNumber}`;
}

import type { Lapic } from "./lapic.js";
import {
  DELIVERY_LOWEST_PRIORITY,
  ICR_DESTINATION_LOGICAL,
  LVT_LEVEL_TRIGGER,
  SHORTHAND_ALL_EXCLUDING_SELF,
  SHORTHAND_NONE,
  SHORTHAND_SELF,
} from "./lapic-registers.js";

/** MSI addresses are 0xFEExxxxx: destination ID in bits 12-19, redirection hint bit 3, logical bit 2. */
const MSI_ADDRESS_MASK = 0xfff0_0000;
const MSI_ADDRESS_BASE = 0xfee0_0000;
const MSI_REDIRECTION_HINT = 1 << 3;
const MSI_DESTINATION_LOGICAL = 1 << 2;

/**
 * The interrupt bus between the local APICs of one VM (the APIC bus of the P6, the system bus of
 * later CPUs): it delivers interrupt messages, whether an APIC's ICR sent them or a device did as an
 * MSI (the IOAPIC sends MSIs too), to the APICs their destination names. Delivery is immediate:
 * the ICR's delivery-status bit never reads busy.
 */
export class ApicBus {
  private readonly lapics: Lapic[] = [];

  attach(lapic: Lapic): void {
    this.lapics.push(lapic);
  }

  /**
   * Delivers an ICR-format message (`icrLow`: vector, delivery mode, destination mode, level,
   * trigger, shorthand) from `source` (undefined for a device). `destination` is the ICR's
   * destination field: 8 bits from an xAPIC, 32 from an x2APIC (`wideDestination`).
   */
  send(source: Lapic | undefined, icrLow: number, destination: number, wideDestination: boolean): void {
    // Shorthands: none (the destination decides), self, all including self, all excluding self.
    const shorthand = (icrLow >> 18) & 3;
    const mode = (icrLow >> 8) & 7;
    const vector = icrLow & 0xff;
    const level = (icrLow & LVT_LEVEL_TRIGGER) !== 0;
    if (shorthand === SHORTHAND_SELF) {
      source?.accept(mode, vector, level);
      return;
    }
    const logical = (icrLow & ICR_DESTINATION_LOGICAL) !== 0;
    const lowestPriority = mode === DELIVERY_LOWEST_PRIORITY;
    let chosen: Lapic | undefined;
    let chosenPriority = 256;
    for (const lapic of this.lapics) {
      if (shorthand === SHORTHAND_ALL_EXCLUDING_SELF && lapic === source) continue;
      if (shorthand === SHORTHAND_NONE && !matchesDestination(lapic, logical, destination, wideDestination)) {
        continue;
      }
      if (!lapic.hardwareEnabled) continue;
      if (!lowestPriority) {
        lapic.accept(mode, vector, level);
        continue;
      }
      // Lowest priority: the enabled APIC with the lowest arbitration priority takes it (first on ties).
      if (!lapic.softwareEnabled) continue;
      const priority = lapic.arbitrationPriority();
      if (priority < chosenPriority) {
        chosen = lapic;
        chosenPriority = priority;
      }
    }
    chosen?.accept(mode, vector, level);
  }

  /**
   * KVM_SIGNAL_MSI: a message signalled interrupt, as a device or the IOAPIC writes it. Returns false
   * when the address is not in the MSI window (the write goes nowhere). The redirection hint with a
   * logical destination makes a fixed message lowest-priority.
   */
  signalMsi(address: number, data: number): boolean {
    if ((address & MSI_ADDRESS_MASK) >>> 0 !== MSI_ADDRESS_BASE) return false;
    let mode = (data >> 8) & 7;
    const logical = (address & MSI_DESTINATION_LOGICAL) !== 0;
    if (logical && (address & MSI_REDIRECTION_HINT) !== 0 && mode === 0) mode = DELIVERY_LOWEST_PRIORITY;
    const icrLow = (data & 0xc0ff) | (mode << 8) | (logical ? ICR_DESTINATION_LOGICAL : 0);
    this.send(undefined, icrLow, (address >>> 12) & 0xff, false);
    return true;
  }
}

/**
 * Whether `lapic` is among the destinations of a message. Physical: the APIC ID, or broadcast (all
 * ones). Logical: x2APIC compares the cluster (bits 16-31) and a member bitmap (bits 0-15); xAPIC
 * uses the flat model (LDR bits 24-31 AND destination) or the cluster model (bits 4-7 the cluster,
 * bits 0-3 members), as DFR selects.
 */
export function matchesDestination(
  lapic: Lapic,
  logical: boolean,
  destination: number,
  wideDestination: boolean,
): boolean {
  const broadcast = wideDestination ? 0xffff_ffff : 0xff;
  destination >>>= 0;
  if (destination === broadcast) return true;
  if (!logical) return lapic.apicId === destination;
  const ldr = lapic.logicalDestination;
  if (lapic.x2apicMode) {
    return destination >>> 16 === ldr >>> 16 && (destination & ldr & 0xffff) !== 0;
  }
  const dest8 = destination & 0xff;
  const id8 = ldr >>> 24;
  if (lapic.destinationModel === 0xf) return (dest8 & id8) !== 0;
  return dest8 >>> 4 === id8 >>> 4 && (dest8 & id8 & 0xf) !== 0;
}

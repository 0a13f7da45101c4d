// The I/O APIC of a PC (Intel 82093AA register set, version 0x20 with the EOI register): 24 interrupt inputs, each
// with a redirection entry that turns an edge or a level on the pin into an interrupt message for the local APICs.
//
// Model choices:
// - Delivery is synchronous: deliver() is called from inside the access or input change that caused it, so the
//   delivery status bit always reads 0 and every message is taken as accepted (remote IRR is set at once for a
//   level-triggered entry).
// - Inputs are logical: a Trigger's `asserted` means "interrupt requested", whatever the wire's electrical level.
//   The polarity bit is stored and read back but does not invert the input (as in QEMU). Firmware tables must
//   therefore describe every input as active high, PCI interrupts included (QEMU's MADT and DSDT do the same).
// - A level-triggered entry delivers whenever its input is asserted, it is unmasked and remote IRR is clear. That
//   is re-checked after every input change, entry write and EOI, so an EOI with the input still asserted delivers
//   again at once, and unmasking an asserted level input delivers.
// - An edge-triggered entry delivers on a rising edge of its input while unmasked; an edge on a masked entry is lost
//   (the datasheet: not delivered or held pending).
// - Writing an entry as edge-triggered clears its remote IRR. Linux relies on it to end a level interrupt on I/O
//   APICs without an EOI register (it flips the entry to edge and back), and QEMU and real parts behave so.

import { accessValue, fillAccessValue } from "./access-value.js";
import type { BusDevice } from "./bus-device.js";
import {
  IOAPIC_PINS,
  IOAPIC_VERSION,
  IoApicRegister,
  IoApicWindow,
  RedirectionEntry,
} from "./ioapic-registers.js";
import type { Trigger } from "./trigger.js";

/**
 * One interrupt message on its way to the local APICs: the fields of the redirection entry that sent it (the same
 * fields an MSI carries). The object is reused for every message: read it during the deliver() call, copy what you
 * keep.
 */
export interface ApicInterruptMessage {
  /** The vector (0-255); for DeliveryMode.ExtInt the vector comes from the 8259A instead. */
  vector: number;
  /** DeliveryMode: Fixed, LowestPriority, Smi, Nmi, Init or ExtInt (reserved encodings 3 and 6 are passed on). */
  deliveryMode: number;
  /** DestinationMode: Physical (destination is an APIC ID) or Logical (a set of processors). */
  destinationMode: number;
  /** Bits 56-63 of the entry (0-255). */
  destination: number;
  /** TriggerMode: Edge or Level. A level message must be answered by eoi(vector) from the local APIC. */
  trigger: number;
}

/** What the I/O APIC sends its messages to: the kernel side's local APICs (the APIC bus or system bus). */
export interface ApicInterruptSink {
  deliver(message: ApicInterruptMessage): void;
}

export interface IoApicOptions {
  /** Receives every interrupt message. */
  output: ApicInterruptSink;
  /** The I/O APIC ID after reset (0-15, default 0). Firmware tables (MADT, MP table) must give the same ID. */
  id?: number;
}

/** Snapshot of an IoApic (plain, JSON-serialisable). */
export interface IoApicState {
  /** IOREGSEL (0-255). */
  registerSelect: number;
  /** The I/O APIC ID (0-15). */
  id: number;
  /** The arbitration ID (0-15). */
  arbitrationId: number;
  /** Low dwords of the 24 redirection entries (remote IRR included). */
  redirectionLow: number[];
  /** High dwords of the 24 redirection entries (the destination in bits 24-31). */
  redirectionHigh: number[];
  /** Input levels, bit n = pin n asserted. */
  inputs: number;
}

const LOW_WRITABLE =
  RedirectionEntry.VectorMask |
  RedirectionEntry.DeliveryModeMask |
  RedirectionEntry.DestinationModeLogical |
  RedirectionEntry.PolarityLow |
  RedirectionEntry.TriggerLevel |
  RedirectionEntry.Masked;
const HIGH_WRITABLE = 0xff000000;
const ID_SHIFT = 24;
const ID_MASK = 0x0f;
const ALL_PINS = (1 << IOAPIC_PINS) - 1;

/**
 * The I/O APIC. Map it as an MMIO BusDevice (IOAPIC_WINDOW_SIZE bytes, at IOAPIC_DEFAULT_ADDRESS on a PC):
 *
 * - offset 0x00, IOREGSEL: any width; the low byte selects a register, the other bytes read 0.
 * - offset 0x10, IOWIN: the selected register, with 4-byte accesses (an 8-byte access uses its low 4 bytes).
 * - offset 0x40, EOI: a 4-byte write of a vector ends level interrupts with that vector, like eoi().
 *
 * Other offsets and narrower IOWIN/EOI accesses read 0 and ignore writes, as QEMU does. Register accesses never
 * throw.
 */
export class IoApic implements BusDevice {
  private readonly output: ApicInterruptSink;
  private readonly resetId: number;
  private readonly low = new Uint32Array(IOAPIC_PINS);
  private readonly high = new Uint32Array(IOAPIC_PINS);
  private readonly lines: Trigger[] = [];
  private readonly message: ApicInterruptMessage = {
    vector: 0,
    deliveryMode: 0,
    destinationMode: 0,
    destination: 0,
    trigger: 0,
  };
  private registerSelect = 0;
  private id = 0;
  private arbitrationId = 0;
  private inputs = 0;

  constructor(options: IoApicOptions) {
    const id = options.id ?? 0;
    if (!Number.isInteger(id) || id < 0 || id > ID_MASK) throw new RangeError(`bad I/O APIC ID ${id}`);
    this.output = options.output;
    this.resetId = id;
    for (let pin = 0; pin < IOAPIC_PINS; pin++) {
      this.lines.push({ set: (asserted) => this.setIrq(pin, asserted) });
    }
    this.reset();
  }

  /** The Trigger for input pin `pin` (0-23; a RangeError for others, at wiring time). */
  irqLine(pin: number): Trigger {
    const line = this.lines[pin];
    if (line === undefined) throw new RangeError(`no I/O APIC input ${pin}`);
    return line;
  }

  /** Drives input pin `pin` (0-23; other values are ignored). */
  setIrq(pin: number, asserted: boolean): void {
    if (!(pin >= 0 && pin < IOAPIC_PINS)) return;
    const bit = 1 << pin;
    const wasAsserted = (this.inputs & bit) !== 0;
    if (!asserted) {
      this.inputs &= ~bit;
      return;
    }
    this.inputs |= bit;
    const low = this.low[pin];
    if ((low & RedirectionEntry.TriggerLevel) !== 0) this.serviceLevel(pin);
    else if (!wasAsserted && (low & RedirectionEntry.Masked) === 0) this.send(pin);
  }

  /**
   * An EOI for `vector` from a local APIC (its EOI broadcast for a level-triggered interrupt): clears remote IRR of
   * every level-triggered entry with that vector, and delivers again where the input is still asserted.
   */
  eoi(vector: number): void {
    const v = vector & 0xff;
    for (let pin = 0; pin < IOAPIC_PINS; pin++) {
      const low = this.low[pin];
      if ((low & RedirectionEntry.VectorMask) !== v || (low & RedirectionEntry.RemoteIrr) === 0) continue;
      this.low[pin] = low & ~RedirectionEntry.RemoteIrr;
      this.serviceLevel(pin);
    }
  }

  read(_base: number, offset: number, data: Uint8Array): void {
    if (offset === IoApicWindow.Window && data.length >= 4) {
      fillAccessValue(data, this.readRegister(this.registerSelect));
      return;
    }
    data.fill(0);
    if (offset === IoApicWindow.RegisterSelect && data.length > 0) data[0] = this.registerSelect;
  }

  write(_base: number, offset: number, data: Uint8Array): void {
    if (data.length === 0) return;
    if (offset === IoApicWindow.RegisterSelect) this.registerSelect = data[0];
    else if (data.length < 4) return;
    else if (offset === IoApicWindow.Window) this.writeRegister(this.registerSelect, accessValue(data));
    else if (offset === IoApicWindow.Eoi) this.eoi(data[0]);
  }

  /** The register `index` as IOWIN would read it (no side effects). */
  readRegister(index: number): number {
    switch (index) {
      case IoApicRegister.Id:
        return (this.id << ID_SHIFT) >>> 0;
      case IoApicRegister.Version:
        return IOAPIC_VERSION | ((IOAPIC_PINS - 1) << 16);
      case IoApicRegister.Arbitration:
        return (this.arbitrationId << ID_SHIFT) >>> 0;
    }
    const entry = index - IoApicRegister.RedirectionTable;
    if (entry >= 0 && entry < 2 * IOAPIC_PINS) {
      return (entry & 1) === 0 ? this.low[entry >> 1] : this.high[entry >> 1];
    }
    return 0;
  }

  /** Writes register `index` as a guest write through IOWIN would. */
  writeRegister(index: number, value: number): void {
    if (index === IoApicRegister.Id) {
      // The datasheet: an ID write loads the arbitration ID with the same value.
      this.id = (value >>> ID_SHIFT) & ID_MASK;
      this.arbitrationId = this.id;
      return;
    }
    const entry = (index & 0xff) - IoApicRegister.RedirectionTable;
    if (!(entry >= 0 && entry < 2 * IOAPIC_PINS)) return; // version, arbitration and reserved: read-only
    const pin = entry >> 1;
    if ((entry & 1) === 1) {
      this.high[pin] = value & HIGH_WRITABLE;
      return;
    }
    let low = (this.low[pin] & ~LOW_WRITABLE) | (value & LOW_WRITABLE);
    if ((low & RedirectionEntry.TriggerLevel) === 0) low &= ~RedirectionEntry.RemoteIrr;
    this.low[pin] = low;
    this.serviceLevel(pin);
  }

  /** Reset: every entry masked and zeroed, the ID from the options, IOREGSEL 0. Input levels are kept. */
  reset(): void {
    this.low.fill(RedirectionEntry.Masked);
    this.high.fill(0);
    this.id = this.resetId;
    this.arbitrationId = this.resetId;
    this.registerSelect = 0;
  }

  getState(): IoApicState {
    return {
      registerSelect: this.registerSelect,
      id: this.id,
      arbitrationId: this.arbitrationId,
      redirectionLow: Array.from(this.low),
      redirectionHigh: Array.from(this.high),
      inputs: this.inputs,
    };
  }

  /**
   * Restores a snapshot. Malformed fields are masked or replaced by reset values, never thrown on. A level input
   * that is asserted, unmasked and without remote IRR is delivered, as it would have been.
   */
  setState(state: IoApicState): void {
    const s: Partial<IoApicState> = state !== null && typeof state === "object" ? state : {};
    this.registerSelect = toInt(s.registerSelect, 0) & 0xff;
    this.id = toInt(s.id, this.resetId) & ID_MASK;
    this.arbitrationId = toInt(s.arbitrationId, this.id) & ID_MASK;
    this.inputs = toInt(s.inputs, 0) & ALL_PINS;
    const lows = Array.isArray(s.redirectionLow) ? s.redirectionLow : [];
    const highs = Array.isArray(s.redirectionHigh) ? s.redirectionHigh : [];
    for (let pin = 0; pin < IOAPIC_PINS; pin++) {
      let low = toInt(lows[pin], RedirectionEntry.Masked) & (LOW_WRITABLE | RedirectionEntry.RemoteIrr);
      if ((low & RedirectionEntry.TriggerLevel) === 0) low &= ~RedirectionEntry.RemoteIrr;
      this.low[pin] = low;
      this.high[pin] = toInt(highs[pin], 0) & HIGH_WRITABLE;
    }
    for (let pin = 0; pin < IOAPIC_PINS; pin++) this.serviceLevel(pin);
  }

  /** A level-triggered entry sends while its input is asserted, it is unmasked and remote IRR is clear. */
  private serviceLevel(pin: number): void {
    const low = this.low[pin];
    const state =
      low & (RedirectionEntry.TriggerLevel | RedirectionEntry.Masked | RedirectionEntry.RemoteIrr);
    if (state !== RedirectionEntry.TriggerLevel || (this.inputs & (1 << pin)) === 0) return;
    this.low[pin] = low | RedirectionEntry.RemoteIrr;
    this.send(pin);
  }

  private send(pin: number): void {
    const low = this.low[pin];
    const message = this.message;
    message.vector = low & RedirectionEntry.VectorMask;
    message.deliveryMode = (low & RedirectionEntry.DeliveryModeMask) >>> RedirectionEntry.DeliveryModeShift;
    message.destinationMode = (low & RedirectionEntry.DestinationModeLogical) !== 0 ? 1 : 0;
    message.destination = this.high[pin] >>> RedirectionEntry.DestinationShift;
    message.trigger = (low & RedirectionEntry.TriggerLevel) !== 0 ? 1 : 0;
    this.output.deliver(message);
  }
}

function toInt(value: unknown, fallback: number): number {
  return typeof value === "number" && Number.isFinite(value) ? value : fallback;
}

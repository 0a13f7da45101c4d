// A 16550A UART (PC16550D) as seen through its eight registers.
//
// Model choices, since the device has no clock:
// - The transmitter is infinitely fast: a byte written to THR is shifted out (to transmit(), or to the receiver in
//   loopback) before the write returns, so THRE and TEMT always read 1 and the TX FIFO never holds a byte. A THR
//   write clears a pending THRE interrupt and, the byte being gone at once, raises it again before returning.
// - The receive character timeout (IIR 0xC) is raised at the end of each input batch (a receive() call, a
//   receiveBreak() call or a looped-back byte) when the RX FIFO holds bytes below its trigger level. Reading RBR
//   clears it, as on the chip; a host with a timer may call receive() with an empty array to signal an idle line.

import type { BusDevice } from "./bus-device.js";
import { RECEIVE_FIFO_DEPTH, ReceiveFifo } from "./receive-fifo.js";
import { Fcr, Ier, Iir, Lcr, Lsr, Mcr, Msr } from "./serial-16550-registers.js";
import type { Trigger } from "./trigger.js";

export interface Serial16550Options {
  /** The UART's interrupt line (driven only while MCR.OUT2 is set and loopback is off, as on a PC). */
  irq: Trigger;
  /** Called with each byte the guest transmits (outside loopback). */
  transmit: (byte: number) => void;
}

/** Snapshot of a Serial16550 (plain, JSON-serialisable). */
export interface Serial16550State {
  ier: number;
  lcr: number;
  mcr: number;
  scr: number;
  /** Divisor latch, DLM:DLL. */
  divisor: number;
  fifosEnabled: boolean;
  /** Receive FIFO trigger level: 1, 4, 8 or 14. */
  rxTriggerLevel: number;
  /** Received bytes not yet read, oldest first. */
  rxBytes: number[];
  /** Parity/framing/break bits (LSR positions) of each byte in rxBytes. */
  rxErrors: number[];
  /** Value RBR returns while the receiver is empty (the last byte read). */
  lastReceived: number;
  /** Latched LSR error bits (OE, PE, FE, BI), cleared by reading LSR. */
  lineErrors: number;
  thrEmptyInterrupt: boolean;
  characterTimeout: boolean;
  /** Host-side modem input levels (MSR bits 4-7). */
  modemInputs: number;
  /** MSR change bits (0-3), cleared by reading MSR. */
  modemDeltas: number;
}

const TRIGGER_LEVELS = [1, 4, 8, 14] as const;
/** 9600 baud with the PC's 1.8432 MHz clock; the datasheet leaves the power-on divisor undefined. */
const DEFAULT_DIVISOR = 12;
/** A terminal is attached: CTS, DSR and DCD asserted, no ring. */
const DEFAULT_MODEM_INPUTS = Msr.ClearToSend | Msr.DataSetReady | Msr.DataCarrierDetect;
const LINE_ERROR_BITS = Lsr.OverrunError | Lsr.ParityError | Lsr.FramingError | Lsr.BreakInterrupt;
const CHARACTER_ERROR_BITS = Lsr.ParityError | Lsr.FramingError | Lsr.BreakInterrupt;

/**
 * A 16550A UART. Registers are at offsets 0-7 (only address lines A0-A2 are decoded, so larger offsets alias).
 * An access wider than one byte reads or writes the register at the given offset through its low byte; the other
 * bytes read as 0 and are ignored on writes. Register accesses never throw.
 */
export class Serial16550 implements BusDevice {
  private readonly irq: Trigger;
  private readonly transmitByte: (byte: number) => void;
  private readonly rx = new ReceiveFifo();

  private ier = 0;
  private lcr = 0;
  private mcr = 0;
  private scr = 0;
  private divisor = DEFAULT_DIVISOR;
  private fifosEnabled = false;
  private rxTriggerLevel = 1;
  private lastReceived = 0;
  private lineErrors = 0;
  private thrEmptyInterrupt = false;
  private characterTimeout = false;
  private modemInputs = DEFAULT_MODEM_INPUTS;
  private modemDeltas = 0;
  private irqLevel = false;

  constructor(options: Serial16550Options) {
    this.irq = options.irq;
    this.transmitByte = options.transmit;
  }

  read(_base: number, offset: number, data: Uint8Array): void {
    if (data.length === 0) return;
    data[0] = this.readRegister(offset & 7);
    for (let i = 1; i < data.length; i++) data[i] = 0;
  }

  write(_base: number, offset: number, data: Uint8Array): void {
    if (data.length === 0) return;
    this.writeRegister(offset & 7, data[0]);
  }

  /** How many bytes receive() would accept now: free FIFO slots, or 1 if FIFOs are off and RBR is empty. */
  rxSpace(): number {
    if ((this.mcr & Mcr.Loopback) !== 0) return 0; // the serial input is disconnected in loopback
    return this.receiveCapacity() - this.rx.count;
  }

  /** Delivers bytes from the host side; accepts as many as fit (see rxSpace()) and returns that count. */
  receive(bytes: Uint8Array): number {
    const space = this.rxSpace();
    const accepted = Math.min(bytes.length, space);
    for (let i = 0; i < accepted; i++) this.receiveCharacter(bytes[i], 0);
    this.endOfInput();
    this.updateInterrupt();
    return accepted;
  }

  /** Delivers a break condition (a 0 byte flagged with LSR.BI); returns false if the receiver has no room. */
  receiveBreak(): boolean {
    if (this.rxSpace() === 0) return false;
    this.receiveCharacter(0, Lsr.BreakInterrupt);
    this.endOfInput();
    this.updateInterrupt();
    return true;
  }

  /** Sets the host-side modem input levels (MSR bits 4-7: CTS, DSR, RI, DCD); other bits are ignored. */
  setModemInputs(lines: number): void {
    const before = this.modemLines();
    this.modemInputs = lines & 0xf0;
    this.noteModemChange(before);
    this.updateInterrupt();
  }

  /** Master reset (the MR pin): RBR, SCR and the divisor latch keep their values, as the datasheet specifies. */
  reset(): void {
    this.ier = 0;
    this.lcr = 0;
    this.mcr = 0;
    this.fifosEnabled = false;
    this.rxTriggerLevel = 1;
    this.rx.clear();
    this.lineErrors = 0;
    this.thrEmptyInterrupt = false;
    this.characterTimeout = false;
    this.modemDeltas = 0;
    this.updateInterrupt();
  }

  getState(): Serial16550State {
    return {
      ier: this.ier,
      lcr: this.lcr,
      mcr: this.mcr,
      scr: this.scr,
      divisor: this.divisor,
      fifosEnabled: this.fifosEnabled,
      rxTriggerLevel: this.rxTriggerLevel,
      rxBytes: this.rx.contents(),
      rxErrors: this.rx.errorContents(),
      lastReceived: this.lastReceived,
      lineErrors: this.lineErrors,
      thrEmptyInterrupt: this.thrEmptyInterrupt,
      characterTimeout: this.characterTimeout,
      modemInputs: this.modemInputs,
      modemDeltas: this.modemDeltas,
    };
  }

  /** Restores a snapshot. Malformed fields are masked or replaced by defaults, never thrown on. */
  setState(state: Serial16550State): void {
    const s: Partial<Serial16550State> = state !== null && typeof state === "object" ? state : {};
    this.ier = toByte(s.ier) & 0x0f;
    this.lcr = toByte(s.lcr);
    this.mcr = toByte(s.mcr) & 0x1f;
    this.scr = toByte(s.scr);
    this.divisor = typeof s.divisor === "number" ? s.divisor & 0xffff : DEFAULT_DIVISOR;
    this.fifosEnabled = s.fifosEnabled === true;
    this.rxTriggerLevel = TRIGGER_LEVELS.find((level) => level === s.rxTriggerLevel) ?? 1;
    this.rx.clear();
    const bytes = Array.isArray(s.rxBytes) ? s.rxBytes : [];
    const errors = Array.isArray(s.rxErrors) ? s.rxErrors : [];
    const count = Math.min(bytes.length, this.receiveCapacity());
    for (let i = 0; i < count; i++) this.rx.push(toByte(bytes[i]), toByte(errors[i]) & CHARACTER_ERROR_BITS);
    this.lastReceived = toByte(s.lastReceived);
    this.lineErrors = toByte(s.lineErrors) & LINE_ERROR_BITS;
    this.thrEmptyInterrupt = s.thrEmptyInterrupt === true;
    this.characterTimeout = s.characterTimeout === true && this.fifosEnabled && this.rx.count > 0;
    this.modemInputs = toByte(s.modemInputs) & 0xf0;
    this.modemDeltas = toByte(s.modemDeltas) & 0x0f;
    this.updateInterrupt();
  }

  private readRegister(register: number): number {
    const dlab = (this.lcr & Lcr.DivisorLatchAccess) !== 0;
    switch (register) {
      case 0:
        return dlab ? this.divisor & 0xff : this.readReceiveBuffer();
      case 1:
        return dlab ? this.divisor >>> 8 : this.ier;
      case 2:
        return this.readInterruptId();
      case 3:
        return this.lcr;
      case 4:
        return this.mcr;
      case 5:
        return this.readLineStatus();
      case 6:
        return this.readModemStatus();
      default:
        return this.scr;
    }
  }

  private writeRegister(register: number, value: number): void {
    const dlab = (this.lcr & Lcr.DivisorLatchAccess) !== 0;
    switch (register) {
      case 0:
        if (dlab) this.divisor = (this.divisor & 0xff00) | value;
        else this.writeTransmitHolding(value);
        return;
      case 1:
        if (dlab) this.divisor = (this.divisor & 0x00ff) | (value << 8);
        else this.writeInterruptEnable(value);
        return;
      case 2:
        this.writeFifoControl(value);
        return;
      case 3:
        this.lcr = value;
        return;
      case 4:
        this.writeModemControl(value);
        return;
      case 7:
        this.scr = value;
        return;
      default:
        // LSR and MSR are read-only (LSR writes are reserved for factory test).
        return;
    }
  }

  private readReceiveBuffer(): number {
    if (this.rx.count === 0) return this.lastReceived;
    const byte = this.rx.pop();
    this.lastReceived = byte;
    // The errors of the byte that now sits at the top of the FIFO become visible in LSR.
    this.lineErrors |= this.rx.headErrors();
    this.characterTimeout = false;
    this.updateInterrupt();
    return byte;
  }

  private readInterruptId(): number {
    const id = this.pendingInterrupt();
    if (id === Iir.TransmitterHoldingEmpty) {
      this.thrEmptyInterrupt = false;
      this.updateInterrupt();
    }
    return this.fifosEnabled ? id | Iir.FifosEnabled : id;
  }

  private readLineStatus(): number {
    let lsr = Lsr.TransmitterHoldingEmpty | Lsr.TransmitterEmpty | this.lineErrors;
    if (this.rx.count > 0) lsr |= Lsr.DataReady;
    if (this.fifosEnabled && this.rx.erroneousCount > 0) lsr |= Lsr.ReceiveFifoError;
    if (this.lineErrors !== 0) {
      this.lineErrors = 0;
      this.updateInterrupt();
    }
    return lsr;
  }

  private readModemStatus(): number {
    const msr = this.modemLines() | this.modemDeltas;
    if (this.modemDeltas !== 0) {
      this.modemDeltas = 0;
      this.updateInterrupt();
    }
    return msr;
  }

  private writeTransmitHolding(byte: number): void {
    // Writing THR clears the THRE interrupt: the line drops until the byte has moved on and THR is empty again.
    this.thrEmptyInterrupt = false;
    this.updateInterrupt();
    if ((this.mcr & Mcr.Loopback) !== 0) {
      this.receiveCharacter(byte, 0);
      this.endOfInput();
    } else {
      this.transmitByte(byte);
    }
    // The byte has left THR (and the shift register) already: THR is empty again.
    this.thrEmptyInterrupt = true;
    this.updateInterrupt();
  }

  private writeInterruptEnable(value: number): void {
    const enablingThrEmpty =
      (value & Ier.TransmitterHoldingEmpty) !== 0 && (this.ier & Ier.TransmitterHoldingEmpty) === 0;
    this.ier = value & 0x0f;
    // Enabling the THRE interrupt while THR is empty (always, here) raises it at once.
    if (enablingThrEmpty) this.thrEmptyInterrupt = true;
    this.updateInterrupt();
  }

  private writeFifoControl(value: number): void {
    const enable = (value & Fcr.EnableFifos) !== 0;
    if (enable !== this.fifosEnabled) {
      // Switching between 16450 and FIFO mode empties both FIFOs.
      this.fifosEnabled = enable;
      this.rx.clear();
      this.characterTimeout = false;
    }
    // The other FCR bits are only programmed by a write that also sets FCR0.
    if (enable) {
      if ((value & Fcr.ResetReceiveFifo) !== 0) {
        this.rx.clear();
        this.characterTimeout = false;
      }
      // Fcr.ResetTransmitFifo finds the TX FIFO empty: the transmitter drains each byte as it is written.
      // Fcr.DmaMode only changes the RXRDY/TXRDY pins, which nothing here observes.
      this.rxTriggerLevel = TRIGGER_LEVELS[value >>> 6];
    }
    this.updateInterrupt();
  }

  private writeModemControl(value: number): void {
    const before = this.modemLines();
    this.mcr = value & 0x1f;
    this.noteModemChange(before);
    this.updateInterrupt();
  }

  private receiveCapacity(): number {
    return this.fifosEnabled ? RECEIVE_FIFO_DEPTH : 1;
  }

  /** A character arrives from the receiver shift register, with its error bits. */
  private receiveCharacter(byte: number, errors: number): void {
    if (this.rx.count < this.receiveCapacity()) {
      const becomesHead = this.rx.count === 0;
      this.rx.push(byte, errors);
      if (becomesHead) this.lineErrors |= errors;
    } else if (this.fifosEnabled) {
      // FIFO full: the character in the shift register is lost.
      this.lineErrors |= Lsr.OverrunError;
    } else {
      // 16450 mode: the new character overwrites the unread one in RBR.
      this.rx.replaceNewest(byte, errors);
      this.lineErrors |= Lsr.OverrunError | errors;
    }
  }

  /** An input batch ended: bytes left below the trigger level get the character-timeout indication. */
  private endOfInput(): void {
    const count = this.rx.count;
    this.characterTimeout = this.fifosEnabled && count > 0 && count < this.rxTriggerLevel;
  }

  /** MSR bits 4-7 as the UART sees them: the host's inputs, or MCR's outputs looped back. */
  private modemLines(): number {
    const mcr = this.mcr;
    if ((mcr & Mcr.Loopback) === 0) return this.modemInputs;
    return (
      ((mcr & Mcr.DataTerminalReady) << 5) | // DTR -> DSR
      ((mcr & Mcr.RequestToSend) << 3) | // RTS -> CTS
      ((mcr & Mcr.Out1) << 4) | // OUT1 -> RI
      ((mcr & Mcr.Out2) << 4) // OUT2 -> DCD
    );
  }

  private noteModemChange(before: number): void {
    const after = this.modemLines();
    const changed = before ^ after;
    if (changed === 0) return;
    if ((changed & Msr.ClearToSend) !== 0) this.modemDeltas |= Msr.DeltaClearToSend;
    if ((changed & Msr.DataSetReady) !== 0) this.modemDeltas |= Msr.DeltaDataSetReady;
    if ((changed & Msr.DataCarrierDetect) !== 0) this.modemDeltas |= Msr.DeltaDataCarrierDetect;
    // Only the trailing edge of RI (ring stops) is reported.
    if ((before & Msr.RingIndicator) !== 0 && (after & Msr.RingIndicator) === 0) {
      this.modemDeltas |= Msr.TrailingEdgeRingIndicator;
    }
  }

  /** The highest-priority pending, enabled interrupt as an IIR identification (Iir.NoInterrupt if none). */
  private pendingInterrupt(): number {
    const ier = this.ier;
    if ((ier & Ier.ReceiverLineStatus) !== 0 && this.lineErrors !== 0) return Iir.ReceiverLineStatus;
    if ((ier & Ier.ReceivedDataAvailable) !== 0) {
      if (this.rx.count >= (this.fifosEnabled ? this.rxTriggerLevel : 1)) return Iir.ReceivedDataAvailable;
      if (this.characterTimeout) return Iir.CharacterTimeout;
    }
    if ((ier & Ier.TransmitterHoldingEmpty) !== 0 && this.thrEmptyInterrupt)
      return Iir.TransmitterHoldingEmpty;
    if ((ier & Ier.ModemStatus) !== 0 && this.modemDeltas !== 0) return Iir.ModemStatus;
    return Iir.NoInterrupt;
  }

  /**
   * Drives the IRQ line. On a PC, MCR.OUT2 gates the UART's interrupt output onto the bus; in loopback the OUT2 pin
   * is forced inactive (it feeds DCD instead), so the line stays low.
   */
  private updateInterrupt(): void {
    const asserted =
      (this.mcr & (Mcr.Out2 | Mcr.Loopback)) === Mcr.Out2 && this.pendingInterrupt() !== Iir.NoInterrupt;
    if (asserted === this.irqLevel) return;
    this.irqLevel = asserted;
    this.irq.set(asserted);
  }
}

function toByte(value: unknown): number {
  return typeof value === "number" ? value & 0xff : 0;
}

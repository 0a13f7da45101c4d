// One Intel 8259A programmable interrupt controller, as seen through its two registers (A0 = 0 and A0 = 1).
//
// Model choices:
// - The request latch is transparent, as the datasheet's priority cell shows: an edge-triggered IRR bit is set by a
//   low-to-high transition and cleared again if the input falls before the interrupt acknowledge, so a request that
//   goes away before INTA yields the default IR7 (spurious) vector. A level-triggered IRR bit follows its input.
//   (QEMU and KVM keep an edge request latched after the input falls; Bochs and the chip do not.) Inputs named in
//   `latchingInputs` keep an edge request until INTA instead, for QEMU's behaviour.
// - Special mask mode enables every unmasked level whose ISR bit is clear, lower or higher priority alike (the
//   datasheet's wording; QEMU still lets unmasked in-service levels block lower ones).
// - Special fully nested mode (on the master) lets a cascade input request again while it is in service; requests
//   of lower priority than the in-service cascade input stay blocked.
// - ICW4's microprocessor mode, buffered mode and master/slave bits and ICW1's ADI and address bits are stored and
//   read back in the state only: the vector is always ICW2's bits 7-3 plus the level (8086 mode), because an x86 CPU
//   cannot run the MCS-80 CALL sequence.

import type { BusDevice } from "./bus-device.js";
import type { Trigger } from "./trigger.js";

export interface Pic8259Options {
  /** The SP/EN pin: true for the master (its ICW3 is a slave bitmap), false for a slave (its ICW3 is an ID). */
  isMaster: boolean;
  /** The chip's INT output. */
  output: Trigger;
  /**
   * Which inputs the chipset's edge/level control register may switch to level triggering (a PIIX-class PC: 0xf8 on
   * the master, 0xde on the slave). Default 0xff.
   */
  levelTriggerMask?: number;
  /**
   * Inputs whose edge-triggered request stays latched when the input falls before INTA, as QEMU and KVM latch every
   * edge (default none: the 8259A's transparent latch).
   */
  latchingInputs?: number;
}

/** Snapshot of a Pic8259 (plain, JSON-serialisable). */
export interface Pic8259State {
  /** Interrupt request register. */
  irr: number;
  /** In-service register. */
  isr: number;
  /** Interrupt mask register (OCW1). */
  imr: number;
  /** Current level of each IR input. */
  inputs: number;
  /** The chipset's edge/level control register for this chip (1 = level-triggered). */
  levelTriggered: number;
  /** 0 when ready; 2, 3 or 4 while waiting for that ICW. */
  initStep: number;
  icw1: number;
  icw2: number;
  icw3: number;
  icw4: number;
  /** OCW3 RR/RIS: reads at A0 = 0 return ISR instead of IRR. */
  readIsr: boolean;
  /** OCW3 P: the next read is a poll (an interrupt acknowledge). */
  poll: boolean;
  specialMask: boolean;
  /** The level with the lowest priority (rotation); 7 after ICW1. */
  lowestPriority: number;
  rotateInAutoEoi: boolean;
}

/** ICW1 bits (written at A0 = 0 with bit 4 set). */
export const Icw1 = {
  Icw4Needed: 0x01,
  Single: 0x02,
  CallAddressInterval4: 0x04,
  LevelTriggered: 0x08,
  Init: 0x10,
} as const;

/** ICW4 bits. */
export const Icw4 = {
  Mode8086: 0x01,
  AutoEoi: 0x02,
  BufferedMaster: 0x04,
  Buffered: 0x08,
  SpecialFullyNested: 0x10,
} as const;

/** OCW2 commands (bits 7-5; bits 2-0 carry the level for the specific ones). */
export const Ocw2 = {
  RotateInAutoEoiClear: 0x00,
  NonSpecificEoi: 0x20,
  NoOperation: 0x40,
  SpecificEoi: 0x60,
  RotateInAutoEoiSet: 0x80,
  RotateOnNonSpecificEoi: 0xa0,
  SetPriority: 0xc0,
  RotateOnSpecificEoi: 0xe0,
} as const;

/** OCW3 bits (written at A0 = 0 with bits 4-3 = 01). */
export const Ocw3 = {
  ReadIsr: 0x01,
  ReadRegister: 0x02,
  Poll: 0x04,
  Select: 0x08,
  SpecialMask: 0x20,
  SetSpecialMask: 0x40,
} as const;

/** Poll word bit 7: an interrupt was pending (bits 2-0 name its level). */
export const POLL_INTERRUPT = 0x80;

const DEFAULT_ICW1 = Icw1.Init | Icw1.Icw4Needed;

/**
 * One 8259A. Offset bit 0 is A0: offset 0 takes ICW1/OCW2/OCW3 and reads IRR, ISR or the poll word; offset 1 takes
 * ICW2-4/OCW1 and reads IMR. An access wider than one byte uses its low byte; the other bytes read as 0. Register
 * accesses never throw. The power-on state, undefined on the chip, is an initialised controller in 8086 mode with
 * vector base 0x08 (master) or 0x70 (slave), cascade IDs as on a PC, and nothing masked.
 */
export class Pic8259 implements BusDevice {
  readonly isMaster: boolean;
  private readonly out: Trigger;
  private readonly levelTriggerMask: number;
  private readonly latchingInputs: number;

  private irr = 0;
  private isr = 0;
  private imr = 0;
  private inputs = 0;
  private elcr = 0;
  private initStep = 0;
  private icw1 = DEFAULT_ICW1;
  private icw2 = 0;
  private icw3 = 0;
  private icw4: number = Icw4.Mode8086;
  private readIsr = false;
  private pollPending = false;
  private specialMask = false;
  private lowestPriority = 7;
  private rotateInAutoEoi = false;
  private outputLevel = false;

  constructor(options: Pic8259Options) {
    this.isMaster = options.isMaster;
    this.out = options.output;
    this.levelTriggerMask = (options.levelTriggerMask ?? 0xff) & 0xff;
    this.latchingInputs = (options.latchingInputs ?? 0) & 0xff;
    this.icw2 = this.isMaster ? 0x08 : 0x70;
    this.icw3 = this.isMaster ? 0x04 : 0x02;
  }

  read(_base: number, offset: number, data: Uint8Array): void {
    if (data.length === 0) return;
    data[0] = this.readRegister(offset & 1);
    for (let i = 1; i < data.length; i++) data[i] = 0;
  }

  write(_base: number, offset: number, data: Uint8Array): void {
    if (data.length === 0) return;
    if ((offset & 1) === 0) this.writeCommand(data[0]);
    else this.writeData(data[0]);
  }

  /** Drives IR input `line` (0-7; other values are ignored). */
  setInput(line: number, asserted: boolean): void {
    if (!(line >= 0 && line < 8)) return;
    const bit = 1 << line;
    if (asserted) {
      // A rising edge sets the request; a level-triggered input requests for as long as it is high.
      if ((this.inputs & bit) === 0 || this.isLevelTriggered(line)) this.irr |= bit;
      this.inputs |= bit;
    } else {
      // The request latch is transparent: a request that goes away before INTA is lost (a level request always).
      this.inputs &= ~bit;
      if ((this.latchingInputs & bit) === 0 || this.isLevelTriggered(line)) this.irr &= ~bit;
    }
    this.updateOutput();
  }

  /** The INT output: an unmasked request outranks everything in service. */
  get output(): boolean {
    return this.outputLevel;
  }

  /** The level the next acknowledge would take, or -1 if none is eligible. */
  highestRequest(): number {
    const requests = this.irr & ~this.imr & 0xff;
    if (requests === 0) return -1;
    const top = (this.lowestPriority + 1) & 7;
    if (this.specialMask) {
      const eligible = requests & ~this.isr;
      for (let i = 0; i < 8; i++) {
        const line = (top + i) & 7;
        if ((eligible & (1 << line)) !== 0) return line;
      }
      return -1;
    }
    for (let i = 0; i < 8; i++) {
      const line = (top + i) & 7;
      const bit = 1 << line;
      if ((this.isr & bit) !== 0) {
        // A level in service blocks itself and everything below it, except a cascade input in special fully nested
        // mode, whose slave may present a higher-priority request of its own.
        if ((requests & bit) !== 0 && this.specialFullyNested() && this.isCascadeInput(line)) return line;
        return -1;
      }
      if ((requests & bit) !== 0) return line;
    }
    return -1;
  }

  /** The INTA cycle's effect on this chip for `line`: sets its ISR bit (or performs the automatic EOI). */
  acknowledge(line: number): void {
    const bit = 1 << (line & 7);
    if ((this.icw4 & Icw4.AutoEoi) !== 0) {
      if (this.rotateInAutoEoi) this.lowestPriority = line & 7;
    } else {
      this.isr |= bit;
    }
    // The edge request is consumed; a level-triggered one stays while its input is high.
    if (!this.isLevelTriggered(line & 7)) this.irr &= ~bit;
    this.updateOutput();
  }

  /** The vector this chip puts on the bus for `line`. */
  vector(line: number): number {
    return (this.icw2 & 0xf8) | (line & 7);
  }

  /** Whether IR `line` has a slave behind it (master in cascade mode, ICW3 bit set). */
  isCascadeInput(line: number): boolean {
    return this.isMaster && (this.icw1 & Icw1.Single) === 0 && ((this.icw3 >> (line & 7)) & 1) !== 0;
  }

  /** Whether this chip, as a slave, answers an INTA cycle for cascade address `id`. */
  answersCascade(id: number): boolean {
    return !this.isMaster && (this.icw1 & Icw1.Single) === 0 && (this.icw3 & 7) === id;
  }

  /** The chipset's edge/level control register (1 = level-triggered), masked by levelTriggerMask. */
  get levelTriggeredRegister(): number {
    return this.elcr;
  }

  set levelTriggeredRegister(value: number) {
    this.elcr = value & this.levelTriggerMask;
    this.resyncLevelRequests();
    this.updateOutput();
  }

  /** Power-on state; input levels are kept (the wires are still driven). */
  reset(): void {
    this.isr = 0;
    this.imr = 0;
    this.elcr = 0;
    this.initStep = 0;
    this.icw1 = DEFAULT_ICW1;
    this.icw2 = this.isMaster ? 0x08 : 0x70;
    this.icw3 = this.isMaster ? 0x04 : 0x02;
    this.icw4 = Icw4.Mode8086;
    this.readIsr = false;
    this.pollPending = false;
    this.specialMask = false;
    this.lowestPriority = 7;
    this.rotateInAutoEoi = false;
    this.irr = 0;
    this.resyncLevelRequests();
    this.updateOutput();
  }

  getState(): Pic8259State {
    return {
      irr: this.irr,
      isr: this.isr,
      imr: this.imr,
      inputs: this.inputs,
      levelTriggered: this.elcr,
      initStep: this.initStep,
      icw1: this.icw1,
      icw2: this.icw2,
      icw3: this.icw3,
      icw4: this.icw4,
      readIsr: this.readIsr,
      poll: this.pollPending,
      specialMask: this.specialMask,
      lowestPriority: this.lowestPriority,
      rotateInAutoEoi: this.rotateInAutoEoi,
    };
  }

  /** Restores a snapshot. Malformed fields are masked or replaced by defaults, never thrown on. */
  setState(state: Pic8259State): void {
    const s: Partial<Pic8259State> = state !== null && typeof state === "object" ? state : {};
    this.inputs = toByte(s.inputs);
    this.elcr = toByte(s.levelTriggered) & this.levelTriggerMask;
    this.icw1 = typeof s.icw1 === "number" ? (s.icw1 & 0xff) | Icw1.Init : DEFAULT_ICW1;
    this.icw2 = typeof s.icw2 === "number" ? s.icw2 & 0xff : this.isMaster ? 0x08 : 0x70;
    this.icw3 = typeof s.icw3 === "number" ? s.icw3 & 0xff : this.isMaster ? 0x04 : 0x02;
    this.icw4 = typeof s.icw4 === "number" ? s.icw4 & 0x1f : Icw4.Mode8086;
    this.initStep = s.initStep === 2 || s.initStep === 3 || s.initStep === 4 ? s.initStep : 0;
    this.isr = toByte(s.isr);
    this.imr = toByte(s.imr);
    // An edge request needs its input high unless the input latches; a level request is the input.
    this.irr = toByte(s.irr) & (this.inputs | this.latchingInputs);
    this.readIsr = s.readIsr === true;
    this.pollPending = s.poll === true;
    this.specialMask = s.specialMask === true;
    this.lowestPriority = typeof s.lowestPriority === "number" ? s.lowestPriority & 7 : 7;
    this.rotateInAutoEoi = s.rotateInAutoEoi === true;
    this.resyncLevelRequests();
    this.updateOutput();
  }

  private readRegister(a0: number): number {
    if (this.pollPending) {
      // A poll: this read is the interrupt acknowledge, and returns the level instead of a vector.
      this.pollPending = false;
      const line = this.highestRequest();
      if (line < 0) return 0;
      this.acknowledge(line);
      return POLL_INTERRUPT | line;
    }
    if (a0 === 1) return this.imr;
    return this.readIsr ? this.isr : this.irr;
  }

  private writeCommand(value: number): void {
    if ((value & Icw1.Init) !== 0) this.writeIcw1(value);
    else if ((value & Ocw3.Select) !== 0) this.writeOcw3(value);
    else this.writeOcw2(value);
  }

  private writeData(value: number): void {
    switch (this.initStep) {
      case 2:
        this.icw2 = value;
        if ((this.icw1 & Icw1.Single) === 0) this.initStep = 3;
        else this.initStep = (this.icw1 & Icw1.Icw4Needed) !== 0 ? 4 : 0;
        return;
      case 3:
        this.icw3 = value;
        this.initStep = (this.icw1 & Icw1.Icw4Needed) !== 0 ? 4 : 0;
        this.updateOutput();
        return;
      case 4:
        this.icw4 = value & 0x1f;
        this.initStep = 0;
        this.updateOutput();
        return;
      default:
        this.imr = value;
        this.updateOutput();
    }
  }

  private writeIcw1(value: number): void {
    this.icw1 = value;
    this.initStep = 2;
    // The datasheet's initialisation: edge sense reset, IMR cleared, IR7 lowest, special mask off, reads give IRR;
    // without IC4 every ICW4 function is zero. The in-service state goes too, as the sequence restarts the chip.
    this.imr = 0;
    this.isr = 0;
    this.irr = 0;
    this.lowestPriority = 7;
    this.specialMask = false;
    this.readIsr = false;
    this.pollPending = false;
    this.rotateInAutoEoi = false;
    if ((value & Icw1.Icw4Needed) === 0) this.icw4 = 0;
    this.resyncLevelRequests();
    this.updateOutput();
  }

  private writeOcw2(value: number): void {
    const level = value & 7;
    switch (value & 0xe0) {
      case Ocw2.NonSpecificEoi:
        this.nonSpecificEoi(false);
        break;
      case Ocw2.RotateOnNonSpecificEoi:
        this.nonSpecificEoi(true);
        break;
      case Ocw2.SpecificEoi:
        this.isr &= ~(1 << level);
        break;
      case Ocw2.RotateOnSpecificEoi:
        this.isr &= ~(1 << level);
        this.lowestPriority = level;
        break;
      case Ocw2.SetPriority:
        this.lowestPriority = level;
        break;
      case Ocw2.RotateInAutoEoiSet:
        this.rotateInAutoEoi = true;
        break;
      case Ocw2.RotateInAutoEoiClear:
        this.rotateInAutoEoi = false;
        break;
      default: // Ocw2.NoOperation
        return;
    }
    this.updateOutput();
  }

  /** Clears the highest-priority ISR bit; in special mask mode, masked levels are left alone (datasheet note). */
  private nonSpecificEoi(rotate: boolean): void {
    const inService = this.specialMask ? this.isr & ~this.imr : this.isr;
    if (inService === 0) return;
    const top = (this.lowestPriority + 1) & 7;
    for (let i = 0; i < 8; i++) {
      const line = (top + i) & 7;
      if ((inService & (1 << line)) !== 0) {
        this.isr &= ~(1 << line);
        if (rotate) this.lowestPriority = line;
        return;
      }
    }
  }

  private writeOcw3(value: number): void {
    if ((value & Ocw3.Poll) !== 0) this.pollPending = true;
    if ((value & Ocw3.ReadRegister) !== 0) this.readIsr = (value & Ocw3.ReadIsr) !== 0;
    if ((value & Ocw3.SetSpecialMask) !== 0) {
      this.specialMask = (value & Ocw3.SpecialMask) !== 0;
      this.updateOutput();
    }
  }

  private isLevelTriggered(line: number): boolean {
    return (this.icw1 & Icw1.LevelTriggered) !== 0 || ((this.elcr >> line) & 1) !== 0;
  }

  private levelTriggeredLines(): number {
    return (this.icw1 & Icw1.LevelTriggered) !== 0 ? 0xff : this.elcr;
  }

  /** Level-triggered requests are the input levels themselves. */
  private resyncLevelRequests(): void {
    const level = this.levelTriggeredLines();
    this.irr = (this.irr & ~level) | (this.inputs & level);
  }

  private specialFullyNested(): boolean {
    return this.isMaster && (this.icw4 & Icw4.SpecialFullyNested) !== 0;
  }

  private updateOutput(): void {
    const asserted = this.highestRequest() >= 0;
    if (asserted === this.outputLevel) return;
    this.outputLevel = asserted;
    this.out.set(asserted);
  }
}

function toByte(value: unknown): number {
  return typeof value === "number" ? value & 0xff : 0;
}

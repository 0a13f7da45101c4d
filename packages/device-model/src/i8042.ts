// The i8042 keyboard controller of a PC with a PS/2 keyboard and mouse behind it. It has two one-byte windows:
// `dataPort` (0x60 on a PC) and `commandPort` (0x64: status on read, controller commands on write).
//
// Model choices:
// - The controller and devices are infinitely fast: a command's answer is in the output buffer as soon as the
//   write returns (IBF always reads 0), and when the guest reads the output buffer the next waiting byte moves in
//   at once (the interrupt line drops and rises again, so an edge-triggered PIC sees each byte).
// - Bytes the controller produces itself (command answers, 0xD2/0xD3 data) go first; then keyboard bytes, then
//   mouse bytes. The disable bits (0xAD/0xA7) hold back only the device whose clock they stop.
// - IRQ 1 / IRQ 12 follow the output buffer and the command byte's interrupt bits, as the chip's OBF pins do.
// - After reset the command byte is 0x03 (both interrupts on, no translation) and the output port 0xCF (A20 on,
//   reset line high), QEMU's values; firmware programs both anyway.

import type { BusDevice } from "./bus-device.js";
import { ByteQueue } from "./byte-queue.js";
import { I8042Command, I8042Config, I8042OutputPort, I8042Status } from "./i8042-registers.js";
import { Ps2Keyboard, type Ps2KeyboardState } from "./ps2-keyboard.js";
import { Ps2Mouse, type Ps2MouseState } from "./ps2-mouse.js";
import { SET2_TO_SET1 } from "./scancodes.js";
import type { Trigger } from "./trigger.js";

export interface I8042Options {
  /** IRQ 1. */
  keyboardIrq: Trigger;
  /** IRQ 12. */
  auxIrq: Trigger;
  /** The A20 gate (output port bit 1) changed. The initial state is `a20Enabled`. */
  onA20?: (enabled: boolean) => void;
  /** The guest pulsed or drove the CPU reset line (output port bit 0 low). */
  onReset?: () => void;
}

/** Snapshot of an I8042 (plain, JSON-serialisable). */
export interface I8042State {
  /** The controller's 32 bytes of internal RAM; byte 0 is the command byte. */
  ram: number[];
  /** Output port bits as last written (bits 4-5 are computed). */
  outputPort: number;
  outputBuffer: number;
  outputFull: boolean;
  outputFromAux: boolean;
  systemFlag: boolean;
  lastWriteWasCommand: boolean;
  /** A controller command waiting for its data byte, or 0. */
  pendingCommand: number;
  /** Bytes the controller produced that wait for the output buffer; bit 8 marks mouse data. */
  pendingOutput: number[];
  /** Translation saw a 0xF0 break prefix and will set bit 7 of the next byte. */
  translateBreak: boolean;
  keyboard: Ps2KeyboardState;
  mouse: Ps2MouseState;
}

const RAM_SIZE = 32;
const PENDING_OUTPUT_SIZE = 16;
const RESET_COMMAND_BYTE = I8042Config.KeyboardInterrupt | I8042Config.AuxInterrupt;
/** Reset line high, A20 on, unused lines high. */
const RESET_OUTPUT_PORT = 0xcf;
const SELF_TEST_PASSED = 0x55;
const INTERFACE_TEST_PASSED = 0x00;
const NO_PASSWORD = 0xf1;
/** Input port: keyboard not inhibited. */
const INPUT_PORT = 0x80;
const BREAK_PREFIX = 0xf0;

export class I8042 {
  /** The data port (0x60): reads the output buffer, writes go to the keyboard or a pending command. */
  readonly dataPort: BusDevice;
  /** The command/status port (0x64): reads the status register, writes controller commands. */
  readonly commandPort: BusDevice;

  private readonly keyboardIrq: Trigger;
  private readonly auxIrq: Trigger;
  private readonly onA20: ((enabled: boolean) => void) | undefined;
  private readonly onReset: (() => void) | undefined;
  private readonly keyboard = new Ps2Keyboard();
  private readonly mouse = new Ps2Mouse();
  private readonly ram = new Uint8Array(RAM_SIZE);
  private readonly pendingOutput = new ByteQueue(PENDING_OUTPUT_SIZE);
  private readonly pendingOutputIsAux = new ByteQueue(PENDING_OUTPUT_SIZE);
  private outputPort = RESET_OUTPUT_PORT;
  private outputBuffer = 0;
  private outputFull = false;
  private outputFromAux = false;
  private systemFlag = false;
  private lastWriteWasCommand = true;
  private pendingCommand = 0;
  private translateBreak = false;
  private keyboardIrqLevel = false;
  private auxIrqLevel = false;

  constructor(options: I8042Options) {
    this.keyboardIrq = options.keyboardIrq;
    this.auxIrq = options.auxIrq;
    this.onA20 = options.onA20;
    this.onReset = options.onReset;
    this.ram[0] = RESET_COMMAND_BYTE;
    this.dataPort = {
      read: (_base, _offset, data) => fillByte(data, this.readData()),
      write: (_base, _offset, data) => {
        if (data.length > 0) this.writeData(data[0]);
      },
    };
    this.commandPort = {
      read: (_base, _offset, data) => fillByte(data, this.readStatus()),
      write: (_base, _offset, data) => {
        if (data.length > 0) this.writeCommand(data[0]);
      },
    };
  }

  /** The A20 gate as the output port drives it. */
  get a20Enabled(): boolean {
    return (this.outputPort & I8042OutputPort.A20) !== 0;
  }

  /** The keyboard LEDs the guest set: bit 0 Scroll Lock, 1 Num Lock, 2 Caps Lock. */
  get keyboardLeds(): number {
    return this.keyboard.leds;
  }

  /** The command byte (controller RAM byte 0). */
  get commandByte(): number {
    return this.ram[0];
  }

  /**
   * Presses a key, named by its KeyboardEvent.code ("KeyA", "Enter", "ArrowUp", ...). Returns false for an unknown
   * key or when the keyboard's 16-byte buffer is full (try again after the guest has read some bytes).
   */
  pressKey(code: string): boolean {
    return this.keyEvent(code, false);
  }

  releaseKey(code: string): boolean {
    return this.keyEvent(code, true);
  }

  /**
   * Types ASCII text on a US layout (press and release per character, with Shift where needed; "\n" is Enter).
   * Returns how many characters were consumed: typing stops at the first character that does not fit in the
   * keyboard's buffer, so pass the rest again later. Characters no key types are skipped (and counted).
   */
  typeText(text: string): number {
    let consumed = 0;
    for (const char of text) {
      if (this.keyboard.typeCharacter(char) === "no-room") break;
      consumed += char.length;
      this.fillOutputBuffer();
    }
    return consumed;
  }

  /**
   * A host mouse event: motion (x right, y up) and the buttons held (bit 0 left, 1 right, 2 middle). Returns
   * whether a packet was queued (the guest must have enabled reporting).
   */
  moveMouse(dx: number, dy: number, buttons: number): boolean {
    const queued = this.mouse.move(dx, dy, buttons);
    this.fillOutputBuffer();
    return queued;
  }

  /** Power-on state of the controller, keyboard and mouse. Reports A20 if reset turns it back on. */
  reset(): void {
    const a20Before = this.a20Enabled;
    this.ram.fill(0);
    this.ram[0] = RESET_COMMAND_BYTE;
    this.outputPort = RESET_OUTPUT_PORT;
    this.outputBuffer = 0;
    this.outputFull = false;
    this.outputFromAux = false;
    this.systemFlag = false;
    this.lastWriteWasCommand = true;
    this.pendingCommand = 0;
    this.pendingOutput.clear();
    this.pendingOutputIsAux.clear();
    this.translateBreak = false;
    this.keyboard.reset();
    this.mouse.reset();
    this.updateInterrupts();
    if (this.a20Enabled !== a20Before) this.onA20?.(this.a20Enabled);
  }

  getState(): I8042State {
    const pending = this.pendingOutput.contents();
    const aux = this.pendingOutputIsAux.contents();
    return {
      ram: Array.from(this.ram),
      outputPort: this.outputPort,
      outputBuffer: this.outputBuffer,
      outputFull: this.outputFull,
      outputFromAux: this.outputFromAux,
      systemFlag: this.systemFlag,
      lastWriteWasCommand: this.lastWriteWasCommand,
      pendingCommand: this.pendingCommand,
      pendingOutput: pending.map((byte, i) => byte | (aux[i] << 8)),
      translateBreak: this.translateBreak,
      keyboard: this.keyboard.getState(),
      mouse: this.mouse.getState(),
    };
  }

  /** Restores a snapshot; malformed fields are replaced by defaults. Drives the IRQ lines and A20 to match. */
  setState(state: I8042State): void {
    const s: Partial<I8042State> = state !== null && typeof state === "object" ? state : {};
    const a20Before = this.a20Enabled;
    const ram = Array.isArray(s.ram) ? s.ram : [];
    for (let i = 0; i < RAM_SIZE; i++) this.ram[i] = typeof ram[i] === "number" ? ram[i] & 0xff : 0;
    if (!Array.isArray(s.ram)) this.ram[0] = RESET_COMMAND_BYTE;
    this.outputPort = typeof s.outputPort === "number" ? s.outputPort & 0xff : RESET_OUTPUT_PORT;
    this.outputBuffer = typeof s.outputBuffer === "number" ? s.outputBuffer & 0xff : 0;
    this.outputFull = s.outputFull === true;
    this.outputFromAux = s.outputFromAux === true;
    this.systemFlag = s.systemFlag === true;
    this.lastWriteWasCommand = s.lastWriteWasCommand !== false;
    this.pendingCommand = typeof s.pendingCommand === "number" ? s.pendingCommand & 0xff : 0;
    this.pendingOutput.clear();
    this.pendingOutputIsAux.clear();
    for (const entry of Array.isArray(s.pendingOutput) ? s.pendingOutput : []) {
      const value = typeof entry === "number" ? entry : 0;
      if (!this.pendingOutput.push(value & 0xff)) break;
      this.pendingOutputIsAux.push((value >>> 8) & 1);
    }
    this.translateBreak = s.translateBreak === true;
    this.keyboard.setState(s.keyboard as Ps2KeyboardState);
    this.mouse.setState(s.mouse as Ps2MouseState);
    this.updateInterrupts();
    if (this.a20Enabled !== a20Before) this.onA20?.(this.a20Enabled);
  }

  private readData(): number {
    const byte = this.outputBuffer;
    if (this.outputFull) {
      this.outputFull = false;
      this.updateInterrupts();
      this.fillOutputBuffer();
    }
    return byte;
  }

  private readStatus(): number {
    let status = I8042Status.Unlocked;
    if (this.outputFull) status |= I8042Status.OutputFull;
    if (this.outputFull && this.outputFromAux) status |= I8042Status.AuxData;
    if (this.systemFlag) status |= I8042Status.System;
    if (this.lastWriteWasCommand) status |= I8042Status.Command;
    return status;
  }

  private writeData(byte: number): void {
    this.lastWriteWasCommand = false;
    const command = this.pendingCommand;
    this.pendingCommand = 0;
    if (command === 0) {
      this.keyboard.receive(byte);
    } else if ((command & 0xe0) === I8042Command.WriteRam) {
      this.writeRam(command & 0x1f, byte);
    } else {
      switch (command) {
        case I8042Command.WriteOutputPort:
          this.writeOutputPort(byte);
          break;
        case I8042Command.WriteKeyboardOutput:
          this.queueOutput(byte, false);
          break;
        case I8042Command.WriteAuxOutput:
          this.queueOutput(byte, true);
          break;
        default: // WriteAux
          this.mouse.receive(byte);
      }
    }
    this.fillOutputBuffer();
  }

  private writeCommand(command: number): void {
    this.lastWriteWasCommand = true;
    this.pendingCommand = 0;
    if ((command & 0xe0) === I8042Command.ReadRam) {
      this.queueOutput(this.ram[command & 0x1f], false);
    } else if ((command & 0xe0) === I8042Command.WriteRam) {
      this.pendingCommand = command;
    } else if ((command & 0xf0) === I8042Command.PulseOutputPort) {
      // A 0 in bit n of the low nibble pulses output line n low for 6 us; only the reset line (bit 0) has an
      // effect worth modelling.
      if ((command & I8042OutputPort.Reset) === 0) this.onReset?.();
    } else {
      this.controllerCommand(command);
    }
    this.fillOutputBuffer();
  }

  private controllerCommand(command: number): void {
    switch (command) {
      case I8042Command.PasswordInstalled:
        this.queueOutput(NO_PASSWORD, false);
        return;
      case I8042Command.DisableAux:
        this.ram[0] |= I8042Config.AuxDisabled;
        return;
      case I8042Command.EnableAux:
        this.ram[0] &= ~I8042Config.AuxDisabled;
        return;
      case I8042Command.TestAux:
      case I8042Command.TestKeyboard:
        this.queueOutput(INTERFACE_TEST_PASSED, false);
        return;
      case I8042Command.SelfTest:
        this.systemFlag = true;
        this.queueOutput(SELF_TEST_PASSED, false);
        return;
      case I8042Command.DisableKeyboard:
        this.ram[0] |= I8042Config.KeyboardDisabled;
        return;
      case I8042Command.EnableKeyboard:
        this.ram[0] &= ~I8042Config.KeyboardDisabled;
        return;
      case I8042Command.ReadInputPort:
        this.queueOutput(INPUT_PORT, false);
        return;
      case I8042Command.ReadOutputPort:
        this.queueOutput(this.readOutputPort(), false);
        return;
      case I8042Command.WriteOutputPort:
      case I8042Command.WriteKeyboardOutput:
      case I8042Command.WriteAuxOutput:
      case I8042Command.WriteAux:
        this.pendingCommand = command;
        return;
      case I8042Command.DisableA20:
        this.writeOutputPort(this.outputPort & ~I8042OutputPort.A20);
        return;
      case I8042Command.EnableA20:
        this.writeOutputPort(this.outputPort | I8042OutputPort.A20);
        return;
      default:
        // Vendor-specific or undefined commands: ignored, as the 8042 firmware does.
        return;
    }
  }

  private writeRam(index: number, value: number): void {
    this.ram[index] = value;
    if (index !== 0) return;
    this.systemFlag = (value & I8042Config.System) !== 0;
    if ((value & I8042Config.Translate) === 0) this.translateBreak = false;
    this.updateInterrupts();
  }

  private readOutputPort(): number {
    let value = this.outputPort & ~(I8042OutputPort.KeyboardOutputFull | I8042OutputPort.AuxOutputFull);
    if (this.outputFull) {
      value |= this.outputFromAux ? I8042OutputPort.AuxOutputFull : I8042OutputPort.KeyboardOutputFull;
    }
    return value;
  }

  private writeOutputPort(value: number): void {
    const a20Before = this.a20Enabled;
    this.outputPort = value;
    if (this.a20Enabled !== a20Before) this.onA20?.(this.a20Enabled);
    if ((value & I8042OutputPort.Reset) === 0) this.onReset?.();
  }

  private keyEvent(code: string, release: boolean): boolean {
    const accepted = this.keyboard.keyEvent(code, release);
    this.fillOutputBuffer();
    return accepted;
  }

  /** Queues a byte the controller itself produces; dropped if the guest let 16 of them pile up. */
  private queueOutput(byte: number, aux: boolean): void {
    if (this.pendingOutput.push(byte)) this.pendingOutputIsAux.push(aux ? 1 : 0);
  }

  /** Moves the next waiting byte into an empty output buffer. */
  private fillOutputBuffer(): void {
    if (this.outputFull) return;
    if (this.pendingOutput.count > 0) {
      const byte = this.pendingOutput.shift();
      this.load(byte, this.pendingOutputIsAux.shift() === 1);
      return;
    }
    const config = this.ram[0];
    if ((config & I8042Config.KeyboardDisabled) === 0) {
      while (this.keyboard.hasData()) {
        const byte = this.keyboard.takeByte();
        if ((config & I8042Config.Translate) === 0) {
          this.load(byte, false);
          return;
        }
        // Translation swallows the set 2 break prefix and marks the next byte as a break instead.
        if (byte === BREAK_PREFIX) {
          this.translateBreak = true;
          continue;
        }
        const translated = SET2_TO_SET1[byte] | (this.translateBreak ? 0x80 : 0);
        this.translateBreak = false;
        this.load(translated, false);
        return;
      }
    }
    if ((config & I8042Config.AuxDisabled) === 0 && this.mouse.hasData())
      this.load(this.mouse.takeByte(), true);
  }

  private load(byte: number, aux: boolean): void {
    this.outputBuffer = byte;
    this.outputFull = true;
    this.outputFromAux = aux;
    this.updateInterrupts();
  }

  private updateInterrupts(): void {
    const config = this.ram[0];
    const keyboard = this.outputFull && !this.outputFromAux && (config & I8042Config.KeyboardInterrupt) !== 0;
    const aux = this.outputFull && this.outputFromAux && (config & I8042Config.AuxInterrupt) !== 0;
    if (keyboard !== this.keyboardIrqLevel) {
      this.keyboardIrqLevel = keyboard;
      this.keyboardIrq.set(keyboard);
    }
    if (aux !== this.auxIrqLevel) {
      this.auxIrqLevel = aux;
      this.auxIrq.set(aux);
    }
  }
}

/** A one-byte register read at any width: the low byte, the rest 0. */
function fillByte(data: Uint8Array, value: number): void {
  if (data.length === 0) return;
  data[0] = value;
  for (let i = 1; i < data.length; i++) data[i] = 0;
}

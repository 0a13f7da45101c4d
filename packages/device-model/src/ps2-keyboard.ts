// A PS/2 (MF2) keyboard as the i8042 sees it on its keyboard port: it takes command bytes, answers them and sends
// scancodes for host key events in set 1 or 2.
//
// Model choices: the keyboard answers at once (no 500 ms self-test delay); scancode set 3 is not offered (the
// keyboard answers 0xFE to a request for it, as keyboards without set 3 do, and Linux falls back to set 2); the
// typematic setting is stored but keys do not auto-repeat, since the host delivers its own repeats as presses.

import { ByteQueue } from "./byte-queue.js";
import { asciiKey, emitKeyEvent, keyEventLength, keyScancode } from "./scancodes.js";

/** Snapshot of the keyboard behind an I8042. */
export interface Ps2KeyboardState {
  /** Bytes waiting to be sent to the controller, oldest first. */
  queue: number[];
  scancodeSet: 1 | 2;
  scanning: boolean;
  /** LED bits: 0 Scroll Lock, 1 Num Lock, 2 Caps Lock. */
  leds: number;
  /** Typematic rate/delay byte (bits 0-6). */
  typematic: number;
  /** Command waiting for its argument byte (0xED, 0xF0 or 0xF3), or 0. */
  pendingCommand: number;
  /** The last byte sent, for the Resend command. */
  lastSent: number;
}

/** Keyboard commands and replies. */
export const KeyboardCommand = {
  SetLeds: 0xed,
  Echo: 0xee,
  ScancodeSet: 0xf0,
  Identify: 0xf2,
  SetTypematic: 0xf3,
  EnableScanning: 0xf4,
  DisableScanning: 0xf5,
  SetDefaults: 0xf6,
  Resend: 0xfe,
  Reset: 0xff,
} as const;

export const KeyboardReply = {
  Ack: 0xfa,
  SelfTestPassed: 0xaa,
  Resend: 0xfe,
  Echo: 0xee,
} as const;

/** The keyboard's output buffer, as on real keyboards. */
const QUEUE_SIZE = 16;
/** 10.9 characters per second after 500 ms. */
const DEFAULT_TYPEMATIC = 0x2b;
const SHIFT = "ShiftLeft";

export class Ps2Keyboard {
  private readonly queue = new ByteQueue(QUEUE_SIZE);
  private readonly emit = (byte: number): void => {
    this.queue.push(byte);
  };
  private scancodeSet: 1 | 2 = 2;
  private scanning = true;
  private ledBits = 0;
  private typematic = DEFAULT_TYPEMATIC;
  private pendingCommand = 0;
  private lastSent = 0;

  get leds(): number {
    return this.ledBits;
  }

  hasData(): boolean {
    return this.queue.count > 0;
  }

  /** Sends the next byte to the controller; call only when hasData(). */
  takeByte(): number {
    const byte = this.queue.shift();
    this.lastSent = byte;
    return byte;
  }

  /** A byte from the controller (a command or a command's argument). */
  receive(byte: number): void {
    // Any command but Resend flushes what the keyboard had not sent yet.
    if (byte !== KeyboardCommand.Resend) this.queue.clear();
    const pending = this.pendingCommand;
    if (pending !== 0) {
      this.pendingCommand = 0;
      this.receiveArgument(pending, byte);
      return;
    }
    switch (byte) {
      case KeyboardCommand.SetLeds:
      case KeyboardCommand.ScancodeSet:
      case KeyboardCommand.SetTypematic:
        this.pendingCommand = byte;
        this.emit(KeyboardReply.Ack);
        return;
      case KeyboardCommand.Echo:
        this.emit(KeyboardReply.Echo);
        return;
      case KeyboardCommand.Identify:
        // MF2 keyboard (0xAB 0x83; the i8042 translates the 0x83 to 0x41).
        this.emit(KeyboardReply.Ack);
        this.emit(0xab);
        this.emit(0x83);
        return;
      case KeyboardCommand.EnableScanning:
        this.scanning = true;
        this.emit(KeyboardReply.Ack);
        return;
      case KeyboardCommand.DisableScanning:
        this.setDefaults();
        this.scanning = false;
        this.emit(KeyboardReply.Ack);
        return;
      case KeyboardCommand.SetDefaults:
        this.setDefaults();
        this.scanning = true;
        this.emit(KeyboardReply.Ack);
        return;
      case KeyboardCommand.Resend:
        this.emit(this.lastSent);
        return;
      case KeyboardCommand.Reset:
        this.setDefaults();
        this.scanning = true;
        this.ledBits = 0;
        this.emit(KeyboardReply.Ack);
        this.emit(KeyboardReply.SelfTestPassed);
        return;
      default:
        // Unknown, or a set 3 key-type command (0xF7-0xFD): ask for something else.
        this.emit(KeyboardReply.Resend);
    }
  }

  /**
   * A host key press or release by KeyboardEvent.code. Returns false for an unknown key or when the output buffer
   * has no room for the whole event (retry later). While scanning is disabled the event is discarded (true).
   */
  keyEvent(code: string, release: boolean): boolean {
    const scancode = keyScancode(code, this.scancodeSet);
    if (scancode === undefined) return false;
    if (!this.scanning) return true;
    if (this.queue.free < keyEventLength(scancode, this.scancodeSet, release)) return false;
    emitKeyEvent(scancode, this.scancodeSet, release, this.emit);
    return true;
  }

  /**
   * Types one ASCII character (press and release, inside Shift if needed) as a unit. Returns "typed", "no-room"
   * (nothing queued; retry later) or "unmapped" (no key types it).
   */
  typeCharacter(char: string): "typed" | "no-room" | "unmapped" {
    const key = asciiKey(char);
    if (key === undefined) return "unmapped";
    if (!this.scanning) return "typed";
    const set = this.scancodeSet;
    const scancode = keyScancode(key.code, set) as number;
    const shift = keyScancode(SHIFT, set) as number;
    let length = keyEventLength(scancode, set, false) + keyEventLength(scancode, set, true);
    if (key.shift) length += keyEventLength(shift, set, false) + keyEventLength(shift, set, true);
    if (this.queue.free < length) return "no-room";
    if (key.shift) emitKeyEvent(shift, set, false, this.emit);
    emitKeyEvent(scancode, set, false, this.emit);
    emitKeyEvent(scancode, set, true, this.emit);
    if (key.shift) emitKeyEvent(shift, set, true, this.emit);
    return "typed";
  }

  /** Power-on state: set 2, scanning, LEDs off, nothing queued. */
  reset(): void {
    this.queue.clear();
    this.setDefaults();
    this.scanning = true;
    this.ledBits = 0;
    this.pendingCommand = 0;
    this.lastSent = 0;
  }

  getState(): Ps2KeyboardState {
    return {
      queue: this.queue.contents(),
      scancodeSet: this.scancodeSet,
      scanning: this.scanning,
      leds: this.ledBits,
      typematic: this.typematic,
      pendingCommand: this.pendingCommand,
      lastSent: this.lastSent,
    };
  }

  setState(state: Ps2KeyboardState): void {
    const s: Partial<Ps2KeyboardState> = state !== null && typeof state === "object" ? state : {};
    this.queue.load(s.queue);
    this.scancodeSet = s.scancodeSet === 1 ? 1 : 2;
    this.scanning = s.scanning !== false;
    this.ledBits = typeof s.leds === "number" ? s.leds & 7 : 0;
    this.typematic = typeof s.typematic === "number" ? s.typematic & 0x7f : DEFAULT_TYPEMATIC;
    const pending = s.pendingCommand;
    this.pendingCommand =
      pending === KeyboardCommand.SetLeds ||
      pending === KeyboardCommand.ScancodeSet ||
      pending === KeyboardCommand.SetTypematic
        ? pending
        : 0;
    this.lastSent = typeof s.lastSent === "number" ? s.lastSent & 0xff : 0;
  }

  private receiveArgument(command: number, argument: number): void {
    switch (command) {
      case KeyboardCommand.SetLeds:
        this.ledBits = argument & 7;
        this.emit(KeyboardReply.Ack);
        return;
      case KeyboardCommand.SetTypematic:
        this.typematic = argument & 0x7f;
        this.emit(KeyboardReply.Ack);
        return;
      default: // ScancodeSet
        if (argument === 0) {
          this.emit(KeyboardReply.Ack);
          this.emit(this.scancodeSet);
        } else if (argument === 1 || argument === 2) {
          this.scancodeSet = argument;
          this.emit(KeyboardReply.Ack);
        } else {
          this.emit(KeyboardReply.Resend);
        }
    }
  }

  private setDefaults(): void {
    this.scancodeSet = 2;
    this.typematic = DEFAULT_TYPEMATIC;
  }
}

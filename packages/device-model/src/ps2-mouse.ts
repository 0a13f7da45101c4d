// A standard PS/2 mouse (ID 0x00: three buttons, no wheel) on the i8042's aux port: the command set a driver uses
// to probe and configure it, and 3-byte movement packets for host mouse events.

import { ByteQueue } from "./byte-queue.js";

/** Snapshot of the mouse behind an I8042. */
export interface Ps2MouseState {
  queue: number[];
  /** Data reporting enabled (0xF4). */
  reporting: boolean;
  remoteMode: boolean;
  wrapMode: boolean;
  scaling2to1: boolean;
  /** 0-3: 1, 2, 4 or 8 counts per mm. */
  resolution: number;
  sampleRate: number;
  /** Buttons held: bit 0 left, bit 1 right, bit 2 middle. */
  buttons: number;
  /** Command waiting for its argument byte (0xE8 or 0xF3), or 0. */
  pendingCommand: number;
  lastSent: number;
}

export const MouseCommand = {
  SetScaling1to1: 0xe6,
  SetScaling2to1: 0xe7,
  SetResolution: 0xe8,
  StatusRequest: 0xe9,
  SetStreamMode: 0xea,
  ReadData: 0xeb,
  ResetWrapMode: 0xec,
  SetWrapMode: 0xee,
  SetRemoteMode: 0xf0,
  GetDeviceId: 0xf2,
  SetSampleRate: 0xf3,
  EnableReporting: 0xf4,
  DisableReporting: 0xf5,
  SetDefaults: 0xf6,
  Resend: 0xfe,
  Reset: 0xff,
} as const;

const ACK = 0xfa;
const RESEND = 0xfe;
const SELF_TEST_PASSED = 0xaa;
const QUEUE_SIZE = 16;
const PACKET_SIZE = 3;
/** 2:1 scaling of motions of 0-5 counts. */
const SCALED_SMALL_MOTION = [0, 1, 1, 3, 6, 9] as const;

export class Ps2Mouse {
  private readonly queue = new ByteQueue(QUEUE_SIZE);
  private reporting = false;
  private remoteMode = false;
  private wrapMode = false;
  private scaling2to1 = false;
  private resolution = 2;
  private sampleRate = 100;
  private buttons = 0;
  private pendingCommand = 0;
  private lastSent = 0;

  hasData(): boolean {
    return this.queue.count > 0;
  }

  takeByte(): number {
    const byte = this.queue.shift();
    this.lastSent = byte;
    return byte;
  }

  /** A byte from the controller (sent with command 0xD4). */
  receive(byte: number): void {
    if (byte !== MouseCommand.Resend) this.queue.clear();
    if (this.wrapMode && byte !== MouseCommand.ResetWrapMode && byte !== MouseCommand.Reset) {
      this.queue.push(byte); // wrap (echo) mode
      return;
    }
    const pending = this.pendingCommand;
    if (pending !== 0) {
      this.pendingCommand = 0;
      if (pending === MouseCommand.SetResolution) this.resolution = byte & 3;
      else this.sampleRate = byte;
      this.queue.push(ACK);
      return;
    }
    switch (byte) {
      case MouseCommand.SetScaling1to1:
      case MouseCommand.SetScaling2to1:
        this.scaling2to1 = byte === MouseCommand.SetScaling2to1;
        this.queue.push(ACK);
        return;
      case MouseCommand.SetResolution:
      case MouseCommand.SetSampleRate:
        this.pendingCommand = byte;
        this.queue.push(ACK);
        return;
      case MouseCommand.StatusRequest:
        this.queue.push(ACK);
        this.queue.push(this.statusByte());
        this.queue.push(this.resolution);
        this.queue.push(this.sampleRate);
        return;
      case MouseCommand.SetStreamMode:
      case MouseCommand.SetRemoteMode:
        this.remoteMode = byte === MouseCommand.SetRemoteMode;
        this.queue.push(ACK);
        return;
      case MouseCommand.ReadData:
        this.queue.push(ACK);
        this.pushPacket(0, 0);
        return;
      case MouseCommand.ResetWrapMode:
      case MouseCommand.SetWrapMode:
        this.wrapMode = byte === MouseCommand.SetWrapMode;
        this.queue.push(ACK);
        return;
      case MouseCommand.GetDeviceId:
        this.queue.push(ACK);
        this.queue.push(0x00);
        return;
      case MouseCommand.EnableReporting:
      case MouseCommand.DisableReporting:
        this.reporting = byte === MouseCommand.EnableReporting;
        this.queue.push(ACK);
        return;
      case MouseCommand.SetDefaults:
        this.setDefaults();
        this.queue.push(ACK);
        return;
      case MouseCommand.Resend:
        this.queue.push(this.lastSent);
        return;
      case MouseCommand.Reset:
        this.setDefaults();
        this.wrapMode = false;
        this.queue.push(ACK);
        this.queue.push(SELF_TEST_PASSED);
        this.queue.push(0x00); // device ID
        return;
      default:
        this.queue.push(RESEND);
    }
  }

  /**
   * A host mouse event: relative motion (x right, y up, in counts) and the buttons now held (bit 0 left, 1 right,
   * 2 middle). In stream mode with reporting on, queues a movement packet and returns true; returns false when
   * nothing was sent (reporting off, remote mode, or no room for a packet).
   */
  move(dx: number, dy: number, buttons: number): boolean {
    this.buttons = buttons & 7;
    if (!this.reporting || this.remoteMode || this.queue.free < PACKET_SIZE) return false;
    this.pushPacket(this.scale(dx | 0), this.scale(dy | 0));
    return true;
  }

  /** Power-on state. */
  reset(): void {
    this.queue.clear();
    this.setDefaults();
    this.wrapMode = false;
    this.buttons = 0;
    this.pendingCommand = 0;
    this.lastSent = 0;
  }

  getState(): Ps2MouseState {
    return {
      queue: this.queue.contents(),
      reporting: this.reporting,
      remoteMode: this.remoteMode,
      wrapMode: this.wrapMode,
      scaling2to1: this.scaling2to1,
      resolution: this.resolution,
      sampleRate: this.sampleRate,
      buttons: this.buttons,
      pendingCommand: this.pendingCommand,
      lastSent: this.lastSent,
    };
  }

  setState(state: Ps2MouseState): void {
    const s: Partial<Ps2MouseState> = state !== null && typeof state === "object" ? state : {};
    this.queue.load(s.queue);
    this.reporting = s.reporting === true;
    this.remoteMode = s.remoteMode === true;
    this.wrapMode = s.wrapMode === true;
    this.scaling2to1 = s.scaling2to1 === true;
    this.resolution = typeof s.resolution === "number" ? s.resolution & 3 : 2;
    this.sampleRate = typeof s.sampleRate === "number" ? s.sampleRate & 0xff : 100;
    this.buttons = typeof s.buttons === "number" ? s.buttons & 7 : 0;
    const pending = s.pendingCommand;
    this.pendingCommand =
      pending === MouseCommand.SetResolution || pending === MouseCommand.SetSampleRate ? pending : 0;
    this.lastSent = typeof s.lastSent === "number" ? s.lastSent & 0xff : 0;
  }

  private setDefaults(): void {
    this.reporting = false;
    this.remoteMode = false;
    this.scaling2to1 = false;
    this.resolution = 2;
    this.sampleRate = 100;
  }

  /** Status byte: bit 6 remote, bit 5 reporting, bit 4 2:1 scaling, bits 0-2 right, middle, left. */
  private statusByte(): number {
    const b = this.buttons;
    const buttons = ((b & 1) << 2) | ((b & 4) >> 1) | ((b & 2) >> 1);
    return (
      (this.remoteMode ? 0x40 : 0) | (this.reporting ? 0x20 : 0) | (this.scaling2to1 ? 0x10 : 0) | buttons
    );
  }

  /** 2:1 scaling maps small motions 1,2,3,4,5 to 1,1,3,6,9 and doubles larger ones. */
  private scale(delta: number): number {
    if (!this.scaling2to1) return delta;
    const magnitude = Math.abs(delta);
    const scaled = magnitude >= 6 ? magnitude * 2 : SCALED_SMALL_MOTION[magnitude];
    return delta < 0 ? -scaled : scaled;
  }

  private pushPacket(dx: number, dy: number): void {
    const xOverflow = dx < -256 || dx > 255;
    const yOverflow = dy < -256 || dy > 255;
    const x = Math.max(-256, Math.min(255, dx));
    const y = Math.max(-256, Math.min(255, dy));
    this.queue.push(
      0x08 |
        this.buttons |
        (x < 0 ? 0x10 : 0) |
        (y < 0 ? 0x20 : 0) |
        (xOverflow ? 0x40 : 0) |
        (yOverflow ? 0x80 : 0),
    );
    this.queue.push(x & 0xff);
    this.queue.push(y & 0xff);
  }
}

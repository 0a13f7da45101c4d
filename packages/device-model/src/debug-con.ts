// QEMU's isa-debugcon (Bochs' "port E9 hack"): a write-only console for early guest output.

import type { BusDevice } from "./bus-device.js";

export interface DebugConOptions {
  /** Receives each byte the guest writes. */
  write: (byte: number) => void;
  /** Byte returned by reads, so guests can detect the device; QEMU's default is 0xE9. */
  readback?: number;
}

/**
 * QEMU's isa-debugcon (port 0xe9 by default; SeaBIOS uses 0x402). Each write sends its low byte to write(): QEMU's
 * device takes 1-byte accesses only and its bus splits wider ones, handing the device the low byte. Reads return
 * the readback byte (0xE9 unless configured) in the low byte and 0 in any further bytes. The offset is ignored.
 */
export class DebugCon implements BusDevice {
  private readonly output: (byte: number) => void;
  private readonly readback: number;

  constructor(options: DebugConOptions) {
    this.output = options.write;
    this.readback = (options.readback ?? 0xe9) & 0xff;
  }

  read(_base: number, _offset: number, data: Uint8Array): void {
    if (data.length === 0) return;
    data[0] = this.readback;
    for (let i = 1; i < data.length; i++) data[i] = 0;
  }

  write(_base: number, _offset: number, data: Uint8Array): void {
    if (data.length !== 0) this.output(data[0]);
  }
}

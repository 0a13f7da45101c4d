// System Control Port A (port 0x92 on a PC): the "fast A20" gate and the fast reset line.

import type { BusDevice } from "./bus-device.js";

export interface Port92Options {
  /** The A20 gate (bit 1) changed. It starts off. */
  onA20?: (enabled: boolean) => void;
  /** Bit 0 went from 0 to 1: the chipset pulses the CPU's reset. */
  onReset?: () => void;
}

/** Snapshot of a Port92. */
export interface Port92State {
  value: number;
}

/** Port 0x92 bits. */
export const Port92Bit = {
  /** Writing a 1 where a 0 was resets the CPU; reads back as written until reset() clears it. */
  FastReset: 0x01,
  A20: 0x02,
} as const;

/**
 * System Control Port A. Bit 1 gates A20 (the chipset ORs it with the i8042's A20 output), a 0 -> 1 transition of
 * bit 0 resets the system; the other bits (security lock, disk activity lights) are kept and read back. The
 * offset is ignored; wider accesses use their low byte and read the rest as 0.
 */
export class Port92 implements BusDevice {
  private readonly onA20: ((enabled: boolean) => void) | undefined;
  private readonly onReset: (() => void) | undefined;
  private value = 0;

  constructor(options: Port92Options = {}) {
    this.onA20 = options.onA20;
    this.onReset = options.onReset;
  }

  get a20Enabled(): boolean {
    return (this.value & Port92Bit.A20) !== 0;
  }

  read(_base: number, _offset: number, data: Uint8Array): void {
    if (data.length === 0) return;
    data[0] = this.value;
    for (let i = 1; i < data.length; i++) data[i] = 0;
  }

  write(_base: number, _offset: number, data: Uint8Array): void {
    if (data.length === 0) return;
    const before = this.value;
    this.value = data[0];
    if (((before ^ this.value) & Port92Bit.A20) !== 0) this.onA20?.(this.a20Enabled);
    if ((before & Port92Bit.FastReset) === 0 && (this.value & Port92Bit.FastReset) !== 0) this.onReset?.();
  }

  /** System reset: the register returns to 0 (A20 gate off from this source; reported if it was on). */
  reset(): void {
    const wasEnabled = this.a20Enabled;
    this.value = 0;
    if (wasEnabled) this.onA20?.(false);
  }

  getState(): Port92State {
    return { value: this.value };
  }

  /** Restores a snapshot without pulsing reset; reports A20 if it changes. */
  setState(state: Port92State): void {
    const value = state !== null && typeof state === "object" ? state.value : 0;
    const wasEnabled = this.a20Enabled;
    this.value = typeof value === "number" ? value & 0xff : 0;
    if (this.a20Enabled !== wasEnabled) this.onA20?.(this.a20Enabled);
  }
}

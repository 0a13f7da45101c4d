// The POST-code sink a PC has at port 0x80: firmware writes progress codes there.

import { accessValue, fillAccessValue } from "./access-value.js";
import type { BusDevice } from "./bus-device.js";

export interface PostCodePortOptions {
  /** Called with each code written. */
  onCode?: (code: number) => void;
}

/** Snapshot of a PostCodePort. */
export interface PostCodePortState {
  lastCode: number;
}

/**
 * A POST-code port. A write's value (little-endian, up to 4 bytes: most firmware writes 8-bit codes, some 16- or
 * 32-bit ones) becomes the last code and is reported to onCode. Reads return the last code at the read's width;
 * bytes past the fourth read as 0. The offset is ignored.
 */
export class PostCodePort implements BusDevice {
  private readonly onCode: ((code: number) => void) | undefined;
  private code = 0;

  constructor(options: PostCodePortOptions = {}) {
    this.onCode = options.onCode;
  }

  /** The last code written (0 before any write). */
  get lastCode(): number {
    return this.code;
  }

  read(_base: number, _offset: number, data: Uint8Array): void {
    fillAccessValue(data, this.code);
  }

  write(_base: number, _offset: number, data: Uint8Array): void {
    if (data.length === 0) return;
    this.code = accessValue(data);
    this.onCode?.(this.code);
  }

  getState(): PostCodePortState {
    return { lastCode: this.code };
  }

  setState(state: PostCodePortState): void {
    const code = state !== null && typeof state === "object" ? state.lastCode : 0;
    this.code = typeof code === "number" ? code >>> 0 : 0;
  }
}

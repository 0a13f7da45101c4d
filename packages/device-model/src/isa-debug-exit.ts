// QEMU's isa-debug-exit: a guest write ends the VM with a status derived from the written value.

import { accessValue } from "./access-value.js";
import type { BusDevice } from "./bus-device.js";

export interface IsaDebugExitOptions {
  /** Asked to end the VM with this exit status. */
  onExit: (status: number) => void;
}

/**
 * QEMU's isa-debug-exit device (commonly at port 0xf4, size 4). Writing value v at any offset requests the VM's
 * end with status (v << 1) | 1, so a guest can never report 0. v is the access's value, little-endian; QEMU accepts
 * accesses of up to 4 bytes and splits wider ones, so an 8-byte write uses its low 4 bytes. The status is the
 * unsigned low 32 bits, as QEMU passes it to exit(); the host OS keeps only its low 8 bits.
 * Reads return 0, as in QEMU.
 */
export class IsaDebugExit implements BusDevice {
  private readonly onExit: (status: number) => void;

  constructor(options: IsaDebugExitOptions) {
    this.onExit = options.onExit;
  }

  read(_base: number, _offset: number, data: Uint8Array): void {
    data.fill(0);
  }

  write(_base: number, _offset: number, data: Uint8Array): void {
    if (data.length === 0) return;
    this.onExit(((accessValue(data) << 1) | 1) >>> 0);
  }
}

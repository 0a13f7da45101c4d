// MSI-X (PCI Local Bus 3.0, 6.8.2): the capability in configuration space, the vector table and pending bit array
// (PBA) in a memory BAR, per-vector and function masking, and delivery of messages as memory writes.
import { type BusDevice, PciCapabilityId, type PciFunction } from "@tsvmm/device-model";
import { accessValue, fillAccess } from "./register-access.js";

/** The most vectors one function can have (an 11-bit table size). */
export const MSIX_MAX_VECTORS = 2048;
/** Bytes of one table entry. */
export const MSIX_ENTRY_SIZE = 16;

/** Message Control bits (the capability's 16-bit register at +2). */
export const MsixControl = {
  /** Read-only: table size - 1. */
  TableSizeMask: 0x07ff,
  FunctionMask: 0x4000,
  Enable: 0x8000,
} as const;

/** Offsets in a table entry. */
export const MsixEntry = {
  AddressLow: 0,
  AddressHigh: 4,
  Data: 8,
  /** Bit 0: the vector is masked (set after reset). */
  VectorControl: 12,
} as const;

const VECTOR_MASKED = 1;
const TWO_32 = 2 ** 32;
/** The table's BAR is at least a page, so the guest can map it on its own. */
const MIN_BAR_SIZE = 0x1000;

export interface MsixOptions {
  /** Number of vectors (table entries), 1 to MSIX_MAX_VECTORS. */
  vectors: number;
  /** Sends a message: a 32-bit write of `data` to `address` (a 64-bit address as a JS number). */
  signalMsi(address: number, data: number): void;
}

/**
 * One function's MSI-X. The table starts at offset 0 of its BAR and the PBA on the next 2 KiB boundary after it
 * (at 0x800 for up to 128 vectors, as in QEMU); `region` decodes both (aligned 32- and 64-bit accesses; the PBA is
 * read-only). A vector fired while MSI-X is enabled is sent, or, while the function or the vector is masked,
 * recorded in the PBA and sent when unmasked. A message is dropped while bus mastering is off (the function may not
 * write memory then), as QEMU does. The caller decides what happens while MSI-X is disabled (INTx#).
 */
export class Msix {
  readonly vectors: number;
  readonly tableOffset = 0;
  readonly pbaOffset: number;
  /** The size of the BAR holding the table and the PBA (a power of two). */
  readonly barSize: number;
  /** The BAR's registers. */
  readonly region: BusDevice;
  private readonly signalMsi: (address: number, data: number) => void;
  /** Four dwords per entry: address low, address high, data, vector control. */
  private readonly table: Uint32Array;
  private readonly pending: Uint8Array;
  private pendingCount = 0;
  private pciFunction: PciFunction | undefined;
  private capability = 0;

  constructor(options: MsixOptions) {
    const { vectors } = options;
    if (!Number.isInteger(vectors) || vectors < 1 || vectors > MSIX_MAX_VECTORS) {
      throw new RangeError(`bad MSI-X vector count ${vectors}: it must be 1 to ${MSIX_MAX_VECTORS}`);
    }
    this.vectors = vectors;
    this.signalMsi = options.signalMsi;
    this.table = new Uint32Array(4 * vectors);
    this.pending = new Uint8Array(vectors);
    this.pbaOffset = roundUp(vectors * MSIX_ENTRY_SIZE, 0x800);
    this.barSize = Math.max(MIN_BAR_SIZE, nextPowerOfTwo(this.pbaOffset + this.pbaBytes()));
    this.region = {
      read: (_base, offset, data) => this.read(offset, data),
      write: (_base, offset, data) => this.write(offset, data),
    };
    this.reset();
  }

  /**
   * Adds the capability to `pciFunction`, pointing at BAR `barIndex` (which must be this object's region, of
   * barSize bytes). Wiring time, once; returns the capability's offset.
   */
  attach(pciFunction: PciFunction, barIndex: number): number {
    if (this.pciFunction !== undefined) throw new Error("this MSI-X is already attached to a PCI function");
    const at = pciFunction.addCapability(PciCapabilityId.MsiX, 12);
    pciFunction.defineRegister(at + 2, 2, {
      value: this.vectors - 1,
      writable: MsixControl.Enable | MsixControl.FunctionMask,
    });
    pciFunction.defineRegister(at + 4, 4, { value: this.tableOffset | barIndex });
    pciFunction.defineRegister(at + 8, 4, { value: this.pbaOffset | barIndex });
    this.pciFunction = pciFunction;
    this.capability = at;
    return at;
  }

  /** The capability's Message Control register. */
  get control(): number {
    return this.pciFunction?.config.word(this.capability + 2) ?? 0;
  }

  get enabled(): boolean {
    return (this.control & MsixControl.Enable) !== 0;
  }

  get functionMasked(): boolean {
    return (this.control & MsixControl.FunctionMask) !== 0;
  }

  isValidVector(vector: number): boolean {
    return Number.isInteger(vector) && vector >= 0 && vector < this.vectors;
  }

  vectorMasked(vector: number): boolean {
    return (this.table[4 * vector + 3] & VECTOR_MASKED) !== 0;
  }

  isPending(vector: number): boolean {
    return this.isValidVector(vector) && this.pending[vector] !== 0;
  }

  /** Fires `vector` (ignored if it is not in the table or MSI-X is disabled). */
  notify(vector: number): void {
    if (!this.isValidVector(vector) || !this.enabled) return;
    if (this.functionMasked || this.vectorMasked(vector)) {
      if (this.pending[vector] === 0) {
        this.pending[vector] = 1;
        this.pendingCount++;
      }
      return;
    }
    this.send(vector);
  }

  /** Call after a configuration write: a function unmask or enable sends what is pending and now unmasked. */
  controlChanged(): void {
    if (this.pendingCount === 0 || !this.enabled || this.functionMasked) return;
    for (let vector = 0; vector < this.vectors && this.pendingCount > 0; vector++) {
      if (this.pending[vector] !== 0 && !this.vectorMasked(vector)) this.sendPending(vector);
    }
  }

  /** Every entry masked with a zero message, nothing pending (the capability's register resets with the function). */
  reset(): void {
    this.table.fill(0);
    for (let vector = 0; vector < this.vectors; vector++) this.table[4 * vector + 3] = VECTOR_MASKED;
    this.pending.fill(0);
    this.pendingCount = 0;
  }

  private read(offset: number, data: Uint8Array): void {
    const width = data.length;
    if ((width !== 4 && width !== 8) || offset % width !== 0) {
      data.fill(0);
      return;
    }
    fillAccess(data, this.readDword(offset), width === 8 ? this.readDword(offset + 4) : 0);
  }

  private write(offset: number, data: Uint8Array): void {
    const width = data.length;
    if ((width !== 4 && width !== 8) || offset % width !== 0) return;
    this.writeDword(offset, accessValue(data));
    if (width === 8) this.writeDword(offset + 4, accessValue(data.subarray(4)));
  }

  private readDword(offset: number): number {
    if (offset < this.vectors * MSIX_ENTRY_SIZE) return this.table[offset >> 2];
    const pba = offset - this.pbaOffset;
    if (pba < 0 || pba >= this.pbaBytes()) return 0;
    let bits = 0;
    const first = pba * 8;
    for (let bit = 0; bit < 32 && first + bit < this.vectors; bit++) {
      if (this.pending[first + bit] !== 0) bits |= 1 << bit;
    }
    return bits >>> 0;
  }

  private writeDword(offset: number, value: number): void {
    if (offset >= this.vectors * MSIX_ENTRY_SIZE) return; // the PBA and the gaps are read-only
    const vector = offset >> 4;
    switch (offset & 0xf) {
      case MsixEntry.AddressLow:
        this.table[offset >> 2] = value & ~3; // dword-aligned messages
        return;
      case MsixEntry.VectorControl:
        this.table[offset >> 2] = value & VECTOR_MASKED;
        if (
          this.pending[vector] !== 0 &&
          !this.vectorMasked(vector) &&
          this.enabled &&
          !this.functionMasked
        ) {
          this.sendPending(vector);
        }
        return;
      default:
        this.table[offset >> 2] = value;
    }
  }

  private sendPending(vector: number): void {
    this.pending[vector] = 0;
    this.pendingCount--;
    this.send(vector);
  }

  private send(vector: number): void {
    if (this.pciFunction?.busMasterEnabled !== true) return;
    const entry = 4 * vector;
    this.signalMsi(this.table[entry + 1] * TWO_32 + this.table[entry], this.table[entry + 2]);
  }

  private pbaBytes(): number {
    return Math.ceil(this.vectors / 64) * 8;
  }
}

function roundUp(value: number, alignment: number): number {
  return Math.ceil(value / alignment) * alignment;
}

function nextPowerOfTwo(value: number): number {
  return 2 ** Math.ceil(Math.log2(value));
}

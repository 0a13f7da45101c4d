// One PCI function as the bus sees it: a type 0 configuration header built from the device's identity, its BARs,
// its capability list and its INTx# pin. Device models (a virtio-pci transport, a bridge) own a PciFunction,
// define their own registers in it and drive its interrupt; the PciBus routes configuration cycles to it.

import {
  barAddress,
  barHighWritable,
  barLowWritable,
  barTypeBits,
  type PciBarDefinition,
  validateBar,
} from "./pci-bar.js";
import { PciConfigSpace, type PciRegisterDefinition } from "./pci-config-space.js";
import { PciCommand, PciConfig, PciHeaderType, PciStatus } from "./pci-registers.js";

export interface PciFunctionOptions {
  vendorId: number;
  deviceId: number;
  /** Base class << 16 | sub-class << 8 | programming interface (e.g. PciClass.HostBridge). */
  classCode: number;
  revisionId?: number;
  subsystemVendorId?: number;
  subsystemId?: number;
  /** PciInterruptPin: 0 (none, the default) or 1-4 for INTA#-INTD#. */
  interruptPin?: number;
  bars?: readonly PciBarDefinition[];
  /** Command register value after reset (default 0: no decoding until the guest enables it). */
  command?: number;
  /** Read-only status bits, e.g. PciStatus.DevselMedium (default 0). */
  status?: number;
  /** Called before a guest configuration read of `length` bytes at `offset`, so the device can refresh them. */
  onConfigRead?: (offset: number, length: number) => void;
  /**
   * Called after a guest configuration write of `length` bytes at `offset` was applied through the masks, and with
   * (0, 256) after reset() or setState() replaced the guest-changeable bits, so the device can act on its registers.
   */
  onConfigWrite?: (offset: number, length: number) => void;
}

/** Snapshot of a PciFunction (plain, JSON-serialisable). */
export interface PciFunctionState {
  /** The 256 configuration bytes; setState takes only the guest-changeable bits from them. */
  config: number[];
  /** The device's INTx# request. */
  interruptRequest: boolean;
}

/** How a function reaches the bus it is registered on (set by PciBus.register). */
export interface PciFunctionLink {
  /** The function's INTx# output changed. */
  interruptChanged(pciFunction: PciFunction, asserted: boolean): void;
  /** A BAR's decoded address changed (-1: not decoded). */
  barMoved(pciFunction: PciFunction, bar: PciBarDefinition, oldAddress: number, newAddress: number): void;
}

/** Command bits a guest may change (QEMU's set plus parity and SERR# reporting). */
const COMMAND_WRITABLE =
  PciCommand.IoSpace |
  PciCommand.MemorySpace |
  PciCommand.BusMaster |
  PciCommand.ParityErrorResponse |
  PciCommand.Serr |
  PciCommand.InterruptDisable;
/** Status bits that record errors: write 1 to clear. */
const STATUS_WRITE_ONE_TO_CLEAR =
  PciStatus.MasterDataParityError |
  PciStatus.SignaledTargetAbort |
  PciStatus.ReceivedTargetAbort |
  PciStatus.ReceivedMasterAbort |
  PciStatus.SignaledSystemError |
  PciStatus.DetectedParityError;
const STATUS_DYNAMIC = PciStatus.InterruptStatus | PciStatus.CapabilitiesList;
const BAR_SLOTS = 6;
const CONFIG_END = 0x100;

/**
 * A PCI function's configuration space and the behaviour the header defines:
 *
 * - identity (vendor, device, class, revision, subsystem, header type, interrupt pin) is read-only;
 * - command: I/O, memory, bus master, parity, SERR# and interrupt disable are writable; status: interrupt status and
 *   capabilities list are read-only and kept up to date, error bits are write-1-to-clear;
 * - cache line size, latency timer and interrupt line are plain read/write storage (firmware writes the IRQ it
 *   routed INTx# to into the interrupt line);
 * - BARs: the address bits above the size are writable and the type bits read-only, so writing all ones and
 *   reading back gives the size. Changes to where a BAR is decoded (its address, or the command register's
 *   memory/I/O enable) are reported to the bus, which tells the VMM;
 * - everything else reads 0 unless the device defines it (defineRegister, addCapability); the expansion ROM BAR
 *   is absent (reads 0).
 */
export class PciFunction {
  /** The configuration bytes (device-side access: the function's own registers and capability contents). */
  readonly config = new PciConfigSpace();
  readonly bars: readonly PciBarDefinition[];
  readonly interruptPin: number;
  private readonly barSlots: (PciBarDefinition | undefined)[] = new Array(BAR_SLOTS).fill(undefined);
  private readonly mapped = new Float64Array(BAR_SLOTS).fill(-1);
  /** Bytes of the device-specific area already taken by registers or capabilities. */
  private readonly used = new Uint8Array(CONFIG_END);
  /** Bytes holding capability IDs and next pointers (defineRegister must not touch them). */
  private readonly capabilityHeader = new Uint8Array(CONFIG_END);
  private readonly onConfigRead: ((offset: number, length: number) => void) | undefined;
  private readonly onConfigWrite: ((offset: number, length: number) => void) | undefined;
  private link: PciFunctionLink | undefined;
  private lastCapability = 0;
  private interruptRequest = false;
  private interruptOutput = false;

  constructor(options: PciFunctionOptions) {
    const pin = options.interruptPin ?? 0;
    if (!Number.isInteger(pin) || pin < 0 || pin > 4) throw new RangeError(`bad interrupt pin ${pin}`);
    this.interruptPin = pin;
    this.onConfigRead = options.onConfigRead;
    this.onConfigWrite = options.onConfigWrite;
    const c = this.config;
    c.define(PciConfig.VendorId, 2, { value: options.vendorId & 0xffff });
    c.define(PciConfig.DeviceId, 2, { value: options.deviceId & 0xffff });
    c.define(PciConfig.Command, 2, {
      value: (options.command ?? 0) & COMMAND_WRITABLE,
      writable: COMMAND_WRITABLE,
    });
    c.define(PciConfig.Status, 2, {
      value: (options.status ?? 0) & ~(STATUS_DYNAMIC | STATUS_WRITE_ONE_TO_CLEAR) & 0xffff,
      writeOneToClear: STATUS_WRITE_ONE_TO_CLEAR,
    });
    c.define(PciConfig.RevisionId, 1, { value: options.revisionId ?? 0 });
    c.define(PciConfig.ClassCode, 3, { value: options.classCode & 0xffffff });
    c.define(PciConfig.CacheLineSize, 1, { writable: 0xff });
    c.define(PciConfig.LatencyTimer, 1, { writable: 0xff });
    c.define(PciConfig.HeaderType, 1, { value: PciHeaderType.Normal });
    c.define(PciConfig.SubsystemVendorId, 2, { value: (options.subsystemVendorId ?? 0) & 0xffff });
    c.define(PciConfig.SubsystemId, 2, { value: (options.subsystemId ?? 0) & 0xffff });
    c.define(PciConfig.InterruptLine, 1, { writable: 0xff });
    c.define(PciConfig.InterruptPin, 1, { value: pin });
    this.bars = [...(options.bars ?? [])];
    for (const bar of this.bars) this.defineBar(bar);
    this.used.fill(1, 0, PciConfig.DeviceSpecific);
  }

  /** The command register. */
  get command(): number {
    return this.config.word(PciConfig.Command);
  }

  /** Whether the guest enabled bus mastering (a device must not DMA without it). */
  get busMasterEnabled(): boolean {
    return (this.command & PciCommand.BusMaster) !== 0;
  }

  /** The device's INTx# request (status bit 3). */
  get interruptRequested(): boolean {
    return this.interruptRequest;
  }

  /** What the function drives on its INTx# pin: the request, unless the command register disables it. */
  get interruptAsserted(): boolean {
    return this.interruptOutput;
  }

  /** A guest configuration read (the bus has decoded the function); never throws. */
  readConfig(offset: number, data: Uint8Array): void {
    this.onConfigRead?.(offset, data.length);
    this.config.read(offset, data);
  }

  /** A guest configuration write through the access masks; never throws. */
  writeConfig(offset: number, data: Uint8Array): void {
    if (!(Number.isInteger(offset) && offset >= 0 && offset < CONFIG_END)) return;
    this.config.write(offset, data);
    const end = offset + data.length;
    const command = offset < PciConfig.Command + 2 && end > PciConfig.Command;
    if (command) this.updateInterrupt();
    if (command || (offset < PciConfig.Bar0 + 4 * BAR_SLOTS && end > PciConfig.Bar0)) this.updateBars();
    this.onConfigWrite?.(offset, data.length);
  }

  /** Drives the device's INTx# request (asserted = interrupt wanted). Without an interrupt pin nothing is driven. */
  setInterrupt(asserted: boolean): void {
    this.interruptRequest = asserted;
    const status = this.config.word(PciConfig.Status);
    this.config.setWord(
      PciConfig.Status,
      asserted ? status | PciStatus.InterruptStatus : status & ~PciStatus.InterruptStatus,
    );
    this.updateInterrupt();
  }

  /** Where BAR slot `index` is decoded now, or undefined (not decoded, or no BAR there). */
  barAddress(index: number): number | undefined {
    const address = this.mapped[index];
    return address === undefined || address < 0 ? undefined : address;
  }

  /**
   * Defines a device-specific register in 0x40-0xff (wiring time: a RangeError if it is outside that area or
   * covers a capability's ID or next pointer). Capability contents are defined this way too.
   */
  defineRegister(offset: number, width: number, definition: PciRegisterDefinition): void {
    if (!Number.isInteger(offset) || offset < PciConfig.DeviceSpecific || offset + width > CONFIG_END) {
      throw new RangeError(`register at ${offset} is outside the device-specific area 0x40-0xff`);
    }
    for (let at = offset; at < offset + width; at++) {
      if (this.capabilityHeader[at] !== 0) {
        throw new RangeError(`register at ${offset} covers a capability header`);
      }
    }
    this.config.define(offset, width, definition);
    this.used.fill(1, offset, offset + width);
  }

  /**
   * Adds a capability of `length` bytes (ID and next pointer included) to the end of the capability list and
   * returns its offset: `offset` if given (dword-aligned, free), else the first free dword-aligned space from 0x40.
   * Its ID and next pointer are read-only; define its other fields with defineRegister(offset + 2, ...). Throws a
   * RangeError if it does not fit (wiring time).
   */
  addCapability(id: number, length: number, offset?: number): number {
    if (!Number.isInteger(length) || length < 2 || length > CONFIG_END - PciConfig.DeviceSpecific) {
      throw new RangeError(`bad capability length ${length}`);
    }
    const span = (length + 3) & ~3;
    const at = offset ?? this.findFree(span);
    if (at < 0 || !this.isFree(at, span)) throw new RangeError(`no room for a ${length}-byte capability`);
    this.used.fill(1, at, at + span);
    this.capabilityHeader[at] = 1;
    this.capabilityHeader[at + 1] = 1;
    this.config.define(at, 1, { value: id & 0xff });
    this.config.define(at + 1, 1, { value: 0 });
    if (this.lastCapability === 0) {
      this.config.define(PciConfig.CapabilitiesPointer, 1, { value: at });
      const status = this.config.word(PciConfig.Status);
      this.config.setWord(PciConfig.Status, status | PciStatus.CapabilitiesList);
    } else {
      this.config.define(this.lastCapability + 1, 1, { value: at });
    }
    this.lastCapability = at;
    return at;
  }

  /** The bus's side of the function (PciBus.register calls it; a function sits in one slot only). */
  attach(link: PciFunctionLink): void {
    if (this.link !== undefined) throw new Error("this PCI function is already registered on a bus");
    this.link = link;
    if (this.interruptOutput) link.interruptChanged(this, true);
    for (const bar of this.bars) {
      const address = this.mapped[bar.index];
      if (address >= 0) link.barMoved(this, bar, -1, address);
    }
  }

  /** Sets or clears the header type's multi-function bit (the bus does, for devices with several functions). */
  setMultiFunction(multiFunction: boolean): void {
    const type = this.config.byte(PciConfig.HeaderType);
    this.config.setByte(
      PciConfig.HeaderType,
      multiFunction ? type | PciHeaderType.MultiFunction : type & ~PciHeaderType.MultiFunction,
    );
  }

  /** RST#: every guest-changeable bit returns to its defined value (decoding off); the INTx# request is kept. */
  reset(): void {
    this.config.resetGuestBits();
    this.updateInterrupt();
    this.updateBars();
    this.onConfigWrite?.(0, CONFIG_END);
  }

  getState(): PciFunctionState {
    return { config: this.config.toArray(), interruptRequest: this.interruptRequest };
  }

  /** Restores a snapshot's guest-changeable bits and INTx# request; reports BAR moves and drives INTx# to match. */
  setState(state: PciFunctionState): void {
    const s: Partial<PciFunctionState> = state !== null && typeof state === "object" ? state : {};
    this.config.restoreGuestBits(s.config);
    this.setInterrupt(s.interruptRequest === true);
    this.updateBars();
    this.onConfigWrite?.(0, CONFIG_END);
  }

  private defineBar(bar: PciBarDefinition): void {
    validateBar(bar);
    const slots = bar.kind === "memory64" ? [bar.index, bar.index + 1] : [bar.index];
    for (const slot of slots) {
      if (this.barSlots[slot] !== undefined) throw new RangeError(`BAR slot ${slot} is defined twice`);
      this.barSlots[slot] = bar;
    }
    const at = PciConfig.Bar0 + 4 * bar.index;
    this.config.define(at, 4, { value: barTypeBits(bar), writable: barLowWritable(bar) });
    if (bar.kind === "memory64") this.config.define(at + 4, 4, { writable: barHighWritable(bar) });
  }

  private updateInterrupt(): void {
    const output =
      this.interruptRequest && this.interruptPin !== 0 && (this.command & PciCommand.InterruptDisable) === 0;
    if (output === this.interruptOutput) return;
    this.interruptOutput = output;
    this.link?.interruptChanged(this, output);
  }

  private updateBars(): void {
    const command = this.command;
    for (const bar of this.bars) {
      const at = PciConfig.Bar0 + 4 * bar.index;
      const high = bar.kind === "memory64" ? this.config.dword(at + 4) : 0;
      const address = barAddress(bar, command, this.config.dword(at), high);
      const old = this.mapped[bar.index];
      if (address === old) continue;
      this.mapped[bar.index] = address;
      this.link?.barMoved(this, bar, old, address);
    }
  }

  private findFree(span: number): number {
    for (let at = PciConfig.DeviceSpecific; at + span <= CONFIG_END; at += 4) {
      if (this.isFree(at, span)) return at;
    }
    return -1;
  }

  private isFree(at: number, span: number): boolean {
    if (!Number.isInteger(at) || (at & 3) !== 0 || at < PciConfig.DeviceSpecific || at + span > CONFIG_END) {
      return false;
    }
    for (let i = at; i < at + span; i++) if (this.used[i] !== 0) return false;
    return true;
  }
}

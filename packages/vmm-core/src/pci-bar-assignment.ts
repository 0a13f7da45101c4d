// What SeaBIOS does with PCI BARs before an OS runs, done by the VMM when it boots a kernel without firmware (in the
// spirit of programPciInterruptRouting): every function's BARs get addresses and decoding is turned on, so the kernel
// finds its devices placed and only claims them.
import { PciBarBits, type PciBus, PciCommand, PciConfig } from "@tsvmm/device-model";

/** Where BARs may go: memory BARs in [memoryBase, memoryTop), I/O BARs in ports [ioBase, ioTop). */
export interface PciBarWindows {
  memoryBase: number;
  memoryTop: number;
  ioBase: number;
  ioTop: number;
}

/** One BAR as it was placed. */
export interface PciBarAssignment {
  slot: number;
  functionNumber: number;
  index: number;
  kind: "memory32" | "memory64" | "io";
  address: number;
  size: number;
}

/** Memory BARs get at least a page, as SeaBIOS gives them (so no two devices share one). */
const MEMORY_BAR_MIN_ALIGNMENT = 0x1000;
const SLOTS = 32;
const FUNCTIONS = 8;

/**
 * Places every BAR of every function on `bus`, as SeaBIOS does for QEMU's pc: memory BARs (64-bit ones too, as long
 * as they fit below 4 GiB) top-down from `memoryTop`, largest first, each aligned to its size (at least 4 KiB); I/O
 * BARs bottom-up from `ioBase`, largest first, aligned to their size. Each function then decodes the spaces its BARs
 * use (command register I/O and memory enables); bus mastering stays off, for the driver to turn on. Writes go through
 * the bus's configuration cycles, so the BARs reach the VMM's buses as a guest's writes would. Throws a RangeError
 * when the BARs do not fit (a wiring error: the same devices give the same layout every time).
 */
export function assignPciBars(bus: PciBus, windows: PciBarWindows): PciBarAssignment[] {
  const wanted: PciBarAssignment[] = [];
  for (let slot = 0; slot < SLOTS; slot++) {
    for (let functionNumber = 0; functionNumber < FUNCTIONS; functionNumber++) {
      const fn = bus.functionAt(slot, functionNumber);
      if (fn === undefined) continue;
      for (const bar of fn.bars) {
        wanted.push({ slot, functionNumber, index: bar.index, kind: bar.kind, address: 0, size: bar.size });
      }
    }
  }
  // Largest first, then in bus order (a stable sort keeps slot order among equals).
  const bySize = [...wanted].sort((a, b) => b.size - a.size);
  let memoryTop = windows.memoryTop;
  let ioNext = windows.ioBase;
  for (const bar of bySize) {
    if (bar.kind === "io") {
      const address = alignUp(ioNext, bar.size);
      if (address + bar.size > windows.ioTop)
        throw new RangeError("the PCI I/O BARs do not fit their window");
      bar.address = address;
      ioNext = address + bar.size;
    } else {
      const alignment = Math.max(bar.size, MEMORY_BAR_MIN_ALIGNMENT);
      const address = alignDown(memoryTop - bar.size, alignment);
      if (address < windows.memoryBase) throw new RangeError("the PCI memory BARs do not fit their window");
      bar.address = address;
      memoryTop = address;
    }
  }
  const data = new Uint8Array(4);
  const view = new DataView(data.buffer);
  const writeDword = (bar: PciBarAssignment, offset: number, value: number) => {
    view.setUint32(0, value >>> 0, true);
    bus.writeConfig(bar.slot, bar.functionNumber, offset, data);
  };
  for (const bar of wanted) {
    const offset = PciConfig.Bar0 + 4 * bar.index;
    writeDword(bar, offset, bar.address | (bar.kind === "io" ? PciBarBits.Io : 0));
    if (bar.kind === "memory64") writeDword(bar, offset + 4, 0);
  }
  enableDecoding(bus, wanted);
  return wanted;
}

/** Turns on I/O and memory decoding for each function with BARs of that kind, keeping its other command bits. */
function enableDecoding(bus: PciBus, bars: readonly PciBarAssignment[]): void {
  const enables = new Map<number, number>();
  for (const bar of bars) {
    const devfn = bar.slot * FUNCTIONS + bar.functionNumber;
    const bit = bar.kind === "io" ? PciCommand.IoSpace : PciCommand.MemorySpace;
    enables.set(devfn, (enables.get(devfn) ?? 0) | bit);
  }
  const command = new Uint8Array(2);
  for (const [devfn, bits] of enables) {
    const slot = devfn >> 3;
    const functionNumber = devfn & 7;
    bus.readConfig(slot, functionNumber, PciConfig.Command, command);
    const value = (command[0] | (command[1] << 8) | bits) & 0xffff;
    command[0] = value & 0xff;
    command[1] = value >> 8;
    bus.writeConfig(slot, functionNumber, PciConfig.Command, command);
  }
}

function alignUp(value: number, alignment: number): number {
  return Math.ceil(value / alignment) * alignment;
}

function alignDown(value: number, alignment: number): number {
  return Math.floor(value / alignment) * alignment;
}

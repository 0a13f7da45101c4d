import { DebugCon, IsaDebugExit, PostCodePort, Serial16550 } from "@tsvmm/device-model";
import { openHypervisor, type Vm } from "@tsvmm/kvm-api";
import type { Scheduler } from "@tsvmm/scheduler";
import { Machine, type YieldToHost } from "./machine.js";
import { PC_LAYOUT } from "./pc-layout.js";

export class MachineConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "MachineConfigError";
  }
}

/** Where a serial port's output goes and how the host feeds it. */
export interface SerialBackend {
  /** One byte the guest transmitted. */
  transmit(byte: number): void;
}

export interface PcConfig {
  /** Guest RAM in bytes (QEMU's -m). */
  memoryBytes: number;
  /** The firmware ROM image (QEMU's -bios), run from the reset vector. */
  firmware: Uint8Array;
  /** COM1's host side; omitted means no serial port (QEMU's -serial none). */
  serial?: SerialBackend;
  /** QEMU's -device isa-debug-exit,iobase=…,iosize=… */
  debugExit?: { iobase: number; iosize: number };
  /** QEMU's -debugcon: the isa-debugcon port and where its bytes go. */
  debugCon?: { iobase: number; write(byte: number): void };
  /** QEMU's -no-reboot: a triple fault ends the run instead of resetting. */
  noReboot?: boolean;
  scheduler?: Scheduler<import("@tsvmm/kvm-api").Vcpu>;
  yieldToHost?: YieldToHost;
}

/** A built PC: the machine plus the host-facing handles a front end needs. */
export interface PcMachine {
  readonly machine: Machine;
  readonly vm: Vm;
  /** Queues host bytes for COM1; they enter the UART as fast as its receiver accepts them. */
  sendSerialInput(bytes: Uint8Array): void;
  run(): ReturnType<Machine["run"]>;
}

/**
 * The recipe for a minimal PC, one step per line: a VM with its boot vCPU, RAM laid out like a PC's,
 * the firmware ROM, then the devices on their ISA ports.
 */
export function buildPc(config: PcConfig): PcMachine {
  const vm = openHypervisor().createVm({ scheduler: config.scheduler });
  vm.createVcpu(0);
  addPcRam(vm, config.memoryBytes);
  loadFirmware(vm, config.firmware);
  const devices: Array<{ reset(): void }> = [];
  const machine = new Machine(vm, {
    noReboot: config.noReboot,
    yieldToHost: config.yieldToHost,
    onReset: () => {
      for (const device of devices) device.reset();
    },
  });
  const serialInput = config.serial ? attachSerialPort(machine, config.serial, devices) : undefined;
  if (config.debugExit) attachDebugExit(machine, config.debugExit.iobase, config.debugExit.iosize);
  if (config.debugCon) attachDebugCon(machine, config.debugCon.iobase, config.debugCon.write);
  attachPostCodePort(machine);
  return {
    machine,
    vm,
    sendSerialInput: (bytes) => serialInput?.(bytes),
    run: () => machine.run(),
  };
}

/** RAM as on a PC: conventional memory below 640 KiB, the ROM area, then extended memory from 1 MiB. */
export function addPcRam(vm: Vm, memoryBytes: number): Uint8Array {
  if (!Number.isInteger(memoryBytes) || memoryBytes < PC_LAYOUT.minimumRam) {
    throw new MachineConfigError(`guest RAM must be at least ${PC_LAYOUT.minimumRam >> 20} MiB`);
  }
  if (memoryBytes > PC_LAYOUT.maximumRam) {
    throw new MachineConfigError(
      `guest RAM above ${PC_LAYOUT.maximumRam / 2 ** 20} MiB is not supported yet`,
    );
  }
  if (memoryBytes % 4096 !== 0) throw new MachineConfigError("guest RAM must be a multiple of 4 KiB");
  const ram = new Uint8Array(memoryBytes);
  const { conventionalEnd, romAreaStart, extendedStart } = PC_LAYOUT;
  vm.setUserMemoryRegion({ slot: 0, guestPhysAddr: 0, memorySize: conventionalEnd, userspaceMemory: ram });
  // 0xA0000-0xBFFFF is the legacy VGA window: no RAM, so accesses there are MMIO.
  vm.setUserMemoryRegion({
    slot: 1,
    guestPhysAddr: romAreaStart,
    memorySize: extendedStart - romAreaStart,
    userspaceMemory: ram.subarray(romAreaStart, extendedStart),
  });
  if (memoryBytes > extendedStart) {
    vm.setUserMemoryRegion({
      slot: 2,
      guestPhysAddr: extendedStart,
      memorySize: memoryBytes - extendedStart,
      userspaceMemory: ram.subarray(extendedStart),
    });
  }
  return ram;
}

/**
 * The firmware image, read-only, ending at 4 GiB where the reset vector is; its last 128 KiB (or all
 * of a smaller image) also appears just below 1 MiB, as QEMU maps it.
 */
export function loadFirmware(vm: Vm, rom: Uint8Array): void {
  const size = rom.length;
  if (size === 0 || size % 0x10000 !== 0 || size > PC_LAYOUT.maximumFirmware) {
    throw new MachineConfigError(
      `firmware image must be a non-empty multiple of 64 KiB, at most ${PC_LAYOUT.maximumFirmware >> 20} MiB (got ${size} bytes)`,
    );
  }
  const image = rom.slice();
  vm.setUserMemoryRegion({
    slot: 8,
    guestPhysAddr: 2 ** 32 - size,
    memorySize: size,
    userspaceMemory: image,
    readOnly: true,
  });
  const aliasSize = Math.min(size, 0x20000);
  const aliasBase = PC_LAYOUT.extendedStart - aliasSize;
  // The alias replaces the top of the ROM-area RAM slot: shrink that slot first so they do not overlap.
  vm.setUserMemoryRegion({
    slot: 1,
    guestPhysAddr: PC_LAYOUT.romAreaStart,
    memorySize: aliasBase - PC_LAYOUT.romAreaStart,
  });
  vm.setUserMemoryRegion({
    slot: 9,
    guestPhysAddr: aliasBase,
    memorySize: aliasSize,
    userspaceMemory: image.subarray(size - aliasSize),
    readOnly: true,
  });
}

/** COM1: a 16550A at 0x3F8 on IRQ 4, with a host input queue fed under the UART's back-pressure. */
export function attachSerialPort(
  machine: Machine,
  backend: SerialBackend,
  devices: Array<{ reset(): void }>,
  base = 0x3f8,
  irq = 4,
): (bytes: Uint8Array) => void {
  const uart = new Serial16550({ irq: machine.irqs.line(irq), transmit: (byte) => backend.transmit(byte) });
  machine.pio.insert(uart, base, 8, "serial (16550A)");
  devices.push(uart);
  let pending = new Uint8Array(0);
  machine.addPoller(() => {
    if (pending.length === 0) return;
    const accepted = uart.receive(pending);
    pending = pending.subarray(accepted);
  });
  return (bytes) => {
    const merged = new Uint8Array(pending.length + bytes.length);
    merged.set(pending);
    merged.set(bytes, pending.length);
    pending = merged;
    machine.wake();
  };
}

/** QEMU's isa-debug-exit: a write of v ends the run with exit status (v << 1) | 1. */
export function attachDebugExit(machine: Machine, iobase: number, iosize: number): void {
  const device = new IsaDebugExit({
    onExit: (status) => machine.requestExit({ kind: "debug-exit", status }),
  });
  machine.pio.insert(device, iobase, iosize, "isa-debug-exit");
}

/** QEMU's isa-debugcon: bytes written to the port go to the host. */
export function attachDebugCon(machine: Machine, iobase: number, write: (byte: number) => void): void {
  machine.pio.insert(new DebugCon({ write }), iobase, 1, "isa-debugcon");
}

/** Port 0x80, where firmware writes POST codes (and Linux writes to delay I/O). */
export function attachPostCodePort(machine: Machine): PostCodePort {
  const device = new PostCodePort();
  machine.pio.insert(device, 0x80, 1, "post-code");
  return device;
}

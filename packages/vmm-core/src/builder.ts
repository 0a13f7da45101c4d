import {
  type AcpiPm,
  DebugCon,
  type I8042,
  type IoApic,
  IsaDebugExit,
  type Mc146818Rtc,
  type PcSpeakerPort,
  type Pic8259Pair,
  type Pit8254,
  type Port92,
  PostCodePort,
  Serial16550,
} from "@tsvmm/device-model";
import { openHypervisor, type Vcpu, type VirtualClockOptions, type Vm } from "@tsvmm/kvm-api";
import type { Scheduler } from "@tsvmm/scheduler";
import { attachAcpiPm } from "./acpi-platform.js";
import { addFirmwareTables, type FirmwareTablesPlacement } from "./boot-firmware.js";
import { DeadlineScheduler } from "./deadline-scheduler.js";
import { type DirectKernelBootPlacement, kernelFormat, loadDirectKernel } from "./direct-kernel-boot.js";
import {
  type PcFirmwareDescription,
  type PcIsaDevice,
  pcFirmwareDescription,
} from "./firmware-description.js";
import { attachIoApic } from "./ioapic-platform.js";
import { Machine, type MachineExit, type YieldToHost } from "./machine.js";
import type { MultibootModule } from "./multiboot.js";
import { PC_LAYOUT } from "./pc-layout.js";
import {
  A20Gate,
  attachKeyboardController,
  attachPic,
  attachPit,
  attachPort92,
  attachRtc,
  attachSpeakerPort,
  PC_IRQ,
} from "./pc-platform.js";
import { assignPciBars } from "./pci-bar-assignment.js";
import { attachPciBus, type PcPci, programPciInterruptRouting } from "./pci-platform.js";
import {
  type AttachedVirtioDevice,
  appendVirtioMmioKernelParameters,
  attachVirtioDevices,
  linuxReadsAcpi,
  type PcVirtioDevice,
  withVirtioMmioDevices,
} from "./virtio-platform.js";

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

/**
 * QEMU's machine types: "pc", the full PC (the ISA devices plus the I/O APIC, the i440FX/PIIX3 PCI bus and the ACPI
 * PM block), and "isapc", the ISA-only PC (the 8259s are its only interrupt controller; no PCI, no ACPI).
 */
export type PcMachineType = "pc" | "isapc";

/** QEMU's -kernel, -initrd and -append: a Linux bzImage or a multiboot kernel loaded straight into RAM. */
export interface PcKernelConfig {
  image: Uint8Array;
  /** A Linux kernel's initial ramdisk. */
  initrd?: Uint8Array;
  /** A multiboot kernel's modules. */
  modules?: readonly MultibootModule[];
  cmdline: string;
}

export interface PcConfig {
  /** QEMU's -machine; default "pc". */
  machineType?: PcMachineType;
  /** Guest RAM in bytes (QEMU's -m). */
  memoryBytes: number;
  /**
   * The firmware ROM image (QEMU's -bios), run from the reset vector. Optional with `kernel`: direct kernel boot
   * needs no firmware, and without it nothing is mapped at the top of the 4 GiB space.
   */
  firmware?: Uint8Array;
  /** Direct kernel boot: loaded after the firmware, and again on every reset so a reboot boots it again. */
  kernel?: PcKernelConfig;
  /** Guest time: the host clock (default) or retired instructions (reproducible runs, QEMU's -icount). */
  clock?: VirtualClockOptions;
  /** What the RTC shows at power-on (QEMU's -rtc base=...); default the host's current time. */
  rtcStartTime?: Date;
  /** COM1's host side; omitted means no serial port (QEMU's -serial none). */
  serial?: SerialBackend;
  /** QEMU's -device isa-debug-exit,iobase=…,iosize=… */
  debugExit?: { iobase: number; iosize: number };
  /** QEMU's -debugcon: the isa-debugcon port and where its bytes go. */
  debugCon?: { iobase: number; write(byte: number): void };
  /** QEMU's -no-reboot: a reset request (triple fault, i8042, port 0x92) ends the run instead of resetting. */
  noReboot?: boolean;
  /**
   * virtio devices (QEMU's -device virtio-*-pci and virtio-*-device): virtio-pci functions on PCI bus 0 (pc only) and
   * virtio-mmio windows at 0xFEB00000 + n * 0x200 with ISA IRQs 5, 6, 7, 3, 14, 15 (virtio-platform.ts). With a
   * Linux kernel, each virtio-mmio device's `virtio_mmio.device=` parameter is appended to its command line.
   */
  virtio?: readonly PcVirtioDevice[];
  /** Why a virtio device set DEVICE_NEEDS_RESET (its name, the reason), for the VMM's log. */
  onVirtioError?: (name: string, reason: string) => void;
  /** Which vCPU runs next and for how long (default round robin); slices never run past a timer deadline. */
  scheduler?: Scheduler<Vcpu>;
  yieldToHost?: YieldToHost;
}

/** The PC's devices, for front ends (keyboard input, status) and tests. */
export interface PcDevices {
  readonly pic: Pic8259Pair;
  readonly pit: Pit8254;
  readonly speakerPort: PcSpeakerPort;
  readonly rtc: Mc146818Rtc;
  readonly keyboardController: I8042;
  readonly port92: Port92;
  readonly a20: A20Gate;
  /** COM1, when the config has a serial backend. */
  readonly serial: Serial16550 | undefined;
  /** The I/O APIC at 0xFEC00000 (pc only). */
  readonly ioApic: IoApic | undefined;
  /** PCI bus 0 with the i440FX and the PIIX3 (pc only). */
  readonly pci: PcPci | undefined;
  /** The ACPI PM block at 0x600, SCI on IRQ 9 (pc only). */
  readonly acpiPm: AcpiPm | undefined;
  /** The virtio devices, in config order, with where they went. */
  readonly virtio: readonly AttachedVirtioDevice[];
}

/** A built PC: the machine plus the host-facing handles a front end needs. */
export interface PcMachine {
  readonly machineType: PcMachineType;
  readonly machine: Machine;
  readonly vm: Vm;
  readonly devices: PcDevices;
  /** Where direct kernel boot put the kernel, when there is one. */
  readonly kernel: DirectKernelBootPlacement | undefined;
  /** With direct kernel boot, what the firmware tables describe and where they went (the VMM writes them). */
  readonly firmwareTables:
    | { description: PcFirmwareDescription; placement: FirmwareTablesPlacement }
    | undefined;
  /** Queues host bytes for COM1; they enter the UART as fast as its receiver accepts them. */
  sendSerialInput(bytes: Uint8Array): void;
  run(): Promise<MachineExit>;
}

/**
 * The recipe for a PC, one step per line: a VM with its boot vCPU, RAM laid out like a PC's, the firmware ROM,
 * the motherboard devices on their ISA ports and IRQs, on the pc machine the I/O APIC, PCI and the ACPI PM block,
 * the serial port and QEMU's debug devices, and the kernel with what firmware would have left for it.
 */
export function buildPc(config: PcConfig): PcMachine {
  const machineType = config.machineType ?? "pc";
  if (machineType !== "pc" && machineType !== "isapc") {
    throw new MachineConfigError(`unknown machine type ${String(machineType)}`);
  }
  if (config.firmware === undefined && config.kernel === undefined) {
    throw new MachineConfigError("nothing to run: give a firmware image or a kernel");
  }
  const scheduler = new DeadlineScheduler(config.scheduler);
  const vm = openHypervisor().createVm({ scheduler, clock: config.clock });
  const bootVcpu = vm.createVcpu(0);
  addPcRam(vm, config.memoryBytes);
  if (config.firmware) loadFirmware(vm, config.firmware);
  const machine = new Machine(vm, { noReboot: config.noReboot, yieldToHost: config.yieldToHost });
  scheduler.bind(
    () => machine.nextTimerDeadlineNs,
    (deadline) => vm.instructionsUntil(deadline),
  );
  const pc = machineType === "pc";
  const pic = attachPic(machine, bootVcpu);
  const ioApic = pc ? attachIoApic(machine) : undefined;
  const pit = attachPit(machine);
  const speakerPort = attachSpeakerPort(machine, pit);
  const rtc = attachRtc(machine, config.memoryBytes, config.rtcStartTime ?? new Date());
  const a20 = new A20Gate(vm);
  const keyboardController = attachKeyboardController(machine, a20);
  const port92 = attachPort92(machine, a20);
  const pci = pc ? attachPciBus(machine) : undefined;
  const acpiPm = pc ? attachAcpiPm(machine) : undefined;
  const com1 = config.serial ? attachSerialPort(machine, config.serial) : undefined;
  if (config.debugExit) attachDebugExit(machine, config.debugExit.iobase, config.debugExit.iosize);
  if (config.debugCon) attachDebugCon(machine, config.debugCon.iobase, config.debugCon.write);
  attachPostCodePort(machine);
  const virtio = attachPcVirtioDevices(machine, pic, pci, config);
  const firmwareTables = config.kernel
    ? addBootFirmwareState(
        machine,
        withVirtioMmioDevices(
          pcFirmwareDescription({
            machineType,
            ramBytes: config.memoryBytes,
            cpus: vm.listVcpus().length,
            ioApic: ioApic !== undefined,
            pci: pci !== undefined,
            isaDevices: pcIsaDevices(com1 !== undefined),
          }),
          virtio,
        ),
        pic,
        pci,
      )
    : undefined;
  const kernel = config.kernel
    ? addDirectKernelBoot(
        machine,
        bootVcpu,
        withVirtioMmioKernelParameters(config.kernel, virtio, pc),
        config.memoryBytes,
        config.firmware?.length ?? 0,
        () => firmwareTables?.placement.acpi?.rsdpAddress,
      )
    : undefined;
  return {
    machineType,
    machine,
    vm,
    devices: {
      pic,
      pit,
      speakerPort,
      rtc,
      keyboardController,
      port92,
      a20,
      serial: com1?.uart,
      ioApic,
      pci,
      acpiPm,
      virtio,
    },
    kernel,
    firmwareTables,
    sendSerialInput: (bytes) => com1?.sendInput(bytes),
    run: () => machine.run(),
  };
}

/** The config's virtio devices on their transports; a device the machine has no room for is a config error. */
function attachPcVirtioDevices(
  machine: Machine,
  pic: Pic8259Pair,
  pci: PcPci | undefined,
  config: PcConfig,
): AttachedVirtioDevice[] {
  try {
    return attachVirtioDevices(machine, pic, pci, config.virtio ?? [], config.onVirtioError);
  } catch (e) {
    if (e instanceof RangeError) throw new MachineConfigError(e.message);
    throw e;
  }
}

/**
 * A PC has no device tree: a Linux kernel that does not read the DSDT (isapc, `acpi=off`) learns of virtio-mmio
 * devices from its command line, as on Firecracker (CONFIG_VIRTIO_MMIO_CMDLINE_DEVICES).
 */
function withVirtioMmioKernelParameters(
  kernel: PcKernelConfig,
  virtio: readonly AttachedVirtioDevice[],
  machineHasAcpi: boolean,
): PcKernelConfig {
  if (kernelFormat(kernel.image) !== "linux" || linuxReadsAcpi(kernel.cmdline, machineHasAcpi)) return kernel;
  return { ...kernel, cmdline: appendVirtioMmioKernelParameters(kernel.cmdline, virtio) };
}

/** The legacy devices buildPc attaches, as the firmware tables name them (COM1 only with a serial backend). */
function pcIsaDevices(com1: boolean): PcIsaDevice[] {
  const devices: PcIsaDevice[] = ["pic", "pit", "rtc", "keyboard", "mouse", "speaker"];
  if (com1) devices.push("com1");
  return devices;
}

/**
 * What firmware leaves for an OS, when the VMM boots a kernel without it: the PCI interrupt routing SeaBIOS programs
 * (PIRQ routes, ELCR, interrupt line registers), the PCI BARs placed and decoding (assignPciBars: memory below the
 * virtio-mmio windows, I/O from 0xC000) and the MP and ACPI tables for `description`, now and after every reset
 * (after the devices' own resets, before the kernel is loaded again).
 */
export function addBootFirmwareState(
  machine: Machine,
  description: PcFirmwareDescription,
  pic: Pic8259Pair,
  pci: PcPci | undefined,
): { description: PcFirmwareDescription; placement: FirmwareTablesPlacement } {
  const routes = description.pci?.pirqIrqs;
  if (pci !== undefined && routes !== undefined) {
    const windows = {
      memoryBase: description.ramBytes,
      memoryTop: PC_LAYOUT.pciMemoryTop,
      ioBase: PC_LAYOUT.pciIoBase,
      ioTop: PC_LAYOUT.pciIoTop,
    };
    const program = () => {
      programPciInterruptRouting(pci, pic, routes);
      assignPciBars(pci.bus, windows);
    };
    program();
    machine.addResetHandler(program);
  }
  return { description, placement: addFirmwareTables(machine, description) };
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
  base = 0x3f8,
  irq: number = PC_IRQ.com1,
): { uart: Serial16550; sendInput(bytes: Uint8Array): void } {
  const uart = new Serial16550({ irq: machine.irqs.line(irq), transmit: (byte) => backend.transmit(byte) });
  machine.pio.insert(uart, base, 8, "serial (16550A)");
  machine.addResetHandler(() => uart.reset());
  let pending = new Uint8Array(0);
  machine.addPoller(() => {
    if (pending.length === 0) return;
    const accepted = uart.receive(pending);
    pending = pending.subarray(accepted);
  });
  const sendInput = (bytes: Uint8Array) => {
    const merged = new Uint8Array(pending.length + bytes.length);
    merged.set(pending);
    merged.set(bytes, pending.length);
    pending = merged;
    machine.wake();
  };
  return { uart, sendInput };
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

/**
 * Direct kernel boot (QEMU's -kernel/-initrd/-append): the kernel is loaded now and again after every machine
 * reset (after the devices' resets), so a guest that reboots boots the same kernel again. `acpiRsdpAddress` names
 * the RSDP for a Linux kernel's zero page (asked at every load).
 */
export function addDirectKernelBoot(
  machine: Machine,
  vcpu: Vcpu,
  kernel: PcKernelConfig,
  ramSize: number,
  firmwareSize: number,
  acpiRsdpAddress: () => number | undefined = () => undefined,
): DirectKernelBootPlacement {
  const load = () =>
    loadDirectKernel(machine.vm, vcpu, {
      kernel: kernel.image,
      initrd: kernel.initrd,
      modules: kernel.modules,
      cmdline: kernel.cmdline,
      ramSize,
      firmwareSize,
      acpiRsdpAddress: acpiRsdpAddress(),
    });
  const placement = load();
  machine.addResetHandler(load);
  return placement;
}

// virtio on the pc machine, driven as a guest drives it (through the machine's MMIO bus and the PCI configuration
// ports) with the real transports and devices of @tsvmm/virtio: where the windows and functions go, their interrupts
// (level ISA IRQs, INTx# through the PIRQs, MSI-X to the local APICs), what the VMM leaves for a kernel (BARs,
// MADT overrides, the command line), machine resets, and a halted guest woken by a request finished on the host.
import {
  CryptoEntropySource,
  type EntropySource,
  MemoryBlockBackend,
  VirtioBlock,
  type VirtioDevice,
  VirtioRng,
} from "@tsvmm/virtio";
import { describe, expect, it, vi } from "vitest";
import { compileAslTerms, iaslMissing } from "./acpica-tools.test-support.js";
import { buildPc, MachineConfigError, type PcConfig } from "./builder.js";
import { buildBzImage } from "./bzimage.test-support.js";
import { buildAoutKernel } from "./multiboot-image.test-support.js";
import { RealModeAssembler } from "./real-mode-asm.test-support.js";
import {
  COMMON,
  GuestBuses,
  GuestSplitQueue,
  MmioGuestDriver,
  PciGuestDriver,
  STATUS,
  waitFor,
} from "./virtio-guest-driver.test-support.js";
import { virtioMmioDeviceAml } from "./virtio-mmio-aml.js";
import type { PcVirtioDevice } from "./virtio-platform.js";

const MiB = 1024 * 1024;
const HALTING_ROM = new RealModeAssembler().cli().hlt().rom();
const HALTING_KERNEL = buildAoutKernel({ code: [0xfa, 0xf4, 0xeb, 0xfd] }).image; // cli; hlt; jmp $-1
const QUEUE_BASE = 0x200000;
const R = MmioGuestDriver.register;

function pcWith(virtio: PcVirtioDevice[], extra: Partial<PcConfig> = {}) {
  const pc = buildPc({ memoryBytes: 16 * MiB, firmware: HALTING_ROM, virtio, ...extra });
  return { pc, buses: new GuestBuses(pc.machine) };
}

/** A 64 KiB disk whose sector n is filled with byte n + 1. */
function patternedDisk(): MemoryBlockBackend {
  const bytes = new Uint8Array(128 * 512);
  for (let sector = 0; sector < 128; sector++) bytes.fill(sector + 1, sector * 512, (sector + 1) * 512);
  return new MemoryBlockBackend(bytes);
}

/** A virtio-blk request header (spec 5.2.6): type, reserved, sector. */
function blockRequest(type: number, sector: number): Uint8Array {
  const header = new Uint8Array(16);
  const view = new DataView(header.buffer);
  view.setUint32(0, type, true);
  view.setUint32(8, sector, true);
  return header;
}

/** Host entropy that arrives only after `delayMs`, like a slow device file. */
/** Entropy held back until the test opens the gate, so the test, not host timing, decides when it arrives. */
class GatedEntropy implements EntropySource {
  private readonly source = new CryptoEntropySource();
  private openGate!: () => void;
  private readonly gate = new Promise<void>((resolve) => {
    this.openGate = resolve;
  });
  open(): void {
    this.openGate();
  }
  async fill(dst: Uint8Array): Promise<void> {
    await this.gate;
    await this.source.fill(dst);
  }
}

describe("virtio-mmio on the pc machine", () => {
  it("puts windows at 0xFEB00000 + n * 0x200 with ISA IRQs 5, 6, 7, 3, 14, 15, level-triggered in the ELCR", () => {
    const devices: PcVirtioDevice[] = Array.from({ length: 6 }, () => ({
      device: new VirtioRng(),
      transport: "mmio",
    }));
    const { pc, buses } = pcWith(devices);
    expect(pc.devices.virtio.map((d) => (d.kind === "mmio" ? [d.address, d.irq] : []))).toEqual([
      [0xfeb00000, 5],
      [0xfeb00200, 6],
      [0xfeb00400, 7],
      [0xfeb00600, 3],
      [0xfeb00800, 14],
      [0xfeb00a00, 15],
    ]);
    for (let n = 0; n < 6; n++) {
      const driver = new MmioGuestDriver(buses, 0xfeb00000 + n * 0x200);
      expect(driver.read(R.magic)).toBe(0x74726976); // "virt"
      expect(driver.read(R.version)).toBe(2);
      expect(driver.read(R.deviceId)).toBe(4);
    }
    // Nothing answers between or after the windows.
    expect(buses.readMmio(0xfeb00c00, 4)).toBe(0xffffffff);
    expect([buses.inb(0x4d0), buses.inb(0x4d1)]).toEqual([0xe8, 0xc0]);
    expect(pc.devices.virtio[0]).toMatchObject({ kernelParameter: "virtio_mmio.device=512@0xfeb00000:5" });
    const seven = [...devices, { device: new VirtioRng(), transport: "mmio" as const }];
    expect(() => pcWith(seven)).toThrow(MachineConfigError);
    expect(() => pcWith(seven)).toThrow(/6 virtio-mmio slots/);
  });

  it("serves a virtio-blk read from guest RAM, holds its IRQ while InterruptStatus is set, and resets with the machine", async () => {
    const errors: string[] = [];
    const { pc, buses } = pcWith(
      [{ device: new VirtioBlock({ backend: patternedDisk() }), transport: "mmio" }],
      {
        machineType: "isapc",
        onVirtioError: (name, reason) => errors.push(`${name}: ${reason}`),
      },
    );
    const driver = new MmioGuestDriver(buses, 0xfeb00000);
    const queue = new GuestSplitQueue(pc.vm.memory, QUEUE_BASE, 16);
    driver.initialize([queue]);
    expect(driver.read(R.status)).toBe(
      STATUS.acknowledge | STATUS.driver | STATUS.featuresOk | STATUS.driverOk,
    );
    const capacity = buses.readMmio(0xfeb00000 + R.config, 8);
    expect(capacity).toBe(128);

    queue.add([blockRequest(0, 3)], [1024, 1]); // read sectors 3 and 4
    driver.notify(0);
    await waitFor(() => queue.usedIndex() === 1, "the read");
    const [used] = queue.takeUsed();
    expect(used.length).toBe(1025);
    expect(used.written[0].subarray(0, 512).every((b) => b === 4)).toBe(true);
    expect(used.written[0].subarray(512).every((b) => b === 5)).toBe(true);
    expect(used.written[1]).toEqual(Uint8Array.of(0)); // VIRTIO_BLK_S_OK
    expect(driver.read(R.interruptStatus)).toBe(1);
    expect(pc.machine.irqs.level(5)).toBe(true);
    driver.write(R.interruptAck, 1);
    expect(pc.machine.irqs.level(5)).toBe(false);

    queue.add([blockRequest(0, 0)], [512, 1]);
    driver.notify(0);
    await waitFor(() => pc.machine.irqs.level(5), "the second interrupt");
    pc.machine.reset();
    expect(driver.read(R.status)).toBe(0);
    expect(pc.machine.irqs.level(5)).toBe(false);
    expect(buses.inb(0x4d0) & 0x20).toBe(0x20); // still level-triggered after the 8259s' reset
    expect(errors).toEqual([]);
  });

  it("wakes a halted guest when a request finishes on the host: IRQ 5 through the 8259 to its handler", async () => {
    // The guest programs the 8259s, unmasks IRQ 5 (vector 0x25) and halts with interrupts on; its handler exits.
    const rom = new RealModeAssembler()
      .flatDataAndStack()
      .setVector(0x25, "irq5")
      .initPics(1 << 5)
      .sti()
      .label("idle")
      .hlt()
      .jmp("idle")
      .label("irq5")
      .outByte(0xf4, 0x25)
      .hlt()
      .rom();
    const entropy = new GatedEntropy();
    const pc = buildPc({
      memoryBytes: 16 * MiB,
      firmware: rom,
      debugExit: { iobase: 0xf4, iosize: 1 },
      virtio: [{ device: new VirtioRng({ source: entropy }), transport: "mmio" }],
    });
    const buses = new GuestBuses(pc.machine);
    const driver = new MmioGuestDriver(buses, 0xfeb00000);
    const queue = new GuestSplitQueue(pc.vm.memory, QUEUE_BASE, 8);
    driver.initialize([queue]);
    queue.add([], [64]);
    driver.notify(0);
    const run = pc.run();
    // The entropy arrives only once the halted guest has put the run loop to sleep (no timer could wake it).
    await waitFor(() => pc.machine.stats.idleSleeps > 0, "the run loop to sleep");
    entropy.open();
    expect(await run).toEqual({ kind: "debug-exit", status: (0x25 << 1) | 1 });
    const [used] = queue.takeUsed();
    expect(used.length).toBe(64);
  });
});

describe("virtio-pci on the pc machine", () => {
  const rngPci = (): PcVirtioDevice => ({ device: new VirtioRng(), transport: "pci" });

  it("takes slots 2, 3, ... or the one asked for, with virtio's modern IDs", () => {
    const { pc, buses } = pcWith([
      rngPci(),
      { device: new VirtioBlock({ backend: patternedDisk() }), transport: "pci", pciSlot: 7 },
      rngPci(),
    ]);
    expect(pc.devices.virtio.map((d) => (d.kind === "pci" ? d.slot : -1))).toEqual([2, 7, 3]);
    expect(buses.configRead(2, 0, 4)).toBe(0x10441af4); // virtio-rng: 0x1040 + 4
    expect(buses.configRead(7, 0, 4)).toBe(0x10421af4); // virtio-blk: 0x1040 + 2
    expect(buses.configRead(3, 0, 4)).toBe(0x10441af4);
    expect(buses.configRead(4, 0, 4)).toBe(0xffffffff);
    expect(() => pcWith([{ ...rngPci(), pciSlot: 1 }])).toThrow(MachineConfigError);
    expect(() =>
      pcWith([
        { ...rngPci(), pciSlot: 5 },
        { ...rngPci(), pciSlot: 5 },
      ]),
    ).toThrow(/slot 5/);
    expect(() => pcWith([rngPci()], { machineType: "isapc" })).toThrow(/needs a PCI bus/);
  });

  it("with direct kernel boot, finds its BARs placed below the virtio-mmio windows and decoding, as SeaBIOS leaves them", () => {
    const pc = buildPc({
      memoryBytes: 16 * MiB,
      kernel: { image: HALTING_KERNEL, cmdline: "" },
      virtio: [rngPci(), { device: new VirtioBlock({ backend: patternedDisk() }), transport: "pci" }],
    });
    const buses = new GuestBuses(pc.machine);
    const ranges: [number, number][] = [];
    for (const slot of [2, 3]) {
      const driver = new PciGuestDriver(buses, slot);
      expect(driver.command() & 0x7).toBe(0x2); // memory decoding on, bus mastering left to the driver
      for (const [bar, size] of [
        [1, 0x1000],
        [4, 0x4000],
      ]) {
        const address = driver.barAddress(bar);
        expect(address % size).toBe(0);
        expect(address).toBeGreaterThanOrEqual(16 * MiB);
        expect(address + size).toBeLessThanOrEqual(0xfeb00000);
        ranges.push([address, address + size]);
      }
      // The virtio structures answer at the placed BAR: num_queues.
      expect(driver.common(COMMON.numQueues, 2)).toBe(1);
    }
    ranges.sort((a, b) => a[0] - b[0]);
    for (let i = 1; i < ranges.length; i++) expect(ranges[i][0]).toBeGreaterThanOrEqual(ranges[i - 1][1]);
    // INTA# of slot 2 is PIRQB# (IRQ 10), of slot 3 PIRQC# (IRQ 11): the interrupt line registers say so.
    expect(buses.configRead(2, 0x3c, 1)).toBe(10);
    expect(buses.configRead(3, 0x3c, 1)).toBe(11);

    // A reset clears the BARs (RST#) and the VMM places them again, where they were.
    const before = new PciGuestDriver(buses, 2).barAddress(4);
    buses.configWrite(2, 0x20, 4, 0);
    pc.machine.reset();
    expect(new PciGuestDriver(buses, 2).barAddress(4)).toBe(before);
  });

  it("raises INTA# on its routed IRQ until the ISR is read, with MSI-X off", async () => {
    const pc = buildPc({
      memoryBytes: 16 * MiB,
      kernel: { image: HALTING_KERNEL, cmdline: "" },
      virtio: [rngPci()],
    });
    const buses = new GuestBuses(pc.machine);
    const driver = new PciGuestDriver(buses, 2);
    driver.enableBusMastering();
    const queue = new GuestSplitQueue(pc.vm.memory, QUEUE_BASE, 8);
    driver.initialize([queue]);
    queue.add([], [32]);
    driver.notify(0);
    await waitFor(() => queue.usedIndex() === 1, "the entropy");
    expect(queue.takeUsed()[0].length).toBe(32);
    expect(pc.machine.irqs.level(10)).toBe(true);
    expect(driver.readIsr()).toBe(1);
    expect(pc.machine.irqs.level(10)).toBe(false);
    pc.machine.reset();
    expect(driver.common(COMMON.deviceStatus, 1)).toBe(0);
  });

  it("sends MSI-X messages to the local APICs through the VM and wakes the run loop", async () => {
    const pc = buildPc({
      memoryBytes: 16 * MiB,
      kernel: { image: HALTING_KERNEL, cmdline: "" },
      virtio: [rngPci()],
    });
    const signalMsi = vi.spyOn(pc.vm, "signalMsi");
    const wake = vi.spyOn(pc.machine, "wake");
    const buses = new GuestBuses(pc.machine);
    const driver = new PciGuestDriver(buses, 2);
    driver.enableBusMastering();
    driver.enableMsix(0, 0xfee00000, 0x41);
    const queue = new GuestSplitQueue(pc.vm.memory, QUEUE_BASE, 8);
    driver.initialize([queue], 0);
    expect(driver.common(COMMON.queueMsixVector, 2)).toBe(0);
    queue.add([], [16]);
    driver.notify(0);
    await waitFor(() => signalMsi.mock.calls.length > 0, "the MSI");
    expect(signalMsi.mock.calls).toEqual([[0xfee00000, 0x41]]);
    expect(wake).toHaveBeenCalled();
    expect(pc.machine.irqs.level(10)).toBe(false);
    expect(queue.takeUsed()[0].length).toBe(16);
  });
});

describe("what a kernel is told about virtio-mmio devices", () => {
  const mmio = (device: VirtioDevice = new VirtioRng()): PcVirtioDevice => ({ device, transport: "mmio" });

  /** The command line a Linux kernel finds in guest RAM. */
  const linuxCmdline = (machineType: "pc" | "isapc", cmdline: string, virtio: PcVirtioDevice[]) => {
    const pc = buildPc({
      machineType,
      memoryBytes: 32 * MiB,
      kernel: { image: buildBzImage(), cmdline },
      virtio,
    });
    if (pc.kernel?.format !== "linux") throw new Error("expected a Linux kernel");
    const { start, end } = pc.kernel.placement.cmdline;
    const bytes = new Uint8Array(end - start - 1);
    pc.vm.memory.read(start, bytes);
    return new TextDecoder().decode(bytes);
  };

  it("appends virtio_mmio.device= for each to a Linux command line when the kernel will not read the DSDT", () => {
    const devices = () => [mmio(), { device: new VirtioRng(), transport: "pci" as const }, mmio()];
    const parameters = "virtio_mmio.device=512@0xfeb00000:5 virtio_mmio.device=512@0xfeb00200:6";
    expect(linuxCmdline("pc", "console=ttyS0 acpi=off", devices())).toBe(
      `console=ttyS0 acpi=off ${parameters}`,
    );
    expect(linuxCmdline("isapc", "console=ttyS0", [mmio(), mmio()])).toBe(`console=ttyS0 ${parameters}`);
    expect(linuxCmdline("isapc", "", [mmio()])).toBe("virtio_mmio.device=512@0xfeb00000:5");
    // With ACPI the DSDT describes them (below); naming them twice would make the kernel probe each twice.
    expect(linuxCmdline("pc", "console=ttyS0", devices())).toBe("console=ttyS0");
    expect(linuxCmdline("pc", "xacpi=off", devices())).toBe("xacpi=off");
  });

  it("describes each in the DSDT as an LNRO0005 device with its window and level, active-high IRQ", () => {
    const pc = buildPc({
      memoryBytes: 32 * MiB,
      kernel: { image: buildBzImage(), cmdline: "" },
      virtio: [mmio(), mmio()],
    });
    expect(pc.firmwareTables?.description.virtioMmio).toEqual([
      { address: 0xfeb00000, size: 0x200, irq: 5 },
      { address: 0xfeb00200, size: 0x200, irq: 6 },
    ]);
    const dsdt = pc.firmwareTables?.placement.acpi?.tables.find((t) => t.signature === "DSDT");
    if (dsdt === undefined) throw new Error("no DSDT");
    const bytes = new Uint8Array(dsdt.length);
    pc.vm.memory.read(dsdt.address, bytes);
    // Each device's body, as iasl compiles the ASL of QEMU's microvm for it.
    expect(
      indexOf(bytes, virtioMmioDeviceAml(0, { address: 0xfeb00000, size: 0x200, irq: 5 })),
    ).toBeGreaterThan(0);
    expect(
      indexOf(bytes, virtioMmioDeviceAml(1, { address: 0xfeb00200, size: 0x200, irq: 6 })),
    ).toBeGreaterThan(0);
    expect(
      buildPc({ memoryBytes: 32 * MiB, kernel: { image: buildBzImage(), cmdline: "" } }).firmwareTables
        ?.description.virtioMmio,
    ).toBeUndefined();
  });

  it.skipIf(iaslMissing !== undefined)("writes the AML iasl makes of the microvm-style ASL", () => {
    const asl = `Device (VR01)
{
    Name (_HID, "LNRO0005")
    Name (_UID, One)
    Name (_CCA, One)
    Name (_CRS, ResourceTemplate ()
    {
        Memory32Fixed (ReadWrite, 0xFEB00200, 0x00000200)
        Interrupt (ResourceConsumer, Level, ActiveHigh, Exclusive, ,, ) { 6 }
    })
}`;
    expect([...virtioMmioDeviceAml(1, { address: 0xfeb00200, size: 0x200, irq: 6 })]).toEqual([
      ...compileAslTerms(asl),
    ]);
  });

  it("leaves a multiboot kernel's command line as it is", () => {
    const pc = buildPc({
      machineType: "isapc", // where a Linux kernel would get the parameters
      memoryBytes: 16 * MiB,
      kernel: { image: HALTING_KERNEL, cmdline: "quiet" },
      virtio: [mmio()],
    });
    if (pc.kernel?.format !== "multiboot") throw new Error("expected a multiboot kernel");
    expect(pc.vm.memory.readU8(pc.kernel.placement.cmdline + 5)).toBe(0);
  });

  it("describes their IRQs as level-triggered, active high in the MADT (and the MP table)", () => {
    const pc = buildPc({
      memoryBytes: 32 * MiB,
      kernel: { image: buildBzImage(), cmdline: "" },
      virtio: [mmio(), mmio()],
    });
    const overrides = pc.firmwareTables?.description.isaInterruptOverrides ?? [];
    expect(overrides.filter((o) => o.irq === 5 || o.irq === 6)).toEqual([
      { irq: 5, gsi: 5, polarity: "active-high", trigger: "level" },
      { irq: 6, gsi: 6, polarity: "active-high", trigger: "level" },
    ]);
    // The MADT's interrupt source overrides (type 2: bus, source, GSI, flags), read back from guest memory.
    const madt = pc.firmwareTables?.placement.acpi?.tables.find((t) => t.signature === "APIC");
    if (madt === undefined) throw new Error("no MADT");
    const memory = pc.vm.memory;
    const found = new Map<number, number>();
    for (let at = madt.address + 44; at < madt.address + madt.length; at += memory.readU8(at + 1)) {
      if (memory.readU8(at) === 2) found.set(memory.readU8(at + 3), memory.readU16(at + 8));
    }
    expect(found.get(5)).toBe(0xd); // active high (1), level (3 << 2)
    expect(found.get(6)).toBe(0xd);
    expect(found.has(7)).toBe(false);
    // isapc has no I/O APIC: no overrides, but the ELCR still makes the lines level for the 8259s.
    const isapc = buildPc({
      machineType: "isapc",
      memoryBytes: 32 * MiB,
      kernel: { image: buildBzImage(), cmdline: "" },
      virtio: [mmio()],
    });
    expect(isapc.firmwareTables?.description.isaInterruptOverrides).toEqual([]);
  });
});

function indexOf(haystack: Uint8Array, needle: Uint8Array): number {
  outer: for (let i = 0; i + needle.length <= haystack.length; i++) {
    for (let j = 0; j < needle.length; j++) if (haystack[i + j] !== needle[j]) continue outer;
    return i;
  }
  return -1;
}

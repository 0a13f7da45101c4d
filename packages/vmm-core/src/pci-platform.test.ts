// attachPciBus and the firmware's PCI interrupt routing in buildPc, driven through the machine's ports as a guest
// would: configuration mechanism #1, the i440FX and PIIX3 identities, PIRQ routes and the ELCR, PCI interrupts on
// ISA IRQ lines, BAR moves on the buses (collisions included), the reset control register at 0xCF9, and isapc.
import { type BusDevice, PciCommand, PciFunction, PciInterruptPin } from "@tsvmm/device-model";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { buildPc, type PcMachineType } from "./builder.js";
import { buildAoutKernel } from "./multiboot-image.test-support.js";
import { RealModeAssembler } from "./real-mode-asm.test-support.js";

const MiB = 1024 * 1024;
/** A multiboot kernel that only halts: the machine's state after the VMM's firmware work is what is tested. */
const HALTING_KERNEL = buildAoutKernel({ code: [0xfa, 0xf4, 0xeb, 0xfd] }).image; // cli; hlt; jmp $-1

function pcWithKernel(machineType: PcMachineType = "pc", noReboot = false) {
  return buildPc({
    machineType,
    memoryBytes: 16 * MiB,
    kernel: { image: HALTING_KERNEL, cmdline: "" },
    clock: { mode: "instructions" },
    noReboot,
  });
}

/** Port accesses as a guest makes them. */
function ports(pc: ReturnType<typeof pcWithKernel>) {
  const pio = pc.machine.pio;
  const data = new Uint8Array(4);
  const view = new DataView(data.buffer);
  const outl = (port: number, value: number) => {
    view.setUint32(0, value >>> 0, true);
    pio.write(port, data);
  };
  const inl = (port: number) => {
    pio.read(port, data);
    return view.getUint32(0, true);
  };
  const configRead = (slot: number, register: number) => {
    outl(0xcf8, 0x80000000 | (slot << 11) | register);
    return inl(0xcfc);
  };
  const configWrite = (slot: number, register: number, value: number) => {
    outl(0xcf8, 0x80000000 | (slot << 11) | register);
    outl(0xcfc, value);
  };
  const inb = (port: number) => {
    pio.read(port, data.subarray(0, 1));
    return data[0];
  };
  const outb = (port: number, value: number) => pio.write(port, Uint8Array.of(value));
  return { configRead, configWrite, inb, outb, inl };
}

describe("PCI on the pc machine", () => {
  it("answers configuration cycles at 0xCF8/0xCFC: the i440FX at 00:00.0, the PIIX3 at 00:01.0, nothing else", () => {
    const pc = pcWithKernel();
    const { configRead } = ports(pc);
    expect(configRead(0, 0x00)).toBe(0x12378086);
    expect(configRead(0, 0x08) >>> 8).toBe(0x060000);
    expect(configRead(1, 0x00)).toBe(0x70008086);
    expect(configRead(1, 0x08) >>> 8).toBe(0x060100);
    for (let slot = 2; slot < 32; slot++) expect(configRead(slot, 0x00)).toBe(0xffffffff);
  });

  it("leaves the PIRQ routes SeaBIOS programs (10, 10, 11, 11) with IRQs 10 and 11 level-triggered in the ELCR", () => {
    const pc = pcWithKernel();
    const { configRead, inb } = ports(pc);
    expect(configRead(1, 0x60)).toBe(0x0b0b0a0a);
    expect([inb(0x4d0), inb(0x4d1)]).toEqual([0x00, 0x0c]);
    expect([0, 1, 2, 3].map((pirq) => pc.devices.pci?.isaBridge.routeOf(pirq))).toEqual([10, 10, 11, 11]);
  });

  it("programs them again after a reset, which returns the chips to their power-on state first", () => {
    const pc = pcWithKernel();
    const { configRead, configWrite, inb, outb } = ports(pc);
    configWrite(1, 0x60, 0x80808080);
    outb(0x4d1, 0);
    pc.machine.reset();
    expect(configRead(1, 0x60)).toBe(0x0b0b0a0a);
    expect(inb(0x4d1)).toBe(0x0c);
  });

  it("turns a PCI function's INTx# into its routed ISA IRQ, seen by both the 8259 and the I/O APIC", () => {
    const pc = pcWithKernel();
    const pci = pc.devices.pci;
    if (pci === undefined) throw new Error("no PCI");
    // Slot 3, INTA#: PIRQC#, routed to IRQ 11.
    const fn = new PciFunction({
      vendorId: 0x1234,
      deviceId: 0x5678,
      classCode: 0xff0000,
      interruptPin: PciInterruptPin.IntA,
    });
    pci.bus.register(fn, 3);
    fn.setInterrupt(true);
    expect(pc.machine.irqs.level(11)).toBe(true);
    expect((pc.devices.ioApic?.getState().inputs ?? 0) & (1 << 11)).not.toBe(0);
    expect(pc.devices.pic.slave.getState().inputs & (1 << 3)).not.toBe(0);
    fn.setInterrupt(false);
    expect(pc.machine.irqs.level(11)).toBe(false);
  });

  it("resets the machine through the reset control register at 0xCF9 (the FADT's reset register)", async () => {
    const pc = pcWithKernel("pc", true);
    const { outb, inb } = ports(pc);
    outb(0xcf9, 0x02); // SRST alone: latched, no reset
    expect(inb(0xcf9)).toBe(0x02);
    outb(0xcf9, 0x06);
    expect(await pc.run()).toEqual({ kind: "shutdown" });
  });
});

describe("BAR mapping", () => {
  function withDevice() {
    const pc = pcWithKernel();
    const pci = pc.devices.pci;
    if (pci === undefined) throw new Error("no PCI");
    const seen: string[] = [];
    const region = (name: string): BusDevice => ({
      read: (_base, offset, data) => data.fill(offset + 1),
      write: (_base, offset) => seen.push(`${name}+${offset}`),
    });
    const io = region("io");
    const mem = region("mem");
    const fn = new PciFunction({
      vendorId: 0x1234,
      deviceId: 0x1,
      classCode: 0xff0000,
      bars: [
        { index: 0, kind: "io", size: 0x20, region: io },
        { index: 1, kind: "memory32", size: 0x1000, region: mem },
      ],
    });
    pci.bus.register(fn, 4);
    return { pc, seen, ...ports(pc) };
  }

  it("maps I/O and memory BARs where the guest puts them and moves them when it reprograms them", () => {
    const { pc, seen, configWrite, outb } = withDevice();
    configWrite(4, 0x10, 0xc000);
    configWrite(4, 0x14, 0xfebf0000);
    configWrite(4, 0x04, PciCommand.IoSpace | PciCommand.MemorySpace);
    expect(pc.machine.pio.deviceAt(0xc01f)).toBe("pci 04.0 bar 0");
    expect(pc.machine.mmio.deviceAt(0xfebf0fff)).toBe("pci 04.0 bar 1");
    outb(0xc003, 1);
    pc.machine.mmio.write(0xfebf0010, Uint8Array.of(1));
    expect(seen).toEqual(["io+3", "mem+16"]);
    configWrite(4, 0x10, 0xd000);
    expect(pc.machine.pio.deviceAt(0xc000)).toBeUndefined();
    expect(pc.machine.pio.deviceAt(0xd000)).toBe("pci 04.0 bar 0");
    configWrite(4, 0x04, 0); // decoding off: both gone
    expect(pc.machine.pio.deviceAt(0xd000)).toBeUndefined();
    expect(pc.machine.mmio.deviceAt(0xfebf0000)).toBeUndefined();
  });

  it("leaves a BAR placed over another device unmapped, keeps that device, and maps the BAR once it moves away", () => {
    const { pc, configWrite, configRead } = withDevice();
    configWrite(4, 0x04, PciCommand.IoSpace);
    configWrite(4, 0x10, 0xcf8); // over the PCI configuration ports themselves
    expect(pc.machine.pio.deviceAt(0xcf8)).toBe("pci config address (i440fx)");
    expect(configRead(0, 0x00)).toBe(0x12378086);
    configWrite(4, 0x10, 0xe000);
    expect(pc.machine.pio.deviceAt(0xe000)).toBe("pci 04.0 bar 0");
    expect(pc.machine.pio.deviceAt(0xcf8)).toBe("pci config address (i440fx)");
  });

  it("never throws and keeps the buses equal to the BARs' decoding, whatever the guest writes (property)", () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.constantFrom(0x04, 0x10, 0x14), fc.integer({ min: 0, max: 0xffffffff })), {
          maxLength: 30,
        }),
        (writes) => {
          const { pc, configWrite } = withDevice();
          const fn = pc.devices.pci?.bus.functionAt(4, 0);
          for (const [register, value] of writes) configWrite(4, register, value);
          const ioAt = fn?.barAddress(0);
          const memAt = fn?.barAddress(1);
          if (ioAt !== undefined && pc.machine.pio.deviceAt(ioAt)?.startsWith("pci")) {
            expect(pc.machine.pio.deviceAt(ioAt)).toBe("pci 04.0 bar 0");
          }
          if (memAt !== undefined && pc.machine.mmio.deviceAt(memAt)?.startsWith("pci")) {
            expect(pc.machine.mmio.deviceAt(memAt)).toBe("pci 04.0 bar 1");
          }
          // Nothing of the function stays mapped where it no longer decodes.
          for (const [bus, at, name] of [
            [pc.machine.pio, ioAt, "pci 04.0 bar 0"],
            [pc.machine.mmio, memAt, "pci 04.0 bar 1"],
          ] as const) {
            const mapped = bus
              .entries()
              .filter((entry) => entry.name === name)
              .map((entry) => entry.base);
            expect(mapped.length).toBeLessThanOrEqual(1);
            if (mapped.length === 1) expect(mapped[0]).toBe(at);
          }
          // The board's own devices are never displaced.
          expect(pc.machine.pio.deviceAt(0xcf8)).toBe("pci config address (i440fx)");
          expect(pc.machine.pio.deviceAt(0x20)).toBe("pic (master 8259A)");
        },
      ),
      { numRuns: 200 },
    );
  });
});

describe("the isapc machine", () => {
  it("has no PCI bus, no I/O APIC and no ACPI PM block: their ports read all ones", () => {
    const pc = buildPc({
      machineType: "isapc",
      memoryBytes: 16 * MiB,
      firmware: new RealModeAssembler().hlt().rom(),
    });
    expect(pc.devices.pci).toBeUndefined();
    expect(pc.devices.acpiPm).toBeUndefined();
    const { inl, inb } = ports(pc);
    expect(inl(0xcf8)).toBe(0xffffffff);
    expect(inl(0x608)).toBe(0xffffffff);
    expect(inb(0xcf9)).toBe(0xff);
    expect(inb(0x4d1)).toBe(0x00); // the ELCR is the 8259s', and no firmware made IRQs level-triggered
  });
});

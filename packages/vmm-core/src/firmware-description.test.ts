import { describe, expect, it } from "vitest";
import {
  checkFirmwareDescription,
  isaIrqGsi,
  mpsIntiFlags,
  type PcFirmwareDescription,
  pcFirmwareDescription,
} from "./firmware-description.js";

const MiB = 1024 * 1024;

describe("pcFirmwareDescription", () => {
  it("describes QEMU's pc machine", () => {
    expect(pcFirmwareDescription({ ramBytes: 128 * MiB })).toEqual({
      machineType: "pc",
      ramBytes: 128 * MiB,
      cpus: 1,
      localApicAddress: 0xfee00000,
      localApicVersion: 0x14,
      cpuSignature: 0x600,
      cpuFeatures: 0x201,
      ioApic: { id: 0, version: 0x20, address: 0xfec00000, gsiBase: 0, pins: 24 },
      isaInterruptOverrides: [
        { irq: 0, gsi: 2, polarity: "active-high", trigger: "edge" },
        { irq: 9, gsi: 9, polarity: "active-high", trigger: "level" },
      ],
      pci: undefined,
      resetRegister: undefined,
      acpiPm: { ioBase: 0x600, sciIrq: 9 },
      isaDevices: ["pic", "pit", "rtc", "keyboard", "mouse", "speaker", "com1"],
      vga: false,
    });
  });

  it("adds the PIIX3's PCI routes, their level-triggered overrides and its reset register with PCI", () => {
    const withPci = pcFirmwareDescription({ ramBytes: 128 * MiB, pci: true });
    expect(withPci.pci).toEqual({ pirqIrqs: [10, 10, 11, 11] });
    expect(withPci.resetRegister).toEqual({ port: 0xcf9, value: 6 });
    expect(withPci.isaInterruptOverrides).toEqual([
      { irq: 0, gsi: 2, polarity: "active-high", trigger: "edge" },
      { irq: 9, gsi: 9, polarity: "active-high", trigger: "level" },
      { irq: 10, gsi: 10, polarity: "active-high", trigger: "level" },
      { irq: 11, gsi: 11, polarity: "active-high", trigger: "level" },
    ]);
    const routed = pcFirmwareDescription({ ramBytes: 128 * MiB, pci: true, pirqIrqs: [5, 9, 11, 5] });
    expect(routed.isaInterruptOverrides.map((o) => o.irq)).toEqual([0, 5, 9, 11]);
  });

  it("leaves out the I/O APIC and its overrides on request, keeping ACPI and PCI", () => {
    const d = pcFirmwareDescription({ ramBytes: 128 * MiB, ioApic: false, pci: true });
    expect(d.ioApic).toBeUndefined();
    expect(d.isaInterruptOverrides).toEqual([]);
    expect(d.acpiPm).toEqual({ ioBase: 0x600, sciIrq: 9 });
    expect(d.pci).toEqual({ pirqIrqs: [10, 10, 11, 11] });
  });

  it("finds each ISA IRQ's GSI through the overrides", () => {
    const d = pcFirmwareDescription({ ramBytes: 128 * MiB });
    expect([0, 1, 2, 9].map((irq) => isaIrqGsi(d, irq))).toEqual([2, 1, 2, 9]);
  });

  it("describes QEMU's isapc machine: no I/O APIC, no overrides, no ACPI", () => {
    const isapc = pcFirmwareDescription({ machineType: "isapc", ramBytes: 16 * MiB, cpus: 2 });
    expect(isapc.ioApic).toBeUndefined();
    expect(isapc.isaInterruptOverrides).toEqual([]);
    expect(isapc.acpiPm).toBeUndefined();
    expect(() => pcFirmwareDescription({ machineType: "isapc", ramBytes: 16 * MiB, pci: true })).toThrow(
      /PCI/,
    );
  });

  it("encodes polarity and trigger as the MPS INTI flags", () => {
    expect(mpsIntiFlags("conforms", "conforms")).toBe(0);
    expect(mpsIntiFlags("active-high", "edge")).toBe(0x05);
    expect(mpsIntiFlags("active-low", "level")).toBe(0x0f);
    expect(mpsIntiFlags("active-high", "level")).toBe(0x0d);
  });
});

describe("checkFirmwareDescription", () => {
  const base = pcFirmwareDescription({ ramBytes: 64 * MiB, pci: true });
  const broken: Array<[string, Partial<PcFirmwareDescription>, RegExp]> = [
    ["an unknown machine", { machineType: "q35" as "pc" }, /machine type/],
    ["too little RAM", { ramBytes: MiB }, /RAM/],
    ["a fractional RAM size", { ramBytes: 64 * MiB + 0.5 }, /RAM/],
    ["no CPU", { cpus: 0 }, /CPU count/],
    ["256 CPUs", { cpus: 256 }, /CPU count/],
    ["an unaligned local APIC", { localApicAddress: 0xfee00010 }, /local APIC address/],
    ["a wide APIC version", { localApicVersion: 0x100 }, /version/],
    ["an I/O APIC ID of 255", { ioApic: { ...base.ioApic!, id: 255 } }, /I\/O APIC ID/],
    ["an I/O APIC with no inputs", { ioApic: { ...base.ioApic!, pins: 0 } }, /inputs/],
    [
      "an override to a missing GSI",
      { isaInterruptOverrides: [{ irq: 0, gsi: 24, polarity: "conforms", trigger: "edge" }] },
      /GSI 24/,
    ],
    [
      "a non-ISA override",
      { isaInterruptOverrides: [{ irq: 16, gsi: 16, polarity: "conforms", trigger: "edge" }] },
      /non-ISA/,
    ],
    [
      "two overrides of one IRQ",
      { isaInterruptOverrides: [base.isaInterruptOverrides[0], base.isaInterruptOverrides[0]] },
      /twice/,
    ],
    [
      "a bad trigger mode",
      { isaInterruptOverrides: [{ irq: 3, gsi: 3, polarity: "conforms", trigger: "rising" as "edge" }] },
      /trigger/,
    ],
    ["overrides without an I/O APIC", { ioApic: undefined, pci: undefined }, /I\/O APIC/],
    ["a PIRQ routed to IRQ 8", { pci: { pirqIrqs: [10, 10, 11, 8] } }, /IRQ 8/],
    [
      "PCI IRQs the I/O APIC lacks",
      { ioApic: { ...base.ioApic!, pins: 8 }, isaInterruptOverrides: [] },
      /PCI IRQ 10/,
    ],
    [
      "a reset register beyond the I/O space",
      { resetRegister: { port: 0x10000, value: 6 } },
      /reset register/,
    ],
    ["an SCI above IRQ 15", { acpiPm: { ioBase: 0x600, sciIrq: 20 } }, /SCI/],
    ["a PM block in the ISA range", { acpiPm: { ioBase: 0x10, sciIrq: 9 } }, /PM I\/O base/],
    ["an unknown device", { isaDevices: ["fdc" as "pic"] }, /unknown ISA device/],
    ["a device twice", { isaDevices: ["com1", "com1"] }, /twice/],
  ];
  for (const [what, change, message] of broken) {
    it(`rejects ${what}`, () => {
      expect(() => checkFirmwareDescription({ ...base, ...change })).toThrow(message);
    });
  }
});

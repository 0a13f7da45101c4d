// The DSDT's AML for a PC: \_S5 (the PM block's soft-off sleep type), one processor device per CPU, the PCI root
// bridge with its windows and interrupt routing (when the machine has PCI), and the legacy ISA devices with their
// resources, so that an OS's ACPI namespace scan finds every device the machine has.

import { ACPI_PM_S5_SLEEP_TYPE, PciInterruptPin, pciPirq } from "@tsvmm/device-model";
import {
  dwordMemory,
  ioPort,
  irqNoFlags,
  levelHighSharedInterrupt,
  resourceTemplate,
  wordBusNumber,
  wordIo,
} from "./acpi-resources.js";
import { device, eisaId, integer, method, name, nameString, pkg, scope, string } from "./aml.js";
import type { PcFirmwareDescription, PcIsaDevice } from "./firmware-description.js";
import { concatBytes } from "./table-bytes.js";
import { virtioMmioDeviceAml } from "./virtio-mmio-aml.js";

/** One legacy device: its ACPI name, PNP ID, I/O ranges ([base, length]) and ISA IRQs. */
interface IsaDeviceObject {
  name: string;
  hid: string;
  uid?: number;
  io: ReadonlyArray<readonly [number, number]>;
  irqs: readonly number[];
}

const ISA_DEVICE_OBJECTS: Record<PcIsaDevice, IsaDeviceObject> = {
  pic: {
    name: "PIC",
    hid: "PNP0000",
    io: [
      [0x20, 2],
      [0xa0, 2],
    ],
    irqs: [2],
  },
  pit: { name: "TMR", hid: "PNP0100", io: [[0x40, 4]], irqs: [0] },
  rtc: { name: "RTC", hid: "PNP0B00", io: [[0x70, 2]], irqs: [8] },
  keyboard: {
    name: "KBD",
    hid: "PNP0303",
    io: [
      [0x60, 1],
      [0x64, 1],
    ],
    irqs: [1],
  },
  mouse: { name: "MOU", hid: "PNP0F13", io: [], irqs: [12] },
  speaker: { name: "SPKR", hid: "PNP0800", io: [[0x61, 1]], irqs: [] },
  com1: { name: "COM1", hid: "PNP0501", uid: 1, io: [[0x3f8, 8]], irqs: [4] },
  com2: { name: "COM2", hid: "PNP0501", uid: 2, io: [[0x2f8, 8]], irqs: [3] },
};

/** Top of the PCI memory window: just below the I/O APIC's page, as on QEMU's pc. */
const PCI_MEMORY_WINDOW_END = 0xfebfffff;
const PCI_SLOTS = 32;
/** The links of PIRQA#-D#. */
const LINK_NAMES = ["LNKA", "LNKB", "LNKC", "LNKD"] as const;

/** The term list of the DSDT (its body after the table header). */
export function dsdtAml(d: PcFirmwareDescription): Uint8Array {
  const system: Uint8Array[] = [];
  for (let cpu = 0; cpu < d.cpus; cpu++) system.push(processorDevice(cpu));
  if (d.pci !== undefined) {
    system.push(pciRootBridge(d.ramBytes));
    d.pci.pirqIrqs.forEach((irq, pirq) => {
      system.push(interruptLink(pirq, irq));
    });
  }
  for (const name of d.isaDevices) system.push(isaDevice(ISA_DEVICE_OBJECTS[name]));
  (d.virtioMmio ?? []).forEach((transport, index) => {
    system.push(virtioMmioDeviceAml(index, transport));
  });
  return concatBytes([sleepState5(), scope("\\_SB", system)]);
}

/** \_S5: PM1a_CNT.SLP_TYP, PM1b_CNT.SLP_TYP (no PM1b block, the same value) and two reserved zeros. */
function sleepState5(): Uint8Array {
  const type = integer(ACPI_PM_S5_SLEEP_TYPE);
  return name("\\_S5", pkg([type, type, integer(0), integer(0)]));
}

/** A processor device whose _UID is the MADT's ACPI processor UID (the CPU index). */
function processorDevice(cpu: number): Uint8Array {
  const deviceName = `C${cpu.toString(16).toUpperCase().padStart(3, "0")}`;
  return device(deviceName, [name("_HID", string("ACPI0007")), name("_UID", integer(cpu))]);
}

/**
 * \_SB.PCI0: bus numbers 0-255, the configuration ports, the I/O space around them, the VGA window and the memory
 * above RAM up to the I/O APIC; and _PRT sending each slot's INTA#-INTD# to the link of the PIRQ it drives.
 */
function pciRootBridge(ramBytes: number): Uint8Array {
  const routes: Uint8Array[] = [];
  for (let slot = 0; slot < PCI_SLOTS; slot++) {
    for (let pin = 0; pin < 4; pin++) {
      const link = LINK_NAMES[pciPirq(slot, PciInterruptPin.IntA + pin)];
      routes.push(
        pkg([integer(slot * 0x10000 + 0xffff), integer(pin), nameString(`\\_SB.${link}`), integer(0)]),
      );
    }
  }
  return device("PCI0", [
    name("_HID", eisaId("PNP0A03")),
    name("_UID", integer(0)),
    name(
      "_CRS",
      resourceTemplate([
        wordBusNumber(0, 0xff),
        ioPort(0xcf8, 0xcf8, 1, 8),
        wordIo(0x0000, 0x0cf7),
        wordIo(0x0d00, 0xffff),
        dwordMemory(0xa0000, 0xbffff, true),
        dwordMemory(ramBytes, PCI_MEMORY_WINDOW_END, false),
      ]),
    ),
    name("_PRT", pkg(routes)),
  ]);
}

/**
 * PIRQ `pirq`'s interrupt link (PNP0C0F), fixed to the ISA IRQ the PIIX3 routes it to: level-triggered, active high,
 * shared. _SRS accepts the only possible setting without doing anything (an OS calls it before using the link).
 */
function interruptLink(pirq: number, irq: number): Uint8Array {
  const resources = resourceTemplate([levelHighSharedInterrupt([irq])]);
  return device(LINK_NAMES[pirq], [
    name("_HID", eisaId("PNP0C0F")),
    name("_UID", integer(pirq)),
    name("_PRS", resources),
    name("_CRS", resources),
    method("_SRS", 1, []),
  ]);
}

function isaDevice(object: IsaDeviceObject): Uint8Array {
  const terms = [name("_HID", eisaId(object.hid))];
  if (object.uid !== undefined) terms.push(name("_UID", integer(object.uid)));
  const resources = object.io.map(([base, length]) => ioPort(base, base, 1, length));
  if (object.irqs.length > 0) resources.push(irqNoFlags(object.irqs));
  terms.push(name("_CRS", resourceTemplate(resources)));
  return device(object.name, terms);
}

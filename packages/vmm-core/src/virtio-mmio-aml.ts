// A virtio-mmio transport in the DSDT, as QEMU's microvm describes its own: a device with _HID "LNRO0005" (what
// Linux's virtio_mmio driver matches on ACPI systems), its register window and its interrupt. An ACPI guest then
// finds the devices without a device tree and without virtio_mmio.device= on its command line (which needs
// CONFIG_VIRTIO_MMIO_CMDLINE_DEVICES, off in Debian's kernels).
import { resourceTemplate } from "./acpi-resources.js";
import { device, integer, name, string } from "./aml.js";
import { littleEndianBytes as le } from "./table-bytes.js";

/** One virtio-mmio transport: its window and the ISA IRQ (= GSI) its level-triggered, active-high line drives. */
export interface VirtioMmioDescription {
  address: number;
  size: number;
  irq: number;
}

/** Device (VRnn) { _HID "LNRO0005", _UID n, _CCA One, _CRS { Memory32Fixed, Interrupt (Level, ActiveHigh) } }. */
export function virtioMmioDeviceAml(index: number, transport: VirtioMmioDescription): Uint8Array {
  if (!Number.isInteger(index) || index < 0 || index > 0xff)
    throw new RangeError(`bad virtio-mmio index ${index}`);
  const deviceName = `VR${index.toString(16).toUpperCase().padStart(2, "0")}`;
  return device(deviceName, [
    name("_HID", string("LNRO0005")),
    name("_UID", integer(index)),
    name("_CCA", integer(1)), // DMA is cache-coherent
    name(
      "_CRS",
      resourceTemplate([memory32Fixed(transport.address, transport.size), levelHighInterrupt(transport.irq)]),
    ),
  ]);
}

/** Memory32Fixed (ReadWrite, base, length): large descriptor 0x86. */
function memory32Fixed(base: number, length: number): Uint8Array {
  for (const value of [base, length, base + length - 1]) {
    if (!Number.isInteger(value) || value < 0 || value > 0xffffffff) {
      throw new RangeError(
        `virtio-mmio window 0x${base.toString(16)}+0x${length.toString(16)} is not 32-bit`,
      );
    }
  }
  return Uint8Array.of(0x86, 9, 0, 0x01, ...le(base, 4), ...le(length, 4));
}

/** Interrupt (ResourceConsumer, Level, ActiveHigh, Exclusive) { irq }: extended interrupt descriptor 0x89. */
function levelHighInterrupt(irq: number): Uint8Array {
  if (!Number.isInteger(irq) || irq < 0 || irq > 15)
    throw new RangeError(`virtio-mmio IRQ ${irq} is not an ISA IRQ`);
  // Flags: bit 0 consumer; edge, active low and shared clear.
  return Uint8Array.of(0x89, 6, 0, 0x01, 1, ...le(irq, 4));
}

// ACPI resource descriptors (ACPI 6.5, section 6.4): the byte records inside a ResourceTemplate, which _CRS and
// _PRS objects return. Only the descriptors a PC's DSDT needs here, each with the fields iasl would emit.

import { buffer } from "./aml.js";
import { concatBytes, littleEndianBytes as le } from "./table-bytes.js";

function checkRange(value: number, max: number, what: string): void {
  if (!Number.isInteger(value) || value < 0 || value > max)
    throw new RangeError(`${what} out of range: ${value}`);
}

/** IO(Decode16, min, max, alignment, length): a small I/O port descriptor (tag 0x47). */
export function ioPort(min: number, max: number, alignment: number, length: number): Uint8Array {
  checkRange(min, 0xffff, "I/O range minimum");
  checkRange(max, 0xffff, "I/O range maximum");
  checkRange(alignment, 0xff, "I/O alignment");
  checkRange(length, 0xff, "I/O length");
  return Uint8Array.of(0x47, 0x01, ...le(min, 2), ...le(max, 2), alignment, length);
}

/** IRQNoFlags() { irqs }: ISA IRQs 0-15, edge-triggered, active high, exclusive (tag 0x22). */
export function irqNoFlags(irqs: readonly number[]): Uint8Array {
  let mask = 0;
  for (const irq of irqs) {
    checkRange(irq, 15, "ISA IRQ");
    mask |= 1 << irq;
  }
  return Uint8Array.of(0x22, ...le(mask, 2));
}

/** Address-space descriptor general flags for a bridge's window: ResourceProducer, PosDecode, MinFixed, MaxFixed. */
const PRODUCER_FIXED_WINDOW = 0x0c;
const AddressSpace = { Memory: 0, Io: 1, BusNumber: 2 } as const;

function wordAddressSpace(type: number, typeFlags: number, min: number, max: number): Uint8Array {
  checkRange(min, 0xffff, "window minimum");
  checkRange(max, 0xffff, "window maximum");
  if (max < min) throw new RangeError(`window maximum ${max} below minimum ${min}`);
  // Large descriptor 0x88, 13 bytes: type, flags, type flags, granularity, min, max, translation, length.
  return Uint8Array.of(
    0x88,
    13,
    0,
    type,
    PRODUCER_FIXED_WINDOW,
    typeFlags,
    0,
    0,
    ...le(min, 2),
    ...le(max, 2),
    0,
    0,
    ...le(max - min + 1, 2),
  );
}

/** WordBusNumber(ResourceProducer, MinFixed, MaxFixed, PosDecode, 0, min, max, 0, length). */
export function wordBusNumber(min: number, max: number): Uint8Array {
  return wordAddressSpace(AddressSpace.BusNumber, 0, min, max);
}

/** WordIO(ResourceProducer, MinFixed, MaxFixed, PosDecode, EntireRange, 0, min, max, 0, length). */
export function wordIo(min: number, max: number): Uint8Array {
  return wordAddressSpace(AddressSpace.Io, 0x03, min, max);
}

/**
 * DWordMemory(ResourceProducer, PosDecode, MinFixed, MaxFixed, Cacheable or NonCacheable, ReadWrite, 0, min, max,
 * 0, length): large descriptor 0x87.
 */
export function dwordMemory(min: number, max: number, cacheable: boolean): Uint8Array {
  checkRange(min, 0xffffffff, "window minimum");
  checkRange(max, 0xffffffff, "window maximum");
  if (max < min) throw new RangeError(`window maximum ${max} below minimum ${min}`);
  // Type-specific flags: bit 0 read-write, bits 1-2 the cacheability (1 = cacheable, 0 = not).
  const typeFlags = 0x01 | (cacheable ? 0x02 : 0);
  return Uint8Array.of(
    0x87,
    23,
    0,
    AddressSpace.Memory,
    PRODUCER_FIXED_WINDOW,
    typeFlags,
    0,
    0,
    0,
    0,
    ...le(min, 4),
    ...le(max, 4),
    0,
    0,
    0,
    0,
    ...le(max - min + 1, 4),
  );
}

/**
 * Interrupt(ResourceConsumer, Level, ActiveHigh, Shared) { gsis }: the extended interrupt descriptor (0x89) a PCI
 * interrupt link uses.
 */
export function levelHighSharedInterrupt(gsis: readonly number[]): Uint8Array {
  if (gsis.length === 0 || gsis.length > 255)
    throw new RangeError("an interrupt descriptor needs 1-255 interrupts");
  for (const gsi of gsis) checkRange(gsi, 0xffffffff, "interrupt number");
  // Flags: bit 0 consumer, bit 1 edge (clear: level), bit 2 active low (clear: high), bit 3 shared.
  const flags = 0x01 | 0x08;
  const body = [flags, gsis.length, ...gsis.flatMap((gsi) => le(gsi, 4))];
  return Uint8Array.of(0x89, ...le(body.length, 2), ...body);
}

/** ResourceTemplate() { descriptors }: a buffer of the descriptors and an end tag with checksum 0 (none). */
export function resourceTemplate(descriptors: readonly Uint8Array[]): Uint8Array {
  return buffer(concatBytes([...descriptors, Uint8Array.of(0x79, 0x00)]));
}

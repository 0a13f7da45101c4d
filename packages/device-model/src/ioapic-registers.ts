// Register layout of the I/O APIC (Intel 82093AA datasheet, section 3, plus the EOI register of version 0x20 parts).

/** Offsets in the memory-mapped window (0xFEC00000 on a PC). */
export const IoApicWindow = {
  /** IOREGSEL: bits 0-7 select the register seen through IOWIN. */
  RegisterSelect: 0x00,
  /** IOWIN: the selected 32-bit register. */
  Window: 0x10,
  /** EOI (version 0x20): writing a vector clears remote IRR of the level-triggered entries that use it. */
  Eoi: 0x40,
} as const;

/** Registers selected through IOREGSEL. */
export const IoApicRegister = {
  /** Bits 24-27: the I/O APIC ID. */
  Id: 0x00,
  /** Bits 0-7: version; bits 16-23: highest redirection entry (23). Read-only. */
  Version: 0x01,
  /** Bits 24-27: the APIC bus arbitration ID (loaded with the ID on every ID write). Read-only. */
  Arbitration: 0x02,
  /** Redirection entry n: low dword at 0x10 + 2n, high dword at 0x11 + 2n. */
  RedirectionTable: 0x10,
} as const;

/** Fields of a redirection entry's low dword. */
export const RedirectionEntry = {
  VectorMask: 0xff,
  DeliveryModeShift: 8,
  DeliveryModeMask: 0x700,
  /** 0 = physical (destination is an APIC ID), 1 = logical (destination is a set of processors). */
  DestinationModeLogical: 0x800,
  /** Read-only: 1 while a message waits to be accepted (never here: delivery is immediate). */
  DeliveryStatus: 0x1000,
  /** 1 = the input is active low. Stored and read back only; see IoApic. */
  PolarityLow: 0x2000,
  /** Read-only: set when a level-triggered interrupt is delivered, cleared by an EOI for its vector. */
  RemoteIrr: 0x4000,
  /** 1 = level-triggered, 0 = edge-triggered. */
  TriggerLevel: 0x8000,
  Masked: 0x10000,
  /** High dword: bits 56-63 of the entry, the destination. */
  DestinationShift: 24,
} as const;

/** Delivery modes (redirection entry bits 8-10, the same encoding as the local APIC's ICR and MSI data). */
export const DeliveryMode = {
  Fixed: 0,
  LowestPriority: 1,
  Smi: 2,
  Nmi: 4,
  Init: 5,
  /** The vector comes from the 8259A's INTA cycle: the consumer must run it (Pic8259Pair.acknowledge()). */
  ExtInt: 7,
} as const;

/** Destination modes of an interrupt message. */
export const DestinationMode = {
  Physical: 0,
  Logical: 1,
} as const;

/** Trigger modes of an interrupt message. */
export const TriggerMode = {
  Edge: 0,
  Level: 1,
} as const;

/** The version the IoApic reports: an 82093AA register set plus the EOI register, as QEMU's default IOAPIC. */
export const IOAPIC_VERSION = 0x20;
/** Number of redirection entries (interrupt input pins). */
export const IOAPIC_PINS = 24;
/** Where a PC puts the I/O APIC (the MP specification's default). Map IoApic there with IOAPIC_WINDOW_SIZE. */
export const IOAPIC_DEFAULT_ADDRESS = 0xfec00000;
/** Length of the MMIO window: offsets not listed in IoApicWindow read 0 and ignore writes. */
export const IOAPIC_WINDOW_SIZE = 0x1000;

// Offsets and bits of the PCI configuration space header (type 0), from the PCI Local Bus Specification 3.0.

/** Offsets in a type 0 configuration header. */
export const PciConfig = {
  VendorId: 0x00,
  DeviceId: 0x02,
  Command: 0x04,
  Status: 0x06,
  RevisionId: 0x08,
  /** Class code: programming interface (0x09), sub-class (0x0a), base class (0x0b). */
  ClassCode: 0x09,
  CacheLineSize: 0x0c,
  LatencyTimer: 0x0d,
  HeaderType: 0x0e,
  Bist: 0x0f,
  /** BAR n is at 0x10 + 4n, n = 0-5. */
  Bar0: 0x10,
  CardbusCisPointer: 0x28,
  SubsystemVendorId: 0x2c,
  SubsystemId: 0x2e,
  ExpansionRomBase: 0x30,
  CapabilitiesPointer: 0x34,
  InterruptLine: 0x3c,
  InterruptPin: 0x3d,
  MinGrant: 0x3e,
  MaxLatency: 0x3f,
  /** First byte of the device-specific area (capabilities and device registers). */
  DeviceSpecific: 0x40,
} as const;

/** Command register bits. */
export const PciCommand = {
  IoSpace: 0x0001,
  MemorySpace: 0x0002,
  BusMaster: 0x0004,
  SpecialCycles: 0x0008,
  MemoryWriteInvalidate: 0x0010,
  VgaPaletteSnoop: 0x0020,
  ParityErrorResponse: 0x0040,
  Serr: 0x0100,
  FastBackToBack: 0x0200,
  /** INTx# is not driven while set (the device's interrupt status still shows in the status register). */
  InterruptDisable: 0x0400,
} as const;

/** Status register bits. */
export const PciStatus = {
  /** Read-only: the function's INTx# request, whether or not InterruptDisable lets it out. */
  InterruptStatus: 0x0008,
  /** Read-only: the capabilities pointer at 0x34 is valid. */
  CapabilitiesList: 0x0010,
  Capable66MHz: 0x0020,
  FastBackToBack: 0x0080,
  MasterDataParityError: 0x0100,
  /** DEVSEL# timing, bits 9-10: 0 fast, 1 medium, 2 slow. */
  DevselMedium: 0x0200,
  SignaledTargetAbort: 0x0800,
  ReceivedTargetAbort: 0x1000,
  ReceivedMasterAbort: 0x2000,
  SignaledSystemError: 0x4000,
  DetectedParityError: 0x8000,
} as const;

/** Header type byte: bit 7 says the device has more than one function. */
export const PciHeaderType = {
  Normal: 0x00,
  MultiFunction: 0x80,
} as const;

/** Interrupt pin register values. */
export const PciInterruptPin = {
  None: 0,
  IntA: 1,
  IntB: 2,
  IntC: 3,
  IntD: 4,
} as const;

/** Capability IDs (PCI Code and ID Assignment Specification). */
export const PciCapabilityId = {
  PowerManagement: 0x01,
  Msi: 0x05,
  VendorSpecific: 0x09,
  PciExpress: 0x10,
  MsiX: 0x11,
} as const;

/** Class codes (base class << 16 | sub-class << 8 | programming interface). */
export const PciClass = {
  HostBridge: 0x060000,
  IsaBridge: 0x060100,
  OtherBridge: 0x068000,
} as const;

/** Low bits of a BAR. */
export const PciBarBits = {
  /** Bit 0: 1 = I/O space. */
  Io: 0x1,
  /** Bits 1-2 of a memory BAR: 0b10 = 64-bit (the next BAR holds the high dword). */
  Memory64: 0x4,
  /** Bit 3 of a memory BAR. */
  Prefetchable: 0x8,
} as const;

/** Vendor IDs used by the PC platform here. */
export const PciVendor = {
  Intel: 0x8086,
} as const;

/** What a read from an absent function returns: the host bridge's master abort gives all ones. */
export const PCI_ABSENT = 0xffffffff;

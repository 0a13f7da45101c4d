// Numbers from the virtio 1.2 specification (OASIS, "Virtual I/O Device Version 1.2"), chapter 2 and 5.

/** Device status bits (spec 2.1). */
export const DeviceStatus = {
  Acknowledge: 1,
  Driver: 2,
  DriverOk: 4,
  FeaturesOk: 8,
  /** Set by the device when it hit an error it cannot recover from; the driver must reset it. */
  DeviceNeedsReset: 0x40,
  Failed: 0x80,
} as const;

/** Device IDs (spec 5). */
export const VirtioDeviceId = {
  Network: 1,
  Block: 2,
  Console: 3,
  Entropy: 4,
} as const;

/** Feature bits that are not device-specific (spec 6), as bit numbers 0-63. */
export const VirtioFeature = {
  RingIndirectDesc: 28,
  RingEventIdx: 29,
  Version1: 32,
  AccessPlatform: 33,
  RingPacked: 34,
  InOrder: 35,
} as const;

/** Split and packed descriptor flags (spec 2.7.5, 2.8.1). */
export const DescriptorFlag = {
  Next: 1,
  Write: 2,
  Indirect: 4,
  /** Packed ring only. */
  Avail: 1 << 7,
  /** Packed ring only. */
  Used: 1 << 15,
} as const;

/** The size of one descriptor, split or packed, direct or indirect. */
export const DESCRIPTOR_SIZE = 16;
/** The largest queue size the spec allows (split: power of two up to this; packed: any size up to this). */
export const MAX_QUEUE_SIZE = 32768;

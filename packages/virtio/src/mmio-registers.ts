// The virtio-mmio register layout, version 2 (virtio 1.2 spec 4.2.2).

/** "virt", little-endian. */
export const VIRTIO_MMIO_MAGIC = 0x74726976;
/** The modern (virtio 1.x) register layout; 1 was the legacy one. */
export const VIRTIO_MMIO_VERSION = 2;
/** The vendor ID QEMU reports ("QEMU", little-endian); drivers do not look at it. */
export const VIRTIO_MMIO_VENDOR_ID = 0x554d4551;
/** Bytes of one virtio-mmio device window: the registers, then the device configuration at 0x100. */
export const VIRTIO_MMIO_SIZE = 0x200;
/** The most device configuration a window holds. */
export const VIRTIO_MMIO_CONFIG_SIZE = VIRTIO_MMIO_SIZE - 0x100;

/** Register offsets; every register is 32 bits wide and read or written with aligned 32-bit accesses only. */
export const VirtioMmioRegister = {
  MagicValue: 0x000,
  Version: 0x004,
  DeviceId: 0x008,
  VendorId: 0x00c,
  DeviceFeatures: 0x010,
  DeviceFeaturesSel: 0x014,
  DriverFeatures: 0x020,
  DriverFeaturesSel: 0x024,
  QueueSel: 0x030,
  QueueNumMax: 0x034,
  QueueNum: 0x038,
  QueueReady: 0x044,
  QueueNotify: 0x050,
  InterruptStatus: 0x060,
  InterruptAck: 0x064,
  Status: 0x070,
  QueueDescLow: 0x080,
  QueueDescHigh: 0x084,
  QueueDriverLow: 0x090,
  QueueDriverHigh: 0x094,
  QueueDeviceLow: 0x0a0,
  QueueDeviceHigh: 0x0a4,
  ShmSel: 0x0ac,
  ShmLenLow: 0x0b0,
  ShmLenHigh: 0x0b4,
  ShmBaseLow: 0x0b8,
  ShmBaseHigh: 0x0bc,
  QueueReset: 0x0c0,
  ConfigGeneration: 0x0fc,
  /** The device configuration space (byte, 16-bit and 32-bit accesses). */
  Config: 0x100,
} as const;

/** InterruptStatus and InterruptACK bits. */
export const VirtioMmioInterrupt = {
  /** Used buffers on at least one queue. */
  UsedBuffer: 1,
  ConfigChange: 2,
} as const;

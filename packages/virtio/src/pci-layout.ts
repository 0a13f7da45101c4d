// The modern virtio-pci layout (virtio 1.2 spec 4.1): identity, vendor capabilities, the common configuration
// structure, and where this transport puts each structure in its BARs (as QEMU does).

export const VIRTIO_PCI_VENDOR_ID = 0x1af4;
/** A modern (non-transitional) device's PCI device ID is this plus its virtio device ID. */
export const VIRTIO_PCI_DEVICE_ID_BASE = 0x1040;
/** Modern devices have revision 1 or higher, so legacy drivers leave them alone. */
export const VIRTIO_PCI_REVISION = 1;
/**
 * The subsystem device ID. The spec asks non-transitional devices for 0x40 or higher (legacy drivers read the
 * device type from this field), and OVMF's Virtio10Dxe skips devices below 0x40; QEMU, Firecracker and
 * cloud-hypervisor use 0x40.
 */
export const VIRTIO_PCI_SUBSYSTEM_ID = 0x40;
/** No MSI-X vector: no interrupt for the event. */
export const VIRTIO_MSI_NO_VECTOR = 0xffff;

/** PCI class codes for virtio device types (what QEMU reports). */
export const VirtioPciClass = {
  /** Mass storage, SCSI (QEMU's virtio-blk). */
  Block: 0x010000,
  /** Network, Ethernet. */
  Network: 0x020000,
  /** Communication, other. */
  Console: 0x078000,
  /** Unclassified, other. */
  Other: 0x00ff00,
} as const;

/** cfg_type of the virtio vendor-specific capabilities. */
export const VirtioPciCapType = {
  CommonCfg: 1,
  NotifyCfg: 2,
  IsrCfg: 3,
  DeviceCfg: 4,
  /** The configuration-space window into the BARs. */
  PciCfg: 5,
} as const;

/** Offsets in a virtio vendor capability (struct virtio_pci_cap). */
export const VirtioPciCap = {
  /** cap_len: the capability's own length. */
  CapLength: 2,
  CfgType: 3,
  Bar: 4,
  Id: 5,
  /** The structure's offset in the BAR. */
  Offset: 8,
  /** The structure's length. */
  Length: 12,
  /** Notify capability: notify_off_multiplier. */
  NotifyOffMultiplier: 16,
  /** PCI_CFG capability: the data window. */
  PciCfgData: 16,
} as const;

/** Offsets in the common configuration structure (struct virtio_pci_common_cfg). */
export const VirtioPciCommonCfg = {
  DeviceFeatureSelect: 0x00,
  DeviceFeature: 0x04,
  DriverFeatureSelect: 0x08,
  DriverFeature: 0x0c,
  ConfigMsixVector: 0x10,
  NumQueues: 0x12,
  DeviceStatus: 0x14,
  ConfigGeneration: 0x15,
  QueueSelect: 0x16,
  QueueSize: 0x18,
  QueueMsixVector: 0x1a,
  QueueEnable: 0x1c,
  QueueNotifyOff: 0x1e,
  /** 64-bit; each 32-bit half may be accessed on its own. */
  QueueDesc: 0x20,
  QueueDriver: 0x28,
  QueueDevice: 0x30,
} as const;

/** ISR status bits. */
export const VirtioPciIsr = {
  Queue: 1,
  ConfigChange: 2,
} as const;

/** Which BAR slots the transport uses (QEMU's choice). */
export const VirtioPciBar = {
  /** 32-bit memory BAR: the MSI-X table and PBA. */
  Msix: 1,
  /** 64-bit prefetchable memory BAR: the virtio structures. */
  Virtio: 4,
} as const;

/** Offsets of the virtio structures in the virtio BAR, a 4 KiB page each (so each can be mapped on its own). */
export const VirtioPciRegion = {
  Common: 0x0000,
  Isr: 0x1000,
  Device: 0x2000,
  Notify: 0x3000,
  /** Bytes of each structure's page. */
  Size: 0x1000,
} as const;

/** The virtio BAR's size: the four pages. */
export const VIRTIO_PCI_BAR_SIZE = 0x4000;
/** Queue n's notification address is Notify + n * this. */
export const VIRTIO_PCI_NOTIFY_OFF_MULTIPLIER = 4;
/** The most queues the notification page holds, and the most device configuration bytes. */
export const VIRTIO_PCI_MAX_QUEUES = VirtioPciRegion.Size / VIRTIO_PCI_NOTIFY_OFF_MULTIPLIER;
export const VIRTIO_PCI_MAX_CONFIG_SIZE = VirtioPciRegion.Size;

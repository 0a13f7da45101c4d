export {
  DESCRIPTOR_SIZE,
  DescriptorFlag,
  DeviceStatus,
  MAX_QUEUE_SIZE,
  VirtioDeviceId,
  VirtioFeature,
} from "./constants.js";
export { createVirtqueue, validateQueueLayout } from "./create-virtqueue.js";
export type { VirtioDevice, VirtioDeviceContext, VirtioInterrupt } from "./device.js";
export { type FeatureWords, featureWords, hasFeature } from "./features.js";
export {
  VIRTIO_MMIO_CONFIG_SIZE,
  VIRTIO_MMIO_MAGIC,
  VIRTIO_MMIO_SIZE,
  VIRTIO_MMIO_VENDOR_ID,
  VIRTIO_MMIO_VERSION,
  VirtioMmioInterrupt,
  VirtioMmioRegister,
} from "./mmio-registers.js";
export { VirtioMmioTransport, type VirtioMmioTransportOptions } from "./mmio-transport.js";
export {
  MSIX_ENTRY_SIZE,
  MSIX_MAX_VECTORS,
  Msix,
  MsixControl,
  MsixEntry,
  type MsixOptions,
} from "./msix.js";
export {
  VIRTIO_MSI_NO_VECTOR,
  VIRTIO_PCI_BAR_SIZE,
  VIRTIO_PCI_DEVICE_ID_BASE,
  VIRTIO_PCI_MAX_CONFIG_SIZE,
  VIRTIO_PCI_MAX_QUEUES,
  VIRTIO_PCI_NOTIFY_OFF_MULTIPLIER,
  VIRTIO_PCI_REVISION,
  VIRTIO_PCI_SUBSYSTEM_ID,
  VIRTIO_PCI_VENDOR_ID,
  VirtioPciBar,
  VirtioPciCap,
  VirtioPciCapType,
  VirtioPciClass,
  VirtioPciCommonCfg,
  VirtioPciIsr,
  VirtioPciRegion,
} from "./pci-layout.js";
export { VirtioPciTransport, type VirtioPciTransportOptions } from "./pci-transport.js";
export {
  QueueArea,
  type TransportInterrupts,
  VirtioTransportCore,
  type VirtioTransportCoreOptions,
} from "./transport-core.js";
export type { DescriptorChain, Virtqueue, VirtqueueLayout, VirtqueueOptions } from "./virtqueue.js";

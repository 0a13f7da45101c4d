export { type BlockBackend, BlockBackendError } from "./block/block-backend.js";
export { MemoryBlockBackend, type MemoryBlockBackendOptions } from "./block/memory-block-backend.js";
export { SnapshotBlockBackend, type SnapshotBlockBackendOptions } from "./block/snapshot-block-backend.js";
export {
  BLOCK_CONFIG_SIZE,
  BLOCK_ID_BYTES,
  BLOCK_REQUEST_HEADER_SIZE,
  BLOCK_SEGMENT_SIZE,
  BlockFeature,
  BlockRequestType,
  BlockStatus,
  SECTOR_SIZE,
  VirtioBlock,
  type VirtioBlockOptions,
} from "./block/virtio-block.js";
export type { CharBackend } from "./console/char-backend.js";
export { MemoryCharBackend } from "./console/memory-char-backend.js";
export {
  CONSOLE_CONFIG_SIZE,
  ConsoleFeature,
  VirtioConsole,
  type VirtioConsoleOptions,
} from "./console/virtio-console.js";
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
  encodeLengthPrefixedFrame,
  LengthPrefixedFrameReader,
  MAX_SOCKET_FRAME,
} from "./net/length-prefixed-frames.js";
export type { NetBackend } from "./net/net-backend.js";
export {
  DEFAULT_MAC,
  ETHERNET_HEADER_SIZE,
  MAX_FRAME_SIZE,
  NET_CONFIG_SIZE,
  NET_HEADER_SIZE,
  type NetCounters,
  NetFeature,
  NetStatus,
  parseMac,
  VirtioNet,
  type VirtioNetOptions,
} from "./net/virtio-net.js";
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
  CryptoEntropySource,
  type EntropySource,
  type RandomValuesProvider,
} from "./rng/entropy-source.js";
export { VirtioRng, type VirtioRngOptions } from "./rng/virtio-rng.js";
export {
  QueueArea,
  type TransportInterrupts,
  VirtioTransportCore,
  type VirtioTransportCoreOptions,
} from "./transport-core.js";
export type { DescriptorChain, Virtqueue, VirtqueueLayout, VirtqueueOptions } from "./virtqueue.js";

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
export type { DescriptorChain, Virtqueue, VirtqueueLayout, VirtqueueOptions } from "./virtqueue.js";

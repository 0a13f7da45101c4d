// Building a queue from what the driver wrote to the transport's registers: the layout check transports use to
// refuse a queue, and the factory that picks split or packed from the negotiated features.
import { DESCRIPTOR_SIZE, MAX_QUEUE_SIZE, VirtioFeature } from "./constants.js";
import { GUEST_ADDRESS_LIMIT } from "./descriptor-chain.js";
import { hasFeature } from "./features.js";
import { PackedVirtqueue } from "./packed-virtqueue.js";
import { SplitVirtqueue } from "./split-virtqueue.js";
import type { Virtqueue, VirtqueueLayout, VirtqueueOptions } from "./virtqueue.js";

/**
 * Why the driver's queue layout is unusable, or undefined when it is fine: the size (split: a power of two; both:
 * 1 to MAX_QUEUE_SIZE and at most `maxSize`) and the alignment of the three areas (spec 2.7 / 2.8: split
 * descriptor table 16, available ring 2, used ring 4; packed descriptor ring 16, event structures 4). The
 * transport decides what a refusal means for the guest.
 */
export function validateQueueLayout(
  layout: VirtqueueLayout,
  maxSize: number,
  packed: boolean,
): string | undefined {
  const { size } = layout;
  if (!Number.isInteger(size) || size < 1 || size > MAX_QUEUE_SIZE) {
    return `queue size ${size} is not between 1 and ${MAX_QUEUE_SIZE}`;
  }
  if (size > maxSize) return `queue size ${size} is larger than the device's maximum ${maxSize}`;
  if (!packed && (size & (size - 1)) !== 0) return `split queue size ${size} is not a power of two`;
  const areas: [string, number, number][] = [
    [packed ? "descriptor ring" : "descriptor table", layout.descriptorArea, DESCRIPTOR_SIZE],
    [packed ? "driver event suppression structure" : "available ring", layout.driverArea, packed ? 4 : 2],
    [packed ? "device event suppression structure" : "used ring", layout.deviceArea, 4],
  ];
  for (const [name, address, alignment] of areas) {
    if (!Number.isInteger(address) || address < 0 || address >= GUEST_ADDRESS_LIMIT) {
      return `the ${name} address ${address} is outside the guest address space`;
    }
    if (address % alignment !== 0) {
      return `the ${name} at 0x${address.toString(16)} is not ${alignment}-byte aligned`;
    }
  }
  return undefined;
}

/**
 * The device side of a queue the driver enabled: packed with VIRTIO_F_RING_PACKED, split otherwise. Never throws:
 * a layout validateQueueLayout refuses (against MAX_QUEUE_SIZE; transports check the device's maximum first) or
 * rings outside guest RAM give a queue that is already broken, with onBroken called before this returns.
 */
export function createVirtqueue(options: VirtqueueOptions): Virtqueue {
  const packed = hasFeature(options.features, VirtioFeature.RingPacked);
  const invalid = validateQueueLayout(options.layout, MAX_QUEUE_SIZE, packed);
  return packed ? new PackedVirtqueue(options, invalid) : new SplitVirtqueue(options, invalid);
}

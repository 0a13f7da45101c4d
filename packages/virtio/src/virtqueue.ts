// The contract between virtqueues (split, packed) and the devices and transports that use them. Devices see only
// these interfaces, so a device works the same on either ring layout and behind any transport.
import type { GuestMemory } from "@tsvmm/ept";
import type { FeatureWords } from "./features.js";

/** Where the driver put a queue's three areas, and the size it chose (what the transport's registers hold). */
export interface VirtqueueLayout {
  /** Queue size (split: a power of two; packed: any value), 1 to MAX_QUEUE_SIZE and at most the device's maximum. */
  size: number;
  /** Guest-physical address of the descriptor table (split) or descriptor ring (packed). */
  descriptorArea: number;
  /** The available ring (split) or the driver event suppression structure (packed). */
  driverArea: number;
  /** The used ring (split) or the device event suppression structure (packed). */
  deviceArea: number;
}

/**
 * One buffer chain the driver made available: its device-readable buffers, then its device-writable ones. A chain
 * is validated as a whole when it is popped (every buffer in guest RAM, no address + length overflow, no loops, no
 * readable buffer after a writable one, indirect tables well formed); a chain that fails has `error` set and no
 * buffers, and the device must still return it with `pushUsed(chain, 0)` (consumed with an error).
 */
export interface DescriptorChain {
  /** What pushUsed returns to the driver: the head index (split) or the buffer ID (packed). */
  readonly id: number;
  /** Why the chain is malformed, or undefined when it is usable. */
  readonly error: string | undefined;
  /** Total bytes of the device-readable buffers. */
  readonly readableLength: number;
  /** Total bytes of the device-writable buffers. */
  readonly writableLength: number;
  /**
   * Copies device-readable bytes, starting `offset` bytes into the readable part, into `dst`; returns how many were
   * copied (fewer than dst.length at the end of the readable part).
   */
  read(offset: number, dst: Uint8Array): number;
  /**
   * Copies `src` into the device-writable part starting `offset` bytes into it; returns how many were copied (fewer
   * at its end). Never touches a device-readable buffer.
   */
  write(offset: number, src: Uint8Array): number;
}

/** The device's side of one virtqueue. Nothing a guest writes into the rings makes these methods throw. */
export interface Virtqueue {
  /** The queue's index in its device. */
  readonly index: number;
  readonly size: number;
  /**
   * Why the queue stopped: its rings are corrupt in a way no chain can be returned for (a head index or buffer ID
   * out of range, an available index that moved by more than the queue size, a ring outside guest RAM). A broken
   * queue pops nothing more; the transport sets DEVICE_NEEDS_RESET when a queue breaks.
   */
  readonly broken: string | undefined;
  /** The next available chain, or null if there is none (or the queue is broken). */
  pop(): DescriptorChain | null;
  /** Returns a chain to the driver with `writtenLength` bytes written to its device-writable part. */
  pushUsed(chain: DescriptorChain, writtenLength: number): void;
  /**
   * Whether the driver wants an interrupt for the buffers used since the last time this returned true (used-ring
   * flags or, with VIRTIO_F_RING_EVENT_IDX, the used event index; packed: the driver event suppression structure).
   */
  needsInterrupt(): boolean;
  /**
   * Asks the driver to (true) or not to (false) notify the device of new buffers (used-ring flag, avail event
   * index or the packed device event suppression structure). Advisory: a device must still drain the queue.
   */
  setNotifications(enabled: boolean): void;
}

/** What a transport needs to build a queue when the driver enables it. */
export interface VirtqueueOptions {
  memory: GuestMemory;
  index: number;
  layout: VirtqueueLayout;
  /** The negotiated features: VIRTIO_F_RING_PACKED picks the layout; INDIRECT_DESC and EVENT_IDX are honoured. */
  features: FeatureWords;
  /** Called once, when the queue breaks (see Virtqueue.broken). */
  onBroken?: (reason: string) => void;
}

// The virtio 1.x split virtqueue (spec 2.7), device side: a descriptor table, the driver's available ring and the
// device's used ring. Everything read from the rings is guest input: a malformed chain is consumed with an error,
// and corruption no chain can be returned for (a bad head index, a runaway available index, rings outside RAM)
// breaks the queue.
import { type GuestMemory, GuestMemoryError } from "@tsvmm/ept";
import { DESCRIPTOR_SIZE, DescriptorFlag, VirtioFeature } from "./constants.js";
import { checkIndirectTable, clampWritten, GuestDescriptorChain } from "./descriptor-chain.js";
import { hasFeature } from "./features.js";
import type { DescriptorChain, Virtqueue, VirtqueueOptions } from "./virtqueue.js";

/** VRING_AVAIL_F_NO_INTERRUPT: the driver does not want interrupts (without VIRTIO_F_RING_EVENT_IDX). */
export const VRING_AVAIL_F_NO_INTERRUPT = 1;
/** VRING_USED_F_NO_NOTIFY: the device does not want notifications (without VIRTIO_F_RING_EVENT_IDX). */
export const VRING_USED_F_NO_NOTIFY = 1;

/** Bytes of the available ring: flags, idx, ring[size], and used_event with VIRTIO_F_RING_EVENT_IDX. */
export function splitAvailRingBytes(size: number, eventIdx: boolean): number {
  return 4 + 2 * size + (eventIdx ? 2 : 0);
}

/** Bytes of the used ring: flags, idx, ring[size] of {id u32, len u32}, and avail_event with EVENT_IDX. */
export function splitUsedRingBytes(size: number, eventIdx: boolean): number {
  return 4 + 8 * size + (eventIdx ? 2 : 0);
}

/**
 * vring_need_event (spec 2.7.7.1 / 2.7.10.1): whether moving an index from `old` to `current` (16-bit, free-running)
 * passed `event`, i.e. whether event is in [old, current) modulo 2^16.
 */
export function vringNeedEvent(event: number, current: number, old: number): boolean {
  return ((current - event - 1) & 0xffff) < ((current - old) & 0xffff);
}

export class SplitVirtqueue implements Virtqueue {
  readonly index: number;
  readonly size: number;
  broken: string | undefined = undefined;

  private readonly memory: GuestMemory;
  private readonly descriptorTable: number;
  private readonly availRing: number;
  private readonly usedRing: number;
  private readonly eventIdx: boolean;
  private readonly indirect: boolean;
  private readonly onBroken: ((reason: string) => void) | undefined;

  /** The next available-ring entry to consume (free-running 16-bit). */
  private nextAvail = 0;
  /** The driver's avail idx as last read: entries up to it may be consumed without reading it again. */
  private availIdx = 0;
  /** The next used-ring entry to write (free-running 16-bit). */
  private nextUsed = 0;
  /** Used entries written since needsInterrupt() last said yes. */
  private usedSinceInterrupt = 0;
  private notifications = true;
  private readonly outstanding = new Set<GuestDescriptorChain>();

  /** `invalidLayout`: why the layout was refused (createVirtqueue's check); the queue starts broken. */
  constructor(options: VirtqueueOptions, invalidLayout?: string) {
    const { memory, layout, features } = options;
    this.memory = memory;
    this.index = options.index;
    this.size = layout.size;
    this.descriptorTable = layout.descriptorArea;
    this.availRing = layout.driverArea;
    this.usedRing = layout.deviceArea;
    this.eventIdx = hasFeature(features, VirtioFeature.RingEventIdx);
    this.indirect = hasFeature(features, VirtioFeature.RingIndirectDesc);
    this.onBroken = options.onBroken;
    if (invalidLayout !== undefined) {
      this.markBroken(invalidLayout);
    } else if (!memory.isRam(this.descriptorTable, DESCRIPTOR_SIZE * this.size)) {
      this.markBroken("the descriptor table is not in guest RAM");
    } else if (!memory.isRam(this.availRing, splitAvailRingBytes(this.size, this.eventIdx))) {
      this.markBroken("the available ring is not in guest RAM");
    } else if (!memory.isRam(this.usedRing, splitUsedRingBytes(this.size, this.eventIdx), true)) {
      this.markBroken("the used ring is not in writable guest RAM");
    }
  }

  pop(): DescriptorChain | null {
    if (this.broken !== undefined) return null;
    try {
      if (this.nextAvail === this.availIdx) {
        // One read of avail idx per batch: the entries below it are then known to be written.
        const availIdx = this.memory.readU16(this.availRing + 2);
        const pending = (availIdx - this.nextAvail) & 0xffff;
        if (pending > this.size) {
          this.markBroken(
            `the available index moved from ${this.nextAvail} to ${availIdx}, more than the queue size ${this.size}`,
          );
          return null;
        }
        this.availIdx = availIdx;
        if (pending === 0) return null;
      }
      const head = this.memory.readU16(this.availRing + 4 + 2 * (this.nextAvail & (this.size - 1)));
      if (head >= this.size) {
        this.markBroken(`available ring entry ${this.nextAvail} names descriptor ${head}, outside the queue`);
        return null;
      }
      this.nextAvail = (this.nextAvail + 1) & 0xffff;
      if (this.eventIdx && this.notifications) this.writeAvailEvent();
      const chain = new GuestDescriptorChain(this.memory, head);
      this.walkChain(chain, head);
      this.outstanding.add(chain);
      return chain;
    } catch (error) {
      if (error instanceof GuestMemoryError) {
        this.markBroken(`a ring of queue ${this.index} is no longer guest RAM`);
        return null;
      }
      throw error;
    }
  }

  pushUsed(chain: DescriptorChain, writtenLength: number): void {
    if (!(chain instanceof GuestDescriptorChain) || !this.outstanding.delete(chain)) return;
    chain.retire();
    if (this.broken !== undefined) return;
    const length = clampWritten(writtenLength, chain.writableLength);
    try {
      const element = this.usedRing + 4 + 8 * (this.nextUsed & (this.size - 1));
      this.memory.writeU32(element, chain.id);
      this.memory.writeU32(element + 4, length);
      // The element is complete before idx makes it visible.
      this.nextUsed = (this.nextUsed + 1) & 0xffff;
      this.memory.writeU16(this.usedRing + 2, this.nextUsed);
      this.usedSinceInterrupt++;
    } catch (error) {
      if (!(error instanceof GuestMemoryError)) throw error;
      this.markBroken(`the used ring of queue ${this.index} is no longer guest RAM`);
    }
  }

  needsInterrupt(): boolean {
    if (this.broken !== undefined || this.usedSinceInterrupt === 0) return false;
    let wanted: boolean;
    try {
      if (!this.eventIdx) {
        wanted = (this.memory.readU16(this.availRing) & VRING_AVAIL_F_NO_INTERRUPT) === 0;
      } else if (this.usedSinceInterrupt >= 0x10000) {
        wanted = true; // the window covers every 16-bit index, so it passed used_event whatever it is
      } else {
        const usedEvent = this.memory.readU16(this.availRing + 4 + 2 * this.size);
        wanted = ((this.nextUsed - usedEvent - 1) & 0xffff) < this.usedSinceInterrupt;
      }
    } catch (error) {
      if (!(error instanceof GuestMemoryError)) throw error;
      this.markBroken(`the available ring of queue ${this.index} is no longer guest RAM`);
      return false;
    }
    if (wanted) this.usedSinceInterrupt = 0;
    return wanted;
  }

  setNotifications(enabled: boolean): void {
    this.notifications = enabled;
    if (this.broken !== undefined) return;
    try {
      if (this.eventIdx) {
        // Disabling leaves avail_event behind the driver, so it stops notifying until the device asks again.
        if (enabled) this.writeAvailEvent();
      } else {
        this.memory.writeU16(this.usedRing, enabled ? 0 : VRING_USED_F_NO_NOTIFY);
      }
    } catch (error) {
      if (!(error instanceof GuestMemoryError)) throw error;
      this.markBroken(`the used ring of queue ${this.index} is no longer guest RAM`);
    }
  }

  /** avail_event: notify the device when the entry it will consume next is made available. */
  private writeAvailEvent(): void {
    this.memory.writeU16(this.usedRing + 4 + 8 * this.size, this.nextAvail);
  }

  private walkChain(chain: GuestDescriptorChain, head: number): void {
    const memory = this.memory;
    let index = head;
    for (;;) {
      if (chain.descriptorCount >= this.size) {
        chain.fail(`the chain at descriptor ${head} is longer than the queue size (a loop?)`);
        return;
      }
      const at = this.descriptorTable + DESCRIPTOR_SIZE * index;
      const address = memory.readU32(at) + memory.readU32(at + 4) * 0x1_0000_0000;
      const length = memory.readU32(at + 8);
      const flags = memory.readU16(at + 12);
      if ((flags & DescriptorFlag.Indirect) !== 0) {
        this.walkIndirect(chain, address, length, flags);
        return;
      }
      const error = chain.addBuffer(address, length, (flags & DescriptorFlag.Write) !== 0);
      if (error !== undefined) {
        chain.fail(error);
        return;
      }
      if ((flags & DescriptorFlag.Next) === 0) return;
      const next = memory.readU16(at + 14);
      if (next >= this.size) {
        chain.fail(`descriptor ${index} links to descriptor ${next}, outside the queue of ${this.size}`);
        return;
      }
      index = next;
    }
  }

  private walkIndirect(chain: GuestDescriptorChain, table: number, length: number, flags: number): void {
    const problem = checkIndirectTable(this.memory, this.indirect, table, length);
    if (problem !== undefined) {
      chain.fail(problem);
      return;
    }
    if ((flags & DescriptorFlag.Next) !== 0) {
      chain.fail("an indirect descriptor has NEXT set");
      return;
    }
    const entries = length / DESCRIPTOR_SIZE;
    const memory = this.memory;
    let entry = 0;
    try {
      for (let seen = 0; ; seen++) {
        if (seen >= entries) {
          chain.fail("the indirect chain is longer than its table (a loop?)");
          return;
        }
        const at = table + DESCRIPTOR_SIZE * entry;
        const address = memory.readU32(at) + memory.readU32(at + 4) * 0x1_0000_0000;
        const bufferLength = memory.readU32(at + 8);
        const entryFlags = memory.readU16(at + 12);
        if ((entryFlags & DescriptorFlag.Indirect) !== 0) {
          chain.fail("an indirect table holds another indirect descriptor");
          return;
        }
        const error = chain.addBuffer(address, bufferLength, (entryFlags & DescriptorFlag.Write) !== 0);
        if (error !== undefined) {
          chain.fail(error);
          return;
        }
        if ((entryFlags & DescriptorFlag.Next) === 0) return;
        const next = memory.readU16(at + 14);
        if (next >= entries) {
          chain.fail(`indirect descriptor ${entry} links to ${next}, outside its table of ${entries}`);
          return;
        }
        entry = next;
      }
    } catch (error) {
      if (!(error instanceof GuestMemoryError)) throw error;
      chain.fail("the indirect table is not guest RAM");
    }
  }

  private markBroken(reason: string): void {
    if (this.broken !== undefined) return;
    this.broken = reason;
    this.outstanding.clear();
    this.onBroken?.(reason);
  }
}

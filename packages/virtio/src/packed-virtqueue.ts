// The virtio 1.x packed virtqueue (spec 2.8), device side: one descriptor ring that the driver fills and the device
// overwrites with used descriptors, told apart by the AVAIL/USED flags and the two sides' wrap counters, plus the
// driver and device event suppression structures. A buffer ID out of range, a chain that never ends or runs into
// a descriptor that is not available, or more descriptors outstanding than the ring holds break the queue (no
// used descriptor could be written for them); other malformed chains are consumed with an error.
import { type GuestMemory, GuestMemoryError } from "@tsvmm/ept";
import { DESCRIPTOR_SIZE, DescriptorFlag, VirtioFeature } from "./constants.js";
import { checkIndirectTable, clampWritten, GuestDescriptorChain } from "./descriptor-chain.js";
import { hasFeature } from "./features.js";
import type { DescriptorChain, Virtqueue, VirtqueueOptions } from "./virtqueue.js";

/** Event suppression flags (spec 2.8.10): the low two bits of the structure's second 16-bit word. */
export const PackedEventFlag = {
  /** Notify (interrupt) on every used descriptor / every kick. */
  Enable: 0,
  Disable: 1,
  /** Only when the descriptor at desc_event_off with desc_event_wrap is used (needs VIRTIO_F_RING_EVENT_IDX). */
  Desc: 2,
} as const;

/** Bytes of each event suppression structure: desc_event_off_wrap (u16), desc_event_flags (u16). */
export const PACKED_EVENT_STRUCTURE_SIZE = 4;

const AVAIL_AND_USED = DescriptorFlag.Avail | DescriptorFlag.Used;

export class PackedVirtqueue implements Virtqueue {
  readonly index: number;
  readonly size: number;
  broken: string | undefined = undefined;

  private readonly memory: GuestMemory;
  private readonly ring: number;
  private readonly driverEvent: number;
  private readonly deviceEvent: number;
  private readonly eventIdx: boolean;
  private readonly indirect: boolean;
  private readonly onBroken: ((reason: string) => void) | undefined;

  private nextAvail = 0;
  private availWrap = true;
  private nextUsed = 0;
  private usedWrap = true;
  /** Ring descriptors of the chains popped and not yet used: never more than the ring holds. */
  private outstandingDescriptors = 0;
  /** Ring positions the used index moved since needsInterrupt() last said yes. */
  private usedSinceInterrupt = 0;
  private readonly outstanding = new Set<GuestDescriptorChain>();

  /** `invalidLayout`: why the layout was refused (createVirtqueue's check); the queue starts broken. */
  constructor(options: VirtqueueOptions, invalidLayout?: string) {
    const { memory, layout, features } = options;
    this.memory = memory;
    this.index = options.index;
    this.size = layout.size;
    this.ring = layout.descriptorArea;
    this.driverEvent = layout.driverArea;
    this.deviceEvent = layout.deviceArea;
    this.eventIdx = hasFeature(features, VirtioFeature.RingEventIdx);
    this.indirect = hasFeature(features, VirtioFeature.RingIndirectDesc);
    this.onBroken = options.onBroken;
    if (invalidLayout !== undefined) {
      this.markBroken(invalidLayout);
    } else if (!memory.isRam(this.ring, DESCRIPTOR_SIZE * this.size, true)) {
      this.markBroken("the descriptor ring is not in writable guest RAM");
    } else if (!memory.isRam(this.driverEvent, PACKED_EVENT_STRUCTURE_SIZE)) {
      this.markBroken("the driver event suppression structure is not in guest RAM");
    } else if (!memory.isRam(this.deviceEvent, PACKED_EVENT_STRUCTURE_SIZE, true)) {
      this.markBroken("the device event suppression structure is not in writable guest RAM");
    }
  }

  pop(): DescriptorChain | null {
    if (this.broken !== undefined) return null;
    try {
      const memory = this.memory;
      // The head's flags are read first and alone: the driver writes them last, after the rest of the chain.
      let flags = memory.readU16(this.ring + DESCRIPTOR_SIZE * this.nextAvail + 14);
      if (!isAvailable(flags, this.availWrap)) return null;
      const chain = new GuestDescriptorChain(memory, 0);
      let position = this.nextAvail;
      let wrap = this.availWrap;
      let count = 0;
      for (;;) {
        const at = this.ring + DESCRIPTOR_SIZE * position;
        if (count > 0) {
          flags = memory.readU16(at + 14);
          if (!isAvailable(flags, wrap)) {
            this.markBroken(
              `the chain at descriptor ${this.nextAvail} runs into descriptor ${position}, not available`,
            );
            return null;
          }
        }
        count++;
        if (chain.error === undefined) this.addDescriptor(chain, at, flags);
        position++;
        if (position === this.size) {
          position = 0;
          wrap = !wrap;
        }
        if ((flags & DescriptorFlag.Next) === 0) break;
        if (count === this.size) {
          this.markBroken(
            `the chain at descriptor ${this.nextAvail} is longer than the ring of ${this.size}`,
          );
          return null;
        }
      }
      // The buffer ID is in the chain's last descriptor.
      const last = position === 0 ? this.size - 1 : position - 1;
      const id = memory.readU16(this.ring + DESCRIPTOR_SIZE * last + 12);
      if (id >= this.size) {
        this.markBroken(`descriptor ${last} carries buffer ID ${id}, outside the queue of ${this.size}`);
        return null;
      }
      if (this.outstandingDescriptors + count > this.size) {
        this.markBroken(`the driver made more descriptors available than the ring of ${this.size} holds`);
        return null;
      }
      chain.id = id;
      chain.ringDescriptors = count;
      this.nextAvail = position;
      this.availWrap = wrap;
      this.outstandingDescriptors += count;
      this.outstanding.add(chain);
      return chain;
    } catch (error) {
      if (error instanceof GuestMemoryError) {
        this.markBroken(`the descriptor ring of queue ${this.index} is no longer guest RAM`);
        return null;
      }
      throw error;
    }
  }

  pushUsed(chain: DescriptorChain, writtenLength: number): void {
    if (!(chain instanceof GuestDescriptorChain) || !this.outstanding.delete(chain)) return;
    chain.retire();
    this.outstandingDescriptors -= chain.ringDescriptors;
    if (this.broken !== undefined) return;
    const length = clampWritten(writtenLength, chain.writableLength);
    try {
      const at = this.ring + DESCRIPTOR_SIZE * this.nextUsed;
      this.memory.writeU32(at + 8, length);
      this.memory.writeU16(at + 12, chain.id);
      // The flags last: they hand the element to the driver.
      let flags = this.usedWrap ? AVAIL_AND_USED : 0;
      if (chain.writableLength > 0) flags |= DescriptorFlag.Write; // len is meaningful only with WRITE
      this.memory.writeU16(at + 14, flags);
      this.nextUsed += chain.ringDescriptors;
      if (this.nextUsed >= this.size) {
        this.nextUsed -= this.size;
        this.usedWrap = !this.usedWrap;
      }
      this.usedSinceInterrupt += chain.ringDescriptors;
    } catch (error) {
      if (!(error instanceof GuestMemoryError)) throw error;
      this.markBroken(`the descriptor ring of queue ${this.index} is no longer guest RAM`);
    }
  }

  needsInterrupt(): boolean {
    if (this.broken !== undefined || this.usedSinceInterrupt === 0) return false;
    let wanted: boolean;
    try {
      const flags = this.memory.readU16(this.driverEvent + 2) & 3;
      if (flags === PackedEventFlag.Disable) {
        wanted = false;
      } else if (flags !== PackedEventFlag.Desc || !this.eventIdx || this.usedSinceInterrupt >= this.size) {
        // Enable, a reserved value, or a window that covers the whole ring: interrupt.
        wanted = true;
      } else {
        const offWrap = this.memory.readU16(this.driverEvent);
        // Positions in the current lap are 0..size-1, those in the other lap size below.
        let event = offWrap & 0x7fff;
        if (offWrap >>> 15 !== (this.usedWrap ? 1 : 0)) event -= this.size;
        wanted = event >= this.nextUsed - this.usedSinceInterrupt && event < this.nextUsed;
      }
    } catch (error) {
      if (!(error instanceof GuestMemoryError)) throw error;
      this.markBroken(`the driver event suppression structure of queue ${this.index} is no longer guest RAM`);
      return false;
    }
    if (wanted) this.usedSinceInterrupt = 0;
    return wanted;
  }

  setNotifications(enabled: boolean): void {
    if (this.broken !== undefined) return;
    try {
      this.memory.writeU16(this.deviceEvent + 2, enabled ? PackedEventFlag.Enable : PackedEventFlag.Disable);
    } catch (error) {
      if (!(error instanceof GuestMemoryError)) throw error;
      this.markBroken(`the device event suppression structure of queue ${this.index} is no longer guest RAM`);
    }
  }

  /** One ring descriptor: a buffer, or an indirect table walked in full. */
  private addDescriptor(chain: GuestDescriptorChain, at: number, flags: number): void {
    const memory = this.memory;
    const address = memory.readU32(at) + memory.readU32(at + 4) * 0x1_0000_0000;
    const length = memory.readU32(at + 8);
    if ((flags & DescriptorFlag.Indirect) === 0) {
      const error = chain.addBuffer(address, length, (flags & DescriptorFlag.Write) !== 0);
      if (error !== undefined) chain.fail(error);
      return;
    }
    const problem = checkIndirectTable(memory, this.indirect, address, length);
    if (problem !== undefined) {
      chain.fail(problem);
      return;
    }
    if ((flags & DescriptorFlag.Next) !== 0) {
      chain.fail("an indirect descriptor has NEXT set");
      return;
    }
    try {
      // Entries follow one another (NEXT and the buffer ID are ignored in an indirect table).
      for (let entry = 0; entry < length / DESCRIPTOR_SIZE; entry++) {
        const e = address + DESCRIPTOR_SIZE * entry;
        const entryFlags = memory.readU16(e + 14);
        if ((entryFlags & DescriptorFlag.Indirect) !== 0) {
          chain.fail("an indirect table holds another indirect descriptor");
          return;
        }
        const error = chain.addBuffer(
          memory.readU32(e) + memory.readU32(e + 4) * 0x1_0000_0000,
          memory.readU32(e + 8),
          (entryFlags & DescriptorFlag.Write) !== 0,
        );
        if (error !== undefined) {
          chain.fail(error);
          return;
        }
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

/** A descriptor is available when its AVAIL flag matches the wrap counter and its USED flag does not. */
function isAvailable(flags: number, wrap: boolean): boolean {
  const avail = (flags & DescriptorFlag.Avail) !== 0;
  const used = (flags & DescriptorFlag.Used) !== 0;
  return avail === wrap && used !== wrap;
}

import type { GuestMemory } from "@tsvmm/ept";
import { BootImageError, hex } from "./boot-image-error.js";
import type { GuestRange } from "./boot-memory-map.js";

/** A range a loader will write, with a name for error messages. */
export interface NamedRange extends GuestRange {
  what: string;
}

/**
 * Checks, before anything is written, that every range is writable guest RAM in this VM and that no
 * two of them overlap. A loader calls this once with its whole plan, so a failure leaves RAM untouched.
 */
export function checkLoadPlan(memory: GuestMemory, ranges: readonly NamedRange[]): void {
  for (const range of ranges) {
    if (!memory.isRam(range.start, range.end - range.start, true)) {
      throw new BootImageError(
        `${range.what} at ${hex(range.start)}-${hex(range.end)} is not writable RAM in this VM`,
      );
    }
  }
  // Sorted by start, a range overlaps an earlier one exactly when it starts before the furthest end so far.
  const byStart = [...ranges].sort((a, b) => a.start - b.start);
  let furthest: NamedRange | undefined;
  for (const range of byStart) {
    if (furthest !== undefined && range.start < furthest.end) {
      throw new BootImageError(
        `${range.what} (${hex(range.start)}-${hex(range.end)}) overlaps ${furthest.what} (${hex(furthest.start)}-${hex(furthest.end)})`,
      );
    }
    if (furthest === undefined || range.end > furthest.end) furthest = range;
  }
}

const ZERO_CHUNK = new Uint8Array(0x10000);

/** Zeroes [address, address + length) in chunks, never allocating a buffer the size of the range. */
export function zeroGuest(memory: GuestMemory, address: number, length: number): void {
  let done = 0;
  while (done < length) {
    const count = Math.min(length - done, ZERO_CHUNK.length);
    memory.write(address + done, count === ZERO_CHUNK.length ? ZERO_CHUNK : ZERO_CHUNK.subarray(0, count));
    done += count;
  }
}

/** TextEncoder exists in every JS host (browsers, Node); typed here without DOM or Node typings. */
interface HostTextEncoder {
  encode(text: string): Uint8Array;
}
const encoder = new (globalThis as unknown as { TextEncoder: new () => HostTextEncoder }).TextEncoder();

/** A command line or module string as the NUL-terminated bytes a kernel reads. */
export function cString(text: string, what: string): Uint8Array {
  const bytes = encoder.encode(text);
  if (bytes.includes(0)) throw new BootImageError(`${what} contains a NUL character`);
  const terminated = new Uint8Array(bytes.length + 1);
  terminated.set(bytes);
  return terminated;
}

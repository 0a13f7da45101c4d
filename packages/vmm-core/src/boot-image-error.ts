/**
 * A kernel image (or its command line, initrd or modules) that cannot be loaded into this machine:
 * malformed, truncated, or asking for memory the machine does not have. Nothing in guest RAM has been
 * changed when a loader throws it.
 */
export class BootImageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "BootImageError";
  }
}

/** `0x…` for messages. */
export function hex(value: number): string {
  return `0x${value.toString(16)}`;
}

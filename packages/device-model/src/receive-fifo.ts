// The 16550A receive FIFO: up to 16 received bytes, each with its parity/framing/break error bits.

export const RECEIVE_FIFO_DEPTH = 16;

/** A fixed ring of received bytes and their per-byte error bits (LSR bit positions). Allocation-free. */
export class ReceiveFifo {
  private readonly bytes = new Uint8Array(RECEIVE_FIFO_DEPTH);
  private readonly errors = new Uint8Array(RECEIVE_FIFO_DEPTH);
  private head = 0;
  private size = 0;
  private erroneous = 0;

  /** Number of bytes held. */
  get count(): number {
    return this.size;
  }

  /** Number of held bytes that carry error bits (drives LSR bit 7). */
  get erroneousCount(): number {
    return this.erroneous;
  }

  /** Error bits of the oldest byte (the one the next RBR read returns); 0 when empty. */
  headErrors(): number {
    return this.size === 0 ? 0 : this.errors[this.head];
  }

  /** Appends a byte; the caller makes sure there is room. */
  push(byte: number, errors: number): void {
    const slot = (this.head + this.size) % RECEIVE_FIFO_DEPTH;
    this.bytes[slot] = byte;
    this.errors[slot] = errors;
    if (errors !== 0) this.erroneous++;
    this.size++;
  }

  /** Overwrites the newest byte (a 16450-mode overrun replaces the character in RBR). */
  replaceNewest(byte: number, errors: number): void {
    const slot = (this.head + this.size - 1) % RECEIVE_FIFO_DEPTH;
    if (this.errors[slot] !== 0) this.erroneous--;
    this.bytes[slot] = byte;
    this.errors[slot] = errors;
    if (errors !== 0) this.erroneous++;
  }

  /** Removes and returns the oldest byte; the caller makes sure the FIFO is not empty. */
  pop(): number {
    const slot = this.head;
    if (this.errors[slot] !== 0) this.erroneous--;
    this.head = (slot + 1) % RECEIVE_FIFO_DEPTH;
    this.size--;
    return this.bytes[slot];
  }

  clear(): void {
    this.head = 0;
    this.size = 0;
    this.erroneous = 0;
  }

  /** The held bytes, oldest first (for snapshots). */
  contents(): number[] {
    const out: number[] = [];
    for (let i = 0; i < this.size; i++) out.push(this.bytes[(this.head + i) % RECEIVE_FIFO_DEPTH]);
    return out;
  }

  /** The held bytes' error bits, oldest first (for snapshots). */
  errorContents(): number[] {
    const out: number[] = [];
    for (let i = 0; i < this.size; i++) out.push(this.errors[(this.head + i) % RECEIVE_FIFO_DEPTH]);
    return out;
  }
}

// A fixed-capacity FIFO of bytes (a PS/2 device's output buffer), allocation-free.

export class ByteQueue {
  private readonly bytes: Uint8Array;
  private head = 0;
  private size = 0;

  constructor(readonly capacity: number) {
    this.bytes = new Uint8Array(capacity);
  }

  get count(): number {
    return this.size;
  }

  /** Room left. */
  get free(): number {
    return this.capacity - this.size;
  }

  /** Appends a byte; returns false (and drops it) when full. */
  push(byte: number): boolean {
    if (this.size === this.capacity) return false;
    this.bytes[(this.head + this.size) % this.capacity] = byte;
    this.size++;
    return true;
  }

  /** Removes and returns the oldest byte, or -1 when empty. */
  shift(): number {
    if (this.size === 0) return -1;
    const byte = this.bytes[this.head];
    this.head = (this.head + 1) % this.capacity;
    this.size--;
    return byte;
  }

  clear(): void {
    this.head = 0;
    this.size = 0;
  }

  /** The bytes held, oldest first (for snapshots). */
  contents(): number[] {
    const out: number[] = [];
    for (let i = 0; i < this.size; i++) out.push(this.bytes[(this.head + i) % this.capacity]);
    return out;
  }

  /** Replaces the contents (for snapshots): keeps the first `capacity` values, each masked to a byte. */
  load(values: unknown): void {
    this.clear();
    if (!Array.isArray(values)) return;
    for (const value of values) if (!this.push(typeof value === "number" ? value & 0xff : 0)) return;
  }
}

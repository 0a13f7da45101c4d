// A character backend held in memory: what the guest wrote is kept, and input is typed in by calling input().
// For tests, and for a browser page that shows the console itself.
import type { CharBackend } from "./char-backend.js";

export class MemoryCharBackend implements CharBackend {
  private readonly chunks: Uint8Array[] = [];
  private receiver: ((bytes: Uint8Array) => void) | undefined;

  write(bytes: Uint8Array): void {
    this.chunks.push(bytes.slice());
  }

  onData(receiver: ((bytes: Uint8Array) => void) | undefined): void {
    this.receiver = receiver;
  }

  /** Everything written so far. */
  get output(): Uint8Array {
    const out = new Uint8Array(this.chunks.reduce((sum, c) => sum + c.length, 0));
    let at = 0;
    for (const chunk of this.chunks) {
      out.set(chunk, at);
      at += chunk.length;
    }
    return out;
  }

  /** Everything written so far, as UTF-8 text. */
  get outputText(): string {
    return new TextDecoder().decode(this.output);
  }

  /** Host input for the guest (a string is sent as UTF-8). */
  input(data: Uint8Array | string): void {
    this.receiver?.(typeof data === "string" ? new TextEncoder().encode(data) : data);
  }

  async close(): Promise<void> {
    this.receiver = undefined;
  }
}

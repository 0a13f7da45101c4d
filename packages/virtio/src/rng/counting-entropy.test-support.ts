import type { EntropySource } from "./entropy-source.js";

/** A source that counts up, so a test can see exactly which bytes landed where. */
export class CountingEntropy implements EntropySource {
  next = 0;

  async fill(dst: Uint8Array): Promise<void> {
    for (let i = 0; i < dst.length; i++) dst[i] = this.next++ & 0xff;
  }
}

// Where virtio-rng gets its bytes.

export interface EntropySource {
  /** Fills `dst` with random bytes (rejects if the source failed). */
  fill(dst: Uint8Array): Promise<void>;
  close?(): Promise<void>;
}

/** getRandomValues() refuses more than this many bytes per call. */
const GET_RANDOM_VALUES_LIMIT = 65536;

/** The part of Web Crypto this source uses. */
export interface RandomValuesProvider {
  getRandomValues(array: Uint8Array): unknown;
}

/** The platform's CSPRNG through globalThis.crypto (Web Crypto), in Node and in browsers. */
export class CryptoEntropySource implements EntropySource {
  private readonly crypto: RandomValuesProvider;

  constructor(
    crypto: RandomValuesProvider | undefined = (globalThis as { crypto?: RandomValuesProvider }).crypto,
  ) {
    if (!crypto) throw new Error("globalThis.crypto.getRandomValues is not available");
    this.crypto = crypto;
  }

  async fill(dst: Uint8Array): Promise<void> {
    for (let at = 0; at < dst.length; at += GET_RANDOM_VALUES_LIMIT) {
      this.crypto.getRandomValues(dst.subarray(at, at + GET_RANDOM_VALUES_LIMIT));
    }
  }
}

// 64 feature bits without BigInt: two 32-bit words, [bits 0-31, bits 32-63].

/** Feature bits as [low word, high word] (each an unsigned 32-bit number). */
export type FeatureWords = readonly [number, number];

/** The words with the given bit numbers (0-63) set. */
export function featureWords(...bits: number[]): [number, number] {
  const words: [number, number] = [0, 0];
  for (const bit of bits) {
    if (!Number.isInteger(bit) || bit < 0 || bit > 63) throw new RangeError(`bad feature bit ${bit}`);
    words[bit >> 5] = (words[bit >> 5] | (1 << (bit & 31))) >>> 0;
  }
  return words;
}

/** Whether feature bit `bit` (0-63) is set in `words`. */
export function hasFeature(words: FeatureWords, bit: number): boolean {
  return ((words[bit >> 5] >>> (bit & 31)) & 1) === 1;
}

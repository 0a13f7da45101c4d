import { describe, expect, it } from "vitest";
import { VirtioFeature } from "./constants.js";
import { featureWords, hasFeature } from "./features.js";

describe("feature words", () => {
  it("puts bits 0-31 in the low word and 32-63 in the high word", () => {
    const words = featureWords(0, 31, VirtioFeature.Version1, 63);
    expect(words).toEqual([0x80000001, 0x80000001]);
    expect(hasFeature(words, 31)).toBe(true);
    expect(hasFeature(words, VirtioFeature.Version1)).toBe(true);
    expect(hasFeature(words, VirtioFeature.RingPacked)).toBe(false);
    expect(hasFeature(words, 1)).toBe(false);
  });

  it("rejects bit numbers outside 0-63", () => {
    expect(() => featureWords(64)).toThrow(RangeError);
    expect(() => featureWords(-1)).toThrow(RangeError);
    expect(() => featureWords(1.5)).toThrow(RangeError);
  });
});

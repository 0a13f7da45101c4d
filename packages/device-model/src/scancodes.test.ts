import { describe, expect, it } from "vitest";
import { asciiKey, emitKeyEvent, KEY_CODES, keyEventLength, keyScancode, SET2_TO_SET1 } from "./scancodes.js";

function bytes(code: string, set: 1 | 2, release: boolean): number[] {
  const out: number[] = [];
  const scancode = keyScancode(code, set);
  if (scancode === undefined) throw new Error(code);
  emitKeyEvent(scancode, set, release, (b) => out.push(b));
  expect(out.length).toBe(keyEventLength(scancode, set, release));
  return out;
}

/** What the i8042 makes of keyboard bytes with translation on. */
function translate(set2: number[]): number[] {
  const out: number[] = [];
  let breakPrefix = false;
  for (const b of set2) {
    if (b === 0xf0) {
      breakPrefix = true;
      continue;
    }
    out.push(SET2_TO_SET1[b] | (breakPrefix ? 0x80 : 0));
    breakPrefix = false;
  }
  return out;
}

describe("scancode tables", () => {
  it("translate every key's set 2 make and break codes into its set 1 codes", () => {
    expect(KEY_CODES.length).toBeGreaterThan(100);
    for (const code of KEY_CODES) {
      for (const release of [false, true]) {
        expect(translate(bytes(code, 2, release)), `${code} ${release ? "break" : "make"}`).toEqual(
          bytes(code, 1, release),
        );
      }
    }
  });

  it("give every key distinct codes", () => {
    for (const set of [1, 2] as const) {
      const seen = new Set(KEY_CODES.map((code) => keyScancode(code, set)));
      expect(seen.size).toBe(KEY_CODES.length);
    }
  });

  it("pass prefixes and keyboard replies through translation", () => {
    for (const b of [0xe0, 0xe1, 0xfa, 0xaa, 0xab, 0xee, 0xfe, 0xfc]) expect(SET2_TO_SET1[b]).toBe(b);
    expect(SET2_TO_SET1[0x83]).toBe(0x41);
    expect(SET2_TO_SET1[0x84]).toBe(0x54);
    expect(SET2_TO_SET1[0x02]).toBe(0x41); // "scancode set 2" as a translated reply
  });

  it("encode well-known keys", () => {
    expect(bytes("KeyA", 2, false)).toEqual([0x1c]);
    expect(bytes("KeyA", 2, true)).toEqual([0xf0, 0x1c]);
    expect(bytes("KeyA", 1, true)).toEqual([0x9e]);
    expect(bytes("Delete", 2, true)).toEqual([0xe0, 0xf0, 0x71]);
    expect(bytes("Delete", 1, true)).toEqual([0xe0, 0xd3]);
    expect(keyScancode("Nope", 2)).toBeUndefined();
  });
});

describe("asciiKey", () => {
  it("maps the printable ASCII range and the control keys a terminal needs", () => {
    for (let c = 0x20; c < 0x7f; c++)
      expect(asciiKey(String.fromCharCode(c)), String.fromCharCode(c)).toBeDefined();
    expect(asciiKey("a")).toEqual({ code: "KeyA", shift: false });
    expect(asciiKey("A")).toEqual({ code: "KeyA", shift: true });
    expect(asciiKey("7")).toEqual({ code: "Digit7", shift: false });
    expect(asciiKey("&")).toEqual({ code: "Digit7", shift: true });
    expect(asciiKey("\n")).toEqual({ code: "Enter", shift: false });
    expect(asciiKey("\x1b")).toEqual({ code: "Escape", shift: false });
    expect(asciiKey("é")).toBeUndefined();
    expect(asciiKey("ab")).toBeUndefined();
    expect(asciiKey("toString")).toBeUndefined();
  });

  it("only names keys that exist", () => {
    for (let c = 0; c < 0x80; c++) {
      const key = asciiKey(String.fromCharCode(c));
      if (key !== undefined) expect(KEY_CODES).toContain(key.code);
    }
  });
});

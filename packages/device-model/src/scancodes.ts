// Keyboard scancodes: the keys a host can press (named as in the DOM's KeyboardEvent.code), their codes in scancode
// sets 1 and 2, a US-layout ASCII map for typing text, and the i8042's set 2 -> set 1 translation.

/** A key's make code in one set; values above 0xFF carry the 0xE0 prefix in their high byte. */
export type Scancode = number;

/** [KeyboardEvent.code, set 1 make code, set 2 make code]. */
const KEYS: ReadonlyArray<readonly [string, Scancode, Scancode]> = [
  ["Escape", 0x01, 0x76],
  ["Digit1", 0x02, 0x16],
  ["Digit2", 0x03, 0x1e],
  ["Digit3", 0x04, 0x26],
  ["Digit4", 0x05, 0x25],
  ["Digit5", 0x06, 0x2e],
  ["Digit6", 0x07, 0x36],
  ["Digit7", 0x08, 0x3d],
  ["Digit8", 0x09, 0x3e],
  ["Digit9", 0x0a, 0x46],
  ["Digit0", 0x0b, 0x45],
  ["Minus", 0x0c, 0x4e],
  ["Equal", 0x0d, 0x55],
  ["Backspace", 0x0e, 0x66],
  ["Tab", 0x0f, 0x0d],
  ["KeyQ", 0x10, 0x15],
  ["KeyW", 0x11, 0x1d],
  ["KeyE", 0x12, 0x24],
  ["KeyR", 0x13, 0x2d],
  ["KeyT", 0x14, 0x2c],
  ["KeyY", 0x15, 0x35],
  ["KeyU", 0x16, 0x3c],
  ["KeyI", 0x17, 0x43],
  ["KeyO", 0x18, 0x44],
  ["KeyP", 0x19, 0x4d],
  ["BracketLeft", 0x1a, 0x54],
  ["BracketRight", 0x1b, 0x5b],
  ["Enter", 0x1c, 0x5a],
  ["ControlLeft", 0x1d, 0x14],
  ["KeyA", 0x1e, 0x1c],
  ["KeyS", 0x1f, 0x1b],
  ["KeyD", 0x20, 0x23],
  ["KeyF", 0x21, 0x2b],
  ["KeyG", 0x22, 0x34],
  ["KeyH", 0x23, 0x33],
  ["KeyJ", 0x24, 0x3b],
  ["KeyK", 0x25, 0x42],
  ["KeyL", 0x26, 0x4b],
  ["Semicolon", 0x27, 0x4c],
  ["Quote", 0x28, 0x52],
  ["Backquote", 0x29, 0x0e],
  ["ShiftLeft", 0x2a, 0x12],
  ["Backslash", 0x2b, 0x5d],
  ["KeyZ", 0x2c, 0x1a],
  ["KeyX", 0x2d, 0x22],
  ["KeyC", 0x2e, 0x21],
  ["KeyV", 0x2f, 0x2a],
  ["KeyB", 0x30, 0x32],
  ["KeyN", 0x31, 0x31],
  ["KeyM", 0x32, 0x3a],
  ["Comma", 0x33, 0x41],
  ["Period", 0x34, 0x49],
  ["Slash", 0x35, 0x4a],
  ["ShiftRight", 0x36, 0x59],
  ["NumpadMultiply", 0x37, 0x7c],
  ["AltLeft", 0x38, 0x11],
  ["Space", 0x39, 0x29],
  ["CapsLock", 0x3a, 0x58],
  ["F1", 0x3b, 0x05],
  ["F2", 0x3c, 0x06],
  ["F3", 0x3d, 0x04],
  ["F4", 0x3e, 0x0c],
  ["F5", 0x3f, 0x03],
  ["F6", 0x40, 0x0b],
  ["F7", 0x41, 0x83],
  ["F8", 0x42, 0x0a],
  ["F9", 0x43, 0x01],
  ["F10", 0x44, 0x09],
  ["NumLock", 0x45, 0x77],
  ["ScrollLock", 0x46, 0x7e],
  ["Numpad7", 0x47, 0x6c],
  ["Numpad8", 0x48, 0x75],
  ["Numpad9", 0x49, 0x7d],
  ["NumpadSubtract", 0x4a, 0x7b],
  ["Numpad4", 0x4b, 0x6b],
  ["Numpad5", 0x4c, 0x73],
  ["Numpad6", 0x4d, 0x74],
  ["NumpadAdd", 0x4e, 0x79],
  ["Numpad1", 0x4f, 0x69],
  ["Numpad2", 0x50, 0x72],
  ["Numpad3", 0x51, 0x7a],
  ["Numpad0", 0x52, 0x70],
  ["NumpadDecimal", 0x53, 0x71],
  ["IntlBackslash", 0x56, 0x61],
  ["F11", 0x57, 0x78],
  ["F12", 0x58, 0x07],
  ["NumpadEnter", 0xe01c, 0xe05a],
  ["ControlRight", 0xe01d, 0xe014],
  ["NumpadDivide", 0xe035, 0xe04a],
  ["AltRight", 0xe038, 0xe011],
  ["Home", 0xe047, 0xe06c],
  ["ArrowUp", 0xe048, 0xe075],
  ["PageUp", 0xe049, 0xe07d],
  ["ArrowLeft", 0xe04b, 0xe06b],
  ["ArrowRight", 0xe04d, 0xe074],
  ["End", 0xe04f, 0xe069],
  ["ArrowDown", 0xe050, 0xe072],
  ["PageDown", 0xe051, 0xe07a],
  ["Insert", 0xe052, 0xe070],
  ["Delete", 0xe053, 0xe071],
  ["MetaLeft", 0xe05b, 0xe01f],
  ["MetaRight", 0xe05c, 0xe027],
  ["ContextMenu", 0xe05d, 0xe02f],
];

const SET1 = new Map(KEYS.map(([code, set1]) => [code, set1]));
const SET2 = new Map(KEYS.map(([code, , set2]) => [code, set2]));

/** The KeyboardEvent.code names pressKey()/releaseKey() accept. */
export const KEY_CODES: readonly string[] = KEYS.map(([code]) => code);

/** A key's make code in scancode set 1 or 2, or undefined for an unknown key name. */
export function keyScancode(code: string, set: 1 | 2): Scancode | undefined {
  return (set === 1 ? SET1 : SET2).get(code);
}

/** How many bytes a make (press) or break (release) of the key takes in the set. */
export function keyEventLength(scancode: Scancode, set: 1 | 2, release: boolean): number {
  return (scancode > 0xff ? 1 : 0) + 1 + (set === 2 && release ? 1 : 0);
}

/** Emits a key's make or break bytes: set 1 sets bit 7 to break, set 2 prefixes 0xF0 (after any 0xE0). */
export function emitKeyEvent(
  scancode: Scancode,
  set: 1 | 2,
  release: boolean,
  emit: (byte: number) => void,
): void {
  if (scancode > 0xff) emit(0xe0);
  const code = scancode & 0xff;
  if (set === 1) {
    emit(release ? code | 0x80 : code);
  } else {
    if (release) emit(0xf0);
    emit(code);
  }
}

const UNSHIFTED_SYMBOLS: Readonly<Record<string, string>> = {
  "`": "Backquote",
  "-": "Minus",
  "=": "Equal",
  "[": "BracketLeft",
  "]": "BracketRight",
  "\\": "Backslash",
  ";": "Semicolon",
  "'": "Quote",
  ",": "Comma",
  ".": "Period",
  "/": "Slash",
  " ": "Space",
  "\n": "Enter",
  "\r": "Enter",
  "\t": "Tab",
  "\b": "Backspace",
  "\x1b": "Escape",
};

const SHIFTED_SYMBOLS: Readonly<Record<string, string>> = {
  "~": "Backquote",
  "!": "Digit1",
  "@": "Digit2",
  "#": "Digit3",
  $: "Digit4",
  "%": "Digit5",
  "^": "Digit6",
  "&": "Digit7",
  "*": "Digit8",
  "(": "Digit9",
  ")": "Digit0",
  _: "Minus",
  "+": "Equal",
  "{": "BracketLeft",
  "}": "BracketRight",
  "|": "Backslash",
  ":": "Semicolon",
  '"': "Quote",
  "<": "Comma",
  ">": "Period",
  "?": "Slash",
};

/** The key (and whether Shift is needed) that types an ASCII character on a US layout, or undefined. */
export function asciiKey(char: string): { code: string; shift: boolean } | undefined {
  if (char.length !== 1) return undefined;
  if (char >= "a" && char <= "z") return { code: `Key${char.toUpperCase()}`, shift: false };
  if (char >= "A" && char <= "Z") return { code: `Key${char}`, shift: true };
  if (char >= "0" && char <= "9") return { code: `Digit${char}`, shift: false };
  if (Object.hasOwn(UNSHIFTED_SYMBOLS, char)) return { code: UNSHIFTED_SYMBOLS[char], shift: false };
  if (Object.hasOwn(SHIFTED_SYMBOLS, char)) return { code: SHIFTED_SYMBOLS[char], shift: true };
  return undefined;
}

/**
 * The i8042's translation of keyboard bytes (scancode set 2) to set 1, indexed by the byte received. Bytes 0x80 and
 * up pass unchanged (prefixes and replies such as 0xE0, 0xFA, 0xAA), except 0x83 (F7) and 0x84 (Alt+SysRq).
 */
export const SET2_TO_SET1: Uint8Array = (() => {
  // biome-ignore format: the 8042 ROM table, sixteen entries a row
  const low = [
    0xff, 0x43, 0x41, 0x3f, 0x3d, 0x3b, 0x3c, 0x58, 0x64, 0x44, 0x42, 0x40, 0x3e, 0x0f, 0x29, 0x59,
    0x65, 0x38, 0x2a, 0x70, 0x1d, 0x10, 0x02, 0x5a, 0x66, 0x71, 0x2c, 0x1f, 0x1e, 0x11, 0x03, 0x5b,
    0x67, 0x2e, 0x2d, 0x20, 0x12, 0x05, 0x04, 0x5c, 0x68, 0x39, 0x2f, 0x21, 0x14, 0x13, 0x06, 0x5d,
    0x69, 0x31, 0x30, 0x23, 0x22, 0x15, 0x07, 0x5e, 0x6a, 0x72, 0x32, 0x24, 0x16, 0x08, 0x09, 0x5f,
    0x6b, 0x33, 0x25, 0x17, 0x18, 0x0b, 0x0a, 0x60, 0x6c, 0x34, 0x35, 0x26, 0x27, 0x19, 0x0c, 0x61,
    0x6d, 0x73, 0x28, 0x74, 0x1a, 0x0d, 0x62, 0x6e, 0x3a, 0x36, 0x1c, 0x1b, 0x75, 0x2b, 0x63, 0x76,
    0x55, 0x56, 0x77, 0x78, 0x79, 0x7a, 0x0e, 0x7b, 0x7c, 0x4f, 0x7d, 0x4b, 0x47, 0x7e, 0x7f, 0x6f,
    0x52, 0x53, 0x50, 0x4c, 0x4d, 0x48, 0x01, 0x45, 0x57, 0x4e, 0x51, 0x4a, 0x37, 0x49, 0x46, 0x54,
  ];
  const table = new Uint8Array(256);
  for (let i = 0; i < 256; i++) table[i] = i < 0x80 ? low[i] : i;
  table[0x83] = 0x41;
  table[0x84] = 0x54;
  return table;
})();

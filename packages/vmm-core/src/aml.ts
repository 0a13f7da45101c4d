// A small encoder for ACPI Machine Language (ACPI 6.5, chapter 20): the terms a PC's DSDT is made of here
// (names, scopes, devices, integers, strings, EISA IDs, buffers, packages and methods with an empty body).
// Each function returns the bytes of one term; they nest by passing those bytes in. Integers use the shortest
// encoding, as iasl does, so the output can be compared with iasl's byte for byte.

import { concatBytes, littleEndianBytes } from "./table-bytes.js";

const Op = {
  Zero: 0x00,
  One: 0x01,
  Name: 0x08,
  BytePrefix: 0x0a,
  WordPrefix: 0x0b,
  DWordPrefix: 0x0c,
  StringPrefix: 0x0d,
  QWordPrefix: 0x0e,
  Scope: 0x10,
  Buffer: 0x11,
  Package: 0x12,
  Method: 0x14,
  DualNamePrefix: 0x2e,
  MultiNamePrefix: 0x2f,
  ExtOpPrefix: 0x5b,
  RootChar: 0x5c,
  ParentPrefixChar: 0x5e,
  /** Follows ExtOpPrefix. */
  Device: 0x82,
} as const;

const NAME_SEG = /^[A-Z_][A-Z0-9_]{0,3}$/;

/** One NameSeg: 1-4 characters (A-Z, 0-9, _; not starting with a digit), padded with '_' to 4 as ASL does. */
export function nameSeg(segment: string): Uint8Array {
  if (!NAME_SEG.test(segment)) throw new RangeError(`invalid ACPI name segment "${segment}"`);
  const padded = segment.padEnd(4, "_");
  return Uint8Array.from(padded, (ch) => ch.charCodeAt(0));
}

/**
 * A NameString: an optional root ("\") or parent ("^", repeatable) prefix, then dot-separated segments
 * ("\_SB.PCI0", "_HID", "^LNKA"). A lone "\" is the root itself.
 */
export function nameString(path: string): Uint8Array {
  const prefix: number[] = [];
  let rest = path;
  if (rest.startsWith("\\")) {
    prefix.push(Op.RootChar);
    rest = rest.slice(1);
  } else {
    while (rest.startsWith("^")) {
      prefix.push(Op.ParentPrefixChar);
      rest = rest.slice(1);
    }
  }
  if (rest === "") {
    if (prefix.length === 0) throw new RangeError("empty ACPI name");
    return Uint8Array.from([...prefix, Op.Zero]); // NullName
  }
  const segments = rest.split(".").map(nameSeg);
  if (segments.length > 255) throw new RangeError(`ACPI name "${path}" has more than 255 segments`);
  const head =
    segments.length === 1
      ? []
      : segments.length === 2
        ? [Op.DualNamePrefix]
        : [Op.MultiNamePrefix, segments.length];
  return concatBytes([Uint8Array.from([...prefix, ...head]), ...segments]);
}

/** The largest PkgLength: 28 bits. */
const MAX_PKG_LENGTH = 2 ** 28 - 1;

/**
 * PkgLength for a body of `bodyLength` bytes. The encoded length counts its own bytes: one byte up to 63,
 * else a lead byte (bits 7-6: following byte count, bits 3-0: the low nibble) and 1-3 bytes of the rest.
 */
export function pkgLength(bodyLength: number): Uint8Array {
  if (!Number.isInteger(bodyLength) || bodyLength < 0)
    throw new RangeError(`bad AML body length ${bodyLength}`);
  if (bodyLength + 1 <= 0x3f) return Uint8Array.of(bodyLength + 1);
  for (let extra = 1; extra <= 3; extra++) {
    const total = bodyLength + 1 + extra;
    if (total < 2 ** (4 + 8 * extra)) {
      const bytes = new Uint8Array(1 + extra);
      bytes[0] = (extra << 6) | (total & 0x0f);
      for (let i = 1; i <= extra; i++) bytes[i] = Math.floor(total / 2 ** (4 + 8 * (i - 1))) & 0xff;
      return bytes;
    }
  }
  throw new RangeError(`AML object of ${bodyLength} bytes exceeds PkgLength's ${MAX_PKG_LENGTH}`);
}

function withPkgLength(opcode: readonly number[], body: readonly Uint8Array[]): Uint8Array {
  const content = concatBytes(body);
  return concatBytes([Uint8Array.from(opcode), pkgLength(content.length), content]);
}

/** An integer constant (0 to 2^53 - 1) in the shortest encoding: Zero, One, or a byte/word/dword/qword constant. */
export function integer(value: number): Uint8Array {
  if (!Number.isSafeInteger(value) || value < 0) throw new RangeError(`AML integer out of range: ${value}`);
  if (value === 0) return Uint8Array.of(Op.Zero);
  if (value === 1) return Uint8Array.of(Op.One);
  if (value <= 0xff) return Uint8Array.of(Op.BytePrefix, value);
  if (value <= 0xffff) return Uint8Array.of(Op.WordPrefix, ...littleEndianBytes(value, 2));
  if (value <= 0xffffffff) return Uint8Array.of(Op.DWordPrefix, ...littleEndianBytes(value, 4));
  return Uint8Array.of(Op.QWordPrefix, ...littleEndianBytes(value, 8));
}

/** A string constant: ASCII 0x01-0x7F, NUL-terminated. */
export function string(text: string): Uint8Array {
  const codes = Array.from(text, (ch) => ch.charCodeAt(0));
  if (codes.some((code) => code < 1 || code > 0x7f))
    throw new RangeError(`AML string must be ASCII without NUL`);
  return Uint8Array.of(Op.StringPrefix, ...codes, 0);
}

const EISA_ID = /^[A-Z]{3}[0-9A-F]{4}$/;

/**
 * EisaId("PNP0A03"): the compressed 32-bit EISA ID as an integer constant (shortest encoding, as iasl emits it).
 * Three letters of 5 bits each (A = 1), then four hex digits; the bytes in memory read the letters first.
 */
export function eisaId(id: string): Uint8Array {
  return integer(eisaIdValue(id));
}

/** The integer value of EisaId(id), e.g. 0x030AD041 for "PNP0A03". */
export function eisaIdValue(id: string): number {
  if (!EISA_ID.test(id)) throw new RangeError(`invalid EISA ID "${id}"`);
  const letter = (i: number) => id.charCodeAt(i) - 0x40;
  const hex = Number.parseInt(id.slice(3), 16);
  const bytes = [
    (letter(0) << 2) | (letter(1) >> 3),
    ((letter(1) & 0x07) << 5) | letter(2),
    hex >> 8,
    hex & 0xff,
  ];
  return (bytes[0] | (bytes[1] << 8) | (bytes[2] << 16) | (bytes[3] << 24)) >>> 0;
}

/** Buffer() { bytes }: the size as an integer, then the bytes. */
export function buffer(bytes: Uint8Array): Uint8Array {
  return withPkgLength([Op.Buffer], [integer(bytes.length), bytes]);
}

/** Package() { elements }: at most 255 elements (each an encoded data object or name). */
export function pkg(elements: readonly Uint8Array[]): Uint8Array {
  if (elements.length > 255)
    throw new RangeError(`AML package of ${elements.length} elements needs VarPackage`);
  return withPkgLength([Op.Package], [Uint8Array.of(elements.length), ...elements]);
}

/** Name(path, value). */
export function name(path: string, value: Uint8Array): Uint8Array {
  return concatBytes([Uint8Array.of(Op.Name), nameString(path), value]);
}

/** Scope(path) { terms }. */
export function scope(path: string, terms: readonly Uint8Array[]): Uint8Array {
  return withPkgLength([Op.Scope], [nameString(path), ...terms]);
}

/** Device(path) { terms }. */
export function device(path: string, terms: readonly Uint8Array[]): Uint8Array {
  return withPkgLength([Op.ExtOpPrefix, Op.Device], [nameString(path), ...terms]);
}

/** Method(path, argCount, NotSerialized) { terms }: argCount 0-7, sync level 0. */
export function method(path: string, argCount: number, terms: readonly Uint8Array[]): Uint8Array {
  if (!Number.isInteger(argCount) || argCount < 0 || argCount > 7) {
    throw new RangeError(`AML method argument count must be 0-7, got ${argCount}`);
  }
  return withPkgLength([Op.Method], [nameString(path), Uint8Array.of(argCount), ...terms]);
}

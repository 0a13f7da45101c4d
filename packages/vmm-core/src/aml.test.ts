import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  dwordMemory,
  ioPort,
  irqNoFlags,
  levelHighSharedInterrupt,
  resourceTemplate,
  wordBusNumber,
  wordIo,
} from "./acpi-resources.js";
import { compileAslTerms, iaslMissing } from "./acpica-tools.test-support.js";
import {
  buffer,
  device,
  eisaId,
  eisaIdValue,
  integer,
  method,
  name,
  nameSeg,
  nameString,
  pkg,
  pkgLength,
  scope,
  string,
} from "./aml.js";
import { concatBytes } from "./table-bytes.js";

const ascii = (text: string) => Array.from(text, (ch) => ch.charCodeAt(0));

/** Decodes a PkgLength as the ACPI spec defines it: the value and how many bytes it took. */
function decodePkgLength(bytes: Uint8Array): { value: number; size: number } {
  const lead = bytes[0];
  const follow = lead >> 6;
  if (follow === 0) return { value: lead & 0x3f, size: 1 };
  let value = lead & 0x0f;
  for (let i = 1; i <= follow; i++) value += bytes[i] * 2 ** (4 + 8 * (i - 1));
  return { value, size: 1 + follow };
}

describe("AML encodings from the ACPI specification", () => {
  it("encodes PkgLength in 1 to 4 bytes, counting its own bytes", () => {
    expect([...pkgLength(0)]).toEqual([0x01]);
    expect([...pkgLength(62)]).toEqual([0x3f]);
    // 63 bytes of body: 65 with a 2-byte PkgLength = 0x041 -> lead 0x41 (1 byte follows, nibble 1), then 0x04.
    expect([...pkgLength(63)]).toEqual([0x41, 0x04]);
    expect([...pkgLength(0xffd)]).toEqual([0x4f, 0xff]); // 0xfff in two bytes
    expect([...pkgLength(0xffe)]).toEqual([0x81, 0x00, 0x01]); // 0x1001 needs three
    expect([...pkgLength(0xffffc)]).toEqual([0x8f, 0xff, 0xff]);
    expect([...pkgLength(0xffffd)]).toEqual([0xc1, 0x00, 0x00, 0x01]);
    expect(() => pkgLength(2 ** 28)).toThrow(RangeError);
    expect(() => pkgLength(-1)).toThrow(RangeError);
  });

  it("PkgLength decodes back to the body length plus its own size (property)", () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 2 ** 28 - 5 }), (body) => {
        const encoded = pkgLength(body);
        const { value, size } = decodePkgLength(encoded);
        expect(size).toBe(encoded.length);
        expect(value).toBe(body + size);
      }),
    );
  });

  it("encodes integers in the shortest form", () => {
    expect([...integer(0)]).toEqual([0x00]);
    expect([...integer(1)]).toEqual([0x01]);
    expect([...integer(2)]).toEqual([0x0a, 0x02]);
    expect([...integer(0xff)]).toEqual([0x0a, 0xff]);
    expect([...integer(0x100)]).toEqual([0x0b, 0x00, 0x01]);
    expect([...integer(0x12345678)]).toEqual([0x0c, 0x78, 0x56, 0x34, 0x12]);
    expect([...integer(0x1_0000_0000)]).toEqual([0x0e, 0, 0, 0, 0, 1, 0, 0, 0]);
    for (const bad of [-1, 0.5, Number.NaN, 2 ** 53]) expect(() => integer(bad)).toThrow(RangeError);
  });

  it("encodes names: segments padded with _, root and parent prefixes, dual and multi names", () => {
    expect([...nameSeg("_HID")]).toEqual(ascii("_HID"));
    expect([...nameSeg("S5")]).toEqual(ascii("S5__"));
    expect([...nameString("\\")]).toEqual([0x5c, 0x00]);
    expect([...nameString("\\_SB")]).toEqual([0x5c, ...ascii("_SB_")]);
    expect([...nameString("^^LNKA")]).toEqual([0x5e, 0x5e, ...ascii("LNKA")]);
    expect([...nameString("\\_SB.PCI0")]).toEqual([0x5c, 0x2e, ...ascii("_SB_PCI0")]);
    expect([...nameString("_SB.PCI0.ISA")]).toEqual([0x2f, 3, ...ascii("_SB_PCI0ISA_")]);
    for (const bad of ["", "1ABC", "ABCDE", "a", "\\_SB.", "A..B"])
      expect(() => nameString(bad)).toThrow(RangeError);
  });

  it("compresses EISA IDs as ACPI defines them", () => {
    expect(eisaIdValue("PNP0A03")).toBe(0x030ad041);
    expect(eisaIdValue("PNP0501")).toBe(0x0105d041);
    expect([...eisaId("PNP0000")]).toEqual([0x0b, 0x41, 0xd0]); // 0x0000D041 fits a word
    for (const bad of ["PNP0A0", "pnp0A03", "PNP0G03", "P1P0A03"])
      expect(() => eisaId(bad)).toThrow(RangeError);
  });

  it("encodes strings, buffers, packages, names, scopes, devices and methods", () => {
    expect([...string("AB")]).toEqual([0x0d, 0x41, 0x42, 0x00]);
    expect(() => string("é")).toThrow(RangeError);
    expect(() => string("a\0b")).toThrow(RangeError);
    expect([...buffer(Uint8Array.of(7, 8))]).toEqual([0x11, 0x05, 0x0a, 0x02, 7, 8]);
    expect([...pkg([integer(0), integer(5)])]).toEqual([0x12, 0x05, 0x02, 0x00, 0x0a, 0x05]);
    expect(() => pkg(new Array(256).fill(integer(0)))).toThrow(RangeError);
    expect([...name("_UID", integer(1))]).toEqual([0x08, ...ascii("_UID"), 0x01]);
    expect([...scope("\\_SB", [])]).toEqual([0x10, 0x06, 0x5c, ...ascii("_SB_")]);
    expect([...device("COM1", [])]).toEqual([0x5b, 0x82, 0x05, ...ascii("COM1")]);
    expect([...method("_SRS", 1, [])]).toEqual([0x14, 0x06, ...ascii("_SRS"), 0x01]);
    expect(() => method("_SRS", 8, [])).toThrow(RangeError);
  });

  it("encodes resource descriptors with the fields ACPI defines", () => {
    expect([...ioPort(0x3f8, 0x3f8, 1, 8)]).toEqual([0x47, 0x01, 0xf8, 0x03, 0xf8, 0x03, 0x01, 0x08]);
    expect([...irqNoFlags([4, 12])]).toEqual([0x22, 0x10, 0x10]);
    expect([...levelHighSharedInterrupt([16])]).toEqual([0x89, 0x06, 0x00, 0x09, 0x01, 0x10, 0, 0, 0]);
    expect([...resourceTemplate([])]).toEqual([0x11, 0x05, 0x0a, 0x02, 0x79, 0x00]);
    expect(() => irqNoFlags([16])).toThrow(RangeError);
    expect(() => ioPort(0x10000, 0, 1, 1)).toThrow(RangeError);
    expect(() => wordIo(0x100, 0xff)).toThrow(RangeError);
    expect(() => dwordMemory(2 ** 32, 2 ** 32, false)).toThrow(RangeError);
    expect(() => levelHighSharedInterrupt([])).toThrow(RangeError);
  });
});

describe.skipIf(iaslMissing !== undefined)("AML encodings against iasl", () => {
  const cases: Array<[string, string, Uint8Array]> = [
    [
      "integers",
      "Name (I0, 0) Name (I1, 1) Name (I2, 0x2A) Name (I3, 0x1234) Name (I4, 0xDEADBEEF) Name (I5, 0x123456789A)",
      concatBytes([
        name("I0", integer(0)),
        name("I1", integer(1)),
        name("I2", integer(0x2a)),
        name("I3", integer(0x1234)),
        name("I4", integer(0xdeadbeef)),
        name("I5", integer(0x123456789a)),
      ]),
    ],
    [
      "strings and EISA IDs",
      'Name (S0, "ACPI0007") Name (E0, EisaId ("PNP0A03")) Name (E1, EisaId ("PNP0000"))',
      concatBytes([
        name("S0", string("ACPI0007")),
        name("E0", eisaId("PNP0A03")),
        name("E1", eisaId("PNP0000")),
      ]),
    ],
    [
      "packages, nested, with name references",
      "Device (LNKA) {} Name (P0, Package () { Package () { 0x0001FFFF, One, \\LNKA, Zero }, 5 })",
      concatBytes([
        device("LNKA", []),
        name("P0", pkg([pkg([integer(0x1ffff), integer(1), nameString("\\LNKA"), integer(0)]), integer(5)])),
      ]),
    ],
    ["buffers", "Name (B0, Buffer () { 1, 2, 3 })", name("B0", buffer(Uint8Array.of(1, 2, 3)))],
    [
      "scopes, devices and an empty method",
      "Scope (\\_SB) { Device (PCI0) { Name (_UID, Zero) Method (_SRS, 1, NotSerialized) {} } }",
      scope("\\_SB", [device("PCI0", [name("_UID", integer(0)), method("_SRS", 1, [])])]),
    ],
    [
      "a long device body (two-byte PkgLength)",
      `Device (LONG) { ${Array.from({ length: 20 }, (_, i) => `Name (N${i.toString().padStart(3, "0")}, ${i + 2})`).join(" ")} }`,
      device(
        "LONG",
        Array.from({ length: 20 }, (_, i) => name(`N${i.toString().padStart(3, "0")}`, integer(i + 2))),
      ),
    ],
    [
      "resource templates",
      `Name (_CRS, ResourceTemplate () {
        WordBusNumber (ResourceProducer, MinFixed, MaxFixed, PosDecode, 0, 0, 0xFF, 0, 0x100)
        IO (Decode16, 0x0CF8, 0x0CF8, 0x01, 0x08)
        WordIO (ResourceProducer, MinFixed, MaxFixed, PosDecode, EntireRange, 0, 0x0D00, 0xFFFF, 0, 0xF300)
        DWordMemory (ResourceProducer, PosDecode, MinFixed, MaxFixed, Cacheable, ReadWrite, 0, 0xA0000, 0xBFFFF, 0, 0x20000)
        DWordMemory (ResourceProducer, PosDecode, MinFixed, MaxFixed, NonCacheable, ReadWrite, 0, 0x08000000, 0xFEBFFFFF, 0, 0xF6C00000)
        IRQNoFlags () { 1, 12 }
        Interrupt (ResourceConsumer, Level, ActiveHigh, Shared) { 19 }
      })`,
      name(
        "_CRS",
        resourceTemplate([
          wordBusNumber(0, 0xff),
          ioPort(0xcf8, 0xcf8, 1, 8),
          wordIo(0x0d00, 0xffff),
          dwordMemory(0xa0000, 0xbffff, true),
          dwordMemory(0x08000000, 0xfebfffff, false),
          irqNoFlags([1, 12]),
          levelHighSharedInterrupt([19]),
        ]),
      ),
    ],
  ];

  for (const [what, asl, encoded] of cases) {
    it(`matches iasl: ${what}`, () => {
      expect([...encoded]).toEqual([...compileAslTerms(asl)]);
    });
  }
});

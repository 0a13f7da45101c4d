import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { EM_386, EM_X86_64, readElfMachine, readElfSection, readModinfo } from "./elf-modinfo.js";
import { elfFixture } from "./test-fixtures.js";

const hasGnuAs = spawnSync("as", ["--version"], { stdio: "ignore" }).status === 0;
if (!hasGnuAs)
  console.warn("elf-modinfo.test.ts: skipping the GNU as cross-check: as (binutils) not on PATH");

const RECORDS = ["license=GPL", "depends=virtio,virtio_ring", "alias=virtio:d00000002v*", "name=virtio_blk"];

describe("readModinfo", () => {
  for (const bits of [32, 64] as const) {
    for (const bigEndian of [false, true]) {
      it(`reads every record of an ELF${bits} ${bigEndian ? "big" : "little"}-endian object in order`, () => {
        const fields = readModinfo(elfFixture({ bits, bigEndian, modinfo: RECORDS }));
        expect(fields.map(({ key, value }) => `${key}=${value}`)).toEqual(RECORDS);
      });
    }
  }

  it("keeps '=' inside values and drops padding between records", () => {
    const fields = readModinfo(elfFixture({ bits: 64, modinfo: ["parm=debug:level=1 enables", "name=x"] }));
    expect(fields).toEqual([
      { key: "parm", value: "debug:level=1 enables" },
      { key: "name", value: "x" },
    ]);
  });

  it("returns no records for an object without .modinfo", () => {
    expect(readModinfo(elfFixture({ bits: 32 }))).toEqual([]);
    expect(readElfSection(elfFixture({ bits: 32 }), ".modinfo")).toBeUndefined();
  });

  it("throws a described error, never a RangeError, on garbage and truncated input", () => {
    const good = elfFixture({ bits: 64, modinfo: RECORDS });
    expect(() => readModinfo(new TextEncoder().encode("not an elf file at all"), "x.ko")).toThrow(
      /x\.ko: not an ELF/,
    );
    const badClass = good.slice();
    badClass[4] = 9;
    expect(() => readModinfo(badClass)).toThrow(/ELF class 9/);
    for (const length of [20, 63, 64, 100, good.length - 48]) {
      expect(() => readModinfo(good.slice(0, length)), `length ${length}`).toThrow(/truncated/);
    }
    const badTable = good.slice();
    new DataView(badTable.buffer).setUint32(0x28, 0xfffffff0, true);
    expect(() => readModinfo(badTable)).toThrow(/truncated/);
  });
});

describe("readElfMachine", () => {
  it("tells i386 and x86-64 objects apart", () => {
    expect(readElfMachine(elfFixture({ bits: 32 }))).toEqual({ bits: 32, machine: EM_386 });
    expect(readElfMachine(elfFixture({ bits: 64 }))).toEqual({ bits: 64, machine: EM_X86_64 });
  });
});

describe.skipIf(!hasGnuAs)("readModinfo on objects assembled by GNU as", () => {
  const dir = mkdtempSync(join(tmpdir(), "tsvmm-modinfo-"));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const source = [
    ".text",
    "nop",
    '.section .modinfo,"a"',
    ...RECORDS.map((record) => `.asciz "${record}"`),
    ".section .data",
    ".long 1",
    "",
  ].join("\n");

  for (const [flag, bits, machine] of [
    ["--32", 32, EM_386],
    ["--64", 64, EM_X86_64],
  ] as const) {
    it(`reads .modinfo and the machine of an 'as ${flag}' object`, () => {
      writeFileSync(join(dir, "m.s"), source);
      const object = join(dir, `m${bits}.o`);
      const assemble = spawnSync("as", [flag, "-o", object, join(dir, "m.s")], { encoding: "utf8" });
      expect(assemble.status, assemble.stderr).toBe(0);
      const bytes = readFileSync(object);
      expect(readModinfo(bytes).map(({ key, value }) => `${key}=${value}`)).toEqual(RECORDS);
      expect(readElfMachine(bytes)).toEqual({ bits, machine });
    });
  }
});

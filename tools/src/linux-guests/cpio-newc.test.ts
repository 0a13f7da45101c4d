// The newc writer against GNU cpio (the reference reader) where it is installed, and against the
// format's layout rules (field values, 4-byte alignment, trailer, 512-byte blocks) everywhere.
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, readlinkSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { type CpioEntry, writeCpioNewc } from "./cpio-newc.js";
import { readCpioNewc } from "./test-fixtures.js";

const hasCpio = spawnSync("cpio", ["--version"], { stdio: "ignore" }).status === 0;
if (!hasCpio) {
  console.warn(
    "cpio-newc.test.ts: skipping the GNU cpio cross-checks: cpio not on PATH (apt-get install cpio)",
  );
}

const bytes = (text: string) => new TextEncoder().encode(text);

/** Files of every length modulo 4 (and empty), so each padding case is exercised. */
const SAMPLE: CpioEntry[] = [
  { kind: "directory", path: "bin" },
  { kind: "file", path: "bin/busybox", data: bytes("#!fake busybox\n"), mode: 0o755 },
  { kind: "symlink", path: "bin/sh", target: "busybox" },
  { kind: "directory", path: "dev" },
  { kind: "char-device", path: "dev/console", major: 5, minor: 1 },
  { kind: "file", path: "empty", data: new Uint8Array(0) },
  { kind: "file", path: "one", data: bytes("1") },
  { kind: "file", path: "two", data: bytes("22") },
  { kind: "file", path: "three", data: bytes("333") },
  { kind: "file", path: "four", data: bytes("4444") },
  { kind: "file", path: "init", data: bytes("#!/bin/sh\necho hi\n"), mode: 0o755 },
  { kind: "directory", path: "tmp", mode: 0o1777 },
  { kind: "directory", path: "a-long-directory-name-that-is-not-a-multiple-of-four" },
  {
    kind: "file",
    path: "a-long-directory-name-that-is-not-a-multiple-of-four/x",
    data: bytes("x".repeat(1001)),
  },
];

const workDirs: string[] = [];
afterAll(() => {
  for (const dir of workDirs) rmSync(dir, { recursive: true, force: true });
});

function writeArchive(entries: CpioEntry[]): string {
  const dir = mkdtempSync(join(tmpdir(), "tsvmm-cpio-"));
  workDirs.push(dir);
  const path = join(dir, "archive.cpio");
  writeFileSync(path, writeCpioNewc(entries));
  return path;
}

describe("writeCpioNewc layout", () => {
  const archive = writeCpioNewc(SAMPLE);

  it("reads back member by member with names, modes, device numbers and contents", () => {
    const members = readCpioNewc(archive);
    expect(members.map((m) => m.name)).toEqual(SAMPLE.map((e) => e.path));
    const byName = new Map(members.map((m) => [m.name, m]));
    expect(byName.get("bin")!.mode).toBe(0o040755);
    expect(byName.get("bin")!.nlink).toBe(2);
    expect(byName.get("bin/busybox")!.mode).toBe(0o100755);
    expect(byName.get("bin/sh")!.mode).toBe(0o120777);
    expect(new TextDecoder().decode(byName.get("bin/sh")!.data)).toBe("busybox");
    expect(byName.get("dev/console")!.mode).toBe(0o020600);
    expect([byName.get("dev/console")!.rdevMajor, byName.get("dev/console")!.rdevMinor]).toEqual([5, 1]);
    expect(byName.get("tmp")!.mode).toBe(0o041777);
    expect(byName.get("three")!.data).toEqual(bytes("333"));
    expect(byName.get("empty")!.data.length).toBe(0);
  });

  it("aligns every header to 4 bytes, ends with TRAILER!!! and pads to 512-byte blocks", () => {
    const text = new TextDecoder("latin1").decode(archive);
    let count = 0;
    for (let at = text.indexOf("070701"); at >= 0; at = text.indexOf("070701", at + 1)) {
      expect(at % 4).toBe(0);
      count++;
    }
    expect(count).toBe(SAMPLE.length + 1);
    expect(text).toContain("TRAILER!!!\0");
    expect(archive.length % 512).toBe(0);
  });

  it("gives identical bytes for identical input (no times, owners or host inode numbers)", () => {
    expect(writeCpioNewc(SAMPLE)).toEqual(archive);
  });

  it("rejects paths the kernel would mishandle", () => {
    const file = (path: string): CpioEntry => ({ kind: "file", path, data: new Uint8Array(0) });
    expect(() => writeCpioNewc([file("/abs")])).toThrow(/relative/);
    expect(() => writeCpioNewc([file("")])).toThrow(/empty/);
    expect(() => writeCpioNewc([file("a/../b")])).toThrow(/"\."/);
    expect(() => writeCpioNewc([file("a//b")])).toThrow(/empty/);
    expect(() => writeCpioNewc([file("x"), file("x")])).toThrow(/duplicate/);
    expect(() => writeCpioNewc([file("dir/x")])).toThrow(/parent directory/);
    expect(() => writeCpioNewc([file("TRAILER!!!")])).toThrow(/reserved/);
    expect(() => writeCpioNewc([{ kind: "symlink", path: "l", target: "" }])).toThrow(/symlink target/);
    expect(() => writeCpioNewc([{ kind: "char-device", path: "c", major: -1, minor: 0 }])).toThrow(/32-bit/);
  });
});

describe.skipIf(!hasCpio)("writeCpioNewc against GNU cpio", () => {
  it("lists the same members (cpio -t), types, modes and device numbers (cpio -tv)", () => {
    const path = writeArchive(SAMPLE);
    const names = spawnSync("cpio", ["-t", "--quiet", "-F", path], { encoding: "utf8" });
    expect(names.status, names.stderr).toBe(0);
    expect(names.stdout.trim().split("\n")).toEqual(SAMPLE.map((e) => e.path));

    const verbose = spawnSync("cpio", ["-tv", "--quiet", "-F", path], { encoding: "utf8" });
    expect(verbose.status, verbose.stderr).toBe(0);
    const lines = verbose.stdout.trim().split("\n");
    const lineOf = (name: string) =>
      lines.find((line) => line.endsWith(` ${name}`) || line.includes(` ${name} -> `))!;
    const modeOf = (name: string) => lineOf(name).split(" ")[0];
    expect(modeOf("bin")).toBe("drwxr-xr-x");
    expect(modeOf("bin/busybox")).toBe("-rwxr-xr-x");
    expect(modeOf("bin/sh")).toBe("lrwxrwxrwx");
    expect(modeOf("dev/console")).toBe("crw-------");
    expect(modeOf("tmp")).toBe("drwxrwxrwt");
    expect(lineOf("dev/console")).toMatch(/\b5,\s+1\b/);
    expect(lineOf("bin/sh")).toMatch(/ bin\/sh -> busybox$/);
    expect(lineOf("three")).toMatch(/ root\s+root\s+3 /);
  });

  it("extracts to the same file contents, modes and symlink targets with cpio -i", () => {
    const withoutDevices = SAMPLE.filter((entry) => entry.kind !== "char-device");
    const path = writeArchive(withoutDevices);
    const outDir = mkdtempSync(join(tmpdir(), "tsvmm-cpio-out-"));
    workDirs.push(outDir);
    const extract = spawnSync("cpio", ["-i", "--quiet", "--no-absolute-filenames", "-F", path], {
      cwd: outDir,
      encoding: "utf8",
    });
    expect(extract.status, extract.stderr).toBe(0);
    for (const entry of withoutDevices) {
      const at = join(outDir, entry.path);
      if (entry.kind === "file") {
        expect(new Uint8Array(readFileSync(at)), entry.path).toEqual(entry.data);
        expect(statSync(at).mode & 0o7777, entry.path).toBe(entry.mode ?? 0o644);
      } else if (entry.kind === "symlink") {
        expect(readlinkSync(at)).toBe(entry.target);
      } else if (entry.kind === "directory") {
        expect(statSync(at).isDirectory()).toBe(true);
      }
    }
  });
});

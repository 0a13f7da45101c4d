// The ext4 helpers against the real e2fsprogs: an image made from a directory gives back the same
// bytes through debugfs, and what is not there is an error rather than empty output.
import { randomBytes } from "node:crypto";
import {
  closeSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
  writeSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import {
  e2fsprogsTool,
  ensureE2fsprogs,
  ext4ImageIsClean,
  listExt4Directory,
  makeExt4Image,
  readExt4File,
} from "./ext4-image.js";

const missing = ensureE2fsprogs();
const root = mkdtempSync(join(tmpdir(), "tsvmm-ext4-"));
afterAll(() => rmSync(root, { recursive: true, force: true }));

describe("e2fsprogsTool", () => {
  it("finds a program on PATH or in the sbin directories, and nothing for an unknown name", () => {
    const bin = join(root, "bin");
    mkdirSync(bin);
    writeFileSync(join(bin, "debugfs"), "#!/bin/sh\n", { mode: 0o755 });
    expect(e2fsprogsTool("debugfs", bin)).toBe(join(bin, "debugfs"));
    writeFileSync(join(bin, "mke2fs"), "not executable", { mode: 0o644 });
    expect(e2fsprogsTool("mke2fs", bin)).not.toBe(join(bin, "mke2fs"));
  });
});

describe.skipIf(missing.length > 0)(`ext4 images (skipped: ${missing.join(", ")} missing)`, () => {
  const source = join(root, "source");
  const image = join(root, "disk.img");
  const payload = randomBytes(300_000);
  mkdirSync(join(source, "nested dir"), { recursive: true });
  writeFileSync(join(source, "payload.bin"), payload);
  writeFileSync(join(source, "nested dir", "hello.txt"), "hello\n");
  writeFileSync(join(source, "empty"), "");
  symlinkSync("payload.bin", join(source, "link"));

  it("makes an image of the requested size from a directory and reads each file back", () => {
    makeExt4Image({ sourceDir: source, imagePath: image, sizeMiB: 8, label: "tsvmm" });
    expect(statSync(image).size).toBe(8 * 1024 * 1024);
    expect(ext4ImageIsClean(image)).toBe(true);
    expect(Buffer.from(readExt4File(image, "/payload.bin")).equals(payload)).toBe(true);
    expect(new TextDecoder().decode(readExt4File(image, "/nested dir/hello.txt"))).toBe("hello\n");
    expect(readExt4File(image, "/empty")).toEqual(new Uint8Array(0));
    expect(listExt4Directory(image, "/")).toEqual([
      "empty",
      "link",
      "lost+found",
      "nested dir",
      "payload.bin",
    ]);
    expect(listExt4Directory(image, "/nested dir")).toEqual(["hello.txt"]);
  });

  it("throws for a missing file, a directory, a symlink and a relative path", () => {
    makeExt4Image({ sourceDir: source, imagePath: image, sizeMiB: 8 });
    expect(() => readExt4File(image, "/absent.txt")).toThrow(/not found/i);
    expect(() => readExt4File(image, "/nested dir")).toThrow(/not a regular file/);
    expect(() => readExt4File(image, "/link")).toThrow(/not a regular file/);
    expect(() => readExt4File(image, "payload.bin")).toThrow(/absolute/);
    expect(() => listExt4Directory(image, "/absent")).toThrow(/not found/i);
  });

  it("refuses sizes that are not whole MiB and reports mke2fs's failure when the files do not fit", () => {
    expect(() => makeExt4Image({ sourceDir: source, imagePath: image, sizeMiB: 0.5 })).toThrow(/whole MiB/);
    const big = join(root, "big");
    mkdirSync(big);
    writeFileSync(join(big, "large.bin"), Buffer.alloc(3 * 1024 * 1024, 1));
    expect(() => makeExt4Image({ sourceDir: big, imagePath: join(root, "small.img"), sizeMiB: 2 })).toThrow(
      /mke2fs/,
    );
  });

  it("sees a corrupted image as not clean", () => {
    makeExt4Image({ sourceDir: source, imagePath: image, sizeMiB: 8 });
    // The superblock starts at byte 1024; its magic number 0xEF53 is at offset 56.
    const fd = openSync(image, "r+");
    writeSync(fd, Buffer.from([0, 0]), 0, 2, 1024 + 56);
    closeSync(fd);
    expect(ext4ImageIsClean(image)).toBe(false);
    expect(() => readExt4File(image, "/payload.bin")).toThrow(/debugfs/);
  });
});

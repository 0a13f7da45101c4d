// ext4 disk images for guests, made and read on the host without mounting anything (no root
// needed): mke2fs -d fills a new file system from a directory, debugfs reads files back out of it
// after the guest has shut down. Both come from Debian's e2fsprogs.
import { execFileSync, spawnSync } from "node:child_process";
import { accessSync, constants } from "node:fs";
import { delimiter, join } from "node:path";

/** Where e2fsprogs' programs may be when /usr/sbin is not on a non-root user's PATH. */
const SBIN_DIRS = ["/usr/sbin", "/sbin"];

/** The path of an e2fsprogs program (mke2fs, debugfs), or undefined when it is not installed. */
export function e2fsprogsTool(name: "mke2fs" | "debugfs", path = process.env.PATH ?? ""): string | undefined {
  for (const dir of [...path.split(delimiter).filter((d) => d !== ""), ...SBIN_DIRS]) {
    const candidate = join(dir, name);
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {}
  }
  return undefined;
}

/**
 * Installs e2fsprogs with apt when mke2fs or debugfs is missing (as root, or through `sudo -n`), as
 * the guest builder fetches its packages. Returns what is still missing afterwards, or [] when both
 * are there.
 */
export function ensureE2fsprogs(log: (line: string) => void = () => {}): string[] {
  const missing = () => (["mke2fs", "debugfs"] as const).filter((tool) => e2fsprogsTool(tool) === undefined);
  if (missing().length === 0) return [];
  const asRoot = process.getuid?.() === 0 ? [] : ["sudo", "-n"];
  for (const args of [
    ["apt-get", "update", "-qq"],
    ["apt-get", "install", "-y", "-qq", "e2fsprogs"],
  ]) {
    const [command, ...rest] = [...asRoot, ...args];
    log(`ext4-image: ${[command, ...rest].join(" ")}`);
    const run = spawnSync(command!, rest, { encoding: "utf8" });
    if (run.status !== 0) {
      log(`ext4-image: failed: ${run.error?.message ?? run.stderr.trim()}`);
      break;
    }
  }
  return missing();
}

function requireTool(name: "mke2fs" | "debugfs"): string {
  const tool = e2fsprogsTool(name);
  if (tool === undefined)
    throw new Error(`${name} not found: install e2fsprogs (apt-get install -y e2fsprogs)`);
  return tool;
}

export interface Ext4ImageOptions {
  /** Everything in it (files, directories, symlinks) becomes the file system's root. */
  sourceDir: string;
  /** The image file, created or overwritten. */
  imagePath: string;
  /** The image's size, whole MiB. */
  sizeMiB: number;
  /** The volume label (mke2fs -L). */
  label?: string;
}

/**
 * Writes a raw ext4 image filled from a directory: `mke2fs -t ext4 -d DIR -F -q IMAGE <n>M`. The
 * root directory is owned by root; files keep their owners. Throws with mke2fs's message on failure
 * (e.g. the files do not fit).
 */
export function makeExt4Image(options: Ext4ImageOptions): void {
  const { sourceDir, imagePath, sizeMiB, label } = options;
  if (!Number.isInteger(sizeMiB) || sizeMiB < 1)
    throw new Error(`ext4 image size ${sizeMiB} MiB: not a whole MiB`);
  const args = ["-t", "ext4", "-d", sourceDir, "-E", "root_owner=0:0", "-F", "-q"];
  if (label !== undefined) args.push("-L", label);
  args.push(imagePath, `${sizeMiB}M`);
  const run = spawnSync(requireTool("mke2fs"), args, { encoding: "utf8" });
  if (run.status !== 0)
    throw new Error(
      `mke2fs ${args.join(" ")}: ${run.error?.message ?? (run.stderr.trim() || `exit ${run.status}`)}`,
    );
}

/** debugfs's own banner on stderr ("debugfs 1.47.0 (5-Feb-2023)"); anything else there is an error. */
const DEBUGFS_BANNER = /^debugfs \d+\.\d+/;

/** Runs one read-only debugfs request; throws on any error it reports (it exits 0 even then). */
function debugfs(imagePath: string, request: string): Buffer {
  const run = spawnSync(requireTool("debugfs"), ["-R", request, imagePath], { maxBuffer: 1 << 30 });
  const errors = run.stderr
    .toString("utf8")
    .split("\n")
    .filter((line) => line.trim() !== "" && !DEBUGFS_BANNER.test(line));
  if (run.status !== 0 || errors.length > 0) {
    throw new Error(
      `debugfs -R '${request}' ${imagePath}: ${run.error?.message ?? (errors.join("; ") || `exit ${run.status}`)}`,
    );
  }
  return run.stdout;
}

/** An absolute path (debugfs would resolve others against its own cwd), quoted for debugfs's parser. */
function quotedImagePath(path: string): string {
  if (!path.startsWith("/")) throw new Error(`path in the image must be absolute: ${path}`);
  if (/["\n]/.test(path)) throw new Error(`path in the image with a quote or newline: ${path}`);
  return `"${path}"`;
}

/** A regular file's bytes from an ext4 image (`debugfs -R "cat PATH"`); throws when it is not there. */
export function readExt4File(imagePath: string, pathInImage: string): Uint8Array {
  const path = quotedImagePath(pathInImage);
  const type = debugfs(imagePath, `stat ${path}`).toString("utf8");
  if (!/Type: regular/.test(type)) throw new Error(`${pathInImage} in ${imagePath} is not a regular file`);
  return new Uint8Array(debugfs(imagePath, `cat ${path}`));
}

/** The names in a directory of an ext4 image, without "." and "..", sorted. */
export function listExt4Directory(imagePath: string, pathInImage: string): string[] {
  const path = quotedImagePath(pathInImage);
  // `ls -p` prints "/inode/mode/uid/gid/name/size/" per entry.
  return debugfs(imagePath, `ls -p ${path}`)
    .toString("utf8")
    .split("\n")
    .map((line) => line.split("/"))
    .filter((fields) => fields.length >= 7)
    .map((fields) => fields[5]!)
    .filter((name) => name !== "." && name !== "..")
    .sort();
}

/** Checks the file system for errors without changing it (e2fsck -fn); true when it is clean. */
export function ext4ImageIsClean(imagePath: string): boolean {
  const e2fsck = e2fsprogsTool("mke2fs")?.replace(/mke2fs$/, "e2fsck");
  if (e2fsck === undefined)
    throw new Error("e2fsck not found: install e2fsprogs (apt-get install -y e2fsprogs)");
  try {
    execFileSync(e2fsck, ["-f", "-n", imagePath], { stdio: "ignore" });
    return true;
  } catch {
    return false;
  }
}

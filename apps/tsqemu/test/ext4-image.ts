// ext4 disk images for the virtio end-to-end test, made and read on the host with Debian's e2fsprogs and no mount
// (no root needed): mke2fs -d fills a new file system from a directory, debugfs reads files back after the guest
// has powered off, e2fsck -fn checks it. (tools/src/ext4-image.ts does the same for the tools; nothing imports
// tools, so tsqemu keeps its own few lines.)
import { spawnSync } from "node:child_process";
import { accessSync, constants } from "node:fs";
import { delimiter, join } from "node:path";

type Tool = "mke2fs" | "debugfs" | "e2fsck";
const TOOLS: readonly Tool[] = ["mke2fs", "debugfs", "e2fsck"];

/** A program's path: on PATH, or in /usr/sbin or /sbin (not on a non-root user's PATH). */
function toolPath(name: Tool): string | undefined {
  const dirs = [...(process.env.PATH ?? "").split(delimiter).filter((d) => d !== ""), "/usr/sbin", "/sbin"];
  for (const dir of dirs) {
    try {
      accessSync(join(dir, name), constants.X_OK);
      return join(dir, name);
    } catch {}
  }
  return undefined;
}

/**
 * Installs e2fsprogs with apt (as root or through `sudo -n`) when a program is missing; returns what is still
 * missing afterwards ([] when all are there).
 */
export function ensureE2fsprogs(): Tool[] {
  const missing = () => TOOLS.filter((tool) => toolPath(tool) === undefined);
  if (missing().length === 0) return [];
  const asRoot = process.getuid?.() === 0 ? [] : ["sudo", "-n"];
  for (const args of [
    ["apt-get", "update", "-qq"],
    ["apt-get", "install", "-y", "-qq", "e2fsprogs"],
  ]) {
    const [command, ...rest] = [...asRoot, ...args];
    const run = spawnSync(command!, rest, { encoding: "utf8", timeout: 10 * 60_000 });
    if (run.status !== 0) break;
  }
  return missing();
}

function run(tool: Tool, args: string[]): { status: number | null; stdout: Buffer; stderr: string } {
  const path = toolPath(tool);
  if (path === undefined) throw new Error(`${tool} not found: install e2fsprogs`);
  const result = spawnSync(path, args, { maxBuffer: 1 << 30 });
  if (result.error !== undefined) throw result.error;
  return { status: result.status, stdout: result.stdout, stderr: result.stderr.toString("utf8") };
}

/** A raw ext4 image of `sizeMiB` holding `sourceDir`'s files (`mke2fs -t ext4 -d DIR`). */
export function makeExt4Image(sourceDir: string, imagePath: string, sizeMiB: number): void {
  const result = run("mke2fs", [
    "-t",
    "ext4",
    "-d",
    sourceDir,
    "-E",
    "root_owner=0:0",
    "-F",
    "-q",
    imagePath,
    `${sizeMiB}M`,
  ]);
  if (result.status !== 0) throw new Error(`mke2fs ${imagePath}: ${result.stderr.trim()}`);
}

/**
 * A regular file's bytes (`debugfs -R 'cat "PATH"'`). debugfs exits 0 even when the file is missing, so its
 * stderr decides: anything there but its banner is an error.
 */
export function readExt4File(imagePath: string, pathInImage: string): Buffer {
  const result = run("debugfs", ["-R", `cat "${pathInImage}"`, imagePath]);
  const errors = result.stderr
    .split("\n")
    .filter((line) => line.trim() !== "" && !/^debugfs \d+\.\d+/.test(line));
  if (result.status !== 0 || errors.length > 0)
    throw new Error(`debugfs cat ${pathInImage} in ${imagePath}: ${errors.join("; ")}`);
  return result.stdout;
}

/** e2fsck -fn: the file system has no errors (nothing is changed). */
export function ext4ImageIsClean(imagePath: string): boolean {
  return run("e2fsck", ["-f", "-n", imagePath]).status === 0;
}

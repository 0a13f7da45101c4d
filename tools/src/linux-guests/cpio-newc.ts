// Writes "newc" cpio archives (magic 070701), the format the Linux kernel unpacks as an initramfs.
// Our own writer rather than the host's cpio: the output is byte-for-byte reproducible (fixed inode
// numbers, owners and times) and device nodes such as /dev/console can be added without root.

/** One archive member. Paths are relative ("bin/busybox"), parents listed before their children. */
export type CpioEntry =
  | { kind: "directory"; path: string; mode?: number }
  | { kind: "file"; path: string; data: Uint8Array; mode?: number }
  | { kind: "symlink"; path: string; target: string }
  | { kind: "char-device"; path: string; major: number; minor: number; mode?: number };

const MAGIC = "070701";
const HEADER_SIZE = 110;
const TRAILER_NAME = "TRAILER!!!";
const ALIGNMENT = 4;
/** GNU cpio pads whole archives to 512-byte blocks; the kernel accepts either, tools expect this. */
const BLOCK_SIZE = 512;
const MAX_FIELD = 0xffffffff;

const S_IFDIR = 0o040000;
const S_IFREG = 0o100000;
const S_IFLNK = 0o120000;
const S_IFCHR = 0o020000;
const PERMISSION_BITS = 0o7777;

const DEFAULT_DIRECTORY_MODE = 0o755;
const DEFAULT_FILE_MODE = 0o644;
const SYMLINK_MODE = 0o777;
const DEFAULT_DEVICE_MODE = 0o600;

const textEncoder = new TextEncoder();

function checkPath(path: string): void {
  if (path.length === 0) throw new Error("cpio: empty path");
  if (path.startsWith("/")) throw new Error(`cpio: path must be relative: ${path}`);
  if (path.includes("\0")) throw new Error(`cpio: path contains NUL: ${JSON.stringify(path)}`);
  if (path.split("/").some((part) => part === "" || part === "." || part === "..")) {
    throw new Error(`cpio: path has an empty, "." or ".." component: ${path}`);
  }
  if (path === TRAILER_NAME) throw new Error(`cpio: ${TRAILER_NAME} is reserved for the end marker`);
}

function checkField(name: string, value: number): void {
  if (!Number.isInteger(value) || value < 0 || value > MAX_FIELD) {
    throw new Error(`cpio: ${name} ${value} does not fit an unsigned 32-bit header field`);
  }
}

function modeOf(entry: CpioEntry): number {
  switch (entry.kind) {
    case "directory":
      return S_IFDIR | ((entry.mode ?? DEFAULT_DIRECTORY_MODE) & PERMISSION_BITS);
    case "file":
      return S_IFREG | ((entry.mode ?? DEFAULT_FILE_MODE) & PERMISSION_BITS);
    case "symlink":
      return S_IFLNK | SYMLINK_MODE;
    case "char-device":
      return S_IFCHR | ((entry.mode ?? DEFAULT_DEVICE_MODE) & PERMISSION_BITS);
  }
}

function bodyOf(entry: CpioEntry): Uint8Array {
  switch (entry.kind) {
    case "file":
      return entry.data;
    case "symlink":
      if (entry.target.length === 0 || entry.target.includes("\0")) {
        throw new Error(`cpio: bad symlink target for ${entry.path}: ${JSON.stringify(entry.target)}`);
      }
      return textEncoder.encode(entry.target);
    default:
      return new Uint8Array(0);
  }
}

const padTo = (length: number, alignment: number) => (alignment - (length % alignment)) % alignment;
const hex8 = (value: number) => value.toString(16).padStart(8, "0");

interface HeaderFields {
  inode: number;
  mode: number;
  nlink: number;
  fileSize: number;
  rdevMajor: number;
  rdevMinor: number;
  nameSize: number;
}

/** 110 ASCII bytes: magic then 13 eight-digit hex fields (uid, gid, mtime, dev and check are 0). */
function headerText(fields: HeaderFields): string {
  const { inode, mode, nlink, fileSize, rdevMajor, rdevMinor, nameSize } = fields;
  const values = [inode, mode, 0, 0, nlink, 0, fileSize, 0, 0, rdevMajor, rdevMinor, nameSize, 0];
  return MAGIC + values.map(hex8).join("");
}

/**
 * Serialises entries in the given order, followed by the TRAILER!!! record. Every entry belongs to
 * root:root with mtime 0, so equal inputs always give equal bytes. Throws on a malformed path, a
 * duplicate path, or a child listed before its parent directory (the kernel would fail to create it).
 */
export function writeCpioNewc(entries: readonly CpioEntry[]): Uint8Array {
  const directories = new Set<string>();
  const seen = new Set<string>();
  const chunks: Uint8Array[] = [];
  let total = 0;
  const push = (bytes: Uint8Array) => {
    chunks.push(bytes);
    total += bytes.length;
  };
  const pushRecord = (name: string, fields: Omit<HeaderFields, "nameSize">, body: Uint8Array) => {
    const nameBytes = textEncoder.encode(`${name}\0`);
    const header = textEncoder.encode(headerText({ ...fields, nameSize: nameBytes.length }));
    push(header);
    push(nameBytes);
    push(new Uint8Array(padTo(HEADER_SIZE + nameBytes.length, ALIGNMENT)));
    push(body);
    push(new Uint8Array(padTo(body.length, ALIGNMENT)));
  };

  let inode = 1;
  for (const entry of entries) {
    checkPath(entry.path);
    if (seen.has(entry.path)) throw new Error(`cpio: duplicate path ${entry.path}`);
    const slash = entry.path.lastIndexOf("/");
    if (slash >= 0 && !directories.has(entry.path.slice(0, slash))) {
      throw new Error(`cpio: ${entry.path} comes before its parent directory`);
    }
    seen.add(entry.path);
    if (entry.kind === "directory") directories.add(entry.path);
    const rdevMajor = entry.kind === "char-device" ? entry.major : 0;
    const rdevMinor = entry.kind === "char-device" ? entry.minor : 0;
    checkField("device major", rdevMajor);
    checkField("device minor", rdevMinor);
    const body = bodyOf(entry);
    checkField("file size", body.length);
    const nlink = entry.kind === "directory" ? 2 : 1;
    pushRecord(
      entry.path,
      { inode, mode: modeOf(entry), nlink, fileSize: body.length, rdevMajor, rdevMinor },
      body,
    );
    inode++;
  }
  pushRecord(
    TRAILER_NAME,
    { inode: 0, mode: 0, nlink: 1, fileSize: 0, rdevMajor: 0, rdevMinor: 0 },
    new Uint8Array(0),
  );
  push(new Uint8Array(padTo(total, BLOCK_SIZE)));

  const archive = new Uint8Array(total);
  let offset = 0;
  for (const chunk of chunks) {
    archive.set(chunk, offset);
    offset += chunk.length;
  }
  return archive;
}

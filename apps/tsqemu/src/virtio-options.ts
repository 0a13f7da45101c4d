// QEMU's flags for virtio devices and their host backends: -drive, -netdev, -chardev, -object rng-*, -snapshot and
// the -device models virtio-{blk,net,serial,rng}-{pci,device} and virtconsole, checked and resolved into one list
// of devices, each holding its backend's options, in the order QEMU creates them. QEMU's messages where it has one.
import { CommandLineError } from "./command-line-error.js";
import { parseQemuInteger, parseQemuOpts } from "./qemu-opts.js";

/** virtio-pci (a function on PCI bus 0) or virtio-mmio (a window on the MMIO bus with one ISA IRQ). */
export type VirtioTransportKind = "pci" | "mmio";

/** A -drive, with -snapshot folded in. */
export interface DriveOptions {
  /** id=, or QEMU's name for an if=virtio drive without one (virtio0, virtio1, ...). */
  id: string;
  path: string;
  readOnly: boolean;
  /** Writes go to a copy-on-write overlay in memory and the image is only read (-snapshot or snapshot=on). */
  snapshot: boolean;
  /**
   * discard=unmap (or on): the guest's discards free the range (a hole punched in the image, or overlay memory
   * with -snapshot). false: discard=ignore (or off), QEMU's default.
   */
  discard: boolean;
  serial: string | undefined;
}

/** A -netdev: QEMU's socket netdev (a TCP stream of length-prefixed frames) or a host TAP interface. */
export type NetdevOptions =
  | { kind: "socket"; id: string; mode: "listen" | "connect"; host: string; port: number }
  | { kind: "tap"; id: string; ifname: string | undefined };

/** A -chardev: the process's stdio, a Unix socket server, or nothing (output dropped, no input). */
export type ChardevOptions =
  | { kind: "stdio"; id: string }
  | { kind: "socket"; id: string; path: string }
  | { kind: "null"; id: string };

/** Where virtio-rng's bytes come from: the host's CSPRNG (rng-builtin, the default) or a file (rng-random). */
export type RngSourceOptions = { kind: "builtin" } | { kind: "file"; path: string };

interface VirtioDeviceCommon {
  /** The device model as QEMU names it (virtio-blk-pci, virtio-rng-device, ...). */
  driver: string;
  transport: VirtioTransportKind;
  /** virtio-pci's addr=: its slot on bus 0; undefined: the next free slot. */
  pciSlot: number | undefined;
}

/** One virtio device to build, with what its backend needs. */
export type VirtioDeviceOptions = VirtioDeviceCommon &
  (
    | { kind: "block"; drive: DriveOptions }
    | { kind: "net"; netdev: NetdevOptions; mac: string }
    /** virtio-serial with its one port (virtconsole); no virtconsole: a port with no backend. */
    | { kind: "console"; chardev: ChardevOptions | undefined }
    | { kind: "rng"; source: RngSourceOptions }
  );

/** The flags this module reads, each in command-line order. */
export interface VirtioFlags {
  /** Whether the machine has PCI (pc) or not (isapc). */
  pci: boolean;
  drives: readonly string[];
  netdevs: readonly string[];
  chardevs: readonly string[];
  objects: readonly string[];
  /** The -device values other than the ISA devices command-line.ts handles. */
  devices: readonly string[];
  snapshot: boolean;
}

export interface VirtioSetup {
  devices: VirtioDeviceOptions[];
  /** Whether a -chardev takes the process's stdio (COM1 then stays off stdio unless asked). */
  stdioChardev: boolean;
  /** What QEMU would warn about (printed, not fatal). */
  warnings: string[];
}

/** The first MAC QEMU gives NICs without mac=; each further NIC gets the next last byte. */
const FIRST_DEFAULT_MAC = [0x52, 0x54, 0x00, 0x12, 0x34, 0x56];
/** Slots 0 and 1 of bus 0 hold the i440FX and the PIIX3. */
const PCI_RESERVED_SLOTS = new Map([
  [0, "i440FX"],
  [1, "PIIX3"],
]);
const PCI_SLOTS = 32;

type DeviceKind = VirtioDeviceOptions["kind"] | "virtconsole";
const DEVICE_MODELS = new Map<string, { kind: DeviceKind; transport: VirtioTransportKind }>([
  ["virtio-blk-pci", { kind: "block", transport: "pci" }],
  ["virtio-blk-device", { kind: "block", transport: "mmio" }],
  ["virtio-blk", { kind: "block", transport: "pci" }],
  ["virtio-net-pci", { kind: "net", transport: "pci" }],
  ["virtio-net-device", { kind: "net", transport: "mmio" }],
  ["virtio-net", { kind: "net", transport: "pci" }],
  ["virtio-serial-pci", { kind: "console", transport: "pci" }],
  ["virtio-serial-device", { kind: "console", transport: "mmio" }],
  ["virtio-serial", { kind: "console", transport: "pci" }],
  ["virtio-rng-pci", { kind: "rng", transport: "pci" }],
  ["virtio-rng-device", { kind: "rng", transport: "mmio" }],
  ["virtio-rng", { kind: "rng", transport: "pci" }],
  ["virtconsole", { kind: "virtconsole", transport: "mmio" }],
]);
/** Properties every virtio-pci model takes: addr=, and the modern-only switches in the only setting tsqemu has. */
const PCI_PROPERTIES = ["addr", "disable-legacy", "disable-modern"];
const DEVICE_PROPERTIES: Record<DeviceKind, readonly string[]> = {
  block: ["drive", "serial"],
  net: ["netdev", "mac"],
  console: [],
  rng: ["rng"],
  virtconsole: ["chardev", "bus", "name", "nr"],
};

/** Disk formats QEMU knows that tsqemu cannot read. */
const UNSUPPORTED_FORMATS = new Set(["qcow2", "qcow", "qed", "vmdk", "vdi", "vhdx", "vpc", "luks", "dmg"]);
const CACHE_MODES = new Set(["none", "writeback", "writethrough", "directsync", "unsafe"]);
/** QEMU's discard= values, and whether each passes discards on (bdrv_parse_discard_flags). */
const DISCARD_MODES = new Map([
  ["ignore", false],
  ["off", false],
  ["unmap", true],
  ["on", true],
]);
const AIO_MODES = new Set(["threads", "native", "io_uring"]);
const DRIVE_KEYS = new Set([
  "file",
  "if",
  "format",
  "readonly",
  "read-only",
  "id",
  "serial",
  "cache",
  "discard",
  "snapshot",
  "media",
  "aio",
  "detect-zeroes",
]);
/** Drive parameters QEMU has for controllers tsqemu does not. */
const UNSUPPORTED_DRIVE_KEYS = new Set(["index", "bus", "unit", "cyls", "heads", "secs", "trans", "addr"]);
const BOOLEAN_TRUE = new Set(["on", "yes", "true", "y"]);
const BOOLEAN_FALSE = new Set(["off", "no", "false", "n"]);

interface DriveEntry {
  id: string;
  drive: DriveOptions | undefined;
  /** The text of the -drive, for messages. */
  text: string;
  interface: "virtio" | "none";
  /** The device using it (an if=virtio drive's own, or a -device's). */
  usedBy: string | undefined;
}

interface Registry<T> {
  entries: Map<string, { value: T; usedBy: string | undefined }>;
  what: string;
}

/** Resolves the virtio flags into devices; throws CommandLineError with QEMU's message for anything wrong. */
export function parseVirtioFlags(flags: VirtioFlags): VirtioSetup {
  const warnings: string[] = [];
  const objects = registry<RngSourceOptions>("object");
  for (const text of flags.objects) register(objects, ...parseObject(text));
  const chardevs = registry<ChardevOptions>("chardev");
  for (const text of flags.chardevs) {
    const chardev = parseChardev(text);
    register(chardevs, chardev.id, chardev);
  }
  const stdioChardevs = [...chardevs.entries.values()].filter((e) => e.value.kind === "stdio");
  if (stdioChardevs.length > 1) throw new CommandLineError("cannot use stdio by multiple character devices");
  const netdevs = registry<NetdevOptions>("netdev");
  for (const text of flags.netdevs) {
    const netdev = parseNetdev(text);
    register(netdevs, netdev.id, netdev);
  }
  const drives = new Map<string, DriveEntry>();
  let virtioDriveIndex = 0;
  for (const text of flags.drives) {
    const entry = parseDrive(text, flags.snapshot, warnings, () => `virtio${virtioDriveIndex++}`);
    if (drives.has(entry.id))
      throw new CommandLineError(`-drive ${text}: Duplicate ID '${entry.id}' for drive`);
    drives.set(entry.id, entry);
  }

  const devices: VirtioDeviceOptions[] = [];
  const deviceIds = new Set<string>();
  const consoles: { device: VirtioDeviceOptions & { kind: "console" }; id: string | undefined }[] = [];
  let nics = 0;
  for (const text of flags.devices) {
    const opts = parseQemuOpts(text, "driver");
    const driver = opts.get("driver") ?? "";
    const model = DEVICE_MODELS.get(driver);
    const fail: (message: string) => never = (message) => {
      throw new CommandLineError(`-device ${text}: ${message}`);
    };
    if (model === undefined) fail(`'${driver}' is not a valid device model name`);
    const { kind, transport } = model;
    const allowed = new Set(["driver", "id", ...DEVICE_PROPERTIES[kind]]);
    if (transport === "pci" && kind !== "virtconsole") for (const key of PCI_PROPERTIES) allowed.add(key);
    for (const key of opts.keys()) if (!allowed.has(key)) fail(`Property '${driver}.${key}' not found`);
    const id = opts.get("id");
    if (id !== undefined) {
      if (!isIdentifier(id)) fail("Parameter 'id' expects an identifier");
      if (deviceIds.has(id)) fail(`Duplicate ID '${id}' for device`);
      deviceIds.add(id);
    }
    if (transport === "pci" && kind !== "virtconsole") {
      if (!flags.pci) fail(`No 'PCI' bus found for device '${driver}'`);
      if (deviceBoolean(opts, "disable-legacy", true, fail) !== true) {
        fail("tsqemu's virtio-pci devices are modern only (disable-legacy=on)");
      }
      if (deviceBoolean(opts, "disable-modern", false, fail) !== false) {
        fail("tsqemu's virtio-pci devices are modern only (disable-modern=off)");
      }
    }
    const common = { driver, transport, pciSlot: transport === "pci" ? pciSlot(opts, fail) : undefined };
    const user = `${driver}${id === undefined ? "" : ` '${id}'`}`;
    switch (kind) {
      case "block": {
        const driveId = opts.get("drive");
        if (driveId === undefined) fail("drive property not set");
        const found = drives.get(driveId);
        if (found === undefined) fail(`Property '${driver}.drive' can't find value '${driveId}'`);
        if (found.interface === "virtio") {
          fail(
            `Drive '${driveId}' is already in use because it has been automatically connected to another device (did you need 'if=none' in the drive options?)`,
          );
        }
        if (found.usedBy !== undefined) fail(`Drive '${driveId}' is already in use by another device`);
        if (found.drive === undefined) fail("Device needs media, but drive is empty");
        found.usedBy = user;
        const drive = found.drive;
        const serial = opts.get("serial") ?? drive.serial;
        devices.push({ ...common, kind: "block", drive: { ...drive, serial } });
        break;
      }
      case "net": {
        const netdevId = opts.get("netdev");
        if (netdevId === undefined) fail("tsqemu needs netdev=ID (a NIC with no network is not supported)");
        const netdev = claim(netdevs, netdevId, driver, "netdev", user, fail);
        const macText = opts.get("mac");
        if (macText !== undefined && !isMac(macText)) {
          fail(`Property '${driver}.mac' doesn't take value '${macText}'`);
        }
        const mac = macText ?? defaultMac(nics);
        nics++;
        devices.push({ ...common, kind: "net", netdev, mac });
        break;
      }
      case "console": {
        const device: VirtioDeviceOptions & { kind: "console" } = {
          ...common,
          kind: "console",
          chardev: undefined,
        };
        consoles.push({ device, id });
        devices.push(device);
        break;
      }
      case "rng": {
        const rngId = opts.get("rng");
        const source: RngSourceOptions =
          rngId === undefined ? { kind: "builtin" } : findValue(objects, rngId, driver, "rng", fail);
        devices.push({ ...common, kind: "rng", source });
        break;
      }
      case "virtconsole": {
        const bus = opts.get("bus");
        const busId = bus?.replace(/\.0$/, "");
        const candidates = busId === undefined ? consoles : consoles.filter((c) => c.id === busId);
        if (candidates.length === 0) {
          fail(
            bus === undefined
              ? "No 'virtio-serial-bus' bus found for device 'virtconsole'"
              : `Bus '${bus}' not found`,
          );
        }
        const serial = candidates.find((c) => c.device.chardev === undefined);
        if (serial === undefined) fail("tsqemu's virtio-serial has one port, and it is taken");
        const port = serial.device;
        const nr = opts.get("nr");
        if (nr !== undefined && parseQemuInteger(nr) !== 0) fail("tsqemu's virtio-serial has one port: nr=0");
        const chardevId = opts.get("chardev");
        port.chardev =
          chardevId === undefined
            ? { kind: "null", id: "" }
            : claim(chardevs, chardevId, driver, "chardev", user, fail);
        break;
      }
    }
  }
  for (const entry of drives.values()) {
    if (entry.interface !== "virtio") continue;
    entry.usedBy = "virtio-blk-pci";
    if (!flags.pci)
      throw new CommandLineError(`-drive ${entry.text}: No 'PCI' bus found for device 'virtio-blk-pci'`);
    if (entry.drive === undefined) {
      throw new CommandLineError(`-drive ${entry.text}: Device needs media, but drive is empty`);
    }
    devices.push({
      driver: "virtio-blk-pci",
      transport: "pci",
      pciSlot: undefined,
      kind: "block",
      drive: entry.drive,
    });
  }
  checkPciSlots(devices);
  for (const [id, entry] of netdevs.entries)
    if (entry.usedBy === undefined) warnings.push(`netdev ${id} has no peer`);
  return { devices, stdioChardev: stdioChardevs.length > 0, warnings };
}

// --- -drive

function parseDrive(
  text: string,
  globalSnapshot: boolean,
  warnings: string[],
  nextVirtioId: () => string,
): DriveEntry {
  const opts = parseQemuOpts(text, "file");
  const fail: (message: string) => never = (message) => {
    throw new CommandLineError(`-drive ${text}: ${message}`);
  };
  for (const key of opts.keys()) {
    if (UNSUPPORTED_DRIVE_KEYS.has(key)) fail(`tsqemu does not support '${key}' (it has virtio disks only)`);
    if (!DRIVE_KEYS.has(key)) fail(`Invalid parameter '${key}'`);
  }
  const bus = opts.get("if") ?? "ide";
  if (
    bus === "ide" ||
    bus === "scsi" ||
    bus === "floppy" ||
    bus === "pflash" ||
    bus === "sd" ||
    bus === "mtd"
  ) {
    fail(
      `tsqemu has no ${bus === "ide" ? "IDE (the default if=)" : bus} controller; use if=virtio, or if=none with -device virtio-blk-pci,drive=ID`,
    );
  }
  if (bus !== "virtio" && bus !== "none") fail(`unsupported bus type '${bus}'`);
  const format = opts.get("format");
  const path = opts.get("file");
  if (format === undefined) {
    if (path !== undefined)
      warnings.push(`Image format was not specified for '${path}' and probing guessed raw.`);
  } else if (UNSUPPORTED_FORMATS.has(format)) {
    fail(`tsqemu reads raw images only (format=raw), not ${format}`);
  } else if (format !== "raw") {
    fail(`Unknown driver '${format}'`);
  }
  const media = opts.get("media");
  if (media !== undefined && media !== "disk") {
    fail(media === "cdrom" ? "tsqemu has no CD-ROM drive" : `'${media}' invalid media`);
  }
  checkChoice(opts, "cache", CACHE_MODES, "invalid cache option", fail);
  const discardText = opts.get("discard") ?? "ignore";
  const discard = DISCARD_MODES.get(discardText);
  if (discard === undefined) fail("Invalid discard option");
  checkChoice(opts, "aio", AIO_MODES, "invalid aio option", fail);
  const detectZeroes = opts.get("detect-zeroes");
  if (detectZeroes !== undefined && detectZeroes !== "off") {
    fail("tsqemu does not detect zero writes (detect-zeroes=off)");
  }
  const idText = opts.get("id");
  if (idText !== undefined && !isIdentifier(idText)) fail("Parameter 'id' expects an identifier");
  if (bus === "none" && idText === undefined) fail("if=none needs id=ID, which -device ...,drive=ID names");
  const id = idText ?? nextVirtioId();
  const readOnly = driveBoolean(opts, "readonly", fail) ?? driveBoolean(opts, "read-only", fail) ?? false;
  const snapshot = (driveBoolean(opts, "snapshot", fail) ?? false) || globalSnapshot;
  if (path === "") fail("file= needs a path");
  const drive =
    path === undefined ? undefined : { id, path, readOnly, snapshot, discard, serial: opts.get("serial") };
  return { id, drive, text, interface: bus, usedBy: undefined };
}

function checkChoice(
  opts: Map<string, string>,
  key: string,
  choices: ReadonlySet<string>,
  message: string,
  fail: (message: string) => never,
): void {
  const value = opts.get(key);
  if (value !== undefined && !choices.has(value)) fail(message);
}

/** A QemuOpts boolean: on/yes/true/y or off/no/false/n. */
function driveBoolean(
  opts: Map<string, string>,
  key: string,
  fail: (message: string) => never,
): boolean | undefined {
  const value = opts.get(key);
  if (value === undefined) return undefined;
  if (BOOLEAN_TRUE.has(value)) return true;
  if (BOOLEAN_FALSE.has(value)) return false;
  return fail(`Parameter '${key}' expects 'on' or 'off'`);
}

function deviceBoolean(
  opts: Map<string, string>,
  key: string,
  fallback: boolean,
  fail: (message: string) => never,
): boolean {
  return driveBoolean(opts, key, fail) ?? fallback;
}

// --- -netdev

function parseNetdev(text: string): NetdevOptions {
  const opts = parseQemuOpts(text, "type");
  const fail: (message: string) => never = (message) => {
    throw new CommandLineError(`-netdev ${text}: ${message}`);
  };
  const type = opts.get("type") ?? "";
  const id = opts.get("id");
  const allowedKeys = (keys: string[]) => {
    for (const key of opts.keys()) {
      if (!["type", "id", ...keys].includes(key)) fail(`Invalid parameter '${key}'`);
    }
  };
  switch (type) {
    case "socket": {
      allowedKeys(["listen", "connect", "mcast", "udp", "localaddr", "fd"]);
      for (const key of ["mcast", "udp", "localaddr", "fd"]) {
        if (opts.has(key)) fail(`tsqemu's socket netdev takes listen= or connect= only, not ${key}=`);
      }
      const listen = opts.get("listen");
      const connect = opts.get("connect");
      if ((listen === undefined) === (connect === undefined)) {
        fail("exactly one of listen=, connect=, mcast= or udp= is required");
      }
      const mode = listen !== undefined ? "listen" : "connect";
      const address = parseInetAddress(listen ?? connect ?? "", mode, fail);
      return { kind: "socket", id: requireId(id, fail), mode, ...address };
    }
    case "tap": {
      allowedKeys(["ifname", "script", "downscript", "vhost"]);
      for (const key of ["script", "downscript"]) {
        const script = opts.get(key);
        if (script !== undefined && script !== "no") {
          fail(`tsqemu runs no network scripts: set up the interface beforehand and use ${key}=no`);
        }
      }
      if (driveBoolean(opts, "vhost", fail) === true)
        fail("vhost-net is not available in tsqemu (vhost=off)");
      const ifname = opts.get("ifname");
      if (ifname === "") fail("ifname= needs a name");
      return { kind: "tap", id: requireId(id, fail), ifname };
    }
    case "user":
      return fail("tsqemu has no user-mode network stack (use -netdev socket or -netdev tap)");
    case "":
      return fail("Parameter 'type' is missing");
    default:
      return fail("Parameter 'type' expects a netdev backend type (tsqemu has socket and tap)");
  }
}

/** QEMU's inet address: host:port, [ipv6]:port, or :port (every address for listen=, localhost for connect=). */
function parseInetAddress(
  text: string,
  mode: "listen" | "connect",
  fail: (message: string) => never,
): { host: string; port: number } {
  const match = /^(?:\[([^\]]*)\]|([^:[\]]*)):([0-9]+)$/.exec(text);
  const port = match ? parseQemuInteger(match[3]) : undefined;
  if (match === null || port === undefined || port > 0xffff) {
    return fail(`error parsing ${mode} address '${text}' (host:port)`);
  }
  const host = match[1] ?? match[2];
  if (mode === "connect" && port === 0) fail(`cannot connect to port 0 ('${text}')`);
  return { host, port };
}

// --- -chardev

function parseChardev(text: string): ChardevOptions {
  const opts = parseQemuOpts(text, "backend");
  const fail: (message: string) => never = (message) => {
    throw new CommandLineError(`-chardev ${text}: ${message}`);
  };
  const backend = opts.get("backend") ?? "";
  const id = opts.get("id");
  if (id === undefined) fail("chardev: no id specified");
  if (!isIdentifier(id)) fail("Parameter 'id' expects an identifier");
  const allowedKeys = (keys: string[]) => {
    for (const key of opts.keys()) {
      if (!["backend", "id", ...keys].includes(key)) fail(`Invalid parameter '${key}'`);
    }
  };
  switch (backend) {
    case "stdio":
      allowedKeys(["signal", "mux"]);
      driveBoolean(opts, "signal", fail);
      if (driveBoolean(opts, "mux", fail) === true) fail("tsqemu's chardevs are not multiplexed (mux=off)");
      return { kind: "stdio", id };
    case "socket": {
      allowedKeys(["path", "server", "wait", "nowait", "host", "port"]);
      const path = opts.get("path");
      if (path === undefined || path === "" || opts.has("host") || opts.has("port")) {
        fail("tsqemu's socket chardev is a Unix socket server: path=PATH,server=on,wait=off");
      }
      if (driveBoolean(opts, "server", fail) !== true) {
        fail("tsqemu's socket chardev listens: add server=on,wait=off");
      }
      const wait = opts.has("nowait") ? false : driveBoolean(opts, "wait", fail);
      if (wait !== false) fail("tsqemu does not wait for a client before starting: add wait=off");
      return { kind: "socket", id, path };
    }
    case "null":
      allowedKeys([]);
      return { kind: "null", id };
    default:
      return fail(`'${backend}' is not a valid char driver name (tsqemu has stdio, socket and null)`);
  }
}

// --- -object

function parseObject(text: string): [string, RngSourceOptions] {
  const opts = parseQemuOpts(text, "qom-type");
  const fail: (message: string) => never = (message) => {
    throw new CommandLineError(`-object ${text}: ${message}`);
  };
  const type = opts.get("qom-type") ?? "";
  const keys = type === "rng-random" ? ["filename"] : type === "rng-builtin" ? [] : undefined;
  if (keys === undefined) return fail(`invalid object type: ${type} (tsqemu has rng-random and rng-builtin)`);
  for (const key of opts.keys()) {
    if (!["qom-type", "id", ...keys].includes(key)) fail(`Property '${type}.${key}' not found`);
  }
  const id = requireId(opts.get("id"), fail);
  if (type === "rng-builtin") return [id, { kind: "builtin" }];
  const path = opts.get("filename") ?? "/dev/urandom";
  if (path === "") fail("filename= needs a path");
  return [id, { kind: "file", path }];
}

// --- shared

function registry<T>(what: string): Registry<T> {
  return { entries: new Map(), what };
}

function register<T>(registry: Registry<T>, id: string, value: T): void {
  if (registry.entries.has(id)) {
    throw new CommandLineError(`-${registry.what}: Duplicate ID '${id}' for ${registry.what}`);
  }
  registry.entries.set(id, { value, usedBy: undefined });
}

/** A backend a device takes for itself: QEMU refuses to give one to two devices. */
function claim<T>(
  registry: Registry<T>,
  id: string,
  driver: string,
  property: string,
  user: string,
  fail: (message: string) => never,
): T {
  const entry = registry.entries.get(id);
  if (entry === undefined) return fail(`Property '${driver}.${property}' can't find value '${id}'`);
  if (entry.usedBy !== undefined)
    fail(`Property '${driver}.${property}' can't take value '${id}', it's in use`);
  entry.usedBy = user;
  return entry.value;
}

function findValue<T>(
  registry: Registry<T>,
  id: string,
  driver: string,
  property: string,
  fail: (message: string) => never,
): T {
  const entry = registry.entries.get(id);
  if (entry === undefined) return fail(`Property '${driver}.${property}' can't find value '${id}'`);
  entry.usedBy ??= driver;
  return entry.value;
}

function requireId(id: string | undefined, fail: (message: string) => never): string {
  if (id === undefined) return fail("Parameter 'id' is missing");
  if (!isIdentifier(id)) fail("Parameter 'id' expects an identifier");
  return id;
}

/** QEMU's identifiers: a letter, then letters, digits, '-', '.' and '_'. */
function isIdentifier(id: string): boolean {
  return /^[A-Za-z][A-Za-z0-9_.-]*$/.test(id);
}

function isMac(text: string): boolean {
  return /^[0-9a-fA-F]{2}([:-])(?:[0-9a-fA-F]{2}\1){4}[0-9a-fA-F]{2}$/.test(text);
}

function defaultMac(index: number): string {
  const bytes = [...FIRST_DEFAULT_MAC];
  bytes[5] = (bytes[5] + index) & 0xff;
  return bytes.map((b) => b.toString(16).padStart(2, "0")).join(":");
}

/** addr=SLOT or addr=SLOT.FUNCTION (function 0): a PCI slot on bus 0 that the bridges do not hold. */
function pciSlot(opts: Map<string, string>, fail: (message: string) => never): number | undefined {
  const text = opts.get("addr");
  if (text === undefined) return undefined;
  const match = /^(0x[0-9a-f]+|[0-9a-f]+)(?:\.([0-7]))?$/i.exec(text);
  // QEMU reads addr= in hex (with or without 0x).
  const slot = match === null ? Number.NaN : Number.parseInt(match[1].replace(/^0x/i, ""), 16);
  if (match === null || !Number.isInteger(slot) || slot >= PCI_SLOTS) {
    return fail(`Property '${opts.get("driver")}.addr' doesn't take value '${text}'`);
  }
  if ((match[2] ?? "0") !== "0") fail("tsqemu puts each virtio-pci device at function 0 of its slot");
  const holder = PCI_RESERVED_SLOTS.get(slot);
  if (holder !== undefined) {
    fail(`PCI: slot ${slot} function 0 not available for ${opts.get("driver")}, in use by ${holder}`);
  }
  return slot;
}

/** Two devices cannot share a slot, and bus 0 has 30 slots for them. */
function checkPciSlots(devices: readonly VirtioDeviceOptions[]): void {
  const taken = new Map<number, string>();
  for (const device of devices) {
    if (device.pciSlot === undefined) continue;
    const holder = taken.get(device.pciSlot);
    if (holder !== undefined) {
      throw new CommandLineError(
        `-device ${device.driver}: PCI: slot ${device.pciSlot} function 0 not available for ${device.driver}, in use by ${holder}`,
      );
    }
    taken.set(device.pciSlot, device.driver);
  }
  const pciDevices = devices.filter((d) => d.transport === "pci").length;
  if (pciDevices > PCI_SLOTS - PCI_RESERVED_SLOTS.size) {
    throw new CommandLineError(
      `-device: PCI bus 0 has ${PCI_SLOTS - PCI_RESERVED_SLOTS.size} free slots, not ${pciDevices}`,
    );
  }
}

import yargsParser from "yargs-parser";
import { CommandLineError } from "./command-line-error.js";
import { parseQemuInteger, parseQemuOpts, parseSize } from "./qemu-opts.js";
import { parseVirtioFlags, type VirtioDeviceOptions } from "./virtio-options.js";

export { CommandLineError } from "./command-line-error.js";

/** Where a character device's bytes go (QEMU's -serial/-debugcon backends). */
export type CharBackend = { kind: "stdio"; mux: boolean } | { kind: "file"; path: string } | { kind: "none" };

/** QEMU's machine types that tsqemu has (see -machine help). */
export type MachineType = "pc" | "isapc";

/** QEMU's -kernel, -initrd and -append. */
export interface KernelOptions {
  path: string;
  /** The -initrd argument as given: one file for Linux, a comma-separated module list for multiboot. */
  initrd: string | undefined;
  cmdline: string;
}

/** What a tsqemu command line asks for, parsed and validated. */
export interface TsqemuOptions {
  machine: MachineType;
  memoryBytes: number;
  /** The firmware image path; with neither it nor a kernel, tsqemu runs its built-in demo guest. */
  bios: string | undefined;
  kernel: KernelOptions | undefined;
  /** -icount shift=N: guest time from retired instructions, 2^N ns each; undefined: the host clock. */
  icountShift: number | undefined;
  /** -rtc base=: what the RTC shows at start ("utc" and "localtime" mean now). */
  rtcBase: "utc" | "localtime" | Date;
  serial: CharBackend;
  debugcon: CharBackend;
  debugconIobase: number;
  debugExit: { iobase: number; iosize: number } | undefined;
  noReboot: boolean;
  nographic: boolean;
  /** -drive, -device virtio-*, -netdev, -chardev, -object rng-*: the virtio devices with their backends. */
  virtio: VirtioDeviceOptions[];
}

export type ParsedCommandLine =
  /** `warnings`: what QEMU would warn about on stderr before it starts. */
  | { action: "run"; options: TsqemuOptions; warnings: string[] }
  | { action: "help" }
  | { action: "version" }
  | { action: "machine-help" }
  | { action: "error"; message: string };

const BOOLEAN_FLAGS = ["nographic", "no-reboot", "version", "help", "h", "enable-kvm", "snapshot"];
const VALUE_FLAGS = [
  "m",
  "bios",
  "kernel",
  "initrd",
  "append",
  "machine",
  "M",
  "smp",
  "icount",
  "rtc",
  "serial",
  "device",
  "accel",
  "display",
  "debugcon",
  "global",
  "drive",
  "netdev",
  "chardev",
  "object",
];
const DEFAULT_MEMORY = 128 * 2 ** 20;
/** QEMU's limit for -icount shift. */
const MAX_ICOUNT_SHIFT = 10;

/** -machine help: the machine types, as QEMU lists them. */
export const MACHINE_HELP_TEXT = `Supported machines are:
pc                   Standard PC (i440FX + PIIX, 1996): PCI, ACPI, the IOAPIC (default)
isapc                ISA-only PC
`;

/** Parses QEMU-style flags (single or double dash, one word each) with yargs-parser. */
export function parseCommandLine(argv: readonly string[]): ParsedCommandLine {
  const parsed = yargsParser([...argv], {
    boolean: BOOLEAN_FLAGS,
    string: VALUE_FLAGS,
    configuration: {
      "short-option-groups": false,
      "camel-case-expansion": false,
      "boolean-negation": false,
      "parse-numbers": false,
      "parse-positional-numbers": false,
      "dot-notation": false,
      "duplicate-arguments-array": true,
      "flatten-duplicate-arrays": true,
      "greedy-arrays": false,
      "strip-aliased": true,
      "unknown-options-as-args": false,
    },
  });
  try {
    for (const key of Object.keys(parsed)) {
      if (key === "_" || key === "--") continue;
      if (!BOOLEAN_FLAGS.includes(key) && !VALUE_FLAGS.includes(key))
        throw new CommandLineError(`-${key}: invalid option`);
    }
    if (parsed.help === true || parsed.h === true) return { action: "help" };
    if (parsed.version === true) return { action: "version" };
    const machine = parseMachine(parsed);
    if (machine === "help") return { action: "machine-help" };
    const positional = parsed._.map(String);
    if (positional.length > 0) {
      // QEMU takes a bare image as -hda, an IDE disk.
      throw new CommandLineError(
        `${positional[0]}: tsqemu has no IDE disk; use -drive file=${positional[0]},format=raw,if=virtio`,
      );
    }
    const warnings: string[] = [];
    return { action: "run", options: toOptions(parsed, machine, warnings), warnings };
  } catch (e) {
    if (e instanceof CommandLineError) return { action: "error", message: e.message };
    throw e;
  }
}

function toOptions(parsed: yargsParser.Arguments, machine: MachineType, warnings: string[]): TsqemuOptions {
  const nographic = parsed.nographic === true;
  const memory = last(parsed.m, "m");
  const memoryBytes = memory === undefined ? DEFAULT_MEMORY : parseMemory(memory);
  if (parsed["enable-kvm"] === true) checkAccelerator("kvm");
  for (const accel of all(parsed.accel)) checkAccelerator(parseQemuOpts(accel, "accel").get("accel") ?? "");
  for (const smp of all(parsed.smp)) parseSmp(smp);
  for (const display of all(parsed.display)) {
    if (parseQemuOpts(display, "type").get("type") !== "none") {
      throw new CommandLineError(
        `-display ${display}: tsqemu has no display; only -display none is accepted`,
      );
    }
  }
  let debugExit: TsqemuOptions["debugExit"];
  const virtioDevices: string[] = [];
  for (const device of all(parsed.device)) {
    const opts = parseQemuOpts(device, "driver");
    const driver = opts.get("driver");
    if (driver !== "isa-debug-exit") {
      virtioDevices.push(device);
      continue;
    }
    const iobase = integerOption(opts, "iobase", 0x501, 0xffff);
    const iosize = integerOption(opts, "iosize", 0x02, 8);
    if (iosize === 0) throw new CommandLineError("-device isa-debug-exit: iosize must not be 0");
    debugExit = { iobase, iosize };
  }
  let debugconIobase = 0xe9;
  for (const global of all(parsed.global)) {
    const match = /^isa-debugcon\.iobase=(.+)$/.exec(global);
    const value = match ? parseQemuInteger(match[1]) : undefined;
    if (value === undefined || value > 0xffff)
      throw new CommandLineError(`-global ${global}: unsupported property`);
    debugconIobase = value;
  }
  const virtio = parseVirtioFlags({
    pci: machine === "pc",
    drives: all(parsed.drive),
    netdevs: all(parsed.netdev),
    chardevs: all(parsed.chardev),
    objects: all(parsed.object),
    devices: virtioDevices,
    snapshot: parsed.snapshot === true,
  });
  warnings.push(...virtio.warnings);
  const serialText = last(parsed.serial, "serial");
  const serial =
    serialText !== undefined
      ? parseCharBackend(serialText, "-serial")
      : virtio.stdioChardev && !nographic
        ? ({ kind: "none" } as const) // a -chardev stdio has the terminal; COM1 gets it only when asked
        : ({ kind: "stdio", mux: nographic } as const);
  if (virtio.stdioChardev && serial.kind === "stdio") {
    throw new CommandLineError("cannot use stdio by multiple character devices");
  }
  const debugconText = last(parsed.debugcon, "debugcon");
  const debugcon =
    debugconText !== undefined ? parseCharBackend(debugconText, "-debugcon") : ({ kind: "none" } as const);
  const icount = last(parsed.icount, "icount");
  const rtc = last(parsed.rtc, "rtc");
  return {
    machine,
    memoryBytes,
    bios: last(parsed.bios, "bios"),
    kernel: parseKernel(parsed),
    icountShift: icount === undefined ? undefined : parseIcount(icount),
    rtcBase: rtc === undefined ? "utc" : parseRtc(rtc),
    serial,
    debugcon,
    debugconIobase,
    debugExit,
    noReboot: parsed["no-reboot"] === true,
    nographic,
    virtio: virtio.devices,
  };
}

/** -machine/-M [type=]NAME[,accel=tcg]: the last one wins, as in QEMU. */
function parseMachine(parsed: yargsParser.Arguments): MachineType | "help" {
  let machine: MachineType | "help" = "pc";
  for (const text of [...all(parsed.machine), ...all(parsed.M)]) {
    const opts = parseQemuOpts(text, "type");
    for (const [key, value] of opts) {
      if (key === "accel") checkAccelerator(value);
      else if (key !== "type") throw new CommandLineError(`-machine ${text}: unsupported property ${key}`);
    }
    const type = opts.get("type");
    if (type === undefined) continue;
    if (type === "help" || type === "?") return "help";
    // pc-i440fx-X.Y are QEMU's versioned names for the pc machine.
    if (type === "pc" || type.startsWith("pc-i440fx-")) machine = "pc";
    else if (type === "isapc") machine = "isapc";
    else throw new CommandLineError(`-machine ${text}: unsupported machine type ${type} (use -machine help)`);
  }
  return machine;
}

function checkAccelerator(name: string): void {
  if (name === "kvm" || name === "hvf" || name === "whpx") {
    throw new CommandLineError(`-accel ${name}: hardware acceleration is not available; use -accel tcg`);
  }
  if (name !== "tcg") throw new CommandLineError(`-accel ${name}: invalid accelerator`);
}

/** -smp: one vCPU only, until the local APIC can start application processors. */
function parseSmp(text: string): void {
  const opts = parseQemuOpts(text, "cpus");
  for (const [key, value] of opts) {
    if (!["cpus", "maxcpus", "sockets", "dies", "clusters", "cores", "threads"].includes(key)) {
      throw new CommandLineError(`-smp ${text}: unsupported option ${key}`);
    }
    if (parseQemuInteger(value) !== 1) {
      throw new CommandLineError(`-smp ${text}: tsqemu runs one vCPU for now`);
    }
  }
}

/** -kernel, -initrd, -append; like QEMU, -initrd and -append need -kernel. */
function parseKernel(parsed: yargsParser.Arguments): KernelOptions | undefined {
  const path = last(parsed.kernel, "kernel");
  const initrd = last(parsed.initrd, "initrd");
  const appends = all(parsed.append);
  const cmdline = appends.length > 0 ? appends[appends.length - 1] : undefined;
  if (path === undefined) {
    if (initrd !== undefined) throw new CommandLineError("-initrd only allowed with -kernel option");
    if (cmdline !== undefined) throw new CommandLineError("-append only allowed with -kernel option");
    return undefined;
  }
  return { path, initrd, cmdline: cmdline ?? "" };
}

/** -icount [shift=]N[,sleep=off]: idle time is always skipped here, as QEMU does with sleep=off. */
function parseIcount(text: string): number {
  const opts = parseQemuOpts(text, "shift");
  for (const [key, value] of opts) {
    if (key === "sleep") {
      if (value !== "off") {
        throw new CommandLineError(`-icount ${text}: tsqemu skips idle guest time (only sleep=off)`);
      }
    } else if (key !== "shift") {
      throw new CommandLineError(`-icount ${text}: unsupported option ${key}`);
    }
  }
  const shiftText = opts.get("shift") ?? "0";
  if (shiftText === "auto") throw new CommandLineError(`-icount ${text}: shift=auto is not supported`);
  const shift = parseQemuInteger(shiftText);
  if (shift === undefined || shift > MAX_ICOUNT_SHIFT) {
    throw new CommandLineError(`-icount ${text}: shift must be 0-${MAX_ICOUNT_SHIFT}`);
  }
  return shift;
}

/** -rtc base=utc|localtime|YYYY-MM-DD[THH:MM:SS][,clock=vm][,driftfix=none]. */
function parseRtc(text: string): "utc" | "localtime" | Date {
  const opts = parseQemuOpts(text, "base");
  let base: "utc" | "localtime" | Date = "utc";
  for (const [key, value] of opts) {
    if (key === "base") {
      if (value === "utc" || value === "localtime") base = value;
      else base = parseRtcDate(value, text);
    } else if (key === "clock") {
      if (value !== "vm")
        throw new CommandLineError(`-rtc ${text}: the RTC runs on the VM's clock (clock=vm)`);
    } else if (key === "driftfix") {
      if (value !== "none") throw new CommandLineError(`-rtc ${text}: unsupported driftfix ${value}`);
    } else {
      throw new CommandLineError(`-rtc ${text}: unsupported option ${key}`);
    }
  }
  return base;
}

/** QEMU's -rtc base date: "2006-06-17T16:01:21" or "2006-06-17", read as UTC. */
function parseRtcDate(value: string, text: string): Date {
  const match = /^(\d{4})-(\d{2})-(\d{2})(?:T(\d{2}):(\d{2}):(\d{2}))?$/.exec(value);
  if (match !== null) {
    const [year, month, day, hour, minute, second] = match.slice(1).map((part) => Number(part ?? 0));
    const date = new Date(Date.UTC(year, month - 1, day, hour, minute, second));
    if (
      year >= 1970 &&
      date.getUTCFullYear() === year &&
      date.getUTCMonth() === month - 1 &&
      date.getUTCDate() === day &&
      hour < 24 &&
      minute < 60 &&
      second < 60
    ) {
      return date;
    }
  }
  throw new CommandLineError(`-rtc ${text}: invalid date format (use YYYY-MM-DD or YYYY-MM-DDTHH:MM:SS)`);
}

function parseMemory(text: string): number {
  const opts = parseQemuOpts(text, "size");
  const size = opts.get("size") ?? "";
  for (const key of opts.keys())
    if (key !== "size") throw new CommandLineError(`-m ${text}: unsupported option ${key}`);
  const bytes = parseSize(size, 2 ** 20);
  if (bytes === undefined || bytes <= 0) throw new CommandLineError(`-m ${text}: invalid RAM size`);
  return bytes;
}

function parseCharBackend(text: string, flag: string): CharBackend {
  if (text === "stdio") return { kind: "stdio", mux: false };
  if (text === "mon:stdio") return { kind: "stdio", mux: true };
  if (text === "none" || text === "null") return { kind: "none" };
  if (text.startsWith("file:") && text.length > 5) return { kind: "file", path: text.slice(5) };
  throw new CommandLineError(`${flag} ${text}: unsupported backend (stdio, mon:stdio, file:PATH, none)`);
}

function integerOption(opts: Map<string, string>, key: string, fallback: number, max: number): number {
  const text = opts.get(key);
  if (text === undefined) return fallback;
  const value = parseQemuInteger(text);
  if (value === undefined || value > max) throw new CommandLineError(`${key}=${text}: invalid value`);
  return value;
}

function all(value: unknown): string[] {
  if (value === undefined) return [];
  return (Array.isArray(value) ? value : [value]).map(String);
}

/** The last occurrence wins for flags given more than once, as in QEMU; an empty value is an error. */
function last(value: unknown, flag: string): string | undefined {
  const values = all(value);
  if (values.length === 0) return undefined;
  const v = values[values.length - 1];
  if (v === "") throw new CommandLineError(`-${flag}: requires an argument`);
  return v;
}

export const HELP_TEXT = `usage: tsqemu [options]

A software x86 PC used like qemu-system-x86_64. For example, boot Linux with its console on stdio:
  tsqemu -kernel bzImage -initrd initrd.gz -append console=ttyS0
With neither -kernel nor -bios, tsqemu runs its built-in demo guest (a ROM that echoes what you type).

Standard options:
-h or -help            display this help and exit
-version               display version information and exit
-machine [type=]name[,accel=tcg]
                       the machine: pc (default) or isapc; -machine help lists them (also -M)
-m [size=]megs         guest RAM size (default 128M); suffixes K, M, G
-smp 1                 one vCPU (the only count for now)
-accel tcg             the accelerator: tcg (the software CPU) is the only one
-bios file             firmware ROM image, run from the reset vector
-rtc base=utc|localtime|date
                       what the RTC shows at start: now in UTC (default), now in local time, or a
                       date as 2006-06-17T16:01:21 or 2006-06-17
-icount [shift=]N      guest time from retired instructions, 2^N ns each (0-10), for reproducible
                       runs; idle time is skipped (QEMU's sleep=off). Default: the host clock
-no-reboot             exit (status 0) instead of rebooting on a reset (keyboard controller,
                       port 0x92, triple fault)

Direct kernel boot (no firmware needed):
-kernel bzImage        a Linux bzImage or a multiboot kernel, started directly
-append cmdline        the kernel command line
-initrd file           Linux: the initial ram disk
-initrd "file1 args,file2"
                       multiboot: the modules, each with its string

Display and character devices:
-nographic             no display; serial port multiplexed on stdio (Ctrl-A x quits)
-display none          accepted; tsqemu has no display
-serial dev            COM1 backend: stdio, mon:stdio, file:PATH, none (default: stdio)
-debugcon dev          the isa-debugcon port (0xe9): stdio, file:PATH, none
-global isa-debugcon.iobase=PORT
                       move the debugcon port

Block devices (raw images):
-drive file=PATH,if=virtio,format=raw[,readonly=on][,serial=S][,snapshot=on]
                       a virtio-blk-pci disk (cache=, discard=, aio= are accepted)
-drive file=PATH,if=none,id=ID,format=raw[,...]
                       a disk for -device virtio-blk-pci|virtio-blk-device,drive=ID
-snapshot              every drive writes to a copy-on-write overlay in memory; images are not changed

Network, character and entropy backends:
-netdev socket,id=ID,listen=[HOST]:PORT | connect=HOST:PORT
                       QEMU's socket netdev: Ethernet frames over TCP (interoperates with QEMU)
-netdev tap,id=ID,ifname=NAME[,script=no,downscript=no]
                       a host TAP interface, set up beforehand
-chardev stdio,id=ID   the terminal (COM1 then leaves stdio unless -serial says otherwise)
-chardev socket,id=ID,path=PATH,server=on,wait=off
                       a Unix socket server; one client at a time
-chardev null,id=ID    output dropped, no input
-object rng-random,id=ID,filename=/dev/urandom | rng-builtin,id=ID
                       where virtio-rng gets its bytes (default: the host's CSPRNG)

Devices (-pci: a PCI function on the pc machine; -device: virtio-mmio at 0xfeb00000 + n * 0x200, ISA IRQs
5, 6, 7, 3, 14, 15, described in the ACPI DSDT, or with isapc or acpi=off in -append given to Linux as
virtio_mmio.device=512@ADDRESS:IRQ):
-device virtio-blk-pci|virtio-blk-device,drive=ID[,serial=S]
-device virtio-net-pci|virtio-net-device,netdev=ID[,mac=52:54:00:12:34:56]
-device virtio-serial-pci|virtio-serial-device[,id=ID] -device virtconsole,chardev=ID
                       a virtio console (hvc0 in Linux) on a chardev
-device virtio-rng-pci|virtio-rng-device[,rng=ID]
                       the -pci models also take addr=SLOT (2-31; the next free slot by default)
-device isa-debug-exit[,iobase=PORT][,iosize=SIZE]
                       a write of v exits tsqemu with status (v << 1) | 1

During emulation, on a terminal:
Ctrl-A x    exit          Ctrl-A h    this help      Ctrl-A Ctrl-A    send Ctrl-A
A status line (time, instructions, MIPS) shows on the terminal while the guest is silent.
`;

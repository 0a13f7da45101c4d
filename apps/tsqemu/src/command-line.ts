import yargsParser from "yargs-parser";
import { parseQemuInteger, parseQemuOpts, parseSize } from "./qemu-opts.js";

/** Where a character device's bytes go (QEMU's -serial/-debugcon backends). */
export type CharBackend = { kind: "stdio"; mux: boolean } | { kind: "file"; path: string } | { kind: "none" };

/** What a tsqemu command line asks for, parsed and validated. */
export interface TsqemuOptions {
  memoryBytes: number;
  /** The firmware image path, or undefined for the built-in demo guest. */
  bios: string | undefined;
  serial: CharBackend;
  debugcon: CharBackend;
  debugconIobase: number;
  debugExit: { iobase: number; iosize: number } | undefined;
  noReboot: boolean;
  nographic: boolean;
}

export type ParsedCommandLine =
  | { action: "run"; options: TsqemuOptions }
  | { action: "help" }
  | { action: "version" }
  | { action: "error"; message: string };

const BOOLEAN_FLAGS = ["nographic", "no-reboot", "version", "help", "h"];
const VALUE_FLAGS = ["m", "bios", "serial", "device", "accel", "display", "debugcon", "global"];
const DEFAULT_MEMORY = 128 * 2 ** 20;

export class CommandLineError extends Error {}

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
    const positional = parsed._.map(String);
    if (positional.length > 0) {
      throw new CommandLineError(`${positional[0]}: disk images are not supported yet (use -bios FILE)`);
    }
    return { action: "run", options: toOptions(parsed) };
  } catch (e) {
    if (e instanceof CommandLineError) return { action: "error", message: e.message };
    throw e;
  }
}

function toOptions(parsed: yargsParser.Arguments): TsqemuOptions {
  const nographic = parsed.nographic === true;
  const memory = last(parsed.m, "m");
  const memoryBytes = memory === undefined ? DEFAULT_MEMORY : parseMemory(memory);
  for (const accel of all(parsed.accel)) {
    const name = parseQemuOpts(accel, "accel").get("accel");
    if (name === "kvm" || name === "hvf" || name === "whpx") {
      throw new CommandLineError(`-accel ${name}: hardware acceleration is not available; use -accel tcg`);
    }
    if (name !== "tcg") throw new CommandLineError(`-accel ${accel}: invalid accelerator ${name}`);
  }
  for (const display of all(parsed.display)) {
    if (parseQemuOpts(display, "type").get("type") !== "none") {
      throw new CommandLineError(
        `-display ${display}: tsqemu has no display; only -display none is accepted`,
      );
    }
  }
  let debugExit: TsqemuOptions["debugExit"];
  for (const device of all(parsed.device)) {
    const opts = parseQemuOpts(device, "driver");
    const driver = opts.get("driver");
    if (driver !== "isa-debug-exit") throw new CommandLineError(`-device ${driver}: unsupported device`);
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
  const serialText = last(parsed.serial, "serial");
  const serial =
    serialText !== undefined
      ? parseCharBackend(serialText, "-serial")
      : ({ kind: "stdio", mux: nographic } as const);
  const debugconText = last(parsed.debugcon, "debugcon");
  const debugcon =
    debugconText !== undefined ? parseCharBackend(debugconText, "-debugcon") : ({ kind: "none" } as const);
  return {
    memoryBytes,
    bios: last(parsed.bios, "bios"),
    serial,
    debugcon,
    debugconIobase,
    debugExit,
    noReboot: parsed["no-reboot"] === true,
    nographic,
  };
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

With no -bios, tsqemu runs its built-in demo guest (a ROM that echoes what you type).

Standard options:
-h or -help            display this help and exit
-version               display version information and exit
-m [size=]megs         guest RAM size (default 128M); suffixes K, M, G
-accel tcg             the accelerator: tcg (the software CPU) is the only one
-bios file             firmware ROM image, run from the reset vector
-no-reboot             exit instead of rebooting on a triple fault

Display and character devices:
-nographic             no display; serial port multiplexed on stdio (Ctrl-A x quits)
-display none          accepted; tsqemu has no display
-serial dev            COM1 backend: stdio, mon:stdio, file:PATH, none (default: stdio)
-debugcon dev          the isa-debugcon port (0xe9): stdio, file:PATH, none
-global isa-debugcon.iobase=PORT
                       move the debugcon port

Devices:
-device isa-debug-exit[,iobase=PORT][,iosize=SIZE]
                       a write of v exits tsqemu with status (v << 1) | 1

During emulation, on a terminal:
Ctrl-A x    exit          Ctrl-A h    this help      Ctrl-A Ctrl-A    send Ctrl-A
`;

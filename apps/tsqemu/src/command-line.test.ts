import { describe, expect, it } from "vitest";
import { parseCommandLine, type TsqemuOptions } from "./index.js";

function options(...argv: string[]): TsqemuOptions {
  const parsed = parseCommandLine(argv);
  if (parsed.action !== "run") throw new Error(`expected run, got ${JSON.stringify(parsed)}`);
  return parsed.options;
}

function error(...argv: string[]): string {
  const parsed = parseCommandLine(argv);
  if (parsed.action !== "error") throw new Error(`expected an error, got ${JSON.stringify(parsed)}`);
  return parsed.message;
}

describe("parseCommandLine", () => {
  it("has QEMU's defaults: 128 MiB, the demo guest, serial on stdio", () => {
    expect(options()).toEqual({
      memoryBytes: 128 * 2 ** 20,
      bios: undefined,
      serial: { kind: "stdio", mux: false },
      debugcon: { kind: "none" },
      debugconIobase: 0xe9,
      debugExit: undefined,
      noReboot: false,
      nographic: false,
    });
  });

  it("takes the flags of the reference command line", () => {
    const o = options(
      "-m",
      "64M",
      "-bios",
      "rom.bin",
      "-nographic",
      "-serial",
      "stdio",
      "-no-reboot",
      "-accel",
      "tcg",
      "-device",
      "isa-debug-exit,iobase=0xf4,iosize=0x04",
    );
    expect(o).toMatchObject({
      memoryBytes: 64 * 2 ** 20,
      bios: "rom.bin",
      nographic: true,
      noReboot: true,
      serial: { kind: "stdio", mux: false },
      debugExit: { iobase: 0xf4, iosize: 4 },
    });
    expect(options("--m", "1G", "--nographic").memoryBytes).toBe(2 ** 30);
  });

  it("parses -m like QEMU: megabytes by default, suffixes, size=", () => {
    expect(options("-m", "256").memoryBytes).toBe(256 * 2 ** 20);
    expect(options("-m", "size=2G").memoryBytes).toBe(2 * 2 ** 30);
    expect(options("-m", "1.5G").memoryBytes).toBe(1.5 * 2 ** 30);
    expect(options("-m", "512k").memoryBytes).toBe(512 * 1024);
    expect(error("-m", "lots")).toMatch(/invalid RAM size/);
    expect(error("-m", "0")).toMatch(/invalid RAM size/);
    expect(error("-m", "64,slots=2")).toMatch(/unsupported option slots/);
  });

  it("uses QEMU's isa-debug-exit defaults and validates its properties", () => {
    expect(options("-device", "isa-debug-exit").debugExit).toEqual({ iobase: 0x501, iosize: 2 });
    expect(error("-device", "isa-debug-exit,iobase=0x10000")).toMatch(/invalid value/);
    expect(error("-device", "e1000")).toMatch(/unsupported device/);
  });

  it("routes -nographic's serial through the Ctrl-A multiplexer, and accepts other backends", () => {
    expect(options("-nographic").serial).toEqual({ kind: "stdio", mux: true });
    expect(options("-serial", "mon:stdio").serial).toEqual({ kind: "stdio", mux: true });
    expect(options("-serial", "file:/tmp/x").serial).toEqual({ kind: "file", path: "/tmp/x" });
    expect(options("-serial", "none").serial).toEqual({ kind: "none" });
    expect(error("-serial", "tcp:1234")).toMatch(/unsupported backend/);
    expect(options("-debugcon", "stdio", "-global", "isa-debugcon.iobase=0x402")).toMatchObject({
      debugcon: { kind: "stdio" },
      debugconIobase: 0x402,
    });
  });

  it("answers -help, -h and -version", () => {
    expect(parseCommandLine(["-help"])).toEqual({ action: "help" });
    expect(parseCommandLine(["-h"])).toEqual({ action: "help" });
    expect(parseCommandLine(["-version"])).toEqual({ action: "version" });
  });

  it("rejects unknown flags, missing values, KVM and images with a clear message", () => {
    expect(error("-frobnicate")).toBe("-frobnicate: invalid option");
    expect(error("-bios")).toMatch(/requires an argument/);
    expect(error("-accel", "kvm")).toMatch(/use -accel tcg/);
    expect(error("-display", "gtk")).toMatch(/no display/);
    expect(error("disk.img")).toMatch(/not supported yet/);
  });
});

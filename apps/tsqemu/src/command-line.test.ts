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
  it("has QEMU's defaults: the pc machine, 128 MiB, the host clock, the demo guest, serial on stdio", () => {
    expect(options()).toEqual({
      machine: "pc",
      memoryBytes: 128 * 2 ** 20,
      bios: undefined,
      kernel: undefined,
      icountShift: undefined,
      rtcBase: "utc",
      serial: { kind: "stdio", mux: false },
      debugcon: { kind: "none" },
      debugconIobase: 0xe9,
      debugExit: undefined,
      noReboot: false,
      nographic: false,
      virtio: [],
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
    expect(error("-device", "e1000")).toMatch(/not a valid device model name/);
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

  it("takes -kernel, -initrd and -append, which QEMU allows only together with -kernel", () => {
    expect(options("-kernel", "bzImage").kernel).toEqual({ path: "bzImage", initrd: undefined, cmdline: "" });
    expect(
      options("-kernel", "bzImage", "-initrd", "a.img,b.img", "-append", "console=ttyS0 acpi=off").kernel,
    ).toEqual({ path: "bzImage", initrd: "a.img,b.img", cmdline: "console=ttyS0 acpi=off" });
    expect(options("-kernel", "k", "-append", "").kernel?.cmdline).toBe("");
    expect(error("-initrd", "initrd.gz")).toBe("-initrd only allowed with -kernel option");
    expect(error("-append", "quiet")).toBe("-append only allowed with -kernel option");
    expect(error("-kernel")).toMatch(/requires an argument/);
  });

  it("selects the machine type with -machine or -M, and lists the types", () => {
    expect(options("-machine", "isapc").machine).toBe("isapc");
    expect(options("-M", "isapc").machine).toBe("isapc");
    expect(options("-machine", "type=pc,accel=tcg").machine).toBe("pc");
    expect(options("-machine", "pc-i440fx-8.2").machine).toBe("pc");
    expect(options("-machine", "isapc", "-machine", "pc").machine).toBe("pc");
    expect(options("-machine", "accel=tcg").machine).toBe("pc");
    expect(parseCommandLine(["-machine", "help"])).toEqual({ action: "machine-help" });
    expect(parseCommandLine(["-M", "?"])).toEqual({ action: "machine-help" });
    expect(error("-machine", "q35")).toMatch(/unsupported machine type q35/);
    expect(error("-machine", "pc,accel=kvm")).toMatch(/use -accel tcg/);
    expect(error("-machine", "pc,usb=on")).toMatch(/unsupported property usb/);
  });

  it("takes -icount shift=N for guest time from instructions, -rtc base= and -smp 1", () => {
    expect(options("-icount", "shift=0").icountShift).toBe(0);
    expect(options("-icount", "3").icountShift).toBe(3);
    expect(options("-icount", "shift=2,sleep=off").icountShift).toBe(2);
    expect(error("-icount", "shift=auto")).toMatch(/not supported/);
    expect(error("-icount", "shift=11")).toMatch(/shift must be 0-10/);
    expect(error("-icount", "shift=1,sleep=on")).toMatch(/only sleep=off/);
    expect(error("-icount", "shift=1,rr=record")).toMatch(/unsupported option rr/);
    expect(options("-rtc", "base=localtime").rtcBase).toBe("localtime");
    expect(options("-rtc", "base=2006-06-17T16:01:21,clock=vm").rtcBase).toEqual(
      new Date("2006-06-17T16:01:21Z"),
    );
    expect(options("-rtc", "base=2020-02-29").rtcBase).toEqual(new Date("2020-02-29T00:00:00Z"));
    expect(error("-rtc", "base=2021-02-29")).toMatch(/invalid date/);
    expect(error("-rtc", "base=2021-01-01T24:00:00")).toMatch(/invalid date/);
    expect(error("-rtc", "base=utc,clock=host")).toMatch(/clock=vm/);
    expect(options("-smp", "1").machine).toBe("pc");
    expect(options("-smp", "cpus=1,cores=1").machine).toBe("pc");
    expect(error("-smp", "2")).toMatch(/one vCPU/);
    expect(error("-enable-kvm")).toMatch(/use -accel tcg/);
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
    expect(error("disk.img")).toMatch(/no IDE disk; use -drive file=disk.img,format=raw,if=virtio/);
  });
});

import { describe, expect, it } from "vitest";
import {
  parseCpuInfo,
  parseMemTotalGiB,
  parseProcStatCpuTicks,
  parseQemuVersion,
  processCpuSeconds,
} from "./host-info.js";

describe("host information parsers", () => {
  it("reads the CPU model and counts the processors of /proc/cpuinfo", () => {
    const cpuinfo = [
      "processor\t: 0",
      "vendor_id\t: AuthenticAMD",
      "model name\t: AMD EPYC 7B13",
      "",
      "processor\t: 1",
      "model name\t: AMD EPYC 7B13",
      "",
    ].join("\n");
    expect(parseCpuInfo(cpuinfo)).toEqual({ model: "AMD EPYC 7B13", cores: 2 });
    expect(parseCpuInfo("")).toEqual({ model: "unknown CPU", cores: 0 });
  });

  it("reads MemTotal in GiB", () => {
    expect(parseMemTotalGiB("MemTotal:       24684084 kB\nMemFree: 1 kB\n")).toBe(24);
    expect(parseMemTotalGiB("nothing")).toBe(0);
  });

  it("reads QEMU's version line", () => {
    expect(
      parseQemuVersion(
        "QEMU emulator version 7.2.22 (Debian 1:7.2+dfsg-7+deb12u18+b3)\nCopyright (c) 2003-2022 Fabrice Bellard",
      ),
    ).toBe("7.2.22 (Debian 1:7.2+dfsg-7+deb12u18+b3)");
    expect(parseQemuVersion("command not found")).toBeUndefined();
  });

  it("reads a process's user and system ticks, whatever its command name holds", () => {
    const stat = "4242 (node (worker) x) S 1 4242 4242 0 -1 4194560 500 0 0 0 1234 56 7 8 20 0 11 0 99 0";
    expect(parseProcStatCpuTicks(stat)).toBe(1290);
    expect(parseProcStatCpuTicks("")).toBeUndefined();
  });

  it("measures this process's CPU time", () => {
    const seconds = processCpuSeconds(process.pid);
    expect(seconds).toBeGreaterThan(0);
    expect(seconds).toBeLessThan(process.uptime() * 4 + 1);
  });
});

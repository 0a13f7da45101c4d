// What a benchmark section records about the machine and the software it compared.
import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { loadavg } from "node:os";

export interface MachineInfo {
  /** /proc/cpuinfo's model name. */
  cpuModel: string;
  /** Logical processors in /proc/cpuinfo. */
  cores: number;
  memoryGiB: number;
  node: string;
}

/** The model name and the number of logical processors of a /proc/cpuinfo text. */
export function parseCpuInfo(text: string): { model: string; cores: number } {
  let model = "unknown CPU";
  let cores = 0;
  for (const line of text.split("\n")) {
    const colon = line.indexOf(":");
    if (colon < 0) continue;
    const key = line.slice(0, colon).trim();
    if (key === "processor") cores++;
    else if (key === "model name" && model === "unknown CPU") model = line.slice(colon + 1).trim();
  }
  return { model, cores };
}

/** MemTotal of a /proc/meminfo text in GiB, rounded to a whole number. */
export function parseMemTotalGiB(text: string): number {
  const match = /^MemTotal:\s+(\d+)\s+kB/m.exec(text);
  return match ? Math.round(Number(match[1]) / (1024 * 1024)) : 0;
}

/** "7.2.22 (Debian 1:7.2+dfsg-7+deb12u18+b3)" from the first line of `qemu-system-i386 --version`. */
export function parseQemuVersion(text: string): string | undefined {
  return /QEMU emulator version (.+)/.exec(text)?.[1]?.trim();
}

export function machineInfo(): MachineInfo {
  const cpu = parseCpuInfo(readText("/proc/cpuinfo"));
  return {
    cpuModel: cpu.model,
    cores: cpu.cores,
    memoryGiB: parseMemTotalGiB(readText("/proc/meminfo")),
    node: process.version,
  };
}

/**
 * User plus system CPU clock ticks of a process from its /proc/<pid>/stat line (fields 14 and 15; the
 * command name in parentheses may itself hold spaces and parentheses).
 */
export function parseProcStatCpuTicks(stat: string): number | undefined {
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  const utime = Number(fields[11]);
  const stime = Number(fields[12]);
  return Number.isInteger(utime) && Number.isInteger(stime) ? utime + stime : undefined;
}

/** CPU seconds a running process has used (all its threads), or undefined when /proc cannot tell. */
export function processCpuSeconds(pid: number): number | undefined {
  const ticks = parseProcStatCpuTicks(readText(`/proc/${pid}/stat`));
  const perSecond = Number(commandOutput("getconf", ["CLK_TCK"]) ?? 100);
  return ticks === undefined ? undefined : ticks / perSecond;
}

/** The 1-minute load average, which says how busy the shared machine was. */
export function loadAverage(): number {
  return loadavg()[0];
}

/** A command's first output line, or undefined when it cannot run. */
export function commandOutput(command: string, args: readonly string[]): string | undefined {
  try {
    return execFileSync(command, args, { encoding: "utf8", stdio: ["ignore", "pipe", "ignore"] }).trim();
  } catch {
    return undefined;
  }
}

/** The installed version of a Debian package, or undefined. */
export function debianPackageVersion(name: string): string | undefined {
  return commandOutput("dpkg-query", ["-W", `-f=${"$"}{Version}`, name]);
}

function readText(path: string): string {
  try {
    return readFileSync(path, "utf8");
  } catch {
    return "";
  }
}

// End to end: tsqemu as users run it, as a process with pipes.
import { spawn } from "node:child_process";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";

const MAIN = fileURLToPath(new URL("../src/main.node.ts", import.meta.url));

function tsqemu(
  args: string[],
  input = "",
): Promise<{ status: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ["--conditions=source", "--import", "tsx", MAIN, ...args], {
      stdio: ["pipe", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d) => (stdout += d));
    child.stderr.on("data", (d) => (stderr += d));
    child.on("error", reject);
    const timer = setTimeout(() => child.kill("SIGKILL"), 30_000);
    child.on("close", (status) => {
      clearTimeout(timer);
      resolve({ status, stdout, stderr });
    });
    child.stdin.end(input);
  });
}

/** A 64 KiB ROM: `code` at F000:0000, reset vector jumping to it. */
function rom(code: number[]): string {
  const image = new Uint8Array(0x10000).fill(0xf4);
  image.set(code);
  image.set([0xea, 0x00, 0x00, 0x00, 0xf0], 0xfff0);
  const dir = mkdtempSync(join(tmpdir(), "tsqemu-"));
  const path = join(dir, "rom.bin");
  writeFileSync(path, image);
  return path;
}

describe("tsqemu", () => {
  it("runs the built-in demo guest: banner, echo, and exit through isa-debug-exit", async () => {
    const { status, stdout } = await tsqemu([], "hello q");
    expect(stdout).toContain("tsvmm demo guest");
    expect(stdout).toContain('CPU vendor (from CPUID at run time): "GenuineIntel"');
    expect(stdout).toContain("> hello q");
    expect(stdout).toContain("received 7 bytes");
    expect(status).toBe(1); // (0 << 1) | 1, as QEMU's isa-debug-exit
  });

  it("runs a -bios image with QEMU's flags and exit status", async () => {
    // mov al,0x2a; out 0xf4,al
    const path = rom([0xb0, 0x2a, 0xe6, 0xf4]);
    const { status } = await tsqemu([
      "-m",
      "32M",
      "-bios",
      path,
      "-nographic",
      "-device",
      "isa-debug-exit,iobase=0xf4,iosize=0x04",
      "-accel",
      "tcg",
    ]);
    expect(status).toBe((0x2a << 1) | 1);
  });

  it("exits 0 on a triple fault with -no-reboot", async () => {
    // lidt [cs:0x10] (a zero limit), int3: every delivery faults.
    const code = [0x2e, 0x0f, 0x01, 0x1e, 0x10, 0x00, 0xcc];
    const path = rom([...code, ...new Array(0x10 - code.length).fill(0x90), 0, 0, 0, 0, 0, 0]);
    const { status } = await tsqemu(["-bios", path, "-no-reboot", "-serial", "none"]);
    expect(status).toBe(0);
  });

  it("writes -debugcon output and serial output to files", async () => {
    // out 0xe9 'D'; mov dx,0x3f8; mov al,'S'; out dx,al; out 0xf4, 0
    const path = rom([0xb0, 0x44, 0xe6, 0xe9, 0xba, 0xf8, 0x03, 0xb0, 0x53, 0xee, 0xb0, 0x00, 0xe6, 0xf4]);
    const dir = mkdtempSync(join(tmpdir(), "tsqemu-out-"));
    const { status } = await tsqemu([
      "-bios",
      path,
      "-serial",
      `file:${join(dir, "serial.txt")}`,
      "-debugcon",
      `file:${join(dir, "debugcon.txt")}`,
      "-device",
      "isa-debug-exit,iobase=0xf4,iosize=1",
    ]);
    expect(status).toBe(1);
    expect(readFileSync(join(dir, "serial.txt"), "utf8")).toBe("S");
    expect(readFileSync(join(dir, "debugcon.txt"), "utf8")).toBe("D");
  });

  it("fails cleanly on bad flags, missing files and bad images", async () => {
    const bad = await tsqemu(["-frobnicate"]);
    expect(bad.status).toBe(1);
    expect(bad.stderr).toContain("-frobnicate: invalid option");
    const missing = await tsqemu(["-bios", "/nonexistent/rom"]);
    expect(missing.status).toBe(1);
    expect(missing.stderr).toContain("could not load PC BIOS");
    const dir = mkdtempSync(join(tmpdir(), "tsqemu-bad-"));
    writeFileSync(join(dir, "short.rom"), new Uint8Array(1000));
    const short = await tsqemu(["-bios", join(dir, "short.rom")]);
    expect(short.status).toBe(1);
    expect(short.stderr).toContain("multiple of 64 KiB");
  });

  it("reports what the CPU cannot emulate instead of hanging", async () => {
    const path = rom([0xea, 0x00, 0x00, 0x00, 0xa0]); // jmp far A000:0000: code in the VGA window, no RAM
    const { status, stderr } = await tsqemu(["-bios", path, "-serial", "none"]);
    expect(status).toBe(1);
    expect(stderr).toMatch(/internal error: instruction fetch from non-RAM/);
  });
});

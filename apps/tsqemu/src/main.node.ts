#!/usr/bin/env node
// tsqemu's command-line entry point (node-only: files, stdio, process exit status).
import { closeSync, openSync, readFileSync, writeSync } from "node:fs";
import process from "node:process";
import { PassThrough, Writable } from "node:stream";
import { fileURLToPath } from "node:url";
import {
  BootImageError,
  buildPc,
  kernelFormat,
  MachineConfigError,
  type MachineExit,
  type PcKernelConfig,
  type PcMachine,
  splitMultibootModuleList,
} from "@tsvmm/vmm-core";
import {
  type CharBackend,
  HELP_TEXT,
  type KernelOptions,
  MACHINE_HELP_TEXT,
  parseCommandLine,
  type TsqemuOptions,
} from "./command-line.js";
import { CommandLineError } from "./command-line-error.js";
import { ESCAPE_HELP, EscapeKeys } from "./escape-keys.js";
import { openStatsFile, STATS_FILE_ENV, type StatsFile } from "./stats-file.node.js";
import { formatStatus, StatusLine, type StatusSample } from "./status-line.js";
import { VERSION_TEXT } from "./version.js";
import { type OpenedVirtioDevices, openVirtioDevices } from "./virtio-backends.node.js";

const DEMO_ROM = fileURLToPath(new URL("../guests/demo.rom", import.meta.url));

/** Bytes for stdout are collected and written in batches, not one syscall per guest byte. */
class BufferedOutput {
  private chunks: number[] = [];
  private scheduled = false;
  /** `beforeWrite` sees each batch first (the status line erases itself there). */
  constructor(
    private readonly fd: number,
    private readonly beforeWrite?: (data: Uint8Array) => void,
  ) {}
  write(byte: number): void {
    this.chunks.push(byte);
    if (!this.scheduled) {
      this.scheduled = true;
      setImmediate(() => this.flush());
    }
  }
  writeBytes(bytes: Uint8Array): void {
    for (const byte of bytes) this.write(byte);
  }
  flush(): void {
    this.scheduled = false;
    if (this.chunks.length === 0) return;
    const data = Uint8Array.from(this.chunks);
    this.chunks = [];
    this.beforeWrite?.(data);
    let offset = 0;
    while (offset < data.length) {
      try {
        offset += writeSync(this.fd, data, offset);
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== "EAGAIN") throw e;
      }
    }
  }
}

function fail(message: string): never {
  process.stderr.write(`tsqemu: ${message}\n`);
  process.exit(1);
}

function openBackend(
  backend: CharBackend,
  stdout: BufferedOutput,
): { write(byte: number): void; close(): void } | undefined {
  switch (backend.kind) {
    case "none":
      return undefined;
    case "stdio":
      return { write: (b) => stdout.write(b), close: () => stdout.flush() };
    case "file": {
      let fd: number;
      try {
        fd = openSync(backend.path, "w");
      } catch (e) {
        fail(`could not open ${backend.path}: ${(e as Error).message}`);
      }
      const out = new BufferedOutput(fd);
      return {
        write: (b) => out.write(b),
        close: () => {
          out.flush();
          closeSync(fd);
        },
      };
    }
  }
}

function exitStatus(exit: MachineExit): number {
  switch (exit.kind) {
    case "debug-exit":
      return exit.status & 0xff;
    case "error":
      process.stderr.write(`tsqemu: ${exit.message}\n`);
      return 1;
    case "poweroff": // the guest powered off (ACPI S5), as QEMU exits
    case "shutdown": // a reset with -no-reboot
    case "stopped": // Ctrl-A x, a signal
      return 0;
  }
}

function readInput(path: string, what: string): Uint8Array {
  try {
    return new Uint8Array(readFileSync(path));
  } catch (e) {
    fail(`could not load ${what} '${path}': ${(e as Error).message}`);
  }
}

/** -kernel/-initrd/-append as QEMU reads them: -initrd is one file for Linux, a module list for multiboot. */
function loadKernel(kernel: KernelOptions): PcKernelConfig {
  const image = readInput(kernel.path, "kernel");
  if (kernel.initrd === undefined) return { image, cmdline: kernel.cmdline };
  if (kernelFormat(image) === "multiboot") {
    const modules = splitMultibootModuleList(kernel.initrd).map((module) => ({
      data: readInput(module.path, "multiboot module"),
      string: module.string,
    }));
    return { image, modules, cmdline: kernel.cmdline };
  }
  return { image, initrd: readInput(kernel.initrd, "initial ram disk"), cmdline: kernel.cmdline };
}

function rtcStartTime(base: TsqemuOptions["rtcBase"]): Date {
  if (base instanceof Date) return base;
  const now = new Date();
  // The RTC shows its start time's UTC fields, so local time is UTC shifted by the zone's offset.
  return base === "utc" ? now : new Date(now.getTime() - now.getTimezoneOffset() * 60_000);
}

function sampleStatus(pc: PcMachine, startMs: number): StatusSample {
  let instructions = 0;
  let halted = true;
  for (const vcpu of pc.vm.listVcpus()) {
    instructions += vcpu.instructionCount;
    halted &&= vcpu.halted;
  }
  return { elapsedMs: performance.now() - startMs, instructions, guestNs: pc.vm.clock.nowNs(), halted };
}

async function main(argv: string[]): Promise<number> {
  const command = parseCommandLine(argv);
  if (command.action === "help") {
    process.stdout.write(HELP_TEXT);
    return 0;
  }
  if (command.action === "version") {
    process.stdout.write(VERSION_TEXT);
    return 0;
  }
  if (command.action === "machine-help") {
    process.stdout.write(MACHINE_HELP_TEXT);
    return 0;
  }
  if (command.action === "error") fail(command.message);
  for (const warning of command.warnings) process.stderr.write(`tsqemu: warning: ${warning}\n`);
  const options: TsqemuOptions = command.options;
  // With neither firmware nor a kernel, the built-in demo guest runs.
  const demo = options.bios === undefined && options.kernel === undefined;
  const biosPath = options.bios ?? (demo ? DEMO_ROM : undefined);
  const firmware = biosPath === undefined ? undefined : readInput(biosPath, "PC BIOS");
  const kernel = options.kernel === undefined ? undefined : loadKernel(options.kernel);
  // The demo guest ends through isa-debug-exit at 0xf4, as its README documents.
  const debugExit = options.debugExit ?? (demo ? { iobase: 0xf4, iosize: 4 } : undefined);

  // The status line needs a terminal on both streams: it shares the screen with the guest's output.
  const startMs = performance.now();
  const status =
    process.stdout.isTTY === true && process.stderr.isTTY === true
      ? new StatusLine(
          { write: (text) => writeSync(2, text), columns: () => process.stderr.columns || 80 },
          startMs,
        )
      : undefined;
  const stdout = new BufferedOutput(1, status && ((data) => status.beforeOutput(data, performance.now())));
  const serialOut = openBackend(options.serial, stdout);
  const debugconOut = openBackend(options.debugcon, stdout);
  // A -chardev stdio (a virtio console) gets the terminal through tsqemu's escape keys and buffered output.
  const chardevInput = new PassThrough();
  const chardevOutput = new Writable({
    write(chunk: Buffer, _encoding, done) {
      stdout.writeBytes(chunk);
      done();
    },
  });
  let virtio: OpenedVirtioDevices;
  try {
    virtio = await openVirtioDevices(options.virtio, { input: chardevInput, output: chardevOutput });
  } catch (e) {
    if (e instanceof CommandLineError) fail(e.message);
    throw e;
  }
  let pc: PcMachine;
  try {
    pc = buildPc({
      machineType: options.machine,
      memoryBytes: options.memoryBytes,
      firmware,
      kernel,
      clock:
        options.icountShift === undefined
          ? { mode: "host" }
          : { mode: "instructions", nsPerInstruction: 2 ** options.icountShift },
      rtcStartTime: rtcStartTime(options.rtcBase),
      serial: serialOut && { transmit: (b) => serialOut.write(b) },
      debugCon: debugconOut && { iobase: options.debugconIobase, write: (b) => debugconOut.write(b) },
      debugExit,
      noReboot: options.noReboot,
      virtio: virtio.devices,
      onVirtioError: (name, reason) => process.stderr.write(`tsqemu: ${name}: ${reason}\n`),
    });
  } catch (e) {
    await virtio.close();
    if (e instanceof MachineConfigError) fail(e.message);
    if (e instanceof BootImageError) fail(`could not load kernel '${options.kernel?.path}': ${e.message}`);
    throw e;
  }

  // Exit statistics on request (TSQEMU_STATS_FILE): for benchmarks that count exits around a guest's step.
  const statsPath = process.env[STATS_FILE_ENV];
  let stats: StatsFile | undefined;
  if (statsPath !== undefined && statsPath !== "") {
    try {
      stats = openStatsFile(
        statsPath,
        {
          vmStats: () => pc.vm.getStats(),
          machineStats: () => ({ ...pc.machine.stats }),
          guestNs: () => pc.vm.clock.nowNs(),
        },
        startMs,
      );
    } catch (e) {
      await virtio.close();
      fail(`${STATS_FILE_ENV}: could not open '${statsPath}': ${(e as Error).message}`);
    }
  }

  const stdin = process.stdin;
  const serialOnStdin = options.serial.kind === "stdio";
  const usesStdin =
    serialOnStdin || options.virtio.some((d) => d.kind === "console" && d.chardev?.kind === "stdio");
  const raw = usesStdin && stdin.isTTY === true;
  const escapes = new EscapeKeys();
  if (usesStdin) {
    if (raw) stdin.setRawMode(true);
    stdin.on("data", (chunk: Buffer) => {
      const bytes = raw
        ? escapes.feed(chunk, (action) => {
            if (action === "quit") pc.machine.requestExit({ kind: "stopped" });
            else if (action === "help") {
              stdout.flush();
              status?.clear();
              process.stdout.write(ESCAPE_HELP);
            }
          })
        : new Uint8Array(chunk);
      if (bytes.length === 0) return;
      if (serialOnStdin) pc.sendSerialInput(bytes);
      else chardevInput.write(bytes);
    });
    stdin.on("error", () => undefined);
  }
  const onSignal = () => pc.machine.requestExit({ kind: "stopped" });
  process.on("SIGINT", onSignal);
  process.on("SIGTERM", onSignal);

  let previousSample: StatusSample | undefined;
  const statusTimer =
    status &&
    setInterval(() => {
      const sample = sampleStatus(pc, startMs);
      status.update(formatStatus(sample, previousSample), performance.now());
      previousSample = sample;
    }, 500);

  const exit = await pc.run();
  stats?.close();
  // What the guest wrote reaches the disks before tsqemu exits; sockets and socket files are released.
  await virtio.close();

  if (statusTimer) clearInterval(statusTimer);
  if (raw) stdin.setRawMode(false);
  stdin.pause();
  serialOut?.close();
  debugconOut?.close();
  stdout.flush();
  status?.clear();
  if (exit.kind === "stopped" && raw) process.stderr.write("tsqemu: terminating on request\n");
  return exitStatus(exit);
}

main(process.argv.slice(2)).then(
  (status) => process.exit(status),
  (e: unknown) => {
    process.stderr.write(`tsqemu: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
    process.exit(1);
  },
);

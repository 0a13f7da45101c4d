#!/usr/bin/env node
// tsqemu's command-line entry point (node-only: files, stdio, process exit status).
import { closeSync, openSync, readFileSync, writeSync } from "node:fs";
import process from "node:process";
import { fileURLToPath } from "node:url";
import { buildPc, MachineConfigError, type MachineExit } from "@tsvmm/vmm-core";
import { type CharBackend, HELP_TEXT, parseCommandLine, type TsqemuOptions } from "./command-line.js";
import { ESCAPE_HELP, EscapeKeys } from "./escape-keys.js";
import { VERSION_TEXT } from "./version.js";

const DEMO_ROM = fileURLToPath(new URL("../guests/demo.rom", import.meta.url));

/** Bytes for stdout are collected and written in batches, not one syscall per guest byte. */
class BufferedOutput {
  private chunks: number[] = [];
  private scheduled = false;
  constructor(private readonly fd: number) {}
  write(byte: number): void {
    this.chunks.push(byte);
    if (!this.scheduled) {
      this.scheduled = true;
      setImmediate(() => this.flush());
    }
  }
  flush(): void {
    this.scheduled = false;
    if (this.chunks.length === 0) return;
    const data = Uint8Array.from(this.chunks);
    this.chunks = [];
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
    default:
      return 0;
  }
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
  if (command.action === "error") fail(command.message);
  const options: TsqemuOptions = command.options;
  const demo = options.bios === undefined;
  const biosPath = options.bios ?? DEMO_ROM;
  let firmware: Uint8Array;
  try {
    firmware = new Uint8Array(readFileSync(biosPath));
  } catch (e) {
    fail(`could not load PC BIOS '${biosPath}': ${(e as Error).message}`);
  }
  // The demo guest ends through isa-debug-exit at 0xf4, as its README documents.
  const debugExit = options.debugExit ?? (demo ? { iobase: 0xf4, iosize: 4 } : undefined);

  const stdout = new BufferedOutput(1);
  const serialOut = openBackend(options.serial, stdout);
  const debugconOut = openBackend(options.debugcon, stdout);
  let pc: ReturnType<typeof buildPc>;
  try {
    pc = buildPc({
      memoryBytes: options.memoryBytes,
      firmware,
      serial: serialOut && { transmit: (b) => serialOut.write(b) },
      debugCon: debugconOut && { iobase: options.debugconIobase, write: (b) => debugconOut.write(b) },
      debugExit,
      noReboot: options.noReboot,
    });
  } catch (e) {
    if (e instanceof MachineConfigError) fail(e.message);
    throw e;
  }

  const stdin = process.stdin;
  const usesStdin = options.serial.kind === "stdio";
  const raw = usesStdin && stdin.isTTY === true;
  const escapes = new EscapeKeys();
  if (usesStdin) {
    if (raw) stdin.setRawMode(true);
    stdin.on("data", (chunk: Buffer) => {
      const bytes = raw
        ? escapes.feed(chunk, (action) => {
            if (action === "quit") pc.machine.requestExit({ kind: "stopped" });
            else if (action === "help") process.stdout.write(ESCAPE_HELP);
          })
        : new Uint8Array(chunk);
      if (bytes.length > 0) pc.sendSerialInput(bytes);
    });
    stdin.on("error", () => undefined);
  }
  const onSignal = () => pc.machine.requestExit({ kind: "stopped" });
  process.on("SIGINT", onSignal);
  process.on("SIGTERM", onSignal);

  const exit = await pc.run();

  if (raw) stdin.setRawMode(false);
  stdin.pause();
  serialOut?.close();
  debugconOut?.close();
  stdout.flush();
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

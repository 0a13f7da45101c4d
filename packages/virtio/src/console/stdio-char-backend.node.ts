// A character backend on the process's standard streams (QEMU's `-chardev stdio`). It does not switch a terminal
// to raw mode: the application owns the terminal (escape keys, restoring it on exit) and does that itself.
import type { Readable, Writable } from "node:stream";
import type { CharBackend } from "./char-backend.js";

export interface StdioCharBackendOptions {
  /** Default process.stdin. */
  input?: Readable;
  /** Default process.stdout. */
  output?: Writable;
}

export class StdioCharBackend implements CharBackend {
  private readonly input: Readable;
  private readonly output: Writable;
  private receiver: ((bytes: Uint8Array) => void) | undefined;
  private readonly onChunk = (chunk: Buffer | string) => {
    this.receiver?.(typeof chunk === "string" ? new TextEncoder().encode(chunk) : new Uint8Array(chunk));
  };
  private readonly ignoreError = () => undefined;
  private closed = false;
  private attached = false;

  constructor(options: StdioCharBackendOptions = {}) {
    this.input = options.input ?? process.stdin;
    this.output = options.output ?? process.stdout;
    // An output that went away (a closed pipe) must not take the VM down.
    this.output.on("error", this.ignoreError);
  }

  write(bytes: Uint8Array): void {
    if (!this.closed && this.output.writable) this.output.write(bytes);
  }

  onData(receiver: ((bytes: Uint8Array) => void) | undefined): void {
    this.receiver = receiver;
    if (receiver && !this.closed) this.attachInput();
    else this.detachInput();
  }

  /** Stops reading input and leaves both streams open (they belong to the process). */
  async close(): Promise<void> {
    this.closed = true;
    this.receiver = undefined;
    this.detachInput();
    this.output.off("error", this.ignoreError);
  }

  private attachInput(): void {
    if (this.attached) return;
    this.attached = true;
    this.input.on("data", this.onChunk);
    this.input.on("error", this.ignoreError);
  }

  private detachInput(): void {
    if (!this.attached) return;
    this.attached = false;
    this.input.off("data", this.onChunk);
    this.input.off("error", this.ignoreError);
    // Without a data listener a paused stdin no longer keeps the process alive.
    this.input.pause();
  }
}

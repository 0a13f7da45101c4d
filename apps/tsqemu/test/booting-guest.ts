// A Linux guest booting in a tsqemu process, for the slow end-to-end tests (`pnpm test:linux`, `pnpm test:virtio`):
// its console so far, waits for what it prints (failing early on a panic or an exit), answers busybox's cursor
// queries as a terminal would, and reports progress every minute on stderr.
import type { GuestManifest } from "./linux-guest-manifest.js";
import { startTsqemu } from "./run-tsqemu.js";

export const MINUTE = 60_000;
/** The last line Linux prints when it panics. */
const PANIC_END = "---[ end Kernel panic";
/** busybox's line editor asks the terminal where the cursor is after printing the prompt (ESC [6n). */
const CURSOR_QUERY = "\x1b[6n";
/** What a terminal answers: row 1, column 8 (after the prompt). */
const CURSOR_REPORT = "\x1b[1;8R";

/** A tsqemu process booting a guest: its console output so far and ways to wait for it. */
export class BootingGuest {
  output = "";
  stderr = "";
  ended = false;
  readonly exited: Promise<number | null>;
  private readonly child: ReturnType<typeof startTsqemu>;
  private readonly waiters: Array<() => void> = [];
  private readonly progress: ReturnType<typeof setInterval>;
  readonly started = Date.now();

  /**
   * Starts `tsqemu args`. `prompt` is the guest shell's prompt (for command()); `tag` starts every progress line
   * (`[tag, label, seconds] ...`).
   */
  constructor(
    private readonly label: string,
    private readonly prompt: string,
    args: string[],
    private readonly tag = "linux boot",
  ) {
    this.child = startTsqemu(args);
    this.child.stdout.on("data", (chunk: Buffer) => {
      const before = this.output.length;
      this.output += chunk.toString("latin1");
      // Answer every cursor-position query the way a terminal does, or busybox's line editor waits for the answer
      // and takes the next typed line as it.
      let at = this.output.indexOf(CURSOR_QUERY, Math.max(0, before - CURSOR_QUERY.length + 1));
      while (at >= 0) {
        this.child.stdin.write(CURSOR_REPORT);
        at = this.output.indexOf(CURSOR_QUERY, at + CURSOR_QUERY.length);
      }
      this.notify();
    });
    this.child.stderr.on("data", (chunk: Buffer) => (this.stderr += chunk));
    this.exited = new Promise<number | null>((resolve) => this.child.on("close", resolve));
    void this.exited.then(() => {
      this.ended = true;
      this.notify();
    });
    // Progress for whoever runs this: the elapsed time and the console's last line, every minute.
    this.progress = setInterval(() => {
      const lastLine = this.output.trimEnd().split("\n").at(-1)?.slice(0, 100) ?? "";
      this.log(lastLine);
    }, MINUTE);
  }

  seconds(): number {
    return Math.round((Date.now() - this.started) / 1000);
  }

  log(message: string): void {
    process.stderr.write(`[${this.tag}, ${this.label}, ${this.seconds()} s] ${message}\n`);
  }

  type(line: string): number {
    const at = this.output.length;
    this.child.stdin.write(`${line}\n`);
    return at;
  }

  /**
   * Types `line` at the shell's next prompt after `from`, returning where its output starts. It waits for the line
   * editor's cursor-position query after the prompt (answered on arrival): a line typed before it would be read as
   * the answer.
   */
  async command(line: string, from: number): Promise<number> {
    await this.waitFor(this.prompt + CURSOR_QUERY, from, 2 * MINUTE);
    return this.type(line);
  }

  /** Resolves once the console output after `from` matches; fails (with the console's tail) at the deadline. */
  waitFor(pattern: RegExp | string, from: number, timeoutMs: number): Promise<number> {
    return new Promise<number>((resolve, reject) => {
      const deadline = setTimeout(() => {
        reject(new Error(`${this.label}: no ${String(pattern)} after ${timeoutMs / 1000} s; ${this.tail()}`));
      }, timeoutMs);
      const check = () => {
        const text = this.output.slice(from);
        const at = typeof pattern === "string" ? text.indexOf(pattern) : text.search(pattern);
        if (at >= 0) {
          clearTimeout(deadline);
          resolve(from + at);
        } else if (this.ended || this.output.includes(PANIC_END)) {
          // A panicked kernel never gets further: fail now, with the panic in the message.
          clearTimeout(deadline);
          const what = this.ended ? "tsqemu ended" : "the guest kernel panicked";
          reject(new Error(`${this.label}: ${what} before ${String(pattern)}; ${this.tail()}`));
        } else {
          this.waiters.push(check);
        }
      };
      check();
    });
  }

  /** tsqemu's exit status; fails if it has not ended within `timeoutMs`. */
  waitForExit(timeoutMs: number): Promise<number | null> {
    return new Promise((resolve, reject) => {
      const deadline = setTimeout(
        () =>
          reject(
            new Error(`${this.label}: tsqemu still running after ${timeoutMs / 1000} s; ${this.tail()}`),
          ),
        timeoutMs,
      );
      void this.exited.then((status) => {
        clearTimeout(deadline);
        resolve(status);
      });
    });
  }

  /** /proc/interrupts as the guest's shell prints it, asked at the prompt after `from`; returns it and its end. */
  async interrupts(from: number): Promise<{ text: string; end: number }> {
    const asked = await this.command("cat /proc/interrupts", from);
    // Its output ends at the next prompt (lines end in CR LF, so no pattern on a last line is needed).
    const end = await this.waitFor(this.prompt, asked, 2 * MINUTE);
    return { text: this.output.slice(asked, end), end };
  }

  /** Boots to the prompt, then has the shell compute `echo $((6*7))`; returns where the answer ends. */
  async bootToShell(guest: GuestManifest): Promise<number> {
    const booted = await this.waitFor(guest.markers.boot, 0, 25 * MINUTE);
    this.log(`${guest.markers.boot}`);
    const asked = await this.command("echo $((6*7))", booted);
    const answer = await this.waitFor(/\n42\r?\n/, asked, 2 * MINUTE);
    this.log("the shell answered 42");
    return answer + 3;
  }

  stop(): void {
    clearInterval(this.progress);
    if (!this.ended) this.child.kill("SIGKILL");
  }

  private notify(): void {
    for (const check of this.waiters.splice(0)) check();
  }

  /** The console's last 3000 characters and tsqemu's stderr, for failure messages. */
  tail(): string {
    return `console:\n${this.output.slice(-3000)}\n${this.stderr}`;
  }
}

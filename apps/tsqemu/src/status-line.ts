/** What the status line reports, sampled from the running machine. */
export interface StatusSample {
  /** Host milliseconds since the machine started. */
  elapsedMs: number;
  /** Guest instructions retired (all vCPUs). */
  instructions: number;
  /** Guest time in nanoseconds (the VM's clock). */
  guestNs: number;
  /** Every vCPU is halted (waiting for an interrupt). */
  halted: boolean;
}

/** The terminal the status line is drawn on. */
export interface StatusTerminal {
  write(text: string): void;
  /** Its width in columns; the line is cut to fit so it never wraps. */
  columns(): number;
}

const ERASE_LINE = "\r\x1b[K";
const LINE_FEED = 0x0a;

/** One status line: host time, instructions, speed since the previous sample, guest time, halt state. */
export function formatStatus(sample: StatusSample, previous: StatusSample | undefined): string {
  const seconds = (sample.elapsedMs / 1000).toFixed(1);
  const instructions = (sample.instructions / 1e6).toFixed(1);
  const spanMs = previous === undefined ? sample.elapsedMs : sample.elapsedMs - previous.elapsedMs;
  const executed = sample.instructions - (previous?.instructions ?? 0);
  const mips = spanMs > 0 ? (executed / spanMs / 1000).toFixed(1) : "0.0";
  const guest = (sample.guestNs / 1e9).toFixed(3);
  const state = sample.halted ? ", halted" : "";
  return `[tsqemu ${seconds} s] ${instructions} M instructions, ${mips} MIPS, guest time ${guest} s${state}`;
}

/**
 * A one-line status on a terminal, drawn only while the guest has been silent for `quietMs` and its output
 * ends at the start of a line, so it never splits or overwrites guest text: guest output erases it first,
 * and it comes back after the next quiet spell. The front end uses it only when stdout and stderr are
 * terminals, never on pipes or files.
 */
export class StatusLine {
  private shown = false;
  private atLineStart = true;
  private lastOutputMs: number;

  constructor(
    private readonly terminal: StatusTerminal,
    startMs: number,
    private readonly quietMs = 1000,
  ) {
    this.lastOutputMs = startMs;
  }

  get visible(): boolean {
    return this.shown;
  }

  /** Guest bytes are about to reach the terminal: the status line goes away first. */
  beforeOutput(bytes: Uint8Array, nowMs: number): void {
    if (bytes.length === 0) return;
    this.clear();
    this.atLineStart = bytes[bytes.length - 1] === LINE_FEED;
    this.lastOutputMs = nowMs;
  }

  /** Draws (or redraws) `text` if the guest is quiet and at the start of a line. */
  update(text: string, nowMs: number): void {
    if (!this.atLineStart || nowMs - this.lastOutputMs < this.quietMs) return;
    const width = Math.max(0, this.terminal.columns() - 1);
    this.terminal.write(ERASE_LINE + text.slice(0, width));
    this.shown = true;
  }

  /** Erases the line if it is drawn (before guest output, messages, or exit). */
  clear(): void {
    if (!this.shown) return;
    this.terminal.write(ERASE_LINE);
    this.shown = false;
  }
}

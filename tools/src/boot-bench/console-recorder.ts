// Watches an emulator's serial console as it arrives: finds the boot marker (also when a chunk boundary
// splits it) and keeps each line with the host time at which it was completed.

/** One console line and the host milliseconds (from the run's start) at which its newline arrived. */
export interface TimedLine {
  ms: number;
  text: string;
}

export class ConsoleRecorder {
  readonly lines: TimedLine[] = [];
  /** Host ms at which the marker was complete, or undefined while it has not appeared. */
  markerMs: number | undefined;
  private partial = "";
  /** The end of the text seen so far, long enough to hold all of the marker but its last character. */
  private tail = "";

  constructor(private readonly marker: string) {
    if (marker.length === 0) throw new RangeError("the marker must not be empty");
  }

  /** Feeds console text that arrived at `ms`; returns true when this text completed the marker. */
  feed(text: string, ms: number): boolean {
    let completed = false;
    if (this.markerMs === undefined) {
      const window = this.tail + text;
      if (window.includes(this.marker)) {
        this.markerMs = ms;
        completed = true;
      }
      this.tail = window.slice(Math.max(0, window.length - (this.marker.length - 1)));
    }
    let start = 0;
    for (let i = text.indexOf("\n"); i >= 0; i = text.indexOf("\n", start)) {
      this.lines.push({ ms, text: stripLineEnd(this.partial + text.slice(start, i)) });
      this.partial = "";
      start = i + 1;
    }
    this.partial += text.slice(start);
    return completed;
  }

  /** The line still without its newline (a prompt, for instance). */
  get pendingLine(): string {
    return this.partial;
  }

  /** The console as a log: each line prefixed with its host time in seconds. */
  formatLog(): string {
    const lines = this.lines.map((line) => `${(line.ms / 1000).toFixed(3).padStart(9)}  ${line.text}`);
    if (this.partial.length > 0) lines.push(`${"".padStart(9)}  ${stripLineEnd(this.partial)}`);
    return `${lines.join("\n")}\n`;
  }
}

/** Drops the carriage return a serial console puts before each newline. */
function stripLineEnd(line: string): string {
  return line.endsWith("\r") ? line.slice(0, -1) : line;
}

export interface ConsoleGap {
  seconds: number;
  /** The host ms of the two lines. */
  fromMs: number;
  toMs: number;
  before: string;
  after: string;
}

/** The `count` longest gaps between consecutive lines (and before the first): where the boot printed nothing. */
export function longestGaps(lines: readonly TimedLine[], count: number): ConsoleGap[] {
  const gaps: ConsoleGap[] = [];
  for (let i = 0; i < lines.length; i++) {
    const fromMs = i === 0 ? 0 : lines[i - 1].ms;
    const before = i === 0 ? "(start)" : lines[i - 1].text;
    gaps.push({
      seconds: (lines[i].ms - fromMs) / 1000,
      fromMs,
      toMs: lines[i].ms,
      before,
      after: lines[i].text,
    });
  }
  return gaps.sort((a, b) => b.seconds - a.seconds).slice(0, count);
}

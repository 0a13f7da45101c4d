// Kernel symbols for the profile: address -> function, from a System.map or a /proc/kallsyms listing
// (the same "address type name" lines).

/** Text symbols sorted by address, with lookups that stay inside the kernel's code. */
export class SymbolTable {
  private constructor(
    private readonly addresses: Float64Array,
    private readonly names: readonly string[],
    /** [start, end) pairs of the kernel text (normal and init); empty means unbounded. */
    private readonly textRanges: ReadonlyArray<readonly [number, number]>,
  ) {}

  get size(): number {
    return this.names.length;
  }

  /**
   * Parses System.map / kallsyms text. Only code symbols (types t, T, w, W) are kept; a module's symbols
   * ("[module]" suffix) are kept too. Lines that do not parse are skipped.
   */
  static parse(text: string): SymbolTable {
    const entries: Array<[number, string]> = [];
    const markers = new Map<string, number>();
    for (const line of text.split("\n")) {
      const match = /^([0-9a-fA-F]{8,16})\s+([a-zA-Z])\s+(\S+)/.exec(line.trim());
      if (!match) continue;
      const address = Number.parseInt(match[1], 16);
      const name = match[3];
      if (name === "_text" || name === "_etext" || name === "_sinittext" || name === "_einittext")
        markers.set(name, address);
      if ("tTwW".includes(match[2])) entries.push([address, name]);
    }
    // Aliases share an address (startup_32, _stext, _text): keep one, a function's name over a marker's.
    entries.sort((a, b) => a[0] - b[0] || markerRank(a[1]) - markerRank(b[1]));
    const unique = entries.filter((entry, i) => i === 0 || entries[i - 1][0] !== entry[0]);
    const ranges: Array<[number, number]> = [];
    const text0 = markers.get("_text");
    const etext = markers.get("_etext");
    if (text0 !== undefined && etext !== undefined && etext > text0) ranges.push([text0, etext]);
    const sinit = markers.get("_sinittext");
    const einit = markers.get("_einittext");
    if (sinit !== undefined && einit !== undefined && einit > sinit) ranges.push([sinit, einit]);
    return new SymbolTable(
      Float64Array.from(unique.map((e) => e[0])),
      unique.map((e) => e[1]),
      ranges,
    );
  }

  /** Whether the table is a real one (Debian ships a one-line placeholder System.map). */
  get usable(): boolean {
    return this.names.length >= 1000;
  }

  /** The function containing `address` and the offset into it, or undefined outside the kernel's code. */
  lookup(address: number): { name: string; offset: number } | undefined {
    if (
      this.textRanges.length > 0 &&
      !this.textRanges.some(([start, end]) => address >= start && address < end)
    )
      return undefined;
    let low = 0;
    let high = this.addresses.length - 1;
    if (high < 0 || address < this.addresses[0]) return undefined;
    while (low < high) {
      const mid = (low + high + 1) >>> 1;
      if (this.addresses[mid] <= address) low = mid;
      else high = mid - 1;
    }
    return { name: this.names[low], offset: address - this.addresses[low] };
  }
}

/** Sorts real function names before the linker's markers (_text, _stext, __irqentry_text_start...). */
function markerRank(name: string): number {
  return name.startsWith("_") ? 1 : 0;
}

/**
 * The text of `cat /proc/kallsyms` in a console transcript: the symbol lines between the echoed command
 * and the next prompt, with the serial console's carriage returns removed.
 */
export function kallsymsFromConsole(transcript: string, command: string, prompt: string): string {
  const start = transcript.indexOf(command);
  if (start < 0) return "";
  const body = transcript.slice(start + command.length);
  const end = body.indexOf(prompt);
  const lines = (end < 0 ? body : body.slice(0, end)).split(/\r?\n/);
  return `${lines.filter((line) => /^[0-9a-f]{8,16} [a-zA-Z] \S/.test(line)).join("\n")}\n`;
}

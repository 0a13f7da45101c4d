/** One wire a device drives (structurally device-model's Trigger). */
export interface Trigger {
  set(asserted: boolean): void;
}

/**
 * The machine's interrupt request lines (ISA IRQ 0-15 on a PC). Devices drive them through Trigger
 * objects; an interrupt controller (the 8259 PIC, with the PC platform) listens through `onChange`.
 * Until one is attached, levels are recorded and observable but reach no CPU.
 */
export class InterruptLines {
  private readonly levels: boolean[];
  private readonly listeners: Array<(line: number, asserted: boolean) => void> = [];

  constructor(readonly count = 16) {
    this.levels = new Array<boolean>(count).fill(false);
  }

  /** The Trigger a device uses to drive `line`. */
  line(line: number): Trigger {
    if (!Number.isInteger(line) || line < 0 || line >= this.count)
      throw new RangeError(`no IRQ line ${line}`);
    return { set: (asserted: boolean) => this.set(line, asserted) };
  }

  level(line: number): boolean {
    return this.levels[line] === true;
  }

  onChange(listener: (line: number, asserted: boolean) => void): void {
    this.listeners.push(listener);
  }

  private set(line: number, asserted: boolean): void {
    if (this.levels[line] === asserted) return;
    this.levels[line] = asserted;
    for (const listener of this.listeners) listener(line, asserted);
  }
}

// The PC's two cascaded 8259As: the master takes IRQ 0-7 and the slave's INT on IR2, the slave takes IRQ 8-15.
// The wiring code maps master.read/write at 0x20, slave at 0xa0 and elcr at 0x4d0 (two bytes).

import type { BusDevice } from "./bus-device.js";
import { Pic8259, type Pic8259State } from "./pic8259.js";
import type { Trigger } from "./trigger.js";

export interface Pic8259PairOptions {
  /** The INTR line to the CPU (the master's INT output). */
  intr?: Trigger;
  /**
   * Keep an edge-triggered request latched when its input falls before INTA, as QEMU and KVM do, instead of losing
   * it as the 8259A's transparent latch does (the default). With it, a slave request that goes away before INTA
   * yields the slave's IR7 vector (IRQ 15) with the master's IR2 in service, as in QEMU.
   */
  latchEdgeRequests?: boolean;
}

/** Snapshot of a Pic8259Pair (plain, JSON-serialisable). */
export interface Pic8259PairState {
  master: Pic8259State;
  slave: Pic8259State;
}

/** The slave's INT output drives this master input. */
export const CASCADE_IRQ = 2;
/** IRQ 0-2 (timer, keyboard, cascade) cannot be level-triggered on a PIIX-class chipset. */
const MASTER_LEVEL_TRIGGER_MASK = 0xf8;
/** IRQ 8 (RTC) and IRQ 13 (FPU) cannot be level-triggered. */
const SLAVE_LEVEL_TRIGGER_MASK = 0xde;
/** What the CPU reads in an INTA cycle that no chip answers (the master named a cascade input without a slave). */
const FLOATING_BUS_VECTOR = 0xff;

/**
 * The master/slave 8259A pair of a PC, with the chipset's edge/level control registers (ELCR, ports 0x4d0/0x4d1).
 * `acknowledge()` is the CPU's INTA cycle: it returns the vector and updates both chips, including the default IR7
 * vectors for requests that went away. With the 8259A's transparent request latch (the default) a vanished request
 * withdraws the master's IR2 as well, so the master answers with its IR7 vector (IRQ 7): the INTA cycle is atomic
 * here, leaving no window between the master's and the slave's priority resolution, where hardware produces the
 * slave's IR7 (IRQ 15). With `latchEdgeRequests` (QEMU's behaviour) the master keeps IR2 latched, and a vanished
 * slave request gives IRQ 15 with the master's IR2 in service (Linux sends that an EOI).
 */
export class Pic8259Pair {
  /** The master's registers (offsets 0-1; port 0x20 on a PC). */
  readonly master: Pic8259;
  /** The slave's registers (offsets 0-1; port 0xa0 on a PC). */
  readonly slave: Pic8259;
  /** ELCR1 (master, offset 0) and ELCR2 (slave, offset 1); a 16-bit access at offset 0 covers both. */
  readonly elcr: BusDevice;
  private readonly intr: Trigger | undefined;
  private readonly lines: Trigger[] = [];

  constructor(options: Pic8259PairOptions = {}) {
    this.intr = options.intr;
    const latchingInputs = options.latchEdgeRequests === true ? 0xff : 0;
    this.master = new Pic8259({
      isMaster: true,
      levelTriggerMask: MASTER_LEVEL_TRIGGER_MASK,
      latchingInputs,
      output: { set: (asserted) => this.intr?.set(asserted) },
    });
    this.slave = new Pic8259({
      isMaster: false,
      levelTriggerMask: SLAVE_LEVEL_TRIGGER_MASK,
      latchingInputs,
      output: { set: (asserted) => this.master.setInput(CASCADE_IRQ, asserted) },
    });
    this.elcr = new EdgeLevelControl(this.master, this.slave);
    for (let irq = 0; irq < 16; irq++) {
      this.lines.push({ set: (asserted) => this.setIrq(irq, asserted) });
    }
  }

  /**
   * The Trigger for ISA IRQ `irq` (0-15). IRQ 2 is the cascade: that input is taken by the slave and the line is
   * accepted but ignored.
   */
  irqLine(irq: number): Trigger {
    const line = this.lines[irq];
    if (line === undefined) throw new RangeError(`no IRQ line ${irq}`);
    return line;
  }

  /** Drives ISA IRQ `irq` (0-15; IRQ 2 and other values are ignored). */
  setIrq(irq: number, asserted: boolean): void {
    if (irq >= 0 && irq < 8) {
      if (irq !== CASCADE_IRQ) this.master.setInput(irq, asserted);
    } else if (irq >= 8 && irq < 16) {
      this.slave.setInput(irq - 8, asserted);
    }
  }

  /** The INTR level: whether the master has an interrupt for the CPU. */
  hasInterrupt(): boolean {
    return this.master.output;
  }

  /**
   * The INTA cycle: returns the vector of the highest-priority eligible request and marks it in service. If none is
   * eligible any more, returns the master's IR7 vector (nothing goes in service); if the slave's request went away,
   * the slave's IR7 vector (the master's IR2 stays in service and needs an EOI).
   */
  acknowledge(): number {
    const master = this.master;
    const line = master.highestRequest();
    if (line < 0) return master.vector(7);
    master.acknowledge(line);
    if (!master.isCascadeInput(line)) return master.vector(line);
    const slave = this.slave;
    if (!slave.answersCascade(line)) return FLOATING_BUS_VECTOR;
    const slaveLine = slave.highestRequest();
    let vector: number;
    if (slaveLine < 0) {
      vector = slave.vector(7);
    } else {
      slave.acknowledge(slaveLine);
      vector = slave.vector(slaveLine);
    }
    // The slave's INT falls during INTA and rises again if it still has an eligible request, which the master's
    // edge-triggered IR2 then sees as a new request (it matters with automatic EOI and special fully nested mode).
    master.setInput(CASCADE_IRQ, false);
    if (slave.output) master.setInput(CASCADE_IRQ, true);
    return vector;
  }

  /** Power-on state of both chips and the ELCR; the IRQ input levels are kept. */
  reset(): void {
    this.slave.reset();
    this.master.reset();
  }

  getState(): Pic8259PairState {
    return { master: this.master.getState(), slave: this.slave.getState() };
  }

  /** Restores a snapshot; malformed fields are masked or replaced, never thrown on. Drives INTR to match. */
  setState(state: Pic8259PairState): void {
    const s: Partial<Pic8259PairState> = state !== null && typeof state === "object" ? state : {};
    this.slave.setState(s.slave as Pic8259State);
    this.master.setState(s.master as Pic8259State);
    // The cascade input is a wire from the slave, whatever the snapshot says.
    this.master.setInput(CASCADE_IRQ, this.slave.output);
  }
}

/** The ELCR pair: one byte per chip, bit n = IR n level-triggered. */
class EdgeLevelControl implements BusDevice {
  constructor(
    private readonly master: Pic8259,
    private readonly slave: Pic8259,
  ) {}

  read(_base: number, offset: number, data: Uint8Array): void {
    for (let i = 0; i < data.length; i++) {
      const register = offset + i;
      data[i] =
        register === 0
          ? this.master.levelTriggeredRegister
          : register === 1
            ? this.slave.levelTriggeredRegister
            : 0;
    }
  }

  write(_base: number, offset: number, data: Uint8Array): void {
    for (let i = 0; i < data.length; i++) {
      const register = offset + i;
      if (register === 0) this.master.levelTriggeredRegister = data[i];
      else if (register === 1) this.slave.levelTriggeredRegister = data[i];
    }
  }
}

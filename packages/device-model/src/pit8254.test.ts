import { describe, expect, it } from "vitest";
import { PIT_FREQUENCY_HZ, Pit8254, pitNsAtTick, pitTicksAtNs } from "./pit8254.js";

/** A PIT on a fake clock that the test moves in input-clock ticks, with IRQ 0 recorded. */
function rig() {
  const clock = { ns: 0, nowNs: () => clock.ns };
  const irq = { level: false, rises: 0, log: [] as boolean[] };
  const pit = new Pit8254({
    clock,
    irq0: {
      set: (asserted) => {
        if (asserted && !irq.level) irq.rises++;
        irq.level = asserted;
        irq.log.push(asserted);
      },
    },
  });
  const data = new Uint8Array(1);
  const at = (tick: number) => {
    clock.ns = pitNsAtTick(tick);
  };
  const outb = (offset: number, value: number) => {
    data[0] = value;
    pit.write(0x40, offset, data);
  };
  const inb = (offset: number) => {
    pit.read(0x40, offset, data);
    return data[0];
  };
  /** Programs `channel` with a control word, then a two-byte count (when given). */
  const program = (channel: number, control: number, count?: number) => {
    outb(3, (channel << 6) | control);
    if (count !== undefined) {
      outb(channel, count & 0xff);
      outb(channel, count >>> 8);
    }
  };
  /** The count through the counter latch command (two-byte access assumed). */
  const count = (channel: number) => {
    outb(3, channel << 6);
    return inb(channel) | (inb(channel) << 8);
  };
  /** The status byte through read-back. */
  const status = (channel: number) => {
    outb(3, 0xe0 | (2 << channel));
    return inb(channel);
  };
  const out = (channel: number) => (status(channel) & 0x80) !== 0;
  return { clock, irq, pit, at, outb, inb, program, count, status, out };
}

/** Counts and OUT levels at consecutive ticks. */
function trace(r: ReturnType<typeof rig>, channel: number, from: number, to: number) {
  const counts: number[] = [];
  const outs: number[] = [];
  for (let t = from; t <= to; t++) {
    r.at(t);
    counts.push(r.count(channel));
    outs.push(r.out(channel) ? 1 : 0);
  }
  return { counts, outs };
}

describe("time base", () => {
  it("converts nanoseconds to 1.193182 MHz ticks exactly and back", () => {
    expect(pitTicksAtNs(1e9)).toBe(PIT_FREQUENCY_HZ);
    expect(pitTicksAtNs(838)).toBe(0);
    expect(pitTicksAtNs(839)).toBe(1);
    expect(pitTicksAtNs(-5)).toBe(0);
    expect(pitTicksAtNs(Number.NaN)).toBe(0);
    // Far past the point where ns * 1193182 loses precision as a double.
    const ns = 86_400e9 * 365 + 123_456_789;
    expect(pitTicksAtNs(ns)).toBe(
      86_400 * 365 * PIT_FREQUENCY_HZ + Math.floor((123_456_789 * 1193182) / 1e9),
    );
    for (const tick of [1, 2, 1193181, 1193182, 1193183, 37_654_321_987]) {
      const first = pitNsAtTick(tick);
      expect(pitTicksAtNs(first)).toBe(tick);
      expect(pitTicksAtNs(first - 1)).toBe(tick - 1);
    }
  });

  it("ignores a clock that stalls, goes backwards or returns garbage", () => {
    const r = rig();
    r.at(1000);
    r.program(0, 0x34, 500);
    r.at(1200);
    const count = r.count(0);
    for (const bad of [Number.NaN, -1, 0, pitNsAtTick(1100), Number.POSITIVE_INFINITY * 0]) {
      r.clock.ns = bad;
      expect(r.count(0)).toBe(count);
    }
    r.at(1201);
    expect(r.count(0)).toBe(count - 1);
  });
});

describe("mode 0: interrupt on terminal count", () => {
  it("OUT goes low on the control word and high N + 1 clocks after the count write; the count wraps", () => {
    const r = rig();
    r.at(1000);
    r.outb(3, 0x30);
    expect(r.status(0)).toBe(0x70); // OUT low, null count, RW=11 M=000 binary
    expect(r.irq.level).toBe(false);
    r.outb(0, 100);
    r.outb(0, 0);
    expect(r.pit.nextEventNs()).toBe(pitNsAtTick(1101));
    r.at(1001);
    expect(r.count(0)).toBe(100);
    expect(r.status(0)).toBe(0x30); // loaded: null count clear
    r.at(1050);
    expect(r.count(0)).toBe(51);
    r.at(1100);
    expect(r.count(0)).toBe(1);
    expect(r.out(0)).toBe(false);
    expect(r.irq.level).toBe(false);
    r.at(1101);
    r.pit.poll();
    expect(r.irq.level).toBe(true);
    expect(r.count(0)).toBe(0);
    r.at(1102);
    expect(r.count(0)).toBe(0xffff);
    expect(r.out(0)).toBe(true);
    expect(r.pit.nextEventNs()).toBeUndefined();
  });

  it("GATE low suspends counting and high resumes it", () => {
    const r = rig();
    r.at(1000);
    r.program(2, 0x30, 10);
    r.at(1005);
    expect(r.count(2)).toBe(6);
    r.pit.setGate(2, false);
    r.at(1100);
    expect(r.count(2)).toBe(6);
    r.pit.setGate(2, true);
    r.at(1103);
    expect(r.count(2)).toBe(3);
    r.at(1105);
    expect(r.pit.out(2)).toBe(false);
    r.at(1106);
    expect(r.pit.out(2)).toBe(true);
  });

  it("writing the first byte of a two-byte count stops counting and sets OUT low at once", () => {
    const r = rig();
    r.at(0);
    r.program(2, 0x30, 5);
    r.at(50);
    expect(r.pit.out(2)).toBe(true);
    const frozen = r.count(2);
    r.outb(2, 0x20);
    expect(r.pit.out(2)).toBe(false);
    r.at(80);
    expect(r.count(2)).toBe(frozen);
    r.outb(2, 0x00); // count 0x0020 loads on the next clock
    r.at(81);
    expect(r.count(2)).toBe(0x20);
    r.at(81 + 0x20);
    expect(r.pit.out(2)).toBe(true);
  });

  it("a new count restarts the countdown with OUT low", () => {
    const r = rig();
    r.at(0);
    r.program(0, 0x10, 0); // LSB only
    r.outb(0, 10);
    r.at(20);
    expect(r.out(0)).toBe(true);
    r.outb(0, 4);
    expect(r.out(0)).toBe(false);
    r.at(25);
    expect(r.out(0)).toBe(true);
  });
});

describe("mode 1: hardware-retriggerable one-shot", () => {
  it("waits for a gate trigger, goes low for N clocks, and retriggers", () => {
    const r = rig();
    r.pit.setGate(2, false);
    r.at(1000);
    r.program(2, 0x32, 5);
    r.at(1010);
    expect(r.pit.out(2)).toBe(true);
    expect(r.status(2) & 0x40).toBe(0x40); // not loaded yet: null count
    r.at(1020);
    r.pit.setGate(2, true);
    expect(r.pit.out(2)).toBe(true);
    const a = trace(r, 2, 1021, 1027);
    expect(a.counts).toEqual([5, 4, 3, 2, 1, 0, 0xffff]);
    expect(a.outs).toEqual([0, 0, 0, 0, 0, 1, 1]);
    // Retrigger in the middle of a one-shot: reload on the next clock, OUT stays low N more clocks.
    r.at(1030);
    r.pit.setGate(2, false);
    r.pit.setGate(2, true);
    r.at(1033);
    r.pit.setGate(2, false); // GATE low does not stop mode 1
    r.pit.setGate(2, true);
    const b = trace(r, 2, 1034, 1040);
    expect(b.counts).toEqual([5, 4, 3, 2, 1, 0, 0xffff]);
    expect(b.outs).toEqual([0, 0, 0, 0, 0, 1, 1]);
  });

  it("a count written during a one-shot waits for the next trigger", () => {
    const r = rig();
    r.pit.setGate(2, false);
    r.at(0);
    r.program(2, 0x32, 10);
    r.pit.setGate(2, true);
    r.at(3);
    r.outb(2, 3);
    r.outb(2, 0);
    r.at(11);
    expect(r.pit.out(2)).toBe(true); // the old count of 10 ran out at tick 1 + 10
    r.pit.setGate(2, false);
    r.pit.setGate(2, true);
    r.at(12);
    expect(r.count(2)).toBe(3);
  });
});

describe("mode 2: rate generator", () => {
  it("counts N..1 with OUT low for one clock at 1, period N, one IRQ 0 edge per period", () => {
    const r = rig();
    r.at(1000);
    r.program(0, 0x34, 4);
    const risesBefore = r.irq.rises;
    const t = trace(r, 0, 1001, 1009);
    expect(t.counts).toEqual([4, 3, 2, 1, 4, 3, 2, 1, 4]);
    expect(t.outs).toEqual([1, 1, 1, 0, 1, 1, 1, 0, 1]);
    expect(r.irq.rises - risesBefore).toBe(2);
  });

  it("a new count takes effect at the end of the current period", () => {
    const r = rig();
    r.at(1000);
    r.program(0, 0x34, 4);
    r.at(1006);
    r.outb(0, 10);
    r.outb(0, 0);
    expect(r.status(0) & 0x40).toBe(0x40);
    const t = trace(r, 0, 1006, 1010);
    expect(t.counts).toEqual([3, 2, 1, 10, 9]);
    expect(r.status(0) & 0x40).toBe(0); // loaded at the period's end
    expect(r.pit.nextEventNs()).toBe(pitNsAtTick(1019));
  });

  it("GATE low forces OUT high and holds the count; GATE high reloads on the next clock", () => {
    const r = rig();
    r.at(0);
    r.program(2, 0x34, 5);
    r.at(4); // count 2
    r.pit.setGate(2, false);
    r.at(5);
    expect(r.count(2)).toBe(2);
    r.at(9);
    expect(r.pit.out(2)).toBe(true);
    r.pit.setGate(2, true);
    const t = trace(r, 2, 10, 15);
    expect(t.counts).toEqual([5, 4, 3, 2, 1, 5]);
    expect(t.outs).toEqual([1, 1, 1, 1, 0, 1]);
  });

  it("GATE low during the one-clock low pulse raises OUT at once", () => {
    const r = rig();
    r.at(0);
    r.program(2, 0x34, 3);
    r.at(3);
    expect(r.pit.out(2)).toBe(false);
    r.pit.setGate(2, false);
    expect(r.pit.out(2)).toBe(true);
  });

  it("a count of 1 is illegal on the chip; here OUT simply stays high and the count reads 1", () => {
    const r = rig();
    r.at(0);
    r.program(0, 0x34, 1);
    const t = trace(r, 0, 1, 5);
    expect(t.counts).toEqual([1, 1, 1, 1, 1]);
    expect(t.outs).toEqual([1, 1, 1, 1, 1]);
    expect(r.pit.nextEventNs()).toBeUndefined();
  });
});

describe("mode 3: square wave", () => {
  it("even N: half high, half low, counting down by two", () => {
    const r = rig();
    r.at(1000);
    r.program(0, 0x36, 6);
    const t = trace(r, 0, 1001, 1013);
    expect(t.counts).toEqual([6, 4, 2, 6, 4, 2, 6, 4, 2, 6, 4, 2, 6]);
    expect(t.outs).toEqual([1, 1, 1, 0, 0, 0, 1, 1, 1, 0, 0, 0, 1]);
  });

  it("odd N: high for (N + 1) / 2 clocks, low for (N - 1) / 2, counts from N - 1", () => {
    const r = rig();
    r.at(1000);
    r.program(0, 0x36, 5);
    const t = trace(r, 0, 1001, 1011);
    expect(t.counts).toEqual([4, 2, 0, 4, 2, 4, 2, 0, 4, 2, 4]);
    expect(t.outs).toEqual([1, 1, 1, 0, 0, 1, 1, 1, 0, 0, 1]);
  });

  it("a new count takes effect at the end of the current half-cycle", () => {
    const r = rig();
    r.at(1000);
    r.program(0, 0x36, 6);
    r.at(1002); // high half, count 4
    r.outb(0, 10);
    r.outb(0, 0);
    const t = trace(r, 0, 1002, 1014);
    expect(t.counts).toEqual([4, 2, 10, 8, 6, 4, 2, 10, 8, 6, 4, 2, 10]);
    expect(t.outs).toEqual([1, 1, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 0]);
  });

  it("GATE low while OUT is low sets OUT high immediately; GATE high restarts the square wave", () => {
    const r = rig();
    r.at(0);
    r.program(2, 0x36, 8);
    r.at(6);
    expect(r.pit.out(2)).toBe(false);
    r.pit.setGate(2, false);
    expect(r.pit.out(2)).toBe(true);
    r.pit.setGate(2, true);
    const t = trace(r, 2, 7, 15);
    expect(t.outs).toEqual([1, 1, 1, 1, 0, 0, 0, 0, 1]);
  });

  it("the power-on state is mode 3 with 65536 on every counter: IRQ 0 at 18.2 Hz", () => {
    const r = rig();
    expect(r.status(0)).toBe(0xb6);
    expect(r.irq.level).toBe(true);
    expect(r.pit.nextEventNs()).toBe(pitNsAtTick(65536));
    expect(r.pit.nextEventNs()).toBeCloseTo(54_925_401, -1);
    r.at(1);
    expect(r.count(0)).toBe(0xfffe);
  });
});

describe("mode 4: software-triggered strobe", () => {
  it("OUT pulses low for one clock N + 1 clocks after the write, once", () => {
    const r = rig();
    r.at(1000);
    r.program(0, 0x38, 3);
    expect(r.pit.nextEventNs()).toBe(pitNsAtTick(1005));
    const risesBefore = r.irq.rises;
    const t = trace(r, 0, 1001, 1006);
    expect(t.counts).toEqual([3, 2, 1, 0, 0xffff, 0xfffe]);
    expect(t.outs).toEqual([1, 1, 1, 0, 1, 1]);
    expect(r.irq.rises - risesBefore).toBe(1);
    expect(r.pit.nextEventNs()).toBeUndefined(); // no repeat after the wrap
  });

  it("GATE low suspends counting; a new count restarts the strobe", () => {
    const r = rig();
    r.at(0);
    r.program(2, 0x38, 10);
    r.at(3);
    r.pit.setGate(2, false);
    r.at(100);
    expect(r.count(2)).toBe(8);
    r.pit.setGate(2, true);
    r.at(102);
    r.outb(2, 2);
    r.outb(2, 0);
    r.at(105);
    expect(r.pit.out(2)).toBe(false);
    r.at(106);
    expect(r.pit.out(2)).toBe(true);
  });
});

describe("mode 5: hardware-triggered strobe", () => {
  it("strobes N + 1 clocks after each gate trigger", () => {
    const r = rig();
    r.pit.setGate(2, false);
    r.at(0);
    r.program(2, 0x3a, 4);
    r.at(20);
    expect(r.pit.out(2)).toBe(true);
    r.pit.setGate(2, true);
    const t = trace(r, 2, 21, 26);
    expect(t.counts).toEqual([4, 3, 2, 1, 0, 0xffff]);
    expect(t.outs).toEqual([1, 1, 1, 1, 0, 1]);
    r.pit.setGate(2, false);
    r.pit.setGate(2, true);
    r.at(31);
    expect(r.pit.out(2)).toBe(false);
  });
});

describe("BCD counting", () => {
  it("counts in decimal and encodes the count in BCD", () => {
    const r = rig();
    r.at(0);
    r.program(0, 0x35, 0x0100); // mode 2, BCD, 100
    const t = trace(r, 0, 1, 4);
    expect(t.counts).toEqual([0x0100, 0x0099, 0x0098, 0x0097]);
    r.at(100);
    expect(r.count(0)).toBe(0x0001);
    r.at(101);
    expect(r.count(0)).toBe(0x0100);
  });

  it("wraps 0000 to 9999; a count of 0 is 10000; digits above 9 count as 9", () => {
    const r = rig();
    r.at(0);
    r.program(0, 0x31, 0x0002); // mode 0, BCD
    const t = trace(r, 0, 1, 4);
    expect(t.counts).toEqual([0x0002, 0x0001, 0x0000, 0x9999]);
    r.program(0, 0x35, 0); // at tick 4: mode 2, BCD, 10000
    r.at(5);
    expect(r.count(0)).toBe(0x0000);
    r.at(6);
    expect(r.count(0)).toBe(0x9999);
    expect(r.pit.nextEventNs()).toBe(pitNsAtTick(5 + 10000));
    r.program(0, 0x31, 0x00af);
    r.at(7);
    expect(r.count(0)).toBe(0x0099);
  });
});

describe("access modes, latches and read-back", () => {
  it("LSB-only and MSB-only counts", () => {
    const r = rig();
    r.at(0);
    r.outb(3, 0x14); // ch0 LSB only, mode 2
    r.outb(0, 0x34);
    r.at(1);
    expect(r.inb(0)).toBe(0x34);
    expect(r.inb(0)).toBe(0x34);
    r.outb(3, 0x24); // ch0 MSB only, mode 2
    r.outb(0, 0x12);
    r.at(2);
    expect(r.inb(0)).toBe(0x12); // count 0x1200
    r.at(3);
    expect(r.inb(0)).toBe(0x11); // 0x11ff
  });

  it("a latched count holds until read; a second latch before the read is ignored", () => {
    const r = rig();
    r.at(0);
    r.program(0, 0x34, 1000);
    r.at(101);
    r.outb(3, 0x00);
    r.at(150);
    r.outb(3, 0x00);
    r.at(200);
    expect(r.inb(0) | (r.inb(0) << 8)).toBe(900);
    expect(r.inb(0) | (r.inb(0) << 8)).toBe(801); // live again
  });

  it("a control word discards a latched count", () => {
    const r = rig();
    r.at(0);
    r.program(0, 0x34, 1000);
    r.at(101);
    r.outb(3, 0x00);
    r.program(0, 0x34, 50);
    r.at(102);
    expect(r.inb(0) | (r.inb(0) << 8)).toBe(50);
  });

  it("read-back latches status before count; repeated commands before the reads are ignored", () => {
    const r = rig();
    r.at(0);
    r.program(1, 0x34, 300);
    r.at(51);
    r.outb(3, 0xc4); // count and status of counter 1
    r.at(60);
    r.outb(3, 0xc4);
    expect(r.inb(1)).toBe(0xb4); // OUT high, loaded, RW=11 mode 2
    expect(r.inb(1) | (r.inb(1) << 8)).toBe(250);
    r.outb(3, 0xe4); // status only
    r.outb(3, 0xd4); // count only
    expect(r.inb(1)).toBe(0xb4);
    expect(r.inb(1) | (r.inb(1) << 8)).toBe(241);
  });

  it("read-back can latch several counters at once and reports modes as written", () => {
    const r = rig();
    r.at(0);
    r.program(0, 0x3c, 9); // mode 6 = mode 2
    r.program(2, 0x30, 9);
    r.outb(3, 0xea); // status of counters 0 and 2
    expect(r.inb(0)).toBe(0xfc); // OUT high, null count (the count loads next clock), bits as written (M2 set)
    expect(r.inb(2)).toBe(0x70); // mode 0: OUT low
    r.at(5);
    expect(r.count(0)).toBe(5);
  });

  it("reads and writes of a two-byte count may interleave (separate flip-flops)", () => {
    const r = rig();
    r.at(0);
    r.program(0, 0x34, 0x4000);
    r.at(0x101); // count 0x3f00
    const low = r.inb(0);
    r.outb(0, 0x20);
    const high = r.inb(0);
    r.outb(0, 0x00);
    expect([low, high]).toEqual([0x00, 0x3f]);
    r.at(0x4001); // the new count 0x0020 loads when the current period ends (tick 0x4001)
    expect(r.count(0)).toBe(0x20);
  });

  it("the control register reads 0xff; wide accesses use the low byte", () => {
    const r = rig();
    expect(r.inb(3)).toBe(0xff);
    const wide = new Uint8Array([1, 2, 3, 4]);
    r.pit.read(0x40, 3, wide);
    expect([...wide]).toEqual([0xff, 0, 0, 0]);
    r.pit.write(0x40, 7, new Uint8Array([0x34, 0xff])); // offset 7 aliases the control register
    r.pit.write(0x40, 4, new Uint8Array([0x05, 0xff]));
    r.pit.write(0x40, 4, new Uint8Array([0x00]));
    r.at(2);
    expect(r.count(0)).toBe(4);
    r.pit.write(0x40, 0, new Uint8Array(0));
    r.pit.read(0x40, 0, new Uint8Array(0));
  });
});

describe("IRQ 0 delivery", () => {
  it("a host polling at nextEventNs() sees exactly one rising edge per period", () => {
    const r = rig();
    r.at(0);
    r.program(0, 0x34, 1193); // about 1 kHz
    const deadlines: number[] = [];
    const rises = r.irq.rises;
    for (let i = 0; i < 100; i++) {
      const next = r.pit.nextEventNs();
      expect(next).toBeDefined();
      deadlines.push(next as number);
      r.clock.ns = next as number;
      r.pit.poll();
    }
    expect(r.irq.rises - rises).toBe(100);
    expect(deadlines[0]).toBe(pitNsAtTick(1 + 1193));
    expect(deadlines[99]).toBe(pitNsAtTick(1 + 100 * 1193));
  });

  it("a late host gets one edge for the missed periods (coalesced), not a burst", () => {
    const r = rig();
    r.at(0);
    r.program(0, 0x34, 100);
    expect(r.irq.level).toBe(true); // high since power-on (mode 3) and mode 2's initial OUT
    r.irq.log.length = 0;
    r.at(1050);
    r.pit.poll();
    expect(r.irq.log).toEqual([false, true]); // one fresh edge for ten periods
    r.pit.poll();
    expect(r.irq.log).toEqual([false, true]);
  });

  it("a tick missed in mode 3's high half keeps the line high until the next delivery", () => {
    const r = rig();
    r.at(0);
    r.program(0, 0x36, 100); // high ticks 1-50, 101-150...; rises at 101, 201...
    r.at(99);
    r.pit.poll();
    expect(r.irq.level).toBe(false);
    r.irq.log.length = 0;
    r.at(170); // past the rise at 101, in the low half
    r.pit.poll();
    expect(r.irq.log).toEqual([true]); // delivered, and stretched although OUT0 is low
    expect(r.out(0)).toBe(false);
    // That access was itself a delivery without a new rise: the fall is reported now.
    expect(r.irq.level).toBe(false);
  });

  it("a rise while the line is still high is delivered as a fresh low-high edge", () => {
    const r = rig();
    r.at(0);
    r.program(0, 0x36, 100);
    r.at(101);
    r.pit.poll();
    expect(r.irq.level).toBe(true);
    r.irq.log.length = 0;
    r.at(230); // the fall at 151 and the rise at 201 both missed
    r.pit.poll();
    expect(r.irq.log).toEqual([false, true]);
  });

  it("OUT0 falls are reported at once on a control word", () => {
    const r = rig();
    expect(r.irq.level).toBe(true);
    r.outb(3, 0x30);
    expect(r.irq.level).toBe(false);
  });

  it("gates of channels 0 and 1 can be driven too (tied high on a PC)", () => {
    const r = rig();
    r.at(0);
    r.program(0, 0x34, 10);
    r.pit.setGate(0, false);
    expect(r.pit.nextEventNs()).toBeUndefined();
    r.pit.setGate(0, true);
    expect(r.pit.nextEventNs()).toBe(pitNsAtTick(11));
    r.pit.setGate(3, false); // no such counter: ignored
    expect(r.pit.out(7)).toBe(false);
  });
});

describe("state", () => {
  it("round-trips through JSON mid-count, with a pending reload, and continues identically", () => {
    const a = rig();
    a.at(0);
    a.program(0, 0x36, 1000);
    a.program(2, 0x32, 77);
    a.pit.setGate(2, false);
    a.pit.setGate(2, true);
    a.at(300);
    a.outb(0, 0x10); // pending reload at the half-cycle's end
    a.outb(0, 0x02);
    a.outb(3, 0x80); // latch counter 2
    a.inb(2); // half of a latched two-byte read
    const snapshot = JSON.parse(JSON.stringify(a.pit.getState()));

    const b = rig();
    b.clock.ns = a.clock.ns;
    b.pit.setState(snapshot);
    expect(b.pit.getState()).toEqual(a.pit.getState());
    expect(b.irq.level).toBe(a.irq.level);
    expect(b.inb(2)).toBe(a.inb(2));
    for (const tick of [301, 499, 500, 501, 900, 1700, 5000]) {
      a.at(tick);
      b.at(tick);
      expect(b.count(0)).toBe(a.count(0));
      expect(b.status(0)).toBe(a.status(0));
      expect(b.count(2)).toBe(a.count(2));
      expect(b.pit.nextEventNs()).toBe(a.pit.nextEventNs());
      expect(b.irq.level).toBe(a.irq.level);
    }
  });

  it("replaces malformed snapshots instead of throwing", () => {
    const r = rig();
    r.at(1000);
    for (const bad of [
      null,
      7,
      {},
      { counters: "x" },
      {
        counters: [null, { control: 0, n: -5, loadTick: 1e300, active: true }, { countingSince: Number.NaN }],
      },
      {
        counters: [{ control: 0x34, n: 0, active: true, elapsedBase: -3, reloadAtElapsed: 2 }],
        irq0Tick: -9,
      },
    ]) {
      expect(() => r.pit.setState(bad as never)).not.toThrow();
      for (let channel = 0; channel < 3; channel++) {
        expect(() => r.count(channel)).not.toThrow();
        expect(r.count(channel)).toBeGreaterThanOrEqual(0);
      }
      expect(() => r.pit.nextEventNs()).not.toThrow();
    }
  });

  it("reset() returns every counter to the power-on state and keeps the gates", () => {
    const r = rig();
    r.at(500);
    r.pit.setGate(2, false);
    r.program(0, 0x30, 3);
    r.pit.reset();
    expect(r.status(0)).toBe(0xb6);
    expect(r.pit.nextEventNs()).toBe(pitNsAtTick(500 + 65536));
    r.at(510);
    expect(r.count(2)).toBe(0); // gate still low: channel 2 holds 65536
  });
});

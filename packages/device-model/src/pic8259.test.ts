import { describe, expect, it } from "vitest";
import { Pic8259Pair } from "./pic8259-pair.js";

const MASTER_BASE = 0x20;
const SLAVE_BASE = 0x28;

/** A pair with its INTR line recorded, and port helpers for master (0x20/0x21), slave (0xa0/0xa1) and ELCR. */
function harness(options: { latchEdgeRequests?: boolean } = {}) {
  const h = { intr: false, intrChanges: 0, pic: undefined as unknown as Pic8259Pair };
  h.pic = new Pic8259Pair({
    ...options,
    intr: {
      set: (asserted) => {
        h.intr = asserted;
        h.intrChanges++;
      },
    },
  });
  const data = new Uint8Array(1);
  const chip = (port: number) => (port & 0x80 ? h.pic.slave : h.pic.master);
  const outb = (port: number, value: number) => {
    data[0] = value;
    if (port === 0x4d0 || port === 0x4d1) h.pic.elcr.write(0x4d0, port - 0x4d0, data);
    else chip(port).write(port & ~1, port & 1, data);
  };
  const inb = (port: number) => {
    if (port === 0x4d0 || port === 0x4d1) h.pic.elcr.read(0x4d0, port - 0x4d0, data);
    else chip(port).read(port & ~1, port & 1, data);
    return data[0];
  };
  return { h, pic: h.pic, outb, inb };
}

/** What Linux's init_8259A does (vectors 0x20 and 0x28 as in its early setup; IMR open). */
function initLikeLinux(outb: (port: number, value: number) => void, icw4Master = 0x01, icw4Slave = 0x01) {
  outb(0x20, 0x11);
  outb(0x21, MASTER_BASE);
  outb(0x21, 0x04);
  outb(0x21, icw4Master);
  outb(0xa0, 0x11);
  outb(0xa1, SLAVE_BASE);
  outb(0xa1, 0x02);
  outb(0xa1, icw4Slave);
  outb(0x21, 0x00);
  outb(0xa1, 0x00);
}

function readIsr(inb: (port: number) => number, outb: (port: number, value: number) => void, port: number) {
  outb(port, 0x0b);
  const isr = inb(port);
  outb(port, 0x0a);
  return isr;
}

describe("Pic8259Pair basics", () => {
  it("delivers an edge on IRQ 1 as vector base + 1 and tracks IRR, ISR and EOI", () => {
    const { h, pic, outb, inb } = harness();
    initLikeLinux(outb);
    expect(pic.hasInterrupt()).toBe(false);
    pic.irqLine(1).set(true);
    expect(h.intr).toBe(true);
    expect(pic.hasInterrupt()).toBe(true);
    expect(inb(0x20)).toBe(0x02); // IRR (the default read register)
    expect(pic.acknowledge()).toBe(MASTER_BASE + 1);
    expect(h.intr).toBe(false);
    expect(inb(0x20)).toBe(0x00); // the edge request was consumed
    expect(readIsr(inb, outb, 0x20)).toBe(0x02);
    outb(0x20, 0x20); // non-specific EOI
    expect(readIsr(inb, outb, 0x20)).toBe(0x00);
  });

  it("reads IMR back at A0 = 1 and never raises INTR for a masked line", () => {
    const { h, pic, outb, inb } = harness();
    initLikeLinux(outb);
    outb(0x21, 0xfd); // everything but IRQ 1 masked
    expect(inb(0x21)).toBe(0xfd);
    pic.irqLine(0).set(true);
    expect(h.intr).toBe(false);
    expect(pic.hasInterrupt()).toBe(false);
    expect(h.intrChanges).toBe(0);
    pic.irqLine(1).set(true);
    expect(h.intr).toBe(true);
    outb(0x21, 0xff);
    expect(pic.hasInterrupt()).toBe(false);
    expect(h.intr).toBe(false);
    expect(inb(0x20)).toBe(0x03); // both still requested, just masked
    outb(0x21, 0x00);
    expect(pic.acknowledge()).toBe(MASTER_BASE + 0); // unmasked, IRQ 0's pending request outranks IRQ 1
    expect(pic.hasInterrupt()).toBe(false);
    outb(0x20, 0x20);
    expect(pic.acknowledge()).toBe(MASTER_BASE + 1);
  });

  it("answers accesses wider than a byte through the low byte", () => {
    const { pic, outb } = harness();
    initLikeLinux(outb);
    outb(0x21, 0x5a);
    const wide = new Uint8Array([0xff, 0xff, 0xff, 0xff]);
    pic.master.read(0x20, 1, wide);
    expect([...wide]).toEqual([0x5a, 0, 0, 0]);
    pic.master.write(0x20, 1, new Uint8Array([0x33, 0x77]));
    pic.master.read(0x20, 1, wide.subarray(0, 1));
    expect(wide[0]).toBe(0x33);
    pic.master.read(0x20, 3, new Uint8Array(0)); // empty access: nothing happens
  });

  it("has PC-like power-on state: vectors 0x08/0x70, cascade on IR2, nothing masked", () => {
    const { pic, inb } = harness();
    expect(inb(0x21)).toBe(0);
    pic.irqLine(0).set(true);
    expect(pic.acknowledge()).toBe(0x08);
    pic.irqLine(8).set(true);
    pic.master.write(0x20, 0, new Uint8Array([0x20]));
    expect(pic.acknowledge()).toBe(0x70);
  });

  it("rejects unknown IRQ lines when wiring and ignores IRQ 2 (the cascade)", () => {
    const { h, pic, outb } = harness();
    initLikeLinux(outb);
    expect(() => pic.irqLine(16)).toThrow(RangeError);
    expect(() => pic.irqLine(-1)).toThrow(RangeError);
    pic.irqLine(2).set(true);
    pic.setIrq(99, true);
    pic.setIrq(Number.NaN, true);
    expect(h.intr).toBe(false);
  });
});

describe("priorities", () => {
  it("takes the highest-priority request first and nests higher ones over lower in service", () => {
    const { pic, outb } = harness();
    initLikeLinux(outb);
    pic.irqLine(5).set(true);
    pic.irqLine(3).set(true);
    expect(pic.acknowledge()).toBe(MASTER_BASE + 3);
    // IRQ 5 is lower than IRQ 3 in service: blocked until the EOI.
    expect(pic.hasInterrupt()).toBe(false);
    pic.irqLine(1).set(true);
    expect(pic.acknowledge()).toBe(MASTER_BASE + 1); // higher: nests
    outb(0x20, 0x20); // ends IRQ 1 (the highest in service)
    expect(pic.hasInterrupt()).toBe(false); // IRQ 3 still in service
    outb(0x20, 0x20);
    expect(pic.acknowledge()).toBe(MASTER_BASE + 5);
  });

  it("specific EOI clears only the named level", () => {
    const { pic, outb, inb } = harness();
    initLikeLinux(outb);
    pic.irqLine(6).set(true);
    pic.acknowledge();
    pic.irqLine(4).set(true);
    pic.acknowledge();
    expect(readIsr(inb, outb, 0x20)).toBe(0x50);
    outb(0x20, 0x66); // specific EOI for level 6
    expect(readIsr(inb, outb, 0x20)).toBe(0x10);
  });

  it("rotates on non-specific EOI: the serviced level becomes the lowest", () => {
    const { pic, outb } = harness();
    initLikeLinux(outb);
    const order: number[] = [];
    for (const irq of [0, 3, 6]) pic.irqLine(irq).set(true);
    for (let i = 0; i < 3; i++) {
      const vector = pic.acknowledge();
      order.push(vector - MASTER_BASE);
      const line = vector - MASTER_BASE;
      pic.irqLine(line).set(false);
      pic.irqLine(line).set(true); // the device asks again at once
      outb(0x20, 0xa0); // rotate on non-specific EOI
    }
    // Without rotation IRQ 0 would win every time; with it the three share the CPU.
    expect(order).toEqual([0, 3, 6]);
    expect(pic.acknowledge()).toBe(MASTER_BASE + 0);
  });

  it("set priority and rotate on specific EOI move the lowest-priority level", () => {
    const { pic, outb } = harness();
    initLikeLinux(outb);
    outb(0x20, 0xc4); // IR4 lowest, so IR5 highest
    pic.irqLine(1).set(true);
    pic.irqLine(6).set(true);
    expect(pic.acknowledge()).toBe(MASTER_BASE + 6);
    outb(0x20, 0xe6); // EOI level 6 and make it lowest: IR7 highest, then IR0, IR1...
    expect(pic.acknowledge()).toBe(MASTER_BASE + 1);
    expect(pic.master.getState().lowestPriority).toBe(6);
  });

  it("a non-specific EOI picks the highest priority in service under rotation", () => {
    const { pic, outb, inb } = harness();
    initLikeLinux(outb);
    outb(0x20, 0xc5); // IR6 highest ... IR5 lowest
    pic.irqLine(2 + 1).set(true); // IRQ 3
    pic.acknowledge();
    pic.irqLine(7).set(true); // IR7 outranks IR3 now
    expect(pic.acknowledge()).toBe(MASTER_BASE + 7);
    outb(0x20, 0x20);
    expect(readIsr(inb, outb, 0x20)).toBe(0x08); // IR7's bit went, IR3 stays
  });

  it("OCW2 no-operation and 'rotate in AEOI clear' change nothing else", () => {
    const { pic, outb } = harness();
    initLikeLinux(outb);
    pic.irqLine(3).set(true);
    pic.acknowledge();
    const before = pic.getState();
    outb(0x20, 0x40);
    outb(0x20, 0x00);
    expect(pic.getState()).toEqual(before);
  });
});

describe("edge and level triggering", () => {
  it("edge: a line held high requests once; it must fall and rise again", () => {
    const { pic, outb } = harness();
    initLikeLinux(outb);
    const irq4 = pic.irqLine(4);
    irq4.set(true);
    expect(pic.acknowledge()).toBe(MASTER_BASE + 4);
    outb(0x20, 0x20);
    irq4.set(true); // still high: no new edge
    expect(pic.hasInterrupt()).toBe(false);
    irq4.set(false);
    irq4.set(true);
    expect(pic.acknowledge()).toBe(MASTER_BASE + 4);
  });

  it("edge: a request that goes away before INTA gives the spurious IR7 vector with nothing in service", () => {
    const { h, pic, outb, inb } = harness();
    initLikeLinux(outb);
    pic.irqLine(3).set(true);
    expect(h.intr).toBe(true); // the CPU may already have seen INTR...
    pic.irqLine(3).set(false); // ...when the device withdraws the request
    expect(h.intr).toBe(false);
    expect(pic.acknowledge()).toBe(MASTER_BASE + 7);
    expect(readIsr(inb, outb, 0x20)).toBe(0);
  });

  it("a spurious IR7 is told apart from a real IRQ 7 by the ISR", () => {
    const { pic, outb, inb } = harness();
    initLikeLinux(outb);
    pic.irqLine(7).set(true);
    expect(pic.acknowledge()).toBe(MASTER_BASE + 7);
    expect(readIsr(inb, outb, 0x20)).toBe(0x80);
  });

  it("level (ELCR): the request follows the line and comes back after EOI while the line stays high", () => {
    const { pic, outb, inb } = harness();
    initLikeLinux(outb);
    outb(0x4d1, 0x08); // IRQ 11 level-triggered (as for a PCI device)
    expect(inb(0x4d1)).toBe(0x08);
    const irq11 = pic.irqLine(11);
    irq11.set(true);
    expect(pic.acknowledge()).toBe(SLAVE_BASE + 3);
    expect(inb(0xa0)).toBe(0x08); // IRR still shows the line while it is high
    outb(0xa0, 0x20);
    outb(0x20, 0x20);
    expect(pic.acknowledge()).toBe(SLAVE_BASE + 3); // still high: requested again
    outb(0xa0, 0x20);
    outb(0x20, 0x20);
    irq11.set(false);
    expect(pic.hasInterrupt()).toBe(false);
  });

  it("a slave request withdrawn before INTA withdraws the master's IR2 too (spurious IRQ 7)", () => {
    const { h, pic, outb, inb } = harness();
    initLikeLinux(outb);
    outb(0x4d1, 0x08);
    pic.irqLine(11).set(true);
    expect(h.intr).toBe(true);
    pic.irqLine(11).set(false);
    expect(h.intr).toBe(false);
    expect(pic.acknowledge()).toBe(MASTER_BASE + 7);
    expect(readIsr(inb, outb, 0x20)).toBe(0);
    expect(readIsr(inb, outb, 0xa0)).toBe(0);
  });

  it("latchEdgeRequests (QEMU): an edge request survives its input falling", () => {
    const { pic, outb } = harness({ latchEdgeRequests: true });
    initLikeLinux(outb);
    pic.irqLine(3).set(true);
    pic.irqLine(3).set(false);
    expect(pic.acknowledge()).toBe(MASTER_BASE + 3);
  });

  it("latchEdgeRequests (QEMU): a withdrawn slave request gives spurious IRQ 15 with IR2 in service", () => {
    const { pic, outb, inb } = harness({ latchEdgeRequests: true });
    initLikeLinux(outb);
    outb(0x4d1, 0x08);
    pic.irqLine(11).set(true);
    pic.irqLine(11).set(false); // level-triggered: the slave forgets it, the master's IR2 edge stays latched
    expect(pic.hasInterrupt()).toBe(true);
    expect(pic.acknowledge()).toBe(SLAVE_BASE + 7);
    expect(readIsr(inb, outb, 0xa0)).toBe(0);
    expect(readIsr(inb, outb, 0x20)).toBe(0x04);
    outb(0x20, 0x62); // what Linux does: a specific EOI to the master's cascade level
    expect(readIsr(inb, outb, 0x20)).toBe(0);
    expect(pic.hasInterrupt()).toBe(false);
  });

  it("ELCR bits that a PC hard-wires to edge cannot be set; a 16-bit access covers both registers", () => {
    const { pic, inb } = harness();
    pic.elcr.write(0x4d0, 0, new Uint8Array([0xff, 0xff]));
    expect(inb(0x4d0)).toBe(0xf8);
    expect(inb(0x4d1)).toBe(0xde);
    const word = new Uint8Array(4);
    pic.elcr.read(0x4d0, 0, word);
    expect([...word]).toEqual([0xf8, 0xde, 0, 0]);
    pic.elcr.write(0x4d0, 1, new Uint8Array([0x00, 0x55])); // offset 1 then beyond the range
    expect(inb(0x4d0)).toBe(0xf8);
    expect(inb(0x4d1)).toBe(0x00);
  });

  it("ICW1.LTIM makes every input level-triggered", () => {
    const { pic, outb } = harness();
    outb(0x20, 0x19); // ICW1 with LTIM
    outb(0x21, MASTER_BASE);
    outb(0x21, 0x04);
    outb(0x21, 0x01);
    pic.irqLine(1).set(true);
    expect(pic.acknowledge()).toBe(MASTER_BASE + 1);
    outb(0x20, 0x20);
    expect(pic.acknowledge()).toBe(MASTER_BASE + 1); // the level keeps requesting
  });

  it("switching a high line to level makes it request; ELCR masks are respected for IRQ 0-2, 8 and 13", () => {
    const { pic, outb, inb } = harness();
    initLikeLinux(outb);
    pic.irqLine(5).set(true);
    pic.acknowledge();
    outb(0x20, 0x20);
    expect(pic.hasInterrupt()).toBe(false);
    outb(0x4d0, 0x20); // IRQ 5 level: its high input is a request again
    expect(pic.acknowledge()).toBe(MASTER_BASE + 5);
    outb(0x4d0, 0x07);
    expect(inb(0x4d0)).toBe(0);
    outb(0x4d1, 0x21);
    expect(inb(0x4d1)).toBe(0);
  });
});

describe("cascade", () => {
  it("delivers slave IRQs through the master's IR2 with the slave's vector", () => {
    const { pic, outb, inb } = harness();
    initLikeLinux(outb);
    pic.irqLine(10).set(true);
    expect(pic.hasInterrupt()).toBe(true);
    expect(inb(0x20)).toBe(0x04); // the master sees IR2
    expect(pic.acknowledge()).toBe(SLAVE_BASE + 2);
    expect(readIsr(inb, outb, 0x20)).toBe(0x04);
    expect(readIsr(inb, outb, 0xa0)).toBe(0x04);
    outb(0xa0, 0x20);
    outb(0x20, 0x20);
    expect(readIsr(inb, outb, 0x20)).toBe(0);
  });

  it("orders master IRQ 0-1 above the slave's IRQ 8-15 above master IRQ 3-7", () => {
    const { pic, outb } = harness();
    initLikeLinux(outb);
    pic.irqLine(3).set(true);
    pic.irqLine(14).set(true);
    pic.irqLine(1).set(true);
    const vectors: number[] = [];
    for (let i = 0; i < 3; i++) {
      const vector = pic.acknowledge();
      vectors.push(vector);
      if (vector >= SLAVE_BASE) outb(0xa0, 0x20);
      outb(0x20, 0x20);
    }
    expect(vectors).toEqual([MASTER_BASE + 1, SLAVE_BASE + 6, MASTER_BASE + 3]);
  });

  it("masking IR2 on the master masks the whole slave", () => {
    const { pic, outb } = harness();
    initLikeLinux(outb);
    outb(0x21, 0x04);
    pic.irqLine(9).set(true);
    expect(pic.hasInterrupt()).toBe(false);
    outb(0x21, 0x00);
    expect(pic.acknowledge()).toBe(SLAVE_BASE + 1);
  });

  it("without special fully nested mode a slave in service blocks further slave requests", () => {
    const { pic, outb } = harness();
    initLikeLinux(outb);
    pic.irqLine(12).set(true);
    expect(pic.acknowledge()).toBe(SLAVE_BASE + 4);
    pic.irqLine(9).set(true); // higher on the slave, but the master's IR2 is in service
    expect(pic.hasInterrupt()).toBe(false);
  });

  it("special fully nested mode lets a higher slave request through while the slave is in service", () => {
    const { pic, outb } = harness();
    initLikeLinux(outb, 0x11);
    pic.irqLine(12).set(true);
    expect(pic.acknowledge()).toBe(SLAVE_BASE + 4);
    pic.irqLine(14).set(true); // lower on the slave: still blocked by the slave's own ISR
    expect(pic.hasInterrupt()).toBe(false);
    pic.irqLine(9).set(true);
    expect(pic.acknowledge()).toBe(SLAVE_BASE + 1);
    pic.irqLine(4).set(true); // below IR2 on the master: blocked by IR2 in service
    expect(pic.hasInterrupt()).toBe(false);
  });

  it("automatic EOI on both chips: consecutive slave requests each reach the CPU", () => {
    const { pic, outb, inb } = harness();
    initLikeLinux(outb, 0x03, 0x03);
    pic.irqLine(9).set(true);
    pic.irqLine(13).set(true);
    expect(pic.acknowledge()).toBe(SLAVE_BASE + 1);
    expect(pic.acknowledge()).toBe(SLAVE_BASE + 5);
    expect(readIsr(inb, outb, 0x20)).toBe(0);
    expect(readIsr(inb, outb, 0xa0)).toBe(0);
    expect(pic.hasInterrupt()).toBe(false);
  });

  it("a master in single mode answers IR2 itself", () => {
    const { pic, outb } = harness();
    outb(0x20, 0x13); // single, IC4
    outb(0x21, MASTER_BASE);
    outb(0x21, 0x01); // no ICW3 in single mode: this is ICW4
    outb(0x21, 0x00); // OCW1
    pic.irqLine(10).set(true);
    expect(pic.acknowledge()).toBe(MASTER_BASE + 2);
  });

  it("a cascade input with no slave answering reads a floating bus (0xff)", () => {
    const { pic, outb } = harness();
    initLikeLinux(outb);
    outb(0xa0, 0x11);
    outb(0xa1, SLAVE_BASE);
    outb(0xa1, 0x05); // the slave thinks it is on IR5
    outb(0xa1, 0x01);
    pic.irqLine(8).set(true);
    expect(pic.acknowledge()).toBe(0xff);
  });
});

describe("automatic EOI", () => {
  it("sets no ISR bit, and rotate-in-AEOI rotates priorities", () => {
    const { pic, outb, inb } = harness();
    initLikeLinux(outb, 0x03);
    pic.irqLine(1).set(true);
    expect(pic.acknowledge()).toBe(MASTER_BASE + 1);
    expect(readIsr(inb, outb, 0x20)).toBe(0);
    outb(0x20, 0x80); // rotate in automatic EOI mode (set)
    pic.irqLine(0).set(true);
    pic.irqLine(4).set(true);
    expect(pic.acknowledge()).toBe(MASTER_BASE + 0); // IR0 becomes the lowest
    pic.irqLine(0).set(false);
    pic.irqLine(0).set(true);
    expect(pic.acknowledge()).toBe(MASTER_BASE + 4);
    expect(pic.acknowledge()).toBe(MASTER_BASE + 0);
  });

  it("without IC4 every ICW4 function is zero (no AEOI)", () => {
    const { pic, outb, inb } = harness();
    initLikeLinux(outb, 0x03);
    outb(0x20, 0x10); // ICW1 without IC4, cascade
    outb(0x21, 0x40);
    outb(0x21, 0x04); // ICW3, then ready
    outb(0x21, 0x00); // OCW1
    pic.irqLine(6).set(true);
    expect(pic.acknowledge()).toBe(0x46);
    expect(readIsr(inb, outb, 0x20)).toBe(0x40);
    expect(pic.master.getState().icw4).toBe(0);
  });
});

describe("OCW3", () => {
  it("poll mode: the next read is an acknowledge returning 0x80 | level", () => {
    const { pic, outb, inb } = harness();
    initLikeLinux(outb);
    outb(0x20, 0x0c); // poll
    expect(inb(0x20)).toBe(0); // nothing pending
    expect(inb(0x20)).toBe(0); // back to reading IRR
    pic.irqLine(5).set(true);
    outb(0x20, 0x0c);
    expect(inb(0x21)).toBe(0x85); // either address answers a poll
    expect(readIsr(inb, outb, 0x20)).toBe(0x20);
    expect(pic.hasInterrupt()).toBe(false);
    outb(0x20, 0x20);
    expect(readIsr(inb, outb, 0x20)).toBe(0);
  });

  it("poll together with a read-register command polls first and keeps the register choice", () => {
    const { pic, outb, inb } = harness();
    initLikeLinux(outb);
    pic.irqLine(3).set(true);
    outb(0x20, 0x0f); // poll + read ISR
    expect(inb(0x20)).toBe(0x83);
    expect(inb(0x20)).toBe(0x08); // ISR now
  });

  it("special mask mode: masking the level in service lets lower levels through", () => {
    const { pic, outb, inb } = harness();
    initLikeLinux(outb);
    pic.irqLine(3).set(true);
    expect(pic.acknowledge()).toBe(MASTER_BASE + 3);
    pic.irqLine(5).set(true);
    expect(pic.hasInterrupt()).toBe(false);
    outb(0x21, 0x08); // mask IR3 (in service)
    outb(0x20, 0x68); // set special mask mode
    expect(pic.acknowledge()).toBe(MASTER_BASE + 5);
    pic.irqLine(6).set(true);
    expect(pic.acknowledge()).toBe(MASTER_BASE + 6); // every unmasked level not in service
    expect(readIsr(inb, outb, 0x20)).toBe(0x68);
    // A non-specific EOI leaves the masked level 3 alone in special mask mode.
    outb(0x20, 0x20);
    expect(readIsr(inb, outb, 0x20)).toBe(0x48);
    outb(0x20, 0x48); // reset special mask mode
    expect(pic.master.getState().specialMask).toBe(false);
  });
});

describe("initialisation", () => {
  it("ICW1 clears IMR and ISR, restores default priority and resets edge sensing", () => {
    const { pic, outb, inb } = harness();
    initLikeLinux(outb);
    outb(0x20, 0xc2); // rotate priorities
    pic.irqLine(4).set(true);
    pic.acknowledge();
    outb(0x21, 0xaa);
    pic.irqLine(6).set(true); // pending, and the line stays high
    initLikeLinux(outb);
    expect(inb(0x21)).toBe(0);
    expect(readIsr(inb, outb, 0x20)).toBe(0);
    expect(inb(0x20)).toBe(0); // the high lines need a new edge
    expect(pic.hasInterrupt()).toBe(false);
    expect(pic.master.getState().lowestPriority).toBe(7);
    pic.irqLine(6).set(false);
    pic.irqLine(6).set(true);
    expect(pic.acknowledge()).toBe(MASTER_BASE + 6);
  });

  it("reads during initialisation return IMR at A0 = 1 and the chosen register at A0 = 0", () => {
    const { outb, inb } = harness();
    outb(0x20, 0x11);
    expect(inb(0x21)).toBe(0);
    outb(0x21, 0x20);
    expect(inb(0x20)).toBe(0);
    outb(0x21, 0x04);
    outb(0x21, 0x01);
    outb(0x21, 0x12);
    expect(inb(0x21)).toBe(0x12);
  });

  it("reset() returns to the power-on state and keeps level-triggered inputs requesting", () => {
    const { pic, outb } = harness();
    initLikeLinux(outb);
    outb(0x4d1, 0x08);
    pic.irqLine(11).set(true);
    pic.reset();
    expect(pic.slave.levelTriggeredRegister).toBe(0);
    expect(pic.hasInterrupt()).toBe(false); // ELCR reset to edge: the held line needs a new edge
    pic.irqLine(11).set(false);
    pic.irqLine(11).set(true);
    expect(pic.acknowledge()).toBe(0x73);
  });
});

describe("state", () => {
  it("round-trips through JSON and behaves the same afterwards", () => {
    const a = harness();
    initLikeLinux(a.outb, 0x11);
    a.outb(0x4d1, 0x08);
    a.pic.irqLine(11).set(true);
    a.pic.irqLine(4).set(true);
    a.pic.irqLine(1).set(true);
    expect(a.pic.acknowledge()).toBe(MASTER_BASE + 1);
    a.outb(0x20, 0xc0);
    a.outb(0x20, 0x0b);
    const snapshot = JSON.parse(JSON.stringify(a.pic.getState()));

    const b = harness();
    b.pic.irqLine(11).set(true);
    b.pic.irqLine(4).set(true);
    b.pic.irqLine(1).set(true);
    b.pic.setState(snapshot);
    expect(b.pic.getState()).toEqual(a.pic.getState());
    expect(b.h.intr).toBe(a.h.intr);
    for (const p of [a, b]) {
      p.outb(0x20, 0x20);
    }
    expect(b.inb(0x20)).toBe(a.inb(0x20));
    expect(b.pic.acknowledge()).toBe(a.pic.acknowledge());
    expect(b.pic.acknowledge()).toBe(a.pic.acknowledge());
  });

  it("replaces malformed snapshots instead of throwing", () => {
    const { pic } = harness();
    for (const bad of [
      null,
      undefined,
      42,
      "x",
      {},
      { master: 7, slave: null },
      { master: { irr: "x", icw2: 1e9 } },
    ]) {
      expect(() => pic.setState(bad as never)).not.toThrow();
      expect(() => pic.acknowledge()).not.toThrow();
    }
    pic.setState({ master: { initStep: 9, lowestPriority: 13, icw4: 0xff } } as never);
    const state = pic.getState().master;
    expect(state.initStep).toBe(0);
    expect(state.lowestPriority).toBe(5);
    expect(state.icw4).toBe(0x1f);
  });
});

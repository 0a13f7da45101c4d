import { describe, expect, it } from "vitest";
import { Port92, type Port92State } from "./port92.js";

function setup() {
  const h = { a20: [] as boolean[], resets: 0, port: undefined as unknown as Port92 };
  h.port = new Port92({ onA20: (e) => h.a20.push(e), onReset: () => h.resets++ });
  return h;
}

function outb(port: Port92, value: number): void {
  port.write(0x92, 0, Uint8Array.of(value));
}

function inb(port: Port92): number {
  const data = new Uint8Array(1);
  port.read(0x92, 0, data);
  return data[0];
}

describe("Port92", () => {
  it("starts with A20 off and everything clear", () => {
    const h = setup();
    expect(inb(h.port)).toBe(0);
    expect(h.port.a20Enabled).toBe(false);
  });

  it("gates A20 with bit 1 and reads it back, reporting changes only", () => {
    const h = setup();
    outb(h.port, 0x02);
    expect(inb(h.port)).toBe(0x02);
    expect(h.port.a20Enabled).toBe(true);
    outb(h.port, 0x02 | 0x08); // the lock bit does not touch A20
    outb(h.port, 0x00);
    expect(h.a20).toEqual([true, false]);
    expect(h.resets).toBe(0);
  });

  it("resets on a 0 -> 1 transition of bit 0 only", () => {
    const h = setup();
    outb(h.port, 0x03); // fast A20 and reset together, as "fast reset" code does
    expect(h.resets).toBe(1);
    outb(h.port, 0x03);
    expect(h.resets).toBe(1);
    outb(h.port, 0x02);
    outb(h.port, 0x03);
    expect(h.resets).toBe(2);
  });

  it("clears on reset(), so the next write of bit 0 resets again", () => {
    const h = setup();
    outb(h.port, 0x03);
    h.port.reset();
    expect(inb(h.port)).toBe(0);
    expect(h.a20).toEqual([true, false]);
    outb(h.port, 0x01);
    expect(h.resets).toBe(2);
  });

  it("reads at any width through the low byte and ignores empty writes", () => {
    const h = setup();
    h.port.write(0x92, 0, Uint8Array.of(0x02, 0xff));
    h.port.write(0x92, 0, new Uint8Array(0));
    const data = new Uint8Array(4).fill(0xee);
    h.port.read(0x92, 0, data);
    expect([...data]).toEqual([0x02, 0, 0, 0]);
  });

  it("round-trips its state without pulsing reset", () => {
    const h = setup();
    outb(h.port, 0x0b);
    const b = setup();
    b.port.setState(JSON.parse(JSON.stringify(h.port.getState())) as Port92State);
    expect(inb(b.port)).toBe(0x0b);
    expect(b.a20).toEqual([true]);
    expect(b.resets).toBe(0);
    b.port.setState(null as unknown as Port92State);
    expect(inb(b.port)).toBe(0);
  });
});

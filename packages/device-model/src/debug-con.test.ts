import { describe, expect, it } from "vitest";
import { DebugCon } from "./debug-con.js";

describe("DebugCon", () => {
  it("passes each written byte to write()", () => {
    const out: number[] = [];
    const con = new DebugCon({ write: (byte) => out.push(byte) });
    for (const ch of "ok\n") con.write(0xe9, 0, Uint8Array.of(ch.charCodeAt(0)));
    expect(String.fromCharCode(...out)).toBe("ok\n");
  });

  it("sends only the low byte of a wider write and nothing for an empty one", () => {
    const out: number[] = [];
    const con = new DebugCon({ write: (byte) => out.push(byte) });
    con.write(0xe9, 0, Uint8Array.of(0x41, 0x42));
    con.write(0xe9, 0, new Uint8Array(0));
    expect(out).toEqual([0x41]);
  });

  it("reads back 0xE9 by default, in the low byte", () => {
    const con = new DebugCon({ write: () => {} });
    const data = new Uint8Array(1);
    con.read(0xe9, 0, data);
    expect(data[0]).toBe(0xe9);
    const wide = new Uint8Array(4).fill(0xff);
    con.read(0xe9, 0, wide);
    expect([...wide]).toEqual([0xe9, 0, 0, 0]);
  });

  it("reads back a configured byte", () => {
    const con = new DebugCon({ write: () => {}, readback: 0x1ab });
    const data = new Uint8Array(1);
    con.read(0x402, 0, data);
    expect(data[0]).toBe(0xab);
  });
});

import { describe, expect, it } from "vitest";
import { PostCodePort, type PostCodePortState } from "./post-code-port.js";

describe("PostCodePort", () => {
  it("reports every code and remembers the last one", () => {
    const codes: number[] = [];
    const port = new PostCodePort({ onCode: (code) => codes.push(code) });
    expect(port.lastCode).toBe(0);
    for (const code of [0x01, 0x55, 0xaa, 0x55]) port.write(0x80, 0, Uint8Array.of(code));
    expect(codes).toEqual([0x01, 0x55, 0xaa, 0x55]);
    expect(port.lastCode).toBe(0x55);
  });

  it("reads back the last code", () => {
    const port = new PostCodePort();
    const data = new Uint8Array(1);
    port.read(0x80, 0, data);
    expect(data[0]).toBe(0);
    port.write(0x80, 0, Uint8Array.of(0xd4));
    port.read(0x80, 0, data);
    expect(data[0]).toBe(0xd4);
  });

  it("keeps wide codes little-endian and reads them back at the access width", () => {
    const port = new PostCodePort();
    port.write(0x80, 0, Uint8Array.of(0x78, 0x56, 0x34, 0x12));
    expect(port.lastCode).toBe(0x12345678);
    const word = new Uint8Array(2);
    port.read(0x80, 0, word);
    expect([...word]).toEqual([0x78, 0x56]);
    const quad = new Uint8Array(8).fill(0xee);
    port.read(0x80, 0, quad);
    expect([...quad]).toEqual([0x78, 0x56, 0x34, 0x12, 0, 0, 0, 0]);
    port.write(0x80, 0, Uint8Array.of(0xef, 0xbe));
    expect(port.lastCode).toBe(0xbeef);
  });

  it("ignores zero-length writes", () => {
    const codes: number[] = [];
    const port = new PostCodePort({ onCode: (code) => codes.push(code) });
    port.write(0x80, 0, Uint8Array.of(7));
    port.write(0x80, 0, new Uint8Array(0));
    expect(codes).toEqual([7]);
    expect(port.lastCode).toBe(7);
  });

  it("round-trips its state and sanitises garbage", () => {
    const a = new PostCodePort();
    a.write(0x80, 0, Uint8Array.of(0x42));
    const b = new PostCodePort();
    b.setState(JSON.parse(JSON.stringify(a.getState())));
    expect(b.lastCode).toBe(0x42);
    b.setState({ lastCode: -1 });
    expect(b.lastCode).toBe(0xffffffff);
    b.setState({ lastCode: "x" } as unknown as PostCodePortState);
    expect(b.lastCode).toBe(0);
    b.setState(null as unknown as PostCodePortState);
    expect(b.getState()).toEqual({ lastCode: 0 });
  });
});

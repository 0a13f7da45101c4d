import { describe, expect, it } from "vitest";
import { CTRL_A, EscapeKeys, parseQemuInteger, parseQemuOpts, parseSize } from "./index.js";

describe("QEMU option syntax", () => {
  it("splits key=value lists with an implied first key and doubled commas", () => {
    expect([...parseQemuOpts("isa-debug-exit,iobase=0xf4,iosize=4", "driver")]).toEqual([
      ["driver", "isa-debug-exit"],
      ["iobase", "0xf4"],
      ["iosize", "4"],
    ]);
    expect(parseQemuOpts("file=a,,b.img,readonly", "file").get("file")).toBe("a,b.img");
    expect(parseQemuOpts("file=a,,b.img,readonly", "file").get("readonly")).toBe("on");
  });

  it("parses integers as strtoul(…, 0) does", () => {
    expect(parseQemuInteger("0x1F")).toBe(31);
    expect(parseQemuInteger("010")).toBe(8);
    expect(parseQemuInteger("10")).toBe(10);
    expect(parseQemuInteger("ten")).toBeUndefined();
    expect(parseQemuInteger("99999999999999999999")).toBeUndefined();
  });

  it("parses sizes with suffixes", () => {
    expect(parseSize("64", 2 ** 20)).toBe(64 * 2 ** 20);
    expect(parseSize("4K", 2 ** 20)).toBe(4096);
    expect(parseSize("2GiB", 2 ** 20)).toBe(2 * 2 ** 30);
    expect(parseSize("1.5", 2 ** 20)).toBeUndefined();
    expect(parseSize("-1", 2 ** 20)).toBeUndefined();
  });
});

describe("Ctrl-A escapes", () => {
  it("quits on Ctrl-A x, shows help on Ctrl-A h, and passes Ctrl-A Ctrl-A as one Ctrl-A", () => {
    const keys = new EscapeKeys();
    const actions: string[] = [];
    const out = keys.feed(Uint8Array.from([0x61, CTRL_A, CTRL_A, 0x62, CTRL_A, 0x68, CTRL_A]), (a) =>
      actions.push(a),
    );
    expect([...out]).toEqual([0x61, CTRL_A, 0x62]);
    expect(actions).toEqual(["help"]);
    // The escape straddles two reads.
    const rest = keys.feed(Uint8Array.from([0x78, 0x63]), (a) => actions.push(a));
    expect([...rest]).toEqual([0x63]);
    expect(actions).toEqual(["help", "quit"]);
  });
});

import { describe, expect, it } from "vitest";
import { IsaDebugExit } from "./isa-debug-exit.js";

function makeDevice() {
  const statuses: number[] = [];
  const device = new IsaDebugExit({ onExit: (status) => statuses.push(status) });
  return { device, statuses };
}

describe("IsaDebugExit", () => {
  it.each([
    [[0x00], 1],
    [[0x10], 0x21],
    [[0x31], 0x63],
    [[0xff], 0x1ff],
    [[0x34, 0x12], 0x2469],
    [[0x78, 0x56, 0x34, 0x12], 0x2468acf1],
    [[0xff, 0xff, 0xff, 0xff], 0xffffffff],
    [[0x00, 0x00, 0x00, 0x80], 1],
  ])("a write of %j requests exit status %#x", (bytes, status) => {
    const { device, statuses } = makeDevice();
    device.write(0xf4, 0, Uint8Array.from(bytes));
    expect(statuses).toEqual([status]);
  });

  it("uses the low 4 bytes of an 8-byte write, as QEMU splits it", () => {
    const { device, statuses } = makeDevice();
    device.write(0xf4, 0, Uint8Array.of(0x02, 0, 0, 0, 0xff, 0xff, 0xff, 0xff));
    expect(statuses).toEqual([5]);
  });

  it("ignores the offset", () => {
    const { device, statuses } = makeDevice();
    device.write(0x501, 1, Uint8Array.of(3));
    expect(statuses).toEqual([7]);
  });

  it("reads as 0 at every width and never exits on a read", () => {
    const { device, statuses } = makeDevice();
    for (const width of [1, 2, 4, 8]) {
      const data = new Uint8Array(width).fill(0xaa);
      device.read(0xf4, 0, data);
      expect([...data]).toEqual(new Array(width).fill(0));
    }
    expect(statuses).toEqual([]);
  });

  it("ignores a zero-length write", () => {
    const { device, statuses } = makeDevice();
    device.write(0xf4, 0, new Uint8Array(0));
    expect(statuses).toEqual([]);
  });
});

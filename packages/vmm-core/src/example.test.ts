import { expect, it } from "vitest";
import { buildPc } from "./index.js";

// The README example, kept here so it cannot rot.
it("README example", async () => {
  // A 64 KiB ROM whose reset vector jumps to code that prints "hi" on COM1 and exits.
  const rom = new Uint8Array(0x10000).fill(0xf4);
  rom.set([0xba, 0xf8, 0x03, 0xb0, 0x68, 0xee, 0xb0, 0x69, 0xee, 0xb0, 0x00, 0xe6, 0xf4]);
  rom.set([0xea, 0x00, 0x00, 0x00, 0xf0], 0xfff0); // jmp far F000:0000

  let output = "";
  const pc = buildPc({
    memoryBytes: 32 * 1024 * 1024,
    firmware: rom,
    serial: { transmit: (byte) => (output += String.fromCharCode(byte)) },
    debugExit: { iobase: 0xf4, iosize: 4 },
  });
  const exit = await pc.run(); // { kind: "debug-exit", status: 1 }

  expect(exit).toEqual({ kind: "debug-exit", status: 1 });
  expect(output).toBe("hi");
});

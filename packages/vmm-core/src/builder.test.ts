import { describe, expect, it } from "vitest";
import { buildPc, MachineConfigError } from "./index.js";
import { outByte, testRom } from "./test-rom.test-support.js";

const MiB = 1024 * 1024;

function serialText() {
  const bytes: number[] = [];
  return { transmit: (b: number) => bytes.push(b), text: () => String.fromCharCode(...bytes) };
}

describe("buildPc", () => {
  it("runs firmware from the reset vector and ends through isa-debug-exit with QEMU's status", async () => {
    const serial = serialText();
    const rom = testRom([...outByte(0x3f8, 0x4f), ...outByte(0x3f8, 0x4b), ...outByte(0xf4, 0x21)]);
    const pc = buildPc({
      memoryBytes: 16 * MiB,
      firmware: rom,
      serial,
      debugExit: { iobase: 0xf4, iosize: 4 },
    });
    expect(await pc.run()).toEqual({ kind: "debug-exit", status: (0x21 << 1) | 1 });
    expect(serial.text()).toBe("OK");
  });

  it("feeds host input into COM1 under back-pressure", async () => {
    // Read 20 bytes from COM1 (polling LSR.DR), echo each, then exit.
    const loop = [
      0xb9,
      20,
      0x00, // mov cx,20
      0xba,
      0xfd,
      0x03, // L: mov dx,0x3fd
      0xec, // in al,dx
      0xa8,
      0x01, // test al,1
      0x74,
      0xfb, // jz L+3 (back to in)
      0xba,
      0xf8,
      0x03, // mov dx,0x3f8
      0xec, // in al,dx
      0xee, // out dx,al
      0xe2,
      0xf1, // loop L
      ...outByte(0xf4, 0),
    ];
    const serial = serialText();
    const pc = buildPc({
      memoryBytes: 16 * MiB,
      firmware: testRom(loop),
      serial,
      debugExit: { iobase: 0xf4, iosize: 1 },
    });
    const input = "abcdefghijklmnopqrstuvwxyz";
    pc.sendSerialInput(new TextEncoder().encode(input));
    expect(await pc.run()).toEqual({ kind: "debug-exit", status: 1 });
    expect(serial.text()).toBe(input.slice(0, 20));
  });

  it("maps the ROM at 4 GiB and below 1 MiB read-only, with RAM elsewhere", () => {
    const rom = testRom([]);
    rom[0x1234] = 0x5a;
    const pc = buildPc({ memoryBytes: 2 * MiB, firmware: rom });
    const memory = pc.vm.memory;
    expect(memory.readU8(0xffff1234)).toBe(0x5a);
    expect(memory.readU8(0xf1234)).toBe(0x5a);
    expect(memory.isRam(0xf0000, 1, true)).toBe(false);
    expect(memory.isRam(0xeffff, 1, true)).toBe(true);
    expect(memory.isRam(0xa0000, 1)).toBe(false); // VGA window
    expect(memory.isRam(0x1fffff, 1, true)).toBe(true);
    expect(memory.isRam(0x200000, 1)).toBe(false);
  });

  it("rejects bad memory sizes and firmware images with a clear error", () => {
    expect(() => buildPc({ memoryBytes: 1000, firmware: testRom([]) })).toThrow(MachineConfigError);
    expect(() => buildPc({ memoryBytes: 16 * MiB, firmware: new Uint8Array(100) })).toThrow(
      /multiple of 64 KiB/,
    );
    expect(() => buildPc({ memoryBytes: 16 * MiB, firmware: new Uint8Array(0) })).toThrow(MachineConfigError);
  });

  it("resets on a triple fault, or ends the run with -no-reboot", async () => {
    // lidt [cs:0x100] with a zero limit (from the ROM), then int3: every delivery faults.
    const code = [0x2e, 0x0f, 0x01, 0x1e, 0x00, 0x01, 0xcc];
    const rom = testRom(code);
    rom.set([0, 0, 0, 0, 0, 0], 0x100);
    const pc = buildPc({ memoryBytes: 16 * MiB, firmware: rom, noReboot: true });
    expect(await pc.run()).toEqual({ kind: "shutdown" });

    // Without -no-reboot the machine resets: count boots through a byte in RAM, exit on the third.
    const counting = testRom([
      0x31,
      0xc0,
      0x8e,
      0xd8, // xor ax,ax; mov ds,ax
      0xfe,
      0x06,
      0x00,
      0x05, // inc byte [0x500]
      0x80,
      0x3e,
      0x00,
      0x05,
      0x03, // cmp byte [0x500],3
      0x74,
      0x07, // je exit
      ...code, // triple fault
      ...outByte(0xf4, 0x03),
    ]);
    counting.set([0, 0, 0, 0, 0, 0], 0x100);
    const rebooting = buildPc({
      memoryBytes: 16 * MiB,
      firmware: counting,
      debugExit: { iobase: 0xf4, iosize: 1 },
    });
    expect(await rebooting.run()).toEqual({ kind: "debug-exit", status: 7 });
    expect(rebooting.vm.memory.readU8(0x500)).toBe(3);
  });

  it("ends with an error exit when the CPU meets something it cannot emulate", async () => {
    // jmp far A000:0000: code in the VGA window, where there is no RAM to fetch from.
    const pc = buildPc({ memoryBytes: 16 * MiB, firmware: testRom([0xea, 0x00, 0x00, 0x00, 0xa0]) });
    const exit = await pc.run();
    expect(exit.kind).toBe("error");
  });

  it("stops when the host asks, even while the guest spins", async () => {
    const pc = buildPc({ memoryBytes: 16 * MiB, firmware: testRom([0xeb, 0xfe]) });
    setTimeout(() => pc.machine.requestExit({ kind: "stopped" }), 20);
    expect(await pc.run()).toEqual({ kind: "stopped" });
  });
});

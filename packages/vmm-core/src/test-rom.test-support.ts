/**
 * Builds a 64 KiB firmware image for tests: `code` at F000:0000 and a reset vector jumping to it.
 */
export function testRom(code: number[]): Uint8Array {
  const rom = new Uint8Array(0x10000).fill(0xf4);
  rom.set(code, 0);
  rom.set([0xea, 0x00, 0x00, 0x00, 0xf0], 0xfff0); // jmp far F000:0000
  return rom;
}

/** mov dx,port; mov al,byte; out dx,al */
export function outByte(port: number, byte: number): number[] {
  return [0xba, port & 0xff, port >> 8, 0xb0, byte, 0xee];
}

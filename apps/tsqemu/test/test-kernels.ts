// Tiny kernels for tsqemu's end-to-end tests, built here byte by byte: a multiboot kernel (the a.out
// kludge: a flat image with load addresses in its header) and a bzImage by the Linux boot protocol.
// Their code is 32-bit x86, assembled with GNU as and pasted with the source alongside.

/** Prints the NUL-terminated string at ESI on the port in DX: lodsb; test al,al; jz +3; out dx,al; jmp -8. */
const PRINT_ESI_TO_DX = [0xac, 0x84, 0xc0, 0x74, 0x03, 0xee, 0xeb, 0xf8];

/**
 * Multiboot: prints the command line, then "|string=contents" for each module (contents read as a
 * NUL-terminated string) on COM1, then writes 0x10 to isa-debug-exit at 0xF4 (exit status 0x21).
 */
const MULTIBOOT_ECHO_CODE = [
  ...[0x89, 0xdd], // mov ebp,ebx: the multiboot information
  ...[0x66, 0xba, 0xf8, 0x03], // mov dx,0x3f8
  ...[0x8b, 0x75, 0x10], // mov esi,[ebp+16]: cmdline
  ...PRINT_ESI_TO_DX,
  ...[0x8b, 0x4d, 0x14], // mov ecx,[ebp+20]: mods_count
  ...[0x8b, 0x7d, 0x18], // mov edi,[ebp+24]: mods_addr
  ...[0x85, 0xc9, 0x74, 0x21], // mods: test ecx,ecx; jz done
  ...[0xb0, 0x7c, 0xee], // mov al,'|'; out dx,al
  ...[0x8b, 0x77, 0x08], // mov esi,[edi+8]: the module's string
  ...PRINT_ESI_TO_DX,
  ...[0xb0, 0x3d, 0xee], // mov al,'='; out dx,al
  ...[0x8b, 0x37], // mov esi,[edi]: mod_start
  ...PRINT_ESI_TO_DX,
  ...[0x83, 0xc7, 0x10, 0x49, 0xeb, 0xdb], // add edi,16; dec ecx; jmp mods
  ...[0xb0, 0x10, 0xe6, 0xf4], // done: mov al,0x10; out 0xf4,al
];

export function multibootEchoKernel(): Uint8Array {
  const loadAddress = 0x100000;
  const headerSize = 32;
  const image = new Uint8Array(headerSize + MULTIBOOT_ECHO_CODE.length);
  const view = new DataView(image.buffer);
  const magic = 0x1badb002;
  const flags = 0x00010000; // the a.out kludge: the address fields below are valid
  const fields = [
    magic,
    flags,
    (2 ** 32 - ((magic + flags) % 2 ** 32)) % 2 ** 32,
    loadAddress, // header_addr
    loadAddress, // load_addr
    loadAddress + image.length, // load_end_addr
    0, // bss_end_addr: no bss
    loadAddress + headerSize, // entry_addr
  ];
  for (const [i, value] of fields.entries()) view.setUint32(i * 4, value, true);
  image.set(MULTIBOOT_ECHO_CODE, headerSize);
  return image;
}

/**
 * Linux boot protocol: prints the command line, "|", the initrd (a NUL-terminated string) and a newline on
 * COM1, then counts its boots in RAM at 0x600: on the first it resets the machine through the i8042, on
 * the second it writes the count to isa-debug-exit at 0xF4 (exit status 5).
 */
const BZIMAGE_CODE = [
  ...[0x89, 0xf3], // mov ebx,esi: the zero page
  ...[0x66, 0xba, 0xf8, 0x03], // mov dx,0x3f8
  ...[0x8b, 0xb3, 0x28, 0x02, 0x00, 0x00], // mov esi,[ebx+0x228]: cmd_line_ptr
  ...PRINT_ESI_TO_DX,
  ...[0xb0, 0x7c, 0xee], // mov al,'|'; out dx,al
  ...[0x8b, 0xb3, 0x18, 0x02, 0x00, 0x00], // mov esi,[ebx+0x218]: ramdisk_image
  ...PRINT_ESI_TO_DX,
  ...[0xb0, 0x0a, 0xee], // mov al,'\n'; out dx,al
  ...[0xfe, 0x05, 0x00, 0x06, 0x00, 0x00], // inc byte [0x600]
  ...[0x80, 0x3d, 0x00, 0x06, 0x00, 0x00, 0x02], // cmp byte [0x600],2
  ...[0x74, 0x07], // je second
  ...[0xb0, 0xfe, 0xe6, 0x64], // mov al,0xfe; out 0x64,al: pulse the reset line
  ...[0xf4, 0xeb, 0xfd], // hlt; jmp $-1
  ...[0xa0, 0x00, 0x06, 0x00, 0x00], // second: mov al,[0x600]
  ...[0xe6, 0xf4], // out 0xf4,al
];

export function rebootingBzImage(): Uint8Array {
  const setupSectors = 4;
  const setupSize = (setupSectors + 1) * 512;
  const code = new Uint8Array(Math.ceil(BZIMAGE_CODE.length / 16) * 16).fill(0xf4);
  code.set(BZIMAGE_CODE);
  const image = new Uint8Array(setupSize + code.length);
  const view = new DataView(image.buffer);
  view.setUint8(0x1f1, setupSectors);
  view.setUint32(0x1f4, code.length / 16, true); // syssize, in 16-byte paragraphs
  view.setUint16(0x1fa, 0xffff, true); // vid_mode: normal
  view.setUint16(0x1fe, 0xaa55, true);
  view.setUint8(0x200, 0xeb); // jmp to the end of the header
  view.setUint8(0x201, 0x6a);
  view.setUint32(0x202, 0x53726448, true); // "HdrS"
  view.setUint16(0x206, 0x020f, true); // boot protocol 2.15
  view.setUint8(0x211, 0x01); // loadflags: LOADED_HIGH
  view.setUint32(0x214, 0x100000, true); // code32_start
  view.setUint32(0x22c, 0x7fffffff, true); // initrd_addr_max
  view.setUint32(0x230, 0x200000, true); // kernel_alignment
  view.setUint32(0x238, 2047, true); // cmdline_size
  view.setUint32(0x258, 0x100000, true); // pref_address
  view.setUint32(0x260, 0x100000, true); // init_size
  image.set(code, setupSize);
  return image;
}

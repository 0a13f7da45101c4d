/** A synthetic bzImage for tests: a boot sector with a setup header, setup code, and protected-mode code. */
export interface BzImageSpec {
  version?: number;
  /** The raw setup_sects byte (0 means 4). */
  setupSects?: number;
  loadflags?: number;
  relocatable?: boolean;
  kernelAlignment?: number;
  initrdAddrMax?: number;
  cmdlineSize?: number;
  /** Written as two 32-bit halves. */
  prefAddress?: number;
  initSize?: number;
  code32Start?: number;
  xloadflags?: number;
  /** The jump's displacement: the header ends at 0x202 + this. */
  headerLength?: number;
  /** syssize in 16-byte paragraphs; defaults to the protected-mode code's size, rounded up. */
  syssize?: number;
  /** Real-mode code at the jump's target, where setup starts running. */
  setupCode?: number[];
  protectedCode?: number[] | Uint8Array;
  kernelVersion?: string;
}

export const MiB = 1024 * 1024;

export function buildBzImage(spec: BzImageSpec = {}): Uint8Array {
  const setupSectsField = spec.setupSects ?? 4;
  const setupSize = ((setupSectsField || 4) + 1) * 512;
  // Real bzImages pad their protected-mode code to whole 16-byte paragraphs (syssize counts those).
  const code = spec.protectedCode ?? new Uint8Array(0x2000).fill(0xf4);
  const protectedCode = new Uint8Array(Math.ceil(code.length / 16) * 16).fill(0xf4);
  protectedCode.set(code);
  const image = new Uint8Array(setupSize + protectedCode.length);
  const view = new DataView(image.buffer);
  const headerLength = spec.headerLength ?? 0x6a;
  image[0x1ef] = 0xff; // the sentinel a loader must not copy into the zero page
  view.setUint8(0x1f1, setupSectsField);
  view.setUint32(0x1f4, spec.syssize ?? Math.ceil(protectedCode.length / 16), true);
  view.setUint16(0x1fa, 0xffff, true); // vid_mode NORMAL_VGA
  view.setUint16(0x1fe, 0xaa55, true);
  view.setUint8(0x200, 0xeb);
  view.setUint8(0x201, headerLength);
  view.setUint32(0x202, 0x53726448, true);
  view.setUint16(0x206, spec.version ?? 0x020f, true);
  view.setUint8(0x211, spec.loadflags ?? 0x01);
  view.setUint32(0x214, spec.code32Start ?? 0x100000, true);
  view.setUint32(0x22c, spec.initrdAddrMax ?? 0x7fffffff, true);
  view.setUint32(0x230, spec.kernelAlignment ?? 0x200000, true);
  view.setUint8(0x234, (spec.relocatable ?? true) ? 1 : 0);
  view.setUint8(0x235, 12);
  view.setUint16(0x236, spec.xloadflags ?? 0, true);
  view.setUint32(0x238, spec.cmdlineSize ?? 2047, true);
  const pref = spec.prefAddress ?? 0x1000000;
  view.setUint32(0x258, pref % 2 ** 32, true);
  view.setUint32(0x25c, Math.floor(pref / 2 ** 32), true);
  view.setUint32(0x260, spec.initSize ?? 0x400000, true);
  if (spec.kernelVersion !== undefined) {
    const at = 0x400;
    view.setUint16(0x20e, at - 0x200, true);
    for (let i = 0; i < spec.kernelVersion.length; i++) image[at + i] = spec.kernelVersion.charCodeAt(i);
  }
  image.set(spec.setupCode ?? [0xf4], 0x202 + headerLength);
  image.set(protectedCode, setupSize);
  return image;
}

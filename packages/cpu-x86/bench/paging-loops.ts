// Guest loops for the translation benchmark: the same eight-instruction body (a load and a store to
// one page, then on to the next page) run with paging off, with paging on over few pages (the TLB
// holds them all), and with paging on over 16 MiB (4096 pages cycling through the 1024-entry
// direct-mapped TLB: every data access misses and walks), with 4 KiB or 4 MiB pages. Each is a
// 64 KiB ROM that builds its own page tables, so QEMU runs the very same image.
import { buildProtectedModeRom } from "./loops.js";

export interface PagingLoop {
  name: string;
  /** What the row shows, for the table. */
  description: string;
  iterations: number;
  paging: "off" | "4k" | "4m";
  /** The data pointer walks pages BASE | (n * 4 KiB & MASK). */
  base: number;
  mask: number;
}

/** Page tables, built by the guest: directory, identity table (first 4 MiB), window tables. */
const PAGE_DIRECTORY = 0x20_0000;
const IDENTITY_TABLE = 0x20_1000;
const WINDOW_TABLES = 0x20_2000;
/** The 16 MiB linear window the paged loops walk, and the physical frames behind it. */
const WINDOW = 0x4000_0000;
const WINDOW_TABLE_COUNT = 4;
/** Frames 0x400-0x7ff: the window's page n is frame 0x400 + (n & 1023), in 4 KiB or 4 MiB pages. */
const FRAMES = 0x40_0000;

export const ITERATIONS = 5_000_000;

export const PAGING_LOOPS: PagingLoop[] = [
  {
    name: "paging-off",
    description: "paging off, 256 pages (1 MiB)",
    iterations: ITERATIONS,
    paging: "off",
    base: 0x50_0000,
    mask: 0x000f_f000,
  },
  {
    name: "paging-4k-tlb-fits",
    description: "4 KiB pages, 256 pages: the TLB holds them",
    iterations: ITERATIONS,
    paging: "4k",
    // Linear 0x40100000.. (TLB entries 0x100-0x1ff, clear of the code and stack pages) -> 0x500000..
    base: WINDOW + 0x10_0000,
    mask: 0x000f_f000,
  },
  {
    name: "paging-4k-tlb-thrash",
    description: "4 KiB pages, 4096 pages (16 MiB): every data access walks",
    iterations: ITERATIONS,
    paging: "4k",
    base: WINDOW,
    mask: 0x00ff_f000,
  },
  {
    name: "paging-4m-tlb-thrash",
    description: "4 MiB pages (PSE), 4096 4 KiB pieces: every data access walks one level",
    iterations: ITERATIONS,
    paging: "4m",
    base: WINDOW,
    mask: 0x00ff_f000,
  },
];

function pagingSetup(paging: "4k" | "4m"): string {
  const windowDirectoryEntry = PAGE_DIRECTORY + (WINDOW >>> 22) * 4;
  const window =
    paging === "4k"
      ? `
  /* Window page n -> frame 0x400 + (n & 1023), 4 KiB pages, present and writable. */
  mov edi, ${WINDOW_TABLES}
  xor edx, edx
  mov ecx, ${WINDOW_TABLE_COUNT * 1024}
3:
  mov eax, edx
  and eax, 1023
  shl eax, 12
  add eax, ${FRAMES | 3}
  stosd
  inc edx
  loop 3b
  mov edi, ${windowDirectoryEntry}
  mov eax, ${WINDOW_TABLES | 3}
  mov ecx, ${WINDOW_TABLE_COUNT}
4:
  stosd
  add eax, 0x1000
  loop 4b`
      : `
  /* Window: four 4 MiB pages, all on the frames at 4 MiB (PS, present, writable). */
  mov edi, ${windowDirectoryEntry}
  mov eax, ${FRAMES | 0x83}
  mov ecx, ${WINDOW_TABLE_COUNT}
  rep stosd
  mov eax, cr4
  or eax, 0x10
  mov cr4, eax`;
  return `
  /* Clear the directory and tables, identity-map the first 4 MiB. */
  mov edi, ${PAGE_DIRECTORY}
  mov ecx, ${(2 + WINDOW_TABLE_COUNT) * 1024}
  xor eax, eax
  rep stosd
  mov edi, ${IDENTITY_TABLE}
  mov eax, 3
  mov ecx, 1024
2:
  stosd
  add eax, 0x1000
  loop 2b
  mov dword ptr [${PAGE_DIRECTORY}], ${IDENTITY_TABLE | 3}
${window}
  mov eax, ${PAGE_DIRECTORY}
  mov cr3, eax
  mov eax, cr0
  or eax, 0x80000000
  mov cr0, eax
  jmp 5f
5:`;
}

/** Assembles `loop` into a 64 KiB ROM mapped at 0xF0000 (and ending at 4 GiB). */
export function buildPagingRom(loop: PagingLoop): Uint8Array {
  return buildProtectedModeRom(`
  cld
${loop.paging === "off" ? "" : pagingSetup(loop.paging)}
  mov ebx, ${loop.base}
  mov ecx, ${loop.iterations}
loop_top:
  mov eax, [ebx]
  add eax, ecx
  mov [ebx + 4], eax
  add ebx, 0x1000
  and ebx, ${loop.mask}
  or ebx, ${loop.base}
  dec ecx
  jnz loop_top`);
}

// The host-oracle wire format (see tools/host-oracle/host-oracle.c) and the shared memory layout.

export const CODE_BASE = 0x1000_0000;
export const CODE_SIZE = 0x1000;
export const CODE_ENTRY = CODE_BASE + 0x800;
export const DATA_BASE = 0x1001_0000;
export const DATA_SIZE = 0x4000;
export const MAX_CODE = 16;
export const MAX_POKES = 4;
export const ORACLE_MAGIC = 0x4f524331;

export const CASE_BYTES = MAX_CODE + 4 + 8 * 4 + 3 * 4 + MAX_POKES * 8;
const HEADER_WORDS = 11;
const RESULT_WORDS = 15;

/** Exception vectors as both sides report them; a page fault stands for "touched unmapped memory". */
export const VECTOR_DE = 0;
export const VECTOR_BP = 3;
export const VECTOR_PF = 14;

/** One instruction to run from one state. */
export interface FuzzCase {
  /** What the generator made, e.g. "adc r/m32, imm8". */
  name: string;
  code: number[];
  /** EAX ECX EDX EBX ESP EBP ESI EDI. */
  regs: number[];
  eflags: number;
  /** Seeds the xorshift32 fill of the data region. */
  memorySeed: number;
  /** 32-bit values written over the fill: [data-region offset, value] (at most MAX_POKES). */
  pokes: [number, number][];
  /** EFLAGS bits compared (the SDM's defined flags for this instruction and these operands). */
  flagsChecked: number;
  /** Registers (bit r) whose final value the SDM leaves undefined here. */
  regsUnchecked: number;
  /** Data-region offsets whose final value is undefined. */
  memoryUnchecked: number[];
}

/** The state after a case ran, from either side. */
export interface MachineResult {
  /** The vector that ended the run: 3 for the INT3 after the instruction, else the exception. */
  vector: number;
  eip: number;
  regs: number[];
  eflags: number;
  /** Data-region bytes that differ from the initial fill: offset -> value. */
  changes: Map<number, number>;
}

export interface OracleHeader {
  selectors: number[];
}

/** The data region's initial bytes for a case: the fill, then the pokes. */
export function initialMemory(bytes: Uint8Array, c: Pick<FuzzCase, "memorySeed" | "pokes">): void {
  fillMemory(bytes, c.memorySeed);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  for (const [offset, value] of c.pokes) view.setUint32(offset, value >>> 0, true);
}

/** xorshift32, as host-oracle.c fills memory (four little-endian bytes per step). */
export function fillMemory(bytes: Uint8Array, seed: number): void {
  let x = seed >>> 0 || 0x9e3779b9;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  for (let i = 0; i + 4 <= bytes.length; i += 4) {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    view.setUint32(i, x, true);
  }
}

export function encodeCases(cases: readonly FuzzCase[]): Uint8Array {
  const out = new Uint8Array(cases.length * CASE_BYTES);
  const view = new DataView(out.buffer);
  cases.forEach((c, n) => {
    const base = n * CASE_BYTES;
    out.set(c.code, base);
    view.setUint32(base + MAX_CODE, c.code.length, true);
    for (let r = 0; r < 8; r++) view.setUint32(base + MAX_CODE + 4 + r * 4, c.regs[r] >>> 0, true);
    view.setUint32(base + MAX_CODE + 36, c.eflags >>> 0, true);
    view.setUint32(base + MAX_CODE + 40, c.memorySeed >>> 0, true);
    view.setUint32(base + MAX_CODE + 44, c.pokes.length, true);
    c.pokes.forEach(([offset, value], i) => {
      view.setUint32(base + MAX_CODE + 48 + i * 8, offset, true);
      view.setUint32(base + MAX_CODE + 52 + i * 8, value >>> 0, true);
    });
  });
  return out;
}

/** Parses host-oracle's output for `count` cases. */
export function decodeResults(
  output: Uint8Array,
  count: number,
): { header: OracleHeader; results: MachineResult[] } {
  const view = new DataView(output.buffer, output.byteOffset, output.byteLength);
  if (output.length < HEADER_WORDS * 4 || view.getUint32(0, true) !== ORACLE_MAGIC) {
    throw new Error("host-oracle: bad output header");
  }
  const word = (offset: number) => view.getUint32(offset, true);
  const header = { selectors: [0, 1, 2, 3, 4, 5].map((s) => word(20 + s * 4)) };
  const results: MachineResult[] = [];
  let offset = HEADER_WORDS * 4;
  for (let n = 0; n < count; n++) {
    if (offset + RESULT_WORDS * 4 > output.length) throw new Error(`host-oracle: output ends at case ${n}`);
    // signal, trapno, error code, fault address, eip, eax..edi, eflags, change count
    const vector = word(offset + 4);
    const eip = word(offset + 16) | 0;
    const regs: number[] = [];
    for (let r = 0; r < 8; r++) regs.push(word(offset + 20 + r * 4) | 0);
    const eflags = word(offset + 52);
    const changeCount = word(offset + 56);
    offset += RESULT_WORDS * 4;
    const changes = new Map<number, number>();
    for (let i = 0; i < changeCount; i++) {
      const entry = word(offset + i * 4);
      changes.set(entry >>> 8, entry & 0xff);
    }
    offset += changeCount * 4;
    results.push({ vector, eip, regs, eflags, changes });
  }
  return { header, results };
}

import { TLB_MASK } from "@tsvmm/mmu";
import type { Cpu } from "./cpu.js";
import type { Instruction } from "./decoder.js";
import { CR0_AM, ECX, EDI, ES, ESI, FLAG_AC } from "./registers.js";

/**
 * REP MOVS/STOS with DF=0 over RAM: runs as many iterations as stay inside one 4 KiB page per
 * operand and inside the segment limits, as one typed-array fill or copy. It only runs when every
 * iteration of the chunk would take the element loop's fast path (TLB write/read tag valid, so the
 * page is RAM, dirty, logged and not watched for code; no segment, alignment or breakpoint check
 * that could fire), which makes the result and the registers exactly those of the element loop.
 * Returns the number of iterations done (0: the caller runs the next iteration element by element,
 * which faults, exits or opens the page's tags exactly as before).
 */
export function repeatWithinPage(
  cpu: Cpu,
  insn: Instruction,
  movs: boolean,
  size: number,
  mask: number,
  budget: number,
): number {
  if (cpu.debugRegisters.dataArmed) return 0;
  const regs = cpu.regs;
  const address32 = mask === -1;
  const count = address32 ? regs[ECX] >>> 0 : regs[ECX] & 0xffff;
  const bytes = 1 << size;
  const di = address32 ? regs[EDI] >>> 0 : regs[EDI] & 0xffff;
  const dstLinear = (cpu.segBase[ES] + di) | 0;
  let n = Math.min(
    count,
    budget,
    elementsWithinLimit(cpu, ES, di, bytes, mask),
    elementsInPage(dstLinear, bytes),
  );
  if (n < 2 || alignmentChecked(cpu, dstLinear, bytes)) return 0;
  const tlb = cpu.mmu.tlb;
  const dstPage = dstLinear >>> 12;
  const de = dstPage & TLB_MASK;
  if (tlb.writeTag[de] !== dstPage) return 0;
  const dst = tlb.bytes[de];
  const dstIndex = tlb.offset[de] + (dstLinear & 0xfff);
  let si = 0;
  if (movs) {
    const segment = insn.segment;
    si = address32 ? regs[ESI] >>> 0 : regs[ESI] & 0xffff;
    const srcLinear = (cpu.segBase[segment] + si) | 0;
    n = Math.min(n, elementsWithinLimit(cpu, segment, si, bytes, mask), elementsInPage(srcLinear, bytes));
    if (n < 2 || alignmentChecked(cpu, srcLinear, bytes)) return 0;
    const srcPage = srcLinear >>> 12;
    const se = srcPage & TLB_MASK;
    if (tlb.readTag[se] !== srcPage) return 0;
    if (!copyForward(tlb.bytes[se], tlb.offset[se] + (srcLinear & 0xfff), dst, dstIndex, n * bytes, bytes)) {
      return 0;
    }
  } else {
    fillPattern(dst, dstIndex, n * bytes, cpu.getReg(size, 0), bytes);
  }
  const total = n * bytes;
  if (address32) {
    regs[ECX] = (count - n) | 0;
    regs[EDI] = (di + total) | 0;
    if (movs) regs[ESI] = (si + total) | 0;
  } else {
    const regs16 = cpu.regs16;
    regs16[ECX << 1] = count - n;
    regs16[EDI << 1] = di + total;
    if (movs) regs16[ESI << 1] = si + total;
  }
  cpu.checkpoint();
  return n;
}

/**
 * Whole elements from `offset` on that pass the segment check without faulting or wrapping: none
 * when the segment needs the slow checks (unusable, read-only, expand-down) or the first overruns.
 */
function elementsWithinLimit(cpu: Cpu, segment: number, offset: number, bytes: number, mask: number): number {
  if (cpu.segChecks[segment] !== 0) return 0;
  const last = Math.min(cpu.segLimit[segment] >>> 0, mask >>> 0);
  if (offset + bytes - 1 > last) return 0;
  return Math.floor((last - offset + 1) / bytes);
}

function elementsInPage(linear: number, bytes: number): number {
  return Math.floor((4096 - (linear & 0xfff)) / bytes);
}

/** Whether a misaligned access here would be checked for #AC (every element shares the alignment). */
function alignmentChecked(cpu: Cpu, linear: number, bytes: number): boolean {
  return (
    (linear & (bytes - 1)) !== 0 &&
    (cpu.cr0 & CR0_AM) !== 0 &&
    (cpu.flags.bits & FLAG_AC) !== 0 &&
    cpu.cpl === 3
  );
}

/**
 * Copies `total` bytes as ascending `bytes`-sized elements would. When the destination starts inside
 * the source (same host memory), earlier elements feed later ones: a byte loop reproduces that as
 * long as the distance is at least one element; closer than that each element reads bytes its own
 * write overlaps, and false leaves it to the element loop.
 */
function copyForward(
  src: Uint8Array,
  srcIndex: number,
  dst: Uint8Array,
  dstIndex: number,
  total: number,
  bytes: number,
): boolean {
  const distance =
    src.buffer === dst.buffer ? dst.byteOffset + dstIndex - (src.byteOffset + srcIndex) : total;
  if (distance > 0 && distance < total) {
    if (distance < bytes) return false;
    for (let i = 0; i < total; i++) dst[dstIndex + i] = src[srcIndex + i];
    return true;
  }
  // No overlap, or the destination below the source: each element is read before any later write
  // reaches it, which is what set() (memmove) gives.
  dst.set(src.subarray(srcIndex, srcIndex + total), dstIndex);
  return true;
}

/** Stores `value` (little-endian, `bytes` wide) `total / bytes` times from `index`. */
function fillPattern(dst: Uint8Array, index: number, total: number, value: number, bytes: number): void {
  const low = value & 0xff;
  const widthMask = bytes === 4 ? -1 : bytes === 2 ? 0xffff : 0xff;
  if (((value ^ (low * 0x01010101)) & widthMask) === 0) {
    dst.fill(low, index, index + total);
    return;
  }
  for (let i = 0; i < bytes; i++) dst[index + i] = value >> (8 * i);
  for (let filled = bytes; filled < total; filled *= 2) {
    dst.copyWithin(index + filled, index, index + Math.min(filled, total - filled));
  }
}

// Compares the host CPU's and the interpreter's results for one case, over what the SDM defines.
import { CODE_ENTRY, DATA_BASE, type FuzzCase, type MachineResult, VECTOR_PF } from "./protocol.js";

const REGISTER_NAMES = ["eax", "ecx", "edx", "ebx", "esp", "ebp", "esi", "edi"];
const hex = (v: number) => `0x${(v >>> 0).toString(16)}`;

/** The differences in defined results (empty: they agree). */
export function compareResults(c: FuzzCase, host: MachineResult, emulated: MachineResult): string[] {
  const differences: string[] = [];
  if (host.vector !== emulated.vector) {
    differences.push(`ended with vector ${emulated.vector}, host ${host.vector}`);
    return differences;
  }
  // A page fault means the instruction touched unmapped memory: the host stopped there, while the
  // interpreter reports the access to its host (KVM-style MMIO exit). Nothing else is comparable.
  if (host.vector === VECTOR_PF) return differences;
  if (host.eip !== emulated.eip) differences.push(`eip=${hex(emulated.eip)}, host ${hex(host.eip)}`);
  for (let r = 0; r < 8; r++) {
    if ((c.regsUnchecked & (1 << r)) !== 0) continue;
    if (host.regs[r] !== emulated.regs[r]) {
      differences.push(`${REGISTER_NAMES[r]}=${hex(emulated.regs[r])}, host ${hex(host.regs[r])}`);
    }
  }
  const flagDifference = (host.eflags ^ emulated.eflags) & c.flagsChecked;
  if (flagDifference !== 0) {
    differences.push(
      `eflags=${hex(emulated.eflags)}, host ${hex(host.eflags)} (differ ${hex(flagDifference)} in checked ${hex(c.flagsChecked)})`,
    );
  }
  const unchecked = new Set(c.memoryUnchecked);
  const offsets = new Set([...host.changes.keys(), ...emulated.changes.keys()]);
  for (const offset of [...offsets].sort((a, b) => a - b)) {
    if (unchecked.has(offset)) continue;
    const h = host.changes.get(offset);
    const e = emulated.changes.get(offset);
    if (h !== e) {
      differences.push(
        `[${hex(DATA_BASE + offset)}]=${e === undefined ? "unchanged" : hex(e)}, host ${h === undefined ? "unchanged" : hex(h)}`,
      );
    }
  }
  return differences;
}

/** A self-contained reproducer: the case, and the command that regenerates it. */
export function formatReproducer(seed: number, index: number, c: FuzzCase, differences: string[]): string {
  return [
    `MISMATCH case ${index} of seed ${seed}: ${c.name}`,
    `  code: ${c.code.map((b) => b.toString(16).padStart(2, "0")).join(" ")} at ${hex(CODE_ENTRY)}`,
    `  regs: ${REGISTER_NAMES.map((n, r) => `${n}=${hex(c.regs[r])}`).join(" ")}`,
    `  eflags=${hex(c.eflags)} memorySeed=${hex(c.memorySeed)} pokes=${JSON.stringify(c.pokes)}`,
    `  differences: ${differences.join("; ")}`,
    `  rerun: pnpm fuzz:cpu --seed ${seed} --case ${index}`,
  ].join("\n");
}

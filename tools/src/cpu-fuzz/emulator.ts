// Runs fuzz cases on cpu-x86, set up as KVM_SET_SREGS would leave a flat 32-bit protected-mode
// user: CS/DS/ES/SS caches are 4 GiB segments with base 0, and memory is the oracle's layout.
import { Cpu, CR0_ET, CR0_PE, STOP_HLT, STOP_MMIO } from "@tsvmm/cpu-x86";
import { PhysicalMemory } from "@tsvmm/ept";
import {
  CODE_BASE,
  CODE_ENTRY,
  CODE_SIZE,
  DATA_BASE,
  DATA_SIZE,
  type FuzzCase,
  initialMemory,
  type MachineResult,
  VECTOR_PF,
} from "./protocol.js";

/** Descriptor attributes: present, DPL 3, 32-bit (D/B), 4 KiB granular; code execute/read, data read/write. */
const CODE_ATTRIBUTES = 0xc0fb;
const DATA_ATTRIBUTES = 0xc0f3;
const FLAT_LIMIT = -1;

/** A CPU whose interrupt delivery records the vector and stops, as the host's signal handler does. */
class RecordingCpu extends Cpu {
  vector = -1;

  override deliverInterrupt(vector: number, _errorCode: number): void {
    if (this.vector < 0) this.vector = vector;
    this.halted = true;
  }
}

export class EmulatorRunner {
  private readonly memory = new PhysicalMemory();
  private cpu: RecordingCpu;
  /** The code page as the case wants it: INT3 everywhere, the instruction at CODE_ENTRY. */
  private readonly code = new Uint8Array(CODE_SIZE);
  private readonly data: Uint8Array;
  private readonly initial = new Uint8Array(DATA_SIZE);
  private readonly dataWords: Int32Array;
  private readonly initialWords: Int32Array;

  constructor(private readonly selectors: readonly number[]) {
    this.memory.setUserMemoryRegion({ slot: 0, guestPhysAddr: CODE_BASE, memorySize: CODE_SIZE });
    this.data = this.memory.setUserMemoryRegion({
      slot: 1,
      guestPhysAddr: DATA_BASE,
      memorySize: DATA_SIZE,
    })!.bytes;
    this.cpu = new RecordingCpu(this.memory);
    this.dataWords = new Int32Array(this.data.buffer, this.data.byteOffset, DATA_SIZE / 4);
    this.initialWords = new Int32Array(this.initial.buffer, 0, DATA_SIZE / 4);
  }

  /** Runs one case; `problem` describes an interpreter stop that no hardware outcome explains. */
  run(c: FuzzCase): MachineResult & { problem?: string } {
    const { cpu, code, data, initial, memory } = this;
    initialMemory(initial, c);
    data.set(initial);
    code.fill(0xcc);
    code.set(c.code, CODE_ENTRY - CODE_BASE);
    // Through PhysicalMemory, so the CPU drops anything it decoded from the previous case's code.
    memory.write(CODE_BASE, code);
    cpu.reset();
    for (let s = 0; s < 6; s++) {
      cpu.segSelector[s] = this.selectors[s];
      cpu.segBase[s] = 0;
      cpu.segLimit[s] = FLAT_LIMIT;
      cpu.segAttributes[s] = s === 1 ? CODE_ATTRIBUTES : DATA_ATTRIBUTES;
    }
    cpu.cr0 = CR0_PE | CR0_ET;
    cpu.updateCodeMode();
    for (let r = 0; r < 8; r++) cpu.regs[r] = c.regs[r];
    cpu.flags.load(c.eflags);
    cpu.eip = CODE_ENTRY;
    cpu.vector = -1;
    cpu.internalError = "";
    const stop = cpu.run(4);
    let vector = cpu.vector;
    let problem: string | undefined;
    if (stop === STOP_MMIO || cpu.internalError.startsWith("instruction fetch from non-RAM"))
      vector = VECTOR_PF;
    else if (stop !== STOP_HLT || vector < 0) {
      problem = `interpreter stopped with reason ${stop}${cpu.internalError === "" ? "" : `: ${cpu.internalError}`}`;
    }
    // A host exit leaves an access pending (a read waiting for data, writes to deliver): start the
    // next case on a fresh CPU rather than replaying it.
    if (stop !== STOP_HLT) this.cpu = new RecordingCpu(memory);
    const changes = new Map<number, number>();
    const words = this.dataWords;
    const initialWords = this.initialWords;
    for (let w = 0; w < words.length; w++) {
      if (words[w] === initialWords[w]) continue;
      for (let i = w * 4; i < w * 4 + 4; i++) if (data[i] !== initial[i]) changes.set(i, data[i]);
    }
    return {
      vector,
      eip: cpu.eip | 0,
      regs: Array.from(cpu.regs.subarray(0, 8)),
      eflags: cpu.flags.get(),
      changes,
      problem,
    };
  }
}

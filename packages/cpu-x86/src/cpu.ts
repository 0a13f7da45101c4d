import type { PhysicalMemory } from "@tsvmm/ept";
import {
  ACCESS_EXECUTE,
  ACCESS_READ,
  ACCESS_WRITE,
  MMU_NON_CANONICAL,
  MMU_NOT_RAM,
  MMU_PAGE_FAULT,
  Mmu,
  TLB_BITS,
  TLB_MASK,
  type Tlb,
} from "@tsvmm/mmu";
import {
  CPU_MODEL_P6,
  type CpuModel,
  cpuid,
  FEATURE_FXSR,
  FEATURE_PAT,
  FEATURE_PSE36,
  processorSignature,
} from "./cpu-model.js";
import { DebugRegisters } from "./debug-registers.js";
import { type DecodeProfile, decodeProfileFor } from "./decode-profile.js";
import {
  type CodeSource,
  DECODE_OK,
  decode,
  Instruction,
  MAX_INSTRUCTION_LENGTH,
  NO_REG,
} from "./decoder.js";
import { execute } from "./execute.js";
import { Flags, SIZE8, SIZE16, SIZE32 } from "./flags.js";
import { type CodePage, InstructionCache } from "./instruction-cache.js";
import { deliverProtected, SOURCE_EXTERNAL, SOURCE_SOFTWARE } from "./interrupts-protected.js";
import { MsrFile } from "./msr.js";
import { EXT_FXSR } from "./opcode-table.js";
import {
  CR0_AM,
  CR0_ET,
  CR0_PE,
  CS,
  EXC_AC,
  EXC_DB,
  EXC_DF,
  EXC_GP,
  EXC_NMI,
  EXC_PF,
  EXC_SS,
  EXC_UD,
  FLAG_AC,
  FLAG_ID,
  FLAG_IF,
  FLAG_RF,
  FLAG_TF,
  FLAG_VIF,
  FLAG_VIP,
  FLAG_VM,
  SS,
} from "./registers.js";
import { loadDataSegmentProtected } from "./segment-load.js";
import { isStraightLine, STRAIGHT_LINE_16, STRAIGHT_LINE_32 } from "./straight-line.js";
import { checkIoPermission } from "./system-instructions.js";
import { X87 } from "./x87/x87.js";

/** Why Cpu.run() returned. */
export const STOP_NONE = 0;
/** The instruction budget ran out. */
export const STOP_BUDGET = 1;
/** An I/O port access needs the host (see `pendingAccess`). */
export const STOP_IO = 2;
/** An access to guest-physical space with no RAM behind it needs the host. */
export const STOP_MMIO = 3;
/** HLT with nothing to wake the CPU. */
export const STOP_HLT = 4;
/** A triple fault: the CPU is dead until reset. */
export const STOP_SHUTDOWN = 5;
/** Something the interpreter cannot emulate (see `internalError`). */
export const STOP_INTERNAL_ERROR = 6;
/** An interrupt can be injected now (requested through `requestInterruptWindow`). */
export const STOP_IRQ_WINDOW = 7;

/** Access kinds recorded for the host. */
export const ACCESS_IO = 0;
export const ACCESS_MMIO = 1;

/** Thrown (as this constant, so nothing is allocated) to abandon the current instruction. */
const ABORT = { abort: true } as const;

/** Bits of Cpu.segChecks. */
const SEGMENT_UNUSABLE = 1;
const SEGMENT_READ_ONLY = 2;
const SEGMENT_EXPAND_DOWN = 4;
const SEGMENT_NO_READ = 8;

const TLB_SIZE = 1 << TLB_BITS;
/** A frozen empty code page: lookups in it miss, and nothing can be stored in it. */
const NO_CODE: CodePage = Object.freeze(new Array<Instruction | undefined>(4096)) as CodePage;
const MAX_QUEUED_WRITES = 16;
const MAX_REPLAYED_READS = 16;

/** One queued host access (port or MMIO), delivered to the host one exit at a time. */
export interface HostAccess {
  kind: number;
  address: number;
  size: number;
  write: boolean;
  /** The written value (low 32 bits). */
  value: number;
}

/** Receives code-relevant events: used by tests and, later, by a block translator. */
export interface CpuOptions {
  model?: CpuModel;
  /**
   * The time-stamp counter's source, in TSC ticks (a double, exact to 2^53). A VM passes its
   * virtual clock so RDTSC, the APIC timer and the PIT agree; by default the TSC counts
   * retired instructions.
   */
  tscSource?: () => number;
  /**
   * Adjusts CPUID results after the model filled them (leaf, subleaf, EAX/EBX/ECX/EDX in `out`):
   * the hypervisor's view of per-vCPU bits such as the APIC ID and the APIC's enable state.
   */
  cpuidAdjust?: (leaf: number, subleaf: number, out: Int32Array) => void;
  /** The x87 FERR# output (unmasked exception pending with CR0.NE=0); a PC host routes it to IRQ13. */
  onFerr?: (asserted: boolean) => void;
  /**
   * REP MOVS/STOS over RAM run a page at a time with typed-array copies (default). Tests turn this
   * off to compare against the element-by-element loop, which must give the same results.
   */
  stringFastPath?: boolean;
  /**
   * Cached straight-line instructions (straight-line.ts) of one code page run back to back, without the
   * per-instruction checks for interrupts, breakpoints and single-step that they cannot change (default).
   * Tests turn this off to compare against one full step per instruction, which must give the same results.
   */
  straightLineRuns?: boolean;
}

/**
 * The x86 CPU interpreter. One instance is one vCPU. The register file is typed arrays; memory goes
 * through a page-granular cache of host byte arrays; accesses that need the host (port I/O, MMIO)
 * stop run() with a recorded access, KVM-style, and the host completes reads before the next run().
 *
 * Instructions commit architectural state only after every access that can fault or stop has been
 * made, so any instruction can be restarted from its first byte.
 */
export class Cpu implements CodeSource {
  readonly model: CpuModel;
  /** CpuOptions.stringFastPath. */
  readonly stringFastPath: boolean;
  /** CpuOptions.straightLineRuns. */
  readonly straightLineRuns: boolean;
  /** EAX..EDI (R8..R15 later), as int32; 16- and 8-bit views alias the same bytes. */
  readonly regs = new Int32Array(16);
  readonly regs16 = new Uint16Array(this.regs.buffer);
  readonly regs8 = new Uint8Array(this.regs.buffer);
  eip = 0;
  readonly flags = new Flags();
  /** The x87 FPU. */
  readonly fpu = new X87();

  /** Segment registers ES CS SS DS FS GS: visible selector and hidden descriptor cache. */
  readonly segSelector = new Uint16Array(6);
  readonly segBase = new Int32Array(6);
  readonly segLimit = new Int32Array(6);
  /** Descriptor attributes (type, S, DPL, P, AVL, L, D/B, G) in the layout of descriptor bits 40-55. */
  readonly segAttributes = new Int32Array(6);

  cr0 = CR0_ET;
  cr2 = 0;
  cr3 = 0;
  cr4 = 0;
  gdtBase = 0;
  gdtLimit = 0xffff;
  idtBase = 0;
  idtLimit = 0x3ff;
  /** Time-stamp counter, as hi/lo halves. */
  tscLow = 0;
  tscHigh = 0;
  /** Current privilege level: CS.RPL in protected mode, 3 in virtual-8086 mode, 0 in real mode. */
  private cplValue = 0;
  /** LDTR and TR with their hidden caches. */
  ldtSelector = 0;
  ldtBase = 0;
  ldtLimit = 0xffff;
  trSelector = 0;
  trBase = 0;
  trLimit = 0xffff;
  trAttributes = 0x8b;
  efer = 0;
  /** EFER bits WRMSR may set: NXE when the model has NX. */
  readonly eferWritableMask: number;
  readonly msrs = new MsrFile();
  readonly debugRegisters = new DebugRegisters();
  /**
   * The time-stamp counter is the instruction count plus this offset (a deterministic virtual
   * clock; WRMSR to the TSC moves the offset). Kept as a double: exact far beyond 2^32.
   */
  private tscOffset = 0;
  private readonly tscSource: (() => number) | undefined;
  private readonly cpuidAdjust: ((leaf: number, subleaf: number, out: Int32Array) => void) | undefined;
  /** An NMI waits here until the CPU can take it; NMIs are then blocked until the next IRET. */
  nmiPending = false;
  nmiBlocked = false;
  /** Debug traps: a data breakpoint matched in this instruction; traps held over by MOV SS. */
  private dataBreakpointHit = false;
  private deferredSingleStep = false;
  private deferredDataBreakpoint = false;
  private stackSegmentLoaded = false;
  /** The descriptor most recently read by fetchDescriptor (two 32-bit words). */
  descriptorLow = 0;
  descriptorHigh = 0;
  /** Scratch space for call-gate parameters and task-switch state (no allocation per transfer). */
  readonly scratchParameters = new Int32Array(32);
  readonly scratchTaskState = new Int32Array(18);
  /**
   * Per segment: nonzero when accesses need more than the plain limit check (a null selector, an
   * expand-down segment, a segment that may not be written). Keeps the common path one compare.
   */
  readonly segChecks = new Uint8Array(6);

  halted = false;
  /** Code segment default size (CS.D) and the instruction-pointer mask it implies. */
  code32 = false;
  ipMask = 0xffff;
  /** Stack segment size (SS.B). */
  stack32 = false;

  /** Interrupts: a vector injected by the host, delivered when IF allows. -1 when none. */
  pendingInterrupt = -1;
  /** STI and MOV/POP SS block interrupts until the end of the next instruction. */
  interruptShadow = false;
  requestInterruptWindow = false;

  /** The instruction being executed, decoded. */
  readonly insn = new Instruction();
  /** EIP of the first byte of the current instruction. */
  instructionStart = 0;
  /** Instructions retired since creation (hi/lo would only be needed past 2^53). */
  instructionCount = 0;

  /** The host access that stopped run(), valid when run() returned STOP_IO or STOP_MMIO. */
  readonly pendingAccess: HostAccess = { kind: 0, address: 0, size: 0, write: false, value: 0 };
  internalError = "";

  private readonly physicalMemory: PhysicalMemory;
  private readonly decodeProfile: DecodeProfile;
  private readonly decodeExtensions: number;

  /** Paging and the TLB: linear -> guest-physical -> host bytes (see @tsvmm/mmu). */
  readonly mmu: Mmu;
  private readonly tlb: Tlb;
  /** Whether accesses run with user rights (CPL 3); the MMU's fast-path tags follow it. */
  private userMode = false;
  /** Per TLB entry: the decoded instructions of the frame it maps, valid while the frame matches. */
  private readonly tlbCode: CodePage[] = new Array<CodePage>(TLB_SIZE).fill(NO_CODE);
  private readonly tlbCodeFrame = new Float64Array(TLB_SIZE).fill(-1);
  private codeGeneration = 0;
  /** Decoded instructions by guest-physical page (see instruction-cache.ts). */
  readonly instructionCache = new InstructionCache();

  /** Host writes made by the current instruction, delivered one per run() return. */
  private readonly queuedWrites: HostAccess[] = [];
  private queuedWriteCount = 0;
  private committedWriteCount = 0;
  private deliveredWriteCount = 0;
  /** Values the host supplied for reads, replayed when the stopped instruction runs again. */
  private readonly replayedReads = new Int32Array(MAX_REPLAYED_READS);
  private replayedReadCount = 0;
  private replayCursor = 0;
  /** A read is waiting for the host's data. */
  private readPending = false;
  private readReported = false;
  private readonly readRequest: HostAccess = { kind: 0, address: 0, size: 0, write: false, value: 0 };
  private stopReason = STOP_NONE;

  private exceptionVector = -1;
  private exceptionErrorCode = -1;

  constructor(memory: PhysicalMemory, options: CpuOptions = {}) {
    this.physicalMemory = memory;
    this.model = options.model ?? CPU_MODEL_P6;
    this.stringFastPath = options.stringFastPath ?? true;
    this.straightLineRuns = options.straightLineRuns ?? true;
    this.decodeProfile = decodeProfileFor(this.model);
    // Instruction-set extensions decode only when the model has them (and the executor implements them).
    this.decodeExtensions = (this.model.featuresEdx & FEATURE_FXSR) !== 0 ? EXT_FXSR : 0;
    this.flags.fixedOne = this.model.flagsFixedOne;
    this.eferWritableMask = ((this.model.extendedFeaturesEdx ?? 0) & (1 << 20)) !== 0 ? 1 << 11 : 0;
    this.mmu = new Mmu(memory, {
      physicalAddressBits: Math.max(20, this.model.physicalAddressBits),
      pse36: (this.model.featuresEdx & FEATURE_PSE36) !== 0,
      pat: (this.model.featuresEdx & FEATURE_PAT) !== 0,
      pages1G: false,
    });
    this.tlb = this.mmu.tlb;
    this.mmu.setCodeWriteListener((physicalAddress) => this.dropCode(Math.floor(physicalAddress / 4096)));
    for (let i = 0; i < MAX_QUEUED_WRITES; i++) {
      this.queuedWrites.push({ kind: 0, address: 0, size: 0, write: true, value: 0 });
    }
    memory.onChange(() => this.instructionCache.clear());
    // Devices writing guest memory (DMA) must drop decoded instructions of the pages they change.
    memory.onWrite((address, length) => {
      if (length <= 0) return;
      const last = Math.floor((address + length - 1) / 4096);
      for (let frame = Math.floor(address / 4096); frame <= last; frame++) {
        if (this.instructionCache.holdsCode(frame)) this.dropCode(frame);
      }
    });
    this.fpu.onFerr = options.onFerr;
    this.tscSource = options.tscSource;
    this.cpuidAdjust = options.cpuidAdjust;
    this.reset();
  }

  /** The architectural reset state (INIT): real mode at F000:FFF0 with CS base FFFF0000. */
  reset(): void {
    this.regs.fill(0);
    this.regs[2] = processorSignature(this.model);
    this.eip = 0xfff0;
    this.flags.load(0);
    for (let s = 0; s < 6; s++) this.loadRealModeSegment(s, 0);
    this.segSelector[CS] = 0xf000;
    this.segBase[CS] = 0xffff0000 | 0;
    this.cr0 = CR0_ET;
    this.cr2 = this.cr3 = this.cr4 = 0;
    this.gdtBase = 0;
    this.gdtLimit = 0xffff;
    this.idtBase = 0;
    this.idtLimit = 0xffff;
    this.halted = false;
    this.pendingInterrupt = -1;
    this.interruptShadow = false;
    this.nmiPending = this.nmiBlocked = false;
    // A reset abandons whatever the host was asked to complete.
    this.readPending = this.readReported = false;
    this.queuedWriteCount = this.committedWriteCount = this.deliveredWriteCount = 0;
    this.replayedReadCount = this.replayCursor = 0;
    this.cpl = 0;
    this.ldtSelector = this.ldtBase = 0;
    this.ldtLimit = 0xffff;
    this.trSelector = this.trBase = 0;
    this.trLimit = 0xffff;
    this.trAttributes = 0x8b;
    this.efer = 0;
    this.msrs.reset();
    this.debugRegisters.reset();
    this.segChecks.fill(0);
    this.updateCodeMode();
    this.flushTlb();
    this.fpu.reset();
  }

  /** Real-mode (and v86) segment load: base = selector * 16, limit and attributes unchanged. */
  loadRealModeSegment(segment: number, selector: number): void {
    this.segSelector[segment] = selector;
    this.segBase[segment] = (selector & 0xffff) << 4;
    if (segment === CS || this.segLimit[segment] === 0) {
      this.segLimit[segment] = 0xffff;
      this.segAttributes[segment] = segment === CS ? 0x9b : 0x93; // present, accessed code/data
    }
  }

  /**
   * Loads a data or stack segment register (MOV, POP, LDS...) as the current mode requires: real and
   * virtual-8086 mode compute the base from the selector, protected mode loads and checks a
   * descriptor. CS changes only through far transfers (see far-transfer.ts) or in real mode here.
   */
  loadSegment(segment: number, selector: number): void {
    if ((this.cr0 & CR0_PE) === 0) {
      this.loadRealModeSegment(segment, selector);
      if (segment === CS) this.updateCodeMode();
    } else if ((this.flags.bits & FLAG_VM) !== 0) {
      this.loadVirtual8086Segment(segment, selector);
      if (segment === CS) this.updateCodeMode();
    } else if (segment === CS) {
      this.raise(EXC_UD);
    } else {
      loadDataSegmentProtected(this, segment, selector);
    }
    if (segment === SS) {
      this.stack32 = (this.segAttributes[SS] & 0x4000) !== 0;
      this.interruptShadow = true;
      this.stackSegmentLoaded = true;
    }
  }

  /** Virtual-8086 segment load: base = selector * 16, a 64 KiB writable segment at privilege 3. */
  loadVirtual8086Segment(segment: number, selector: number): void {
    this.segSelector[segment] = selector;
    this.segBase[segment] = (selector & 0xffff) << 4;
    this.segLimit[segment] = 0xffff;
    this.segAttributes[segment] = segment === CS ? 0xfb : 0xf3;
    this.segChecks[segment] = 0;
  }

  /** Recomputes which extra checks accesses through `segment` need (after a descriptor load). */
  updateSegmentChecks(segment: number): void {
    const attributes = this.segAttributes[segment];
    let checks = 0;
    if ((attributes & 0x80) === 0) checks |= SEGMENT_UNUSABLE;
    else if ((attributes & 0x10) !== 0) {
      if ((attributes & 8) !== 0) {
        checks |= SEGMENT_READ_ONLY; // code is never writable
        if ((attributes & 2) === 0) checks |= SEGMENT_NO_READ; // execute-only code
      } else {
        if ((attributes & 2) === 0) checks |= SEGMENT_READ_ONLY;
        if ((attributes & 4) !== 0) checks |= SEGMENT_EXPAND_DOWN;
      }
    }
    this.segChecks[segment] = checks;
  }

  /** EDX:EAX = the time-stamp counter. */
  /** The TSC as a number (exact below 2^53). */
  timeStampCounter(): number {
    return (this.tscSource === undefined ? this.instructionCount : this.tscSource()) + this.tscOffset;
  }

  readTimeStampCounter(): void {
    const tsc = this.timeStampCounter();
    this.regs[0] = (tsc % 0x100000000) | 0;
    this.regs[2] = Math.floor(tsc / 0x100000000) | 0;
  }

  writeTimeStampCounter(low: number, high: number): void {
    const base = this.tscSource === undefined ? this.instructionCount : this.tscSource();
    this.tscOffset = (high >>> 0) * 0x100000000 + (low >>> 0) - base;
  }

  /** CPUID with the model's answer, adjusted by the hypervisor (see CpuOptions.cpuidAdjust). */
  cpuid(leaf: number, subleaf: number, out: Int32Array): void {
    cpuid(this.model, leaf, subleaf, out);
    this.cpuidAdjust?.(leaf, subleaf, out);
  }

  setEfer(value: number): void {
    if (!this.mmu.setEfer(value)) this.raise(EXC_GP, 0);
    this.efer = value;
  }

  /** Sets CR3 (the page-directory base); non-global translations are dropped. */
  setCr3(value: number): void {
    if (!this.mmu.setCr3(value)) this.raise(EXC_GP, 0);
    this.cr3 = value;
  }

  /** What IRET and POPF may change in EFLAGS depends on the privilege the instruction ran at. */
  setFlagsForIret(value: number, bytes: number, cpl: number): void {
    const current = this.flags.get();
    const iopl = (current >> 12) & 3;
    let mask = 0x4dd5 | FLAG_TF | 0x400; // CF PF AF ZF SF DF OF NT, TF, DF
    if (bytes === 4) mask |= FLAG_RF | FLAG_AC | FLAG_ID;
    if (cpl <= iopl) mask |= FLAG_IF;
    if (cpl === 0) {
      mask |= 0x3000; // IOPL
      if (bytes === 4) mask |= FLAG_VIF | FLAG_VIP | FLAG_VM;
    }
    if (bytes === 2) mask &= 0xffff;
    this.flags.load((current & ~mask) | (value & mask));
  }

  /** A copy of SS, the stack pointer and the CPL, to undo a stack switch when delivery faults. */
  saveStackState(): number[] {
    return [
      this.segSelector[SS],
      this.segBase[SS],
      this.segLimit[SS],
      this.segAttributes[SS],
      this.segChecks[SS],
      this.regs[4],
      this.cpl,
    ];
  }

  restoreStackState(saved: number[]): void {
    this.segSelector[SS] = saved[0];
    this.segBase[SS] = saved[1];
    this.segLimit[SS] = saved[2];
    this.segAttributes[SS] = saved[3];
    this.segChecks[SS] = saved[4];
    this.regs[4] = saved[5];
    this.cpl = saved[6];
    this.stack32 = (this.segAttributes[SS] & 0x4000) !== 0;
  }

  updateCodeMode(): void {
    this.code32 = (this.segAttributes[CS] & 0x4000) !== 0;
    this.ipMask = this.code32 ? -1 : 0xffff;
    this.stack32 = (this.segAttributes[SS] & 0x4000) !== 0;
  }

  setA20(enabled: boolean): void {
    this.mmu.setA20(enabled);
  }

  /**
   * Re-reads CR0/CR3/CR4/EFER into the MMU and drops every translation: after a reset or when the
   * host loads registers directly (KVM_SET_SREGS).
   */
  flushTlb(): void {
    this.mmu.setControlRegisters(this.cr0, this.cr3, this.cr4, this.efer);
    this.mmu.setUserMode(this.cplValue === 3);
    this.userMode = this.cplValue === 3;
  }

  /** The current privilege level; the MMU's user/supervisor rights follow it. */
  get cpl(): number {
    return this.cplValue;
  }

  set cpl(value: number) {
    this.cplValue = value;
    const user = value === 3;
    if (user !== this.userMode) {
      this.userMode = user;
      this.mmu.setUserMode(user);
    }
  }

  /** MOV CR0 (and LMSW, CLTS): the CPU's own checks are done; the MMU may still refuse (PAE PDPTEs). */
  setCr0(value: number): void {
    if (!this.mmu.setCr0(value)) this.raise(EXC_GP, 0);
    this.cr0 = value;
  }

  setCr4(value: number): void {
    if (!this.mmu.setCr4(value)) this.raise(EXC_GP, 0);
    this.cr4 = value;
  }

  /** INVLPG. */
  invalidatePage(linear: number): void {
    this.mmu.invalidatePage(linear);
  }

  // ---------------------------------------------------------------------------------------------
  // The run loop.

  /**
   * Runs until an exit or until `budget` instructions have retired. Returns a STOP_* reason. Before
   * calling again after STOP_IO/STOP_MMIO for a read, the host must call completeRead().
   */
  run(budget: number): number {
    // Writes queued by the last instruction go out one per return, before anything else runs.
    if (this.deliveredWriteCount < this.queuedWriteCount) return this.deliverQueuedWrite();
    this.queuedWriteCount = this.committedWriteCount = this.deliveredWriteCount = 0;
    if (this.readPending) {
      if (!this.readReported) return this.reportRead();
      this.internalError = "run() called before the pending read was completed";
      return STOP_INTERNAL_ERROR;
    }
    const end = this.instructionCount + budget;
    this.stopReason = STOP_NONE;
    while (this.instructionCount < end) {
      if (this.nmiPending && !this.nmiBlocked && !this.interruptShadow) {
        this.nmiPending = false;
        this.nmiBlocked = true;
        this.halted = false;
        this.replayCursor = 0;
        this.deliverEvent(EXC_NMI, -1, false);
        if (this.stopReason !== STOP_NONE) return this.stopReason;
      }
      if (this.pendingInterrupt >= 0 && !this.interruptShadow && (this.flags.bits & FLAG_IF) !== 0) {
        const vector = this.pendingInterrupt;
        this.pendingInterrupt = -1;
        this.halted = false;
        this.replayCursor = 0;
        this.deliverEvent(vector, -1, false);
        if (this.stopReason !== STOP_NONE) return this.stopReason;
      }
      if (this.halted) return STOP_HLT;
      if (
        this.requestInterruptWindow &&
        !this.interruptShadow &&
        (this.flags.bits & FLAG_IF) !== 0 &&
        this.pendingInterrupt < 0
      ) {
        return STOP_IRQ_WINDOW;
      }
      this.interruptShadow = false;
      if (!(this.quiet() && this.runInPage(end))) this.step();
      if (this.stopReason !== STOP_NONE) {
        if (this.readPending) {
          // Writes of completed REP iterations precede the read that stopped the next one.
          if (this.queuedWriteCount > 0) return this.deliverQueuedWrite();
          return this.reportRead();
        }
        return this.stopReason;
      }
      if (this.queuedWriteCount > 0) return this.deliverQueuedWrite();
    }
    return STOP_BUDGET;
  }

  private reportRead(): number {
    this.readReported = true;
    const access = this.pendingAccess;
    const read = this.readRequest;
    access.kind = read.kind;
    access.address = read.address;
    access.size = read.size;
    access.write = false;
    access.value = 0;
    return read.kind === ACCESS_IO ? STOP_IO : STOP_MMIO;
  }

  /**
   * True when nothing the run loop checks between instructions can matter until a non-straight-line
   * instruction runs: no event that could be taken (events are injected only between run() calls, and
   * with IF clear only an instruction that is not straight-line can set it), no single-step, no
   * breakpoints, RF clear. Then runInPage may skip those checks.
   */
  private quiet(): boolean {
    return (
      this.straightLineRuns &&
      ((this.flags.bits & FLAG_IF) === 0 || (this.pendingInterrupt < 0 && !this.requestInterruptWindow)) &&
      !this.nmiPending &&
      (this.flags.bits & (FLAG_TF | FLAG_RF)) === 0 &&
      (this.debugRegisters.control & 0xff) === 0 &&
      !this.deferredSingleStep &&
      !this.deferredDataBreakpoint
    );
  }

  /**
   * Runs the decoded straight-line instructions (straight-line.ts) of the current code page back to back,
   * near branches within the page included: the fetch checks (TLB tag, code size, decoded-instruction
   * cache) are made once, and none of these instructions can change what they checked. It stops before
   * an instruction that is not cached or not straight-line, when the code leaves the page, when a write
   * dropped decoded code, at a host access or a fault, and at `end`. Returns false, having run nothing,
   * when the first instruction is not one it may run: step() takes it.
   */
  private runInPage(end: number): boolean {
    const icache = this.instructionCache;
    const generation = icache.generation;
    if (this.codeGeneration !== generation) return false; // fetchInstruction refreshes the frames first
    const base = this.segBase[CS];
    const limit = this.segLimit[CS] >>> 0;
    const ipMask = this.ipMask;
    // A straight-line instruction decoded for this code size (Instruction.straightLineAs).
    const wanted = this.code32 ? STRAIGHT_LINE_32 : STRAIGHT_LINE_16;
    // Below this EIP any instruction (at most 15 bytes) fits under the CS limit; above it, step() checks.
    const lastFittingEip = limit - (MAX_INSTRUCTION_LENGTH - 1);
    let eip = this.eip;
    const page = ((base + eip) | 0) >>> 12;
    const e = page & TLB_MASK;
    const tlb = this.tlb;
    if (tlb.executeTag[e] !== page || this.tlbCodeFrame[e] !== tlb.physicalPage[e]) return false;
    const code = this.tlbCode[e];
    let ran = false;
    try {
      for (;;) {
        const insn = code[(base + eip) & 0xfff];
        if (insn === undefined || insn.straightLineAs !== wanted || eip >>> 0 > lastFittingEip) return ran;
        this.instructionStart = eip;
        this.replayCursor = 0;
        this.eip = (eip + insn.length) & ipMask;
        execute(this, insn);
        this.instructionCount++;
        this.replayedReadCount = 0;
        this.committedWriteCount = this.queuedWriteCount;
        ran = true;
        if (
          this.stopReason !== STOP_NONE ||
          this.queuedWriteCount > 0 ||
          icache.generation !== generation ||
          this.instructionCount >= end
        ) {
          return true;
        }
        eip = this.eip;
        if (((base + eip) | 0) >>> 12 !== page) return true;
      }
    } catch (e) {
      if (e !== ABORT) throw e;
      this.abandonInstruction();
      return true;
    }
  }

  /** Decodes and executes one instruction; faults are delivered, host stops recorded. */
  private step(): void {
    this.instructionStart = this.eip;
    this.replayCursor = 0;
    const flagsBefore = this.flags.bits;
    this.stackSegmentLoaded = false;
    this.dataBreakpointHit = false;
    try {
      // Instruction breakpoints (DR7) are faults, taken before the instruction unless RF is set.
      if ((this.debugRegisters.control & 0xff) !== 0 && (flagsBefore & FLAG_RF) === 0) {
        const hits = this.debugRegisters.matchInstruction((this.segBase[CS] + this.eip) | 0);
        if (hits !== 0) {
          this.debugRegisters.status |= hits;
          this.flags.bits |= FLAG_RF;
          this.raise(EXC_DB);
        }
      }
      const insn = this.fetchInstruction();
      this.eip = (this.eip + insn.length) & this.ipMask;
      execute(this, insn);
      this.instructionCount++;
      this.replayedReadCount = 0;
      this.committedWriteCount = this.queuedWriteCount;
      this.flags.bits &= ~FLAG_RF;
      // Single-step (TF set when the instruction began, DR6.BS) and data breakpoints are #DB traps
      // after the instruction; after MOV SS/POP SS they wait one more instruction, as on hardware.
      const singleStep = (flagsBefore & FLAG_TF) !== 0 || this.deferredSingleStep;
      const dataBreakpoint = this.dataBreakpointHit || this.deferredDataBreakpoint;
      this.deferredSingleStep = this.deferredDataBreakpoint = false;
      if ((singleStep || dataBreakpoint) && this.stopReason === STOP_NONE) {
        if (this.stackSegmentLoaded) {
          this.deferredSingleStep = singleStep;
          this.deferredDataBreakpoint = dataBreakpoint;
        } else {
          if (singleStep) this.debugRegisters.status |= 1 << 14;
          this.deliverEvent(EXC_DB, -1, true);
        }
      }
    } catch (e) {
      if (e !== ABORT) throw e;
      this.abandonInstruction();
    }
  }

  /** After an ABORT: the instruction never happened; its exception, if it raised one, is delivered. */
  private abandonInstruction(): void {
    this.eip = this.instructionStart;
    this.queuedWriteCount = this.committedWriteCount;
    if (this.exceptionVector >= 0) {
      const vector = this.exceptionVector;
      const errorCode = this.exceptionErrorCode;
      this.exceptionVector = -1;
      this.replayedReadCount = 0;
      this.deliverEvent(vector, errorCode, true);
    }
  }

  private deliverQueuedWrite(): number {
    const write = this.queuedWrites[this.deliveredWriteCount++];
    const access = this.pendingAccess;
    access.kind = write.kind;
    access.address = write.address;
    access.size = write.size;
    access.write = true;
    access.value = write.value;
    if (this.deliveredWriteCount === this.queuedWriteCount) {
      this.queuedWriteCount = this.committedWriteCount = this.deliveredWriteCount = 0;
    }
    return write.kind === ACCESS_IO ? STOP_IO : STOP_MMIO;
  }

  /** The host's answer to the read in pendingAccess; the instruction re-runs and consumes it. */
  completeRead(value: number): void {
    if (!this.readPending) return;
    this.readPending = false;
    this.replayedReads[this.replayedReadCount++] = value;
  }

  /** Marks the end of a REP iteration: completed iterations are never replayed. */
  checkpoint(): void {
    this.replayedReadCount = 0;
    this.replayCursor = 0;
    this.committedWriteCount = this.queuedWriteCount;
  }

  /** Injects an external interrupt (KVM_INTERRUPT); it is taken when IF and the shadow allow. */
  /** Injects a non-maskable interrupt (KVM_NMI): taken at the next boundary, whatever IF says. */
  injectNmi(): void {
    this.nmiPending = true;
  }

  injectInterrupt(vector: number): void {
    this.pendingInterrupt = vector & 0xff;
  }

  get canInjectInterrupt(): boolean {
    return this.pendingInterrupt < 0 && !this.interruptShadow && (this.flags.bits & FLAG_IF) !== 0;
  }

  // ---------------------------------------------------------------------------------------------
  // Exceptions and interrupts.

  /** Raises exception `vector` (errorCode -1: none) and abandons the current instruction. */
  raise(vector: number, errorCode = -1): never {
    this.exceptionVector = vector;
    this.exceptionErrorCode = errorCode;
    throw ABORT;
  }

  /** Stops with an internal error: something the interpreter does not emulate. */
  fail(message: string): never {
    this.internalError = message;
    this.stopReason = STOP_INTERNAL_ERROR;
    throw ABORT;
  }

  /**
   * Delivers an interrupt or exception. A fault while delivering is handled as x86 does: two
   * contributory faults, or a page fault followed by a contributory fault or page fault, make a
   * double fault (#DF); a fault while delivering #DF is a triple fault, which shuts the CPU down.
   */
  private deliverEvent(vector: number, errorCode: number, isException: boolean): void {
    for (;;) {
      try {
        this.deliverInterrupt(vector, errorCode);
        return;
      } catch (e) {
        if (e !== ABORT) throw e;
        if (this.stopReason !== STOP_NONE) return;
        const second = this.exceptionVector;
        const secondErrorCode = this.exceptionErrorCode;
        this.exceptionVector = -1;
        if (isException && vector === EXC_DF) {
          this.stopReason = STOP_SHUTDOWN;
          return;
        }
        const firstClass = isException ? exceptionClass(vector) : BENIGN;
        const secondClass = exceptionClass(second);
        if (
          (firstClass === CONTRIBUTORY && secondClass === CONTRIBUTORY) ||
          (firstClass === PAGE_FAULT && secondClass !== BENIGN)
        ) {
          vector = EXC_DF;
          errorCode = 0;
        } else {
          vector = second;
          errorCode = secondErrorCode;
        }
        isException = true;
      }
    }
  }

  /** Enters the handler for `vector` (real mode: through the IVT). EIP is the return address. */
  deliverInterrupt(vector: number, errorCode: number, software = false): void {
    if ((this.cr0 & CR0_PE) !== 0) {
      deliverProtected(this, vector, errorCode, software ? SOURCE_SOFTWARE : SOURCE_EXTERNAL);
      return;
    }
    const entry = vector * 4;
    if (entry + 3 > this.idtLimit) this.raise(EXC_GP, vector * 8 + 2);
    const offset = this.readLinear16((this.idtBase + entry) | 0);
    const selector = this.readLinear16((this.idtBase + entry + 2) | 0);
    const flags = this.flags.get();
    this.push16Triple(flags, this.segSelector[CS], this.eip);
    this.flags.bits &= ~(FLAG_IF | FLAG_TF | FLAG_AC | FLAG_RF);
    this.loadRealModeSegment(CS, selector);
    this.eip = offset;
  }

  /** Pushes three words (FLAGS, CS, IP) atomically: SP changes only if all three writes succeed. */
  private push16Triple(a: number, b: number, c: number): void {
    const sp = this.stack32 ? this.regs[4] : this.regs16[8];
    const mask = this.stack32 ? -1 : 0xffff;
    this.write16(SS, (sp - 2) & mask, a);
    this.write16(SS, (sp - 4) & mask, b);
    this.write16(SS, (sp - 6) & mask, c);
    this.setStackPointer((sp - 6) & mask);
  }

  // ---------------------------------------------------------------------------------------------
  // Registers.

  /** Reads general register r at `size` (8-bit numbering: AL CL DL BL AH CH DH BH). */
  getReg(size: number, r: number): number {
    if (size === SIZE32) return this.regs[r];
    if (size === SIZE16) return this.regs16[r << 1];
    return this.regs8[((r & 3) << 2) | (r >> 2)];
  }

  setReg(size: number, r: number, value: number): void {
    if (size === SIZE32) this.regs[r] = value;
    else if (size === SIZE16) this.regs16[r << 1] = value;
    else this.regs8[((r & 3) << 2) | (r >> 2)] = value;
  }

  /** SP or ESP, by the stack segment's size. */
  getStackPointer(): number {
    return this.stack32 ? this.regs[4] : this.regs16[8];
  }

  setStackPointer(value: number): void {
    if (this.stack32) this.regs[4] = value;
    else this.regs16[8] = value;
  }

  // ---------------------------------------------------------------------------------------------
  // Operands.

  /** The effective address (offset within the segment) of the current instruction's memory operand. */
  effectiveAddress(insn: Instruction): number {
    let address = insn.displacement;
    if (insn.base !== NO_REG) address += this.regs[insn.base];
    if (insn.index !== NO_REG) address += this.regs[insn.index] << insn.scale;
    return insn.addressSize === SIZE32 ? address | 0 : address & 0xffff;
  }

  readModrm(insn: Instruction, size: number): number {
    if (insn.mod === 3) return this.getReg(size, insn.rm);
    return this.read(size, insn.segment, this.effectiveAddress(insn));
  }

  writeModrm(insn: Instruction, size: number, value: number): void {
    if (insn.mod === 3) this.setReg(size, insn.rm, value);
    else this.write(size, insn.segment, this.effectiveAddress(insn), value);
  }

  // ---------------------------------------------------------------------------------------------
  // Segmented memory access: offset -> linear, with limit checks.

  read(size: number, segment: number, offset: number): number {
    if (size === SIZE8) return this.read8(segment, offset);
    if (size === SIZE16) return this.read16(segment, offset);
    return this.read32(segment, offset);
  }

  write(size: number, segment: number, offset: number, value: number): void {
    if (size === SIZE8) this.write8(segment, offset, value);
    else if (size === SIZE16) this.write16(segment, offset, value);
    else this.write32(segment, offset, value);
  }

  read8(segment: number, offset: number): number {
    return this.readLinear8(this.linear(segment, offset, 1));
  }

  read16(segment: number, offset: number): number {
    if ((offset & 0xffff) === 0xffff && this.model.wrapSegmentOffsets) {
      return this.read8(segment, offset) | (this.read8(segment, (offset + 1) & 0xffff) << 8);
    }
    return this.readLinear16(this.linear(segment, offset, 2));
  }

  read32(segment: number, offset: number): number {
    return this.readLinear32(this.linear(segment, offset, 4));
  }

  /** The linear address for a write: like linear(), and the segment must be writable. */
  linearForWrite(segment: number, offset: number, size: number): number {
    if (this.segChecks[segment] !== 0) return this.linearChecked(segment, offset, size, true);
    const last = (offset >>> 0) + size - 1;
    if (last > this.segLimit[segment] >>> 0) {
      if (this.model.wrapSegmentOffsets) return (this.segBase[segment] + (offset & 0xffff)) | 0;
      this.raise(segment === SS && !this.model.segmentOverrunIsGp ? EXC_SS : EXC_GP, 0);
    }
    return this.checkedAccess((this.segBase[segment] + offset) | 0, size, true);
  }

  /**
   * The slow path of segment checks: unusable (null) segments, expand-down limits, and writes to
   * read-only segments (protected mode only: real mode does not check access rights).
   */
  private linearChecked(segment: number, offset: number, size: number, write: boolean): number {
    const checks = this.segChecks[segment];
    const fault = segment === SS ? EXC_SS : EXC_GP;
    // Real mode checks only limits: the access rights left in a cache by protected mode do not apply.
    const protectedMode = (this.cr0 & CR0_PE) !== 0;
    if ((checks & SEGMENT_UNUSABLE) !== 0 && protectedMode) this.raise(fault, 0);
    if (write && (checks & SEGMENT_READ_ONLY) !== 0 && protectedMode) this.raise(EXC_GP, 0);
    if (!write && (checks & SEGMENT_NO_READ) !== 0 && protectedMode) this.raise(EXC_GP, 0);
    const first = offset >>> 0;
    const last = first + size - 1;
    if ((checks & SEGMENT_EXPAND_DOWN) !== 0) {
      // Valid offsets lie above the limit, up to 64 KiB or 4 GiB by the B bit.
      const upper = (this.segAttributes[segment] & 0x4000) !== 0 ? 0xffffffff : 0xffff;
      if (first <= this.segLimit[segment] >>> 0 || last > upper) this.raise(fault, 0);
    } else if (last > this.segLimit[segment] >>> 0) {
      this.raise(fault, 0);
    }
    return this.checkedAccess((this.segBase[segment] + offset) | 0, size, write);
  }

  /**
   * Checks that apply to the linear address of a data access: alignment (#AC with CR0.AM, EFLAGS.AC
   * at CPL 3) for misaligned accesses, and data breakpoints when DR7 arms any. Both are rare, so the
   * common path is one mask test and one field test.
   */
  private checkedAccess(address: number, size: number, write: boolean): number {
    if ((address & (size - 1)) !== 0 && (this.cr0 & CR0_AM) !== 0 && (this.flags.bits & FLAG_AC) !== 0) {
      if (this.cplValue === 3) this.raise(EXC_AC, 0);
    }
    if (this.debugRegisters.dataArmed) {
      const hits = this.debugRegisters.matchData(address, size, write);
      if (hits !== 0) {
        this.debugRegisters.status |= hits;
        this.dataBreakpointHit = true;
      }
    }
    return address;
  }

  write8(segment: number, offset: number, value: number): void {
    this.writeLinear8(this.linearForWrite(segment, offset, 1), value);
  }

  write16(segment: number, offset: number, value: number): void {
    if ((offset & 0xffff) === 0xffff && this.model.wrapSegmentOffsets) {
      // Check both bytes are writable before writing either, so a fault leaves memory unchanged.
      this.linear(segment, offset, 1);
      this.write8(segment, offset, value);
      this.write8(segment, (offset + 1) & 0xffff, value >> 8);
      return;
    }
    this.writeLinear16(this.linearForWrite(segment, offset, 2), value);
  }

  write32(segment: number, offset: number, value: number): void {
    this.writeLinear32(this.linearForWrite(segment, offset, 4), value);
  }

  /** Segment base + offset, after the limit check (#SS for the stack segment, #GP otherwise). */
  linear(segment: number, offset: number, size: number): number {
    const last = (offset >>> 0) + size - 1;
    if (this.segChecks[segment] !== 0) return this.linearChecked(segment, offset, size, false);
    if (last > this.segLimit[segment] >>> 0) {
      if (this.model.wrapSegmentOffsets) return (this.segBase[segment] + (offset & 0xffff)) | 0;
      this.raise(segment === SS && !this.model.segmentOverrunIsGp ? EXC_SS : EXC_GP, 0);
    }
    return this.checkedAccess((this.segBase[segment] + offset) | 0, size, false);
  }

  /** Instruction fetch: byte `index` of the current instruction (CodeSource). */
  codeByte(index: number): number {
    const maxLength = this.model.maxInstructionLength;
    if (index >= maxLength && maxLength !== 0) this.raise(EXC_GP, 0);
    const offset = (this.instructionStart + index) & this.ipMask;
    if (offset >>> 0 > this.segLimit[CS] >>> 0) this.raise(EXC_GP, 0);
    const linear = (this.segBase[CS] + offset) | 0;
    const tlb = this.tlb;
    const page = linear >>> 12;
    const e = page & TLB_MASK;
    if (tlb.executeTag[e] === page) return tlb.bytes[e][tlb.offset[e] + (linear & 0xfff)];
    const r = this.mmu.fillEntry(linear, 0, ACCESS_EXECUTE, this.userMode);
    if (r < 0) {
      if (r === MMU_NOT_RAM) {
        this.fail(
          `instruction fetch from non-RAM physical address 0x${this.mmu.physicalAddress.toString(16)}`,
        );
      }
      this.translationFault(r);
    }
    return tlb.bytes[r][tlb.offset[r] + (linear & 0xfff)];
  }

  // ---------------------------------------------------------------------------------------------
  // Linear memory: the MMU's TLB holds host views of guest RAM; what is not RAM becomes MMIO.

  /**
   * Accesses the CPU makes for itself (descriptor tables, the TSS): always with supervisor rights,
   * whatever the CPL.
   */
  readLinearSystem8(linear: number): number {
    const e = this.systemEntry(linear, ACCESS_READ);
    if (e < 0) return this.hostRead(ACCESS_MMIO, this.mmu.physicalAddress, 1);
    return this.tlb.bytes[e][this.tlb.offset[e] + (linear & 0xfff)];
  }

  readLinearSystem16(linear: number): number {
    return this.readLinearSystem8(linear) | (this.readLinearSystem8((linear + 1) | 0) << 8);
  }

  readLinearSystem32(linear: number): number {
    return this.readLinearSystem16(linear) | (this.readLinearSystem16((linear + 2) | 0) << 16);
  }

  writeLinearSystem8(linear: number, value: number): void {
    const e = this.systemEntry(linear, ACCESS_WRITE);
    if (e < 0) this.hostWrite(ACCESS_MMIO, this.mmu.physicalAddress, 1, value & 0xff);
    else this.tlb.bytes[e][this.tlb.offset[e] + (linear & 0xfff)] = value;
  }

  writeLinearSystem16(linear: number, value: number): void {
    this.systemEntry(linear, ACCESS_WRITE);
    this.systemEntry((linear + 1) | 0, ACCESS_WRITE);
    this.writeLinearSystem8(linear, value);
    this.writeLinearSystem8((linear + 1) | 0, value >> 8);
  }

  writeLinearSystem32(linear: number, value: number): void {
    this.systemEntry(linear, ACCESS_WRITE);
    this.systemEntry((linear + 3) | 0, ACCESS_WRITE);
    this.writeLinearSystem16(linear, value);
    this.writeLinearSystem16((linear + 2) | 0, value >> 16);
  }

  /** A supervisor-rights TLB entry for `linear`, or -1 when it is not RAM (mmu.physicalAddress). */
  private systemEntry(linear: number, access: number): number {
    const r = this.mmu.fillEntry(linear, 0, access, false);
    if (r >= 0) return r;
    if (r === MMU_NOT_RAM) return -1;
    return this.translationFault(r);
  }

  readLinear8(linear: number): number {
    const tlb = this.tlb;
    const page = linear >>> 12;
    const e = page & TLB_MASK;
    if (tlb.readTag[e] === page) return tlb.bytes[e][tlb.offset[e] + (linear & 0xfff)];
    const r = this.mmu.fillEntry(linear, 0, ACCESS_READ, this.userMode);
    if (r >= 0) return tlb.bytes[r][tlb.offset[r] + (linear & 0xfff)];
    return this.slowRead(r, 1);
  }

  readLinear16(linear: number): number {
    if ((linear & 0xfff) === 0xfff)
      return this.readLinear8(linear) | (this.readLinear8((linear + 1) | 0) << 8);
    const tlb = this.tlb;
    const page = linear >>> 12;
    let e = page & TLB_MASK;
    if (tlb.readTag[e] !== page) {
      e = this.mmu.fillEntry(linear, 0, ACCESS_READ, this.userMode);
      if (e < 0) return this.slowRead(e, 2);
    }
    const b = tlb.bytes[e];
    const i = tlb.offset[e] + (linear & 0xfff);
    return b[i] | (b[i + 1] << 8);
  }

  readLinear32(linear: number): number {
    if ((linear & 0xfff) > 0xffc)
      return this.readLinear16(linear) | (this.readLinear16((linear + 2) | 0) << 16);
    const tlb = this.tlb;
    const page = linear >>> 12;
    let e = page & TLB_MASK;
    if (tlb.readTag[e] !== page) {
      e = this.mmu.fillEntry(linear, 0, ACCESS_READ, this.userMode);
      if (e < 0) return this.slowRead(e, 4);
    }
    const b = tlb.bytes[e];
    const i = tlb.offset[e] + (linear & 0xfff);
    return b[i] | (b[i + 1] << 8) | (b[i + 2] << 16) | (b[i + 3] << 24);
  }

  writeLinear8(linear: number, value: number): void {
    const tlb = this.tlb;
    const page = linear >>> 12;
    let e = page & TLB_MASK;
    if (tlb.writeTag[e] !== page) {
      e = this.mmu.fillEntry(linear, 0, ACCESS_WRITE, this.userMode);
      if (e < 0) {
        this.slowWrite(e, 1, value & 0xff);
        return;
      }
    }
    tlb.bytes[e][tlb.offset[e] + (linear & 0xfff)] = value;
  }

  writeLinear16(linear: number, value: number): void {
    if ((linear & 0xfff) === 0xfff) {
      this.writeCrossPage(linear, 2, value);
      return;
    }
    const tlb = this.tlb;
    const page = linear >>> 12;
    let e = page & TLB_MASK;
    if (tlb.writeTag[e] !== page) {
      e = this.mmu.fillEntry(linear, 0, ACCESS_WRITE, this.userMode);
      if (e < 0) {
        this.slowWrite(e, 2, value & 0xffff);
        return;
      }
    }
    const b = tlb.bytes[e];
    const i = tlb.offset[e] + (linear & 0xfff);
    b[i] = value;
    b[i + 1] = value >> 8;
  }

  writeLinear32(linear: number, value: number): void {
    if ((linear & 0xfff) > 0xffc) {
      this.writeCrossPage(linear, 4, value);
      return;
    }
    const tlb = this.tlb;
    const page = linear >>> 12;
    let e = page & TLB_MASK;
    if (tlb.writeTag[e] !== page) {
      e = this.mmu.fillEntry(linear, 0, ACCESS_WRITE, this.userMode);
      if (e < 0) {
        this.slowWrite(e, 4, value);
        return;
      }
    }
    const b = tlb.bytes[e];
    const i = tlb.offset[e] + (linear & 0xfff);
    b[i] = value;
    b[i + 1] = value >> 8;
    b[i + 2] = value >> 16;
    b[i + 3] = value >> 24;
  }

  /** A write that spans two pages: both are translated (and may fault) before either is written. */
  private writeCrossPage(linear: number, size: number, value: number): void {
    const last = (linear + size - 1) | 0;
    for (const address of [linear, last]) {
      const r = this.mmu.translate(address, ACCESS_WRITE, this.userMode);
      if (r < 0) this.translationFault(r);
    }
    for (let i = 0; i < size; i++) this.writeLinear8((linear + i) | 0, value >> (8 * i));
  }

  /** Negative TLB results for reads: MMIO (the host answers), a page fault, or a broken table. */
  private slowRead(result: number, size: number): number {
    if (result === MMU_NOT_RAM) return this.hostRead(ACCESS_MMIO, this.mmu.physicalAddress, size);
    return this.translationFault(result);
  }

  private slowWrite(result: number, size: number, value: number): void {
    if (result === MMU_NOT_RAM) this.hostWrite(ACCESS_MMIO, this.mmu.physicalAddress, size, value);
    else this.translationFault(result);
  }

  /** #PF with CR2 and the error code the walk produced; a page table outside RAM stops the CPU. */
  private translationFault(result: number): never {
    if (result === MMU_PAGE_FAULT) {
      this.cr2 = this.mmu.faultAddress;
      this.raise(EXC_PF, this.mmu.faultErrorCode);
    }
    if (result === MMU_NON_CANONICAL) this.raise(EXC_GP, 0);
    return this.fail(`page-table entry at non-RAM physical address 0x${this.mmu.faultPhysical.toString(16)}`);
  }

  /**
   * The decoded instruction at CS:EIP: from the instruction cache when this code was decoded before
   * (and the mode it was decoded in still holds), else decoded now and cached when it lies within
   * one page. Raises #UD/#GP (and #PF for the fetch) as decoding does.
   */
  private fetchInstruction(): Instruction {
    const eip = this.eip;
    const linear = (this.segBase[CS] + eip) | 0;
    const page = linear >>> 12;
    const e = page & TLB_MASK;
    const offset = linear & 0xfff;
    const tlb = this.tlb;
    if (this.codeGeneration !== this.instructionCache.generation) {
      this.tlbCodeFrame.fill(-1);
      this.codeGeneration = this.instructionCache.generation;
    }
    if (tlb.executeTag[e] === page && this.tlbCodeFrame[e] === tlb.physicalPage[e]) {
      const cached = this.tlbCode[e][offset];
      if (
        cached !== undefined &&
        cached.decodedAs32 === this.code32 &&
        (eip + cached.length - 1) >>> 0 <= this.segLimit[CS] >>> 0
      ) {
        return cached;
      }
    }
    const insn = offset <= 4096 - MAX_INSTRUCTION_LENGTH ? new Instruction() : this.insn;
    const status = decode(insn, this, this.code32, this.decodeProfile, this.decodeExtensions);
    if (status !== DECODE_OK) this.raise(status, status === EXC_GP ? 0 : -1);
    insn.decodedAs32 = this.code32;
    insn.straightLineAs = !isStraightLine(insn) ? 0 : this.code32 ? STRAIGHT_LINE_32 : STRAIGHT_LINE_16;
    if (insn !== this.insn && tlb.executeTag[e] === page) {
      const physicalPage = tlb.physicalPage[e];
      const frame = physicalPage / 4096;
      const icache = this.instructionCache;
      if (!icache.holdsCode(frame)) this.mmu.watchCodePage(physicalPage);
      const code = icache.page(frame);
      code[offset] = insn;
      this.tlbCode[e] = code;
      this.tlbCodeFrame[e] = physicalPage;
      icache.misses++;
    }
    return insn;
  }

  /** Drops the decoded instructions of a guest-physical page that was written. */
  private dropCode(frame: number): void {
    this.instructionCache.invalidatePage(frame);
    this.mmu.unwatchCodePage(frame * 4096);
  }

  // ---------------------------------------------------------------------------------------------
  // Host accesses: port I/O and MMIO.

  ioRead(port: number, size: number): number {
    checkIoPermission(this, port & 0xffff, size);
    return this.hostRead(ACCESS_IO, port & 0xffff, size);
  }

  ioWrite(port: number, size: number, value: number): void {
    checkIoPermission(this, port & 0xffff, size);
    this.hostWrite(
      ACCESS_IO,
      port & 0xffff,
      size,
      size === 1 ? value & 0xff : size === 2 ? value & 0xffff : value,
    );
  }

  private hostRead(kind: number, address: number, size: number): number {
    if (this.replayCursor < this.replayedReadCount) return this.replayedReads[this.replayCursor++];
    if (this.replayedReadCount >= MAX_REPLAYED_READS) this.fail("too many host reads in one instruction");
    const read = this.readRequest;
    read.kind = kind;
    read.address = address;
    read.size = size;
    this.readPending = true;
    this.readReported = false;
    this.stopReason = kind === ACCESS_IO ? STOP_IO : STOP_MMIO;
    throw ABORT;
  }

  private hostWrite(kind: number, address: number, size: number, value: number): void {
    if (this.queuedWriteCount >= MAX_QUEUED_WRITES) {
      // Only a REP string instruction gets here: stop at the iteration boundary and resume later.
      this.stopReason = STOP_BUDGET;
      throw ABORT;
    }
    const write = this.queuedWrites[this.queuedWriteCount++];
    write.kind = kind;
    write.address = address;
    write.size = size;
    write.value = value;
  }

  /** Raises #UD: used by instructions that decode but are not valid here. */
  undefinedOpcode(): never {
    this.raise(EXC_UD);
  }
}

const BENIGN = 0;
const CONTRIBUTORY = 1;
const PAGE_FAULT = 2;

function exceptionClass(vector: number): number {
  if (vector === 14) return PAGE_FAULT;
  if (vector === 0 || (vector >= 10 && vector <= 13)) return CONTRIBUTORY;
  return BENIGN;
}

import {
  ACCESS_IO,
  type Cpu,
  STOP_BUDGET,
  STOP_HLT,
  STOP_INTERNAL_ERROR,
  STOP_IO,
  STOP_IRQ_WINDOW,
  STOP_MMIO,
  STOP_SHUTDOWN,
} from "@tsvmm/cpu-x86";
import { ExitReason, INTERNAL_ERROR_EMULATION, IoDirection, KvmRun } from "./kvm-run.js";
import { type Regs, SEGMENT_ORDER, type Segment, type Sregs } from "./registers.js";

/** What a vCPU needs from its VM: how long it may run, and where to report halts. */
export interface VcpuHost {
  timeslice(vcpu: Vcpu): number;
  setRunnable(vcpu: Vcpu, runnable: boolean): void;
}

/**
 * A virtual CPU (the fd KVM_CREATE_VCPU returns). run() executes guest code until an exit and
 * returns the shared KvmRun; the caller completes I/O and MMIO reads in it before the next run().
 */
export class Vcpu {
  readonly kvmRun = new KvmRun();
  /** The last exit was a read whose data the caller supplies before the next run(). */
  private completionPending = false;

  constructor(
    readonly id: number,
    private readonly cpu: Cpu,
    private readonly host: VcpuHost,
  ) {}

  /** KVM_RUN. */
  run(): KvmRun {
    const kvmRun = this.kvmRun;
    if (this.completionPending) {
      this.completionPending = false;
      this.cpu.completeRead(this.readCompletion());
    }
    const cpu = this.cpu;
    cpu.requestInterruptWindow = kvmRun.requestInterruptWindow;
    const stop = cpu.run(this.host.timeslice(this));
    kvmRun.ifFlag = (cpu.flags.bits & 0x200) !== 0;
    kvmRun.readyForInterruptInjection = cpu.canInjectInterrupt;
    switch (stop) {
      case STOP_IO:
      case STOP_MMIO:
        this.reportAccess(stop === STOP_IO);
        break;
      case STOP_HLT:
        kvmRun.exitReason = ExitReason.HLT;
        this.host.setRunnable(this, false);
        break;
      case STOP_SHUTDOWN:
        kvmRun.exitReason = ExitReason.SHUTDOWN;
        break;
      case STOP_IRQ_WINDOW:
        kvmRun.exitReason = ExitReason.IRQ_WINDOW_OPEN;
        break;
      case STOP_BUDGET:
        kvmRun.exitReason = ExitReason.INTR;
        break;
      case STOP_INTERNAL_ERROR:
        kvmRun.exitReason = ExitReason.INTERNAL_ERROR;
        kvmRun.internal.suberror = INTERNAL_ERROR_EMULATION;
        kvmRun.internal.message = `${cpu.internalError} (at ${hex(cpu.segSelector[1], 4)}:${hex(cpu.eip >>> 0, 8)})`;
        break;
      default:
        kvmRun.exitReason = ExitReason.UNKNOWN;
    }
    return kvmRun;
  }

  /** KVM_INTERRUPT: queues an external interrupt; it is taken when the guest's IF allows. */
  interrupt(vector: number): void {
    if (!Number.isInteger(vector) || vector < 0 || vector > 255) throw new RangeError(`bad vector ${vector}`);
    this.cpu.injectInterrupt(vector);
    this.host.setRunnable(this, true);
  }

  /** Whether the vCPU is halted (waiting for an interrupt). */
  get halted(): boolean {
    return this.cpu.halted;
  }

  /** Guest instructions retired so far. */
  get instructionCount(): number {
    return this.cpu.instructionCount;
  }

  /** KVM_GET_REGS. */
  getRegs(): Regs {
    const r = this.cpu.regs;
    return {
      rax: r[0] >>> 0,
      rcx: r[1] >>> 0,
      rdx: r[2] >>> 0,
      rbx: r[3] >>> 0,
      rsp: r[4] >>> 0,
      rbp: r[5] >>> 0,
      rsi: r[6] >>> 0,
      rdi: r[7] >>> 0,
      rip: this.cpu.eip >>> 0,
      rflags: this.cpu.flags.get() >>> 0,
    };
  }

  /** KVM_SET_REGS. */
  setRegs(regs: Regs): void {
    const r = this.cpu.regs;
    const values = [regs.rax, regs.rcx, regs.rdx, regs.rbx, regs.rsp, regs.rbp, regs.rsi, regs.rdi];
    for (let i = 0; i < 8; i++) r[i] = checkU32(values[i], "register");
    this.cpu.eip = checkU32(regs.rip, "rip") | 0;
    this.cpu.flags.load(checkU32(regs.rflags, "rflags"));
  }

  /** KVM_GET_SREGS. */
  getSregs(): Sregs {
    const cpu = this.cpu;
    const segment = (i: number): Segment => {
      const a = cpu.segAttributes[i];
      return {
        base: cpu.segBase[i] >>> 0,
        limit: cpu.segLimit[i] >>> 0,
        selector: cpu.segSelector[i],
        type: a & 15,
        s: (a & 0x10) !== 0,
        dpl: (a >> 5) & 3,
        present: (a & 0x80) !== 0,
        avl: (a & 0x1000) !== 0,
        l: (a & 0x2000) !== 0,
        db: (a & 0x4000) !== 0,
        g: (a & 0x8000) !== 0,
      };
    };
    return {
      es: segment(0),
      cs: segment(1),
      ss: segment(2),
      ds: segment(3),
      fs: segment(4),
      gs: segment(5),
      gdt: { base: cpu.gdtBase >>> 0, limit: cpu.gdtLimit },
      idt: { base: cpu.idtBase >>> 0, limit: cpu.idtLimit },
      cr0: cpu.cr0 >>> 0,
      cr2: cpu.cr2 >>> 0,
      cr3: cpu.cr3 >>> 0,
      cr4: cpu.cr4 >>> 0,
    };
  }

  /** KVM_SET_SREGS: loads segment registers and their hidden caches directly, as KVM does. */
  setSregs(sregs: Sregs): void {
    const cpu = this.cpu;
    SEGMENT_ORDER.forEach((name, i) => {
      const s = sregs[name];
      cpu.segBase[i] = checkU32(s.base, `${name}.base`);
      cpu.segLimit[i] = checkU32(s.limit, `${name}.limit`);
      cpu.segSelector[i] = s.selector & 0xffff;
      cpu.segAttributes[i] =
        (s.type & 15) |
        (s.s ? 0x10 : 0) |
        ((s.dpl & 3) << 5) |
        (s.present ? 0x80 : 0) |
        (s.avl ? 0x1000 : 0) |
        (s.l ? 0x2000 : 0) |
        (s.db ? 0x4000 : 0) |
        (s.g ? 0x8000 : 0);
    });
    cpu.gdtBase = checkU32(sregs.gdt.base, "gdt.base");
    cpu.gdtLimit = sregs.gdt.limit & 0xffff;
    cpu.idtBase = checkU32(sregs.idt.base, "idt.base");
    cpu.idtLimit = sregs.idt.limit & 0xffff;
    cpu.cr0 = checkU32(sregs.cr0, "cr0") | 0;
    cpu.cr2 = checkU32(sregs.cr2, "cr2") | 0;
    cpu.cr3 = checkU32(sregs.cr3, "cr3") | 0;
    cpu.cr4 = checkU32(sregs.cr4, "cr4") | 0;
    cpu.updateCodeMode();
    cpu.flushTlb();
  }

  /** INIT/RESET: the architectural power-on state. */
  reset(): void {
    this.completionPending = false;
    this.cpu.reset();
    this.host.setRunnable(this, true);
  }

  private reportAccess(isIo: boolean): void {
    const kvmRun = this.kvmRun;
    const access = this.cpu.pendingAccess;
    if (isIo && access.kind === ACCESS_IO) {
      kvmRun.exitReason = ExitReason.IO;
      const io = kvmRun.io;
      io.direction = access.write ? IoDirection.OUT : IoDirection.IN;
      io.size = access.size;
      io.port = access.address;
      io.count = 1;
      writeLittleEndian(io.data, access.size, access.write ? access.value : 0);
    } else {
      kvmRun.exitReason = ExitReason.MMIO;
      const mmio = kvmRun.mmio;
      mmio.physAddr = access.address;
      mmio.len = access.size;
      mmio.isWrite = access.write;
      writeLittleEndian(mmio.data, access.size, access.write ? access.value : 0);
    }
    this.completionPending = !access.write;
  }

  private readCompletion(): number {
    const kvmRun = this.kvmRun;
    if (kvmRun.exitReason === ExitReason.IO) return readLittleEndian(kvmRun.io.data, kvmRun.io.size);
    return readLittleEndian(kvmRun.mmio.data, kvmRun.mmio.len);
  }

  /** The A20M# pin: with `false` the CPU masks physical address bit 20, as a PC's A20 gate does. */
  setA20(enabled: boolean): void {
    this.cpu.setA20(enabled);
  }
}

function writeLittleEndian(data: Uint8Array, size: number, value: number): void {
  data.fill(0);
  for (let i = 0; i < size && i < 4; i++) data[i] = value >>> (8 * i);
}

function readLittleEndian(data: Uint8Array, size: number): number {
  let value = 0;
  for (let i = Math.min(size, 4) - 1; i >= 0; i--) value = (value << 8) | data[i];
  return value | 0;
}

function checkU32(value: number, what: string): number {
  if (!Number.isInteger(value) || value < 0 || value > 0xffffffff) {
    throw new RangeError(`${what} must be an unsigned 32-bit integer, got ${value}`);
  }
  return value;
}

function hex(value: number, digits: number): string {
  return value.toString(16).padStart(digits, "0");
}

import { Cpu, STOP_BUDGET, STOP_HLT } from "@tsvmm/cpu-x86";
import { PhysicalMemory } from "@tsvmm/ept";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { ExitReason, openHypervisor, type Segment } from "./index.js";

// Dirty logging end to end: random guest stores (plain, read-modify-write, REP STOSB across pages,
// page-table rewrites with INVLPG), device writes and log fetches, on the bare cpu-x86 CPU and through
// a kvm-api VM. The log must hold exactly the pages that were written on purpose plus those whose
// bytes changed otherwise (the page walker's A/D bits): nothing is missed and nothing is invented.

const PAGE = 0x1000;
/** Slot 0: RAM [0, 256 KiB) holding the page tables; slot 2: RAM [256 KiB, 320 KiB). Both log. */
const SLOT0_SIZE = 0x4_0000;
const SLOT2_BASE = 0x4_0000;
const SLOT2_SIZE = 0x1_0000;
/** Slot 1: the guest's code, not logged. */
const CODE = 0x10_0000;
const PD = 0x1000;
const PT_WINDOW = 0x2000;
const PT_IDENTITY = 0x3000;
/** The 16 pages the guest writes: linear 4 MiB (paging on), or physical 224 KiB, across both slots. */
const WINDOW_PAGES = 16;
const WINDOW_LINEAR = 0x40_0000;
const WINDOW_PHYSICAL = 0x3_8000;

interface Machine {
  /** The host memory of slots 0 and 2. */
  slot0: Uint8Array;
  slot2: Uint8Array;
  /** Runs `code` (at CODE) to its HLT. */
  run(code: number[]): void;
  deviceWrite(address: number, data: Uint8Array): void;
  getDirtyLog(slot: number): Uint8Array;
  setLogging(slot: 2, enabled: boolean): void;
}

const flatCode: Segment = {
  base: 0,
  limit: 0xffffffff,
  selector: 0x08,
  type: 11,
  s: true,
  dpl: 0,
  present: true,
  avl: false,
  l: false,
  db: true,
  g: true,
};
const flatData: Segment = { ...flatCode, selector: 0x10, type: 3 };

function cr0For(paging: boolean): number {
  return paging ? 0x8000_0011 : 0x11;
}

/** Page tables: the window's pages at `frames`, identity for the first 4 MiB (without A bits). */
function writePageTables(write: (address: number, value: number) => void, frames: number[], bits: number[]) {
  write(PD, PT_IDENTITY | 0x3);
  write(PD + 4, PT_WINDOW | 0x3);
  for (let i = 0; i < 1024; i++) write(PT_IDENTITY + i * 4, (i * PAGE) | 0x3);
  for (let i = 0; i < WINDOW_PAGES; i++) write(PT_WINDOW + i * 4, (frames[i] * PAGE) | 0x7 | bits[i]);
}

function regions(slot0: Uint8Array, slot2: Uint8Array) {
  return [
    { slot: 0, guestPhysAddr: 0, memorySize: SLOT0_SIZE, userspaceMemory: slot0, logDirtyPages: true },
    { slot: 1, guestPhysAddr: CODE, memorySize: PAGE },
    {
      slot: 2,
      guestPhysAddr: SLOT2_BASE,
      memorySize: SLOT2_SIZE,
      userspaceMemory: slot2,
      logDirtyPages: true,
    },
  ];
}

/** cpu-x86 on its own, driven through its public API. */
function bareCpu(paging: boolean, frames: number[], bits: number[]): Machine {
  const slot0 = new Uint8Array(SLOT0_SIZE);
  const slot2 = new Uint8Array(SLOT2_SIZE);
  const memory = new PhysicalMemory();
  const [r0, r1, r2] = regions(slot0, slot2);
  memory.setUserMemoryRegion(r1);
  if (paging) {
    memory.setUserMemoryRegion({ ...r0, logDirtyPages: false });
    writePageTables((a, v) => memory.writeU32(a, v), frames, bits);
  }
  memory.setUserMemoryRegion(r0);
  memory.setUserMemoryRegion(r2);
  const cpu = new Cpu(memory);
  for (let s = 0; s < 6; s++) {
    const segment = s === 1 ? flatCode : flatData;
    cpu.segSelector[s] = segment.selector;
    cpu.segBase[s] = 0;
    cpu.segLimit[s] = -1;
    cpu.segAttributes[s] = segment.type | 0x10 | 0x80 | 0x4000 | 0x8000;
  }
  cpu.cr0 = cr0For(paging);
  cpu.cr3 = PD;
  cpu.updateCodeMode();
  cpu.flushTlb();
  return {
    slot0,
    slot2,
    run(code) {
      memory.write(CODE, Uint8Array.from(code));
      cpu.eip = CODE;
      cpu.halted = false;
      for (;;) {
        const stop = cpu.run(1_000_000);
        if (stop === STOP_HLT) return;
        if (stop !== STOP_BUDGET) throw new Error(`guest stopped (${stop}): ${cpu.internalError}`);
      }
    },
    deviceWrite: (address, data) => memory.write(address, data),
    getDirtyLog: (slot) => memory.getDirtyLog(slot),
    setLogging: (_slot, enabled) => memory.setUserMemoryRegion({ ...r2, logDirtyPages: enabled }),
  };
}

/** The same through kvm-api: vm.setUserMemoryRegion, KVM_SET_SREGS, run() to HLT, vm.getDirtyLog. */
function kvmVm(paging: boolean, frames: number[], bits: number[]): Machine {
  const slot0 = new Uint8Array(SLOT0_SIZE);
  const slot2 = new Uint8Array(SLOT2_SIZE);
  const vm = openHypervisor().createVm({ clock: { mode: "instructions" } });
  const [r0, r1, r2] = regions(slot0, slot2);
  vm.setUserMemoryRegion(r1);
  if (paging) {
    vm.setUserMemoryRegion({ ...r0, logDirtyPages: false });
    writePageTables((a, v) => vm.memory.writeU32(a, v), frames, bits);
  }
  vm.setUserMemoryRegion(r0);
  vm.setUserMemoryRegion(r2);
  const vcpu = vm.createVcpu(0);
  const sregs = vcpu.getSregs();
  vcpu.setSregs({
    ...sregs,
    cs: flatCode,
    ds: flatData,
    es: flatData,
    ss: flatData,
    fs: flatData,
    gs: flatData,
    cr0: cr0For(paging),
    cr3: PD,
  });
  return {
    slot0,
    slot2,
    run(code) {
      vm.memory.write(CODE, Uint8Array.from(code));
      vcpu.setMpState("runnable");
      vcpu.setRegs({ ...vcpu.getRegs(), rip: CODE });
      for (;;) {
        const run = vcpu.run();
        if (run.exitReason === ExitReason.HLT) return;
        if (run.exitReason !== ExitReason.INTR) throw new Error(`unexpected exit ${run.exitReason}`);
      }
    },
    deviceWrite: (address, data) => vm.memory.write(address, data),
    getDirtyLog: (slot) => vm.getDirtyLog(slot),
    setLogging: (_slot, enabled) => vm.setUserMemoryRegion({ ...r2, logDirtyPages: enabled }),
  };
}

function pagesIn(bitmap: Uint8Array): number[] {
  const pages: number[] = [];
  for (let i = 0; i < bitmap.length * 8; i++) if ((bitmap[i >>> 3] & (1 << (i & 7))) !== 0) pages.push(i);
  return pages;
}

function u32(value: number): number[] {
  return [value & 0xff, (value >>> 8) & 0xff, (value >>> 16) & 0xff, value >>> 24];
}

const guestOp = fc.oneof(
  fc.record({
    kind: fc.constantFrom("store8", "store16", "store32", "add32", "load32"),
    at: fc.integer({ min: 0, max: WINDOW_PAGES * PAGE - 4 }),
  }),
  fc.record({
    kind: fc.constant("fill"),
    at: fc.integer({ min: 0, max: WINDOW_PAGES * PAGE - 1 }),
    length: fc.integer({ min: 1, max: 0x2400 }),
  }),
  fc.record({
    kind: fc.constant("remap"),
    page: fc.integer({ min: 0, max: WINDOW_PAGES - 1 }),
    frame: fc.integer({ min: 0x10, max: 0x4f }),
    bits: fc.constantFrom(0, 0x20, 0x60),
  }),
);
const hostOp = fc.oneof(
  fc.record({
    kind: fc.constant("device"),
    address: fc.integer({ min: 0x4000, max: SLOT2_BASE + SLOT2_SIZE - 1 }),
    length: fc.integer({ min: 1, max: 0x3000 }),
  }),
  fc.record({ kind: fc.constant("fetch") }),
  fc.record({ kind: fc.constant("toggle") }),
);
type Op = {
  kind: string;
  at?: number;
  length?: number;
  page?: number;
  frame?: number;
  bits?: number;
  address?: number;
};

/** Runs `ops` on a machine and checks every fetched log against the reference. */
function check(make: typeof bareCpu, paging: boolean, frames: number[], bits: number[], ops: Op[]): void {
  const machine = make(paging, frames, bits);
  const mapping = frames.slice();
  const hosts = [machine.slot0, undefined, machine.slot2];
  const bases = [0, 0, SLOT2_BASE];
  const logging = [true, false, true];
  const targeted = [new Set<number>(), new Set<number>(), new Set<number>()];
  const snapshots = hosts.map((h) => h?.slice());
  let value = 1;
  let code: number[] = [];

  const targetPhysical = (address: number) => {
    for (const s of [0, 2]) {
      const host = hosts[s] as Uint8Array;
      if (logging[s] && address >= bases[s] && address < bases[s] + host.length) {
        targeted[s].add(Math.floor((address - bases[s]) / PAGE));
      }
    }
  };
  const physicalOf = (offset: number) =>
    paging ? mapping[offset >>> 12] * PAGE + (offset & 0xfff) : WINDOW_PHYSICAL + offset;
  const linearOf = (offset: number) => (paging ? WINDOW_LINEAR : WINDOW_PHYSICAL) + offset;
  const target = (offset: number, length: number) => {
    for (let i = 0; i < length; i++) targetPhysical(physicalOf(offset + i));
  };
  const flush = () => {
    if (code.length === 0) return;
    machine.run([...code, 0xf4]);
    code = [];
  };
  const fetch = (s: number) => {
    const host = hosts[s] as Uint8Array;
    const snapshot = snapshots[s] as Uint8Array;
    const expected = new Set(targeted[s]);
    for (let i = 0; i < host.length; i++) if (host[i] !== snapshot[i]) expected.add(Math.floor(i / PAGE));
    expect(pagesIn(machine.getDirtyLog(s)), `slot ${s}`).toEqual([...expected].sort((a, b) => a - b));
    targeted[s].clear();
    snapshots[s] = host.slice();
  };

  for (const op of ops) {
    const v = value++ & 0x7f;
    switch (op.kind) {
      case "store8":
        code.push(0xc6, 0x05, ...u32(linearOf(op.at!)), v);
        target(op.at!, 1);
        break;
      case "store16":
        code.push(0x66, 0xc7, 0x05, ...u32(linearOf(op.at!)), v, 0);
        target(op.at!, 2);
        break;
      case "store32":
        code.push(0xc7, 0x05, ...u32(linearOf(op.at!)), ...u32(v));
        target(op.at!, 4);
        break;
      case "add32": // read-modify-write
        code.push(0x83, 0x05, ...u32(linearOf(op.at!)), v);
        target(op.at!, 4);
        break;
      case "load32": // mov eax, [address]: reads are not logged
        code.push(0xa1, ...u32(linearOf(op.at!)));
        break;
      case "fill": {
        const length = Math.min(op.length!, WINDOW_PAGES * PAGE - op.at!);
        // mov edi, address; mov ecx, length; mov al, v; cld; rep stosb
        code.push(0xbf, ...u32(linearOf(op.at!)), 0xb9, ...u32(length), 0xb0, v, 0xfc, 0xf3, 0xaa);
        target(op.at!, length);
        break;
      }
      case "remap": {
        if (!paging) break;
        // mov dword [PTE], frame | P | RW | US | A/D; invlpg [page]
        const pteAddress = PT_WINDOW + op.page! * 4;
        code.push(0xc7, 0x05, ...u32(pteAddress), ...u32((op.frame! * PAGE) | 0x7 | op.bits!));
        code.push(0x0f, 0x01, 0x3d, ...u32(WINDOW_LINEAR + op.page! * PAGE));
        targetPhysical(pteAddress);
        mapping[op.page!] = op.frame!;
        break;
      }
      case "device": {
        flush();
        const end = Math.min(op.address! + op.length!, SLOT2_BASE + SLOT2_SIZE);
        machine.deviceWrite(op.address!, new Uint8Array(end - op.address!).fill(v));
        for (let a = op.address!; a < end; a += PAGE) targetPhysical(a);
        targetPhysical(end - 1);
        break;
      }
      case "toggle":
        flush();
        logging[2] = !logging[2];
        machine.setLogging(2, logging[2]);
        targeted[2].clear();
        snapshots[2] = machine.slot2.slice();
        break;
      default:
        flush();
        fetch(0);
        if (logging[2]) fetch(2);
    }
    if (code.length > 3000) flush();
  }
  flush();
  fetch(0);
  if (logging[2]) fetch(2);
}

const scenario = fc.record({
  paging: fc.boolean(),
  frames: fc.array(fc.integer({ min: 0x10, max: 0x4f }), {
    minLength: WINDOW_PAGES,
    maxLength: WINDOW_PAGES,
  }),
  bits: fc.array(fc.constantFrom(0, 0x20, 0x60), { minLength: WINDOW_PAGES, maxLength: WINDOW_PAGES }),
  ops: fc.array(fc.oneof({ weight: 4, arbitrary: guestOp }, { weight: 1, arbitrary: hostOp }), {
    maxLength: 60,
  }),
});

describe("dirty logging with a CPU", () => {
  for (const [name, make] of [
    ["the bare cpu-x86 CPU", bareCpu],
    ["a kvm-api VM (vm.getDirtyLog)", kvmVm],
  ] as const) {
    it(`logs exactly the written pages on ${name}`, () => {
      fc.assert(
        fc.property(scenario, ({ paging, frames, bits, ops }) => check(make, paging, frames, bits, ops)),
        { numRuns: 60 },
      );
    });
  }

  it("logs a guest's own stores in a VM, and not reads or instruction fetches", () => {
    const vm = openHypervisor().createVm();
    const ram = new Uint8Array(0x10_0000);
    // mov byte [0x5000], 1; mov al, [0x6000]; hlt (real mode, at 0x1000)
    ram.set([0xc6, 0x06, 0x00, 0x50, 0x01, 0xa0, 0x00, 0x60, 0xf4], 0x1000);
    vm.setUserMemoryRegion({
      slot: 0,
      guestPhysAddr: 0,
      memorySize: ram.length,
      userspaceMemory: ram,
      logDirtyPages: true,
    });
    const vcpu = vm.createVcpu(0);
    const sregs = vcpu.getSregs();
    for (const name of ["cs", "ds", "es", "ss"] as const)
      sregs[name] = { ...sregs[name], selector: 0, base: 0 };
    vcpu.setSregs(sregs);
    vcpu.setRegs({ ...vcpu.getRegs(), rip: 0x1000 });
    expect(vcpu.run().exitReason).toBe(ExitReason.HLT);
    const log = vm.getDirtyLog(0);
    expect(log).toHaveLength(32); // 256 pages
    expect(pagesIn(log)).toEqual([5]);
    expect(() => vm.getDirtyLog(1)).toThrow(/does not exist/);
  });
});

// Test support: runs a REP string program on a flat 32-bit protected-mode machine (optionally
// paged) twice, with and without the page-at-a-time fast path, and records everything the guest
// or the host can observe at each run() return.
import { PhysicalMemory } from "@tsvmm/ept";
import { Cpu, type CpuOptions, STOP_HLT, STOP_MMIO, STOP_SHUTDOWN } from "./cpu.js";
import { CR0_ET, CR0_PE, CR0_PG, CS, DS, ES, FS, GS, SS } from "./registers.js";

export const RAM_SIZE = 0x100000;
const PAGE_DIRECTORY = 0x1000;
const PAGE_TABLE = 0x2000;
const GDT = 0x500;
const IDT = 0x600;
const HANDLER = 0x900;
export const CODE = 0xa00;
const STACK_TOP = 0x9000;

export interface StringSetup {
  /** Instruction bytes at CODE; HLT is appended. */
  code: number[];
  eax?: number;
  ebx?: number;
  ecx: number;
  esi?: number;
  edi: number;
  df?: boolean;
  /** Identity-maps the first 4 MiB (A/D bits clear) when set. */
  paging?: boolean;
  /** Linear pages (page numbers) left not present. */
  notPresent?: number[];
  esBase?: number;
  esLimit?: number;
  dsBase?: number;
  dsLimit?: number;
  /** Bytes written into RAM before the run: [address, bytes]. */
  memory?: [number, number[]][];
  /** Fills RAM from this seed first (0: zeroes). */
  seed?: number;
  /** Logs dirty pages, with the log fetched (cleared) just before the run. */
  logDirty?: boolean;
}

export interface Observation {
  stop: number;
  eip: number;
  regs: number[];
  cr2: number;
  access?: { address: number; size: number; write: boolean; value: number };
}

export interface StringRun {
  cpu: Cpu;
  memory: PhysicalMemory;
  observations: Observation[];
  ram: Uint8Array;
  dirtyLog?: Uint8Array;
}

function dword(memory: PhysicalMemory, address: number, value: number): void {
  memory.write(address, Uint8Array.of(value, value >>> 8, value >>> 16, value >>> 24));
}

function flatSegment(
  cpu: Cpu,
  segment: number,
  selector: number,
  attributes: number,
  base = 0,
  limit = -1,
): void {
  cpu.segSelector[segment] = selector;
  cpu.segBase[segment] = base;
  cpu.segLimit[segment] = limit;
  cpu.segAttributes[segment] = attributes;
  cpu.updateSegmentChecks(segment);
}

export function buildMachine(
  setup: StringSetup,
  stringFastPath: boolean,
  options: CpuOptions = {},
): { cpu: Cpu; memory: PhysicalMemory } {
  const memory = new PhysicalMemory();
  memory.setUserMemoryRegion({
    slot: 0,
    guestPhysAddr: 0,
    memorySize: RAM_SIZE,
    logDirtyPages: setup.logDirty,
  });
  if (setup.seed) {
    let x = setup.seed >>> 0 || 1;
    const bytes = new Uint8Array(RAM_SIZE);
    for (let i = 0; i < RAM_SIZE; i++) {
      x ^= x << 13;
      x ^= x >>> 17;
      x ^= x << 5;
      bytes[i] = x;
    }
    memory.write(0, bytes);
  }
  memory.write(0, new Uint8Array(0x3000)); // tables live here
  for (const [address, bytes] of setup.memory ?? []) memory.write(address, Uint8Array.from(bytes));
  // GDT: null, flat code (0x08), flat data (0x10). IDT: every exception to a HLT.
  dword(memory, GDT + 8, 0x0000ffff);
  dword(memory, GDT + 12, 0x00cf9a00);
  dword(memory, GDT + 16, 0x0000ffff);
  dword(memory, GDT + 20, 0x00cf9200);
  for (let v = 0; v < 32; v++) {
    dword(memory, IDT + v * 8, (0x08 << 16) | HANDLER);
    dword(memory, IDT + v * 8 + 4, 0x8e00);
  }
  memory.write(HANDLER, Uint8Array.of(0xf4, 0xeb, 0xfd)); // hlt; jmp $-1
  memory.write(CODE, Uint8Array.from([...setup.code, 0xf4]));
  const cpu = new Cpu(memory, { ...options, stringFastPath });
  cpu.gdtBase = GDT;
  cpu.gdtLimit = 23;
  cpu.idtBase = IDT;
  cpu.idtLimit = 32 * 8 - 1;
  let cr0 = CR0_ET | CR0_PE;
  if (setup.paging) {
    dword(memory, PAGE_DIRECTORY, PAGE_TABLE | 7);
    const notPresent = new Set(setup.notPresent ?? []);
    for (let page = 0; page < 1024; page++) {
      dword(memory, PAGE_TABLE + page * 4, notPresent.has(page) ? 0 : (page << 12) | 7);
    }
    cpu.setCr3(PAGE_DIRECTORY);
    cr0 |= CR0_PG;
  }
  cpu.setCr0(cr0);
  flatSegment(cpu, CS, 0x08, 0xc09b);
  for (const s of [DS, SS, FS, GS]) flatSegment(cpu, s, 0x10, 0xc093);
  flatSegment(cpu, ES, 0x10, 0xc093, setup.esBase ?? 0, setup.esLimit ?? -1);
  flatSegment(cpu, DS, 0x10, 0xc093, setup.dsBase ?? 0, setup.dsLimit ?? -1);
  cpu.updateCodeMode();
  cpu.eip = CODE;
  cpu.regs.set([setup.eax ?? 0, setup.ecx, 0, setup.ebx ?? 0, STACK_TOP, 0, setup.esi ?? 0, setup.edi]);
  if (setup.df) cpu.flags.bits |= 1 << 10;
  if (setup.logDirty) memory.getDirtyLog(0);
  return { cpu, memory };
}

/** Runs one instruction per run() call until HLT; MMIO reads answer a value derived from the address. */
export function runString(setup: StringSetup, stringFastPath: boolean): StringRun {
  const { cpu, memory } = buildMachine(setup, stringFastPath);
  const observations: Observation[] = [];
  for (let i = 0; i < 2000; i++) {
    const stop = cpu.run(1);
    const observation: Observation = {
      stop,
      eip: cpu.eip,
      regs: Array.from(cpu.regs.subarray(0, 8)),
      cr2: cpu.cr2,
    };
    if (stop === STOP_MMIO) {
      const a = cpu.pendingAccess;
      observation.access = { address: a.address, size: a.size, write: a.write, value: a.value };
      if (!a.write) cpu.completeRead((Math.imul(a.address, 0x9e3779b1) ^ 0x5a5a5a5a) | 0);
    }
    observations.push(observation);
    if (stop === STOP_HLT || stop === STOP_SHUTDOWN) break;
  }
  const ram = new Uint8Array(RAM_SIZE);
  memory.read(0, ram);
  const dirtyLog = setup.logDirty ? memory.getDirtyLog(0) : undefined;
  return { cpu, memory, observations, ram, dirtyLog };
}

/** The first differing byte of two RAM images, or -1. */
export function firstDifference(a: Uint8Array, b: Uint8Array): number {
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return i;
  return -1;
}

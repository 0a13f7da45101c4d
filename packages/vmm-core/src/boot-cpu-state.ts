import type { Regs, Segment, Sregs, Vcpu, Vm } from "@tsvmm/kvm-api";

/** Where loaders put the flat boot GDT: just above the BIOS data area, below any loaded image. */
export const BOOT_GDT_ADDRESS = 0x500;
/** Linux's __BOOT_CS and __BOOT_DS, which the 32-bit boot protocol requires; multiboot accepts any. */
export const BOOT_CS = 0x10;
export const BOOT_DS = 0x18;
/** Null descriptor, an unused one, then __BOOT_CS and __BOOT_DS. */
export const BOOT_GDT_SIZE = 4 * 8;

const CR0_PE = 0x1;
/** The 387-present bit every CPU since the 486 keeps set. */
const CR0_ET = 0x10;
/** EFLAGS with IF clear; bit 1 always reads as one. */
const RFLAGS_INTERRUPTS_OFF = 0x2;

const CODE_READ_EXECUTE_ACCESSED = 0xb;
const DATA_READ_WRITE_ACCESSED = 0x3;

/** The 8-byte descriptor of a flat 4 GiB segment (base 0, limit 0xFFFFF pages, 32-bit, present, DPL 0). */
function flatDescriptor(type: number): [number, number] {
  const low = 0x0000ffff; // limit 15:0, base 15:0
  // base 23:16 = 0, type, S=1, DPL 0, P=1, limit 19:16 = F, AVL 0, L 0, D/B 1, G 1, base 31:24 = 0
  const high = (type << 8) | (1 << 12) | (1 << 15) | (0xf << 16) | (1 << 22) | (1 << 23);
  return [low, high >>> 0];
}

/** The boot GDT's bytes: descriptors for BOOT_CS (execute/read) and BOOT_DS (read/write), flat. */
export function bootGdtBytes(): Uint8Array {
  const bytes = new Uint8Array(BOOT_GDT_SIZE);
  const view = new DataView(bytes.buffer);
  const [codeLow, codeHigh] = flatDescriptor(CODE_READ_EXECUTE_ACCESSED);
  const [dataLow, dataHigh] = flatDescriptor(DATA_READ_WRITE_ACCESSED);
  view.setUint32(BOOT_CS, codeLow, true);
  view.setUint32(BOOT_CS + 4, codeHigh, true);
  view.setUint32(BOOT_DS, dataLow, true);
  view.setUint32(BOOT_DS + 4, dataHigh, true);
  return bytes;
}

function flatSegment(selector: number, type: number): Segment {
  return {
    base: 0,
    limit: 0xffffffff,
    selector,
    type,
    present: true,
    dpl: 0,
    db: true,
    s: true,
    l: false,
    g: true,
    avl: false,
  };
}

function realModeSegment(selector: number, type: number): Segment {
  return {
    base: selector * 16,
    limit: 0xffff,
    selector,
    type,
    present: true,
    dpl: 0,
    db: false,
    s: true,
    l: false,
    g: false,
    avl: false,
  };
}

/** General registers: all zero except those given, with interrupts off. */
function registers(values: Partial<Regs>): Regs {
  return {
    rax: 0,
    rbx: 0,
    rcx: 0,
    rdx: 0,
    rsi: 0,
    rdi: 0,
    rsp: 0,
    rbp: 0,
    rip: 0,
    rflags: RFLAGS_INTERRUPTS_OFF,
    ...values,
  };
}

/**
 * Hands the vCPU over in 32-bit protected mode as the Linux 32-bit boot protocol and multiboot want
 * it: the boot GDT written at BOOT_GDT_ADDRESS and loaded, CS = BOOT_CS and every data segment =
 * BOOT_DS with their hidden caches set to flat 4 GiB, paging off, interrupts off. The IDT limit is 0,
 * so an exception before the kernel installs its own IDT shuts the machine down instead of jumping to
 * garbage. `regs` gives EIP and whichever general registers the protocol defines; the rest are zero.
 */
export function enterFlatProtectedMode(vm: Vm, vcpu: Vcpu, regs: Partial<Regs> & { rip: number }): void {
  vm.memory.write(BOOT_GDT_ADDRESS, bootGdtBytes());
  const data = flatSegment(BOOT_DS, DATA_READ_WRITE_ACCESSED);
  const sregs: Sregs = {
    cs: flatSegment(BOOT_CS, CODE_READ_EXECUTE_ACCESSED),
    ds: data,
    es: { ...data },
    fs: { ...data },
    gs: { ...data },
    ss: { ...data },
    gdt: { base: BOOT_GDT_ADDRESS, limit: BOOT_GDT_SIZE - 1 },
    idt: { base: 0, limit: 0 },
    cr0: CR0_PE | CR0_ET,
    cr2: 0,
    cr3: 0,
    cr4: 0,
  };
  vcpu.setSregs(sregs);
  vcpu.setRegs(registers(regs));
}

/**
 * Hands the vCPU over in real mode at `cs:ip` with DS = ES = FS = GS = SS = `dataSegment` and SP =
 * `sp`, interrupts off, the real-mode interrupt vector table at 0.
 */
export function enterRealMode(
  vcpu: Vcpu,
  entry: { cs: number; ip: number; dataSegment: number; sp: number },
): void {
  const data = realModeSegment(entry.dataSegment, DATA_READ_WRITE_ACCESSED);
  vcpu.setSregs({
    cs: realModeSegment(entry.cs, CODE_READ_EXECUTE_ACCESSED),
    ds: data,
    es: { ...data },
    fs: { ...data },
    gs: { ...data },
    ss: { ...data },
    gdt: { base: 0, limit: 0xffff },
    idt: { base: 0, limit: 0x3ff },
    cr0: CR0_ET,
    cr2: 0,
    cr3: 0,
    cr4: 0,
  });
  vcpu.setRegs(registers({ rip: entry.ip, rsp: entry.sp }));
}

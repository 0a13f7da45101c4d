/**
 * Register structures shaped like KVM's. Values are unsigned numbers. The vCPUs are 32-bit today, so
 * every value fits; 64-bit registers will carry their high halves separately, never as BigInt.
 */
export interface Regs {
  rax: number;
  rbx: number;
  rcx: number;
  rdx: number;
  rsi: number;
  rdi: number;
  rsp: number;
  rbp: number;
  rip: number;
  rflags: number;
}

/** One segment register with its hidden descriptor cache (struct kvm_segment). */
export interface Segment {
  base: number;
  limit: number;
  selector: number;
  /** Descriptor type (4 bits). */
  type: number;
  present: boolean;
  dpl: number;
  /** Default operation size: true for 32-bit code/stack. */
  db: boolean;
  /** Code/data (true) or system descriptor. */
  s: boolean;
  /** 64-bit code segment. */
  l: boolean;
  /** Granularity: the limit counts 4 KiB pages. (The limit here is always in bytes.) */
  g: boolean;
  avl: boolean;
}

export interface DescriptorTable {
  base: number;
  limit: number;
}

/** Special registers (struct kvm_sregs). */
export interface Sregs {
  cs: Segment;
  ds: Segment;
  es: Segment;
  fs: Segment;
  gs: Segment;
  ss: Segment;
  gdt: DescriptorTable;
  idt: DescriptorTable;
  cr0: number;
  cr2: number;
  cr3: number;
  cr4: number;
}

export const SEGMENT_ORDER = ["es", "cs", "ss", "ds", "fs", "gs"] as const;

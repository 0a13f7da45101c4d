/**
 * Local APIC register offsets and bit fields (Intel SDM vol. 3, chapter "Advanced Programmable
 * Interrupt Controller"). xAPIC registers sit at 16-byte strides in the APIC page; in x2APIC mode
 * register offset `o` is MSR 0x800 + (o >> 4).
 */

/** Where the APIC page is after reset. */
export const APIC_DEFAULT_BASE = 0xfee00000;

export const MSR_IA32_APIC_BASE = 0x1b;
export const MSR_IA32_TSC_DEADLINE = 0x6e0;
export const MSR_X2APIC_FIRST = 0x800;
export const MSR_X2APIC_LAST = 0x8ff;

/** IA32_APIC_BASE bits. */
export const APIC_BASE_BSP = 1 << 8;
export const APIC_BASE_EXTD = 1 << 10;
export const APIC_BASE_ENABLE = 1 << 11;

/** Register offsets in the APIC page. */
export const APIC_ID = 0x020;
export const APIC_VERSION = 0x030;
export const APIC_TPR = 0x080;
export const APIC_APR = 0x090;
export const APIC_PPR = 0x0a0;
export const APIC_EOI = 0x0b0;
export const APIC_RRD = 0x0c0;
export const APIC_LDR = 0x0d0;
export const APIC_DFR = 0x0e0;
export const APIC_SVR = 0x0f0;
export const APIC_ISR = 0x100;
export const APIC_TMR = 0x180;
export const APIC_IRR = 0x200;
export const APIC_ESR = 0x280;
export const APIC_ICR_LOW = 0x300;
export const APIC_ICR_HIGH = 0x310;
export const APIC_LVT_TIMER = 0x320;
export const APIC_LVT_THERMAL = 0x330;
export const APIC_LVT_PERF = 0x340;
export const APIC_LVT_LINT0 = 0x350;
export const APIC_LVT_LINT1 = 0x360;
export const APIC_LVT_ERROR = 0x370;
export const APIC_TIMER_INITIAL = 0x380;
export const APIC_TIMER_CURRENT = 0x390;
export const APIC_TIMER_DIVIDE = 0x3e0;
/** x2APIC only (MSR 0x83F). */
export const APIC_SELF_IPI = 0x3f0;

/**
 * The version register: an integrated APIC (0x1X) as in the P6 family, with six LVT entries (timer,
 * thermal, performance counters, LINT0, LINT1, error: "max LVT entry" 5) and no EOI-broadcast
 * suppression.
 */
export const APIC_VERSION_VALUE = 0x0005_0014;

/** SVR bits. */
export const SVR_ENABLE = 1 << 8;
/** Focus processor checking disabled (P6 and later; only stored here). */
export const SVR_FOCUS_DISABLED = 1 << 9;

/** LVT and ICR fields. */
export const LVT_VECTOR = 0xff;
export const LVT_DELIVERY_MODE = 0x700;
export const LVT_DELIVERY_STATUS = 1 << 12;
export const LVT_POLARITY = 1 << 13;
export const LVT_REMOTE_IRR = 1 << 14;
export const LVT_LEVEL_TRIGGER = 1 << 15;
export const LVT_MASKED = 1 << 16;
export const LVT_TIMER_MODE = 3 << 17;

/** Timer modes (LVT timer bits 17-18). */
export const TIMER_ONE_SHOT = 0;
export const TIMER_PERIODIC = 1 << 17;
export const TIMER_TSC_DEADLINE = 2 << 17;

/** Delivery modes (bits 8-10 of an LVT entry, the ICR or MSI data). */
export const DELIVERY_FIXED = 0;
export const DELIVERY_LOWEST_PRIORITY = 1;
export const DELIVERY_SMI = 2;
export const DELIVERY_NMI = 4;
export const DELIVERY_INIT = 5;
export const DELIVERY_STARTUP = 6;
export const DELIVERY_EXTINT = 7;

/** ICR fields beyond the LVT ones. */
export const ICR_DESTINATION_LOGICAL = 1 << 11;
export const ICR_LEVEL_ASSERT = 1 << 14;
export const ICR_SHORTHAND_SHIFT = 18;
export const SHORTHAND_NONE = 0;
export const SHORTHAND_SELF = 1;
export const SHORTHAND_ALL_INCLUDING_SELF = 2;
export const SHORTHAND_ALL_EXCLUDING_SELF = 3;

/** ESR bits (P6 layout plus the x2APIC redirectable-IPI bit). */
export const ESR_SEND_ACCEPT = 1 << 2;
export const ESR_REDIRECTABLE_IPI = 1 << 4;
export const ESR_SEND_ILLEGAL_VECTOR = 1 << 5;
export const ESR_RECEIVE_ILLEGAL_VECTOR = 1 << 6;
export const ESR_ILLEGAL_REGISTER = 1 << 7;

/** The LVT registers in the order of their offsets (timer first). */
export const LVT_OFFSETS = [
  APIC_LVT_TIMER,
  APIC_LVT_THERMAL,
  APIC_LVT_PERF,
  APIC_LVT_LINT0,
  APIC_LVT_LINT1,
  APIC_LVT_ERROR,
] as const;
export const LVT_TIMER = 0;
export const LVT_THERMAL = 1;
export const LVT_PERF = 2;
export const LVT_LINT0 = 3;
export const LVT_LINT1 = 4;
export const LVT_ERROR = 5;
export const LVT_COUNT = 6;

/** The bits software may set in each LVT entry (the rest are reserved or read-only status). */
export const LVT_WRITABLE = [
  LVT_VECTOR | LVT_MASKED | LVT_TIMER_MODE,
  LVT_VECTOR | LVT_DELIVERY_MODE | LVT_MASKED,
  LVT_VECTOR | LVT_DELIVERY_MODE | LVT_MASKED,
  LVT_VECTOR | LVT_DELIVERY_MODE | LVT_POLARITY | LVT_LEVEL_TRIGGER | LVT_MASKED,
  LVT_VECTOR | LVT_DELIVERY_MODE | LVT_POLARITY | LVT_LEVEL_TRIGGER | LVT_MASKED,
  LVT_VECTOR | LVT_MASKED,
] as const;

/** CPUID.1:ECX bits that enable optional LAPIC features. */
export const CPUID_ECX_X2APIC = 1 << 21;
export const CPUID_ECX_TSC_DEADLINE = 1 << 24;

/** Model-specific register numbers. */
export const MSR_TSC = 0x10;
export const MSR_PLATFORM_ID = 0x17;
export const MSR_APIC_BASE = 0x1b;
export const MSR_FEATURE_CONTROL = 0x3a;
export const MSR_BIOS_SIGN_ID = 0x8b;
export const MSR_MTRRCAP = 0xfe;
export const MSR_SYSENTER_CS = 0x174;
export const MSR_SYSENTER_ESP = 0x175;
export const MSR_SYSENTER_EIP = 0x176;
export const MSR_MCG_CAP = 0x179;
export const MSR_MCG_STATUS = 0x17a;
export const MSR_MISC_ENABLE = 0x1a0;
export const MSR_MTRR_PHYS_FIRST = 0x200;
export const MSR_MTRR_PHYS_LAST = 0x20f;
export const MSR_MTRR_FIX64K = 0x250;
export const MSR_MTRR_FIX16K_80000 = 0x258;
export const MSR_MTRR_FIX16K_A0000 = 0x259;
export const MSR_MTRR_FIX4K_FIRST = 0x268;
export const MSR_MTRR_FIX4K_LAST = 0x26f;
export const MSR_PAT = 0x277;
export const MSR_MTRR_DEF_TYPE = 0x2ff;
export const MSR_EFER = 0xc0000080 | 0;

/** What happens on an access to an MSR the model does not have. */
export const UNKNOWN_MSR_GP = 0;
export const UNKNOWN_MSR_IGNORE = 1;

/** Where MsrFile.read() leaves a value (the MSR file itself: resultLow/resultHigh). */
export interface MsrResult {
  resultLow: number;
  resultHigh: number;
}

/**
 * MSRs owned by a component outside the CPU, such as the local APIC (IA32_APIC_BASE, the x2APIC
 * registers, IA32_TSC_DEADLINE). The MSR file asks the hook first, so RDMSR/WRMSR of an owned MSR
 * never reach the stored values. Neither method may throw: false means #GP(0).
 */
export interface MsrHook {
  /** Whether the hook owns MSR `index` (asked on every RDMSR/WRMSR, so it must be cheap). */
  owns(index: number): boolean;
  /** Reads an owned MSR into `result`; false raises #GP(0). */
  read(index: number, result: MsrResult): boolean;
  /** Writes an owned MSR; false raises #GP(0) (a reserved bit, a read-only register...). */
  write(index: number, low: number, high: number): boolean;
}

/** The APIC base MSR's reset value: 0xFEE00000, enabled, bootstrap processor. */
const APIC_BASE_RESET = 0xfee00900 | 0;
/** PAT's power-on value (WB, WT, UC-, UC, repeated). */
const PAT_RESET_LOW = 0x00070406;

/**
 * The model-specific registers a P6-class CPU offers and Linux touches, as 64-bit values in hi/lo
 * halves. TSC and the APIC base are owned elsewhere (the clock, the local APIC) and reach here
 * through hooks; everything else is stored. Unknown MSRs raise #GP unless the policy ignores them.
 */
export class MsrFile implements MsrResult {
  private readonly low = new Map<number, number>();
  private readonly high = new Map<number, number>();
  /** The 64-bit result of the last successful read. */
  resultLow = 0;
  resultHigh = 0;
  /** Accesses to unknown MSRs under UNKNOWN_MSR_IGNORE, for diagnostics. */
  readonly ignored: number[] = [];
  /** The owner of MSRs that live outside the CPU (the local APIC); kept across reset(). */
  hook: MsrHook | undefined = undefined;

  constructor(public unknownPolicy = UNKNOWN_MSR_GP) {
    this.reset();
  }

  reset(): void {
    this.low.clear();
    this.high.clear();
    this.set(MSR_APIC_BASE, APIC_BASE_RESET, 0);
    this.set(MSR_PAT, PAT_RESET_LOW, PAT_RESET_LOW);
    this.set(MSR_MTRRCAP, 0x508, 0); // 8 variable ranges, fixed ranges, write-combining
    this.set(MSR_MISC_ENABLE, 1, 0); // fast strings
    this.set(MSR_MCG_CAP, 0, 0);
    this.set(MSR_MCG_STATUS, 0, 0);
    this.set(MSR_PLATFORM_ID, 0, 0);
    this.set(MSR_BIOS_SIGN_ID, 0, 0);
    this.set(MSR_FEATURE_CONTROL, 1, 0); // locked, VMX off
    this.set(MSR_SYSENTER_CS, 0, 0);
    this.set(MSR_SYSENTER_ESP, 0, 0);
    this.set(MSR_SYSENTER_EIP, 0, 0);
    this.set(MSR_MTRR_DEF_TYPE, 0, 0);
    for (let i = MSR_MTRR_PHYS_FIRST; i <= MSR_MTRR_PHYS_LAST; i++) this.set(i, 0, 0);
    for (const i of [MSR_MTRR_FIX64K, MSR_MTRR_FIX16K_80000, MSR_MTRR_FIX16K_A0000]) this.set(i, 0, 0);
    for (let i = MSR_MTRR_FIX4K_FIRST; i <= MSR_MTRR_FIX4K_LAST; i++) this.set(i, 0, 0);
  }

  /** Whether MSR `index` belongs to the hook rather than to the CPU. */
  ownedByHook(index: number): boolean {
    return this.hook?.owns(index) === true;
  }

  /** Reads `index` into resultLow/High; returns false when the MSR does not exist (#GP). */
  read(index: number): boolean {
    if (this.ownedByHook(index)) return (this.hook as MsrHook).read(index, this);
    const low = this.low.get(index);
    if (low === undefined) {
      if (this.unknownPolicy === UNKNOWN_MSR_IGNORE) {
        this.ignored.push(index >>> 0);
        this.resultLow = this.resultHigh = 0;
        return true;
      }
      return false;
    }
    this.resultLow = low;
    this.resultHigh = this.high.get(index) ?? 0;
    return true;
  }

  /** Writes `index`; returns false for an unknown MSR or a value the MSR refuses (#GP). */
  write(index: number, low: number, high: number): boolean {
    if (this.ownedByHook(index)) return (this.hook as MsrHook).write(index, low, high);
    if (!this.low.has(index)) {
      if (this.unknownPolicy === UNKNOWN_MSR_IGNORE) {
        this.ignored.push(index >>> 0);
        return true;
      }
      return false;
    }
    switch (index) {
      case MSR_MTRRCAP:
      case MSR_PLATFORM_ID:
      case MSR_MCG_CAP:
        return false; // read-only
      case MSR_PAT:
        // Each of the eight entries must be a valid memory type (0, 1, 4, 5, 6 or 7).
        for (let i = 0; i < 8; i++) {
          const type = ((i < 4 ? low : high) >>> ((i & 3) * 8)) & 0xff;
          if (type === 2 || type === 3 || type > 7) return false;
        }
        break;
    }
    this.set(index, low, high);
    return true;
  }

  private set(index: number, low: number, high: number): void {
    this.low.set(index, low | 0);
    this.high.set(index, high | 0);
  }
}

# The local APIC: IA32_APIC_BASE, ID and version, self IPIs through the ICR (shorthand and physical
# destination, fixed and NMI), IRR/ISR/TPR/PPR and EOI (priority classes, acceptance order, nesting),
# and the timer: one-shot, periodic, masked, the divider, HLT woken by it, and TSC-deadline mode
# when CPUID.1:ECX says the CPU has it. Timeouts are measured with RDTSC.

        .include "runtime.inc"

        .globl guest_name
        .section .rodata
guest_name: .asciz "apic"

        .set MSR_APIC_BASE, 0x1B
        .set MSR_TSC_DEADLINE, 0x6E0
        .set APIC_ID, 0x20
        .set APIC_VERSION, 0x30
        .set APIC_TPR, 0x80
        .set APIC_PPR, 0xA0
        .set APIC_EOI, 0xB0
        .set APIC_SVR, 0xF0
        .set APIC_ISR, 0x100
        .set APIC_IRR, 0x200
        .set APIC_ESR, 0x280
        .set APIC_ICR_LOW, 0x300
        .set APIC_ICR_HIGH, 0x310
        .set APIC_LVT_TIMER, 0x320
        .set APIC_LVT_LINT0, 0x350
        .set APIC_LVT_LINT1, 0x360
        .set APIC_LVT_ERROR, 0x370
        .set APIC_TIMER_INITIAL, 0x380
        .set APIC_TIMER_CURRENT, 0x390
        .set APIC_TIMER_DIVIDE, 0x3E0
        .set LVT_MASKED, 1 << 16
        .set TIMER_PERIODIC, 1 << 17
        .set TIMER_TSC_DEADLINE, 2 << 17
        .set ICR_SELF, 1 << 18
        .set ICR_ALL_INCLUDING_SELF, 2 << 18
        .set ICR_ALL_EXCLUDING_SELF, 3 << 18
        .set ICR_LOGICAL, 1 << 11
        .set APIC_LDR, 0xD0
        .set APIC_DFR, 0xE0
        .set ICR_NMI, 4 << 8
        .set ICR_PENDING, 1 << 12
        .set DIVIDE_BY_1, 0xB
        .set DIVIDE_BY_16, 0x3
        .set TIMEOUT_TSC, 300000000     # 0.3 s at 1 GHz: far beyond every timer used here
        .set LOG_ENTRIES, 16            # interrupts remembered in order

        .text

# APIC register access through the base address found in IA32_APIC_BASE.
.macro APIC_WRITE register, value
        push eax
        push ebx
        mov ebx, [apic_base]
        mov eax, \value
        mov [ebx + \register], eax
        pop ebx
        pop eax
.endm

.macro APIC_READ destination, register
        push ebx
        mov ebx, [apic_base]
        mov \destination, [ebx + \register]
        pop ebx
.endm

# Every test starts here: the APIC enabled (spurious vector 0xFF), TPR 0, every LVT masked, the timer
# stopped, nothing in service, the interrupt log empty, handlers for the vectors the tests use.
apic_setup:
        pushad
        mov ecx, MSR_APIC_BASE
        rdmsr
        and eax, 0xFFFFF000
        mov [apic_base], eax
        APIC_WRITE APIC_SVR, 0x1FF
        APIC_WRITE APIC_TPR, 0
        APIC_WRITE APIC_LVT_TIMER, (LVT_MASKED | 0x40)
        APIC_WRITE APIC_TIMER_INITIAL, 0
        APIC_WRITE APIC_LVT_LINT0, LVT_MASKED
        APIC_WRITE APIC_LVT_LINT1, LVT_MASKED
        APIC_WRITE APIC_LVT_ERROR, LVT_MASKED
        APIC_WRITE APIC_TIMER_DIVIDE, DIVIDE_BY_1
        mov ecx, 64                     # retire anything still in service
1:      APIC_WRITE APIC_EOI, 0
        loop 1b
        mov edi, offset log
        mov ecx, (log_end - log) / 4
        xor eax, eax
        rep stosd
        mov dword ptr [no_eoi_vector], 0
        mov dword ptr [nest_vector], 0
        mov esi, offset handler_table
2:      mov eax, [esi]
        test eax, eax
        jz 3f
        IDT_GATE [esi + 4], eax, KCODE, ACC_INT_GATE32
        add esi, 8
        jmp 2b
3:      IDT_GATE VEC_NMI, (offset nmi_handler), KCODE, ACC_INT_GATE32
        popad
        ret

.macro NEED_APIC
        test dword ptr [cpu_features_edx], 1 << 9
        jnz .Lapic\@
        SKIP_TEST "CPUID.1:EDX.APIC = 0"
.Lapic\@:
        call apic_setup
.endm

# Interrupt handlers: each logs its vector, how many times it ran and whether its ISR bit was set,
# then writes EOI (unless the test said not to for that vector) and returns.
.macro HANDLER vector
        .pushsection .data
        .long handler_\vector, \vector
        .popsection
handler_\vector:
        push \vector
        call log_interrupt
        lea esp, [esp + 4]
        iretd
.endm

        .section .data
        .p2align 2
handler_table:
        .text
        HANDLER 0x40
        HANDLER 0x41
        HANDLER 0x42
        HANDLER 0x45
        HANDLER 0x50
        HANDLER 0x51
        HANDLER 0x52
        HANDLER 0x58
        HANDLER 0x62
        HANDLER 0x65
        HANDLER 0x68
        HANDLER 0x74
        .section .data
        .long 0, 0
        .text

log_interrupt:
        pushad
        mov ebx, [esp + 36]             # the vector
        mov eax, [log_count]
        cmp eax, LOG_ENTRIES
        jae 1f
        mov [log_order + eax * 4], ebx
        inc dword ptr [log_count]
1:      inc dword ptr [counts + ebx * 4]
        # ISR bit of this vector: register 0x100 + (vector / 32) * 0x10, bit vector % 32.
        mov ecx, ebx
        shr ecx, 5
        shl ecx, 4
        mov edx, [apic_base]
        mov eax, [edx + APIC_ISR + ecx]
        mov ecx, ebx
        and ecx, 31
        bt eax, ecx
        setc al
        movzx eax, al
        mov [isr_seen + ebx * 4], eax
        mov eax, [edx + APIC_TIMER_CURRENT]
        mov [timer_count_seen], eax
        # A nested interrupt: send it, let it in, and note whether it ran inside this handler.
        mov eax, [nest_vector]
        test eax, eax
        jz 2f
        mov dword ptr [nest_vector], 0
        or eax, ICR_SELF
        mov [edx + APIC_ICR_LOW], eax
        sti
        nop
        nop
        cli
        mov eax, [log_count]
        mov [nested_log_count], eax
2:      cmp ebx, [no_eoi_vector]
        je 3f
        mov dword ptr [edx + APIC_EOI], 0
3:      popad
        ret

# NMI: counts; when the test asks, sends itself another NMI and checks it stays blocked until IRET.
nmi_handler:
        inc dword ptr [nmi_count]
        cmp dword ptr [nmi_resend], 0
        je 2f
        mov dword ptr [nmi_resend], 0
        push eax
        push ecx
        push ebx
        mov ebx, [apic_base]
        mov eax, [ebx + APIC_ID]
        mov [ebx + APIC_ICR_HIGH], eax
        mov dword ptr [ebx + APIC_ICR_LOW], ICR_NMI
        mov ecx, 100000
1:      pause
        loop 1b
        mov eax, [nmi_count]
        mov [nmi_count_inside], eax
        pop ebx
        pop ecx
        pop eax
2:      iretd

# Waits (interrupts enabled) until the dword at [EBX] reaches EAX, or TIMEOUT_TSC ticks pass.
# CF=1 on timeout. Keeps every register.
wait_for:
        pushad
        mov esi, eax
        rdtsc
        mov edi, eax
        mov ebp, edx
        sti
1:      cmp [ebx], esi
        jae 2f
        pause
        rdtsc
        sub eax, edi
        sbb edx, ebp
        jnz 3f
        cmp eax, TIMEOUT_TSC
        jb 1b
3:      cli
        popad
        stc
        ret
2:      cli
        popad
        clc
        ret

# Spins for EAX TSC ticks with interrupts enabled.
spin:
        pushad
        mov esi, eax
        rdtsc
        mov edi, eax
        sti
1:      pause
        rdtsc
        sub eax, edi
        cmp eax, esi
        jb 1b
        cli
        popad
        ret

TESTCASE base_and_version, "apic-base-id-version"
        NEED_APIC
        mov ecx, MSR_APIC_BASE
        rdmsr
        CHECK_MASKED "IA32_APIC_BASE: enabled, BSP", eax, ((1 << 11) | (1 << 8)), ((1 << 11) | (1 << 8))
        CHECK_MASKED "IA32_APIC_BASE: the default base", eax, 0xFFFFF000, 0xFEE00000
        APIC_READ eax, APIC_VERSION
        CHECK_MASKED "version: an integrated APIC (0x1X)", eax, 0xF0, 0x10
        mov ebx, eax
        shr ebx, 16
        and ebx, 0xFF
        cmp ebx, 4
        jae 1f
        FAIL_MSG "version: fewer than five LVT entries"
1:      mov eax, 1
        cpuid
        shr ebx, 24
        APIC_READ eax, APIC_ID
        shr eax, 24
        CHECK_EQ "APIC ID register = CPUID.1:EBX[31:24]", eax, ebx
        ret

TESTCASE self_ipi, "self-ipi"
        NEED_APIC
        APIC_WRITE APIC_ICR_LOW, (ICR_SELF | 0x50)
        mov ebx, offset counts + 0x50 * 4
        mov eax, 1
        call wait_for
        CHECK_EQ "self IPI (shorthand) delivered once", [counts + 0x50 * 4], 1
        CHECK_EQ "its ISR bit was set in the handler", [isr_seen + 0x50 * 4], 1
        APIC_READ eax, APIC_ISR + 0x20
        CHECK_EQ "ISR clear after EOI", eax, 0
        APIC_READ eax, APIC_ICR_LOW
        CHECK_MASKED "ICR delivery status idle", eax, ICR_PENDING, 0
        # The same through a physical destination: the APIC's own ID.
        APIC_READ eax, APIC_ID
        APIC_WRITE APIC_ICR_HIGH, eax
        APIC_WRITE APIC_ICR_LOW, 0x51
        mov ebx, offset counts + 0x51 * 4
        mov eax, 1
        call wait_for
        CHECK_EQ "IPI to the own APIC ID delivered", [counts + 0x51 * 4], 1
        ret

TESTCASE shorthands, "ipi-destinations"
        NEED_APIC
        APIC_WRITE APIC_ICR_LOW, (ICR_ALL_INCLUDING_SELF | 0x50)
        mov ebx, offset counts + 0x50 * 4
        mov eax, 1
        call wait_for
        CHECK_EQ "all including self: delivered here", [counts + 0x50 * 4], 1
        APIC_WRITE APIC_ICR_LOW, (ICR_ALL_EXCLUDING_SELF | 0x51)
        mov eax, 1000000
        call spin
        CHECK_EQ "all excluding self: not delivered here", [counts + 0x51 * 4], 0
        # Logical destination, flat model: this APIC answers to bit 0 of its logical ID.
        APIC_WRITE APIC_DFR, 0xFFFFFFFF
        APIC_WRITE APIC_LDR, 0x01000000
        APIC_WRITE APIC_ICR_HIGH, 0x01000000
        APIC_WRITE APIC_ICR_LOW, (ICR_LOGICAL | 0x52)
        mov ebx, offset counts + 0x52 * 4
        mov eax, 1
        call wait_for
        CHECK_EQ "logical destination 0x01: delivered", [counts + 0x52 * 4], 1
        APIC_WRITE APIC_ICR_HIGH, 0x02000000
        APIC_WRITE APIC_ICR_LOW, (ICR_LOGICAL | 0x58)
        mov eax, 1000000
        call spin
        CHECK_EQ "logical destination 0x02: not this APIC", [counts + 0x58 * 4], 0
        APIC_WRITE APIC_LDR, 0
        ret

TESTCASE software_disable, "svr-software-disable-masks-lvts"
        NEED_APIC
        APIC_WRITE APIC_SVR, 0xFF       # APIC software-disabled
        APIC_WRITE APIC_LVT_TIMER, 0x40
        APIC_READ eax, APIC_LVT_TIMER
        CHECK_MASKED "LVT timer stays masked while disabled", eax, LVT_MASKED, LVT_MASKED
        APIC_WRITE APIC_SVR, 0x1FF
        APIC_READ eax, APIC_LVT_TIMER
        CHECK_MASKED "still masked after re-enabling", eax, LVT_MASKED, LVT_MASKED
        APIC_WRITE APIC_LVT_TIMER, 0x40
        APIC_READ eax, APIC_LVT_TIMER
        CHECK_MASKED "unmasked by a write once enabled", eax, (LVT_MASKED | 0xFF), 0x40
        APIC_WRITE APIC_LVT_TIMER, (LVT_MASKED | 0x40)
        ret

TESTCASE ipi_held_while_if_clear, "ipi-held-in-irr-while-if-clear"
        NEED_APIC
        APIC_WRITE APIC_ICR_LOW, (ICR_SELF | 0x52)
        nop
        nop
        CHECK_EQ "not delivered with IF = 0", [counts + 0x52 * 4], 0
        APIC_READ eax, APIC_IRR + 0x20
        CHECK_MASKED "IRR bit 0x52 set", eax, (1 << (0x52 - 0x40)), (1 << (0x52 - 0x40))
        sti
        nop
        cli
        CHECK_EQ "delivered once IF = 1", [counts + 0x52 * 4], 1
        APIC_READ eax, APIC_IRR + 0x20
        CHECK_EQ "IRR clear", eax, 0
        ret

TESTCASE priority_order, "ipi-priority-order"
        NEED_APIC
        APIC_WRITE APIC_ICR_LOW, (ICR_SELF | 0x42)
        APIC_WRITE APIC_ICR_LOW, (ICR_SELF | 0x62)
        APIC_WRITE APIC_ICR_LOW, (ICR_SELF | 0x52)
        sti
        nop
        nop
        nop
        cli
        CHECK_EQ "three interrupts", [log_count], 3
        CHECK_EQ "first: the highest vector", [log_order], 0x62
        CHECK_EQ "second", [log_order + 4], 0x52
        CHECK_EQ "third: the lowest vector", [log_order + 8], 0x42
        ret

TESTCASE task_priority, "tpr-and-ppr"
        NEED_APIC
        APIC_WRITE APIC_TPR, 0x50
        APIC_READ eax, APIC_PPR
        CHECK_MASKED "PPR follows TPR", eax, 0xF0, 0x50
        APIC_WRITE APIC_ICR_LOW, (ICR_SELF | 0x45)
        APIC_WRITE APIC_ICR_LOW, (ICR_SELF | 0x58)
        mov eax, 0x100000
        call spin
        CHECK_EQ "class 4 below TPR class 5: held", [counts + 0x45 * 4], 0
        CHECK_EQ "class 5 equal to TPR class 5: held", [counts + 0x58 * 4], 0
        APIC_WRITE APIC_ICR_LOW, (ICR_SELF | 0x65)
        mov ebx, offset counts + 0x65 * 4
        mov eax, 1
        call wait_for
        CHECK_EQ "class 6 above TPR: delivered", [counts + 0x65 * 4], 1
        APIC_WRITE APIC_TPR, 0
        mov ebx, offset log_count
        mov eax, 3
        call wait_for
        CHECK_EQ "TPR 0: class 5 delivered", [counts + 0x58 * 4], 1
        CHECK_EQ "TPR 0: class 4 delivered", [counts + 0x45 * 4], 1
        CHECK_EQ "after TPR dropped: 0x58 before 0x45", [log_order + 4], 0x58
        ret

TESTCASE in_service_priority, "isr-blocks-its-class-until-eoi"
        NEED_APIC
        mov dword ptr [no_eoi_vector], 0x50
        APIC_WRITE APIC_ICR_LOW, (ICR_SELF | 0x50)
        mov ebx, offset counts + 0x50 * 4
        mov eax, 1
        call wait_for
        APIC_READ eax, APIC_ISR + 0x20
        CHECK_MASKED "0x50 still in service (no EOI)", eax, (1 << (0x50 - 0x40)), (1 << (0x50 - 0x40))
        APIC_READ eax, APIC_PPR
        CHECK_MASKED "PPR: the in-service class", eax, 0xF0, 0x50
        APIC_WRITE APIC_ICR_LOW, (ICR_SELF | 0x58)
        APIC_WRITE APIC_ICR_LOW, (ICR_SELF | 0x68)
        mov ebx, offset counts + 0x68 * 4
        mov eax, 1
        call wait_for
        CHECK_EQ "class 6 delivered over class 5 in service", [counts + 0x68 * 4], 1
        CHECK_EQ "same class 5 held", [counts + 0x58 * 4], 0
        APIC_WRITE APIC_EOI, 0          # retires 0x50, the highest in service
        mov ebx, offset counts + 0x58 * 4
        mov eax, 1
        call wait_for
        CHECK_EQ "after EOI: 0x58 delivered", [counts + 0x58 * 4], 1
        ret

TESTCASE nesting, "nested-interrupts"
        NEED_APIC
        mov dword ptr [nest_vector], 0x74
        APIC_WRITE APIC_ICR_LOW, (ICR_SELF | 0x41)
        mov ebx, offset log_count
        mov eax, 2
        call wait_for
        CHECK_EQ "outer handler ran", [counts + 0x41 * 4], 1
        CHECK_EQ "inner (higher class) handler ran", [counts + 0x74 * 4], 1
        CHECK_EQ "the inner one ran inside the outer one", [nested_log_count], 2
        ret

TESTCASE nmi_ipi, "nmi-ipi"
        NEED_APIC
        mov dword ptr [nmi_count], 0
        APIC_READ eax, APIC_ID
        APIC_WRITE APIC_ICR_HIGH, eax
        APIC_WRITE APIC_ICR_LOW, (ICR_NMI | 0x33)
        mov ebx, offset nmi_count
        mov eax, 1
        call wait_for
        CHECK_EQ "NMI taken", [nmi_count], 1
        APIC_WRITE APIC_ICR_LOW, (ICR_NMI | 0x33)
        mov ebx, offset nmi_count
        mov eax, 2
        call wait_for
        CHECK_EQ "a second NMI after the first handler's IRET", [nmi_count], 2
        ret

TESTCASE nmi_blocking, "nmi-blocked-until-iret"
        NEED_APIC
        mov dword ptr [nmi_count], 0
        mov dword ptr [nmi_resend], 1
        APIC_READ eax, APIC_ID
        APIC_WRITE APIC_ICR_HIGH, eax
        APIC_WRITE APIC_ICR_LOW, ICR_NMI
        mov ebx, offset nmi_count
        mov eax, 2
        call wait_for
        CHECK_EQ "inside the handler, the second NMI was held", [nmi_count_inside], 1
        CHECK_EQ "and delivered after the IRET", [nmi_count], 2
        ret

TESTCASE one_shot, "timer-one-shot"
        NEED_APIC
        APIC_WRITE APIC_TIMER_DIVIDE, DIVIDE_BY_1
        APIC_WRITE APIC_LVT_TIMER, 0x40
        APIC_WRITE APIC_TIMER_INITIAL, 10000000
        APIC_READ eax, APIC_TIMER_CURRENT
        cmp eax, 10000000
        jbe 1f
        FAIL_MSG "current count above the initial count"
1:      test eax, eax
        jnz 2f
        FAIL_MSG "current count 0 right after arming 10000000 (10 ms)"
2:      mov ebx, offset counts + 0x40 * 4
        mov eax, 1
        call wait_for
        jnc 3f
        FAIL_MSG "no timer interrupt"
3:      APIC_READ eax, APIC_TIMER_CURRENT
        CHECK_EQ "current count after expiry", eax, 0
        CHECK_EQ "the timer vector was in service", [isr_seen + 0x40 * 4], 1
        mov eax, 1000000
        call spin
        CHECK_EQ "one-shot: a single interrupt", [counts + 0x40 * 4], 1
        # HLT wakes on the timer.
        APIC_WRITE APIC_TIMER_INITIAL, 50000
        sti
        hlt
        cli
        CHECK_EQ "HLT woken by the timer", [counts + 0x40 * 4], 2
        ret

TESTCASE periodic, "timer-periodic"
        NEED_APIC
        APIC_WRITE APIC_TIMER_DIVIDE, DIVIDE_BY_1
        APIC_WRITE APIC_LVT_TIMER, (TIMER_PERIODIC | 0x41)
        APIC_WRITE APIC_TIMER_INITIAL, 300000
        mov ebx, offset counts + 0x41 * 4
        mov eax, 3
        call wait_for
        jnc 1f
        FAIL_MSG "fewer than three periodic interrupts"
1:      APIC_READ eax, APIC_TIMER_CURRENT
        test eax, eax
        jnz 2f
        FAIL_MSG "periodic: current count 0 (not reloaded)"
2:      APIC_WRITE APIC_TIMER_INITIAL, 0   # stops the timer
        mov ebx, [counts + 0x41 * 4]
        mov eax, 1000000
        call spin
        CHECK_EQ "no interrupts after initial count 0", [counts + 0x41 * 4], ebx
        APIC_READ eax, APIC_TIMER_CURRENT
        CHECK_EQ "stopped: current count 0", eax, 0
        ret

TESTCASE masked_timer, "timer-masked"
        NEED_APIC
        APIC_WRITE APIC_TIMER_DIVIDE, DIVIDE_BY_1
        APIC_WRITE APIC_LVT_TIMER, (LVT_MASKED | 0x40)
        APIC_WRITE APIC_TIMER_INITIAL, 50000
        mov eax, 1000000
        call spin
        APIC_READ eax, APIC_TIMER_CURRENT
        CHECK_EQ "masked: the count still runs down", eax, 0
        CHECK_EQ "masked: no interrupt", [counts + 0x40 * 4], 0
        ret

TESTCASE divider, "timer-divide-configuration"
        NEED_APIC
        APIC_WRITE APIC_LVT_TIMER, (LVT_MASKED | 0x40)
        APIC_WRITE APIC_TIMER_DIVIDE, DIVIDE_BY_1
        APIC_WRITE APIC_TIMER_INITIAL, 0x7FFFFFFF
        mov eax, 200000
        call spin
        APIC_READ eax, APIC_TIMER_CURRENT
        mov ebx, 0x7FFFFFFF
        sub ebx, eax                    # counts elapsed, divide by 1
        APIC_WRITE APIC_TIMER_DIVIDE, DIVIDE_BY_16
        APIC_WRITE APIC_TIMER_INITIAL, 0x7FFFFFFF
        mov eax, 200000
        call spin
        APIC_READ eax, APIC_TIMER_CURRENT
        mov ecx, 0x7FFFFFFF
        sub ecx, eax                    # counts elapsed, divide by 16
        test ecx, ecx
        jnz 1f
        FAIL_MSG "divide by 16: the count did not move"
1:      shl ecx, 2
        cmp ebx, ecx
        ja 2f
        FAIL_MSG "divide by 16 counted more than a quarter as fast as divide by 1"
2:      APIC_WRITE APIC_TIMER_INITIAL, 0
        ret

TESTCASE tsc_deadline, "timer-tsc-deadline"
        test dword ptr [cpu_features_ecx], 1 << 24
        jnz 1f
        SKIP_TEST "CPUID.1:ECX.TSC_DEADLINE = 0"
1:      NEED_APIC
        APIC_WRITE APIC_LVT_TIMER, (TIMER_TSC_DEADLINE | 0x42)
        rdtsc
        add eax, 200000
        adc edx, 0
        mov ecx, MSR_TSC_DEADLINE
        wrmsr
        mov ebx, offset counts + 0x42 * 4
        mov eax, 1
        call wait_for
        CHECK_EQ "deadline interrupt", [counts + 0x42 * 4], 1
        mov ecx, MSR_TSC_DEADLINE
        rdmsr
        CHECK_EQ "IA32_TSC_DEADLINE reads 0 after it fired", eax, 0
        # A deadline in the past fires at once; writing 0 disarms.
        mov ecx, MSR_TSC_DEADLINE
        xor edx, edx
        mov eax, 1
        wrmsr
        mov ebx, offset counts + 0x42 * 4
        mov eax, 2
        call wait_for
        CHECK_EQ "a past deadline fires", [counts + 0x42 * 4], 2
        rdtsc
        add eax, 200000
        adc edx, 0
        mov ecx, MSR_TSC_DEADLINE
        wrmsr
        xor eax, eax
        xor edx, edx
        wrmsr
        mov eax, 2000000
        call spin
        CHECK_EQ "disarmed by writing 0", [counts + 0x42 * 4], 2
        ret

        .section .bss
        .p2align 2
apic_base:      .skip 4
log:
log_count:      .skip 4
log_order:      .skip LOG_ENTRIES * 4
counts:         .skip 256 * 4
isr_seen:       .skip 256 * 4
timer_count_seen: .skip 4
nested_log_count: .skip 4
nmi_count:      .skip 4
log_end:
no_eoi_vector:  .skip 4
nmi_resend:     .skip 4
nmi_count_inside: .skip 4
nest_vector:    .skip 4

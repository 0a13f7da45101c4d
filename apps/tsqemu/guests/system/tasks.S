# Hardware task switches: JMP and CALL to a TSS and through task gates (GDT and IDT), IRET with NT
# back to the caller, busy bits, the back link, what is saved to the old TSS and loaded from the new
# one (registers, segments, LDT, CR3, CR0.TS), every check (limit, type, presence, privilege, busy),
# faults after the switch taken in the new task, LTR, exceptions through task gates with their
# error code on the new task's stack, and a double fault from a kernel stack overflow into an
# unmapped page handled by a task gate, as Linux i386 does.

        .include "runtime.inc"

        .globl guest_name
        .section .rodata
guest_name: .asciz "tasks"

        .set TSS_B, S0                  # GDT slots of this guest
        .set TSS_C, S1
        .set TSS_X, S2                  # the exception task (#DF, #TS, #GP through task gates)
        .set GATE_B, S3                 # task gate to TSS_B
        .set SCRATCH_SEL, S4
        .set LDT_SEL, S5
        .set TSS_LINK, 0
        .set TSS_ESP0, 4
        .set TSS_SS0, 8
        .set TSS_CR3, 28
        .set TSS_EIP, 32
        .set TSS_EFLAGS, 36
        .set TSS_EAX, 40
        .set TSS_ECX, 44
        .set TSS_EBX, 52
        .set TSS_ESP, 56
        .set TSS_ES, 72
        .set TSS_CS, 76
        .set TSS_SS, 80
        .set TSS_DS, 84
        .set TSS_FS, 88
        .set TSS_GS, 92
        .set TSS_LDT, 96
        .set TSS_IOMAP, 102
        .set TSS_SIZE, 104
        .set STACK_VA, 0x40000000       # the double-fault test's stack: an unmapped page below this

        .text

# init_tss(tss, eip, esp): a ring 0 task with flat segments, EFLAGS 2, this CR3, no LDT, no I/O map.
init_tss:
        pushad
        mov edi, [esp + 36]
        mov ecx, TSS_SIZE / 4
        xor eax, eax
        rep stosd
        mov edi, [esp + 36]
        mov eax, cr3
        mov [edi + TSS_CR3], eax
        mov eax, [esp + 40]
        mov [edi + TSS_EIP], eax
        mov dword ptr [edi + TSS_EFLAGS], 2
        mov eax, [esp + 44]
        mov [edi + TSS_ESP], eax
        mov [edi + TSS_ESP0], eax
        mov dword ptr [edi + TSS_SS0], KDATA
        mov eax, KDATA
        mov [edi + TSS_ES], eax
        mov [edi + TSS_SS], eax
        mov [edi + TSS_DS], eax
        mov [edi + TSS_FS], eax
        mov [edi + TSS_GS], eax
        mov dword ptr [edi + TSS_CS], KCODE
        mov word ptr [edi + TSS_IOMAP], TSS_SIZE
        popad
        ret

.macro TSS_INIT tss, eip, esp
        push \esp
        push \eip
        push \tss
        call init_tss
        lea esp, [esp + 12]
.endm

# TSS_B and TSS_C descriptors (available, 104 bytes) and a task gate to TSS_B.
setup_tasks:
        DESCRIPTOR TSS_B, (offset tss_b), (TSS_SIZE - 1), ACC_TSS32, FLAGS_BYTES16
        DESCRIPTOR TSS_C, (offset tss_c), (TSS_SIZE - 1), ACC_TSS32, FLAGS_BYTES16
        DESCRIPTOR TSS_X, (offset tss_x), (TSS_SIZE - 1), ACC_TSS32, FLAGS_BYTES16
        GATE GATE_B, 0, TSS_B, (ACC_TASK_GATE | ACC_DPL3)
        ret

# EAX = the access byte of the GDT descriptor for selector EAX.
access_byte:
        and eax, 0xFFF8
        movzx eax, byte ptr [gdt + eax + 5]
        ret

TESTCASE jmp_task, "jmp-to-tss-and-back"
        call setup_tasks
        TSS_INIT (offset tss_b), (offset task_b_jmp), (offset stack_b_top)
        mov dword ptr [tss_b + TSS_EAX], 0xB0B0B0B0
        mov dword ptr [tss_b + TSS_LINK], 0xDEAD
        clts
        mov ebx, 0x1111
        mov esi, 0x5555
        JMP_FAR TSS_B, 0x12345678       # the offset is ignored
1:      CHECK_EQ "A's EBX restored", ebx, 0x1111
        CHECK_EQ "A's ESI restored", esi, 0x5555
        CHECK_EQ "B saw EAX from its TSS", [seen_eax], 0xB0B0B0B0
        CHECK_EQ "B: TR", [seen_tr], TSS_B
        CHECK_EQ "B: its descriptor busy", [seen_own_type], ACC_TSS32_BUSY
        CHECK_EQ "B: A's descriptor available (JMP)", [seen_other_type], ACC_TSS32
        CHECK_MASKED "B: NT clear (JMP)", [seen_eflags], EFL_NT, 0
        CHECK_EQ "B: back link not written (JMP)", [tss_b + TSS_LINK], 0xDEAD
        CHECK_MASKED "B: CR0.TS set by the switch", [seen_cr0], CR0_TS, CR0_TS
        CHECK_EQ "A's TSS: saved EIP after the JMP", [tss_main + TSS_EIP], (offset 1b)
        CHECK_EQ "A's TSS: saved EBX", [tss_main + TSS_EBX], 0x1111
        CHECK_MASKED "A's TSS: saved CS", [tss_main + TSS_CS], 0xFFFF, KCODE
        CHECK_EQ "B's TSS: saved EIP after B's JMP", [tss_b + TSS_EIP], (offset task_b_jmp_back)
        str ax
        movzx eax, ax
        CHECK_EQ "TR back on A", eax, TSS_MAIN
        mov eax, TSS_B
        call access_byte
        CHECK_EQ "B's descriptor available again", eax, ACC_TSS32
        mov eax, TSS_MAIN
        call access_byte
        CHECK_EQ "A's descriptor busy", eax, ACC_TSS32_BUSY
        ret

# Task B (for JMP): records what it sees, then jumps back to the main task.
task_b_jmp:
        call record_task_view
        JMP_FAR TSS_MAIN, 0
task_b_jmp_back:
        ud2

record_task_view:
        mov [seen_eax], eax
        pushfd
        pop dword ptr [seen_eflags]
        str ax
        movzx eax, ax
        mov [seen_tr], eax
        call access_byte
        mov [seen_own_type], eax
        mov eax, TSS_MAIN
        call access_byte
        mov [seen_other_type], eax
        mov eax, cr0
        mov [seen_cr0], eax
        mov eax, ss
        mov [seen_ss], eax
        mov [seen_esp], esp
        ret

TESTCASE call_task, "call-tss-and-iret-back"
        call setup_tasks
        TSS_INIT (offset tss_b), (offset task_b_call), (offset stack_b_top)
        mov dword ptr [calls_to_b], 0
        mov ebx, 0x2222
        CALL_FAR TSS_B, 0
1:      CHECK_EQ "A's EBX restored", ebx, 0x2222
        CHECK_EQ "B: TR", [seen_tr], TSS_B
        CHECK_MASKED "B: NT set (CALL)", [seen_eflags], EFL_NT, EFL_NT
        CHECK_EQ "B: its descriptor busy", [seen_own_type], ACC_TSS32_BUSY
        CHECK_EQ "B: A's descriptor still busy (nested)", [seen_other_type], ACC_TSS32_BUSY
        CHECK_EQ "B's back link: A", [tss_b + TSS_LINK], TSS_MAIN
        CHECK_EQ "A's TSS: saved EIP after the CALL", [tss_main + TSS_EIP], (offset 1b)
        mov eax, TSS_B
        call access_byte
        CHECK_EQ "after IRET: B available", eax, ACC_TSS32
        mov eax, TSS_MAIN
        call access_byte
        CHECK_EQ "after IRET: A busy", eax, ACC_TSS32_BUSY
        pushfd
        pop eax
        CHECK_MASKED "after IRET: A's NT clear", eax, EFL_NT, 0
        CHECK_EQ "B's TSS: saved EIP after its IRET", [tss_b + TSS_EIP], (offset task_b_after_iret)
        CHECK_MASKED "B's TSS: saved EFLAGS without NT", [tss_b + TSS_EFLAGS], EFL_NT, 0
        # Calling B again resumes it after its IRET.
        CALL_FAR TSS_B, 0
        CHECK_EQ "B ran twice", [calls_to_b], 2
        ret

# Task B (for CALL and task gates): records, returns with IRET, and loops for the next call.
task_b_call:
        inc dword ptr [calls_to_b]
        call record_task_view
        iretd
task_b_after_iret:
        jmp task_b_call

TESTCASE task_gates, "task-gates"
        call setup_tasks
        TSS_INIT (offset tss_b), (offset task_b_call), (offset stack_b_top)
        mov dword ptr [calls_to_b], 0
        CALL_FAR GATE_B, 0
        CHECK_EQ "CALL through a GDT task gate", [calls_to_b], 1
        CHECK_EQ "B: TR is the TSS, not the gate", [seen_tr], TSS_B
        CHECK_EQ "B's back link", [tss_b + TSS_LINK], TSS_MAIN
        IDT_GATE 0x60, 0, TSS_B, ACC_TASK_GATE
        int 0x60
        CHECK_EQ "INT 0x60 through an IDT task gate", [calls_to_b], 2
        CHECK_MASKED "B: NT set (interrupt)", [seen_eflags], EFL_NT, EFL_NT
        CHECK_EQ "B: its stack, no frame pushed for INT n", [seen_esp], (offset stack_b_top - 4)
        # From ring 3: a DPL 3 gate reaches the DPL 0 TSS; the TSS itself cannot be named.
        IN_RING3 "ring 3: JMP to a DPL 0 TSS", VEC_GP, TSS_B, "JMP_FAR TSS_B | 3, 0"
        GATE GATE_B, 0, TSS_B, ACC_TASK_GATE
        IN_RING3 "ring 3: CALL through a DPL 0 task gate", VEC_GP, GATE_B, "CALL_FAR GATE_B | 3, 0"
        GATE GATE_B, 0, TSS_B, (ACC_TASK_GATE | ACC_DPL3)
        IN_RING3 "ring 3: CALL through a DPL 3 task gate, B returns", VEC_SYSCALL, NOERR, "CALL_FAR GATE_B | 3, 0", "mov ax, cs", "movzx ebx, ax"
        CHECK_EQ "B ran", [calls_to_b], 3
        CHECK_EQ "back in ring 3 after B's IRET", [fault_ebx], UCODE
        CHECK_MASKED "B saw the ring 3 caller saved in A's TSS", [tss_main + TSS_CS], 0xFFFF, UCODE
        GATE GATE_B, 0, TSS_B, ((ACC_TASK_GATE | ACC_DPL3) & ACC_NOT_PRESENT_MASK)
        EXPECT_FAULT "task gate not present", VEC_NP, GATE_B, "CALL_FAR GATE_B, 0"
        ret

TESTCASE busy_checks, "busy-and-type-checks"
        call setup_tasks
        TSS_INIT (offset tss_b), (offset task_b_call), (offset stack_b_top)
        EXPECT_FAULT "JMP to the current (busy) TSS", VEC_GP, TSS_MAIN, "JMP_FAR TSS_MAIN, 0"
        EXPECT_FAULT "CALL to the current (busy) TSS", VEC_GP, TSS_MAIN, "CALL_FAR TSS_MAIN, 0"
        DESCRIPTOR TSS_B, (offset tss_b), (TSS_SIZE - 1), ACC_TSS32_BUSY, FLAGS_BYTES16
        EXPECT_FAULT "JMP to a busy TSS", VEC_GP, TSS_B, "JMP_FAR TSS_B, 0"
        EXPECT_FAULT "task gate to a busy TSS", VEC_GP, TSS_B, "JMP_FAR GATE_B, 0"
        DESCRIPTOR TSS_B, (offset tss_b), (TSS_SIZE - 1), ACC_TSS32, FLAGS_BYTES16
        # IRET with NT: the back link must name a busy TSS.
        mov dword ptr [tss_main + TSS_LINK], TSS_B
        EXPECT_FAULT "IRET with NT to an available TSS", VEC_TS, TSS_B, "pushfd", "or dword ptr [esp], EFL_NT", "popfd", "iretd"
        mov dword ptr [tss_main + TSS_LINK], KDATA
        EXPECT_FAULT "IRET with NT to a data descriptor", VEC_TS, KDATA, "pushfd", "or dword ptr [esp], EFL_NT", "popfd", "iretd"
        # The TSS descriptor itself.
        DESCRIPTOR TSS_C, (offset tss_c), 0x66, ACC_TSS32, FLAGS_BYTES16
        EXPECT_FAULT "CALL to a TSS with limit 0x66", VEC_TS, TSS_C, "CALL_FAR TSS_C, 0"
        GATE GATE_B, 0, TSS_C, ACC_TASK_GATE
        EXPECT_FAULT "task gate to a TSS with limit 0x66", VEC_TS, TSS_C, "CALL_FAR GATE_B, 0"
        DESCRIPTOR TSS_C, (offset tss_c), (TSS_SIZE - 1), (ACC_TSS32 & ACC_NOT_PRESENT_MASK), FLAGS_BYTES16
        EXPECT_FAULT "JMP to a not-present TSS", VEC_NP, TSS_C, "JMP_FAR TSS_C, 0"
        GATE GATE_B, 0, KDATA, ACC_TASK_GATE
        EXPECT_FAULT "task gate to a data descriptor", VEC_GP, KDATA, "JMP_FAR GATE_B, 0"
        ret

TESTCASE ltr_checks, "ltr-checks"
        call setup_tasks
        EXPECT_FAULT "LTR of the busy current TSS", VEC_GP, TSS_MAIN, "mov ax, TSS_MAIN", "ltr ax"
        EXPECT_FAULT "LTR of a data segment", VEC_GP, KDATA, "mov ax, KDATA", "ltr ax"
        EXPECT_FAULT "LTR with TI = 1", VEC_GP, (TSS_B | 4), "mov ax, TSS_B | 4", "ltr ax"
        DESCRIPTOR TSS_C, (offset tss_c), (TSS_SIZE - 1), (ACC_TSS32 & ACC_NOT_PRESENT_MASK), FLAGS_BYTES16
        EXPECT_FAULT "LTR of a not-present TSS", VEC_NP, TSS_C, "mov ax, TSS_C", "ltr ax"
        EXPECT_FAULT "LTR of an available TSS", NOFAULT, NOERR, "mov ax, TSS_B", "ltr ax"
        mov eax, TSS_B
        call access_byte
        CHECK_EQ "LTR marks it busy", eax, ACC_TSS32_BUSY
        str ax
        movzx eax, ax
        CHECK_EQ "STR", eax, TSS_B
        ret

TESTCASE ltr_null, "ltr-null-selector"
        EXPECT_FAULT "LTR 0", VEC_GP, 0, "xor eax, eax", "ltr ax"
        ret

TESTCASE state_transfer, "task-state-saved-and-loaded"
        call setup_tasks
        TSS_INIT (offset tss_b), (offset task_b_state), (offset stack_b_top)
        mov dword ptr [tss_b + TSS_EAX], 0xA1
        mov dword ptr [tss_b + TSS_ECX], 0xC1
        mov dword ptr [tss_b + TSS_EBX], 0xB1
        mov dword ptr [tss_b + TSS_EFLAGS], 2 | EFL_CF
        mov dword ptr [tss_b + TSS_DS], UDATA
        mov dword ptr [tss_b + TSS_FS], 0
        # An LDT for B with one data segment, loaded by the switch.
        mov dword ptr [ldt_table + 8], 0x0000FFFF
        mov dword ptr [ldt_table + 12], 0x00CF9200
        DESCRIPTOR LDT_SEL, (offset ldt_table), 15, ACC_LDT, FLAGS_BYTES16
        mov dword ptr [tss_b + TSS_LDT], LDT_SEL
        mov dword ptr [tss_b + TSS_GS], 0x0C
        mov eax, 0x12345678
        mov edx, 0x9ABCDEF0
        mov ax, KDATA
        mov fs, ax
        CALL_FAR TSS_B, 0
        CHECK_EQ "B: EAX", [b_regs], 0xA1
        CHECK_EQ "B: ECX", [b_regs + 4], 0xC1
        CHECK_EQ "B: EBX", [b_regs + 8], 0xB1
        CHECK_EQ "B: ESP", [b_regs + 12], (offset stack_b_top)
        CHECK_MASKED "B: EFLAGS CF from its TSS", [b_regs + 16], EFL_CF, EFL_CF
        CHECK_MASKED "B: DS", [b_regs + 20], 0xFFFF, UDATA
        CHECK_MASKED "B: FS (null)", [b_regs + 24], 0xFFFF, 0
        CHECK_MASKED "B: GS (LDT selector)", [b_regs + 28], 0xFFFF, 0x0C
        CHECK_MASKED "B: LDTR", [b_regs + 32], 0xFFFF, LDT_SEL
        CHECK_EQ "A's TSS: saved EDX", [tss_main + 48], 0x9ABCDEF0
        CHECK_MASKED "A's TSS: saved FS", [tss_main + TSS_FS], 0xFFFF, KDATA
        sldt ax
        movzx eax, ax
        CHECK_EQ "A's LDTR back (0)", eax, 0
        ret

task_b_state:
        mov [b_regs], eax
        mov [b_regs + 4], ecx
        mov [b_regs + 8], ebx
        mov [b_regs + 12], esp
        pushfd
        pop dword ptr [b_regs + 16]
        mov [b_regs + 20], ds
        mov [b_regs + 24], fs
        mov [b_regs + 28], gs
        sldt [b_regs + 32]
        iretd

TESTCASE faults_in_new_task, "faults-after-the-switch-in-the-new-task"
        # A bad LDT selector in the new TSS: #TS(selector), raised with the new task current. Its
        # segment registers may be unusable, so #TS goes through a task gate (as the SDM advises).
        mov eax, VEC_TS
        mov edx, 1
        call task_gate_for_vector
        TSS_INIT (offset tss_b), (offset task_b_call), (offset stack_b_top)
        mov dword ptr [tss_b + TSS_LDT], KDATA
        ARM_CATCH 1f
        JMP_FAR TSS_B, 0
1:      CHECK_EQ "the #TS task ran", [x_count], 1
        CHECK_EQ "#TS error code: the LDT selector", [x_error], KDATA
        CHECK_EQ "the fault is in task B: the back link", [x_link], TSS_B
        ret

TESTCASE fault_eip_in_new_task, "fault-after-the-switch-at-the-new-eip"
        # "To an exception handler, the first instruction of the new task appears not to have been
        # executed": the faulting task's saved EIP is B's first instruction, not A's JMP.
        mov eax, VEC_TS
        mov edx, 1
        call task_gate_for_vector
        TSS_INIT (offset tss_b), (offset task_b_call), (offset stack_b_top)
        mov dword ptr [tss_b + TSS_LDT], KDATA
        ARM_CATCH 1f
        JMP_FAR TSS_B, 0
1:      CHECK_EQ "the #TS task ran", [x_count], 1
        CHECK_EQ "B's saved EIP: its first instruction", [tss_b + TSS_EIP], (offset task_b_call)
        ret

TESTCASE bad_data_segments_in_tss, "invalid-data-segments-in-the-new-tss"
        # Segment registers in the new TSS are checked with #TS (not #GP), #NP when not present.
        DESCRIPTOR SCRATCH_SEL, 0, 0xFFFFF, (ACC_DATA_RW & ACC_NOT_PRESENT_MASK), FLAGS_PAGES32
        call setup_tasks
        TSS_INIT (offset tss_b), (offset task_b_call), (offset stack_b_top)
        mov dword ptr [tss_b + TSS_DS], TSS_MAIN
        EXPECT_FAULT "DS naming a TSS", VEC_TS, TSS_MAIN, "JMP_FAR TSS_B, 0"
        call setup_tasks
        TSS_INIT (offset tss_b), (offset task_b_call), (offset stack_b_top)
        mov dword ptr [tss_b + TSS_ES], KDATA | 3
        EXPECT_FAULT "ES with RPL 3 > DPL 0", VEC_TS, KDATA, "JMP_FAR TSS_B, 0"
        call setup_tasks
        TSS_INIT (offset tss_b), (offset task_b_call), (offset stack_b_top)
        mov dword ptr [tss_b + TSS_FS], SCRATCH_SEL
        EXPECT_FAULT "FS not present", VEC_NP, SCRATCH_SEL, "JMP_FAR TSS_B, 0"
        ret

TESTCASE bad_code_stack_in_tss, "invalid-cs-and-ss-in-the-new-tss"
        # Faults after the commit point, handled by a #TS task (see above).
        mov eax, VEC_TS
        mov edx, 1
        call task_gate_for_vector
        TSS_INIT (offset tss_b), (offset task_b_call), (offset stack_b_top)
        mov dword ptr [tss_b + TSS_SS], KCODE
        ARM_CATCH 1f
        JMP_FAR TSS_B, 0
1:      CHECK_EQ "SS naming code: the #TS task ran", [x_count], 1
        CHECK_EQ "SS naming code: #TS error code", [x_error], KCODE
        CHECK_EQ "SS naming code: in task B", [x_link], TSS_B
        mov eax, VEC_TS
        mov edx, 1
        call task_gate_for_vector
        TSS_INIT (offset tss_b), (offset task_b_call), (offset stack_b_top)
        mov dword ptr [tss_b + TSS_CS], KDATA
        ARM_CATCH 2f
        JMP_FAR TSS_B, 0
2:      CHECK_EQ "CS naming data: the #TS task ran", [x_count], 1
        CHECK_EQ "CS naming data: #TS error code", [x_error], KDATA
        CHECK_EQ "CS naming data: in task B", [x_link], TSS_B
        ret

TESTCASE task_cr3, "task-switch-loads-cr3"
        # Two address spaces: STACK_VA + 0x1000 is SCRATCH_MEM in A's, SCRATCH_MEM + 0x1000 in B's.
        test dword ptr [cpu_features_edx], 1 << 3
        jnz 1f
        SKIP_TEST "CPUID.1:EDX.PSE = 0"
1:      call map_guard_page
        mov edi, offset page_directory_b
        mov esi, offset page_directory
        mov ecx, 1024
        rep movsd
        mov edi, offset page_table_b
        mov ecx, 1024
        xor eax, eax
        rep stosd
        mov dword ptr [page_directory_b + (STACK_VA >> 22) * 4], offset page_table_b + 7
        mov dword ptr [page_table_b + 4], SCRATCH_MEM + 0x1000 + 7
        mov dword ptr [SCRATCH_MEM], 0x1111
        mov dword ptr [SCRATCH_MEM + 0x1000], 0x2222
        call setup_tasks
        TSS_INIT (offset tss_b), (offset task_b_cr3), (offset stack_b_top)
        mov dword ptr [tss_b + TSS_CR3], offset page_directory_b
        mov eax, cr3
        mov [tss_main + TSS_CR3], eax   # the CPU never writes CR3 to a TSS: A's return needs it there
        CALL_FAR TSS_B, 0
        CHECK_EQ "B's CR3 from its TSS", [seen_cr3], (offset page_directory_b)
        CHECK_EQ "B sees its own mapping", [seen_value], 0x2222
        mov eax, cr3
        CHECK_EQ "A's CR3 back after IRET", eax, (offset page_directory)
        CHECK_EQ "A sees its mapping", [STACK_VA + 0x1000], 0x1111
        ret

task_b_cr3:
        mov eax, cr3
        mov [seen_cr3], eax
        mov eax, [STACK_VA + 0x1000]
        mov [seen_value], eax
        iretd

# --- exceptions through task gates -------------------------------------------------------------

# The exception task: records its error code (if the vector has one: exception_has_error), its
# back link and the faulting task's saved EIP and ESP, then returns control to the armed catch point
# in the main task, as a longjmp across tasks: TR back to the main TSS, flat segments, NT clear.
exception_task:
        mov dword ptr [x_error], NOERR
        cmp dword ptr [exception_has_error], 0
        je 1f
        pop dword ptr [x_error]
1:      mov [x_esp], esp
        pushfd
        pop dword ptr [x_eflags]
        str ax
        movzx eax, ax
        mov [x_tr], eax
        movzx eax, word ptr [tss_x + TSS_LINK]
        mov [x_link], eax
        mov eax, cr2
        mov [x_cr2], eax
        mov eax, TSS_MAIN
        call access_byte
        mov [x_main_type], eax
        inc dword ptr [x_count]
        and byte ptr [gdt + TSS_MAIN + 5], ~2   # make the main TSS available, then current again
        mov ax, TSS_MAIN
        ltr ax
        push 2
        popfd
        mov ax, KDATA
        mov ss, ax
        mov esp, [catch_esp]
        mov eax, [catch_eip]
        mov dword ptr [catch_eip], 0
        jmp eax

# IDT vector EAX becomes a task gate to TSS_X, a fresh exception task; EDX says whether an error code.
task_gate_for_vector:
        pushad
        mov [exception_has_error], edx
        call setup_tasks
        TSS_INIT (offset tss_x), (offset exception_task), (offset stack_x_top)
        mov dword ptr [x_count], 0
        IDT_GATE eax, 0, TSS_X, ACC_TASK_GATE
        popad
        ret

TESTCASE gp_via_task_gate, "exception-through-task-gate"
        mov eax, VEC_GP
        mov edx, 1
        call task_gate_for_vector
        ARM_CATCH 1f
        mov ax, 0x1F8
2:      mov fs, ax
1:      CHECK_EQ "the exception task ran", [x_count], 1
        CHECK_EQ "error code on the exception task's stack", [x_error], 0x1F8
        CHECK_EQ "exception task's ESP: its stack minus the error code", [x_esp], (offset stack_x_top)
        CHECK_EQ "TR in the exception task", [x_tr], TSS_X
        CHECK_EQ "back link: the faulting task", [x_link], TSS_MAIN
        CHECK_MASKED "NT set in the exception task", [x_eflags], EFL_NT, EFL_NT
        CHECK_EQ "the faulting task stays busy", [x_main_type], ACC_TSS32_BUSY
        CHECK_EQ "saved EIP: the faulting instruction", [tss_main + TSS_EIP], (offset 2b)
        ret

TESTCASE ss0_via_task_gate, "invalid-ss0-ts-through-task-gate"
        # INT from ring 3 with a bad SS0 in the TSS: #TS(SS0). Its delivery cannot use that stack
        # either, so #TS goes through a task gate.
        mov eax, VEC_TS
        mov edx, 1
        call task_gate_for_vector
        mov dword ptr [tss_main + TSS_SS0], UDATA
        ARM_CATCH 1f
        ENTER_RING3 2f
2:      int VEC_SYSCALL
1:      CHECK_EQ "the exception task ran", [x_count], 1
        CHECK_EQ "#TS error code: SS0", [x_error], (UDATA & ~3)
        CHECK_MASKED "the faulting task was at ring 3", [tss_main + TSS_CS], 0xFFFF, UCODE
        CHECK_EQ "saved EIP: the INT", [tss_main + TSS_EIP], (offset 2b)
        ret

TESTCASE double_fault, "double-fault-through-task-gate"
        # Linux i386: the kernel stack runs into an unmapped page, the #PF cannot be pushed, #DF goes
        # through a task gate to a task with its own stack.
        test dword ptr [cpu_features_edx], 1 << 3
        jnz 1f
        SKIP_TEST "CPUID.1:EDX.PSE = 0"
1:      call map_guard_page
        mov eax, VEC_DF
        mov edx, 1
        call task_gate_for_vector
        ARM_CATCH 1f
        mov esp, STACK_VA + 0x1000 + 8  # two dwords of room in the mapped page above
        push eax
        push eax
2:      push eax                        # into the unmapped page: #PF, whose frame cannot be pushed
1:      CHECK_EQ "the double-fault task ran", [x_count], 1
        CHECK_EQ "#DF error code", [x_error], 0
        CHECK_EQ "back link: the faulting task", [x_link], TSS_MAIN
        CHECK_MASKED "NT set in the double-fault task", [x_eflags], EFL_NT, EFL_NT
        CHECK_EQ "saved ESP of the faulting task", [tss_main + TSS_ESP], (STACK_VA + 0x1000)
        CHECK_EQ "saved EIP: the push", [tss_main + TSS_EIP], (offset 2b)
        CHECK_MASKED "CR2 in the unmapped page", [x_cr2], 0xFFFFF000, (STACK_VA + 0x0000)
        ret

TESTCASE inner_stack_page_fault, "inner-stack-page-fault-restarts-cleanly"
        # ESP0 points at an unmapped page: a call gate or an INT from ring 3 page-faults while pushing
        # onto the inner stack. The #PF (through a task gate, as it cannot use that stack either)
        # must find the ring 3 state untouched: CS:EIP at the instruction, SS:ESP ring 3's.
        test dword ptr [cpu_features_edx], 1 << 3
        jnz 1f
        SKIP_TEST "CPUID.1:EDX.PSE = 0"
1:      call map_guard_page
        mov eax, VEC_PF
        mov edx, 1
        call task_gate_for_vector
        mov dword ptr [tss_main + TSS_ESP0], STACK_VA + 0x1000   # the page below is not mapped
        GATE S8, (offset 3f), KCODE, (ACC_CALL_GATE32 | ACC_DPL3)
        ARM_CATCH 1f
        ENTER_RING3 2f
2:      CALL_FAR S8 | 3, 0
3:      ud2
1:      CHECK_EQ "call gate: the #PF task ran", [x_count], 1
        CHECK_EQ "call gate: a supervisor write to a not-present page (error code 2)", [x_error], 2
        CHECK_MASKED "call gate: CR2 below ESP0", [x_cr2], 0xFFFFF000, STACK_VA
        CHECK_MASKED "call gate: saved CS is ring 3's", [tss_main + TSS_CS], 0xFFFF, UCODE
        CHECK_MASKED "call gate: saved SS is ring 3's", [tss_main + TSS_SS], 0xFFFF, UDATA
        CHECK_EQ "call gate: saved ESP is ring 3's", [tss_main + TSS_ESP], (offset ring3_stack_top)
        CHECK_EQ "call gate: saved EIP is the CALL", [tss_main + TSS_EIP], (offset 2b)
        mov eax, VEC_PF
        mov edx, 1
        call task_gate_for_vector
        mov dword ptr [tss_main + TSS_ESP0], STACK_VA + 0x1000
        ARM_CATCH 1f
        ENTER_RING3 2f
2:      int VEC_SYSCALL
1:      CHECK_EQ "INT: the #PF task ran", [x_count], 1
        CHECK_EQ "INT: a supervisor write to a not-present page (error code 2)", [x_error], 2
        CHECK_MASKED "INT: saved CS is ring 3's", [tss_main + TSS_CS], 0xFFFF, UCODE
        CHECK_MASKED "INT: saved SS is ring 3's", [tss_main + TSS_SS], 0xFFFF, UDATA
        CHECK_EQ "INT: saved ESP is ring 3's", [tss_main + TSS_ESP], (offset ring3_stack_top)
        CHECK_EQ "INT: saved EIP is the INT", [tss_main + TSS_EIP], (offset 2b)
        ret

# Paging: 0-8 MiB one to one in 4 MiB pages; STACK_VA's 4 MiB slot has a page table in which
# only the page at STACK_VA + 0x1000 is present (frame SCRATCH_MEM).
map_guard_page:
        pushad
        mov edi, offset page_directory
        mov ecx, 2048
        xor eax, eax
        rep stosd                       # page_directory and page_table
        mov dword ptr [page_directory], 0x00000087
        mov dword ptr [page_directory + 4], 0x00400087
        mov dword ptr [page_directory + (STACK_VA >> 22) * 4], offset page_table + 7
        mov dword ptr [page_table + 4], SCRATCH_MEM + 7
        mov eax, offset page_directory
        mov cr3, eax
        mov eax, cr4
        or eax, CR4_PSE
        mov cr4, eax
        mov eax, cr0
        or eax, CR0_PG
        mov cr0, eax
        popad
        ret

        .section .bss
        .p2align 12
page_directory: .skip 4096
page_table:     .skip 4096
page_directory_b: .skip 4096
page_table_b:   .skip 4096
stack_b:        .skip 4096
stack_b_top:
stack_x:        .skip 4096
stack_x_top:
        .p2align 4
tss_b:          .skip TSS_SIZE
tss_c:          .skip TSS_SIZE
tss_x:          .skip TSS_SIZE
ldt_table:      .skip 16
        .p2align 2
seen_eax:       .skip 4
seen_eflags:    .skip 4
seen_tr:        .skip 4
seen_own_type:  .skip 4
seen_other_type: .skip 4
seen_cr0:       .skip 4
seen_ss:        .skip 4
seen_esp:       .skip 4
calls_to_b:     .skip 4
seen_cr3:       .skip 4
seen_value:     .skip 4
b_regs:         .skip 36
exception_has_error: .skip 4
x_error:        .skip 4
x_esp:          .skip 4
x_eflags:       .skip 4
x_tr:           .skip 4
x_link:         .skip 4
x_cr2:          .skip 4
x_main_type:    .skip 4
x_count:        .skip 4

# Every exception the CPU raises, with its vector, error code (or none: checked through the size of
# the frame pushed), and the EIP it pushes (the faulting instruction for faults, the next one for
# traps): #DE #DB #BP #OF #BR #UD #NM #DF #TS #NP #SS #GP #PF #MF #AC, and how exceptions during
# delivery combine (benign + contributory, contributory + contributory = #DF).

        .include "runtime.inc"

        .globl guest_name
        .section .rodata
guest_name: .asciz "exceptions"

        .set DR7_GD, 1 << 13
        .set DR6_B0, 1 << 0
        .set DR6_B1, 1 << 1
        .set DR6_BD, 1 << 13
        .set DR6_BS, 1 << 14

        .text

# The frame the CPU pushed at the same privilege level: 3 dwords, or 4 with an error code.
.macro CHECK_FRAME what, dwords
        mov eax, [catch_esp]
        sub eax, 4 * \dwords
        CHECK_EQ "\what", [fault_entry_esp], eax
.endm

TESTCASE divide_error, "de-divide-error"
        EXPECT_FAULT "DIV by zero", VEC_DE, NOERR, "mov eax, 1", "xor edx, edx", "xor ecx, ecx", "1: div ecx"
        CHECK_EQ "#DE is a fault: EIP of the DIV", [fault_eip], (offset 1b)
        CHECK_FRAME "#DE pushes no error code", 3
        EXPECT_FAULT "IDIV overflow", VEC_DE, NOERR, "mov eax, 0x80000000", "mov edx, 0xFFFFFFFF", "mov ecx, -1", "idiv ecx"
        EXPECT_FAULT "8-bit DIV quotient overflow", VEC_DE, NOERR, "mov ax, 0x1000", "mov cl, 2", "div cl"
        EXPECT_FAULT "AAM 0", VEC_DE, NOERR, ".byte 0xD4, 0x00"
        EXPECT_FAULT "DIV that fits", NOFAULT, NOERR, "mov eax, 100", "xor edx, edx", "mov ecx, 7", "div ecx"
        ret

TESTCASE single_step, "db-single-step"
        ARM_CATCH 1f
        pushfd
        or dword ptr [esp], EFL_TF
        popfd                           # no trap after the instruction that sets TF
        mov eax, 1                      # traps after this one
2:      mov eax, 2
1:      CHECK_FAULT "single step", VEC_DB, NOERR
        CHECK_EQ "#DB trap after the first instruction with TF", [fault_eip], (offset 2b)
        CHECK_EQ "EAX: only the first instruction ran", [fault_eax], 1
        CHECK_MASKED "DR6.BS", [fault_dr6], DR6_BS, DR6_BS
        CHECK_MASKED "pushed EFLAGS has TF", [fault_eflags], EFL_TF, EFL_TF
        CHECK_MASKED "the handler runs with TF clear", [fault_handler_eflags], EFL_TF, 0
        CHECK_FRAME "#DB pushes no error code", 3
        ret

TESTCASE single_step_mov_ss, "db-single-step-after-mov-ss"
        # MOV SS holds off the single-step trap for one instruction: it comes after the next one.
        ARM_CATCH 1f
        mov ax, ss
        pushfd
        or dword ptr [esp], EFL_TF
        popfd
        mov ss, ax                      # traps here are held off...
        mov ebx, 1                      # ...until after this one
2:      mov ebx, 2
1:      CHECK_FAULT "single step over MOV SS", VEC_DB, NOERR
        CHECK_EQ "#DB after the instruction following MOV SS", [fault_eip], (offset 2b)
        CHECK_EQ "EBX", [fault_ebx], 1
        ret

TESTCASE icebp, "db-int1-icebp"
        EXPECT_FAULT "INT1 (F1)", VEC_DB, NOERR, "int1", "1: nop"
        CHECK_EQ "INT1 is a trap: EIP after it", [fault_eip], (offset 1b)
        ret

TESTCASE instruction_breakpoint, "db-instruction-breakpoint"
        mov eax, offset 2f
        mov dr0, eax
        mov eax, 0x401                  # L0, execute, 1 byte
        mov dr7, eax
        ARM_CATCH 1f
        mov ebx, 1
2:      mov ebx, 2
        mov ebx, 3
1:      CHECK_FAULT "execute breakpoint", VEC_DB, NOERR
        CHECK_EQ "a fault: EIP of the instruction", [fault_eip], (offset 2b)
        CHECK_EQ "the instruction did not run", [fault_ebx], 1
        CHECK_MASKED "DR6.B0", [fault_dr6], (DR6_B0 | DR6_B1 | DR6_BS), DR6_B0
        ret

TESTCASE data_breakpoint, "db-data-breakpoint"
        mov eax, offset watched
        mov dr1, eax
        mov eax, 0x400 | (1 << 2) | (0x1 << 20) | (0x3 << 22)   # L1, write, 4 bytes
        mov dr7, eax
        ARM_CATCH 1f
        mov dword ptr [watched], 5
2:      mov ebx, 1
1:      CHECK_FAULT "write breakpoint", VEC_DB, NOERR
        CHECK_EQ "a trap: EIP after the write", [fault_eip], (offset 2b)
        CHECK_EQ "the write happened", [watched], 5
        CHECK_MASKED "DR6.B1", [fault_dr6], (DR6_B0 | DR6_B1), DR6_B1
        mov eax, 0x400 | (1 << 2) | (0x3 << 20) | (0x3 << 22)   # L1, read or write, 4 bytes
        mov dr7, eax
        EXPECT_FAULT "read/write breakpoint on a read of the last byte", VEC_DB, NOERR, "mov al, [watched + 3]"
        EXPECT_FAULT "no hit next to the watched dword", NOFAULT, NOERR, "mov al, [watched + 4]"
        ret

TESTCASE general_detect, "db-general-detect"
        mov eax, 0x400 | DR7_GD
        mov dr7, eax
        EXPECT_FAULT "MOV to DR0 with DR7.GD", VEC_DB, NOERR, "xor eax, eax", "1: mov dr0, eax"
        CHECK_EQ "a fault: EIP of the MOV", [fault_eip], (offset 1b)
        CHECK_MASKED "DR6.BD", [fault_dr6], DR6_BD, DR6_BD
        mov eax, dr7
        CHECK_MASKED "GD cleared on #DB", eax, DR7_GD, 0
        ret

TESTCASE breakpoint, "bp-int3"
        EXPECT_FAULT "INT3", VEC_BP, NOERR, "int3", "1: nop"
        CHECK_EQ "INT3 is a trap: EIP after it", [fault_eip], (offset 1b)
        CHECK_FRAME "#BP pushes no error code", 3
        EXPECT_FAULT "INT 3 (CD 03)", VEC_BP, NOERR, ".byte 0xCD, 0x03", "2: nop"
        CHECK_EQ "INT 3: EIP after both bytes", [fault_eip], (offset 2b)
        ret

TESTCASE overflow, "of-into"
        EXPECT_FAULT "INTO with OF = 1", VEC_OF, NOERR, "mov al, 0x7F", "add al, 1", "into", "1: nop"
        CHECK_EQ "INTO is a trap: EIP after it", [fault_eip], (offset 1b)
        CHECK_FRAME "#OF pushes no error code", 3
        EXPECT_FAULT "INTO with OF = 0", NOFAULT, NOERR, "mov al, 0x7E", "add al, 1", "into"
        ret

TESTCASE bound_range, "br-bound"
        mov dword ptr [bounds], 10
        mov dword ptr [bounds + 4], 20
        EXPECT_FAULT "BOUND below", VEC_BR, NOERR, "mov eax, 9", "1: bound eax, [bounds]"
        CHECK_EQ "#BR is a fault: EIP of the BOUND", [fault_eip], (offset 1b)
        CHECK_FRAME "#BR pushes no error code", 3
        EXPECT_FAULT "BOUND above", VEC_BR, NOERR, "mov eax, 21", "bound eax, [bounds]"
        EXPECT_FAULT "BOUND at both ends", NOFAULT, NOERR, "mov eax, 10", "bound eax, [bounds]", "mov eax, 20", "bound eax, [bounds]"
        mov word ptr [bounds], 0xFFF0
        mov word ptr [bounds + 2], 0x0010
        EXPECT_FAULT "16-bit BOUND (signed)", VEC_BR, NOERR, "mov ax, 0x11", "bound ax, [bounds]"
        ret

TESTCASE invalid_opcode, "ud-invalid-opcode"
        EXPECT_FAULT "UD2", VEC_UD, NOERR, "1: ud2"
        CHECK_EQ "#UD is a fault: EIP of the UD2", [fault_eip], (offset 1b)
        CHECK_FRAME "#UD pushes no error code", 3
        EXPECT_FAULT "LOCK NOP", VEC_UD, NOERR, ".byte 0xF0, 0x90"
        EXPECT_FAULT "LOCK ADD with a register destination", VEC_UD, NOERR, ".byte 0xF0, 0x01, 0xD8"
        EXPECT_FAULT "LOCK ADD to memory is fine", NOFAULT, NOERR, "lock add dword ptr [scratch], 1"
        EXPECT_FAULT "LEA with a register source", VEC_UD, NOERR, ".byte 0x8D, 0xC0"
        EXPECT_FAULT "MOV to CS", VEC_UD, NOERR, ".byte 0x8E, 0xC8"
        EXPECT_FAULT "UD1 (0F B9)", VEC_UD, NOERR, ".byte 0x0F, 0xB9, 0xC0"
        ret

TESTCASE device_not_available, "nm-device-not-available"
        mov eax, CR0_PE | CR0_ET | CR0_NE | CR0_TS | CR0_MP
        mov cr0, eax
        EXPECT_FAULT "FLD1 with CR0.TS", VEC_NM, NOERR, "1: fld1"
        CHECK_EQ "#NM is a fault: EIP of the FLD1", [fault_eip], (offset 1b)
        CHECK_FRAME "#NM pushes no error code", 3
        EXPECT_FAULT "WAIT with CR0.TS and MP", VEC_NM, NOERR, "fwait"
        mov eax, CR0_PE | CR0_ET | CR0_NE | CR0_TS
        mov cr0, eax
        EXPECT_FAULT "WAIT with CR0.TS, MP clear", NOFAULT, NOERR, "fwait"
        EXPECT_FAULT "FNINIT with CR0.TS", VEC_NM, NOERR, "fninit"
        clts
        EXPECT_FAULT "FLD1 after CLTS", NOFAULT, NOERR, "fld1", "fstp st(0)"
        mov eax, CR0_PE | CR0_ET | CR0_NE | CR0_EM
        mov cr0, eax
        EXPECT_FAULT "FLD1 with CR0.EM", VEC_NM, NOERR, "fld1"
        EXPECT_FAULT "WAIT with CR0.EM only", NOFAULT, NOERR, "fwait"
        ret

TESTCASE double_fault, "df-contributory-pairs"
        # #GP whose gate is not present: the #NP during its delivery makes a #DF with error code 0.
        IDT_GATE VEC_GP, 0, KCODE, (ACC_INT_GATE32 & ACC_NOT_PRESENT_MASK)
        EXPECT_FAULT "#GP then #NP", VEC_DF, 0, "mov ax, 0x1F8", "mov fs, ax"
        CHECK_FRAME "#DF pushes an error code", 4
        # #DE whose gate points at a data segment: #GP during delivery, #DF.
        IDT_GATE VEC_DE, 0, KDATA, ACC_INT_GATE32
        EXPECT_FAULT "#DE then #GP", VEC_DF, 0, "xor ecx, ecx", "div ecx"
        ret

TESTCASE benign_then_contributory, "df-not-for-benign-first"
        # #BP (INT3, a benign exception) whose gate is not present: just the #NP, not a #DF. INT3 is
        # a software interrupt, so EXT is clear in the error code.
        IDT_GATE VEC_BP, 0, KCODE, ((ACC_INT_GATE32 | ACC_DPL3) & ACC_NOT_PRESENT_MASK)
        EXPECT_FAULT "INT3 to a not-present gate", VEC_NP, (VEC_BP * 8 + 2), "int3"
        ret

TESTCASE ext_bit, "error-code-ext-bit"
        # #UD (benign) whose gate is not present: the #NP's error code names the IDT entry (IDT = 1)
        # and has EXT = 1, as the event being delivered was an exception, not INT n.
        IDT_GATE VEC_UD, 0, KCODE, (ACC_INT_GATE32 & ACC_NOT_PRESENT_MASK)
        EXPECT_FAULT "#UD then #NP", VEC_NP, (VEC_UD * 8 + 2 + 1), "ud2"
        ret

TESTCASE invalid_tss, "ts-invalid-tss"
        # A TSS descriptor whose limit is below 0x67: #TS(selector), before anything changes.
        DESCRIPTOR S0, (offset small_tss), 0x66, ACC_TSS32, FLAGS_BYTES16
        EXPECT_FAULT "JMP to a TSS with limit 0x66", VEC_TS, S0, "1: JMP_FAR S0, 0"
        CHECK_EQ "#TS in the old task: EIP of the JMP", [fault_eip], (offset 1b)
        CHECK_FRAME "#TS pushes an error code", 4
        str ax
        movzx eax, ax
        CHECK_EQ "TR unchanged", eax, TSS_MAIN
        ret

TESTCASE not_present, "np-segment-not-present"
        DESCRIPTOR S1, 0, 0xFFFFF, (ACC_DATA_RW & ACC_NOT_PRESENT_MASK), FLAGS_PAGES32
        EXPECT_FAULT "MOV DS, not present", VEC_NP, S1, "mov ax, S1", "1: mov ds, ax"
        CHECK_EQ "#NP is a fault: EIP of the MOV", [fault_eip], (offset 1b)
        CHECK_FRAME "#NP pushes an error code", 4
        IDT_GATE 0x50, 0, KCODE, (ACC_INT_GATE32 & ACC_NOT_PRESENT_MASK)
        EXPECT_FAULT "INT 0x50, gate not present", VEC_NP, (0x50 * 8 + 2), "int 0x50"
        ret

TESTCASE stack_fault, "ss-stack-fault"
        DESCRIPTOR S2, 0, 0xFFFFF, (ACC_DATA_RW & ACC_NOT_PRESENT_MASK), FLAGS_PAGES32
        EXPECT_FAULT "MOV SS, not present", VEC_SS, S2, "mov ax, S2", "1: mov ss, ax"
        CHECK_EQ "#SS is a fault: EIP of the MOV", [fault_eip], (offset 1b)
        CHECK_FRAME "#SS pushes an error code", 4
        ret

TESTCASE general_protection, "gp-general-protection"
        EXPECT_FAULT "selector past the GDT limit", VEC_GP, 0x1F8, "mov ax, 0x1F8", "1: mov fs, ax"
        CHECK_EQ "#GP is a fault: EIP of the MOV", [fault_eip], (offset 1b)
        CHECK_FRAME "#GP pushes an error code", 4
        # The IDT limit: INT past it raises #GP(vector * 8 + 2).
        mov word ptr [small_idtr], 0x30 * 8 - 1
        mov dword ptr [small_idtr + 2], offset idt
        lidt [small_idtr]
        EXPECT_FAULT "INT 0x40 past the IDT limit", VEC_GP, (0x40 * 8 + 2), "int 0x40"
        lidt [idtr]
        ret

TESTCASE software_int_no_error_code, "int-n-to-an-error-code-vector"
        # INT 13 runs the #GP handler without an error code: the frame is 3 dwords. (The runtime's
        # stub expects one, so what it records as the error code is really the pushed EIP.)
        EXPECT_FAULT "INT 13", VEC_GP, (offset 1b), "int 13", "1: nop"
        CHECK_FRAME "INT 13 pushes EIP, CS, EFLAGS only", 3
        ret

TESTCASE page_fault, "pf-page-fault"
        test dword ptr [cpu_features_edx], 1 << 3
        jnz 1f
        SKIP_TEST "CPUID.1:EDX.PSE = 0"
1:      # Identity-map 0-8 MiB with two 4 MiB pages; nothing else is mapped.
        mov edi, offset page_directory
        mov ecx, 1024
        xor eax, eax
        rep stosd
        mov dword ptr [page_directory], 0x00000083
        mov dword ptr [page_directory + 4], 0x00400083
        mov eax, offset page_directory
        mov cr3, eax
        mov eax, cr4
        or eax, CR4_PSE
        mov cr4, eax
        mov eax, cr0
        or eax, CR0_PG
        mov cr0, eax
        EXPECT_FAULT "read of an unmapped page", VEC_PF, 0, "1: mov eax, [0x40001234]"
        CHECK_EQ "#PF is a fault: EIP of the read", [fault_eip], (offset 1b)
        CHECK_EQ "CR2", [fault_cr2], 0x40001234
        CHECK_FRAME "#PF pushes an error code", 4
        EXPECT_FAULT "write to an unmapped page", VEC_PF, 2, "mov dword ptr [0x80000FFF], 0"
        CHECK_EQ "CR2 of the write", [fault_cr2], 0x80000FFF
        ret

TESTCASE math_fault, "mf-x87-error"
        fninit
        fnstcw [fpu_cw]
        and word ptr [fpu_cw], ~0x0004  # unmask zero-divide
        fldcw [fpu_cw]
        EXPECT_FAULT "FDIV by zero, then FWAIT", VEC_MF, NOERR, "fld1", "fldz", "fdivp st(1), st", "1: fwait"
        CHECK_EQ "#MF at the next waiting instruction", [fault_eip], (offset 1b)
        CHECK_FRAME "#MF pushes no error code", 3
        fnstsw ax
        movzx eax, ax
        CHECK_MASKED "status word: ES and ZE", eax, 0x0084, 0x0084
        EXPECT_FAULT "FNCLEX, then FWAIT", NOFAULT, NOERR, "fnclex", "fwait"
        ret

TESTCASE math_fault_at_fp_instruction, "mf-at-next-fp-instruction"
        # A pending unmasked x87 exception is also taken at the next x87 instruction that waits.
        fninit
        fnstcw [fpu_cw]
        and word ptr [fpu_cw], ~0x0004
        fldcw [fpu_cw]
        EXPECT_FAULT "FDIV by zero, then FLD1", VEC_MF, NOERR, "fld1", "fldz", "fdivp st(1), st", "1: fld1"
        CHECK_EQ "#MF at the FLD1", [fault_eip], (offset 1b)
        EXPECT_FAULT "FNSTSW does not wait", NOFAULT, NOERR, "fnstsw ax"
        ret

TESTCASE alignment_check, "ac-alignment-check"
        mov eax, cr0
        or eax, CR0_AM
        mov cr0, eax
        mov dword ptr [ring3_eflags], EFL_AC | 2
        IN_RING3 "misaligned dword read at ring 3", VEC_AC, 0, "1: mov eax, [scratch + 1]"
        CHECK_EQ "#AC is a fault: EIP of the read", [fault_eip], (offset 1b)
        IN_RING3 "aligned dword read", VEC_SYSCALL, NOERR, "mov eax, [scratch]"
        IN_RING3 "misaligned byte read (always aligned)", VEC_SYSCALL, NOERR, "mov al, [scratch + 1]"
        # Not at ring 0, nor with EFLAGS.AC clear.
        EXPECT_FAULT "misaligned read at ring 0", NOFAULT, NOERR, "pushfd", "or dword ptr [esp], EFL_AC", "popfd", "mov eax, [scratch + 1]"
        mov dword ptr [ring3_eflags], 2
        IN_RING3 "misaligned read with AC clear", VEC_SYSCALL, NOERR, "mov eax, [scratch + 1]"
        ret

        .section .bss
        .p2align 12
page_directory: .skip 4096
small_tss:      .skip 104
        .p2align 3
watched:        .skip 8
scratch:        .skip 16
bounds:         .skip 8
small_idtr:     .skip 8
fpu_cw:         .skip 4

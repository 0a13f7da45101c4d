# Descriptors and privilege checks on segment loads: null selectors, table limits, the LDT, descriptor
# types, CPL/RPL/DPL, presence, the accessed bit, segment limits (byte and page granular, expand-down,
# 16- and 32-bit), read-only and execute-only segments, LAR/LSL/VERR/VERW/ARPL, and far JMP/CALL/RET
# to code segments (conforming and not) from rings 0 and 3.

        .include "runtime.inc"

        .globl guest_name
        .section .rodata
guest_name: .asciz "descriptors"

        .set DATA_BASE, SCRATCH_MEM     # scratch data segments start here
        .set MAGIC, 0x5A17C0DE

        .text

TESTCASE null_selectors, "null-selector-loads"
        # A null selector (any RPL) loads into DS/ES/FS/GS.
        EXPECT_FAULT "mov fs, 0", NOFAULT, NOERR, "xor eax, eax", "mov fs, ax"
        EXPECT_FAULT "mov gs, 3 (null, RPL 3)", NOFAULT, NOERR, "mov ax, 3", "mov gs, ax"
        mov ax, gs
        movzx eax, ax
        CHECK_EQ "GS after loading 3", eax, 3
        EXPECT_FAULT "mov es, 0", NOFAULT, NOERR, "xor eax, eax", "mov es, ax", "mov ax, KDATA", "mov es, ax"
        ret

TESTCASE null_selector_use, "null-selector-use"
        # Using a segment register that holds a null selector raises #GP(0).
        EXPECT_FAULT "read through null FS", VEC_GP, 0, "xor eax, eax", "mov fs, ax", "mov eax, fs:[0]"
        EXPECT_FAULT "write through null DS", VEC_GP, 0, "xor eax, eax", "mov ds, ax", "1: mov dword ptr [DATA_BASE], eax"
        CHECK_EQ "faulting EIP is the write", [fault_eip], (offset 1b)
        CHECK_EQ "DS at the fault", [fault_ds], 0
        ret

TESTCASE null_ss, "null-selector-ss"
        EXPECT_FAULT "mov ss, 0", VEC_GP, 0, "xor eax, eax", "mov ss, ax"
        EXPECT_FAULT "mov ss, 3", VEC_GP, 0, "mov ax, 3", "mov ss, ax"
        ret

TESTCASE gdt_limit, "gdt-limit"
        EXPECT_FAULT "selector past the GDT limit", VEC_GP, 0x140, "mov ax, 0x140", "mov fs, ax"
        EXPECT_FAULT "selector far past the limit, RPL 3", VEC_GP, 0x1F8, "mov ax, 0x1FB", "mov fs, ax"
        # A smaller GDT limit cuts off the entries behind it.
        DESCRIPTOR S3, DATA_BASE, 0xFFF, ACC_DATA_RW, FLAGS_BYTES32
        mov word ptr [small_gdtr], S3 + 7 - 1
        mov dword ptr [small_gdtr + 2], (offset gdt)
        lgdt [small_gdtr]
        EXPECT_FAULT "limit one byte short of the entry", VEC_GP, S3, "mov ax, S3", "mov fs, ax"
        mov word ptr [small_gdtr], S3 + 7
        lgdt [small_gdtr]
        EXPECT_FAULT "limit just covering the entry", NOFAULT, NOERR, "mov ax, S3", "mov fs, ax"
        lgdt [gdtr]
        ret

TESTCASE ldt_selectors, "ldt-selectors"
        # TI=1 with a null LDTR: #GP(selector).
        EXPECT_FAULT "LDT selector without an LDT", VEC_GP, 0x0C, "mov ax, 0x0C", "mov fs, ax"
        # An LDT of two entries: a data segment at DATA_BASE in entry 1.
        mov dword ptr [ldt_table], 0
        mov dword ptr [ldt_table + 4], 0
        mov dword ptr [ldt_table + 8], 0x0000FFFF      # base 15:0 = 0, limit 0xFFFF
        mov dword ptr [ldt_table + 12], 0x00409200 | ((DATA_BASE >> 16) & 0xFF)
        DESCRIPTOR S0, (offset ldt_table), 15, ACC_LDT, FLAGS_BYTES16
        mov ax, S0
        lldt ax
        sldt ax
        movzx eax, ax
        CHECK_EQ "SLDT", eax, S0
        EXPECT_FAULT "load LDT entry 1", NOFAULT, NOERR, "mov ax, 0x0C", "mov fs, ax"
        mov dword ptr fs:[0x10], MAGIC
        CHECK_EQ "write through the LDT segment lands at its base", [DATA_BASE + 0x10], MAGIC
        EXPECT_FAULT "LDT selector past the LDT limit", VEC_GP, 0x14, "mov ax, 0x17", "mov fs, ax"
        EXPECT_FAULT "null LDT entry 0 (TI=1 is not null)", VEC_GP, 0x04, "mov ax, 0x04", "mov fs, ax"
        ret

TESTCASE lldt_checks, "lldt-checks"
        DESCRIPTOR S1, (offset ldt_table), 15, ACC_DATA_RW, FLAGS_BYTES16
        EXPECT_FAULT "LLDT of a data descriptor", VEC_GP, S1, "mov ax, S1", "lldt ax"
        DESCRIPTOR S2, (offset ldt_table), 15, ACC_LDT & ACC_NOT_PRESENT_MASK, FLAGS_BYTES16
        EXPECT_FAULT "LLDT of a not-present LDT", VEC_NP, S2, "mov ax, S2", "lldt ax"
        EXPECT_FAULT "LLDT of a selector with TI=1", VEC_GP, S2 | 4, "mov ax, S2 | 4", "lldt ax"
        EXPECT_FAULT "LLDT of a TSS", VEC_GP, TSS_MAIN, "mov ax, TSS_MAIN", "lldt ax"
        EXPECT_FAULT "LLDT 0", NOFAULT, NOERR, "xor eax, eax", "lldt ax"
        ret

TESTCASE system_in_data_register, "system-descriptors-in-data-registers"
        EXPECT_FAULT "TSS descriptor into FS", VEC_GP, TSS_MAIN, "mov ax, TSS_MAIN", "mov fs, ax"
        DESCRIPTOR S4, (offset ldt_table), 15, ACC_LDT, FLAGS_BYTES16
        EXPECT_FAULT "LDT descriptor into ES", VEC_GP, S4, "mov ax, S4", "mov es, ax"
        GATE S5, (offset null_selectors), KCODE, ACC_CALL_GATE32
        EXPECT_FAULT "call gate into GS", VEC_GP, S5, "mov ax, S5", "mov gs, ax"
        EXPECT_FAULT "call gate into SS", VEC_GP, S5, "mov ax, S5", "mov ss, ax"
        ret

TESTCASE code_in_data_register, "code-segments-in-data-registers"
        DESCRIPTOR S1, 0, 0xFFFFF, ACC_CODE_X, FLAGS_PAGES32
        DESCRIPTOR S2, DATA_BASE, 0xFFFF, ACC_CODE_XR, FLAGS_BYTES32
        EXPECT_FAULT "execute-only code into FS", VEC_GP, S1, "mov ax, S1", "mov fs, ax"
        EXPECT_FAULT "readable code into FS", NOFAULT, NOERR, "mov ax, S2", "mov fs, ax"
        mov dword ptr [DATA_BASE + 0x20], MAGIC
        mov eax, fs:[0x20]
        CHECK_EQ "read through readable code in FS", eax, MAGIC
        EXPECT_FAULT "readable code into SS", VEC_GP, S2, "mov ax, S2", "mov ss, ax"
        ret

TESTCASE data_privilege, "data-segment-privilege"
        DESCRIPTOR S3, DATA_BASE, 0xFFFF, ACC_DATA_RW, FLAGS_BYTES32
        DESCRIPTOR S4, DATA_BASE, 0xFFFF, ACC_DATA_RW | ACC_DPL1, FLAGS_BYTES32
        EXPECT_FAULT "DPL 0 data, RPL 3 at CPL 0", VEC_GP, S3, "mov ax, S3 | 3", "mov fs, ax"
        EXPECT_FAULT "DPL 1 data, RPL 1 at CPL 0", NOFAULT, NOERR, "mov ax, S4 | 1", "mov fs, ax"
        mov ax, fs
        movzx eax, ax
        CHECK_EQ "FS keeps the RPL", eax, S4 | 1
        EXPECT_FAULT "DPL 1 data, RPL 2 at CPL 0", VEC_GP, S4, "mov ax, S4 | 2", "mov fs, ax"
        # DPL before presence: a not-present segment that also fails the privilege check is #GP.
        DESCRIPTOR S5, DATA_BASE, 0xFFFF, ACC_DATA_RW & ACC_NOT_PRESENT_MASK, FLAGS_BYTES32
        EXPECT_FAULT "not present, RPL 3 > DPL 0", VEC_GP, S5, "mov ax, S5 | 3", "mov fs, ax"
        ret

TESTCASE data_not_present, "data-segment-not-present"
        DESCRIPTOR S5, DATA_BASE, 0xFFFF, ACC_DATA_RW & ACC_NOT_PRESENT_MASK, FLAGS_BYTES32
        mov ax, fs
        movzx ebx, ax
        EXPECT_FAULT "not-present data into FS", VEC_NP, S5, "mov ax, S5", "mov fs, ax"
        CHECK_EQ "FS unchanged by the failed load", [fault_fs], ebx
        EXPECT_FAULT "not-present data into DS", VEC_NP, S5, "mov ax, S5", "mov ds, ax"
        EXPECT_FAULT "not-present data into SS", VEC_SS, S5, "mov ax, S5", "mov ss, ax"
        ret

TESTCASE ss_checks, "ss-load-checks"
        DESCRIPTOR S3, 0, 0xFFFFF, ACC_DATA_RW, FLAGS_PAGES32
        DESCRIPTOR S4, 0, 0xFFFFF, ACC_DATA_RW | ACC_DPL1, FLAGS_PAGES32
        DESCRIPTOR S6, 0, 0xFFFFF, ACC_DATA_RO, FLAGS_PAGES32
        DESCRIPTOR S7, 0, 0xFFFFF, ACC_CODE_XR, FLAGS_PAGES32
        EXPECT_FAULT "SS with RPL 3 at CPL 0", VEC_GP, S3, "mov ax, S3 | 3", "mov ss, ax"
        EXPECT_FAULT "SS with DPL 1 at CPL 0", VEC_GP, S4, "mov ax, S4", "mov ss, ax"
        EXPECT_FAULT "SS with DPL 1 and RPL 1", VEC_GP, S4, "mov ax, S4 | 1", "mov ss, ax"
        EXPECT_FAULT "read-only SS", VEC_GP, S6, "mov ax, S6", "mov ss, ax"
        EXPECT_FAULT "code SS", VEC_GP, S7, "mov ax, S7", "mov ss, ax"
        EXPECT_FAULT "ring 3 data as SS at CPL 0", VEC_GP, 0x20, "mov ax, UDATA", "mov ss, ax"
        EXPECT_FAULT "writable DPL 0 SS", NOFAULT, NOERR, "mov ax, S3", "mov ss, ax"
        ret

TESTCASE accessed_bit_data, "accessed-bit-data"
        DESCRIPTOR S6, DATA_BASE, 0xFFFF, ACC_DATA_RW, FLAGS_BYTES32
        DESCRIPTOR S7, DATA_BASE, 0xFFFF, ACC_DATA_RW, FLAGS_BYTES32
        movzx eax, byte ptr [gdt + S6 + 5]
        CHECK_EQ "data access byte before the load", eax, ACC_DATA_RW
        mov ax, S6
        mov fs, ax
        movzx eax, byte ptr [gdt + S6 + 5]
        CHECK_EQ "data access byte after MOV FS", eax, ACC_DATA_RW | ACC_ACCESSED
        mov ax, S7
        mov ss, ax
        mov ax, KDATA
        mov ss, ax
        movzx eax, byte ptr [gdt + S7 + 5]
        CHECK_EQ "data access byte after MOV SS", eax, ACC_DATA_RW | ACC_ACCESSED
        ret

TESTCASE accessed_bit_code, "accessed-bit-code"
        DESCRIPTOR S7, 0, 0xFFFFF, ACC_CODE_XR, FLAGS_PAGES32
        JMP_FAR S7, 1f
1:      movzx eax, byte ptr [gdt + S7 + 5]
        CHECK_EQ "code access byte after a far JMP", eax, ACC_CODE_XR | ACC_ACCESSED
        JMP_FAR KCODE, 2f
2:      ret

TESTCASE byte_limits, "limits-byte-granular"
        DESCRIPTOR S7, DATA_BASE, 0xFFF, ACC_DATA_RW, FLAGS_BYTES32
        mov ax, S7
        mov fs, ax
        EXPECT_FAULT "byte at the limit", NOFAULT, NOERR, "mov al, fs:[0xFFF]"
        EXPECT_FAULT "dword ending at the limit", NOFAULT, NOERR, "mov eax, fs:[0xFFC]"
        mov ax, S7
        mov fs, ax
        EXPECT_FAULT "byte past the limit", VEC_GP, 0, "mov al, fs:[0x1000]"
        mov ax, S7
        mov fs, ax
        EXPECT_FAULT "dword straddling the limit", VEC_GP, 0, "mov eax, fs:[0xFFD]"
        mov ax, S7
        mov fs, ax
        EXPECT_FAULT "word straddling the limit", VEC_GP, 0, "mov word ptr fs:[0xFFF], ax"
        mov ax, S7
        mov fs, ax
        EXPECT_FAULT "offset 0xFFFFFFFF", VEC_GP, 0, "mov al, fs:[0xFFFFFFFF]"
        ret

TESTCASE page_limits, "limits-page-granular"
        DESCRIPTOR S7, DATA_BASE, 0, ACC_DATA_RW, FLAGS_PAGES32    # G=1: limit 0 covers 0-0xFFF
        mov ax, S7
        mov fs, ax
        EXPECT_FAULT "last byte of the page", NOFAULT, NOERR, "mov al, fs:[0xFFF]"
        mov ax, S7
        mov fs, ax
        EXPECT_FAULT "first byte of the next page", VEC_GP, 0, "mov al, fs:[0x1000]"
        DESCRIPTOR S8, DATA_BASE, 1, ACC_DATA_RW, FLAGS_PAGES32
        mov ax, S8
        mov fs, ax
        EXPECT_FAULT "limit 1 with G=1 covers 0x1FFF", NOFAULT, NOERR, "mov al, fs:[0x1FFF]"
        mov ax, S8
        mov fs, ax
        EXPECT_FAULT "limit 1 with G=1 ends at 0x1FFF", VEC_GP, 0, "mov al, fs:[0x2000]"
        ret

TESTCASE stack_limits, "limits-stack-segment"
        # SS: base 0, page-granular limit a few pages above ESP. Accesses through SS past the limit
        # raise #SS(0), pushed on the same (still valid) stack.
        mov eax, esp
        shr eax, 12
        add eax, 2
        mov [ss_limit_pages], eax
        DESCRIPTOR S9, 0, eax, ACC_DATA_RW, FLAGS_PAGES32
        mov ebp, [ss_limit_pages]
        inc ebp
        shl ebp, 12                     # the first offset past the limit
        EXPECT_FAULT "SS:[EBP] at the limit + 1", VEC_SS, 0, "mov ax, S9", "mov ss, ax", "mov eax, [ebp]"
        EXPECT_FAULT "SS: override past the limit", VEC_SS, 0, "mov ax, S9", "mov ss, ax", "mov eax, ss:[ebp + 4]"
        EXPECT_FAULT "SS:[EBP - 1] inside the limit", NOFAULT, NOERR, "mov ax, S9", "mov ss, ax", "mov al, [ebp - 1]", "mov ax, KDATA", "mov ss, ax"
        EXPECT_FAULT "DS past the limit is #GP", VEC_GP, 0, "mov ax, S9", "mov fs, ax", "mov eax, fs:[ebp]"
        ret

TESTCASE expand_down, "limits-expand-down"
        # Expand-down, B=1: valid offsets are limit+1 .. 0xFFFFFFFF.
        DESCRIPTOR S9, DATA_BASE, 0xFFF, ACC_DATA_RW_DOWN, FLAGS_BYTES32
        mov ax, S9
        mov fs, ax
        EXPECT_FAULT "offset at the limit", VEC_GP, 0, "mov al, fs:[0xFFF]"
        mov ax, S9
        mov fs, ax
        EXPECT_FAULT "dword straddling limit + 1", VEC_GP, 0, "mov eax, fs:[0xFFE]"
        mov ax, S9
        mov fs, ax
        EXPECT_FAULT "offset limit + 1", NOFAULT, NOERR, "mov dword ptr fs:[0x1000], MAGIC"
        CHECK_EQ "write at limit + 1 lands at base + 0x1000", [DATA_BASE + 0x1000], MAGIC
        EXPECT_FAULT "last dword below 4 GiB", NOFAULT, NOERR, "mov eax, fs:[0xFFFFFFFC]"
        # Expand-down, B=0: the upper bound is 0xFFFF.
        DESCRIPTOR S10, DATA_BASE, 0xFFF, ACC_DATA_RW_DOWN, FLAGS_BYTES16
        mov ax, S10
        mov fs, ax
        EXPECT_FAULT "B=0: byte at 0xFFFF", NOFAULT, NOERR, "mov al, fs:[0xFFFF]"
        EXPECT_FAULT "B=0: byte at 0x10000", VEC_GP, 0, "mov al, fs:[0x10000]"
        mov ax, S10
        mov fs, ax
        EXPECT_FAULT "B=0: dword at 0xFFFE", VEC_GP, 0, "mov eax, fs:[0xFFFE]"
        mov ax, S10
        mov fs, ax
        EXPECT_FAULT "B=0: byte at the limit", VEC_GP, 0, "mov al, fs:[0xFFF]"
        # Expand-down with G=1: limit 0 means offsets 0x1000 and up are valid.
        DESCRIPTOR S11, DATA_BASE, 0, ACC_DATA_RW_DOWN, FLAGS_PAGES32
        mov ax, S11
        mov fs, ax
        EXPECT_FAULT "G=1: offset 0xFFF", VEC_GP, 0, "mov al, fs:[0xFFF]"
        mov ax, S11
        mov fs, ax
        EXPECT_FAULT "G=1: offset 0x1000", NOFAULT, NOERR, "mov al, fs:[0x1000]"
        ret

TESTCASE expand_down_stack, "expand-down-stack"
        # An expand-down stack segment, base 0, limit 0xFFF: offsets 0x1000 and up are valid, so the
        # flat stack keeps working, and SS-relative accesses at or below the limit raise #SS(0).
        DESCRIPTOR S12, 0, 0xFFF, ACC_DATA_RW_DOWN, FLAGS_BYTES32
        EXPECT_FAULT "push and pop on an expand-down SS", NOFAULT, NOERR, "mov ax, S12", "mov ss, ax", "push eax", "pop eax", "mov ax, KDATA", "mov ss, ax"
        mov ebp, 0xFFF
        EXPECT_FAULT "SS:[0xFFF], at the limit", VEC_SS, 0, "mov ax, S12", "mov ss, ax", "mov eax, [ebp]"
        mov ebp, 0x1000
        EXPECT_FAULT "SS:[0x1000], limit + 1", NOFAULT, NOERR, "mov ax, S12", "mov ss, ax", "mov eax, [ebp]", "mov ax, KDATA", "mov ss, ax"
        ret

TESTCASE read_only_data, "read-only-data-writes"
        DESCRIPTOR S10, DATA_BASE, 0xFFFF, ACC_DATA_RO, FLAGS_BYTES32
        mov dword ptr [DATA_BASE + 0x40], MAGIC
        mov ax, S10
        mov fs, ax
        EXPECT_FAULT "read", NOFAULT, NOERR, "mov ebx, fs:[0x40]"
        CHECK_EQ "value read", ebx, MAGIC
        mov ax, S10
        mov fs, ax
        EXPECT_FAULT "write", VEC_GP, 0, "mov dword ptr fs:[0x40], 0"
        CHECK_EQ "memory unchanged", [DATA_BASE + 0x40], MAGIC
        mov ax, S10
        mov fs, ax
        EXPECT_FAULT "read-modify-write", VEC_GP, 0, "inc dword ptr fs:[0x40]"
        ret

TESTCASE code_access, "code-segment-writes"
        EXPECT_FAULT "write through CS", VEC_GP, 0, "mov dword ptr cs:[DATA_BASE], 0"
        EXPECT_FAULT "read through readable CS", NOFAULT, NOERR, "mov eax, cs:[DATA_BASE]"
        DESCRIPTOR S2, DATA_BASE, 0xFFFF, ACC_CODE_XR, FLAGS_BYTES32
        EXPECT_FAULT "write through readable code in FS", VEC_GP, 0, "mov ax, S2", "mov fs, ax", "mov dword ptr fs:[0x20], 0"
        ret

TESTCASE execute_only_code, "execute-only-code-reads"
        # Running in execute-only code, reads through CS fault.
        DESCRIPTOR S1, 0, 0xFFFFF, ACC_CODE_X, FLAGS_PAGES32
        EXPECT_FAULT "read through execute-only CS", VEC_GP, 0, "JMP_FAR S1, 1f", "1: mov eax, cs:[DATA_BASE]"
        CHECK_EQ "fault CS", [fault_cs], S1
        ret

TESTCASE mov_cs, "mov-to-cs-is-ud"
        EXPECT_FAULT "mov cs, ax", VEC_UD, NOERR, "mov ax, KCODE", ".byte 0x8E, 0xC8"
        ret

TESTCASE lar_lsl, "lar-lsl"
        DESCRIPTOR S1, 0, 0xFFFFF, ACC_CODE_X, FLAGS_PAGES32
        DESCRIPTOR S2, DATA_BASE, 0x12345, ACC_DATA_RO, FLAGS_BYTES32
        DESCRIPTOR S3, DATA_BASE, 0x00012, ACC_DATA_RW, FLAGS_PAGES32
        GATE S4, (offset lar_lsl), KCODE, ACC_CALL_GATE32, 3
        DESCRIPTOR S5, 0, 0xFFFF, ACC_INT_GATE32, 0
        mov eax, 0xFFFFFFFF
        mov ebx, KDATA                  # in DS: accessed
        lar eax, ebx
        setz cl
        movzx ecx, cl
        CHECK_EQ "LAR KDATA: ZF", ecx, 1
        CHECK_EQ "LAR KDATA", eax, 0x00C09300
        mov ebx, UCODE
        lar eax, ebx
        CHECK_MASKED "LAR UCODE, accessed bit aside", eax, 0xFFFFFEFF, 0x00C0FA00
        mov ebx, S2
        lar eax, ebx
        CHECK_EQ "LAR read-only data (not yet accessed)", eax, 0x00409000
        mov ebx, TSS_MAIN
        lar eax, ebx
        CHECK_EQ "LAR busy TSS", eax, 0x00008B00
        mov ebx, S4
        lar eax, ebx
        setz cl
        movzx ecx, cl
        CHECK_EQ "LAR call gate: ZF", ecx, 1
        mov edx, offset lar_lsl         # a gate's bits 16-31 hold the offset: LAR keeps 20-23
        and edx, 0x00F00000
        or edx, 0x8C00
        CHECK_EQ "LAR call gate", eax, edx
        mov eax, 0x11111111
        mov ebx, S5
        lar eax, ebx
        setz cl
        movzx ecx, cl
        CHECK_EQ "LAR interrupt gate in the GDT: ZF", ecx, 0
        CHECK_EQ "LAR interrupt gate: EAX unchanged", eax, 0x11111111
        xor ebx, ebx
        lar eax, ebx
        setz cl
        movzx ecx, cl
        CHECK_EQ "LAR null: ZF", ecx, 0
        mov ebx, 0x1F8
        lar eax, ebx
        setz cl
        movzx ecx, cl
        CHECK_EQ "LAR past the GDT limit: ZF", ecx, 0
        mov ebx, S2
        lsl eax, ebx
        CHECK_EQ "LSL byte granular", eax, 0x12345
        mov ebx, S3
        lsl eax, ebx
        CHECK_EQ "LSL page granular", eax, 0x12FFF
        mov ebx, TSS_MAIN
        lsl eax, ebx
        CHECK_EQ "LSL TSS", eax, (offset tss_main_limit)
        mov eax, 0x22222222
        mov ebx, S4
        lsl eax, ebx
        setz cl
        movzx ecx, cl
        CHECK_EQ "LSL call gate: ZF", ecx, 0
        CHECK_EQ "LSL call gate: EAX unchanged", eax, 0x22222222
        ret

TESTCASE verr_verw, "verr-verw"
        DESCRIPTOR S1, 0, 0xFFFFF, ACC_CODE_X, FLAGS_PAGES32
        DESCRIPTOR S2, DATA_BASE, 0xFFFF, ACC_DATA_RO, FLAGS_BYTES32
        DESCRIPTOR S3, 0, 0xFFFFF, ACC_CODE_CONF_XR, FLAGS_PAGES32
        mov ax, KCODE
        verr ax
        setz bl
        movzx ebx, bl
        CHECK_EQ "VERR readable code", ebx, 1
        mov ax, S1
        verr ax
        setz bl
        movzx ebx, bl
        CHECK_EQ "VERR execute-only code", ebx, 0
        mov ax, KCODE
        verw ax
        setz bl
        movzx ebx, bl
        CHECK_EQ "VERW code", ebx, 0
        mov ax, KDATA
        verw ax
        setz bl
        movzx ebx, bl
        CHECK_EQ "VERW writable data", ebx, 1
        mov ax, S2
        verw ax
        setz bl
        movzx ebx, bl
        CHECK_EQ "VERW read-only data", ebx, 0
        mov ax, S2
        verr ax
        setz bl
        movzx ebx, bl
        CHECK_EQ "VERR read-only data", ebx, 1
        mov ax, TSS_MAIN
        verr ax
        setz bl
        movzx ebx, bl
        CHECK_EQ "VERR TSS", ebx, 0
        mov ax, KDATA | 3
        verw ax
        setz bl
        movzx ebx, bl
        CHECK_EQ "VERW DPL 0 data with RPL 3", ebx, 0
        # From ring 3: DPL 0 data is invisible, conforming readable code is not.
        ARM_CATCH 1f
        ENTER_RING3 2f
2:      xor ebx, ebx
        mov ax, KDATA
        verr ax
        setz bl
        mov ax, S3
        verr ax
        setz bh
        mov ax, UDATA
        verw ax
        setz cl
        mov ax, KDATA
        lar edx, eax
        setz ch
        int VEC_SYSCALL
1:      CHECK_FAULT "back from ring 3", VEC_SYSCALL, NOERR
        movzx eax, byte ptr [fault_ebx]
        CHECK_EQ "ring 3: VERR DPL 0 data", eax, 0
        movzx eax, byte ptr [fault_ebx + 1]
        CHECK_EQ "ring 3: VERR DPL 0 conforming readable code", eax, 1
        movzx eax, byte ptr [fault_ecx]
        CHECK_EQ "ring 3: VERW ring 3 data", eax, 1
        movzx eax, byte ptr [fault_ecx + 1]
        CHECK_EQ "ring 3: LAR DPL 0 data", eax, 0
        ret

TESTCASE arpl, "arpl"
        mov ax, 0x1231
        mov bx, 0x0003
        arpl ax, bx
        setz cl
        movzx ecx, cl
        movzx eax, ax
        CHECK_EQ "ARPL raises the RPL", eax, 0x1233
        CHECK_EQ "ARPL ZF when adjusted", ecx, 1
        mov ax, 0x1232
        mov bx, 0x0001
        arpl ax, bx
        setz cl
        movzx ecx, cl
        movzx eax, ax
        CHECK_EQ "ARPL keeps a higher RPL", eax, 0x1232
        CHECK_EQ "ARPL ZF when not adjusted", ecx, 0
        ret

TESTCASE far_jmp_ring0, "far-jmp-call-code-checks"
        DESCRIPTOR S1, 0, 0xFFFFF, ACC_CODE_XR, FLAGS_PAGES32
        DESCRIPTOR S2, 0, 0xFFFFF, ACC_CODE_XR & ACC_NOT_PRESENT_MASK, FLAGS_PAGES32
        DESCRIPTOR S3, 0, 0xFFF, ACC_CODE_XR, FLAGS_BYTES32
        DESCRIPTOR S4, 0, 0xFFFFF, ACC_CODE_CONF_XR | ACC_DPL3, FLAGS_PAGES32
        DESCRIPTOR S5, 0, 0xFFFFF, ACC_CODE_CONF_XR, FLAGS_PAGES32
        EXPECT_FAULT "JMP to readable code", NOFAULT, NOERR, "JMP_FAR S1, 1f", "1: mov ax, cs", "movzx ebx, ax"
        CHECK_EQ "CS after the JMP", ebx, S1
        EXPECT_FAULT "JMP to data", VEC_GP, KDATA, "JMP_FAR KDATA, 0"
        EXPECT_FAULT "JMP to not-present code", VEC_NP, S2, "JMP_FAR S2, 0"
        EXPECT_FAULT "JMP past the code limit", VEC_GP, 0, "JMP_FAR S3, 0x1000"
        EXPECT_FAULT "JMP to DPL 3 code at CPL 0", VEC_GP, 0x18, "JMP_FAR UCODE, 0"
        EXPECT_FAULT "JMP to RPL 3 DPL 0 code at CPL 0", VEC_GP, KCODE, "JMP_FAR KCODE | 3, 0"
        EXPECT_FAULT "JMP to conforming DPL 3 code at CPL 0", VEC_GP, S4, "JMP_FAR S4, 0"
        EXPECT_FAULT "JMP to conforming DPL 0 code, RPL 3", NOFAULT, NOERR, "JMP_FAR S5 | 3, 2f", "2: mov ax, cs", "movzx ebx, ax"
        CHECK_EQ "conforming: CS RPL is the CPL", ebx, S5
        EXPECT_FAULT "JMP to the null selector", VEC_GP, 0, "JMP_FAR 0, 0"
        # CALL FAR pushes CS and EIP; RETF returns.
        mov [saved_esp], esp
        CALL_FAR S1, far_callee
3:      CHECK_EQ "far callee saw its return CS", [callee_cs_seen], KCODE
        CHECK_EQ "far callee saw its return EIP", [callee_eip_seen], (offset 3b)
        mov eax, esp
        CHECK_EQ "ESP balanced after RETF", eax, [saved_esp]
        mov ax, cs
        movzx eax, ax
        CHECK_EQ "CS after RETF", eax, KCODE
        ret

TESTCASE far_call_limit, "far-call-past-code-limit"
        DESCRIPTOR S3, 0, 0xFFF, ACC_CODE_XR, FLAGS_BYTES32
        EXPECT_FAULT "CALL past the code limit", VEC_GP, 0, "CALL_FAR S3, 0x1000"
        ret

far_callee:
        mov eax, [esp]
        mov [callee_eip_seen], eax
        mov eax, [esp + 4]
        and eax, 0xFFFF
        mov [callee_cs_seen], eax
        retf

TESTCASE ring3_segments, "ring3-segment-loads"
        DESCRIPTOR S5, 0, 0xFFFFF, ACC_CODE_CONF_XR, FLAGS_PAGES32
        ARM_CATCH 1f
        ENTER_RING3 2f
2:      mov ax, KDATA
        mov fs, ax
1:      CHECK_FAULT "ring 3: MOV FS, DPL 0 data", VEC_GP, KDATA
        CHECK_EQ "fault from CPL 3", [fault_cs], UCODE
        ARM_CATCH 1f
        ENTER_RING3 2f
2:      mov ax, KDATA
        mov ss, ax
1:      CHECK_FAULT "ring 3: MOV SS, DPL 0 data", VEC_GP, KDATA
        ARM_CATCH 1f
        ENTER_RING3 2f
2:      mov ax, UDATA & ~3
        mov ss, ax
1:      CHECK_FAULT "ring 3: MOV SS, RPL 0 selector", VEC_GP, UDATA & ~3
        ARM_CATCH 1f
        ENTER_RING3 2f
2:      mov ax, S5 | 3
        mov fs, ax
        mov ax, UDATA & ~3              # RPL 0 <= DPL 3: fine for a data register
        mov gs, ax
        mov ebx, fs:[DATA_BASE]
        int VEC_SYSCALL
1:      CHECK_FAULT "ring 3: conforming code and RPL 0 ring 3 data", VEC_SYSCALL, NOERR
        CHECK_EQ "FS at INT 0x80", [fault_fs], S5 | 3
        CHECK_EQ "GS at INT 0x80", [fault_gs], UDATA & ~3
        ret

TESTCASE ring3_far_transfers, "ring3-far-jmp-and-ret"
        DESCRIPTOR S5, 0, 0xFFFFF, ACC_CODE_CONF_XR, FLAGS_PAGES32
        ARM_CATCH 1f
        ENTER_RING3 2f
2:      JMP_FAR KCODE, 0
1:      CHECK_FAULT "ring 3: JMP to DPL 0 code", VEC_GP, KCODE
        ARM_CATCH 1f
        ENTER_RING3 2f
2:      JMP_FAR S5, 3f
3:      mov ax, cs
        movzx eax, ax
        int VEC_SYSCALL
1:      CHECK_FAULT "ring 3: JMP to conforming DPL 0 code", VEC_SYSCALL, NOERR
        CHECK_EQ "CS keeps CPL 3", [fault_eax], S5 | 3
        CHECK_EQ "INT 0x80 frame CS", [fault_cs], S5 | 3
        ARM_CATCH 1f
        ENTER_RING3 2f
2:      push KCODE
        push offset 3f
        retf
3:      int VEC_SYSCALL
1:      CHECK_FAULT "ring 3: RETF to ring 0", VEC_GP, KCODE
        ARM_CATCH 1f
        ENTER_RING3 2f
2:      push KCODE | 3
        push offset 3f
        retf
3:      int VEC_SYSCALL
1:      CHECK_FAULT "ring 3: RETF to DPL 0 code with RPL 3", VEC_GP, KCODE
        ret

        .section .bss
        .p2align 3
ldt_table:      .skip 16
small_gdtr:     .skip 8
saved_esp:      .skip 4
ss_limit_pages: .skip 4
callee_cs_seen: .skip 4
callee_eip_seen: .skip 4

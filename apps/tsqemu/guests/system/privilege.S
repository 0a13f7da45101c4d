# Privilege levels and the transitions between them: IRET to ring 3, INT from ring 3 (gate DPL, the
# TSS's inner stack, the frame pushed), call gates (parameter copy, inner stacks, RETF to the outer
# level with data segments cleared, every check), ring 1 via SS1:ESP1, SYSENTER/SYSEXIT, privileged
# instructions at CPL 3, IOPL and the TSS I/O permission bitmap.

        .include "runtime.inc"

        .globl guest_name
        .section .rodata
guest_name: .asciz "privilege"

        .set RCODE1, S6 | 1             # ring 1 code and stack, set up by ring1_segments
        .set RDATA1, S7 | 1
        .set MSR_SYSENTER_CS, 0x174
        .set MSR_SYSENTER_ESP, 0x175
        .set MSR_SYSENTER_EIP, 0x176
        .set POST_PORT, 0x80

        .text

TESTCASE iret_int_round_trip, "iret-to-ring3-int-back"
        ARM_CATCH 1f
        ENTER_RING3 2f
2:      mov ax, cs
        movzx eax, ax
        mov bx, ss
        movzx ebx, bx
        mov ecx, esp
        mov edx, 0x1234ABCD
        int VEC_SYSCALL
3:      nop
1:      CHECK_FAULT "INT 0x80 from ring 3", VEC_SYSCALL, NOERR
        CHECK_EQ "CS at ring 3", [fault_eax], UCODE
        CHECK_EQ "SS at ring 3", [fault_ebx], UDATA
        CHECK_EQ "ESP at ring 3", [fault_ecx], (offset ring3_stack_top)
        CHECK_EQ "EDX survives", [fault_edx], 0x1234ABCD
        CHECK_EQ "pushed EIP: after the INT", [fault_eip], (offset 3b)
        CHECK_EQ "pushed CS", [fault_cs], UCODE
        CHECK_EQ "pushed SS", [fault_user_ss], UDATA
        CHECK_EQ "pushed ESP", [fault_user_esp], (offset ring3_stack_top)
        CHECK_EQ "handler SS: SS0 from the TSS", [fault_handler_ss], KDATA
        CHECK_EQ "handler stack: ESP0 minus five dwords", [fault_entry_esp], (offset kstack_top - 20)
        CHECK_MASKED "pushed EFLAGS: IOPL 0, IF 0", [fault_eflags], (EFL_IOPL3 | EFL_IF), 0
        ret

TESTCASE esp0_from_tss, "inner-stack-from-tss"
        mov dword ptr [tss_main + 4], offset alt_kstack_top
        IN_RING3 "INT 0x80 from ring 3", VEC_SYSCALL, NOERR, "nop"
        CHECK_EQ "handler stack: the new ESP0 minus five dwords", [fault_entry_esp], (offset alt_kstack_top - 20)
        ret

TESTCASE gate_dpl, "int-gate-dpl"
        # INT n, INT3 and INTO check the gate's DPL against the CPL: #GP(vector * 8 + 2).
        IN_RING3 "INT 0x81 to a DPL 0 gate", VEC_GP, (0x81 * 8 + 2), "1: int 0x81"
        CHECK_EQ "faulting EIP is the INT", [fault_eip], (offset 1b)
        IN_RING3 "INT 0x80 to a DPL 3 gate", VEC_SYSCALL, NOERR, "nop"
        mov eax, VEC_BP
        call idt_gate_stub
        IDT_GATE VEC_BP, eax, KCODE, ACC_INT_GATE32
        IN_RING3 "INT3 (CC) to a DPL 0 gate", VEC_GP, (VEC_BP * 8 + 2), "int3"
        IN_RING3 "INT 3 (CD 03) to a DPL 0 gate", VEC_GP, (VEC_BP * 8 + 2), ".byte 0xCD, 0x03"
        mov eax, VEC_OF
        call idt_gate_stub
        IDT_GATE VEC_OF, eax, KCODE, ACC_INT_GATE32
        IN_RING3 "INTO to a DPL 0 gate", VEC_GP, (VEC_OF * 8 + 2), "mov al, 0x7F", "add al, 1", "into"
        # Exceptions ignore the gate's DPL.
        IN_RING3 "UD2 through a DPL 0 gate", VEC_UD, NOERR, "ud2"
        CHECK_EQ "#UD from ring 3: pushed CS", [fault_cs], UCODE
        ret

TESTCASE gate_kinds, "interrupt-and-trap-gates"
        # An interrupt gate clears IF in the handler, a trap gate keeps it; both clear TF, NT, RF.
        mov eax, 0x40
        call idt_gate_stub
        IDT_GATE 0x40, eax, KCODE, (ACC_INT_GATE32 | ACC_DPL3)
        mov eax, 0x41
        call idt_gate_stub
        IDT_GATE 0x41, eax, KCODE, (ACC_TRAP_GATE32 | ACC_DPL3)
        mov dword ptr [ring3_eflags], EFL_IF | 2
        IN_RING3 "INT 0x40 (interrupt gate)", 0x40, NOERR, "int 0x40"
        CHECK_MASKED "pushed EFLAGS has IF", [fault_eflags], EFL_IF, EFL_IF
        CHECK_MASKED "interrupt gate: handler IF", [fault_handler_eflags], EFL_IF, 0
        IN_RING3 "INT 0x41 (trap gate)", 0x41, NOERR, "int 0x41"
        CHECK_MASKED "trap gate: handler IF", [fault_handler_eflags], EFL_IF, EFL_IF
        # NT set at ring 0 is pushed and cleared in the handler.
        ARM_CATCH 1f
        pushfd
        or dword ptr [esp], EFL_NT
        popfd
        int 0x41
1:      CHECK_FAULT "INT 0x41 with NT set", 0x41, NOERR
        CHECK_MASKED "pushed EFLAGS has NT", [fault_eflags], EFL_NT, EFL_NT
        CHECK_MASKED "handler runs with NT clear", [fault_handler_eflags], EFL_NT, 0
        ret

TESTCASE conforming_handler, "interrupt-gate-to-conforming-code"
        # A gate to conforming code runs the handler at the caller's CPL, on the caller's stack.
        DESCRIPTOR S9, 0, 0xFFFFF, ACC_CODE_CONF_XR, FLAGS_PAGES32
        IDT_GATE 0x42, (offset conforming_isr), S9, (ACC_INT_GATE32 | ACC_DPL3)
        IN_RING3 "ring 3 INT 0x42 into conforming code", VEC_SYSCALL, NOERR, "int 0x42"
        CHECK_EQ "handler CS: the conforming segment at CPL 3", [fault_eax], (S9 | 3)
        CHECK_EQ "handler stack: ring 3's, minus EIP, CS, EFLAGS", [fault_ebx], (offset ring3_stack_top - 12)
        CHECK_EQ "handler SS: ring 3's", [fault_ecx], UDATA
        # A gate to less privileged code is refused.
        IDT_GATE 0x43, 0, UCODE, ACC_INT_GATE32
        EXPECT_FAULT "INT from ring 0 to a gate for DPL 3 code", VEC_GP, (UCODE & ~3), "int 0x43"
        ret

conforming_isr:
        mov ax, cs
        movzx eax, ax
        mov ebx, esp
        mov cx, ss
        movzx ecx, cx
        int VEC_SYSCALL

TESTCASE iret_nulls_segments, "iret-to-outer-ring-clears-segments"
        mov ax, KDATA
        mov fs, ax
        mov ax, UDATA
        mov gs, ax
        IN_RING3 "INT 0x80", VEC_SYSCALL, NOERR, "nop"
        CHECK_EQ "FS (DPL 0 data) nulled by IRET to ring 3", [fault_fs], 0
        CHECK_EQ "GS (DPL 3 data) kept", [fault_gs], UDATA
        CHECK_EQ "DS (UDATA) kept", [fault_ds], UDATA
        ret

TESTCASE iret_checks, "iret-checks"
        # From ring 0, frames returning to ring 3 with a bad SS or CS.
        EXPECT_FAULT "IRET to ring 3 with SS RPL 0", VEC_GP, (UDATA & ~3), "push UDATA & ~3", "push offset ring3_stack_top", "push 2", "push UCODE", "push 0", "iretd"
        EXPECT_FAULT "IRET to ring 3 with a DPL 0 SS", VEC_GP, KDATA, "push KDATA | 3", "push offset ring3_stack_top", "push 2", "push UCODE", "push 0", "iretd"
        EXPECT_FAULT "IRET to DPL 0 code with RPL 3", VEC_GP, KCODE, "push UDATA", "push offset ring3_stack_top", "push 2", "push KCODE | 3", "push 0", "iretd"
        EXPECT_FAULT "IRET to a data segment", VEC_GP, KDATA, "push 2", "push KDATA", "push 0", "iretd"
        EXPECT_FAULT "IRET to the null selector", VEC_GP, 0, "push 2", "push 0", "push 0", "iretd"
        # From ring 3: IRET cannot return to ring 0.
        IN_RING3 "ring 3: IRET to ring 0", VEC_GP, KCODE, "push 2", "push KCODE", "push 0", "iretd"
        ret

TESTCASE iret_flags_ring3, "iret-and-popf-at-ring3-keep-iopl-and-if"
        # At CPL 3 with IOPL 0, POPF and IRET leave IOPL and IF alone, silently.
        IN_RING3 "POPF at ring 3", VEC_SYSCALL, NOERR, "push EFL_IOPL3 | EFL_IF | 2", "popfd", "pushfd", "pop ebx"
        CHECK_MASKED "POPF: IOPL and IF unchanged", [fault_ebx], (EFL_IOPL3 | EFL_IF), 0
        IN_RING3 "IRET at ring 3", VEC_SYSCALL, NOERR, "push EFL_IOPL3 | EFL_IF | EFL_CF | 2", "push UCODE", "push offset 1f", "iretd", "1: pushfd; pop ebx"
        CHECK_MASKED "IRET: IOPL and IF unchanged, CF loaded", [fault_ebx], (EFL_IOPL3 | EFL_IF | EFL_CF), EFL_CF
        # With IOPL 3, ring 3 may change IF (but still not IOPL).
        mov dword ptr [ring3_eflags], EFL_IOPL3 | 2
        IN_RING3 "POPF at ring 3 with IOPL 3", VEC_SYSCALL, NOERR, "push EFL_IF | 2", "popfd", "pushfd", "pop ebx", "cli"
        CHECK_MASKED "POPF with IOPL 3: IF set, IOPL kept", [fault_ebx], (EFL_IOPL3 | EFL_IF), (EFL_IOPL3 | EFL_IF)
        ret

TESTCASE privileged_instructions, "privileged-instructions-at-ring3"
        IN_RING3 "HLT", VEC_GP, 0, "hlt"
        IN_RING3 "CLI (IOPL 0)", VEC_GP, 0, "cli"
        IN_RING3 "STI (IOPL 0)", VEC_GP, 0, "sti"
        IN_RING3 "LGDT", VEC_GP, 0, "lgdt [gdtr]"
        IN_RING3 "LIDT", VEC_GP, 0, "lidt [idtr]"
        IN_RING3 "LLDT", VEC_GP, 0, "xor eax, eax", "lldt ax"
        IN_RING3 "LTR", VEC_GP, 0, "mov ax, TSS_MAIN", "ltr ax"
        IN_RING3 "MOV CR0, EAX", VEC_GP, 0, "mov eax, CR0_PE | CR0_ET | CR0_NE", "mov cr0, eax"
        IN_RING3 "MOV EAX, CR3", VEC_GP, 0, "mov eax, cr3"
        IN_RING3 "MOV DR7, EAX", VEC_GP, 0, "mov eax, 0x400", "mov dr7, eax"
        IN_RING3 "MOV EAX, DR6", VEC_GP, 0, "mov eax, dr6"
        IN_RING3 "CLTS", VEC_GP, 0, "clts"
        IN_RING3 "LMSW", VEC_GP, 0, "mov ax, 1", "lmsw ax"
        IN_RING3 "RDMSR", VEC_GP, 0, "mov ecx, MSR_SYSENTER_CS", "rdmsr"
        IN_RING3 "WRMSR", VEC_GP, 0, "mov ecx, MSR_SYSENTER_CS", "xor eax, eax", "xor edx, edx", "wrmsr"
        IN_RING3 "INVLPG", VEC_GP, 0, "invlpg [0x1000]"
        IN_RING3 "WBINVD", VEC_GP, 0, "wbinvd"
        IN_RING3 "INVD", VEC_GP, 0, "invd"
        ret

TESTCASE lmsw_smsw, "lmsw-and-clts"
        # LMSW writes CR0 bits 0-3 only, and cannot clear PE; CLTS clears TS.
        mov eax, CR0_PE | CR0_ET | CR0_NE | CR0_WP
        mov cr0, eax
        xor eax, eax
        lmsw ax
        mov eax, cr0
        CHECK_MASKED "LMSW 0 leaves PE set", eax, CR0_PE, CR0_PE
        CHECK_MASKED "LMSW leaves NE and WP", eax, (CR0_NE | CR0_WP), (CR0_NE | CR0_WP)
        mov ax, 0xFFFE                  # MP, EM, TS; the upper bits of the operand are ignored
        lmsw ax
        mov eax, cr0
        CHECK_MASKED "LMSW sets MP, EM, TS", eax, (CR0_MP | CR0_EM | CR0_TS | CR0_ET | 0xFFC0 | CR0_PE), (CR0_MP | CR0_EM | CR0_TS | CR0_ET | CR0_NE | CR0_PE)
        smsw ebx
        CHECK_MASKED "SMSW", ebx, 0xF, (CR0_PE | CR0_MP | CR0_EM | CR0_TS)
        clts
        mov eax, cr0
        CHECK_MASKED "CLTS clears TS only", eax, (CR0_TS | CR0_MP | CR0_EM), (CR0_MP | CR0_EM)
        ret

TESTCASE unprivileged_instructions, "unprivileged-system-instructions-at-ring3"
        # Without CR4.UMIP these are allowed at any CPL; RDTSC is too while CR4.TSD = 0.
        smsw ebx
        IN_RING3 "SMSW", VEC_SYSCALL, NOERR, "smsw eax"
        movzx ebx, bx
        movzx eax, word ptr [fault_eax]
        CHECK_EQ "SMSW at ring 3: low CR0", eax, ebx
        IN_RING3 "SGDT", VEC_SYSCALL, NOERR, "sgdt [sgdt_result]", "str ax", "movzx ebx, ax", "sldt ax", "movzx ecx, ax"
        CHECK_EQ "SGDT: base", [sgdt_result + 2], (offset gdt)
        movzx eax, word ptr [sgdt_result]
        CHECK_EQ "SGDT: limit", eax, (GDT_ENTRIES * 8 - 1)
        CHECK_EQ "STR at ring 3", [fault_ebx], TSS_MAIN
        CHECK_EQ "SLDT at ring 3", [fault_ecx], 0
        IN_RING3 "RDTSC with CR4.TSD = 0", VEC_SYSCALL, NOERR, "rdtsc"
        mov eax, CR4_TSD
        mov cr4, eax
        IN_RING3 "RDTSC with CR4.TSD = 1", VEC_GP, 0, "rdtsc"
        EXPECT_FAULT "RDTSC at ring 0 with CR4.TSD = 1", NOFAULT, NOERR, "rdtsc"
        ret

TESTCASE io_bitmap, "io-permission-bitmap"
        IN_RING3 "IN from an allowed port", VEC_SYSCALL, NOERR, "in al, POST_PORT"
        mov eax, POST_PORT
        bts [tss_main_iomap], eax
        IN_RING3 "IN from a denied port", VEC_GP, 0, "in al, POST_PORT"
        IN_RING3 "OUT to a denied port (DX)", VEC_GP, 0, "mov dx, POST_PORT", "out dx, al"
        IN_RING3 "word IN whose second byte is denied", VEC_GP, 0, "mov dx, POST_PORT - 1", "in ax, dx"
        IN_RING3 "byte IN next to the denied port", VEC_SYSCALL, NOERR, "mov dx, POST_PORT - 1", "in al, dx"
        IN_RING3 "port past the bitmap (TSS limit)", VEC_GP, 0, "mov dx, 0x500", "in al, dx"
        IN_RING3 "INS from a denied port", VEC_GP, 0, "mov dx, POST_PORT", "mov edi, offset io_buffer", "insb"
        mov dword ptr [ring3_eflags], EFL_IOPL3 | 2
        IN_RING3 "IOPL 3: the bitmap is not consulted", VEC_SYSCALL, NOERR, "in al, POST_PORT", "mov dx, 0x500", "in al, dx"
        ret

TESTCASE call_gate_to_ring0, "call-gate-ring3-to-ring0"
        GATE S0, (offset gate_handler), KCODE, (ACC_CALL_GATE32 | ACC_DPL3), 2
        ARM_CATCH 1f
        ENTER_RING3 2f
2:      push 0x11111111
        push 0x22222222
        CALL_FAR S0 | 3, 0
3:      mov ax, ds
        movzx ebx, ax
        mov ecx, esp
        mov ax, cs
        movzx edx, ax
        int VEC_SYSCALL
1:      CHECK_FAULT "back at ring 3 after RETF 8", VEC_SYSCALL, NOERR
        CHECK_EQ "gate handler CS", [gate_cs], KCODE
        CHECK_EQ "gate handler SS: SS0", [gate_ss], KDATA
        CHECK_EQ "gate handler ESP: ESP0 minus 6 dwords", [gate_esp], (offset kstack_top - 24)
        CHECK_EQ "frame: return EIP", [gate_frame], (offset 3b)
        CHECK_MASKED "frame: return CS", [gate_frame + 4], 0xFFFF, UCODE
        CHECK_EQ "frame: parameter 0 (the last pushed)", [gate_frame + 8], 0x22222222
        CHECK_EQ "frame: parameter 1", [gate_frame + 12], 0x11111111
        CHECK_EQ "frame: caller ESP", [gate_frame + 16], (offset ring3_stack_top - 8)
        CHECK_MASKED "frame: caller SS", [gate_frame + 20], 0xFFFF, UDATA
        CHECK_EQ "ring 3 DS nulled (the handler loaded KDATA)", [fault_ebx], 0
        CHECK_EQ "ring 3 ESP after RETF 8", [fault_ecx], (offset ring3_stack_top)
        CHECK_EQ "ring 3 CS after RETF", [fault_edx], UCODE
        ret

# Ring 0, reached through the call gate: record the stack, load a DPL 0 DS, return to ring 3.
gate_handler:
        mov [gate_esp], esp
        mov ax, ss
        movzx eax, ax
        mov [gate_ss], eax
        mov ax, cs
        movzx eax, ax
        mov [gate_cs], eax
        mov esi, esp
        mov edi, offset gate_frame
        mov ecx, 6
        cld
        rep movsd
        mov ax, KDATA
        mov ds, ax
        retf 8

TESTCASE call_gate_same_level, "call-gate-same-level"
        # CPL 0 through a gate to DPL 0 code: no stack switch, no parameters copied.
        GATE S0, (offset same_level_handler), KCODE, ACC_CALL_GATE32, 2
        mov [saved_esp], esp
        CALL_FAR S0, 0x12345678         # the offset in the instruction is ignored
1:      mov eax, [saved_esp]
        sub eax, 8
        CHECK_EQ "ESP in the handler: two dwords pushed", [gate_esp], eax
        CHECK_EQ "return EIP", [gate_frame], (offset 1b)
        CHECK_EQ "return CS", [gate_frame + 4], KCODE
        # A JMP through the gate at the same level.
        GATE S1, (offset 2f), KCODE, ACC_CALL_GATE32
        EXPECT_FAULT "JMP through a same-level gate", NOFAULT, NOERR, "JMP_FAR S1, 0", "ud2", "2: nop"
        ret

same_level_handler:
        mov [gate_esp], esp
        mov eax, [esp]
        mov [gate_frame], eax
        mov eax, [esp + 4]
        and eax, 0xFFFF
        mov [gate_frame + 4], eax
        retf

TESTCASE call_gate_checks, "call-gate-checks"
        DESCRIPTOR S2, 0, 0xFFFFF, (ACC_CODE_XR & ACC_NOT_PRESENT_MASK), FLAGS_PAGES32
        GATE S0, (offset gate_handler), KCODE, ACC_CALL_GATE32
        IN_RING3 "ring 3 through a DPL 0 gate", VEC_GP, S0, "CALL_FAR S0 | 3, 0"
        EXPECT_FAULT "gate selector RPL 3 > gate DPL 0", VEC_GP, S0, "CALL_FAR S0 | 3, 0"
        GATE S0, (offset gate_handler), KCODE, ((ACC_CALL_GATE32 | ACC_DPL3) & ACC_NOT_PRESENT_MASK)
        EXPECT_FAULT "gate not present", VEC_NP, S0, "CALL_FAR S0, 0"
        GATE S0, 0, 0, (ACC_CALL_GATE32 | ACC_DPL3)
        EXPECT_FAULT "gate to the null selector", VEC_GP, 0, "CALL_FAR S0, 0"
        GATE S0, 0, KDATA, (ACC_CALL_GATE32 | ACC_DPL3)
        EXPECT_FAULT "gate to a data segment", VEC_GP, KDATA, "CALL_FAR S0, 0"
        GATE S0, 0, UCODE, (ACC_CALL_GATE32 | ACC_DPL3)
        EXPECT_FAULT "gate from CPL 0 to DPL 3 code", VEC_GP, (UCODE & ~3), "CALL_FAR S0, 0"
        GATE S0, 0, S2, (ACC_CALL_GATE32 | ACC_DPL3)
        EXPECT_FAULT "gate to not-present code", VEC_NP, S2, "CALL_FAR S0, 0"
        # JMP through a gate never changes the privilege level.
        GATE S0, (offset gate_handler), KCODE, (ACC_CALL_GATE32 | ACC_DPL3)
        IN_RING3 "ring 3 JMP through a gate to ring 0 code", VEC_GP, KCODE, "JMP_FAR S0 | 3, 0"
        ret

TESTCASE call_gate_limit, "call-gate-offset-past-code-limit"
        # A code segment whose first byte past the limit is UD2, in case the limit goes unchecked.
        DESCRIPTOR S3, (offset limit_trap - 0x1000), 0xFFF, ACC_CODE_XR, FLAGS_BYTES32
        GATE S0, 0x1000, S3, (ACC_CALL_GATE32 | ACC_DPL3)
        EXPECT_FAULT "gate offset past the code limit", VEC_GP, 0, "CALL_FAR S0, 0"
        ret

TESTCASE ring1, "ring1-through-call-gate"
        call ring1_segments
        GATE S8, (offset ring1_entry), RCODE1, (ACC_CALL_GATE32 | ACC_DPL3)
        IN_RING3 "ring 3 -> ring 1 -> INT 0x80", VEC_SYSCALL, NOERR, "CALL_FAR S8 | 3, 0"
        CHECK_EQ "INT 0x80 came from ring 1 code", [fault_cs], RCODE1
        CHECK_EQ "ring 1 stack: SS1", [fault_user_ss], RDATA1
        CHECK_EQ "ring 1 stack: ESP1 minus the call frame", [fault_user_esp], (offset ring1_stack_top - 16)
        CHECK_EQ "ring 1 CS read in ring 1", [fault_eax], RCODE1
        # A ring 1 stack segment the TSS names badly: #TS(SS1), raised in ring 3's context.
        mov dword ptr [tss_main + 16], KDATA
        IN_RING3 "SS1 with DPL 0", VEC_TS, KDATA, "1: CALL_FAR S8 | 3, 0"
        CHECK_EQ "#TS at the CALL", [fault_eip], (offset 1b)
        CHECK_EQ "#TS from ring 3", [fault_cs], UCODE
        mov dword ptr [tss_main + 16], RDATA1 & ~1
        IN_RING3 "SS1 with RPL 0", VEC_TS, (RDATA1 & ~3), "CALL_FAR S8 | 3, 0"
        ret

TESTCASE inner_stack_not_present, "inner-stack-not-present"
        # The TSS names a ring 1 stack segment that is not present: #SS(SS1), not #TS.
        call ring1_segments
        GATE S8, (offset ring1_entry), RCODE1, (ACC_CALL_GATE32 | ACC_DPL3)
        DESCRIPTOR S7, 0, 0xFFFFF, ((ACC_DATA_RW | ACC_DPL1) & ACC_NOT_PRESENT_MASK), FLAGS_PAGES32
        IN_RING3 "call gate: SS1 not present", VEC_SS, (RDATA1 & ~3), "CALL_FAR S8 | 3, 0"
        mov eax, 0x40
        call idt_gate_stub
        IDT_GATE 0x40, eax, RCODE1, (ACC_INT_GATE32 | ACC_DPL3)
        IN_RING3 "INT to ring 1: SS1 not present (INT n: EXT = 0)", VEC_SS, (RDATA1 & ~3), "int 0x40"
        ret

limit_trap:
        ud2

ring1_entry:
        mov ax, cs
        movzx eax, ax
        int VEC_SYSCALL

ring1_segments:
        DESCRIPTOR S6, 0, 0xFFFFF, (ACC_CODE_XR | ACC_DPL1), FLAGS_PAGES32
        DESCRIPTOR S7, 0, 0xFFFFF, (ACC_DATA_RW | ACC_DPL1), FLAGS_PAGES32
        mov dword ptr [tss_main + 12], offset ring1_stack_top   # ESP1
        mov dword ptr [tss_main + 16], RDATA1                    # SS1
        ret

TESTCASE retf_to_outer, "retf-to-outer-ring"
        EXPECT_FAULT "RETF to ring 3 with SS RPL 0", VEC_GP, (UDATA & ~3), "push UDATA & ~3", "push offset ring3_stack_top", "push UCODE", "push 0", "retf"
        EXPECT_FAULT "RETF to ring 3 with a DPL 0 SS", VEC_GP, KDATA, "push KDATA | 3", "push offset ring3_stack_top", "push UCODE", "push 0", "retf"
        ARM_CATCH 1f
        mov ax, KDATA
        mov gs, ax
        push UDATA
        push offset ring3_stack_top
        push UCODE
        push offset 2f
        retf
2:      mov ax, cs
        movzx eax, ax
        mov ecx, esp
        int VEC_SYSCALL
1:      CHECK_FAULT "RETF to ring 3, then INT 0x80", VEC_SYSCALL, NOERR
        CHECK_EQ "CS after RETF", [fault_eax], UCODE
        CHECK_EQ "ESP after RETF", [fault_ecx], (offset ring3_stack_top)
        CHECK_EQ "GS (DPL 0) nulled by RETF to ring 3", [fault_gs], 0
        ret

TESTCASE sysenter_sysexit, "sysenter-sysexit"
        test dword ptr [cpu_features_edx], 1 << 11
        jnz 1f
        SKIP_TEST "CPUID.1:EDX.SEP = 0"
1:      xor edx, edx
        mov ecx, MSR_SYSENTER_CS
        mov eax, KCODE
        wrmsr
        mov ecx, MSR_SYSENTER_ESP
        mov eax, offset alt_kstack_top
        wrmsr
        mov ecx, MSR_SYSENTER_EIP
        mov eax, offset sysenter_target
        wrmsr
        mov dword ptr [ring3_eflags], EFL_IF | 2
        IN_RING3 "SYSENTER, SYSEXIT, INT 0x80", VEC_SYSCALL, NOERR, "mov ebp, 0x5A5A5A5A", "sysenter"
        CHECK_EQ "SYSENTER: CS", [sysenter_cs], KCODE
        CHECK_EQ "SYSENTER: SS = CS + 8", [sysenter_ss], KDATA
        CHECK_EQ "SYSENTER: ESP from the MSR", [sysenter_esp], (offset alt_kstack_top)
        CHECK_MASKED "SYSENTER: IF cleared", [sysenter_eflags], EFL_IF, 0
        CHECK_EQ "SYSEXIT: CS = CS MSR + 16 | 3", [fault_cs], UCODE
        CHECK_EQ "SYSEXIT: SS = CS MSR + 24 | 3", [fault_user_ss], UDATA
        CHECK_EQ "SYSEXIT: EIP = EDX", [fault_eip], (offset sysexit_landing + 2)
        CHECK_EQ "SYSEXIT: ESP = ECX", [fault_user_esp], (offset ring3_stack_top - 0x100)
        CHECK_EQ "EBP kept across both", [fault_ebp], 0x5A5A5A5A
        CHECK_MASKED "SYSEXIT: IF kept clear", [fault_eflags], EFL_IF, 0
        IN_RING3 "SYSEXIT at ring 3", VEC_GP, 0, "mov edx, offset sysexit_landing", "mov ecx, esp", "sysexit"
        xor edx, edx
        xor eax, eax
        mov ecx, MSR_SYSENTER_CS
        wrmsr
        IN_RING3 "SYSENTER with SYSENTER_CS = 0", VEC_GP, 0, "sysenter"
        EXPECT_FAULT "SYSEXIT with SYSENTER_CS = 0", VEC_GP, 0, "mov edx, offset sysexit_landing", "mov ecx, esp", "sysexit"
        ret

sysenter_target:
        mov [sysenter_esp], esp
        mov ax, cs
        movzx eax, ax
        mov [sysenter_cs], eax
        mov ax, ss
        movzx eax, ax
        mov [sysenter_ss], eax
        pushfd
        pop dword ptr [sysenter_eflags]
        mov edx, offset sysexit_landing
        mov ecx, offset ring3_stack_top - 0x100
        sysexit
sysexit_landing:
        int VEC_SYSCALL

        .section .bss
        .p2align 12
alt_kstack:     .skip 0x1000
alt_kstack_top:
ring1_stack:    .skip 0x1000
ring1_stack_top:
        .p2align 2
saved_esp:      .skip 4
gate_esp:       .skip 4
gate_ss:        .skip 4
gate_cs:        .skip 4
gate_frame:     .skip 24
sysenter_esp:   .skip 4
sysenter_cs:    .skip 4
sysenter_ss:    .skip 4
sysenter_eflags: .skip 4
sgdt_result:    .skip 8
io_buffer:      .skip 16

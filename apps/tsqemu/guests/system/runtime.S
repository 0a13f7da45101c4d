# The runtime shared by the system test guests: a multiboot entry point, COM1 output, a GDT, IDT and
# TSS rebuilt before every test, an exception catcher that records what the CPU pushed, and the test
# runner that prints PASS/FAIL/SKIP lines and ends the run through isa-debug-exit (port 0xF4).
#
# A guest links this with its own object, which provides `guest_name` (a NUL-terminated string) and
# declares tests with the TEST macro (runtime.inc). See README.md in this directory.

        .include "runtime.inc"

        .set COM1, 0x3F8
        .set COM1_LSR, COM1 + 5
        .set LSR_THRE, 0x20
        .set LSR_TEMT, 0x40
        .set DEBUG_EXIT_PORT, 0xF4
        .set MULTIBOOT_MAGIC, 0x1BADB002
        .set MULTIBOOT_AOUT_KLUDGE, 1 << 16
        .set MULTIBOOT_BOOTED, 0x2BADB002
        .set MULTIBOOT_INFO_CMDLINE, 1 << 2
        .set CMDLINE_MAX, 255
        .set TSS_IOMAP_BYTES, 0x80      # one bit per port 0-0x3FF; ports above are past the limit

        .globl _start, reset_state, set_descriptor, set_gdt_gate, set_idt_gate, idt_gate_stub
        .globl check_eq, check_masked, check_fault, fail_message, skip_test, info_message
        .globl print_str, print_hex, putc
        .globl catch_eip, catch_esp, fault_vector, fault_error, fault_eip, fault_cs, fault_eflags
        .globl fault_user_esp, fault_user_ss, fault_entry_esp, fault_handler_ss, fault_cr2, fault_dr6
        .globl fault_handler_eflags, ring3_eflags
        .globl fault_count, fault_eax, fault_ebx, fault_ecx, fault_edx, fault_esi, fault_edi, fault_ebp
        .globl fault_ds, fault_es, fault_fs, fault_gs
        .globl gdt, gdtr, idt, idtr, tss_main, tss_main_iomap, tss_main_end
        .globl stack_top, kstack_top, ring3_stack_top
        .globl cpu_features_edx, cpu_features_ecx, cpu_ext_features_edx, isr_stubs

# ---------------------------------------------------------------------------------------------
# Multiboot header (the a.out kludge: the image is flat, loaded at image_start, bss zeroed to bss_end).

        .section .multiboot, "a"
        .p2align 2
multiboot_header:
        .long MULTIBOOT_MAGIC
        .long MULTIBOOT_AOUT_KLUDGE
        .long -(MULTIBOOT_MAGIC + MULTIBOOT_AOUT_KLUDGE)
        .long multiboot_header          # header_addr
        .long image_start               # load_addr
        .long load_end                  # load_end_addr
        .long bss_end                   # bss_end_addr
        .long _start                    # entry_addr

        .text
_start:
        cli
        cld
        mov ebp, eax                    # multiboot magic
        mov esi, ebx                    # multiboot information
        mov esp, (offset stack_top)
        # Zero the bss ourselves: the loader should have, but the results must not depend on it.
        mov edi, (offset bss_start)
        mov ecx, (offset bss_end)
        sub ecx, edi
        xor eax, eax
        rep stosb
        cmp ebp, MULTIBOOT_BOOTED
        jne 1f
        test dword ptr [esi], MULTIBOOT_INFO_CMDLINE
        jz 1f
        mov esi, [esi + 16]
        mov edi, (offset cmdline_buf)
        mov ecx, CMDLINE_MAX
2:      lodsb
        stosb
        test al, al
        loopnz 2b
1:
        call detect_cpu
        call reset_state
        call init_serial
        call init_pic
        mov esi, (offset msg_guest)
        call print_str
        mov esi, (offset guest_name)
        call print_str
        cmp byte ptr [cmdline_buf], 0
        je 1f
        mov esi, (offset msg_cmdline)
        call print_str
        mov esi, (offset cmdline_buf)
        call print_str
1:      mov al, 10
        call putc
        call run_tests
        # Summary, then leave through isa-debug-exit: 0 when nothing failed (QEMU status 1).
        mov esi, (offset msg_done)
        call print_str
        mov esi, (offset guest_name)
        call print_str
        mov esi, (offset msg_colon)
        call print_str
        mov eax, [pass_count]
        call print_dec
        mov esi, (offset msg_passed)
        call print_str
        mov eax, [fail_count]
        call print_dec
        mov esi, (offset msg_failed)
        call print_str
        mov eax, [skip_count]
        call print_dec
        mov esi, (offset msg_skipped)
        call print_str
        xor eax, eax
        cmp dword ptr [fail_count], 0
        je exit_guest
        mov eax, 1
exit_guest:
        mov ebx, eax
        mov dx, COM1_LSR
        mov ecx, 1000000
1:      in al, dx
        test al, LSR_TEMT
        loopz 1b
        mov eax, ebx
        out DEBUG_EXIT_PORT, al
2:      cli
        hlt
        jmp 2b

# ---------------------------------------------------------------------------------------------
# The test runner.

run_tests:
        mov ebx, (offset tests_start)
next_test:
        cmp ebx, (offset tests_end)
        jae 9f
        mov eax, [ebx]
        mov [current_test], eax
        mov dword ptr [test_failed], 0
        mov dword ptr [test_skipped], 0
        mov esi, eax
        call test_excluded
        jnc 1f
        mov esi, (offset msg_skip)
        call print_str
        mov esi, [current_test]
        call print_str
        mov esi, (offset msg_excluded)
        call print_str
        inc dword ptr [skip_count]
        jmp 3f
1:      call reset_state
        push ebx
        mov [runner_esp], esp
        mov dword ptr [in_test], 1
        call dword ptr [ebx + 4]
runner_after_test:
        mov ax, KDATA
        mov ds, ax
        mov es, ax
        mov dword ptr [in_test], 0
        mov dword ptr [catch_eip], 0
        call reset_state
        pop ebx
        cmp dword ptr [test_skipped], 0
        je 1f
        inc dword ptr [skip_count]
        jmp 3f
1:      cmp dword ptr [test_failed], 0
        je 2f
        inc dword ptr [fail_count]
        jmp 3f
2:      inc dword ptr [pass_count]
        mov esi, (offset msg_pass)
        call print_str
        mov esi, [current_test]
        call print_str
        mov al, 10
        call putc
3:      add ebx, 8
        jmp next_test
9:      ret

# An exception nobody expected: the test has failed (reported already); continue with the next one.
runner_abort:
        mov ax, KDATA
        mov ss, ax
        mov esp, [runner_esp]
        mov ds, ax
        mov es, ax
        mov fs, ax
        mov gs, ax
        push 2
        popfd
        mov dword ptr [test_failed], 1
        jmp runner_after_test

# CF=1 when the command line names the test at ESI (a token delimited by start, '=', ',' or ' ' and
# by ',', ' ' or the end): the harness leaves known-failing tests out with -append "skip=a,b".
test_excluded:
        pushad
        mov edi, (offset cmdline_buf)
        mov ebx, esi                    # the name
1:      cmp byte ptr [edi], 0
        je 8f
        cmp edi, (offset cmdline_buf)
        je 2f
        mov al, [edi - 1]
        cmp al, '='
        je 2f
        cmp al, ','
        je 2f
        cmp al, ' '
        jne 7f
2:      mov esi, ebx
        mov edx, edi
3:      mov al, [esi]
        test al, al
        jz 4f
        cmp al, [edx]
        jne 7f
        inc esi
        inc edx
        jmp 3b
4:      mov al, [edx]
        test al, al
        jz 9f
        cmp al, ','
        je 9f
        cmp al, ' '
        je 9f
7:      inc edi
        jmp 1b
8:      popad
        clc
        ret
9:      popad
        stc
        ret

# ---------------------------------------------------------------------------------------------
# Machine state: everything a test may change is put back before the next one.

detect_cpu:
        pushad
        pushfd
        pop eax
        mov ebx, eax
        xor eax, EFL_ID
        push eax
        popfd
        pushfd
        pop eax
        cmp eax, ebx
        je 9f                           # no CPUID: no features
        mov eax, 1
        cpuid
        mov [cpu_features_edx], edx
        mov [cpu_features_ecx], ecx
        mov eax, 0x80000000
        cpuid
        cmp eax, 0x80000001
        jb 9f
        mov eax, 0x80000001
        cpuid
        mov [cpu_ext_features_edx], edx
9:      popad
        ret

reset_state:
        cli
        pushad
        mov eax, CR0_PE | CR0_ET | CR0_NE
        mov cr0, eax                    # paging, WP, AM, TS, EM, MP off
        xor eax, eax
        mov cr4, eax
        mov cr3, eax
        # EFER exists where NX, SYSCALL or long mode do (CPUID 0x80000001 EDX bits 20, 11, 29).
        test dword ptr [cpu_ext_features_edx], (1 << 20) | (1 << 11) | (1 << 29)
        jz 1f
        mov ecx, MSR_EFER
        xor eax, eax
        xor edx, edx
        wrmsr
1:      xor eax, eax
        mov dr0, eax
        mov dr1, eax
        mov dr2, eax
        mov dr3, eax
        mov eax, 0x400
        mov dr7, eax
        mov eax, 0xFFFF0FF0
        mov dr6, eax
        call build_gdt
        lgdt [gdtr]
        JMP_FAR KCODE, 2f
2:      mov ax, KDATA
        mov ds, ax
        mov es, ax
        mov fs, ax
        mov gs, ax
        mov ss, ax
        call build_idt
        lidt [idtr]
        call build_tss
        xor eax, eax
        lldt ax
        mov ax, TSS_MAIN
        ltr ax
        fninit
        mov dword ptr [ring3_eflags], 2
        push 2
        popfd
        popad
        ret

build_gdt:
        pushad
        mov edi, (offset gdt)
        mov ecx, GDT_ENTRIES * 2
        xor eax, eax
        rep stosd
        DESCRIPTOR KCODE, 0, 0xFFFFF, ACC_CODE_XR, FLAGS_PAGES32
        DESCRIPTOR KDATA, 0, 0xFFFFF, ACC_DATA_RW, FLAGS_PAGES32
        DESCRIPTOR UCODE, 0, 0xFFFFF, ACC_CODE_XR | ACC_DPL3, FLAGS_PAGES32
        DESCRIPTOR UDATA, 0, 0xFFFFF, ACC_DATA_RW | ACC_DPL3, FLAGS_PAGES32
        DESCRIPTOR TSS_MAIN, (offset tss_main), (tss_main_end - tss_main - 1), ACC_TSS32, FLAGS_BYTES16
        popad
        ret

# Every vector: a 32-bit interrupt gate (DPL 0) to its recording stub; INT3, INTO and INT 0x80 may
# be used from ring 3 (DPL 3). Interrupts from the 8259 (0x20-0x2F) and the APIC's spurious vector
# are ignored.
build_idt:
        pushad
        xor ebx, ebx
1:      mov eax, ebx
        call idt_gate_stub
        mov ecx, ACC_INT_GATE32
        cmp ebx, VEC_BP
        je 2f
        cmp ebx, VEC_OF
        je 2f
        cmp ebx, VEC_SYSCALL
        jne 3f
2:      or ecx, ACC_DPL3
3:      cmp ebx, 0x20
        jb 4f
        cmp ebx, 0x2F
        jbe 5f
        cmp ebx, 0xFF
        jne 4f
5:      mov eax, (offset stray_interrupt)
4:      IDT_GATE ebx, eax, KCODE, ecx
        inc ebx
        cmp ebx, 256
        jb 1b
        popad
        ret

# EAX = the runtime's recording stub for the vector in EAX.
idt_gate_stub:
        imul eax, eax, 10
        add eax, (offset isr_stubs)
        ret

build_tss:
        pushad
        mov edi, (offset tss_main)
        mov ecx, tss_main_end - tss_main
        xor eax, eax
        rep stosb
        mov dword ptr [tss_main + 4], offset kstack_top     # ESP0
        mov dword ptr [tss_main + 8], KDATA                 # SS0
        mov word ptr [tss_main + 102], tss_main_iomap - tss_main
        mov byte ptr [tss_main_end - 1], 0xFF               # the bitmap's terminating byte
        popad
        ret

init_serial:
        mov dx, COM1 + 1
        xor al, al
        out dx, al                      # IER: no interrupts
        mov dx, COM1 + 3
        mov al, 0x80
        out dx, al                      # LCR: DLAB
        mov dx, COM1
        mov al, 1
        out dx, al                      # divisor 1: 115200 baud
        mov dx, COM1 + 1
        xor al, al
        out dx, al
        mov dx, COM1 + 3
        mov al, 3
        out dx, al                      # 8N1
        mov dx, COM1 + 2
        mov al, 7
        out dx, al                      # FIFOs on and cleared
        mov dx, COM1 + 4
        mov al, 3
        out dx, al                      # DTR, RTS
        ret

# The 8259 pair moved to vectors 0x20-0x2F and every line masked: whatever firmware left running
# (QEMU's SeaBIOS keeps the PIT ticking) cannot interrupt a test.
init_pic:
        mov al, 0x11
        out 0x20, al
        out 0xA0, al
        mov al, 0x20
        out 0x21, al
        mov al, 0x28
        out 0xA1, al
        mov al, 4
        out 0x21, al
        mov al, 2
        out 0xA1, al
        mov al, 1
        out 0x21, al
        out 0xA1, al
        mov al, 0xFF
        out 0x21, al
        out 0xA1, al
        ret

# ---------------------------------------------------------------------------------------------
# Descriptors.

# set_descriptor(selector, base, limit, access, flags): a code/data/system descriptor in the GDT.
set_descriptor:
        pushad
        mov edi, [esp + 36]
        and edi, 0xFFF8
        add edi, (offset gdt)
        mov ebx, [esp + 40]             # base
        mov ecx, [esp + 44]             # limit
        mov eax, ecx
        and eax, 0xFFFF
        mov edx, ebx
        shl edx, 16
        or eax, edx
        mov [edi], eax
        mov eax, ebx
        shr eax, 16
        and eax, 0xFF
        mov edx, ebx
        and edx, 0xFF000000
        or eax, edx
        and ecx, 0xF0000
        or eax, ecx
        mov edx, [esp + 48]             # access byte
        and edx, 0xFF
        shl edx, 8
        or eax, edx
        mov edx, [esp + 52]             # flags nibble
        and edx, 0xF
        shl edx, 20
        or eax, edx
        mov [edi + 4], eax
        popad
        ret

# set_gdt_gate(selector, offset, target selector, access, parameter count).
set_gdt_gate:
        pushad
        mov edi, [esp + 36]
        and edi, 0xFFF8
        add edi, (offset gdt)
        mov ebp, [esp + 52]             # parameter count
        jmp write_gate

# set_idt_gate(vector, offset, target selector, access).
set_idt_gate:
        pushad
        mov edi, [esp + 36]
        and edi, 0xFF
        lea edi, [idt + edi * 8]
        xor ebp, ebp                    # no parameter count
write_gate:
        mov eax, [esp + 40]             # offset
        and eax, 0xFFFF
        mov edx, [esp + 44]             # target selector
        shl edx, 16
        or eax, edx
        mov [edi], eax
        mov eax, [esp + 40]
        and eax, 0xFFFF0000
        mov edx, [esp + 48]             # access byte
        and edx, 0xFF
        shl edx, 8
        or eax, edx
        mov edx, ebp
        and edx, 0x1F
        or eax, edx
        mov [edi + 4], eax
        popad
        ret

# ---------------------------------------------------------------------------------------------
# Exception capture. Each stub pushes its vector; isr_common records the frame the CPU pushed,
# then resumes at the armed catch point, or reports an unexpected exception and aborts the test.

        .p2align 4
isr_stubs:
        .set vector, 0
        .rept 256
        .byte 0x68                      # push imm32
        .long vector
        .byte 0xE9                      # jmp rel32
        .long isr_common - (. + 4)
        .set vector, vector + 1
        .endr

isr_common:
        pushad
        push ds
        push es
        push fs
        push gs
        mov ax, KDATA
        mov ds, ax
        mov es, ax
        pushfd
        pop dword ptr [fault_handler_eflags]
        # [esp]: gs fs es ds edi esi ebp (esp) ebx edx ecx eax vector, then the CPU's frame at +52.
        # (PUSH of a segment register may leave the upper half of the slot unwritten: mask it.)
        movzx eax, word ptr [esp + 0]
        mov [fault_gs], eax
        movzx eax, word ptr [esp + 4]
        mov [fault_fs], eax
        movzx eax, word ptr [esp + 8]
        mov [fault_es], eax
        movzx eax, word ptr [esp + 12]
        mov [fault_ds], eax
        mov eax, [esp + 16]
        mov [fault_edi], eax
        mov eax, [esp + 20]
        mov [fault_esi], eax
        mov eax, [esp + 24]
        mov [fault_ebp], eax
        mov eax, [esp + 32]
        mov [fault_ebx], eax
        mov eax, [esp + 36]
        mov [fault_edx], eax
        mov eax, [esp + 40]
        mov [fault_ecx], eax
        mov eax, [esp + 44]
        mov [fault_eax], eax
        mov ebx, [esp + 48]             # vector
        and ebx, 0xFF
        mov [fault_vector], ebx
        lea esi, [esp + 52]
        mov [fault_entry_esp], esi
        xor eax, eax
        mov ax, ss
        mov [fault_handler_ss], eax
        mov dword ptr [fault_error], NOERR
        cmp byte ptr [vector_has_error + ebx], 0
        je 1f
        mov eax, ss:[esi]
        mov [fault_error], eax
        add esi, 4
1:      mov eax, ss:[esi]
        mov [fault_eip], eax
        mov eax, ss:[esi + 4]
        and eax, 0xFFFF
        mov [fault_cs], eax
        mov eax, ss:[esi + 8]
        mov [fault_eflags], eax
        mov dword ptr [fault_user_esp], -1
        mov dword ptr [fault_user_ss], -1
        test dword ptr [fault_cs], 3
        jz 2f
        mov eax, ss:[esi + 12]          # from an outer ring: its SS:ESP follow
        mov [fault_user_esp], eax
        mov eax, ss:[esi + 16]
        and eax, 0xFFFF
        mov [fault_user_ss], eax
2:      mov eax, cr2
        mov [fault_cr2], eax
        cmp ebx, VEC_DB
        jne 3f
        mov eax, dr6
        mov [fault_dr6], eax
3:      inc dword ptr [fault_count]
        mov eax, [catch_eip]
        test eax, eax
        jz unexpected_exception
        mov dword ptr [catch_eip], 0
        mov [resume_far], eax
        mov ax, KDATA
        mov ss, ax
        mov esp, [catch_esp]
        mov fs, ax
        mov gs, ax
        push 2
        popfd
        mov eax, [fault_eax]            # the general registers as they were at the exception
        mov ebx, [fault_ebx]
        mov ecx, [fault_ecx]
        mov edx, [fault_edx]
        mov esi, [fault_esi]
        mov edi, [fault_edi]
        mov ebp, [fault_ebp]
        jmp fword ptr [resume_far]      # always back in KCODE, whatever code segment faulted

unexpected_exception:
        cmp dword ptr [in_test], 0
        je fatal_exception
        call fail_header
        mov esi, (offset msg_unexpected)
        call print_str
        mov eax, [fault_vector]
        mov edx, [fault_error]
        call print_exception
        call print_location
        mov al, 10
        call putc
        jmp runner_abort

# An exception outside any test (in the runtime itself): nothing sensible can follow.
fatal_exception:
        mov ax, KDATA
        mov ss, ax
        mov esp, (offset stack_top)
        mov esi, (offset msg_fatal)
        call print_str
        mov eax, [fault_vector]
        mov edx, [fault_error]
        call print_exception
        call print_location
        mov al, 10
        call putc
        mov eax, 2
        jmp exit_guest

stray_interrupt:
        iretd

# ---------------------------------------------------------------------------------------------
# Checks.

# check_eq(what, actual, expected)
check_eq:
        pushfd
        pushad
        mov eax, [esp + 44]
        cmp eax, [esp + 48]
        je 1f
        mov esi, [esp + 40]
        mov ebx, [esp + 48]
        call report_value_mismatch
1:      popad
        popfd
        ret

# check_masked(what, actual, expected, mask)
check_masked:
        pushfd
        pushad
        mov eax, [esp + 44]
        xor eax, [esp + 48]
        test eax, [esp + 52]
        jz 1f
        mov esi, [esp + 40]
        mov eax, [esp + 44]
        and eax, [esp + 52]
        mov ebx, [esp + 48]
        and ebx, [esp + 52]
        call report_value_mismatch
1:      popad
        popfd
        ret

# Prints "FAIL <test>: <ESI>: expected <EBX>, got <EAX>" and marks the test failed.
report_value_mismatch:
        push eax
        call fail_header
        call print_str
        mov esi, (offset msg_expected)
        call print_str
        mov eax, ebx
        call print_hex
        mov esi, (offset msg_got)
        call print_str
        pop eax
        call print_hex
        mov al, 10
        call putc
        ret

# check_fault(what, vector, error): compares the recorded exception and disarms the catcher.
check_fault:
        pushfd
        pushad
        mov dword ptr [catch_eip], 0
        mov eax, [fault_vector]
        cmp eax, [esp + 44]
        jne 1f
        mov eax, [fault_error]
        cmp eax, [esp + 48]
        je 2f
1:      call fail_header
        mov esi, [esp + 40]
        call print_str
        mov esi, (offset msg_expected)
        call print_str
        mov eax, [esp + 44]
        mov edx, [esp + 48]
        call print_exception
        mov esi, (offset msg_got)
        call print_str
        mov eax, [fault_vector]
        mov edx, [fault_error]
        call print_exception
        cmp dword ptr [fault_vector], NOFAULT
        je 3f
        call print_location
3:      mov al, 10
        call putc
2:      popad
        popfd
        ret

# fail_message(text)
fail_message:
        pushfd
        pushad
        call fail_header
        mov esi, [esp + 40]
        call print_str
        mov al, 10
        call putc
        popad
        popfd
        ret

# info_message(text)
info_message:
        pushfd
        pushad
        mov esi, offset msg_info
        call print_str
        mov esi, [current_test]
        call print_str
        mov esi, offset msg_colon
        call print_str
        mov esi, [esp + 40]
        call print_str
        mov al, 10
        call putc
        popad
        popfd
        ret

# skip_test(reason)
skip_test:
        pushfd
        pushad
        mov dword ptr [test_skipped], 1
        mov esi, (offset msg_skip)
        call print_str
        mov esi, [current_test]
        call print_str
        mov esi, (offset msg_colon)
        call print_str
        mov esi, [esp + 40]
        call print_str
        mov al, 10
        call putc
        popad
        popfd
        ret

# "FAIL <test>: ", and the test is marked failed.
fail_header:
        push esi
        mov dword ptr [test_failed], 1
        mov esi, (offset msg_fail)
        call print_str
        mov esi, [current_test]
        call print_str
        mov esi, (offset msg_colon)
        call print_str
        pop esi
        ret

# Prints exception EAX with error code EDX: "no exception", "#GP(0x28)", "#UD", "vector 0x40".
print_exception:
        pushad
        cmp eax, NOFAULT
        jne 1f
        mov esi, (offset msg_no_exception)
        call print_str
        jmp 9f
1:      cmp eax, 20
        jae 2f
        mov esi, [vector_names + eax * 4]
        call print_str
        jmp 3f
2:      mov esi, (offset msg_vector)
        call print_str
        call print_hex
3:      cmp edx, NOERR
        je 9f
        mov al, '('
        call putc
        mov eax, edx
        call print_hex
        mov al, ')'
        call putc
9:      popad
        ret

# " at CS:EIP" of the recorded exception.
print_location:
        pushad
        mov esi, (offset msg_at)
        call print_str
        mov eax, [fault_cs]
        call print_hex
        mov al, ':'
        call putc
        mov eax, [fault_eip]
        call print_hex
        popad
        ret

# ---------------------------------------------------------------------------------------------
# COM1 output (polled).

putc:
        push edx
        push ecx
        push eax
        mov dx, COM1_LSR
        mov ecx, 1000000
1:      in al, dx
        test al, LSR_THRE
        loopz 1b
        pop eax
        mov dx, COM1
        out dx, al
        pop ecx
        pop edx
        ret

print_str:
        push esi
        push eax
1:      lodsb
        test al, al
        jz 2f
        call putc
        jmp 1b
2:      pop eax
        pop esi
        ret

# EAX as 0x and hex digits, without leading zeros.
print_hex:
        pushad
        mov ebx, eax
        mov al, '0'
        call putc
        mov al, 'x'
        call putc
        mov ecx, 8
        xor edx, edx                    # a digit printed yet
1:      rol ebx, 4
        mov eax, ebx
        and eax, 0xF
        jnz 2f
        test edx, edx
        jnz 2f
        cmp ecx, 1
        jne 3f
2:      mov edx, 1
        mov al, [hex_digits + eax]
        call putc
3:      loop 1b
        popad
        ret

print_dec:
        pushad
        mov ebx, 10
        xor ecx, ecx
1:      xor edx, edx
        div ebx
        push edx
        inc ecx
        test eax, eax
        jnz 1b
2:      pop eax
        add al, '0'
        call putc
        loop 2b
        popad
        ret

# ---------------------------------------------------------------------------------------------

        .section .rodata
hex_digits:     .ascii "0123456789abcdef"
msg_guest:      .asciz "# system guest "
msg_cmdline:    .asciz ", command line: "
msg_done:       .asciz "DONE "
msg_colon:      .asciz ": "
msg_passed:     .asciz " passed, "
msg_failed:     .asciz " failed, "
msg_skipped:    .asciz " skipped\n"
msg_pass:       .asciz "PASS "
msg_fail:       .asciz "FAIL "
msg_skip:       .asciz "SKIP "
msg_info:       .asciz "INFO "
msg_excluded:   .asciz ": left out by the command line\n"
msg_expected:   .asciz ": expected "
msg_got:        .asciz ", got "
msg_unexpected: .asciz "unexpected "
msg_fatal:      .asciz "FATAL: exception outside a test: "
msg_no_exception: .asciz "no exception"
msg_vector:     .asciz "vector "
msg_at:         .asciz " at "
name_de:        .asciz "#DE"
name_db:        .asciz "#DB"
name_nmi:       .asciz "NMI"
name_bp:        .asciz "#BP"
name_of:        .asciz "#OF"
name_br:        .asciz "#BR"
name_ud:        .asciz "#UD"
name_nm:        .asciz "#NM"
name_df:        .asciz "#DF"
name_09:        .asciz "vector 0x9"
name_ts:        .asciz "#TS"
name_np:        .asciz "#NP"
name_ss:        .asciz "#SS"
name_gp:        .asciz "#GP"
name_pf:        .asciz "#PF"
name_15:        .asciz "vector 0xf"
name_mf:        .asciz "#MF"
name_ac:        .asciz "#AC"
name_mc:        .asciz "#MC"
name_xm:        .asciz "#XM"
        .p2align 2
vector_names:
        .long name_de, name_db, name_nmi, name_bp, name_of, name_br, name_ud, name_nm
        .long name_df, name_09, name_ts, name_np, name_ss, name_gp, name_pf, name_15
        .long name_mf, name_ac, name_mc, name_xm
# Vectors for which the CPU pushes an error code (#DF #TS #NP #SS #GP #PF #AC, and #CP #VC #SX).
vector_has_error:
        .byte 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 1, 1, 1, 1, 1, 0
        .byte 0, 1, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1, 1, 0
        .fill 224, 1, 0

        .section .bss
        .p2align 12
stack:          .skip 0x4000
stack_top:
kstack:         .skip 0x2000
kstack_top:
ring3_stack:    .skip 0x2000
ring3_stack_top:
        .p2align 3
gdt:            .skip GDT_ENTRIES * 8
idt:            .skip 256 * 8
        .p2align 4
tss_main:       .skip 104
tss_main_iomap: .skip TSS_IOMAP_BYTES + 1
tss_main_end:
        .set tss_main_limit, tss_main_end - tss_main - 1
        .globl tss_main_limit
        .p2align 2
cmdline_buf:    .skip CMDLINE_MAX + 1
        .p2align 2
catch_eip:      .skip 4
catch_esp:      .skip 4
runner_esp:     .skip 4
in_test:        .skip 4
current_test:   .skip 4
test_failed:    .skip 4
test_skipped:   .skip 4
pass_count:     .skip 4
fail_count:     .skip 4
skip_count:     .skip 4
cpu_features_edx: .skip 4
cpu_features_ecx: .skip 4
cpu_ext_features_edx: .skip 4
fault_vector:   .skip 4
fault_error:    .skip 4
fault_eip:      .skip 4
fault_cs:       .skip 4
fault_eflags:   .skip 4
fault_user_esp: .skip 4
fault_user_ss:  .skip 4
fault_entry_esp: .skip 4
fault_handler_ss: .skip 4
fault_handler_eflags: .skip 4
ring3_eflags:   .skip 4
fault_cr2:      .skip 4
fault_dr6:      .skip 4
fault_count:    .skip 4
fault_eax:      .skip 4
fault_ebx:      .skip 4
fault_ecx:      .skip 4
fault_edx:      .skip 4
fault_esi:      .skip 4
fault_edi:      .skip 4
fault_ebp:      .skip 4
fault_ds:       .skip 4
fault_es:       .skip 4
fault_fs:       .skip 4
fault_gs:       .skip 4

        .section .data
        .p2align 2
resume_far:
        .long 0
        .word KCODE
        .p2align 2
gdtr:   .word GDT_ENTRIES * 8 - 1
        .long gdt
idtr:   .word 256 * 8 - 1
        .long idt

# Paging: 32-bit paging with every PTE/PDE bit (P, R/W, U/S, A, D, PS with CR4.PSE, G with CR4.PGE,
# PAT/PWT/PCD not affecting translation), CR0.WP, CR2 and the #PF error codes, INVLPG and CR3
# reloads; PAE paging with 2 MiB pages and NX (EFER.NXE), where #PF error codes gain I/D and RSVD.
#
# Every test maps 0-8 MiB one to one (user, writable: the guest and its stacks live there) and puts
# the pages under test at TEST_VA (0x40000000), backed by the frames PHYS_A/B/C in 4-8 MiB, which
# the identity map also reaches, so a test can see a frame's contents without the mapping under test.

        .include "runtime.inc"

        .globl guest_name
        .section .rodata
guest_name: .asciz "paging"

        .set TEST_VA, 0x40000000
        .set OTHER_VA, 0x80000000       # another page directory slot (PSE, PAE PDPTE 2)
        .set PHYS_A, SCRATCH_MEM + 0x100000
        .set PHYS_B, SCRATCH_MEM + 0x101000
        .set PHYS_C, SCRATCH_MEM + 0x102000
        .set PTE_P, 1 << 0
        .set PTE_RW, 1 << 1
        .set PTE_US, 1 << 2
        .set PTE_PWT, 1 << 3
        .set PTE_PCD, 1 << 4
        .set PTE_A, 1 << 5
        .set PTE_D, 1 << 6
        .set PTE_PS, 1 << 7              # in a PDE
        .set PTE_PAT, 1 << 7             # in a 4 KiB PTE
        .set PTE_G, 1 << 8
        .set PDE_PAT_LARGE, 1 << 12      # PAT in a 4 MiB / 2 MiB PDE
        .set PTE_ALL, PTE_P | PTE_RW | PTE_US
        .set PF_P, 1 << 0
        .set PF_W, 1 << 1
        .set PF_U, 1 << 2
        .set PF_RSVD, 1 << 3
        .set PF_ID, 1 << 4
        .set NX_HIGH, 1 << 31            # bit 63 of a PAE entry, in its high dword
        .set VALUE_A, 0xAAAA0001
        .set VALUE_B, 0xBBBB0002
        .set VALUE_C, 0xCCCC0003
        .set OPCODE_INT80, 0x80CD        # int 0x80, as a little-endian word
        .set LOW_MARKER, 0x3F0000        # free RAM below 4 MiB, above the guest image

        .text

# 32-bit paging: identity map 0-8 MiB (user, writable) in 4 KiB pages, an empty page table for
# TEST_VA, CR3, CR0.PG (WP clear). The frames hold VALUE_A/B/C at offset 0 and `int 0x80` at 0x800.
paging32_on:
        pushad
        mov edi, offset pd32
        mov ecx, 1024
        xor eax, eax
        rep stosd
        mov edi, offset pt_test
        mov ecx, 1024
        rep stosd
        mov edi, offset pt_identity
        mov eax, PTE_ALL
        mov ecx, 2048
1:      stosd
        add eax, 0x1000
        loop 1b
        mov dword ptr [pd32], offset pt_identity + PTE_ALL
        mov dword ptr [pd32 + 4], offset pt_identity + 0x1000 + PTE_ALL
        mov dword ptr [pd32 + (TEST_VA >> 22) * 4], offset pt_test + PTE_ALL
        call fill_frames
        mov eax, offset pd32
        mov cr3, eax
        mov eax, cr0
        or eax, CR0_PG
        mov cr0, eax
        popad
        ret

fill_frames:
        mov dword ptr [PHYS_A], VALUE_A
        mov dword ptr [PHYS_B], VALUE_B
        mov dword ptr [PHYS_C], VALUE_C
        mov word ptr [PHYS_A + 0x800], OPCODE_INT80
        mov word ptr [PHYS_B + 0x800], OPCODE_INT80
        ret

# Page table slot n for TEST_VA + n * 4 KiB, 32-bit paging; flushes the TLB entry.
.macro MAP32 n, value
        mov dword ptr [pt_test + \n * 4], \value
        invlpg [TEST_VA + \n * 0x1000]
.endm

TESTCASE not_present, "pf-not-present"
        call paging32_on
        EXPECT_FAULT "supervisor read", VEC_PF, 0, "1: mov eax, [TEST_VA + 0x123]"
        CHECK_EQ "CR2: the linear address", [fault_cr2], (TEST_VA + 0x123)
        CHECK_EQ "EIP: the faulting instruction", [fault_eip], (offset 1b)
        EXPECT_FAULT "supervisor write", VEC_PF, PF_W, "mov dword ptr [TEST_VA + 0x456], 0"
        CHECK_EQ "CR2 of the write", [fault_cr2], (TEST_VA + 0x456)
        IN_RING3 "user read", VEC_PF, PF_U, "mov eax, [TEST_VA]"
        IN_RING3 "user write", VEC_PF, (PF_U | PF_W), "mov byte ptr [TEST_VA + 0xFFF], 0"
        CHECK_EQ "CR2 of the user write", [fault_cr2], (TEST_VA + 0xFFF)
        EXPECT_FAULT "not-present page directory entry", VEC_PF, 0, "mov eax, [OTHER_VA + 8]"
        CHECK_EQ "CR2 under a missing PDE", [fault_cr2], (OTHER_VA + 8)
        MAP32 0, (PHYS_A + PTE_ALL)
        EXPECT_FAULT "read once mapped", NOFAULT, NOERR, "mov ebx, [TEST_VA]"
        CHECK_EQ "value through the mapping", ebx, VALUE_A
        ret

TESTCASE read_write_bit, "pte-rw-and-cr0-wp"
        call paging32_on
        MAP32 0, (PHYS_A + PTE_P + PTE_US)
        EXPECT_FAULT "supervisor write to a read-only page, WP = 0", NOFAULT, NOERR, "mov dword ptr [TEST_VA + 4], 0x1111"
        CHECK_EQ "the write landed", [PHYS_A + 4], 0x1111
        mov eax, cr0
        or eax, CR0_WP
        mov cr0, eax
        EXPECT_FAULT "supervisor write to a read-only page, WP = 1", VEC_PF, (PF_P | PF_W), "mov dword ptr [TEST_VA + 4], 0x2222"
        CHECK_EQ "no write", [PHYS_A + 4], 0x1111
        EXPECT_FAULT "supervisor read, WP = 1", NOFAULT, NOERR, "mov eax, [TEST_VA + 4]"
        IN_RING3 "user write to a read-only page", VEC_PF, (PF_P | PF_W | PF_U), "mov dword ptr [TEST_VA + 4], 0"
        IN_RING3 "user read of a read-only page", VEC_SYSCALL, NOERR, "mov ebx, [TEST_VA + 4]"
        CHECK_EQ "user read value", [fault_ebx], 0x1111
        # Read-only in the PDE, writable in the PTE: the stricter one wins.
        MAP32 0, (PHYS_A + PTE_ALL)
        mov dword ptr [pd32 + (TEST_VA >> 22) * 4], offset pt_test + PTE_P + PTE_US
        invlpg [TEST_VA]
        EXPECT_FAULT "supervisor write, PDE read-only, WP = 1", VEC_PF, (PF_P | PF_W), "mov dword ptr [TEST_VA], 0"
        IN_RING3 "user write, PDE read-only", VEC_PF, (PF_P | PF_W | PF_U), "mov dword ptr [TEST_VA], 0"
        ret

TESTCASE user_bit, "pte-us"
        call paging32_on
        MAP32 0, (PHYS_A + PTE_P + PTE_RW)
        IN_RING3 "user read of a supervisor page", VEC_PF, (PF_P | PF_U), "mov eax, [TEST_VA]"
        IN_RING3 "user write to a supervisor page", VEC_PF, (PF_P | PF_U | PF_W), "mov dword ptr [TEST_VA], 0"
        EXPECT_FAULT "supervisor read of a supervisor page", NOFAULT, NOERR, "mov eax, [TEST_VA]"
        MAP32 0, (PHYS_A + PTE_ALL)
        IN_RING3 "user read of a user page", VEC_SYSCALL, NOERR, "mov ebx, [TEST_VA]"
        CHECK_EQ "value", [fault_ebx], VALUE_A
        EXPECT_FAULT "supervisor write to a user page", NOFAULT, NOERR, "mov dword ptr [TEST_VA + 8], 1"
        # Supervisor in the PDE, user in the PTE: user accesses fault.
        mov dword ptr [pd32 + (TEST_VA >> 22) * 4], offset pt_test + PTE_P + PTE_RW
        invlpg [TEST_VA]
        IN_RING3 "user read, PDE supervisor", VEC_PF, (PF_P | PF_U), "mov eax, [TEST_VA]"
        ret

TESTCASE accessed_dirty, "accessed-and-dirty-bits"
        call paging32_on
        and dword ptr [pd32 + (TEST_VA >> 22) * 4], ~(PTE_A | PTE_D)
        MAP32 0, (PHYS_A + PTE_ALL)
        MAP32 1, (PHYS_B + PTE_ALL)
        mov eax, cr3
        mov cr3, eax
        mov eax, [TEST_VA]
        CHECK_MASKED "PTE after a read: A set, D clear", [pt_test], (PTE_A | PTE_D), PTE_A
        CHECK_MASKED "PDE after a read: A set", [pd32 + (TEST_VA >> 22) * 4], PTE_A, PTE_A
        mov dword ptr [TEST_VA], 5
        CHECK_MASKED "PTE after a write: A and D set", [pt_test], (PTE_A | PTE_D), (PTE_A | PTE_D)
        CHECK_MASKED "PDE: no D for a page table", [pd32 + (TEST_VA >> 22) * 4], PTE_D, 0
        mov dword ptr [TEST_VA + 0x1000], 5
        CHECK_MASKED "PTE after a first access that writes: A and D", [pt_test + 4], (PTE_A | PTE_D), (PTE_A | PTE_D)
        # A cached translation with D clear: the first write still sets D in memory.
        MAP32 2, (PHYS_C + PTE_ALL)
        mov eax, [TEST_VA + 0x2000]
        CHECK_MASKED "third PTE after a read", [pt_test + 8], (PTE_A | PTE_D), PTE_A
        mov dword ptr [TEST_VA + 0x2000], 7
        CHECK_MASKED "third PTE after a later write", [pt_test + 8], (PTE_A | PTE_D), (PTE_A | PTE_D)
        # User accesses set them too.
        MAP32 3, (PHYS_C + PTE_ALL)
        IN_RING3 "user write", VEC_SYSCALL, NOERR, "mov dword ptr [TEST_VA + 0x3010], 1"
        CHECK_MASKED "PTE after a user write", [pt_test + 12], (PTE_A | PTE_D), (PTE_A | PTE_D)
        ret

TESTCASE large_pages, "pse-4mib-pages"
        test dword ptr [cpu_features_edx], 1 << 3
        jnz 1f
        SKIP_TEST "CPUID.1:EDX.PSE = 0"
1:      call paging32_on
        mov eax, cr4
        or eax, CR4_PSE
        mov cr4, eax
        mov dword ptr [PHYS_A + 0x2344], VALUE_C
        mov dword ptr [pd32 + (OTHER_VA >> 22) * 4], SCRATCH_MEM + PTE_ALL + PTE_PS
        invlpg [OTHER_VA]
        EXPECT_FAULT "read through a 4 MiB page", NOFAULT, NOERR, "mov ebx, [OTHER_VA + 0x102344]"
        CHECK_EQ "4 MiB page: base + 22-bit offset", ebx, VALUE_C
        CHECK_MASKED "PDE after a read: A, no D", [pd32 + (OTHER_VA >> 22) * 4], (PTE_A | PTE_D), PTE_A
        mov dword ptr [OTHER_VA + 0x102348], 9
        CHECK_MASKED "PDE after a write: A and D", [pd32 + (OTHER_VA >> 22) * 4], (PTE_A | PTE_D), (PTE_A | PTE_D)
        CHECK_EQ "the write landed", [PHYS_A + 0x2348], 9
        # U/S and R/W of a 4 MiB page.
        mov dword ptr [pd32 + (OTHER_VA >> 22) * 4], SCRATCH_MEM + PTE_P + PTE_US + PTE_PS
        invlpg [OTHER_VA]
        IN_RING3 "user write to a read-only 4 MiB page", VEC_PF, (PF_P | PF_W | PF_U), "mov dword ptr [OTHER_VA + 0x102348], 0"
        CHECK_EQ "CR2", [fault_cr2], (OTHER_VA + 0x102348)
        # Without CR4.PSE the PS bit is ignored: the PDE points at a page table.
        mov eax, cr4
        and eax, ~CR4_PSE
        mov cr4, eax
        MAP32 0, (PHYS_B + PTE_ALL)
        mov dword ptr [pd32 + (OTHER_VA >> 22) * 4], offset pt_test + PTE_ALL + PTE_PS
        invlpg [OTHER_VA]
        EXPECT_FAULT "PS with CR4.PSE = 0", NOFAULT, NOERR, "mov ebx, [OTHER_VA]"
        CHECK_EQ "the PDE was used as a page table", ebx, VALUE_B
        ret

TESTCASE large_page_invlpg, "invlpg-of-a-4mib-page"
        test dword ptr [cpu_features_edx], 1 << 3
        jnz 1f
        SKIP_TEST "CPUID.1:EDX.PSE = 0"
1:      call paging32_on
        mov eax, cr4
        or eax, CR4_PSE
        mov cr4, eax
        mov dword ptr [LOW_MARKER], VALUE_C
        mov dword ptr [pd32 + (OTHER_VA >> 22) * 4], SCRATCH_MEM + PTE_ALL + PTE_PS
        invlpg [OTHER_VA]
        mov ebx, [OTHER_VA + 0x100000]
        CHECK_EQ "4 MiB page at SCRATCH_MEM", ebx, VALUE_A
        mov dword ptr [pd32 + (OTHER_VA >> 22) * 4], PTE_ALL + PTE_PS
        invlpg [OTHER_VA + 0x123456]    # any address inside the large page drops all of it
        mov ebx, [OTHER_VA + LOW_MARKER]
        CHECK_EQ "after INVLPG elsewhere in the page: the new 4 MiB frame", ebx, VALUE_C
        ret

TESTCASE implicit_supervisor, "implicit-supervisor-accesses"
        # The GDT, IDT and TSS sit in a supervisor-only page: ring 3 cannot read them, but the
        # processor's own accesses for a segment load and an INT from ring 3 are supervisor accesses.
        call paging32_on
        mov eax, offset gdt
        shr eax, 12
        and dword ptr [pt_identity + eax * 4], ~PTE_US
        mov eax, offset gdt
        invlpg [eax]
        mov eax, cr0
        or eax, CR0_WP
        mov cr0, eax
        IN_RING3 "ring 3 read of the GDT", VEC_PF, (PF_P | PF_U), "mov eax, [gdt]"
        CHECK_EQ "CR2", [fault_cr2], (offset gdt)
        IN_RING3 "segment load and INT from ring 3", VEC_SYSCALL, NOERR, "mov ax, UDATA", "mov fs, ax", "mov ax, UCODE", "lar ebx, eax"
        CHECK_MASKED "LAR from ring 3 read the descriptor", [fault_ebx], 0xFFFFFEFF, 0x00C0FA00
        ret

TESTCASE large_page_reserved, "pse-4mib-reserved-bit"
        test dword ptr [cpu_features_edx], 1 << 3
        jnz 1f
        SKIP_TEST "CPUID.1:EDX.PSE = 0"
1:      call paging32_on
        mov eax, cr4
        or eax, CR4_PSE
        mov cr4, eax
        # Bit 21 of a 4 MiB PDE is reserved (bits 13-20 hold physical address bits 32-39).
        mov dword ptr [pd32 + (OTHER_VA >> 22) * 4], SCRATCH_MEM + PTE_ALL + PTE_PS + (1 << 21)
        invlpg [OTHER_VA]
        EXPECT_FAULT "read through a PDE with bit 21 set", VEC_PF, (PF_P | PF_RSVD), "mov eax, [OTHER_VA]"
        ret

TESTCASE pat_bits, "pat-pwt-pcd-bits-keep-the-mapping"
        call paging32_on
        MAP32 0, (PHYS_A + PTE_ALL + PTE_PAT + PTE_PWT + PTE_PCD)
        EXPECT_FAULT "read through a 4 KiB PTE with PAT, PWT and PCD", NOFAULT, NOERR, "mov ebx, [TEST_VA]"
        CHECK_EQ "value", ebx, VALUE_A
        test dword ptr [cpu_features_edx], 1 << 3
        jz 1f
        mov eax, cr4
        or eax, CR4_PSE
        mov cr4, eax
        mov dword ptr [pd32 + (OTHER_VA >> 22) * 4], SCRATCH_MEM + PTE_ALL + PTE_PS + PDE_PAT_LARGE + PTE_PCD
        invlpg [OTHER_VA]
        EXPECT_FAULT "read through a 4 MiB PDE with PAT (bit 12)", NOFAULT, NOERR, "mov ebx, [OTHER_VA + 0x101000]"
        CHECK_EQ "value: bit 12 is not an address bit", ebx, VALUE_B
1:      ret

TESTCASE invlpg_test, "invlpg-and-cr3-reload"
        call paging32_on
        MAP32 0, (PHYS_A + PTE_ALL)
        mov eax, [TEST_VA]
        mov dword ptr [pt_test], PHYS_B + PTE_ALL
        invlpg [TEST_VA]
        mov ebx, [TEST_VA]
        CHECK_EQ "after INVLPG: the new frame", ebx, VALUE_B
        mov dword ptr [pt_test], PHYS_C + PTE_ALL
        mov eax, cr3
        mov cr3, eax
        mov ebx, [TEST_VA]
        CHECK_EQ "after a CR3 reload: the new frame", ebx, VALUE_C
        mov dword ptr [pt_test], 0
        invlpg [TEST_VA + 0xABC]        # any address in the page
        EXPECT_FAULT "after unmapping and INVLPG", VEC_PF, 0, "mov eax, [TEST_VA]"
        ret

TESTCASE global_pages, "global-pages-and-cr4-pge"
        test dword ptr [cpu_features_edx], 1 << 13
        jnz 1f
        SKIP_TEST "CPUID.1:EDX.PGE = 0"
1:      call paging32_on
        mov eax, cr4
        or eax, CR4_PGE
        mov cr4, eax
        MAP32 0, (PHYS_A + PTE_ALL + PTE_G)
        MAP32 1, (PHYS_A + PTE_ALL)
        mov eax, [TEST_VA]
        mov eax, [TEST_VA + 0x1000]
        mov dword ptr [pt_test], PHYS_B + PTE_ALL + PTE_G
        mov dword ptr [pt_test + 4], PHYS_B + PTE_ALL
        mov eax, cr3
        mov cr3, eax
        mov ebx, [TEST_VA + 0x1000]
        CHECK_EQ "non-global page after a CR3 reload: the new frame", ebx, VALUE_B
        # A CR3 load need not flush a global page: it may still show the old frame, or not.
        mov ebx, [TEST_VA]
        cmp ebx, VALUE_A
        jne 2f
        INFO_MSG "a global page's old translation survived the CR3 reload"
        jmp 3f
2:      INFO_MSG "the CR3 reload refetched the global page (allowed: the TLB need not keep it)"
3:      CHECK_EQ "global page: one of the two frames", ebx, ebx
        cmp ebx, VALUE_A
        je 4f
        CHECK_EQ "global page: the new frame if not the old one", ebx, VALUE_B
4:      # INVLPG flushes a global page.
        invlpg [TEST_VA]
        mov ebx, [TEST_VA]
        CHECK_EQ "global page after INVLPG: the new frame", ebx, VALUE_B
        # So does clearing CR4.PGE (any change of PGE flushes everything).
        mov dword ptr [pt_test], PHYS_C + PTE_ALL + PTE_G
        mov eax, cr4
        and eax, ~CR4_PGE
        mov cr4, eax
        mov ebx, [TEST_VA]
        CHECK_EQ "global page after clearing CR4.PGE: the new frame", ebx, VALUE_C
        # With CR4.PGE clear, G means nothing: a CR3 reload flushes the page.
        mov eax, [TEST_VA]
        mov dword ptr [pt_test], PHYS_A + PTE_ALL + PTE_G
        mov eax, cr3
        mov cr3, eax
        mov ebx, [TEST_VA]
        CHECK_EQ "G without CR4.PGE after a CR3 reload: the new frame", ebx, VALUE_A
        ret

TESTCASE fetch_faults, "pf-instruction-fetch"
        call paging32_on
        EXPECT_FAULT "supervisor fetch from a not-present page", VEC_PF, 0, "mov eax, TEST_VA + 0x800", "jmp eax"
        CHECK_EQ "CR2: the target", [fault_cr2], (TEST_VA + 0x800)
        CHECK_EQ "EIP: the target", [fault_eip], (TEST_VA + 0x800)
        IN_RING3 "user fetch from a not-present page", VEC_PF, PF_U, "mov eax, TEST_VA + 0x800", "jmp eax"
        MAP32 0, (PHYS_A + PTE_P + PTE_RW)
        IN_RING3 "user fetch from a supervisor page", VEC_PF, (PF_P | PF_U), "mov eax, TEST_VA + 0x800", "jmp eax"
        MAP32 0, (PHYS_A + PTE_P + PTE_US)
        IN_RING3 "user fetch from a user read-only page", VEC_SYSCALL, NOERR, "mov eax, TEST_VA + 0x800", "jmp eax"
        CHECK_EQ "INT 0x80 ran from the mapped page", [fault_eip], (TEST_VA + 0x802)
        # 32-bit paging never sets I/D, even with EFER.NXE.
        test dword ptr [cpu_ext_features_edx], 1 << 20
        jz 1f
        mov ecx, MSR_EFER
        rdmsr
        or eax, EFER_NXE
        wrmsr
        MAP32 0, 0
        EXPECT_FAULT "fetch from a not-present page with EFER.NXE", VEC_PF, 0, "mov eax, TEST_VA + 0x800", "jmp eax"
1:      ret

TESTCASE straddling, "pf-accesses-straddling-pages"
        call paging32_on
        MAP32 0, (PHYS_A + PTE_ALL)
        # MOV EAX, imm32 starting two bytes before the end of the mapped page.
        mov byte ptr [PHYS_A + 0xFFE], 0xB8
        mov byte ptr [PHYS_A + 0xFFF], 0x11
        EXPECT_FAULT "instruction fetch crossing into a not-present page", VEC_PF, 0, "mov eax, TEST_VA + 0xFFE", "jmp eax"
        CHECK_EQ "CR2: the first byte in the missing page", [fault_cr2], (TEST_VA + 0x1000)
        CHECK_EQ "EIP: the instruction's first byte", [fault_eip], (TEST_VA + 0xFFE)
        EXPECT_FAULT "dword read crossing into a not-present page", VEC_PF, 0, "mov eax, [TEST_VA + 0xFFE]"
        CHECK_EQ "CR2 of the read", [fault_cr2], (TEST_VA + 0x1000)
        mov dword ptr [PHYS_A + 0xFFC], 0x12345678
        EXPECT_FAULT "dword write crossing into a not-present page", VEC_PF, PF_W, "mov dword ptr [TEST_VA + 0xFFE], 0"
        CHECK_EQ "the first page is untouched", [PHYS_A + 0xFFC], 0x12345678
        ret

# --- PAE ---------------------------------------------------------------------------------------

# PAE paging: PDPTE 0 maps 0-8 MiB one to one in 2 MiB pages (user, writable), PDPTE 1 (TEST_VA)
# points at pd_pae1, whose entry 0 points at pt_pae. CR4.PAE, CR3, CR0.PG.
paging_pae_on:
        pushad
        mov edi, offset pdpt
        mov ecx, 8
        xor eax, eax
        rep stosd
        mov edi, offset pd_pae0
        mov ecx, 1024 * 3               # pd_pae0, pd_pae1, pt_pae
        rep stosd
        mov eax, PTE_ALL + PTE_PS
        mov edi, offset pd_pae0
        mov ecx, 4
1:      mov [edi], eax
        add eax, 0x200000
        add edi, 8
        loop 1b
        mov dword ptr [pdpt], offset pd_pae0 + PTE_P
        mov dword ptr [pdpt + 8], offset pd_pae1 + PTE_P
        mov dword ptr [pd_pae1], offset pt_pae + PTE_ALL
        call fill_frames
        mov eax, cr4
        or eax, CR4_PAE
        mov cr4, eax
        mov eax, offset pdpt
        mov cr3, eax
        mov eax, cr0
        or eax, CR0_PG
        mov cr0, eax
        popad
        ret

enable_nxe:
        pushad
        mov ecx, MSR_EFER
        rdmsr
        or eax, EFER_NXE
        wrmsr
        popad
        ret

# pt_pae slot n (TEST_VA + n * 4 KiB): low and high dwords; flushes the TLB entry.
.macro MAP_PAE n, low, high=0
        mov dword ptr [pt_pae + \n * 8], \low
        mov dword ptr [pt_pae + \n * 8 + 4], \high
        invlpg [TEST_VA + \n * 0x1000]
.endm

.macro NEED_PAE
        test dword ptr [cpu_features_edx], 1 << 6
        jnz .Lpae\@
        SKIP_TEST "CPUID.1:EDX.PAE = 0"
.Lpae\@:
.endm

.macro NEED_NX
        NEED_PAE
        test dword ptr [cpu_ext_features_edx], 1 << 20
        jnz .Lnx\@
        SKIP_TEST "CPUID.80000001h:EDX.NX = 0"
.Lnx\@:
.endm

TESTCASE pae_basics, "pae-4k-and-2m-pages"
        NEED_PAE
        call paging_pae_on
        MAP_PAE 0, (PHYS_A + PTE_ALL)
        EXPECT_FAULT "read through a 4 KiB PAE page", NOFAULT, NOERR, "mov ebx, [TEST_VA]"
        CHECK_EQ "value", ebx, VALUE_A
        mov dword ptr [PHYS_C + 0x10], VALUE_C
        mov dword ptr [pd_pae1 + 8], SCRATCH_MEM + PTE_ALL + PTE_PS     # TEST_VA + 2 MiB
        invlpg [TEST_VA + 0x200000]
        EXPECT_FAULT "read through a 2 MiB page", NOFAULT, NOERR, "mov ebx, [TEST_VA + 0x200000 + 0x102010]"
        CHECK_EQ "2 MiB page: base + 21-bit offset", ebx, VALUE_C
        mov dword ptr [TEST_VA + 0x200000 + 0x102014], 3
        CHECK_MASKED "2 MiB PDE after a write: A and D", [pd_pae1 + 8], (PTE_A | PTE_D), (PTE_A | PTE_D)
        mov dword ptr [TEST_VA + 8], 3
        CHECK_MASKED "PAE PTE after a write: A and D", [pt_pae], (PTE_A | PTE_D), (PTE_A | PTE_D)
        EXPECT_FAULT "not-present PAE PTE", VEC_PF, PF_W, "mov dword ptr [TEST_VA + 0x1000], 0"
        EXPECT_FAULT "not-present PDPTE", VEC_PF, 0, "mov eax, [OTHER_VA]"
        CHECK_EQ "CR2", [fault_cr2], OTHER_VA
        MAP_PAE 0, (PHYS_A + PTE_P)
        IN_RING3 "user read of a supervisor PAE page", VEC_PF, (PF_P | PF_U), "mov eax, [TEST_VA]"
        ret

TESTCASE pae_nx, "pae-nx"
        NEED_NX
        call paging_pae_on
        call enable_nxe
        MAP_PAE 0, (PHYS_A + PTE_ALL), NX_HIGH
        EXPECT_FAULT "supervisor fetch from an NX page", VEC_PF, (PF_P | PF_ID), "mov eax, TEST_VA + 0x800", "jmp eax"
        CHECK_EQ "CR2: the target", [fault_cr2], (TEST_VA + 0x800)
        IN_RING3 "user fetch from an NX page", VEC_PF, (PF_P | PF_ID | PF_U), "mov eax, TEST_VA + 0x800", "jmp eax"
        EXPECT_FAULT "read of an NX page", NOFAULT, NOERR, "mov ebx, [TEST_VA]"
        CHECK_EQ "value", ebx, VALUE_A
        EXPECT_FAULT "write to an NX page", NOFAULT, NOERR, "mov dword ptr [TEST_VA + 4], 1"
        MAP_PAE 0, (PHYS_A + PTE_ALL)
        EXPECT_FAULT "fetch once NX is clear", VEC_SYSCALL, NOERR, "mov eax, TEST_VA + 0x800", "jmp eax"
        MAP_PAE 1, 0
        EXPECT_FAULT "fetch from a not-present page: I/D without P", VEC_PF, PF_ID, "mov eax, TEST_VA + 0x1800", "jmp eax"
        IN_RING3 "user fetch from a not-present page", VEC_PF, (PF_ID | PF_U), "mov eax, TEST_VA + 0x1800", "jmp eax"
        EXPECT_FAULT "data read from a not-present page: no I/D", VEC_PF, 0, "mov eax, [TEST_VA + 0x1800]"
        # NX in the PDE covers every page under it.
        MAP_PAE 0, (PHYS_A + PTE_ALL)
        mov dword ptr [pd_pae1 + 4], NX_HIGH
        invlpg [TEST_VA]
        EXPECT_FAULT "fetch under an NX PDE", VEC_PF, (PF_P | PF_ID), "mov eax, TEST_VA + 0x800", "jmp eax"
        mov dword ptr [pd_pae1 + 4], 0
        # An NX 2 MiB page.
        mov dword ptr [pd_pae1 + 8], SCRATCH_MEM + PTE_ALL + PTE_PS
        mov dword ptr [pd_pae1 + 12], NX_HIGH
        invlpg [TEST_VA + 0x200000]
        EXPECT_FAULT "fetch from an NX 2 MiB page", VEC_PF, (PF_P | PF_ID), "mov eax, TEST_VA + 0x200000 + 0x100800", "jmp eax"
        ret

TESTCASE pae_nx_reserved, "pae-nx-bit-reserved-without-nxe"
        NEED_NX
        call paging_pae_on
        MAP_PAE 0, (PHYS_A + PTE_ALL), NX_HIGH
        EXPECT_FAULT "read with bit 63 set and EFER.NXE = 0", VEC_PF, (PF_P | PF_RSVD), "mov eax, [TEST_VA]"
        EXPECT_FAULT "write with bit 63 set and EFER.NXE = 0", VEC_PF, (PF_P | PF_RSVD | PF_W), "mov dword ptr [TEST_VA], 0"
        MAP_PAE 1, 0
        EXPECT_FAULT "fetch from a not-present page, EFER.NXE = 0: no I/D", VEC_PF, 0, "mov eax, TEST_VA + 0x1800", "jmp eax"
        ret

TESTCASE pae_wp, "pae-cr0-wp"
        NEED_PAE
        call paging_pae_on
        MAP_PAE 0, (PHYS_A + PTE_P + PTE_US)
        EXPECT_FAULT "supervisor write, WP = 0", NOFAULT, NOERR, "mov dword ptr [TEST_VA + 4], 0x3333"
        mov eax, cr0
        or eax, CR0_WP
        mov cr0, eax
        EXPECT_FAULT "supervisor write, WP = 1", VEC_PF, (PF_P | PF_W), "mov dword ptr [TEST_VA + 4], 0x4444"
        CHECK_EQ "value", [PHYS_A + 4], 0x3333
        ret

        .section .bss
        .p2align 12
pd32:           .skip 4096
pt_identity:    .skip 8192
pt_test:        .skip 4096
pd_pae0:        .skip 4096
pd_pae1:        .skip 4096
pt_pae:         .skip 4096
        .p2align 5
pdpt:           .skip 32

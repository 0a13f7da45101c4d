# A multiboot guest for tsqemu's virtio end-to-end tests: a polling virtio-blk driver (virtio 1.2, sections 4.2
# and 5.2) on the first virtio-mmio window of tsqemu's pc machine, 0xFEB00000. It reads sector 0 and prints it as a
# NUL-terminated string, writes "written by the guest" to sector 1, flushes, and prints each request's status on
# COM1:
#     sector0=<text>
#     write=<status digit>
#     flush=<status digit>
# then exits through isa-debug-exit (port 0xF4) with the OR of the statuses (exit status 1 when all were OK).
# No interrupts: it polls the used ring. Built by test/virtio-guest.ts with GNU as and ld, loaded at 1 MiB.
        .intel_syntax noprefix
        .code32

        .set MMIO, 0xfeb00000
        .set MAGIC, 0x000
        .set DEVICE_ID, 0x008
        .set DEVICE_FEATURES, 0x010
        .set DEVICE_FEATURES_SEL, 0x014
        .set DRIVER_FEATURES, 0x020
        .set DRIVER_FEATURES_SEL, 0x024
        .set QUEUE_SEL, 0x030
        .set QUEUE_NUM, 0x038
        .set QUEUE_READY, 0x044
        .set QUEUE_NOTIFY, 0x050
        .set INTERRUPT_ACK, 0x064
        .set STATUS_REG, 0x070
        .set QUEUE_DESC, 0x080
        .set QUEUE_DRIVER, 0x090
        .set QUEUE_DEVICE, 0x0a0

        # The queue (8 entries) and the buffers, in RAM above the image.
        .set QUEUE_SIZE, 8
        .set DESC, 0x300000
        .set AVAIL, 0x300080
        .set USED, 0x301000
        .set HEADER, 0x302000
        .set STATUS, 0x302100
        .set READ_BUFFER, 0x302200
        .set WRITE_BUFFER, 0x302400

        .set VIRTQ_DESC_F_NEXT, 1
        .set VIRTQ_DESC_F_WRITE, 2
        .set VIRTIO_BLK_T_IN, 0
        .set VIRTIO_BLK_T_OUT, 1
        .set VIRTIO_BLK_T_FLUSH, 4

        .text
        .global _start
multiboot_header:
        .long 0x1badb002
        .long 0x00010000                        # the a.out kludge: the addresses below are valid
        .long -(0x1badb002 + 0x00010000)
        .long multiboot_header                  # header_addr
        .long multiboot_header                  # load_addr
        .long load_end                          # load_end_addr
        .long 0                                 # bss_end_addr: no bss
        .long _start                            # entry_addr

_start:
        cli
        mov esp, 0x90000
        mov ebx, MMIO
        cmp dword ptr [ebx + MAGIC], 0x74726976 # "virt"
        jne no_device
        cmp dword ptr [ebx + DEVICE_ID], 2      # block
        jne no_device

        # Reset, then ACKNOWLEDGE | DRIVER; accept VIRTIO_F_VERSION_1 (bit 32) and nothing else.
        mov dword ptr [ebx + STATUS_REG], 0
        mov dword ptr [ebx + STATUS_REG], 3
        mov dword ptr [ebx + DEVICE_FEATURES_SEL], 1
        test dword ptr [ebx + DEVICE_FEATURES], 1
        jz no_device
        mov dword ptr [ebx + DRIVER_FEATURES_SEL], 0
        mov dword ptr [ebx + DRIVER_FEATURES], 0
        mov dword ptr [ebx + DRIVER_FEATURES_SEL], 1
        mov dword ptr [ebx + DRIVER_FEATURES], 1
        mov dword ptr [ebx + STATUS_REG], 0xb   # | FEATURES_OK
        test dword ptr [ebx + STATUS_REG], 8
        jz no_device

        # The rings start zeroed.
        mov edi, DESC
        mov ecx, (USED + 0x1000 - DESC) / 4
        xor eax, eax
        rep stosd
        mov dword ptr [ebx + QUEUE_SEL], 0
        mov dword ptr [ebx + QUEUE_NUM], QUEUE_SIZE
        mov dword ptr [ebx + QUEUE_DESC], DESC
        mov dword ptr [ebx + QUEUE_DESC + 4], 0
        mov dword ptr [ebx + QUEUE_DRIVER], AVAIL
        mov dword ptr [ebx + QUEUE_DRIVER + 4], 0
        mov dword ptr [ebx + QUEUE_DEVICE], USED
        mov dword ptr [ebx + QUEUE_DEVICE + 4], 0
        mov dword ptr [ebx + QUEUE_READY], 1
        mov dword ptr [ebx + STATUS_REG], 0xf   # | DRIVER_OK

        xor ebp, ebp                            # the OR of the statuses

        # Sector 0 into READ_BUFFER, printed up to its first NUL (at most 511 bytes).
        mov eax, VIRTIO_BLK_T_IN
        xor edx, edx
        mov esi, READ_BUFFER
        mov ecx, VIRTQ_DESC_F_WRITE
        call request
        or ebp, eax
        mov byte ptr [READ_BUFFER + 511], 0
        mov esi, offset sector0_label
        call print
        mov esi, READ_BUFFER
        call print
        mov esi, offset newline
        call print

        # Sector 1 from WRITE_BUFFER: the message, then zeroes.
        mov edi, WRITE_BUFFER
        mov ecx, 128
        xor eax, eax
        rep stosd
        mov esi, offset message
        mov edi, WRITE_BUFFER
copy:   lodsb
        stosb
        test al, al
        jnz copy
        mov eax, VIRTIO_BLK_T_OUT
        mov edx, 1
        mov esi, WRITE_BUFFER
        xor ecx, ecx
        call request
        or ebp, eax
        mov esi, offset write_label
        call print_status

        mov eax, VIRTIO_BLK_T_FLUSH
        xor edx, edx
        xor esi, esi
        call request
        or ebp, eax
        mov esi, offset flush_label
        call print_status

        mov eax, ebp
        out 0xf4, al
halt:   hlt
        jmp halt

no_device:
        mov esi, offset no_device_text
        call print
        mov al, 0x7f
        out 0xf4, al
        jmp halt

# request: EAX = type, EDX = sector, ESI = a 512-byte data buffer or 0 for none, ECX = the data descriptor's flags
# (VIRTQ_DESC_F_WRITE when the device writes it). Descriptor 0 is the header, 1 the data, 2 the status byte. Notifies
# the device, waits for the used ring to catch up and returns the status byte in EAX.
request:
        mov dword ptr [HEADER], eax
        mov dword ptr [HEADER + 4], 0
        mov dword ptr [HEADER + 8], edx
        mov dword ptr [HEADER + 12], 0
        mov byte ptr [STATUS], 0xff
        mov dword ptr [DESC + 0], HEADER
        mov dword ptr [DESC + 4], 0
        mov dword ptr [DESC + 8], 16
        mov word ptr [DESC + 12], VIRTQ_DESC_F_NEXT
        mov word ptr [DESC + 14], 2             # straight to the status, unless there is data
        test esi, esi
        jz 1f
        mov word ptr [DESC + 14], 1
        mov dword ptr [DESC + 16], esi
        mov dword ptr [DESC + 20], 0
        mov dword ptr [DESC + 24], 512
        or ecx, VIRTQ_DESC_F_NEXT
        mov word ptr [DESC + 28], cx
        mov word ptr [DESC + 30], 2
1:      mov dword ptr [DESC + 32], STATUS
        mov dword ptr [DESC + 36], 0
        mov dword ptr [DESC + 40], 1
        mov word ptr [DESC + 44], VIRTQ_DESC_F_WRITE
        mov word ptr [DESC + 46], 0
        # avail->ring[idx % size] = 0, then idx + 1 (x86 keeps the stores in order).
        movzx eax, word ptr [AVAIL + 2]
        mov edx, eax
        and edx, QUEUE_SIZE - 1
        mov word ptr [AVAIL + 4 + edx * 2], 0
        inc eax
        mov word ptr [AVAIL + 2], ax
        mov dword ptr [ebx + QUEUE_NOTIFY], 0
2:      pause
        cmp word ptr [USED + 2], ax
        jne 2b
        mov dword ptr [ebx + INTERRUPT_ACK], 3
        movzx eax, byte ptr [STATUS]
        ret

# print_status: ESI = a label; prints it, the status in AL as a digit ('0' + AL), and a newline.
print_status:
        push eax
        call print
        pop eax
        add al, '0'
        mov dx, 0x3f8
        out dx, al
        mov esi, offset newline
        call print
        ret

# print: ESI = a NUL-terminated string, to COM1.
print:
        mov dx, 0x3f8
1:      lodsb
        test al, al
        jz 2f
        out dx, al
        jmp 1b
2:      ret

sector0_label:  .asciz "sector0="
write_label:    .asciz "write="
flush_label:    .asciz "flush="
newline:        .asciz "\n"
message:        .asciz "written by the guest"
no_device_text: .asciz "no virtio-blk at 0xfeb00000\n"
        .balign 4
load_end:

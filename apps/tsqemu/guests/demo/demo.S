# tsvmm demo guest: a 64 KiB BIOS-style ROM for a PC in real mode.
#
# The ROM is mapped so that it ends at 4 GiB, and the same 64 KiB is also
# visible at 0xF0000-0xFFFFF. The CPU leaves reset with CS=F000 (base
# FFFF0000) and IP=FFF0, so the reset vector in the last 16 bytes jumps to
# F000:start, after which everything runs from the low alias.
#
# What it does: set up segments and a stack, initialise COM1 (16550A at
# 0x3F8, 115200 8N1, FIFOs on), print a banner and the CPU vendor that CPUID
# reports at run time, then echo every byte received on COM1. 'q' or Ctrl-D
# prints a goodbye line, waits until the transmitter is empty and writes 0 to
# the isa-debug-exit port 0xF4, which ends QEMU with status (0 << 1) | 1 = 1.
#
# Constraints: 8086 and 80386 integer instructions only, so it needs a 386
# or later (the CPUID check uses 32-bit registers; CPUID itself runs only
# after checking that the CPU has it), no FPU, no BIOS calls (there is no
# BIOS: this is the BIOS), no interrupts (the UART is polled).
#
# Assembled by `as --32` directly (no C preprocessor), linked by demo.ld.

        .intel_syntax noprefix
        .code16

# COM1 (16550A) register ports.
        .set COM1,          0x3F8
        .set UART_RBR_THR,  COM1 + 0   # receive buffer / transmit holding (DLAB=0)
        .set UART_DLL,      COM1 + 0   # divisor latch low byte (DLAB=1)
        .set UART_IER,      COM1 + 1   # interrupt enable (DLAB=0)
        .set UART_DLM,      COM1 + 1   # divisor latch high byte (DLAB=1)
        .set UART_FCR,      COM1 + 2   # FIFO control (write only)
        .set UART_LCR,      COM1 + 3   # line control
        .set UART_MCR,      COM1 + 4   # modem control
        .set UART_LSR,      COM1 + 5   # line status

        .set LCR_DLAB,      0x80       # divisor latch access
        .set LCR_8N1,       0x03       # 8 data bits, no parity, 1 stop bit
        .set FCR_ENABLE_CLEAR, 0x07    # enable FIFOs, clear RX and TX FIFOs
        .set MCR_DTR_RTS,   0x03
        .set LSR_DR,        0x01       # a received byte is waiting
        .set LSR_THRE,      0x20       # transmit holding register empty
        .set LSR_TEMT,      0x40       # holding and shift registers both empty

        # 1.8432 MHz crystal / 16 / 115200 baud = 1.
        .set BAUD_DIVISOR,  1

        .set DEBUG_EXIT_PORT, 0xF4     # QEMU isa-debug-exit, iobase=0xf4
        .set ROM_SEGMENT,   0xF000     # the ROM's low alias at 0xF0000
        .set STACK_TOP,     0x8000     # stack grows down from 0000:8000 in low RAM

        .set EFLAGS_ID,     0x00200000 # writable only on CPUs that have CPUID

        # Input that arrives before the FIFOs are on is kept here (segment 0,
        # conventional memory above the real-mode IVT and BIOS data area).
        .set EARLY_INPUT_NEXT,  0x0500 # word: index of the next saved byte to hand out
        .set EARLY_INPUT_COUNT, 0x0502 # word: number of saved bytes
        .set EARLY_INPUT,       0x0504 # the saved bytes
        .set EARLY_INPUT_SIZE,  64
        # How many LSR reads in a row must find nothing before the input
        # counts as quiet (a few milliseconds in QEMU).
        .set QUIET_POLLS,   0xFFFF

        .set CHAR_CTRL_D,   0x04
        .set CHAR_BS,       0x08
        .set CHAR_LF,       0x0A
        .set CHAR_CR,       0x0D
        .set CHAR_DEL,      0x7F

        .text
        .globl start
start:
        cli                             # no interrupts, ever: nothing handles them
        cld                             # string instructions walk upwards

        # Data (the strings) lives in the ROM, so DS = CS; the stack lives in RAM.
        mov     ax, ROM_SEGMENT
        mov     ds, ax
        xor     ax, ax
        mov     es, ax
        mov     ss, ax
        mov     sp, STACK_TOP

        call    uart_init

        mov     si, offset banner_text
        call    put_string
        call    put_cpu_vendor
        mov     si, offset usage_text
        call    put_string
        mov     si, offset prompt_text
        call    put_string

        xor     di, di                  # DI counts the bytes received

echo_loop:
        call    get_char
        inc     di
        cmp     al, 'q'
        je      quit_after_echo
        cmp     al, CHAR_CTRL_D
        je      quit
        cmp     al, CHAR_CR             # Enter on a terminal
        je      echo_newline
        cmp     al, CHAR_LF             # newline from a pipe or file
        je      echo_newline
        cmp     al, CHAR_DEL            # Backspace on most terminals
        je      echo_rubout
        cmp     al, CHAR_BS
        je      echo_rubout
        call    put_char
        jmp     echo_loop

echo_newline:
        call    put_newline
        mov     si, offset prompt_text
        call    put_string
        jmp     echo_loop

echo_rubout:
        # Back up, blank the character, back up again.
        mov     si, offset rubout_text
        call    put_string
        jmp     echo_loop

quit_after_echo:
        call    put_char                # echo the 'q' itself
quit:
        mov     si, offset goodbye_text
        call    put_string
        mov     ax, di
        call    put_decimal
        mov     si, offset goodbye_end_text
        call    put_string

        # Let the last bit leave the shift register before the machine goes away.
        mov     dx, UART_LSR
wait_transmitter_empty:
        in      al, dx
        test    al, LSR_TEMT
        jz      wait_transmitter_empty

        xor     al, al                  # exit code 0 -> QEMU exits with (0 << 1) | 1
        out     DEBUG_EXIT_PORT, al

        # Without isa-debug-exit the write goes nowhere; stop here quietly.
halt_forever:
        hlt
        jmp     halt_forever

# ---------------------------------------------------------------------------
# uart_init: COM1 to 115200 baud, 8N1, FIFOs on, no interrupts.
# Clobbers AX, BX, CX, DX.
uart_init:
        mov     dx, UART_IER
        xor     al, al
        out     dx, al                  # polled: no UART interrupts

        mov     dx, UART_LCR
        mov     al, LCR_DLAB
        out     dx, al                  # expose the divisor latch
        mov     dx, UART_DLL
        mov     al, BAUD_DIVISOR & 0xFF
        out     dx, al
        mov     dx, UART_DLM
        mov     al, BAUD_DIVISOR >> 8
        out     dx, al
        mov     dx, UART_LCR
        mov     al, LCR_8N1             # also clears DLAB
        out     dx, al

        mov     dx, UART_MCR
        mov     al, MCR_DTR_RTS
        out     dx, al

        call    save_early_input
        mov     dx, UART_FCR
        mov     al, FCR_ENABLE_CLEAR
        out     dx, al
        ret

# save_early_input: switching the FIFOs on empties the receive side, which
# would drop input that arrived while the CPU was still starting (piped
# input, say). Without FIFOs the UART holds one byte at a time, so read
# bytes into EARLY_INPUT until the line has been quiet for QUIET_POLLS
# reads (or the buffer is full); get_char hands them out first.
# Clobbers AX, BX, CX, DX.
save_early_input:
        xor     bx, bx                  # bytes saved so far
        mov     word ptr es:[EARLY_INPUT_NEXT], bx
save_early_input_quiet_again:
        mov     cx, QUIET_POLLS
save_early_input_poll:
        mov     dx, UART_LSR
        in      al, dx
        test    al, LSR_DR
        jnz     save_early_input_take
        loop    save_early_input_poll
        jmp     save_early_input_done
save_early_input_take:
        mov     dx, UART_RBR_THR
        in      al, dx
        mov     es:[bx + EARLY_INPUT], al
        inc     bx
        cmp     bx, EARLY_INPUT_SIZE
        jb      save_early_input_quiet_again
save_early_input_done:
        mov     word ptr es:[EARLY_INPUT_COUNT], bx
        ret

# get_char: return the next input byte in AL: first the bytes that
# save_early_input kept, then whatever the UART receives (waiting for it).
# Clobbers nothing else.
get_char:
        push    bx
        mov     bx, es:[EARLY_INPUT_NEXT]
        cmp     bx, es:[EARLY_INPUT_COUNT]
        jae     get_char_from_uart
        mov     al, es:[bx + EARLY_INPUT]
        inc     bx
        mov     es:[EARLY_INPUT_NEXT], bx
        pop     bx
        ret
get_char_from_uart:
        pop     bx
        push    dx
        mov     dx, UART_LSR
get_char_wait:
        in      al, dx
        test    al, LSR_DR
        jz      get_char_wait
        mov     dx, UART_RBR_THR
        in      al, dx
        pop     dx
        ret

# put_char: send AL once the transmit holding register has room.
# Preserves all registers.
put_char:
        push    dx
        push    ax
        mov     ah, al
        mov     dx, UART_LSR
put_char_wait:
        in      al, dx
        test    al, LSR_THRE
        jz      put_char_wait
        mov     al, ah
        mov     dx, UART_RBR_THR
        out     dx, al
        pop     ax
        pop     dx
        ret

# put_newline: send CR LF. Preserves all registers.
put_newline:
        push    ax
        mov     al, CHAR_CR
        call    put_char
        mov     al, CHAR_LF
        call    put_char
        pop     ax
        ret

# put_string: send the NUL-terminated string at DS:SI. Clobbers SI.
put_string:
        push    ax
put_string_next:
        lodsb
        test    al, al
        jz      put_string_done
        call    put_char
        jmp     put_string_next
put_string_done:
        pop     ax
        ret

# put_decimal: send AX as an unsigned decimal number. Preserves all registers.
put_decimal:
        push    ax
        push    bx
        push    cx
        push    dx
        mov     bx, 10
        xor     cx, cx                  # number of digits pushed
put_decimal_divide:
        xor     dx, dx
        div     bx                      # AX = quotient, DX = next digit (lowest first)
        push    dx
        inc     cx
        test    ax, ax
        jnz     put_decimal_divide
put_decimal_emit:
        pop     ax
        add     al, '0'
        call    put_char
        loop    put_decimal_emit
        pop     dx
        pop     cx
        pop     bx
        pop     ax
        ret

# put_cpu_vendor: print the vendor string CPUID leaf 0 returns on this CPU,
# or say that the CPU has no CPUID instruction. Clobbers EAX, EBX, ECX, EDX, SI.
put_cpu_vendor:
        mov     si, offset cpu_text
        call    put_string

        # A CPU has CPUID exactly when software can toggle EFLAGS.ID.
        pushfd
        pop     eax
        mov     ecx, eax                # original EFLAGS
        xor     eax, EFLAGS_ID
        push    eax
        popfd
        pushfd
        pop     eax
        push    ecx
        popfd                           # put the original EFLAGS back
        xor     eax, ecx
        test    eax, EFLAGS_ID
        jz      put_cpu_vendor_none

        xor     eax, eax
        cpuid                           # vendor string is EBX, EDX, ECX in that order
        mov     si, offset quote_text
        call    put_string
        mov     eax, ebx
        call    put_dword_chars
        mov     eax, edx
        call    put_dword_chars
        mov     eax, ecx
        call    put_dword_chars
        mov     si, offset quote_text
        call    put_string
        call    put_newline
        ret

put_cpu_vendor_none:
        mov     si, offset no_cpuid_text
        call    put_string
        ret

# put_dword_chars: send the four bytes of EAX as characters, lowest byte
# first (the order CPUID packs its vendor string in). Clobbers EAX.
put_dword_chars:
        push    cx
        mov     cx, 4
put_dword_chars_next:
        call    put_char
        shr     eax, 8
        loop    put_dword_chars_next
        pop     cx
        ret

# ---------------------------------------------------------------------------
        .section .rodata
banner_text:
        .ascii  "\r\n"
        .asciz  "tsvmm demo guest: a 64 KiB real-mode ROM driving COM1 by polling\r\n"
cpu_text:
        .asciz  "CPU vendor (from CPUID at run time): "
quote_text:
        .asciz  "\""
no_cpuid_text:
        .asciz  "none, this CPU has no CPUID instruction\r\n"
usage_text:
        .asciz  "Type keys, they are echoed; press q (or Ctrl-D) to quit.\r\n"
prompt_text:
        .asciz  "> "
rubout_text:
        .asciz  "\b \b"
goodbye_text:
        .asciz  "\r\nGoodbye from tsvmm: received "
goodbye_end_text:
        .asciz  " bytes, exiting through isa-debug-exit.\r\n"

# ---------------------------------------------------------------------------
# The reset vector: the CPU fetches its first instruction from FFFF:FFF0
# (physical FFFFFFF0), which the linker script places at ROM offset 0xFFF0.
        .section .reset, "ax"
        .globl reset_vector
reset_vector:
        jmp     ROM_SEGMENT:start       # far jump: EA <start> 00 F0
        .ascii  "tsvmm"                 # marks the ROM in a hex dump
        .balign 16, 0xFF

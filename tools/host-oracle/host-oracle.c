/*
 * host-oracle: runs single x86 instructions natively, in 32-bit user mode, from a given register,
 * flags and memory state, and reports the state afterwards. The cpu-x86 differential fuzzer
 * (tools/src/cpu-fuzz/) runs the same cases on the interpreter and compares.
 *
 * Build: gcc -m32 -O2 -fno-pie -no-pie -o host-oracle host-oracle.c
 *
 * Protocol (little-endian). stdin: a batch of fixed-size cases (struct oracle_case). stdout: first
 * one header (struct oracle_header), then per case one struct oracle_result followed by
 * `change_count` uint32 entries (offset in the data region << 8 | new byte value).
 *
 * Each case: the data region is filled from a xorshift32 generator seeded with `memory_seed` (then
 * the case's pokes are written over it), the
 * code page is filled with INT3 (0xCC) and the instruction placed at CODE_ENTRY. All registers and
 * EFLAGS are loaded and the instruction runs; it ends in a signal: SIGTRAP from the INT3 after it
 * (or at a jump target), or the exception the instruction raised. The signal handler captures the
 * registers from the signal context, including the trap number, and returns to the harness.
 */
#define _GNU_SOURCE
#include <setjmp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/time.h>
#include <ucontext.h>
#include <unistd.h>

#define CODE_BASE 0x10000000u
#define CODE_SIZE 0x1000u
#define CODE_ENTRY (CODE_BASE + 0x800u)
#define DATA_BASE 0x10010000u
#define DATA_SIZE 0x4000u
/*
 * The signal stack, far from the data region: the kernel builds the signal frame at the current ESP
 * when ESP already lies inside it, so a guest ESP there would wreck the frame.
 */
#define SIGNAL_STACK_BASE 0x7fe00000u
#define SIGNAL_STACK_SIZE 0x10000u
#define MAX_CODE 16
#define MAX_POKES 4
#define ORACLE_MAGIC 0x4f524331u /* "ORC1" */
/* Reported as the trap number when a case is still running after CASE_TIMEOUT_US (a loop). */
#define TRAPNO_TIMEOUT 0xffffu
#define CASE_TIMEOUT_US 200000

struct oracle_case {
  uint8_t code[MAX_CODE];
  uint32_t code_length;
  uint32_t regs[8]; /* EAX ECX EDX EBX ESP EBP ESI EDI */
  uint32_t eflags;
  uint32_t memory_seed;
  /* Up to MAX_POKES 32-bit values written over the fill (a return address, a POPF image...). */
  uint32_t poke_count;
  struct {
    uint32_t offset, value;
  } pokes[MAX_POKES];
};

struct oracle_header {
  uint32_t magic;
  uint32_t code_base, code_entry, data_base, data_size;
  uint32_t selectors[6]; /* ES CS SS DS FS GS */
};

struct oracle_result {
  uint32_t signal;
  uint32_t trapno;
  uint32_t error_code;
  uint32_t fault_address;
  uint32_t eip;
  uint32_t regs[8];
  uint32_t eflags;
  uint32_t change_count;
};

/* The register image the entry stub loads: EAX ECX EDX EBX ESP EBP ESI EDI EFLAGS. */
uint32_t guest_state[9];
uint32_t guest_entry = CODE_ENTRY;

void enter_guest(void);
__asm__(
    ".text\n"
    ".globl enter_guest\n"
    "enter_guest:\n"
    "  pushl guest_state+32\n"
    "  popfl\n"
    "  movl guest_state+4, %ecx\n"
    "  movl guest_state+8, %edx\n"
    "  movl guest_state+12, %ebx\n"
    "  movl guest_state+20, %ebp\n"
    "  movl guest_state+24, %esi\n"
    "  movl guest_state+28, %edi\n"
    "  movl guest_state+16, %esp\n"
    "  movl guest_state+0, %eax\n"
    "  jmp *guest_entry\n");

static sigjmp_buf harness_context;
static struct oracle_result current;

static void on_signal(int signal, siginfo_t *info, void *context) {
  ucontext_t *uc = (ucontext_t *)context;
  greg_t *g = uc->uc_mcontext.gregs;
  current.signal = (uint32_t)signal;
  current.trapno = signal == SIGALRM ? TRAPNO_TIMEOUT : (uint32_t)g[REG_TRAPNO];
  current.error_code = (uint32_t)g[REG_ERR];
  current.fault_address = (uint32_t)(uintptr_t)info->si_addr;
  current.eip = (uint32_t)g[REG_EIP];
  current.regs[0] = (uint32_t)g[REG_EAX];
  current.regs[1] = (uint32_t)g[REG_ECX];
  current.regs[2] = (uint32_t)g[REG_EDX];
  current.regs[3] = (uint32_t)g[REG_EBX];
  current.regs[4] = (uint32_t)g[REG_UESP];
  current.regs[5] = (uint32_t)g[REG_EBP];
  current.regs[6] = (uint32_t)g[REG_ESI];
  current.regs[7] = (uint32_t)g[REG_EDI];
  current.eflags = (uint32_t)g[REG_EFL];
  siglongjmp(harness_context, 1);
}

/* The same generator as the TypeScript side (xorshift32), four bytes per step. */
static void fill_memory(uint8_t *bytes, uint32_t size, uint32_t seed) {
  uint32_t x = seed != 0 ? seed : 0x9e3779b9u;
  for (uint32_t i = 0; i < size; i += 4) {
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    memcpy(bytes + i, &x, 4);
  }
}

static uint16_t read_selector(int which) {
  uint16_t s = 0;
  switch (which) {
    case 0: __asm__ volatile("movw %%es, %0" : "=r"(s)); break;
    case 1: __asm__ volatile("movw %%cs, %0" : "=r"(s)); break;
    case 2: __asm__ volatile("movw %%ss, %0" : "=r"(s)); break;
    case 3: __asm__ volatile("movw %%ds, %0" : "=r"(s)); break;
    case 4: __asm__ volatile("movw %%fs, %0" : "=r"(s)); break;
    default: __asm__ volatile("movw %%gs, %0" : "=r"(s)); break;
  }
  return s;
}

__attribute__((noinline)) static int read_all(FILE *in, uint8_t **data, size_t *length) {
  size_t capacity = 1 << 20, used = 0;
  uint8_t *buffer = malloc(capacity);
  if (buffer == NULL) return -1;
  for (;;) {
    if (used == capacity) {
      capacity *= 2;
      uint8_t *grown = realloc(buffer, capacity);
      if (grown == NULL) return -1;
      buffer = grown;
    }
    size_t n = fread(buffer + used, 1, capacity - used, in);
    if (n == 0) break;
    used += n;
  }
  *data = buffer;
  *length = used;
  return 0;
}

int main(void) {
  uint8_t *code = mmap((void *)CODE_BASE, CODE_SIZE, PROT_READ | PROT_WRITE | PROT_EXEC,
                       MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
  uint8_t *data = mmap((void *)DATA_BASE, DATA_SIZE, PROT_READ | PROT_WRITE,
                       MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
  if (code != (uint8_t *)CODE_BASE || data != (uint8_t *)DATA_BASE) {
    fprintf(stderr, "host-oracle: cannot map the code page and data region at their fixed addresses\n");
    return 2;
  }
  void *alternate_stack = mmap((void *)SIGNAL_STACK_BASE, SIGNAL_STACK_SIZE, PROT_READ | PROT_WRITE,
                               MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
  if (alternate_stack != (void *)SIGNAL_STACK_BASE) {
    fprintf(stderr, "host-oracle: cannot map the signal stack\n");
    return 2;
  }
  stack_t ss = {.ss_sp = alternate_stack, .ss_size = SIGNAL_STACK_SIZE, .ss_flags = 0};
  if (sigaltstack(&ss, NULL) != 0) {
    perror("host-oracle: sigaltstack");
    return 2;
  }
  struct sigaction action;
  memset(&action, 0, sizeof action);
  action.sa_sigaction = on_signal;
  action.sa_flags = SA_SIGINFO | SA_ONSTACK;
  sigemptyset(&action.sa_mask);
  const int signals[] = {SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGTRAP, SIGALRM};
  for (unsigned i = 0; i < sizeof signals / sizeof signals[0]; i++) sigaction(signals[i], &action, NULL);

  uint8_t *input;
  size_t input_length;
  if (read_all(stdin, &input, &input_length) != 0) {
    fprintf(stderr, "host-oracle: out of memory reading the cases\n");
    return 2;
  }
  if (input_length % sizeof(struct oracle_case) != 0) {
    fprintf(stderr, "host-oracle: input is not a whole number of %u-byte cases\n",
            (unsigned)sizeof(struct oracle_case));
    return 2;
  }
  static char output_buffer[1 << 20];
  setvbuf(stdout, output_buffer, _IOFBF, sizeof output_buffer);
  struct oracle_header header = {ORACLE_MAGIC, CODE_BASE, CODE_ENTRY, DATA_BASE, DATA_SIZE, {0}};
  for (int s = 0; s < 6; s++) header.selectors[s] = read_selector(s);
  fwrite(&header, sizeof header, 1, stdout);

  static uint8_t initial[DATA_SIZE];
  static uint32_t changes[DATA_SIZE];
  size_t count = input_length / sizeof(struct oracle_case);
  for (size_t n = 0; n < count; n++) {
    struct oracle_case c;
    memcpy(&c, input + n * sizeof c, sizeof c);
    fill_memory(initial, DATA_SIZE, c.memory_seed);
    for (uint32_t p = 0; p < c.poke_count && p < MAX_POKES; p++) {
      if (c.pokes[p].offset <= DATA_SIZE - 4) memcpy(initial + c.pokes[p].offset, &c.pokes[p].value, 4);
    }
    memcpy(data, initial, DATA_SIZE);
    memset(code, 0xcc, CODE_SIZE);
    memcpy(code + (CODE_ENTRY - CODE_BASE), c.code, c.code_length > MAX_CODE ? MAX_CODE : c.code_length);
    memcpy(guest_state, c.regs, sizeof c.regs);
    guest_state[8] = c.eflags;
    memset(&current, 0, sizeof current);
    struct itimerval timeout = {{0, 0}, {0, CASE_TIMEOUT_US}};
    struct itimerval disarm = {{0, 0}, {0, 0}};
    if (sigsetjmp(harness_context, 1) == 0) {
      setitimer(ITIMER_REAL, &timeout, NULL);
      enter_guest();
    }
    setitimer(ITIMER_REAL, &disarm, NULL);
    uint32_t change_count = 0;
    for (uint32_t i = 0; i < DATA_SIZE; i++) {
      if (data[i] != initial[i]) changes[change_count++] = (i << 8) | data[i];
    }
    current.change_count = change_count;
    fwrite(&current, sizeof current, 1, stdout);
    fwrite(changes, sizeof(uint32_t), change_count, stdout);
  }
  fflush(stdout);
  return 0;
}

#!/usr/bin/env bash
# Opt-in check that the built-in demo ROM really works on a reference machine: boots
# apps/tsqemu/guests/demo.rom in QEMU (qemu-system-i386, Debian package qemu-system-x86),
# types into its serial port, and compares what comes back. Exits non-zero on any mismatch.
# Usage: tools/run-demo-in-qemu.sh [rom]   (default: the committed apps/tsqemu/guests/demo.rom)
set -euo pipefail

repo_root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
rom=${1:-$repo_root/apps/tsqemu/guests/demo.rom}

if ! command -v qemu-system-i386 >/dev/null 2>&1; then
  echo "skipped: qemu-system-i386 not installed (apt-get install -y qemu-system-x86)"
  exit 0
fi
if ! command -v timeout >/dev/null 2>&1; then
  echo "skipped: timeout (coreutils) not installed"
  exit 0
fi

work_dir=$(mktemp -d)
trap 'rm -rf "$work_dir"' EXIT
failures=0

# run_demo NAME INPUT [extra qemu args...]: boots the ROM with INPUT (printf format) on COM1;
# leaves stdout in $work_dir/NAME.out, stderr in NAME.err and the exit status in $status.
run_demo() {
  local name=$1 input=$2
  shift 2
  set +e
  # shellcheck disable=SC2059 # the input is a printf format on purpose (\r, \x04, ...)
  printf "$input" | timeout 30 qemu-system-i386 "$@" -bios "$rom" -nographic -serial stdio \
    -device isa-debug-exit,iobase=0xf4,iosize=0x04 -display none -monitor none \
    >"$work_dir/$name.out" 2>"$work_dir/$name.err"
  status=$?
  set -e
}

fail() {
  local name=$1 why=$2
  echo "FAIL $name: $why"
  echo "--- guest output (cat -A) ---"
  cat -A "$work_dir/$name.out"
  echo "--- qemu stderr ---"
  cat "$work_dir/$name.err"
  failures=$((failures + 1))
}

# isa-debug-exit turns the guest's `out 0xf4, 0` into QEMU exit status (0 << 1) | 1 = 1.
expect_exit_status() {
  local name=$1
  if [ "$status" -eq 124 ]; then
    fail "$name" "QEMU still running after 30 s (the guest never wrote to port 0xf4)"
    return 1
  elif [ "$status" -ne 1 ]; then
    fail "$name" "QEMU exit status $status, expected 1 ((0 << 1) | 1 from isa-debug-exit)"
    return 1
  fi
}

expect_contains() {
  local name=$1 needle=$2
  if ! grep -qaF -- "$needle" "$work_dir/$name.out"; then
    fail "$name" "output lacks: $(printf '%q' "$needle")"
    return 1
  fi
}

# 1. The command from the README, with whatever CPU QEMU picks: banner, echo, goodbye, status.
cr=$'\r'
run_demo default 'hello q'
if expect_exit_status default &&
  expect_contains default "tsvmm demo guest" &&
  expect_contains default "CPU vendor (from CPUID at run time): \"" &&
  expect_contains default "Type keys, they are echoed; press q (or Ctrl-D) to quit." &&
  expect_contains default "> hello q$cr" &&
  expect_contains default "Goodbye from tsvmm: received 7 bytes, exiting through isa-debug-exit."; then
  echo "ok   default: banner, echo of 'hello q', goodbye, exit status 1"
fi

# 2. A CPU whose vendor string we choose, so the whole transcript is known byte for byte:
#    the vendor line must be what CPUID returned, CR and LF become CR LF, DEL rubs out, Ctrl-D quits.
run_demo transcript 'ab\rc\nd\x7fe\x04' -cpu qemu32,vendor=TsvmmTestCPU
printf '%s\r\n' \
  "" \
  "tsvmm demo guest: a 64 KiB real-mode ROM driving COM1 by polling" \
  "CPU vendor (from CPUID at run time): \"TsvmmTestCPU\"" \
  "Type keys, they are echoed; press q (or Ctrl-D) to quit." \
  "> ab" \
  "> c" \
  $'> d\b \be' \
  "Goodbye from tsvmm: received 9 bytes, exiting through isa-debug-exit." >"$work_dir/transcript.expected"
if expect_exit_status transcript; then
  if cmp -s "$work_dir/transcript.expected" "$work_dir/transcript.out"; then
    echo "ok   transcript: CPUID vendor read at run time, CR/LF/DEL handling, Ctrl-D quits"
  else
    fail transcript "transcript differs from expected (diff below)"
    diff <(cat -A "$work_dir/transcript.expected") <(cat -A "$work_dir/transcript.out") || true
  fi
fi

if [ "$failures" -ne 0 ]; then
  echo "run-demo-in-qemu: $failures check(s) failed"
  exit 1
fi
echo "run-demo-in-qemu: all checks passed ($(qemu-system-i386 --version | head -n 1))"

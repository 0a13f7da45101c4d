#!/usr/bin/env bash
# Opt-in check that the Linux test guests really boot on the reference machine (QEMU, Debian package
# qemu-system-x86). Builds them first if needed (pnpm guests:linux), then for each architecture:
#   shell:    boots to the boot marker and the prompt, types `echo answer=$((6*7))`, expects answer=42,
#             types `exit` and expects the guest to end QEMU by itself (a reset under -no-reboot);
#   workload: boots with no input and expects the workload to finish, pass its own checks and end QEMU.
# Prints the wall-clock seconds from starting QEMU to the boot marker. Exits non-zero on any failure.
# Usage: tools/linux-guests/check-in-qemu.sh [i386|amd64]...   (default: both)
set -euo pipefail

repo_root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
arches=("$@")
[ ${#arches[@]} -eq 0 ] && arches=(i386 amd64)

for tool in qemu-system-i386 qemu-system-x86_64; do
  if ! command -v "$tool" >/dev/null 2>&1; then
    echo "skipped: $tool not installed (apt-get install -y qemu-system-x86)"
    exit 0
  fi
done

work_dir=$(mktemp -d)
qemu_pid=""
cleanup() {
  if [ -n "$qemu_pid" ]; then kill "$qemu_pid" 2>/dev/null || true; fi
  rm -rf "$work_dir"
}
trap cleanup EXIT
failures=0

# manifest_fields MANIFEST FIELD...: prints each (dotted) field of a guest manifest on its own line.
manifest_fields() {
  node -e '
    const manifest = JSON.parse(require("node:fs").readFileSync(process.argv[1], "utf8"));
    for (const field of process.argv.slice(2)) console.log(field.split(".").reduce((value, key) => value[key], manifest));
  ' "$@"
}

# guest_manifest ARCH VARIANT: builds the guest if needed and prints its manifest path.
guest_manifest() {
  (cd "$repo_root" && node --import tsx tools/src/linux-guests/cli.ts --arch "$1" --variant "$2")
}

now_ns() { date +%s%N; }
seconds_since() { awk -v start="$1" -v now="$(now_ns)" 'BEGIN { printf "%.2f", (now - start) / 1e9 }'; }

# wait_for FILE TEXT SECONDS: waits until FILE contains TEXT; fails if QEMU exits or time runs out.
wait_for() {
  local file=$1 text=$2 deadline=$(($(date +%s) + $3))
  while ! grep -qaF -- "$text" "$file"; do
    if [ "$(date +%s)" -ge "$deadline" ]; then return 1; fi
    if [ -n "$qemu_pid" ] && ! kill -0 "$qemu_pid" 2>/dev/null; then
      grep -qaF -- "$text" "$file"
      return
    fi
    sleep 0.02
  done
}

fail() {
  local name=$1 why=$2 output=$3
  echo "FAIL $name: $why"
  echo "--- last 40 lines of the console (cat -A) ---"
  tail -n 40 "$output" | cat -A
  failures=$((failures + 1))
}

check_shell() {
  local arch=$1 name="$1 shell" manifest kernel initrd qemu cmdline marker prompt
  manifest=$(guest_manifest "$arch" shell)
  { read -r kernel; read -r initrd; read -r qemu; read -r cmdline; read -r marker; read -r prompt; } < <(
    manifest_fields "$manifest" kernel initrd qemu cmdline markers.boot prompt
  )
  local input="$work_dir/$arch-shell.in" output="$work_dir/$arch-shell.out"
  mkfifo "$input"
  local start
  start=$(now_ns)
  "$qemu" -kernel "$kernel" -initrd "$initrd" -append "$cmdline" -nographic -m 256M -no-reboot \
    <"$input" >"$output" 2>&1 &
  qemu_pid=$!
  exec 3>"$input"

  local result=ok boot_seconds=""
  if ! wait_for "$output" "$marker" 120; then
    result="no boot marker ($marker) within 120 s"
  else
    boot_seconds=$(seconds_since "$start")
    if ! wait_for "$output" "$prompt" 30; then
      result="no shell prompt ($prompt) within 30 s of the marker"
    else
      # Typed like a person at a serial terminal: Enter sends CR. The echo of what we type shows
      # `$((6*7))`, so only the shell's own output can contain answer=42.
      printf 'echo answer=$((6*7))\r' >&3
      if ! wait_for "$output" "answer=42" 30; then
        result="typed 'echo answer=\$((6*7))' but no answer=42 within 30 s"
      else
        printf 'exit\r' >&3
      fi
    fi
  fi
  exec 3>&-

  local status=0
  if [ "$result" = ok ]; then
    local deadline=$(($(date +%s) + 30))
    while kill -0 "$qemu_pid" 2>/dev/null && [ "$(date +%s)" -lt "$deadline" ]; do sleep 0.1; done
    if kill -0 "$qemu_pid" 2>/dev/null; then
      result="QEMU still running 30 s after 'exit' (the guest did not reset)"
    else
      wait "$qemu_pid" || status=$?
      [ "$status" -eq 0 ] || result="QEMU exit status $status"
    fi
  fi
  if [ "$result" != ok ]; then
    kill "$qemu_pid" 2>/dev/null || true
    wait "$qemu_pid" 2>/dev/null || true
    qemu_pid=""
    fail "$name" "$result" "$output"
    return
  fi
  qemu_pid=""
  echo "ok   $name: boot marker after ${boot_seconds} s (wall clock from QEMU start), answered 42, ended QEMU on exit"
}

check_workload() {
  local arch=$1 name="$1 workload" manifest kernel initrd qemu cmdline marker done_marker
  manifest=$(guest_manifest "$arch" workload)
  { read -r kernel; read -r initrd; read -r qemu; read -r cmdline; read -r marker; read -r done_marker; } < <(
    manifest_fields "$manifest" kernel initrd qemu cmdline markers.boot markers.workloadDone
  )
  local output="$work_dir/$arch-workload.out" status=0 start
  start=$(now_ns)
  timeout 180 "$qemu" -kernel "$kernel" -initrd "$initrd" -append "$cmdline" -nographic -m 256M -no-reboot \
    </dev/null >"$output" 2>&1 || status=$?
  local seconds
  seconds=$(seconds_since "$start")
  if [ "$status" -eq 124 ]; then
    fail "$name" "QEMU still running after 180 s (the guest did not end the run)" "$output"
  elif [ "$status" -ne 0 ]; then
    fail "$name" "QEMU exit status $status" "$output"
  elif ! grep -qaF -- "$marker" "$output"; then
    fail "$name" "no boot marker ($marker)" "$output"
  elif ! grep -qaF -- "$done_marker ok" "$output"; then
    fail "$name" "no '$done_marker ok' line (a step failed or the workload did not finish)" "$output"
  else
    echo "ok   $name: finished and ended QEMU by itself in ${seconds} s; guest timings:"
    grep -aF "TSVMM-TIMING" "$output" | tr -d '\r' | sed 's/^/       /'
  fi
}

for arch in "${arches[@]}"; do
  case "$arch" in
  i386 | amd64) ;;
  *)
    echo "usage: $0 [i386|amd64]..." >&2
    exit 2
    ;;
  esac
  check_shell "$arch"
  check_workload "$arch"
done

if [ "$failures" -ne 0 ]; then
  echo "check-in-qemu: $failures check(s) failed"
  exit 1
fi
echo "check-in-qemu: all checks passed ($(qemu-system-i386 --version | head -n 1))"

#!/usr/bin/env bash
# Opt-in check of the system test guests (apps/tsqemu/guests/system/*.bin) on a reference machine:
# boots each on QEMU (qemu-system-i386, Debian package qemu-system-x86) and on tsqemu, and compares.
#   - on QEMU, every test passes except those known-differences.txt lists as "qemu" (checks that follow
#     the SDM where QEMU's TCG does not), and those must fail there, so the list stays true;
#   - tsqemu passes the same tests as QEMU, except where known-differences.txt explains why.
# Exits non-zero on any mismatch. Usage: tools/run-system-guests-in-qemu.sh [guest...]
set -euo pipefail

repo_root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
guests_dir="$repo_root/apps/tsqemu/guests/system"
differences="$guests_dir/known-differences.txt"

if ! command -v qemu-system-i386 >/dev/null 2>&1; then
  echo "skipped: qemu-system-i386 not installed (apt-get install -y qemu-system-x86)"
  exit 0
fi
if ! command -v timeout >/dev/null 2>&1; then
  echo "skipped: timeout (coreutils) not installed"
  exit 0
fi

# tsqemu's CPU has NX: give QEMU's qemu32 model NX too, so the PAE NX tests run on both.
qemu_cpu=qemu32,+nx
common_args=(-m 32M -serial stdio -display none -device isa-debug-exit,iobase=0xf4,iosize=0x04 -no-reboot)

work_dir=$(mktemp -d)
trap 'rm -rf "$work_dir"' EXIT
failures=0

# listed KIND GUEST/TEST: whether known-differences.txt has that line.
listed() {
  grep -q "^$1 $2 " "$differences"
}

# declared GUEST: the test names the guest's source declares, one per line.
declared() {
  sed -n 's/^TESTCASE[[:space:]]*[A-Za-z0-9_]*[[:space:]]*,[[:space:]]*"\([^"]*\)".*/\1/p' "$guests_dir/$1.S"
}

# verdicts FILE: "name VERDICT" per test in a guest's output (FAIL wins over PASS/SKIP lines).
verdicts() {
  awk '/^(PASS|FAIL|SKIP) / { name = $2; sub(/:$/, "", name); v = $1;
         if (!(name in seen) || v == "FAIL") seen[name] = v }
       END { for (n in seen) print n, seen[n] }' "$1" | sort
}

verdict_of() {
  awk -v name="$2" '$1 == name { print $2 }' "$1"
}

mismatch() {
  echo "MISMATCH $1"
  failures=$((failures + 1))
}

can_run_tsqemu=1
if ! (cd "$repo_root" && node --conditions=source --import tsx -e "" >/dev/null 2>&1); then
  can_run_tsqemu=0
  echo "note: cannot run tsqemu from source here (node with tsx: run pnpm install); comparing with QEMU only"
fi

guests=("$@")
if [ ${#guests[@]} -eq 0 ]; then
  for source in "$guests_dir"/*.S; do
    name=$(basename "$source" .S)
    [ "$name" = runtime ] || guests+=("$name")
  done
fi

for guest in "${guests[@]}"; do
  image="$guests_dir/$guest.bin"
  set +e
  timeout 120 qemu-system-i386 -cpu "$qemu_cpu" -kernel "$image" "${common_args[@]}" -monitor none \
    >"$work_dir/$guest.qemu" 2>"$work_dir/$guest.qemu.err"
  qemu_status=$?
  set -e
  verdicts "$work_dir/$guest.qemu" >"$work_dir/$guest.qemu.verdicts"

  expected_qemu_status=1
  qemu_pass=0
  qemu_expected_fail=0
  while IFS= read -r test; do
    verdict=$(verdict_of "$work_dir/$guest.qemu.verdicts" "$test")
    if listed qemu "$guest/$test"; then
      expected_qemu_status=3
      if [ "$verdict" = FAIL ]; then
        qemu_expected_fail=$((qemu_expected_fail + 1))
      else
        mismatch "$guest/$test: listed as a QEMU deviation but ${verdict:-missing} on QEMU"
      fi
    elif [ "$verdict" = PASS ] || { [ "$verdict" = SKIP ] && listed skip-ok "$guest/$test"; }; then
      [ "$verdict" = PASS ] && qemu_pass=$((qemu_pass + 1))
    else
      mismatch "$guest/$test: ${verdict:-no result} on QEMU"
      grep -a "^FAIL $test:" "$work_dir/$guest.qemu" | sed 's/^/    /' || true
    fi
  done < <(declared "$guest")
  if ! grep -q "^DONE $guest: " "$work_dir/$guest.qemu"; then
    mismatch "$guest: no DONE line on QEMU (status $qemu_status)"
    sed 's/^/    /' "$work_dir/$guest.qemu" "$work_dir/$guest.qemu.err"
  elif [ "$qemu_status" -ne "$expected_qemu_status" ]; then
    mismatch "$guest: QEMU exit status $qemu_status, expected $expected_qemu_status"
  fi
  summary="$guest: QEMU $qemu_pass PASS, $qemu_expected_fail listed deviations FAIL"

  if [ "$can_run_tsqemu" = 1 ]; then
    set +e
    (cd "$repo_root" && timeout 120 node --conditions=source --import tsx apps/tsqemu/src/main.node.ts \
      -kernel "$image" "${common_args[@]}" -icount shift=0 </dev/null >"$work_dir/$guest.tsqemu" 2>&1)
    set -e
    verdicts "$work_dir/$guest.tsqemu" >"$work_dir/$guest.tsqemu.verdicts"
    tsqemu_pass=0
    while IFS= read -r test; do
      on_qemu=$(verdict_of "$work_dir/$guest.qemu.verdicts" "$test")
      on_tsqemu=$(verdict_of "$work_dir/$guest.tsqemu.verdicts" "$test")
      [ "$on_tsqemu" = PASS ] && tsqemu_pass=$((tsqemu_pass + 1))
      [ "$on_qemu" = "$on_tsqemu" ] && continue
      if [ "$on_qemu" != PASS ] && listed qemu "$guest/$test"; then continue; fi
      if [ "$on_tsqemu" != PASS ] && listed tsqemu "$guest/$test"; then continue; fi
      mismatch "$guest/$test: ${on_qemu:-missing} on QEMU but ${on_tsqemu:-missing} on tsqemu, and known-differences.txt does not say why"
      grep -a "^FAIL $test:" "$work_dir/$guest.tsqemu" | sed 's/^/    tsqemu: /' || true
    done < <(declared "$guest")
    summary="$summary; tsqemu $tsqemu_pass PASS"
  fi
  echo "ok   $summary"
done

if [ "$failures" -ne 0 ]; then
  echo "run-system-guests-in-qemu: $failures mismatch(es)"
  exit 1
fi
echo "run-system-guests-in-qemu: QEMU and tsqemu agree where expected ($(qemu-system-i386 --version | head -n 1))"

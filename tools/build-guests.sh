#!/usr/bin/env bash
# Builds the guest ROMs that tsqemu ships (today: the built-in demo) with the GNU toolchain.
# Usage: tools/build-guests.sh [output-dir]   (default: apps/tsqemu/guests, the committed location)
# The output is deterministic: the same sources give the same bytes on every build.
set -euo pipefail

repo_root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
guests_dir="$repo_root/apps/tsqemu/guests"
out_dir=${1:-$guests_dir}

for tool in as ld; do
  if ! command -v "$tool" >/dev/null 2>&1; then
    echo "build-guests: '$tool' (GNU binutils) is not on PATH; install binutils" >&2
    exit 1
  fi
done

mkdir -p "$out_dir"
work_dir=$(mktemp -d)
trap 'rm -rf "$work_dir"' EXIT

# Demo ROM: 64 KiB, reset vector at offset 0xFFF0.
as --32 -o "$work_dir/demo.o" "$guests_dir/demo/demo.S"
ld -m elf_i386 -T "$guests_dir/demo/demo.ld" --oformat binary -o "$work_dir/demo.rom" "$work_dir/demo.o"

size=$(stat -c %s "$work_dir/demo.rom")
if [ "$size" -ne 65536 ]; then
  echo "build-guests: demo.rom is $size bytes, expected 65536" >&2
  exit 1
fi
chmod 644 "$work_dir/demo.rom"  # ld marks its output executable; a ROM image is data
mv "$work_dir/demo.rom" "$out_dir/demo.rom"
echo "build-guests: wrote $out_dir/demo.rom"

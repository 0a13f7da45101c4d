#!/usr/bin/env bash
# Builds the system test guests (apps/tsqemu/guests/system/*.S, each linked with runtime.S) into flat
# multiboot kernels, <name>.bin, with the GNU toolchain. Deterministic: the same sources give the same bytes.
# Usage: tools/build-system-guests.sh [output-dir]   (default: apps/tsqemu/guests/system, the committed location)
#        TSVMM_GUEST_ELF=1 also keeps <name>.elf (with symbols, for objdump -d -M intel) in the output directory.
set -euo pipefail

repo_root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
source_dir="$repo_root/apps/tsqemu/guests/system"
out_dir=${1:-$source_dir}

for tool in as ld; do
  if ! command -v "$tool" >/dev/null 2>&1; then
    echo "build-system-guests: '$tool' (GNU binutils) is not on PATH; install binutils" >&2
    exit 1
  fi
done

mkdir -p "$out_dir"
work_dir=$(mktemp -d)
trap 'rm -rf "$work_dir"' EXIT

# The images are flat and run with every segment writable and executable: binutils 2.39+ would warn.
ld_flags=(-m elf_i386 --build-id=none -T "$source_dir/guest.ld")
if [[ $(ld --help 2>/dev/null) == *--no-warn-rwx-segments* ]]; then ld_flags+=(--no-warn-rwx-segments); fi

as --32 -I "$source_dir" -o "$work_dir/runtime.o" "$source_dir/runtime.S"
for source in "$source_dir"/*.S; do
  name=$(basename "$source" .S)
  [ "$name" = runtime ] && continue
  as --32 -I "$source_dir" -o "$work_dir/$name.o" "$source"
  ld "${ld_flags[@]}" -o "$work_dir/$name.elf" "$work_dir/runtime.o" "$work_dir/$name.o"
  ld "${ld_flags[@]}" --oformat binary -o "$work_dir/$name.bin" "$work_dir/runtime.o" "$work_dir/$name.o"
  chmod 644 "$work_dir/$name.bin" "$work_dir/$name.elf" # ld marks its output executable; these are images
  mv "$work_dir/$name.bin" "$out_dir/$name.bin"
  if [ "${TSVMM_GUEST_ELF:-0}" = 1 ]; then mv "$work_dir/$name.elf" "$out_dir/$name.elf"; fi
  echo "build-system-guests: wrote $out_dir/$name.bin"
done

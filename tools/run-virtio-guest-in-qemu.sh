#!/usr/bin/env bash
# Reference runs of the virtio Linux guest on QEMU's own virtio devices (opt-in; needs Debian's
# qemu-system-x86 and e2fsprogs): builds the i386 virtio guest if needed, then runs
# src/linux-guests/virtio-qemu.test.ts, which boots it
#   - on the pc machine with virtio-pci devices and on microvm with virtio-mmio devices (ACPI):
#     blk (mount the ext4 /dev/vda, read a file, write files that debugfs reads back on the host),
#     rng (/dev/hwrng), console (/dev/hvc0 both ways) and the direct-I/O benchmark on /dev/vdb;
#   - twice at once per transport, the two VMs pinging each other over -netdev socket.
# Prints every QEMU command line ("qemu: ...") and the figures ("TSVMM-REFERENCE ..."): these are
# what tsqemu's end-to-end tests mirror. About a minute on an idle two-core machine.
# Usage: tools/run-virtio-guest-in-qemu.sh [extra vitest arguments]
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")"

if ! command -v qemu-system-i386 >/dev/null 2>&1; then
  echo "skipped: qemu-system-i386 not installed (apt-get install -y qemu-system-x86)"
  exit 0
fi
(cd .. && node --import tsx tools/src/linux-guests/cli.ts --arch i386 --variant virtio >/dev/null)
TSVMM_QEMU_TESTS=1 exec npx vitest run src/linux-guests/virtio-qemu.test.ts --reporter=verbose "$@"

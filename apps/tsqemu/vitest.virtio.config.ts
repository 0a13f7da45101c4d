// `pnpm test:virtio`: boots Debian's i386 virtio guest on tsqemu's virtio-pci and virtio-mmio devices (slow; not
// part of `pnpm test`).
import { defineProject } from "vitest/config";

export default defineProject({
  resolve: { conditions: ["source"] },
  ssr: { resolve: { conditions: ["source"] } },
  test: {
    name: "tsqemu-virtio",
    include: ["test/virtio-linux.e2e.test.ts"],
    testTimeout: 30 * 60_000,
    hookTimeout: 30 * 60_000,
  },
});

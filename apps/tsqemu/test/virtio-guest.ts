// Builds test/guests/virtio-blk-poll.S (a polling virtio-blk driver, a multiboot kernel loaded at 1 MiB) with GNU as
// and ld, as tools/build-system-guests.sh builds the system guests.
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

const SOURCE = fileURLToPath(new URL("./guests/virtio-blk-poll.S", import.meta.url));

/** The guest image, or why it cannot be built here (no binutils). */
export function buildVirtioBlockGuest(): { image: Uint8Array } | { reason: string } {
  const dir = mkdtempSync(join(tmpdir(), "tsqemu-virtio-guest-"));
  const object = join(dir, "guest.o");
  const image = join(dir, "guest.bin");
  const steps: [string, string[]][] = [
    ["as", ["--32", "-o", object, SOURCE]],
    [
      "ld",
      ["-m", "elf_i386", "--build-id=none", "-Ttext=0x100000", "--oformat", "binary", "-o", image, object],
    ],
  ];
  for (const [tool, args] of steps) {
    const result = spawnSync(tool, args, { encoding: "utf8" });
    if (result.error !== undefined) return { reason: `${tool} is not available (install binutils)` };
    if (result.status !== 0) throw new Error(`${tool} failed: ${result.stderr}`);
  }
  return { image: new Uint8Array(readFileSync(image)) };
}

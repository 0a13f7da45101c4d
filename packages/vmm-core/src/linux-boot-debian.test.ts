// Checks the bzImage header parser and the loader against real Debian kernels, when the Linux test
// guests have been built (`pnpm guests:linux`, which caches them under TSVMM_GUEST_CACHE or
// ~/.cache/tsvmm/guests). Without them the tests skip and say why.
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { homedir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { bareVm } from "./boot-machine.test-support.js";
import { MiB } from "./bzimage.test-support.js";
import { loadLinuxKernel, parseBzImageHeader } from "./index.js";

interface GuestManifest {
  name: string;
  arch: string;
  kernel: string;
  initrd: string;
  kernelVersion: string;
  cmdline: string;
}

function guestCacheDir(): string {
  if (process.env.TSVMM_GUEST_CACHE) return process.env.TSVMM_GUEST_CACHE;
  return join(process.env.XDG_CACHE_HOME || join(homedir(), ".cache"), "tsvmm", "guests");
}

function findGuests(): { guests: GuestManifest[]; reason: string } {
  const dir = guestCacheDir();
  if (!existsSync(dir)) return { guests: [], reason: `no guest cache at ${dir}` };
  const guests: GuestManifest[] = [];
  for (const name of readdirSync(dir)) {
    const manifestPath = join(dir, name, "manifest.json");
    if (!name.startsWith("linux-") || !existsSync(manifestPath)) continue;
    const manifest = JSON.parse(readFileSync(manifestPath, "utf8")) as GuestManifest;
    if (existsSync(manifest.kernel) && existsSync(manifest.initrd)) guests.push(manifest);
  }
  return {
    guests,
    reason: `no Linux guest with a kernel and initrd under ${dir} (build them with pnpm guests:linux)`,
  };
}

/** Compression formats boot.rst lists for the payload, by their magic numbers. */
const PAYLOAD_MAGICS = [
  [0x1f, 0x8b],
  [0x1f, 0x9e],
  [0x42, 0x5a],
  [0x5d, 0x00],
  [0xfd, 0x37],
  [0x02, 0x21],
  [0x28, 0xb5],
];

const { guests, reason } = findGuests();
if (guests.length === 0) console.warn(`linux-boot-debian.test.ts: skipping the real-kernel tests: ${reason}`);

describe.skipIf(guests.length === 0)("Debian kernels from the guest cache", () => {
  for (const guest of guests) {
    describe(guest.name, () => {
      const image = new Uint8Array(readFileSync(guest.kernel));
      const initrd = new Uint8Array(readFileSync(guest.initrd));
      const raw = new DataView(image.buffer, image.byteOffset, image.byteLength);

      it("has the setup header a modern bzImage has", () => {
        const header = parseBzImageHeader(image);
        expect(header.kernelVersion?.startsWith(`${guest.kernelVersion} `)).toBe(true);
        expect(header.version).toBeGreaterThanOrEqual(0x020f); // 2.15 since Linux 5.5
        expect(header.headerEnd).toBe(0x26c);
        expect(header.setupSize).toBe((raw.getUint8(0x1f1) + 1) * 512);
        expect(header.syssizeBytes).toBeLessThanOrEqual(image.length - header.setupSize);
        expect(header.loadflags & 1).toBe(1);
        expect(header.code32Start).toBe(0x100000);
        expect(header.relocatable).toBe(true);
        expect(header.kernelAlignment & (header.kernelAlignment - 1)).toBe(0);
        expect(header.kernelAlignment).toBeGreaterThanOrEqual(1 << header.minAlignment);
        expect(header.cmdlineSize).toBe(2047); // x86's COMMAND_LINE_SIZE is 2048 with the NUL
        expect(header.initrdAddrMax).toBe(0x7fffffff);
        expect(header.prefAddress).toBe(0x1000000); // Debian keeps CONFIG_PHYSICAL_START at 16 MiB
        expect(header.initSize).toBeGreaterThanOrEqual(header.protectedModeSize);
        expect(header.xloadflags & 1).toBe(guest.arch === "amd64" ? 1 : 0); // XLF_KERNEL_64
      });

      it("loads with its initrd and command line where the protocol allows", () => {
        const ramSize = 128 * MiB;
        const { vm, vcpu, ram } = bareVm(ramSize);
        const placement = loadLinuxKernel(vm, vcpu, {
          kernel: image,
          initrd,
          cmdline: guest.cmdline,
          ramSize,
        });
        const header = placement.header;
        expect(placement.kernel.start).toBe(header.prefAddress);
        expect(placement.kernelRuntime).toEqual({ start: 0x1000000, end: 0x1000000 + header.initSize });
        const initrdStart = Math.floor((ramSize - initrd.length) / 4096) * 4096;
        expect(placement.initrd).toEqual({ start: initrdStart, end: initrdStart + initrd.length });
        expect(initrdStart).toBeGreaterThanOrEqual(placement.kernelRuntime.end);

        // The compressed payload sits where payload_offset says, relative to the loaded protected-mode code.
        const payload = placement.kernel.start + raw.getUint32(0x248, true);
        expect(PAYLOAD_MAGICS).toContainEqual([ram[payload], ram[payload + 1]]);
        // Buffer.equals: vitest's deep equality walks megabytes element by element.
        const loaded = Buffer.from(
          ram.buffer,
          placement.kernel.start,
          placement.kernel.end - placement.kernel.start,
        );
        expect(loaded.equals(image.subarray(header.setupSize))).toBe(true);
        expect(Buffer.from(ram.buffer, initrdStart, initrd.length).equals(initrd)).toBe(true);
        const zeroPage = new DataView(ram.buffer, 0x7000, 0x1000);
        expect(zeroPage.getUint32(0x218, true)).toBe(initrdStart);
        expect(zeroPage.getUint32(0x21c, true)).toBe(initrd.length);
        expect(new TextDecoder().decode(ram.subarray(0x20000, 0x20000 + guest.cmdline.length))).toBe(
          guest.cmdline,
        );
        expect(vcpu.getRegs().rip).toBe(0x1000000);
      });
    });
  }
});

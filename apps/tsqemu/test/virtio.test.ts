// End to end: virtio devices from QEMU's flags, run as a process. A polling virtio-blk guest (test/guests) reads
// and writes a raw image through virtio-mmio (with -snapshot and readonly=on too); a Linux-protocol kernel shows the
// virtio_mmio.device= parameters tsqemu appends; socket backends live as long as the VM; bad flags fail as in QEMU.
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { runTsqemu, startTsqemu } from "./run-tsqemu.js";
import { rebootingBzImage } from "./test-kernels.js";
import { buildVirtioBlockGuest } from "./virtio-guest.js";

const SECTOR = 512;
const EXIT_DEVICE = ["-device", "isa-debug-exit,iobase=0xf4,iosize=1"];
const guest = buildVirtioBlockGuest();
if ("reason" in guest) console.warn(`virtio.test.ts: skipping the virtio-blk guest: ${guest.reason}`);

function workDir(): string {
  return mkdtempSync(join(tmpdir(), "tsqemu-virtio-"));
}

/** A 64 KiB raw image: sector 0 holds a NUL-terminated greeting, sector 1 a pattern the guest overwrites. */
function diskImage(dir: string): string {
  const bytes = new Uint8Array(128 * SECTOR);
  bytes.set(new TextEncoder().encode("tsqemu virtio disk\0"));
  bytes.fill(0xa5, SECTOR, 2 * SECTOR);
  const path = join(dir, "disk.img");
  writeFileSync(path, bytes);
  return path;
}

function sector(path: string, n: number): Uint8Array {
  return new Uint8Array(readFileSync(path)).subarray(n * SECTOR, (n + 1) * SECTOR);
}

const WRITTEN = (() => {
  const expected = new Uint8Array(SECTOR);
  expected.set(new TextEncoder().encode("written by the guest"));
  return expected;
})();

describe.skipIf("reason" in guest)("virtio-blk through virtio-mmio, from a guest", () => {
  const kernel = () => {
    const dir = workDir();
    const path = join(dir, "guest.bin");
    if ("image" in guest) writeFileSync(path, guest.image);
    return { dir, kernel: ["-kernel", path] };
  };

  it("reads the image, writes it and flushes it to the file before exiting", async () => {
    const { dir, kernel: k } = kernel();
    const image = diskImage(dir);
    const { status, stdout, stderr } = await runTsqemu([
      ...k,
      "-drive",
      `file=${image},if=none,id=d0,format=raw,cache=writeback`,
      "-device",
      "virtio-blk-device,drive=d0",
      ...EXIT_DEVICE,
    ]);
    expect(stderr).toBe("");
    expect(stdout).toBe("sector0=tsqemu virtio disk\nwrite=0\nflush=0\n");
    expect(status).toBe(1); // isa-debug-exit with 0: every status was VIRTIO_BLK_S_OK
    expect(sector(image, 1)).toEqual(WRITTEN);
  });

  it("leaves the image untouched with -snapshot (the guest still sees its write succeed)", async () => {
    const { dir, kernel: k } = kernel();
    const image = diskImage(dir);
    const before = new Uint8Array(readFileSync(image));
    const { status, stdout } = await runTsqemu([
      ...k,
      "-drive",
      `file=${image},if=none,id=d0,format=raw`,
      "-device",
      "virtio-blk-device,drive=d0",
      "-snapshot",
      ...EXIT_DEVICE,
    ]);
    expect(stdout).toBe("sector0=tsqemu virtio disk\nwrite=0\nflush=0\n");
    expect(status).toBe(1);
    expect(new Uint8Array(readFileSync(image))).toEqual(before);
  });

  it("refuses the guest's write to a readonly=on drive with VIRTIO_BLK_S_IOERR", async () => {
    const { dir, kernel: k } = kernel();
    const image = diskImage(dir);
    const { status, stdout } = await runTsqemu([
      ...k,
      "-drive",
      `file=${image},if=none,id=d0,format=raw,readonly=on`,
      "-device",
      "virtio-blk-device,drive=d0",
      ...EXIT_DEVICE,
    ]);
    expect(stdout).toBe("sector0=tsqemu virtio disk\nwrite=1\nflush=0\n");
    expect(status).toBe((1 << 1) | 1);
    expect(sector(image, 1).every((b) => b === 0xa5)).toBe(true);
  });

  it("says so, as QEMU does, when the image cannot be opened", async () => {
    const { dir, kernel: k } = kernel();
    const missing = join(dir, "missing.img");
    const { status, stderr } = await runTsqemu([
      ...k,
      "-drive",
      `file=${missing},if=virtio,format=raw`,
      ...EXIT_DEVICE,
    ]);
    expect(status).toBe(1);
    expect(stderr).toBe(`tsqemu: -drive virtio0: Could not open '${missing}': No such file or directory\n`);
  });
});

describe("virtio devices on the command line", () => {
  it("appends virtio_mmio.device= for each virtio-mmio device to the command line of a Linux kernel without ACPI", async () => {
    const dir = workDir();
    const bzImage = join(dir, "bzImage");
    const initrd = join(dir, "initrd");
    writeFileSync(bzImage, rebootingBzImage());
    writeFileSync(initrd, "\0");
    const withAcpi = await runTsqemu([
      "-kernel",
      bzImage,
      "-initrd",
      initrd,
      "-append",
      "console=ttyS0",
      "-device",
      "virtio-rng-device",
      "-no-reboot",
    ]);
    expect(withAcpi.stdout).toBe("console=ttyS0|\n"); // the DSDT describes it instead
    const { status, stdout } = await runTsqemu([
      "-kernel",
      bzImage,
      "-initrd",
      initrd,
      "-append",
      "console=ttyS0 acpi=off",
      "-device",
      "virtio-rng-device",
      "-device",
      "virtio-rng-pci",
      "-drive",
      `file=${diskImage(dir)},if=none,id=d0,format=raw`,
      "-device",
      "virtio-blk-device,drive=d0",
      "-no-reboot",
    ]);
    expect(stdout).toBe(
      "console=ttyS0 acpi=off virtio_mmio.device=512@0xfeb00000:5 virtio_mmio.device=512@0xfeb00200:6|\n",
    );
    expect(status).toBe(0);
  });

  it("keeps a socket chardev's socket while the VM runs and removes it at exit", async () => {
    const dir = workDir();
    const socket = join(dir, "console.sock");
    // The demo guest runs until it reads 'q' on the serial port.
    const child = startTsqemu([
      "-chardev",
      `socket,id=c0,path=${socket},server=on,wait=off`,
      "-device",
      "virtio-serial-pci",
      "-device",
      "virtconsole,chardev=c0",
    ]);
    let stdout = "";
    child.stdout.on("data", (chunk) => (stdout += chunk));
    const exited = new Promise<number | null>((resolve) => child.on("close", resolve));
    for (let i = 0; i < 600 && !stdout.includes("press q"); i++) await new Promise((r) => setTimeout(r, 50));
    expect(existsSync(socket)).toBe(true);
    child.stdin.end("q");
    expect(await exited).toBe(1);
    expect(existsSync(socket)).toBe(false);
  });

  it("fails with QEMU's messages for bad virtio flags", async () => {
    const missingNetdev = await runTsqemu(["-device", "virtio-net-pci,netdev=n0"]);
    expect(missingNetdev.status).toBe(1);
    expect(missingNetdev.stderr).toBe(
      "tsqemu: -device virtio-net-pci,netdev=n0: Property 'virtio-net-pci.netdev' can't find value 'n0'\n",
    );
    const isapc = await runTsqemu(["-M", "isapc", "-device", "virtio-blk-pci"]);
    expect(isapc.stderr).toBe(
      "tsqemu: -device virtio-blk-pci: No 'PCI' bus found for device 'virtio-blk-pci'\n",
    );
    const connect = await runTsqemu([
      "-netdev",
      "socket,id=n0,connect=127.0.0.1:1",
      "-device",
      "virtio-net-pci,netdev=n0",
    ]);
    expect(connect.status).toBe(1);
    expect(connect.stderr).toMatch(/^tsqemu: -netdev socket,id=n0: could not connect to 127.0.0.1:1: /);
  });
});

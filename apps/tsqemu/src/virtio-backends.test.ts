import { existsSync, mkdtempSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { connect } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { PassThrough } from "node:stream";
import { BlockFeature, hasFeature, VirtioBlock } from "@tsvmm/virtio";
import { describe, expect, it } from "vitest";
import { parseCommandLine } from "./command-line.js";
import { CommandLineError } from "./command-line-error.js";
import { openVirtioDevices } from "./virtio-backends.node.js";
import type { VirtioDeviceOptions } from "./virtio-options.js";

const stdio = () => ({ input: new PassThrough(), output: new PassThrough() });

function devices(...argv: string[]): VirtioDeviceOptions[] {
  const parsed = parseCommandLine(argv);
  if (parsed.action !== "run") throw new Error(JSON.stringify(parsed));
  return parsed.options.virtio;
}

describe("openVirtioDevices", () => {
  it("builds each device on its opened backend, keeping its transport, slot and name", async () => {
    const dir = mkdtempSync(join(tmpdir(), "tsqemu-backends-"));
    const image = join(dir, "disk.img");
    writeFileSync(image, new Uint8Array(4096));
    const socket = join(dir, "hvc.sock");
    const opened = await openVirtioDevices(
      devices(
        "-drive",
        `file=${image},if=none,id=d0,format=raw,readonly=on`,
        "-device",
        "virtio-blk-device,drive=d0",
        "-chardev",
        `socket,id=c0,path=${socket},server=on,wait=off`,
        "-device",
        "virtio-serial-pci,addr=6",
        "-device",
        "virtconsole,chardev=c0",
        "-device",
        "virtio-rng-pci",
        "-object",
        "rng-random,id=r0",
        "-device",
        "virtio-rng-device,rng=r0",
      ),
      stdio(),
    );
    expect(opened.devices.map((d) => [d.name, d.transport, d.pciSlot, d.device.deviceType])).toEqual([
      ["virtio-blk-device", "mmio", undefined, 2],
      ["virtio-serial-pci", "pci", 6, 3],
      ["virtio-rng-pci", "pci", undefined, 4],
      ["virtio-rng-device", "mmio", undefined, 4],
    ]);
    // The console's socket takes a client while open.
    expect(existsSync(socket)).toBe(true);
    const client = connect(socket);
    await new Promise<void>((resolve, reject) => client.once("connect", resolve).once("error", reject));
    client.destroy();
    await opened.close();
    expect(existsSync(socket)).toBe(false);
  });

  it("offers DISCARD on discard=unmap or on drives (the image, or its overlay under -snapshot), never read-only", async () => {
    const dir = mkdtempSync(join(tmpdir(), "tsqemu-discard-"));
    const image = (name: string) => {
      const path = join(dir, name);
      writeFileSync(path, new Uint8Array(1 << 20).fill(0x5a), { flush: true });
      return path;
    };
    const [plain, unmap, readOnly, snapshot] = ["plain.img", "unmap.img", "ro.img", "snap.img"].map(image);
    const opened = await openVirtioDevices(
      devices(
        "-drive",
        `file=${plain},if=virtio,format=raw`,
        "-drive",
        `file=${unmap},if=virtio,format=raw,discard=unmap`,
        "-drive",
        `file=${readOnly},if=virtio,format=raw,readonly=on,discard=unmap`,
        "-drive",
        `file=${snapshot},if=virtio,format=raw,snapshot=on,discard=on`,
      ),
      stdio(),
    );
    const disks = opened.devices.map((d) => d.device as VirtioBlock);
    expect(disks.every((d) => d instanceof VirtioBlock)).toBe(true);
    expect(disks.map((d) => hasFeature(d.features, BlockFeature.Discard))).toEqual([
      false,
      true,
      false,
      true,
    ]);
    expect(hasFeature(disks[2].features, BlockFeature.ReadOnly)).toBe(true);
    await opened.close();
    // Opening discarded nothing, and the -snapshot image was only read.
    for (const path of [plain, unmap, readOnly, snapshot])
      expect(readFileSync(path).every((b) => b === 0x5a)).toBe(true);
    expect(statSync(snapshot).size).toBe(1 << 20);
  });

  it("closes what it opened when a later backend fails, and says what QEMU would", async () => {
    const dir = mkdtempSync(join(tmpdir(), "tsqemu-backends-"));
    const socket = join(dir, "first.sock");
    const attempt = openVirtioDevices(
      devices(
        "-chardev",
        `socket,id=c0,path=${socket},server=on,wait=off`,
        "-device",
        "virtio-serial-device",
        "-device",
        "virtconsole,chardev=c0",
        "-drive",
        `file=${join(dir, "missing.img")},if=virtio,format=raw`,
      ),
      stdio(),
    );
    await expect(attempt).rejects.toThrow(CommandLineError);
    await expect(attempt).rejects.toThrow(
      /^-drive virtio0: Could not open '.*missing\.img': No such file or directory$/,
    );
    expect(existsSync(socket)).toBe(false);
  });
});

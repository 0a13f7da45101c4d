// The README's Devices and Backends example, run as written (with a temporary image), then each device driven
// through real virtqueues.
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { connect } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { expect, it, vi } from "vitest";
import { blockHeader } from "./block/block-request.test-support.js";
import { DeviceBench } from "./device-bench.test-support.js";

it("README example: devices over snapshot, socket, memory and crypto backends", async () => {
  const dir = await mkdtemp(join(tmpdir(), "tsvmm-readme-"));
  const imagePath = join(dir, "disk.img");
  const original = new Uint8Array(8192).fill(0x11);
  await writeFile(imagePath, original);
  try {
    const {
      MemoryCharBackend,
      SnapshotBlockBackend,
      VirtioBlock,
      VirtioConsole,
      VirtioNet,
      VirtioRng,
      BlockStatus,
    } = await import("./index.js");
    const { FileBlockBackend, SocketNetBackend } = await import("./node.node.js");

    // -drive file=disk.img,format=raw,if=virtio -snapshot
    const image = await FileBlockBackend.open(imagePath, { readOnly: true });
    const disk = new VirtioBlock({ backend: new SnapshotBlockBackend(image), serial: "tsvmm-disk0" });
    // -netdev socket,id=n0,listen=127.0.0.1:0 -device virtio-net,netdev=n0,mac=52:54:00:12:34:56
    const link = await SocketNetBackend.listen({ host: "127.0.0.1", port: 0 });
    const nic = new VirtioNet({ backend: link, mac: "52:54:00:12:34:56" });
    const consoleOutput = new MemoryCharBackend();
    const hvc = new VirtioConsole({ backend: consoleOutput });
    const rng = new VirtioRng();

    // The disk: a write then a read of the same sector come back through the overlay; the image is untouched.
    const diskBench = new DeviceBench(disk, { packed: true });
    diskBench.submit(0, { readable: [blockHeader(1, 2), new Uint8Array(512).fill(0x22)], writable: [1] });
    await vi.waitFor(() => expect(diskBench.used(0).length).toBe(1));
    const read = diskBench.submit(0, { readable: [blockHeader(0, 2)], writable: [512, 1] });
    await vi.waitFor(() => expect(diskBench.usedLength(read)).toBe(513));
    expect(
      diskBench
        .writtenBytes(read)
        .subarray(0, 512)
        .every((b) => b === 0x22),
    ).toBe(true);
    expect(diskBench.writtenBytes(read)[512]).toBe(BlockStatus.Ok);

    // The NIC: a frame from a peer on the socket lands in the guest's rx buffer.
    const nicBench = new DeviceBench(nic);
    const rx = nicBench.offer(0, { writable: [1526] });
    const peer = connect({ host: "127.0.0.1", port: link.address!.port });
    await link.whenConnected();
    peer.write(Buffer.from([0, 0, 0, 60, ...new Uint8Array(60).fill(0xab)]));
    await vi.waitFor(() => expect(nicBench.usedLength(rx)).toBe(72));
    peer.destroy();

    // The console and the entropy device.
    const hvcBench = new DeviceBench(hvc);
    hvcBench.submit(1, { readable: [new TextEncoder().encode("Welcome\n")] });
    expect(consoleOutput.outputText).toBe("Welcome\n");
    const rngBench = new DeviceBench(rng);
    const entropy = rngBench.submit(0, { writable: [32] });
    await vi.waitFor(() => expect(rngBench.usedLength(entropy)).toBe(32));

    await link.close();
    await image.close();
    expect(new Uint8Array(await readFile(imagePath))).toEqual(original);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

import { describe, expect, it } from "vitest";
import type { VirtioMarker } from "./linux-guest-manifest.js";
import { parseVirtioGuestOutput } from "./virtio-report.js";

// The markers as the virtio guest's manifest.json lists them.
const MARKERS: Record<VirtioMarker, string> = {
  moduleFailed: "TSVMM-MODULE-FAILED",
  modulesOk: "TSVMM-MODULES-OK",
  device: "TSVMM-VIRTIO-DEVICE",
  testStart: "TSVMM-TEST-START",
  testOk: "TSVMM-TEST-OK",
  testFailed: "TSVMM-TEST-FAILED",
  blkRead: "TSVMM-BLK-READ",
  rng: "TSVMM-RNG",
  net: "TSVMM-NET",
  netPing: "TSVMM-NET-PING",
  hvcRead: "TSVMM-HVC-READ",
  benchStart: "TSVMM-BENCH-START",
  bench: "TSVMM-BENCH",
  done: "TSVMM-VIRTIO-DONE",
};

describe("parseVirtioGuestOutput", () => {
  it("reads every marker line among kernel messages, with CR LF endings", () => {
    const console = [
      "[    2.000000] virtio_blk virtio1: [vda] 32768 512-byte logical blocks",
      "TSVMM-MODULES-OK 17",
      "TSVMM-BOOT-OK",
      "TSVMM-VIRTIO-DEVICE virtio0 id=1 driver=virtio_net transport=virtio-pci",
      "TSVMM-VIRTIO-DEVICE virtio1 id=2 driver=virtio_blk transport=virtio-pci",
      "TSVMM-TEST-START net",
      "TSVMM-NET eth0 mac=52:54:00:12:34:01 ip=10.0.2.15/24",
      "TSVMM-NET-PING peer=10.0.2.16 transmitted=3 received=3 avg-ms=12.5",
      "TSVMM-TEST-OK net",
      "TSVMM-BLK-READ tsvmm-in.bin md5=0123456789abcdef0123456789abcdef",
      "TSVMM-TEST-FAILED blk pattern md5 ffff",
      "TSVMM-RNG bytes=00ff",
      "TSVMM-HVC-READ hello from the host",
      "TSVMM-BENCH-START blk-write",
      "TSVMM-BENCH blk-write MiB=64 us=1000000 MiB/s=64.00",
      "TSVMM-VIRTIO-DONE failed",
    ].join("\r\n");
    expect(parseVirtioGuestOutput(console, MARKERS)).toEqual({
      modulesLoaded: 17,
      moduleFailures: [],
      devices: ["1 virtio_net virtio-pci", "2 virtio_blk virtio-pci"],
      passed: ["net"],
      failures: ["blk pattern md5 ffff"],
      blkInputMd5: "0123456789abcdef0123456789abcdef",
      rngBytes: "00ff",
      net: { device: "eth0", mac: "52:54:00:12:34:01", ip: "10.0.2.15/24" },
      ping: { peer: "10.0.2.16", received: 3 },
      hvcRead: "hello from the host",
      bench: { "blk-write": { mib: 64, us: 1_000_000, mibPerSecond: 64 } },
      done: "failed",
    });
  });

  it("reports nothing for output without the markers (a guest that never got to /init)", () => {
    const report = parseVirtioGuestOutput(
      "Kernel panic - not syncing: VFS\r\nTSVMM-MODULE-FAILED virtio x\n",
      MARKERS,
    );
    expect(report.modulesLoaded).toBeUndefined();
    expect(report.moduleFailures).toEqual(["virtio x"]);
    expect(report.done).toBeUndefined();
    expect(report.devices).toEqual([]);
  });
});

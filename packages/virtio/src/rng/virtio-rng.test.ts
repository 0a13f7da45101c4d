import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it, vi } from "vitest";
import { VirtioDeviceId, VirtioFeature } from "../constants.js";
import { DeviceBench, settle } from "../device-bench.test-support.js";
import { hasFeature } from "../features.js";
import { CryptoEntropySource, type EntropySource } from "./entropy-source.js";
import { FileEntropySource } from "./file-entropy-source.node.js";
import { VirtioRng } from "./virtio-rng.js";

/** A source that counts up from a seed, so a test can see exactly which bytes landed where. */
class CountingSource implements EntropySource {
  next = 0;
  async fill(dst: Uint8Array): Promise<void> {
    for (let i = 0; i < dst.length; i++) dst[i] = this.next++ & 0xff;
  }
}

describe("virtio-rng", () => {
  it("fills every writable buffer of a chain from the source", async () => {
    const device = new VirtioRng({ source: new CountingSource() });
    expect(device.deviceType).toBe(VirtioDeviceId.Entropy);
    expect(device.configSize).toBe(0);
    expect(hasFeature(device.features, VirtioFeature.Version1)).toBe(true);
    const bench = new DeviceBench(device);
    const request = bench.submit(0, { writable: [3, 5] });
    await settle();
    expect(bench.usedLength(request)).toBe(8);
    expect(Array.from(bench.writtenBytes(request))).toEqual([0, 1, 2, 3, 4, 5, 6, 7]);
    expect(bench.interrupts).toEqual([0]);
  });

  it("caps a request at 64 KiB and returns chains without writable bytes, malformed or outside RAM empty", async () => {
    const bench = new DeviceBench(new VirtioRng({ source: new CountingSource() }));
    const big = bench.submit(0, { writable: [100_000] });
    const readOnly = bench.submit(0, { readable: [new Uint8Array(16)] });
    const malformed = bench.submit(0, { error: "loop" });
    const outside = bench.submit(0, { writable: [16], outsideRam: 0 });
    await settle();
    expect(bench.usedLength(big)).toBe(65536);
    expect(bench.writtenBytes(big)[65536]).toBe(0xee);
    expect([readOnly, malformed, outside].map((r) => bench.usedLength(r))).toEqual([0, 0, 0]);
  });

  it("returns the buffer empty when the source fails, and drops completions after a reset", async () => {
    let release: () => void = () => undefined;
    const source: EntropySource = {
      fill: vi.fn(async (dst: Uint8Array) => {
        await new Promise<void>((resolve) => {
          release = resolve;
        });
        dst.fill(7);
      }),
    };
    const device = new VirtioRng({ source });
    const bench = new DeviceBench(device);
    const stale = bench.submit(0, { writable: [8] });
    await settle();
    device.reset();
    release();
    await settle();
    expect(bench.usedLength(stale)).toBeUndefined();
    expect(bench.writtenBytes(stale).every((b) => b === 0xee)).toBe(true);

    const failing = new DeviceBench(
      new VirtioRng({ source: { fill: async () => Promise.reject(new Error("no entropy")) } }),
    );
    const request = failing.submit(0, { writable: [8] });
    await settle();
    expect(failing.usedLength(request)).toBe(0);
  });

  it("uses globalThis.crypto by default, in chunks getRandomValues accepts", async () => {
    const getRandomValues = vi.fn((array: Uint8Array) => {
      if (array.byteLength > 65536) throw new Error("QuotaExceededError");
      return array.fill(0x5a);
    });
    const source = new CryptoEntropySource({ getRandomValues });
    const bytes = new Uint8Array(150_000);
    await source.fill(bytes);
    expect(getRandomValues).toHaveBeenCalledTimes(3);
    expect(bytes.every((b) => b === 0x5a)).toBe(true);

    const real = new Uint8Array(100_000);
    await new CryptoEntropySource().fill(real);
    expect(new Set(real).size).toBeGreaterThan(200);
    const bench = new DeviceBench(new VirtioRng());
    const request = bench.submit(0, { writable: [64] });
    await settle();
    expect(bench.usedLength(request)).toBe(64);
  });

  it("reads a file source (QEMU's rng-random) and fails when it runs dry", async () => {
    const urandom = await FileEntropySource.open();
    const bytes = new Uint8Array(4096);
    await urandom.fill(bytes);
    expect(new Set(bytes).size).toBeGreaterThan(100);
    await urandom.close();

    const dir = await mkdtemp(join(tmpdir(), "tsvmm-rng-"));
    try {
      await writeFile(join(dir, "pool"), Uint8Array.of(1, 2, 3, 4, 5));
      const file = await FileEntropySource.open(join(dir, "pool"));
      const first = new Uint8Array(3);
      await file.fill(first);
      expect(Array.from(first)).toEqual([1, 2, 3]);
      await expect(file.fill(new Uint8Array(3))).rejects.toThrow(/ran dry/);
      await file.close();
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

import { describe, expect, it } from "vitest";
import { VirtioDeviceId, VirtioFeature } from "../constants.js";
import { DeviceBench } from "../device-bench.test-support.js";
import { featureWords, hasFeature } from "../features.js";
import { MemoryCharBackend } from "./memory-char-backend.js";
import { ConsoleFeature, VirtioConsole } from "./virtio-console.js";

const RX = 0;
const TX = 1;
const text = (s: string) => new TextEncoder().encode(s);

function setUp(options: { inputLimit?: number } = {}) {
  const backend = new MemoryCharBackend();
  const device = new VirtioConsole({ backend, inputLimit: options.inputLimit });
  const bench = new DeviceBench(device);
  return { backend, device, bench };
}

describe("virtio-console", () => {
  it("is a single-port console with emergency write and max_nr_ports 1", () => {
    const { device } = setUp();
    expect(device.deviceType).toBe(VirtioDeviceId.Console);
    expect(device.queueMaxSizes).toEqual([128, 128]);
    expect(hasFeature(device.features, ConsoleFeature.EmergencyWrite)).toBe(true);
    expect(hasFeature(device.features, ConsoleFeature.Multiport)).toBe(false);
    expect(hasFeature(device.features, ConsoleFeature.Size)).toBe(false);
    expect(hasFeature(device.features, VirtioFeature.RingPacked)).toBe(true);
    const config = new Uint8Array(12);
    device.readConfig(0, config);
    expect(Array.from(config)).toEqual([0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0]);
    expect(device.ackFeatures(featureWords(ConsoleFeature.EmergencyWrite))).toBe(false);
  });

  it("sends guest output to the backend, gathered across buffers", () => {
    const { backend, bench } = setUp();
    const sent = bench.submit(TX, { readable: [text("hello, "), text("world\n")] });
    bench.submit(TX, { readable: [text("second")] });
    expect(backend.outputText).toBe("hello, world\nsecond");
    expect(bench.usedLength(sent)).toBe(0);
    expect(bench.interrupts).toEqual([TX, TX]);
  });

  it("writes the emergency byte to the backend and ignores other config writes", () => {
    const { backend, device } = setUp();
    device.writeConfig(8, Uint8Array.of(0x41, 0, 0, 0));
    device.writeConfig(0, Uint8Array.of(0x42, 0));
    expect(backend.outputText).toBe("A");
  });

  it("delivers host input into posted buffers, split across them, and keeps the rest until more are posted", () => {
    const { backend, bench } = setUp();
    const first = bench.offer(RX, { writable: [4] });
    bench.kick(RX);
    backend.input("abcdefg");
    expect(bench.usedLength(first)).toBe(4);
    expect(new TextDecoder().decode(bench.writtenBytes(first))).toBe("abcd");
    const second = bench.offer(RX, { writable: [2, 8] });
    bench.kick(RX);
    expect(bench.usedLength(second)).toBe(3);
    expect(new TextDecoder().decode(bench.writtenBytes(second).subarray(0, 3))).toBe("efg");
    expect(bench.interrupts).toEqual([RX, RX]);
  });

  it("keeps input typed before the driver is ready, up to a limit, and delivers it on activation", () => {
    const backend = new MemoryCharBackend();
    const device = new VirtioConsole({ backend, inputLimit: 5 });
    backend.input("early input");
    expect(device.inputDropped).toBe(6);
    const bench = new DeviceBench(device);
    const buffer = bench.submit(RX, { writable: [64] });
    expect(bench.usedLength(buffer)).toBe(5);
    expect(new TextDecoder().decode(bench.writtenBytes(buffer).subarray(0, 5))).toBe("early");
  });

  it("returns malformed, empty and out-of-RAM chains without losing output or crashing", () => {
    const { backend, device, bench } = setUp();
    bench.offer(RX, { error: "bad chain" });
    bench.offer(RX, { writable: [0] });
    const outside = bench.offer(RX, { writable: [8], outsideRam: 0 });
    const good = bench.offer(RX, { writable: [8] });
    backend.input("xy");
    backend.input("z");
    expect(bench.used(RX).map((u) => u.length)).toEqual([0, 0, 0, 1]);
    expect(bench.usedLength(outside)).toBe(0);
    expect(bench.writtenBytes(good)[0]).toBe(0x7a);
    expect(device.inputDropped).toBe(2);

    bench.submit(TX, { error: "bad" });
    bench.submit(TX, { readable: [text("lost")], outsideRam: 0 });
    bench.submit(TX, { readable: [text("ok")] });
    expect(backend.outputText).toBe("ok");
    expect(bench.used(TX).map((u) => u.length)).toEqual([0, 0, 0]);
  });

  it("stops using the queues after reset", () => {
    const { backend, device, bench } = setUp();
    device.reset();
    bench.submit(TX, { readable: [text("after reset")] });
    const buffer = bench.offer(RX, { writable: [8] });
    backend.input("in");
    expect(backend.outputText).toBe("");
    expect(bench.usedLength(buffer)).toBeUndefined();
  });
});

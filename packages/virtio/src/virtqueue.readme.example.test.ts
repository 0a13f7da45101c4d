// The example of the README's "Virtqueues" section, run as written (with its results checked).
import { expect, it } from "vitest";
import { createVirtqueue } from "./create-virtqueue.js";
import { VirtqueueDriver } from "./virtqueue-driver.test-support.js";

it("runs the README's virtqueue example", () => {
  const driver = new VirtqueueDriver({ size: 16, packed: true, eventIdx: true }); // 4 MiB of guest RAM
  const queue = createVirtqueue(driver.queueOptions()); // what a transport does at queue enable
  driver.add({ readable: [new TextEncoder().encode("ping")], writable: [8] });
  expect(driver.kick()).toBe(true); // the device wants notifications

  const chain = queue.pop()!;
  expect([chain.error, chain.readableLength, chain.writableLength]).toEqual([undefined, 4, 8]);
  const request = new Uint8Array(chain.readableLength);
  chain.read(0, request);
  expect(new TextDecoder().decode(request)).toBe("ping");
  chain.write(0, new TextEncoder().encode("pong"));
  queue.pushUsed(chain, 4);
  expect(queue.needsInterrupt()).toBe(true);

  const [used] = driver.takeUsed();
  expect(used.length).toBe(4);
  expect(new TextDecoder().decode(used.written)).toBe("pong");
});

// Run in a child process by tap-net-backend.test.ts (inside `unshare -n` or `unshare -U -r`): opens a TAP backend
// and prints one JSON line with what happened. Usage: tap-probe.test-support.ts error | exchange
import { execFileSync } from "node:child_process";
import { createSocket } from "node:dgram";
import { TapNetBackend } from "./tap-net-backend.node.js";

const mode = process.argv[2];
const print = (result: object) => process.stdout.write(`${JSON.stringify(result)}\n`);

if (mode === "error") {
  try {
    const tap = await TapNetBackend.open({ ifname: "tsvmmprobe0" });
    await tap.close();
    print({ opened: true });
  } catch (e) {
    print({ opened: false, name: (e as Error).name, message: (e as Error).message });
  }
} else {
  // A private network namespace: the interface, its address (TEST-NET-1) and its traffic exist only here.
  const tap = await TapNetBackend.open({ ifname: "tsvmmtap%d" });
  const frames: number[][] = [];
  tap.setReceiver((frame) => frames.push(Array.from(frame.subarray(0, 42))));
  execFileSync("ip", ["link", "set", "dev", tap.ifname, "up"]);
  execFileSync("ip", ["addr", "add", "192.0.2.1/24", "dev", tap.ifname]);
  // A datagram to a neighbour the kernel does not know yet makes it send an ARP request out of the TAP.
  const socket = createSocket("udp4");
  socket.send(Uint8Array.of(1), 9, "192.0.2.2");
  const deadline = Date.now() + 5000;
  while (!frames.some((f) => f[12] === 0x08 && f[13] === 0x06) && Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  socket.close();
  // A frame from the guest: broadcast, EtherType 0x88b5 (local experimental), 46 bytes of payload.
  const frame = new Uint8Array(60).fill(0xab);
  frame.set([0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02, 0, 0, 0, 0, 1, 0x88, 0xb5]);
  tap.send(frame);
  const stats = JSON.parse(execFileSync("ip", ["-s", "-j", "link", "show", "dev", tap.ifname]).toString());
  print({
    ifname: tap.ifname,
    frames,
    kernelReceived: stats[0].stats64.rx.packets,
    sendDropped: tap.sendDropped,
  });
  await tap.close();
}

import { execFileSync, spawnSync } from "node:child_process";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { TapNetBackend, TapNetBackendError } from "./tap-net-backend.node.js";

const probe = join(import.meta.dirname, "tap-probe.test-support.ts");

/** Whether this host lets us make namespaces (root on Linux with unshare). */
function canUnshare(flags: string[]): boolean {
  if (process.platform !== "linux") return false;
  return spawnSync("unshare", [...flags, "true"]).status === 0;
}

const canMakeUserNamespace = canUnshare(["-U", "-r"]);
const canMakeNetworkNamespace = canUnshare(["-n"]);
// Say why a TAP test does not run here, rather than passing it by in silence.
if (!canMakeUserNamespace)
  console.warn("tap-net-backend.test.ts: skipping the permission test: `unshare -U -r` is not possible here");
if (!canMakeNetworkNamespace)
  console.warn("tap-net-backend.test.ts: skipping the TAP frame test: `unshare -n` needs root on Linux");

function runProbe(unshareFlags: string[], mode: string) {
  const out = execFileSync("unshare", [...unshareFlags, process.execPath, "--import", "tsx", probe, mode], {
    cwd: import.meta.dirname,
    timeout: 60_000,
  });
  return JSON.parse(out.toString().trim().split("\n").pop()!);
}

describe("TapNetBackend", () => {
  it("refuses interface names the kernel cannot take", async () => {
    await expect(TapNetBackend.open({ ifname: "a-name-far-too-long" })).rejects.toBeInstanceOf(
      TapNetBackendError,
    );
    await expect(TapNetBackend.open({ ifname: "" })).rejects.toThrow(/bad TAP interface name/);
  });

  it.skipIf(!canMakeUserNamespace)("explains a missing CAP_NET_ADMIN instead of failing obscurely", () => {
    // Root in a new user namespace has no CAP_NET_ADMIN over the host's network.
    const result = runProbe(["-U", "-r"], "error");
    expect(result.opened).toBe(false);
    expect(result.name).toBe("TapNetBackendError");
    expect(result.message).toMatch(/CAP_NET_ADMIN|no permission/);
  });

  it.skipIf(!canMakeNetworkNamespace)(
    "exchanges frames with the kernel through a TAP interface in a private network namespace",
    () => {
      const result = runProbe(["-n"], "exchange");
      expect(result.ifname).toMatch(/^tsvmmtap\d+$/);
      // The kernel's ARP request for 192.0.2.2 reached the receiver as a whole Ethernet frame.
      const arp = result.frames.find((f: number[]) => f[12] === 0x08 && f[13] === 0x06);
      expect(arp).toBeDefined();
      expect(arp.slice(0, 6)).toEqual([0xff, 0xff, 0xff, 0xff, 0xff, 0xff]);
      expect(arp.slice(38, 42)).toEqual([192, 0, 2, 2]);
      // The guest's frame reached the kernel.
      expect(result.kernelReceived).toBeGreaterThanOrEqual(1);
      expect(result.sendDropped).toBe(0);
    },
  );
});

// What the virtio guest's /init printed (tools/README.md, "The virtio guest"), read back from tsqemu's console with
// the markers its manifest names. tools' parseVirtioReport reads the same lines; nothing imports tools, so this is
// the end-to-end tests' own reading, limited to what they check.
import type { GuestManifest, VirtioMarker } from "./linux-guest-manifest.js";

export interface VirtioGuestReport {
  /** The count of `<modulesOk> <count>`, undefined when that line never came. */
  modulesLoaded: number | undefined;
  moduleFailures: string[];
  /** "<id> <driver> <transport>" per device, in the guest's order. */
  devices: string[];
  passed: string[];
  failures: string[];
  blkInputMd5: string | undefined;
  rngBytes: string | undefined;
  net: { device: string; mac: string; ip: string } | undefined;
  ping: { peer: string; received: number } | undefined;
  hvcRead: string | undefined;
  bench: Record<string, { mib: number; us: number; mibPerSecond: number }>;
  /** The done line's word: "ok", "failed", or undefined when it never came. */
  done: string | undefined;
}

/** Reads the guest's marker lines out of console output (CR LF or LF, kernel messages in between). */
export function parseVirtioGuestOutput(
  output: string,
  markers: Record<VirtioMarker, string>,
): VirtioGuestReport {
  const report: VirtioGuestReport = {
    modulesLoaded: undefined,
    moduleFailures: [],
    devices: [],
    passed: [],
    failures: [],
    blkInputMd5: undefined,
    rngBytes: undefined,
    net: undefined,
    ping: undefined,
    hvcRead: undefined,
    bench: {},
    done: undefined,
  };
  const byMarker = new Map(Object.entries(markers).map(([key, text]) => [text, key as VirtioMarker]));
  for (const raw of output.split("\n")) {
    const line = raw.replace(/\r+$/, "");
    const space = line.indexOf(" ");
    const kind = byMarker.get(space < 0 ? line : line.slice(0, space));
    const rest = space < 0 ? "" : line.slice(space + 1);
    switch (kind) {
      case "modulesOk":
        report.modulesLoaded = Number(rest);
        break;
      case "moduleFailed":
        report.moduleFailures.push(rest);
        break;
      case "device": {
        const match = /^\S+ id=(\d+) driver=(\S+) transport=(\S+)$/.exec(rest);
        if (match !== null) report.devices.push(`${match[1]} ${match[2]} ${match[3]}`);
        break;
      }
      case "testOk":
        report.passed.push(rest);
        break;
      case "testFailed":
        report.failures.push(rest);
        break;
      case "blkRead":
        report.blkInputMd5 = /md5=(\S+)$/.exec(rest)?.[1];
        break;
      case "rng":
        report.rngBytes = /^bytes=(\S*)$/.exec(rest)?.[1];
        break;
      case "net": {
        const match = /^(\S+) mac=(\S+) ip=(\S+)$/.exec(rest);
        if (match !== null) report.net = { device: match[1]!, mac: match[2]!, ip: match[3]! };
        break;
      }
      case "netPing": {
        const match = /^peer=(\S+) transmitted=\d+ received=(\d+) /.exec(rest);
        if (match !== null) report.ping = { peer: match[1]!, received: Number(match[2]) };
        break;
      }
      case "hvcRead":
        report.hvcRead = rest;
        break;
      case "bench": {
        const match = /^(\S+) MiB=(\d+) us=(\d+) MiB\/s=(\d+\.\d+)$/.exec(rest);
        if (match !== null)
          report.bench[match[1]!] = {
            mib: Number(match[2]),
            us: Number(match[3]),
            mibPerSecond: Number(match[4]),
          };
        break;
      }
      case "done":
        report.done = rest;
        break;
    }
  }
  return report;
}

/** The virtio part of a guest's manifest; throws when the guest is not the virtio variant. */
export function virtioManifest(guest: GuestManifest): NonNullable<GuestManifest["virtio"]> {
  if (guest.virtio === undefined)
    throw new Error(`${guest.name} is not the virtio guest (no "virtio" in its manifest)`);
  return guest.virtio;
}

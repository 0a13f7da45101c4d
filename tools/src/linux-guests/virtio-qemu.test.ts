// Reference runs of the virtio guest on QEMU's own virtio devices, over both transports: virtio-pci
// on the pc machine and virtio-mmio on microvm (found through ACPI). Each proves the guest's side
// (modules, self-tests, benchmark) against a VMM known to be right, and its command lines are what
// tsqemu's end-to-end tests mirror. Opt-in (boots QEMU several times, minutes under TCG):
// TSVMM_QEMU_TESTS=1, or tools/run-virtio-guest-in-qemu.sh, which prints the command lines and figures.

import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { mkdirSync, mkdtempSync, rmSync, truncateSync, writeFileSync } from "node:fs";
import { createConnection, type Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { ensureE2fsprogs, ext4ImageIsClean, makeExt4Image, readExt4File } from "../ext4-image.js";
import { ensureLinuxGuest, type LinuxGuestManifest } from "./linux-guest.js";
import { type VirtioQemuOptions, type VirtioTransport, virtioQemuCommandLine } from "./qemu-command.js";
import { hostTscKhz, msBetween, type QemuRun, shellQuote, startQemu } from "./qemu-run.test-support.js";
import {
  expectedBlkOutput,
  parseVirtioReport,
  VIRTIO_BENCH_PARAMETERS,
  VIRTIO_BLK_TEST,
  VIRTIO_GUEST_MARKERS,
  VIRTIO_HVC_HELLO,
} from "./virtio-guest-init.js";

const optedIn = process.env.TSVMM_QEMU_TESTS === "1";
const hasQemu = spawnSync("qemu-system-i386", ["--version"], { stdio: "ignore" }).status === 0;
const missingE2fsprogs = optedIn ? ensureE2fsprogs() : [];
const skipReason = !optedIn
  ? "set TSVMM_QEMU_TESTS=1 to boot the virtio guest in QEMU"
  : !hasQemu
    ? "qemu-system-i386 not installed (apt-get install qemu-system-x86)"
    : missingE2fsprogs.length > 0
      ? `${missingE2fsprogs.join(", ")} not installed (apt-get install e2fsprogs)`
      : undefined;
if (skipReason !== undefined) console.warn(`virtio-qemu.test.ts: skipping: ${skipReason}`);

const RUN_TIMEOUT_MS = 300_000;
const work = mkdtempSync(join(tmpdir(), "tsvmm-virtio-qemu-"));
afterAll(() => rmSync(work, { recursive: true, force: true }));

const md5 = (bytes: Uint8Array) => createHash("md5").update(bytes).digest("hex");
const tscKhz = hostTscKhz();

function qemuCommand(guest: LinuxGuestManifest, options: VirtioQemuOptions): string[] {
  const command = virtioQemuCommandLine(guest, {
    ...options,
    tscKhz: options.transport === "mmio" ? tscKhz : undefined,
  });
  console.log(`qemu: ${shellQuote(command)}`);
  return command;
}

function reportFigures(label: string, run: QemuRun) {
  const bootMs = run.lines.find((line) => line.text === "TSVMM-BOOT-OK")?.atMs;
  console.log(
    `${label}: exit ${run.status}, wall ${(run.wallMs / 1000).toFixed(1)} s, boot marker at ${bootMs === undefined ? "-" : (bootMs / 1000).toFixed(1)} s`,
  );
}

/** A virtio console's host end: a unix socket QEMU serves, which we connect to once it exists. */
async function connectWhenListening(path: string, deadlineMs: number): Promise<Socket> {
  const start = Date.now();
  for (;;) {
    try {
      return await new Promise<Socket>((resolve, reject) => {
        const socket = createConnection(path);
        socket.once("connect", () => resolve(socket));
        socket.once("error", reject);
      });
    } catch (error) {
      if (Date.now() - start > deadlineMs) throw error;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }
}

describe.skipIf(skipReason !== undefined)("the virtio guest on QEMU", () => {
  const setups: { label: string; transport: VirtioTransport; modernOnly?: boolean }[] = [
    { label: "pci", transport: "pci" },
    { label: "pci-modern", transport: "pci", modernOnly: true },
    { label: "mmio", transport: "mmio" },
  ];
  for (const { label, transport, modernOnly } of setups) {
    it(`${label}: blk (ext4 read, write, read back on the host), rng, console and the benchmark`, async () => {
      const guest = await ensureLinuxGuest({ arch: "i386", variant: "virtio" });
      const dir = join(work, label);
      mkdirSync(join(dir, "root"), { recursive: true });
      const input = createHash("sha512").update(transport).digest();
      writeFileSync(join(dir, "root", VIRTIO_BLK_TEST.inputFile), input);
      const disk = join(dir, "disk.img");
      makeExt4Image({ sourceDir: join(dir, "root"), imagePath: disk, sizeMiB: 16 });
      const benchDisk = join(dir, "bench.img");
      writeFileSync(benchDisk, "");
      truncateSync(benchDisk, VIRTIO_BENCH_PARAMETERS.mib * 1024 * 1024);
      const hvcSocket = join(dir, "hvc.sock");

      const command = qemuCommand(guest, {
        transport,
        modernOnly,
        disks: [disk, benchDisk],
        rng: true,
        console: { chardev: `socket,path=${hvcSocket},server=on,wait=off` },
        append: "tsvmm.test=blk,rng,console,bench tsvmm.hvc_read=1",
      });
      const qemu = startQemu(command, { timeoutMs: RUN_TIMEOUT_MS });
      const hvc = await connectWhenListening(hvcSocket, 30_000);
      let fromGuest = "";
      hvc.setEncoding("latin1");
      // Answer once the guest has spoken: it keeps the port open from its line to its read, and data
      // that reaches a port the guest then closes unread is lost.
      hvc.on("data", (chunk: string) => {
        const before = fromGuest;
        fromGuest += chunk;
        if (!before.includes("\n") && fromGuest.includes("\n")) hvc.write("hello from the host\n");
      });
      hvc.on("error", () => {});
      const run = await qemu.done;
      hvc.destroy();
      reportFigures(label, run);
      const report = parseVirtioReport(run.output);

      expect(run.status, run.output.slice(-3000)).toBe(0);
      expect(report.moduleFailures).toEqual([]);
      expect(report.failures).toEqual([]);
      expect(report.ok).toBe(true);
      expect(report.passed).toEqual(["blk", "rng", "console", "bench"]);
      const wantTransport = transport === "pci" ? "virtio-pci" : "virtio-mmio";
      expect(
        report.devices.map(({ id, driver, transport }) => `${id} ${driver} ${transport}`).sort(),
      ).toEqual([
        `2 virtio_blk ${wantTransport}`,
        `2 virtio_blk ${wantTransport}`,
        `3 virtio_console ${wantTransport}`,
        `4 virtio_rng ${wantTransport}`,
      ]);

      // What the guest read and wrote, checked on the host through debugfs.
      expect(report.blkInputMd5).toBe(md5(input));
      expect(ext4ImageIsClean(disk)).toBe(true);
      expect(new TextDecoder().decode(readExt4File(disk, `/${VIRTIO_BLK_TEST.outputFile}`))).toBe(
        expectedBlkOutput(md5(input)),
      );
      const pattern = Buffer.from(
        `${VIRTIO_BLK_TEST.patternLine}\n`.repeat(VIRTIO_BLK_TEST.patternBytes),
      ).subarray(0, VIRTIO_BLK_TEST.patternBytes);
      expect(md5(readExt4File(disk, `/${VIRTIO_BLK_TEST.patternFile}`))).toBe(md5(pattern));

      expect(report.rngBytes).toMatch(/^[0-9a-f]{64}$/);
      expect(fromGuest).toBe(`${VIRTIO_HVC_HELLO} ${guest.kernelVersion}\n`);
      expect(report.hvcRead).toBe("hello from the host");

      for (const step of VIRTIO_BENCH_PARAMETERS.steps) {
        const hostMs = msBetween(
          run.lines,
          `${VIRTIO_GUEST_MARKERS.benchStart} ${step}`,
          `${VIRTIO_GUEST_MARKERS.bench} ${step} `,
        );
        const guestFigure = report.bench[step]!;
        expect(guestFigure.mib).toBe(VIRTIO_BENCH_PARAMETERS.mib);
        console.log(
          `TSVMM-REFERENCE ${label} ${step}: guest ${guestFigure.mibPerSecond} MiB/s (${guestFigure.us} us); host ${hostMs?.toFixed(0)} ms between its lines`,
        );
      }
    });

    it(`${label}: two VMs ping each other over -netdev socket`, async () => {
      const guest = await ensureLinuxGuest({ arch: "i386", variant: "virtio" });
      const port = 20_000 + Math.floor(Math.random() * 20_000);
      const vm = (index: 1 | 2, netdev: string) =>
        qemuCommand(guest, {
          transport,
          modernOnly,
          net: { netdev, mac: `52:54:00:12:34:0${index}` },
          append: `tsvmm.test=net tsvmm.ip=10.0.2.${14 + index}/24 tsvmm.peer=10.0.2.${17 - index}`,
        });
      const listener = startQemu(vm(1, `socket,listen=127.0.0.1:${port}`), { timeoutMs: RUN_TIMEOUT_MS });
      // The listening QEMU opens its port at start-up; the other connects to it.
      await new Promise((resolve) => setTimeout(resolve, 1000));
      const connector = startQemu(vm(2, `socket,connect=127.0.0.1:${port}`), { timeoutMs: RUN_TIMEOUT_MS });
      const runs = await Promise.all([listener.done, connector.done]);
      runs.forEach((run, index) => {
        reportFigures(`${label} net vm${index + 1}`, run);
        const report = parseVirtioReport(run.output);
        expect(run.status, run.output.slice(-3000)).toBe(0);
        expect(report.failures).toEqual([]);
        expect(report.ok).toBe(true);
        expect(report.net).toEqual({
          device: "eth0",
          mac: `52:54:00:12:34:0${index + 1}`,
          ip: `10.0.2.${15 + index}/24`,
        });
        expect(report.ping).toMatchObject({ peer: `10.0.2.${16 - index}`, received: 3 });
        console.log(`TSVMM-REFERENCE ${label} ping vm${index + 1}: avg ${report.ping?.avgMs} ms`);
      });
    });
  }
});

// End to end with a real Linux on tsqemu's virtio devices: Debian's i386 kernel with the virtio guest's initramfs
// (`pnpm guests:linux --arch i386 --variant virtio`, tools/README.md "The virtio guest"), booted twice at once with
// the default command line (ACPI, I/O APIC: MSI-X and the DSDT's LNRO0005 devices need them):
//
// - VM A on virtio-pci: virtio-blk-pci (an ext4 disk), virtio-net-pci on `-netdev socket,listen=`, virtio-rng-pci on
//   `-object rng-random`, virtio-serial-pci with a virtconsole on a `-chardev socket` Unix socket;
// - VM B on virtio-mmio: the same devices as virtio-*-device, its NIC on `-netdev socket,connect=` to A's.
//
// Each guest loads Debian's virtio and ext4 modules and runs its self-tests (net first, so the two meet as soon as
// both have booted: they ping each other; then blk, rng, console), prints what it found and powers off. The test
// checks the modules, the devices and their transports, the ext4 disk (the host's file read in the guest, the
// guest's files read back on the host with debugfs, e2fsck clean), /dev/hwrng, hvc0 both ways and tsqemu's exit
// status 0. Slow (two Linux boots, about 10 minutes), so it runs only with `pnpm test:virtio`
// (vitest.virtio.config.ts). It skips, saying why, when the guest cannot be built (no apt, no network) or
// e2fsprogs is missing and cannot be installed.
import { createHash, randomBytes } from "node:crypto";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createConnection, createServer, type Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it, onTestFinished } from "vitest";
import { BootingGuest, MINUTE } from "./booting-guest.js";
import { ensureE2fsprogs, ext4ImageIsClean, makeExt4Image, readExt4File } from "./ext4-image.js";
import { findLinuxGuest, type GuestManifest } from "./linux-guest-manifest.js";
import { parseVirtioGuestOutput, type VirtioGuestReport, virtioManifest } from "./virtio-report.js";

/** What the console test writes to /dev/hvc0, followed by ` <uname -r>` (tools' VIRTIO_HVC_HELLO). */
const HVC_HELLO = "TSVMM-HVC-HELLO";
const TESTS = ["net", "blk", "rng", "console"];

function skipReason(): { guest: GuestManifest } | { reason: string } {
  const found = findLinuxGuest("virtio");
  if ("reason" in found) return found;
  if (found.guest.virtio === undefined)
    return { reason: `${found.guest.name}'s manifest has no virtio section` };
  const missing = ensureE2fsprogs();
  if (missing.length > 0)
    return { reason: `${missing.join(", ")} missing and apt could not install e2fsprogs` };
  return found;
}

const found = skipReason();
if ("reason" in found)
  console.warn(`virtio-linux.e2e.test.ts: skipping the virtio Linux boots: ${found.reason}`);

const md5 = (bytes: Uint8Array) => createHash("md5").update(bytes).digest("hex");

/** A TCP port nobody listens on now (the system's pick for port 0). */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      server.close(() =>
        typeof address === "object" && address !== null ? resolve(address.port) : reject(),
      );
    });
  });
}

/**
 * Waits until something listens on 127.0.0.1:`port` (a LISTEN line in /proc/net/tcp). A probe connection would do
 * instead, but a socket netdev takes the first peer that connects as its one peer.
 */
async function waitForListener(port: number, vm: BootingGuest): Promise<void> {
  const local = `0100007F:${port.toString(16).toUpperCase().padStart(4, "0")}`;
  const deadline = Date.now() + 2 * MINUTE;
  for (;;) {
    const table = readFileSync("/proc/net/tcp", "utf8");
    if (table.split("\n").some((line) => line.includes(` ${local} `) && / 0A /.test(line))) return;
    if (vm.ended) throw new Error(`tsqemu ended before listening on port ${port}; ${vm.tail()}`);
    if (Date.now() > deadline) throw new Error(`nothing listens on 127.0.0.1:${port} after 2 minutes`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/**
 * The host end of a guest's virtio console: connects to tsqemu's Unix socket once it exists, and answers the
 * guest's first line with `reply` (data sent before the guest opens the port would be lost).
 */
class ConsoleClient {
  received = "";
  private socket: Socket | undefined;

  constructor(
    private readonly path: string,
    private readonly reply: string,
  ) {}

  async connect(vm: BootingGuest): Promise<void> {
    const deadline = Date.now() + 2 * MINUTE;
    for (;;) {
      try {
        this.socket = await new Promise<Socket>((resolve, reject) => {
          const socket = createConnection(this.path);
          socket.once("connect", () => resolve(socket));
          socket.once("error", reject);
        });
        break;
      } catch (error) {
        if (vm.ended || Date.now() > deadline) throw error;
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
    }
    const socket = this.socket;
    socket.setEncoding("latin1");
    socket.on("data", (chunk: string) => {
      const hadLine = this.received.includes("\n");
      this.received += chunk;
      if (!hadLine && this.received.includes("\n")) socket.write(`${this.reply}\n`);
    });
    socket.on("error", () => undefined);
  }

  close(): void {
    this.socket?.destroy();
  }
}

interface VmSetup {
  label: string;
  transport: "virtio-pci" | "virtio-mmio";
  ip: string;
  peer: string;
  mac: string;
  netdev: string;
}

/** One VM: its directory, disk, console socket, command line; boot() starts tsqemu. */
class VirtioVm {
  readonly dir: string;
  readonly disk: string;
  readonly input = randomBytes(4096);
  readonly hvcSocket: string;
  readonly console: ConsoleClient;
  vm: BootingGuest | undefined;

  constructor(
    readonly setup: VmSetup,
    private readonly guest: GuestManifest,
    work: string,
  ) {
    this.dir = join(work, setup.label);
    const root = join(this.dir, "root");
    mkdirSync(root, { recursive: true });
    writeFileSync(join(root, virtioManifest(guest).blk.inputFile), this.input);
    this.disk = join(this.dir, "disk.img");
    makeExt4Image(root, this.disk, 16);
    this.hvcSocket = join(this.dir, "hvc.sock");
    this.console = new ConsoleClient(this.hvcSocket, `hello from the host to ${setup.label}`);
  }

  args(): string[] {
    const { transport, ip, peer, mac, netdev } = this.setup;
    const kind = transport === "virtio-pci" ? "pci" : "device";
    const append = [
      "console=ttyS0",
      `tsvmm.test=${TESTS.join(",")}`,
      `tsvmm.ip=${ip}/24`,
      `tsvmm.peer=${peer}`,
      // The other VM may boot minutes later on a loaded machine.
      "tsvmm.net_wait=900",
      "tsvmm.hvc_read=1",
    ].join(" ");
    return [
      "-m",
      "256M",
      "-kernel",
      this.guest.kernel,
      "-initrd",
      this.guest.initrd,
      "-append",
      append,
      "-drive",
      `id=vd0,file=${this.disk},if=none,format=raw`,
      "-device",
      `virtio-blk-${kind},drive=vd0`,
      "-netdev",
      `${netdev},id=net0`,
      "-device",
      `virtio-net-${kind},netdev=net0,mac=${mac}`,
      "-object",
      "rng-random,id=rng0,filename=/dev/urandom",
      "-device",
      `virtio-rng-${kind},rng=rng0`,
      "-device",
      `virtio-serial-${kind}`,
      "-chardev",
      `socket,id=hvc0,path=${this.hvcSocket},server=on,wait=off`,
      "-device",
      "virtconsole,chardev=hvc0",
    ];
  }

  boot(): BootingGuest {
    // No -no-reboot: a reboot would boot again and never end the run, so only a real power-off passes.
    this.vm = new BootingGuest(this.setup.label, this.guest.prompt, this.args(), "virtio linux");
    this.vm.log(`tsqemu ${this.args().join(" ")}`);
    return this.vm;
  }

  /** Waits for the guest's done line and tsqemu's end; returns what the guest reported. */
  async finish(): Promise<{ report: VirtioGuestReport; status: number | null }> {
    const vm = this.vm!;
    const markers = virtioManifest(this.guest).markers;
    const booted = await vm.waitFor(this.guest.markers.boot, 0, 22 * MINUTE);
    vm.log(this.guest.markers.boot);
    const done = await vm.waitFor(markers.done, booted, 15 * MINUTE);
    vm.log(vm.output.slice(done).split("\n")[0]!.trim());
    await vm.waitFor("reboot: Power down", done, 2 * MINUTE);
    const status = await vm.waitForExit(2 * MINUTE);
    vm.log(`tsqemu ended with status ${status}`);
    return { report: parseVirtioGuestOutput(vm.output, markers), status };
  }

  stop(): void {
    this.console.close();
    this.vm?.stop();
  }
}

describe.skipIf("reason" in found)("the virtio Linux guest on tsqemu (Debian i386)", () => {
  it("boots on virtio-pci and on virtio-mmio at once: modules, devices, ext4, ping, hwrng, hvc0, power-off", async () => {
    if ("reason" in found) return;
    const { guest } = found;
    const virtio = virtioManifest(guest);
    const port = await freePort();
    const work = mkdtempSync(join(tmpdir(), "tsqemu-virtio-linux-"));
    onTestFinished(() => rmSync(work, { recursive: true, force: true }));
    const pci = new VirtioVm(
      {
        label: "pci",
        transport: "virtio-pci",
        ip: "10.0.2.15",
        peer: "10.0.2.16",
        mac: "52:54:00:12:34:01",
        netdev: `socket,listen=127.0.0.1:${port}`,
      },
      guest,
      work,
    );
    const mmio = new VirtioVm(
      {
        label: "mmio",
        transport: "virtio-mmio",
        ip: "10.0.2.16",
        peer: "10.0.2.15",
        mac: "52:54:00:12:34:02",
        netdev: `socket,connect=127.0.0.1:${port}`,
      },
      guest,
      work,
    );
    try {
      // A opens its backends (the listening socket among them) before its guest starts; B connects to it.
      const vmA = pci.boot();
      await waitForListener(port, vmA);
      const vmB = mmio.boot();
      await Promise.all([pci.console.connect(vmA), mmio.console.connect(vmB)]);
      const results = await Promise.all([pci.finish(), mmio.finish()]);

      for (const [index, { report, status }] of results.entries()) {
        const vm = [pci, mmio][index]!;
        const { label, transport, ip, peer, mac } = vm.setup;
        const context = `${label}: ${vm.vm!.tail()}`;
        // Every module of the manifest's load order loaded; the tests ran and passed.
        expect(report.moduleFailures, context).toEqual([]);
        expect(report.modulesLoaded, context).toBe(guest.modules.loadOrder.length);
        expect(report.failures, context).toEqual([]);
        expect(report.passed, context).toEqual(TESTS);
        expect(report.done, context).toBe("ok");
        // Each device bound to its driver through the expected transport (device IDs: net 1, blk 2, console 3,
        // rng 4).
        expect([...report.devices].sort(), context).toEqual([
          `1 virtio_net ${transport}`,
          `2 virtio_blk ${transport}`,
          `3 virtio_console ${transport}`,
          `4 virtio_rng ${transport}`,
        ]);
        // The guests pinged each other over the socket netdevs.
        expect(report.net, context).toEqual({ device: "eth0", mac, ip: `${ip}/24` });
        expect(report.ping, context).toEqual({ peer, received: 3 });
        // The host's file, read in the guest from the ext4 disk; the guest's files, read on the host.
        expect(report.blkInputMd5, context).toBe(md5(vm.input));
        expect(ext4ImageIsClean(vm.disk), context).toBe(true);
        expect(readExt4File(vm.disk, `/${virtio.blk.outputFile}`).toString("latin1")).toBe(
          `${virtio.blk.inputFile} md5=${md5(vm.input)}\n`,
        );
        const pattern = Buffer.from(`${virtio.blk.patternLine}\n`.repeat(virtio.blk.patternBytes)).subarray(
          0,
          virtio.blk.patternBytes,
        );
        expect(md5(readExt4File(vm.disk, `/${virtio.blk.patternFile}`))).toBe(md5(pattern));
        // 32 bytes from /dev/hwrng (virtio_rng is the current source: the guest checks that).
        expect(report.rngBytes, context).toMatch(/^[0-9a-f]{64}$/);
        // hvc0 both ways.
        expect(vm.console.received, context).toBe(`${HVC_HELLO} ${guest.kernelVersion}\n`);
        expect(report.hvcRead, context).toBe(`hello from the host to ${label}`);
        // Powered off through ACPI: tsqemu ends with status 0 and has removed its console socket.
        expect(status, context).toBe(0);
        expect(existsSync(vm.hvcSocket)).toBe(false);
        expect(vm.vm!.output).not.toContain(guest.markers.bootFailed);
      }
    } finally {
      pci.stop();
      mmio.stop();
    }
  });
});

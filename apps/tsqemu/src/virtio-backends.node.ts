// The host side of tsqemu's virtio devices (node-only: files, sockets, TAP, the terminal): each device from the
// command line with its backend opened, and one close() that finishes what is in flight, flushes disks to the host
// and releases everything (sockets, socket files), as QEMU does on exit.
import type { Readable, Writable } from "node:stream";
import {
  type BlockBackend,
  type CharBackend,
  type EntropySource,
  type NetBackend,
  SnapshotBlockBackend,
  VirtioBlock,
  VirtioConsole,
  VirtioNet,
  VirtioRng,
} from "@tsvmm/virtio";
import {
  FileBlockBackend,
  FileEntropySource,
  SocketNetBackend,
  StdioCharBackend,
  TapNetBackend,
  UnixSocketCharBackend,
} from "@tsvmm/virtio/node";
import type { PcVirtioDevice } from "@tsvmm/vmm-core";
import { CommandLineError } from "./command-line-error.js";
import { NullCharBackend } from "./null-char-backend.js";
import type {
  ChardevOptions,
  DriveOptions,
  NetdevOptions,
  RngSourceOptions,
  VirtioDeviceOptions,
} from "./virtio-options.js";

/** Where a `-chardev stdio` reads and writes (tsqemu's terminal handling sits in between). */
export interface StdioStreams {
  input: Readable;
  output: Writable;
}

export interface OpenedVirtioDevices {
  /** For buildPc's `virtio`, in command-line order. */
  devices: PcVirtioDevice[];
  /** Lets requests in flight finish, flushes writable disks (fsync) and closes every backend; never throws. */
  close(): Promise<void>;
}

/**
 * Opens the backend of every device and builds the device on it. A backend that cannot be opened closes the ones
 * already open and throws a CommandLineError with what QEMU would say (`Could not open 'disk.img': ...`).
 */
export async function openVirtioDevices(
  options: readonly VirtioDeviceOptions[],
  stdio: StdioStreams,
): Promise<OpenedVirtioDevices> {
  const closers: (() => Promise<void>)[] = [];
  const close = async () => {
    // Last opened, first closed: a snapshot overlay before its image.
    for (const closer of closers.splice(0).reverse()) await closer().catch(() => undefined);
  };
  const devices: PcVirtioDevice[] = [];
  try {
    for (const option of options) {
      const device = await openDevice(option, stdio, closers);
      devices.push({ device, transport: option.transport, pciSlot: option.pciSlot, name: option.driver });
    }
  } catch (e) {
    await close();
    throw e;
  }
  return { devices, close };
}

async function openDevice(
  option: VirtioDeviceOptions,
  stdio: StdioStreams,
  closers: (() => Promise<void>)[],
): Promise<VirtioBlock | VirtioNet | VirtioConsole | VirtioRng> {
  switch (option.kind) {
    case "block": {
      const backend = await openDrive(option.drive, closers);
      const disk = new VirtioBlock({ backend, serial: option.drive.serial, readOnly: option.drive.readOnly });
      // Runs before the backend's own closer (closers run last first): in-flight requests end, then the flush.
      closers.push(async () => {
        await disk.drain();
        if (!backend.readOnly) await backend.flush();
      });
      return disk;
    }
    case "net": {
      const backend = await openNetdev(option.netdev);
      closers.push(() => backend.close());
      return new VirtioNet({ backend, mac: option.mac });
    }
    case "console": {
      const backend = await openChardev(option.chardev, stdio);
      closers.push(() => backend.close());
      return new VirtioConsole({ backend });
    }
    case "rng": {
      const source = await openRngSource(option.source);
      closers.push(async () => source?.close?.());
      return new VirtioRng({ source });
    }
  }
}

/**
 * A raw image, read-only under a copy-on-write overlay with -snapshot (the image is never written then). With
 * discard=unmap the guest's discards punch holes in the image, or free overlay memory with -snapshot.
 */
async function openDrive(drive: DriveOptions, closers: (() => Promise<void>)[]): Promise<BlockBackend> {
  let file: FileBlockBackend;
  const readOnly = drive.readOnly || drive.snapshot;
  try {
    file = await FileBlockBackend.open(drive.path, { readOnly, discard: drive.discard && !readOnly });
  } catch (e) {
    throw new CommandLineError(`-drive ${drive.id}: Could not open '${drive.path}': ${describeError(e)}`);
  }
  closers.push(() => file.close());
  if (!drive.snapshot) return file;
  const overlay = new SnapshotBlockBackend(file, { discard: drive.discard });
  closers.push(() => overlay.close());
  return overlay;
}

async function openNetdev(netdev: NetdevOptions): Promise<NetBackend> {
  try {
    if (netdev.kind === "tap") return await TapNetBackend.open({ ifname: netdev.ifname });
    const address = { host: netdev.host, port: netdev.port };
    return netdev.mode === "listen"
      ? await SocketNetBackend.listen(address)
      : await SocketNetBackend.connect(address);
  } catch (e) {
    const what =
      netdev.kind === "tap"
        ? `could not open TAP interface ${netdev.ifname ?? ""}`.trimEnd()
        : `could not ${netdev.mode === "listen" ? "listen on" : "connect to"} ${netdev.host}:${netdev.port}`;
    throw new CommandLineError(`-netdev ${netdev.kind},id=${netdev.id}: ${what}: ${describeError(e)}`);
  }
}

async function openChardev(chardev: ChardevOptions | undefined, stdio: StdioStreams): Promise<CharBackend> {
  if (chardev === undefined || chardev.kind === "null") return new NullCharBackend();
  if (chardev.kind === "stdio") return new StdioCharBackend(stdio);
  try {
    return await UnixSocketCharBackend.listen(chardev.path);
  } catch (e) {
    throw new CommandLineError(
      `-chardev socket,id=${chardev.id}: could not listen on '${chardev.path}': ${describeError(e)}`,
    );
  }
}

async function openRngSource(source: RngSourceOptions): Promise<EntropySource | undefined> {
  if (source.kind === "builtin") return undefined; // VirtioRng's default: the host's CSPRNG (Web Crypto)
  try {
    return await FileEntropySource.open(source.path);
  } catch (e) {
    throw new CommandLineError(`-object rng-random: Could not open '${source.path}': ${describeError(e)}`);
  }
}

/** Node's "ENOENT: no such file or directory, open 'x'" as QEMU words it: "No such file or directory". */
function describeError(e: unknown): string {
  const message = e instanceof Error ? e.message : String(e);
  const match = /^E[A-Z]+: ([^,]+)/.exec(message);
  if (match === null) return message;
  return match[1].charAt(0).toUpperCase() + match[1].slice(1);
}

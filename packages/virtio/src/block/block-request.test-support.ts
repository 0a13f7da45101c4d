// Builders for virtio-blk requests, as a driver lays them out.

import type { BlockBackend } from "./block-backend.js";
import { BLOCK_REQUEST_HEADER_SIZE, BLOCK_SEGMENT_SIZE } from "./virtio-block.js";

export function blockHeader(type: number, sector = 0, sectorHigh = 0): Uint8Array {
  const header = new Uint8Array(BLOCK_REQUEST_HEADER_SIZE);
  const view = new DataView(header.buffer);
  view.setUint32(0, type, true);
  view.setUint32(8, sector >>> 0, true);
  view.setUint32(12, sectorHigh || Math.floor(sector / 2 ** 32), true);
  return header;
}

export function blockSegments(
  ...segments: { sector: number; sectors: number; flags?: number }[]
): Uint8Array {
  const bytes = new Uint8Array(segments.length * BLOCK_SEGMENT_SIZE);
  const view = new DataView(bytes.buffer);
  segments.forEach((s, i) => {
    view.setUint32(i * 16, s.sector >>> 0, true);
    view.setUint32(i * 16 + 4, Math.floor(s.sector / 2 ** 32), true);
    view.setUint32(i * 16 + 8, s.sectors, true);
    view.setUint32(i * 16 + 12, s.flags ?? 0, true);
  });
  return bytes;
}

/** Bytes where byte i is (i * 7 + seed) & 0xff: easy to tell apart. */
export function pattern(length: number, seed = 1): Uint8Array {
  const bytes = new Uint8Array(length);
  for (let i = 0; i < length; i++) bytes[i] = (i * 7 + seed) & 0xff;
  return bytes;
}

/** A backend whose every call waits until the test releases it, and that records the order of calls. */
export class GatedBlockBackend implements BlockBackend {
  readonly calls: string[] = [];
  private readonly gates: { call: string; open: () => void }[] = [];

  constructor(
    private readonly inner: BlockBackend,
    readonly readOnly = false,
  ) {}

  get size(): number {
    return this.inner.size;
  }

  get pending(): number {
    return this.gates.length;
  }

  /** Lets the oldest waiting call (whose description starts with `prefix`, if given) proceed. */
  release(prefix = ""): void {
    const index = this.gates.findIndex((gate) => gate.call.startsWith(prefix));
    if (index < 0) throw new Error(`no pending backend call starts with '${prefix}'`);
    this.gates.splice(index, 1)[0].open();
  }

  async read(offset: number, dst: Uint8Array): Promise<void> {
    await this.gate(`read ${offset}+${dst.length}`);
    await this.inner.read(offset, dst);
  }

  async write(offset: number, src: Uint8Array): Promise<void> {
    await this.gate(`write ${offset}+${src.length}`);
    await this.inner.write(offset, src);
    this.calls.push(`wrote ${offset}+${src.length}`);
  }

  async flush(): Promise<void> {
    await this.gate("flush");
    await this.inner.flush();
    this.calls.push("flushed");
  }

  async close(): Promise<void> {}

  private gate(call: string): Promise<void> {
    this.calls.push(call);
    return new Promise((resolve) => this.gates.push({ call, open: resolve }));
  }
}

// QEMU's `-chardev null`, and the port of a virtio-serial without a virtconsole: output goes nowhere, no input comes.
import type { CharBackend } from "@tsvmm/virtio";

export class NullCharBackend implements CharBackend {
  write(_bytes: Uint8Array): void {}

  onData(_receiver: ((bytes: Uint8Array) => void) | undefined): void {}

  async close(): Promise<void> {}
}

// What virtio-console needs from the host side of a port: a byte stream each way.

export interface CharBackend {
  /** Sends guest output to the host. Never throws: output with nowhere to go (no client connected) is dropped. */
  write(bytes: Uint8Array): void;
  /** Sets where host input goes, or stops delivering it with undefined. */
  onData(receiver: ((bytes: Uint8Array) => void) | undefined): void;
  close(): Promise<void>;
}

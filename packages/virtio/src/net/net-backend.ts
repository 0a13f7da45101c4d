// What virtio-net needs from the host side of the link: whole Ethernet frames (no FCS) each way.

export interface NetBackend {
  /**
   * Hands one frame to the host. The backend copies or consumes it before returning and never throws for a frame
   * it cannot take (no peer, a full send buffer): it drops it, as a cable would.
   */
  send(frame: Uint8Array): void;
  /** Sets where frames from the host go (one whole frame per call), or stops delivering them with undefined. */
  setReceiver(receiver: ((frame: Uint8Array) => void) | undefined): void;
  close(): Promise<void>;
}

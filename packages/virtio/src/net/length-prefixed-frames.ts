// The framing of QEMU's `-netdev socket` over TCP (net/socket.c): each frame is preceded by its length as a 4-byte
// big-endian number. A stream can split a frame, or its length, at any byte.

/** The largest frame QEMU accepts on a socket netdev (NET_BUFSIZE, 4096 + 65536); a longer one ends the link. */
export const MAX_SOCKET_FRAME = 4096 + 65536;

/** `frame` with its 4-byte big-endian length in front. */
export function encodeLengthPrefixedFrame(frame: Uint8Array): Uint8Array {
  const out = new Uint8Array(4 + frame.length);
  new DataView(out.buffer).setUint32(0, frame.length, false);
  out.set(frame, 4);
  return out;
}

/** Reassembles frames from stream chunks. */
export class LengthPrefixedFrameReader {
  private readonly lengthBytes = new Uint8Array(4);
  private lengthHave = 0;
  private frame: Uint8Array | undefined;
  private frameHave = 0;
  private failed = false;

  constructor(
    private readonly onFrame: (frame: Uint8Array) => void,
    private readonly maxFrame = MAX_SOCKET_FRAME,
  ) {}

  /**
   * Feeds one chunk of the stream; calls onFrame for each frame it completes. Returns false (and accepts nothing
   * more) once a frame announces a length above the maximum: the stream cannot be resynchronised after that.
   */
  push(chunk: Uint8Array): boolean {
    let at = 0;
    while (!this.failed && at < chunk.length) {
      if (this.frame === undefined) {
        const n = Math.min(4 - this.lengthHave, chunk.length - at);
        this.lengthBytes.set(chunk.subarray(at, at + n), this.lengthHave);
        this.lengthHave += n;
        at += n;
        if (this.lengthHave < 4) break;
        this.lengthHave = 0;
        const length = new DataView(this.lengthBytes.buffer).getUint32(0, false);
        if (length > this.maxFrame) {
          this.failed = true;
          break;
        }
        this.frame = new Uint8Array(length);
        this.frameHave = 0;
      }
      const n = Math.min(this.frame.length - this.frameHave, chunk.length - at);
      this.frame.set(chunk.subarray(at, at + n), this.frameHave);
      this.frameHave += n;
      at += n;
      if (this.frameHave === this.frame.length) {
        const frame = this.frame;
        this.frame = undefined;
        // An empty frame carries nothing a NIC could receive.
        if (frame.length > 0) this.onFrame(frame);
      }
    }
    return !this.failed;
  }
}

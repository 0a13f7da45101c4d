export const CTRL_A = 0x01;

/** What the host asked for through QEMU's Ctrl-A escapes. */
export type EscapeAction = "quit" | "help" | "none";

/**
 * Splits terminal input into bytes for the guest and QEMU's Ctrl-A escape commands: Ctrl-A x quits,
 * Ctrl-A h shows help, Ctrl-A Ctrl-A sends one Ctrl-A. An escape may straddle two reads.
 */
export class EscapeKeys {
  private escapePending = false;

  /** Returns the bytes for the guest; `onAction` receives each escape command in order. */
  feed(input: Uint8Array, onAction: (action: EscapeAction) => void): Uint8Array {
    const out: number[] = [];
    for (const byte of input) {
      if (this.escapePending) {
        this.escapePending = false;
        if (byte === 0x78 || byte === 0x58) onAction("quit");
        else if (byte === 0x68 || byte === 0x48) onAction("help");
        else if (byte === CTRL_A) out.push(CTRL_A);
        // Other escapes (monitor, logging...) do not exist here and are ignored, as QEMU ignores unknown ones.
      } else if (byte === CTRL_A) {
        this.escapePending = true;
      } else {
        out.push(byte);
      }
    }
    return Uint8Array.from(out);
  }
}

export const ESCAPE_HELP = "\r\nC-a h    print this help\r\nC-a x    exit emulator\r\nC-a C-a  sends C-a\r\n";

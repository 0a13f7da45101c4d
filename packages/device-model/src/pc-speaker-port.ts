// The PC/AT's system control port B (port 0x61): the speaker's gate and data enable on PIT channel 2, the DRAM
// refresh toggle and channel 2's OUT, plus the NMI enable bits, which are stored only (no NMI source exists here).

import type { BusDevice } from "./bus-device.js";
import type { Pit8254 } from "./pit8254.js";

export interface PcSpeakerPortOptions {
  /** The PIT whose channel 2 GATE this port drives and whose OUT2 it reads. */
  pit: Pit8254;
}

/** Snapshot of a PcSpeakerPort. */
export interface PcSpeakerPortState {
  /** Bits 0-3 as written. */
  control: number;
}

/** Port 0x61 bits. */
export const SpeakerPortBit = {
  /** R/W: PIT channel 2 GATE. */
  Timer2Gate: 0x01,
  /** R/W: speaker data enable (the speaker sounds OUT2 while this and the gate are set). */
  SpeakerData: 0x02,
  /** R/W: parity check disable (stored only). */
  ParityCheckDisable: 0x04,
  /** R/W: channel check disable (stored only). */
  ChannelCheckDisable: 0x08,
  /** R: toggles with each DRAM refresh request, every 15.085 µs. */
  RefreshToggle: 0x10,
  /** R: PIT channel 2 OUT. */
  Timer2Out: 0x20,
  /** R: channel check (IOCHK) — never set here. */
  ChannelCheck: 0x40,
  /** R: parity error — never set here. */
  ParityError: 0x80,
} as const;

/** The refresh request comes every 18 PIT clocks (channel 1's count on a PC/AT): 15.085 µs. */
const REFRESH_PERIOD_TICKS = 18;

/**
 * Port 0x61 (one register; any offset). Writes keep bits 0-3 and drive GATE2 from bit 0; reads return them with the
 * refresh toggle (from the PIT's time line at the nominal refresh rate, whatever channel 1 is programmed to) and
 * OUT2. Bits 6-7 read 0. Wider accesses use their low byte; the other bytes read as 0.
 */
export class PcSpeakerPort implements BusDevice {
  private readonly pit: Pit8254;
  private control = 0;

  constructor(options: PcSpeakerPortOptions) {
    this.pit = options.pit;
    this.pit.setGate(2, false);
  }

  read(_base: number, _offset: number, data: Uint8Array): void {
    if (data.length === 0) return;
    let value = this.control;
    if (Math.floor(this.pit.ticks() / REFRESH_PERIOD_TICKS) % 2 === 1) value |= SpeakerPortBit.RefreshToggle;
    if (this.pit.out(2)) value |= SpeakerPortBit.Timer2Out;
    data[0] = value;
    for (let i = 1; i < data.length; i++) data[i] = 0;
  }

  write(_base: number, _offset: number, data: Uint8Array): void {
    if (data.length === 0) return;
    this.setControl(data[0]);
  }

  /** Whether the speaker follows OUT2 (gate and data enable both set). */
  get speakerEnabled(): boolean {
    const both = SpeakerPortBit.Timer2Gate | SpeakerPortBit.SpeakerData;
    return (this.control & both) === both;
  }

  /** Power-on state: everything 0, so GATE2 is low. */
  reset(): void {
    this.setControl(0);
  }

  getState(): PcSpeakerPortState {
    return { control: this.control };
  }

  /** Restores a snapshot (malformed values count as 0) and drives GATE2 to match. */
  setState(state: PcSpeakerPortState): void {
    const control = state !== null && typeof state === "object" ? state.control : 0;
    this.setControl(typeof control === "number" ? control : 0);
  }

  private setControl(value: number): void {
    this.control = value & 0x0f;
    this.pit.setGate(2, (value & SpeakerPortBit.Timer2Gate) !== 0);
  }
}

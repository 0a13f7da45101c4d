import { describe, expect, it } from "vitest";
import { PcSpeakerPort, SpeakerPortBit } from "./pc-speaker-port.js";
import { Pit8254, pitNsAtTick } from "./pit8254.js";

function rig() {
  const clock = { ns: 0, nowNs: () => clock.ns };
  const pit = new Pit8254({ clock, irq0: { set: () => {} } });
  const port61 = new PcSpeakerPort({ pit });
  const data = new Uint8Array(1);
  const at = (tick: number) => {
    clock.ns = pitNsAtTick(tick);
  };
  /** Port 0x40-0x43 and 0x61 as a bus would route them. */
  const outb = (port: number, value: number) => {
    data[0] = value;
    if (port === 0x61) port61.write(0x61, 0, data);
    else pit.write(0x40, port - 0x40, data);
  };
  const inb = (port: number) => {
    if (port === 0x61) port61.read(0x61, 0, data);
    else pit.read(0x40, port - 0x40, data);
    return data[0];
  };
  return { clock, pit, port61, at, outb, inb };
}

describe("PcSpeakerPort (port 0x61)", () => {
  it("starts with GATE2 low: channel 2 holds until bit 0 is set", () => {
    const r = rig();
    r.at(0);
    r.outb(0x43, 0xb0); // channel 2, mode 0
    r.outb(0x42, 10);
    r.outb(0x42, 0);
    r.at(100);
    expect(r.inb(0x61) & SpeakerPortBit.Timer2Out).toBe(0);
    r.outb(0x61, SpeakerPortBit.Timer2Gate);
    r.at(109);
    expect(r.inb(0x61) & SpeakerPortBit.Timer2Out).toBe(0);
    r.at(110);
    expect(r.inb(0x61) & SpeakerPortBit.Timer2Out).toBe(SpeakerPortBit.Timer2Out);
  });

  it("supports Linux's PIT calibration loop: OUT2 rises exactly when the mode 0 count expires", () => {
    const r = rig();
    const latch = 11932; // about 10 ms
    r.at(5000);
    // Linux pit_calibrate_tsc: gate high, speaker off, channel 2 mode 0 binary, LSB then MSB.
    r.outb(0x61, (r.inb(0x61) & ~0x02) | 0x01);
    r.outb(0x43, 0xb0);
    r.outb(0x42, latch & 0xff);
    r.outb(0x42, latch >>> 8);
    let tick = 5000;
    while ((r.inb(0x61) & 0x20) === 0) {
      tick += 7;
      r.at(tick);
    }
    expect(tick).toBeGreaterThanOrEqual(5000 + latch + 1);
    expect(tick).toBeLessThan(5000 + latch + 1 + 7);
  });

  it("bit 4 toggles with each refresh request (every 18 PIT clocks)", () => {
    const r = rig();
    const samples: number[] = [];
    for (const tick of [0, 17, 18, 35, 36, 54, 18 * 1001]) {
      r.at(tick);
      samples.push((r.inb(0x61) >> 4) & 1);
    }
    expect(samples).toEqual([0, 0, 1, 1, 0, 1, 1]);
  });

  it("keeps bits 0-3 as written, ignores writes to bits 4-7 and reads bits 6-7 as 0", () => {
    const r = rig();
    r.at(0);
    r.outb(0x61, 0xff);
    const value = r.inb(0x61);
    expect(value & 0x0f).toBe(0x0f);
    expect(value & 0xc0).toBe(0);
    expect(r.port61.getState()).toEqual({ control: 0x0f });
    expect(r.pit.getState().counters[2].gate).toBe(true);
  });

  it("the speaker follows OUT2 only while gate and data enable are both set", () => {
    const r = rig();
    expect(r.port61.speakerEnabled).toBe(false);
    r.outb(0x61, SpeakerPortBit.SpeakerData);
    expect(r.port61.speakerEnabled).toBe(false);
    r.outb(0x61, SpeakerPortBit.SpeakerData | SpeakerPortBit.Timer2Gate);
    expect(r.port61.speakerEnabled).toBe(true);
  });

  it("answers wide accesses through the low byte", () => {
    const r = rig();
    r.port61.write(0x61, 0, new Uint8Array([0x03, 0xff]));
    const wide = new Uint8Array([9, 9, 9, 9]);
    r.port61.read(0x61, 0, wide);
    expect(wide[0] & 0x0f).toBe(0x03);
    expect([...wide.subarray(1)]).toEqual([0, 0, 0]);
    r.port61.read(0x61, 0, new Uint8Array(0));
    r.port61.write(0x61, 0, new Uint8Array(0));
  });

  it("state restore and reset drive GATE2 to match", () => {
    const r = rig();
    r.port61.setState({ control: 0x01 });
    expect(r.pit.getState().counters[2].gate).toBe(true);
    r.port61.reset();
    expect(r.pit.getState().counters[2].gate).toBe(false);
    r.port61.setState({ control: 0x1f });
    expect(r.port61.getState()).toEqual({ control: 0x0f });
    for (const bad of [null, 5, {}, { control: "x" }]) {
      expect(() => r.port61.setState(bad as never)).not.toThrow();
      expect(r.port61.getState()).toEqual({ control: 0 });
    }
  });
});

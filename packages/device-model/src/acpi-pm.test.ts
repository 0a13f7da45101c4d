import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  ACPI_PM_TIMER_HZ,
  AcpiPm,
  type AcpiPmState,
  AcpiPmOffset as Off,
  Pm1Control,
  Pm1Enable,
  Pm1Status,
} from "./acpi-pm.js";
import { nsAtTick, ticksAtNs } from "./clock-ticks.js";

const HALF_PERIOD = 2 ** 23;

/** An AcpiPm on a fake clock, with port helpers of any width. */
function setup(startNs = 0) {
  const clock = { t: startNs, nowNs: () => clock.t };
  const h = {
    clock,
    sci: false,
    sciEdges: [] as boolean[],
    powerOffs: 0,
    pm: undefined as unknown as AcpiPm,
    read(offset: number, width = 1): number {
      const data = new Uint8Array(width);
      h.pm.read(0x600, offset, data);
      let value = 0;
      for (let i = width - 1; i >= 0; i--) value = value * 256 + data[i];
      return value;
    },
    write(offset: number, value: number, width = 1): void {
      const data = new Uint8Array(width);
      for (let i = 0; i < width; i++) data[i] = Math.floor(value / 256 ** i) & 0xff;
      h.pm.write(0x600, offset, data);
    },
  };
  h.pm = new AcpiPm({
    clock,
    sci: {
      set: (asserted) => {
        h.sci = asserted;
        h.sciEdges.push(asserted);
      },
    },
    onPowerOff: () => h.powerOffs++,
  });
  return h;
}

describe("AcpiPm registers", () => {
  it("powers on with nothing pending or enabled and SCI_EN set", () => {
    const h = setup();
    expect(h.read(Off.Pm1Status, 2)).toBe(0);
    expect(h.read(Off.Pm1Enable, 2)).toBe(0);
    expect(h.read(Off.Pm1Control, 2)).toBe(Pm1Control.SciEnable);
    expect(h.read(Off.Gpe0Status, 2)).toBe(0);
    expect(h.read(Off.Gpe0Enable, 2)).toBe(0);
    expect(h.sci).toBe(false);
  });

  it("keeps only the PIIX4's PM1_EN bits", () => {
    const h = setup();
    h.write(Off.Pm1Enable, 0xffff, 2);
    expect(h.read(Off.Pm1Enable, 2)).toBe(0x0521);
    expect(h.read(Off.Pm1Enable, 2)).toBe(
      Pm1Enable.Timer | Pm1Enable.Global | Pm1Enable.PowerButton | Pm1Enable.Rtc,
    );
  });

  it("stores BM_RLD and SLP_TYP, reads SCI_EN as 1 and the write-only bits as 0", () => {
    const h = setup();
    h.write(
      Off.Pm1Control,
      Pm1Control.SleepTypeMask | Pm1Control.BusMasterReload | Pm1Control.GlobalRelease,
      2,
    );
    expect(h.read(Off.Pm1Control, 2)).toBe(0x1c03);
    h.write(Off.Pm1Control, 0, 2); // an OS cannot leave ACPI mode: there is no legacy mode
    expect(h.read(Off.Pm1Control, 2)).toBe(Pm1Control.SciEnable);
  });

  it("reads 0 in the reserved bytes and past the block, and ignores writes there", () => {
    const h = setup();
    h.write(6, 0xffff, 2);
    h.write(0x10, 0xffffffff, 4);
    expect(h.read(6, 2)).toBe(0);
    expect(h.read(0x10, 4)).toBe(0);
    expect(h.read(0x40, 1)).toBe(0);
  });

  it("splits wide accesses into the registers they cover", () => {
    const h = setup();
    h.write(Off.Pm1Status, 0x0100_0000, 4); // PM1_EN = PWRBTN_EN through a 32-bit write at PM1_STS
    expect(h.read(Off.Pm1Enable, 2)).toBe(Pm1Enable.PowerButton);
    h.write(Off.Gpe0Status, 0x00ff_0000, 4);
    expect(h.read(Off.Gpe0Enable, 1)).toBe(0xff);
    expect(h.read(Off.Gpe0Enable + 1, 1)).toBe(0);
    const data = new Uint8Array(8).fill(0xaa);
    h.pm.read(0x600, Off.Pm1Control, data);
    expect([...data]).toEqual([1, 0, 0, 0, ...data.subarray(4)]);
  });
});

describe("AcpiPm sleep control", () => {
  it("powers off when Linux writes SLP_TYP, then SLP_TYP | SLP_EN, with the S5 type", () => {
    const h = setup();
    const s5 = 0 << Pm1Control.SleepTypeShift;
    const control = h.read(Off.Pm1Control, 2) & ~(Pm1Control.SleepTypeMask | Pm1Control.SleepEnable);
    h.write(Off.Pm1Control, control | s5, 2);
    expect(h.powerOffs).toBe(0);
    h.write(Off.Pm1Control, control | s5 | Pm1Control.SleepEnable, 2);
    expect(h.powerOffs).toBe(1);
    expect(h.read(Off.Pm1Control, 2) & Pm1Control.SleepEnable).toBe(0); // SLP_EN is write-only
  });

  it("powers off through a byte write of the control block's high byte", () => {
    const h = setup();
    h.write(Off.Pm1Control + 1, Pm1Control.SleepEnable >> 8);
    expect(h.powerOffs).toBe(1);
  });

  it("ignores SLP_EN with any other sleep type (the DSDT offers only S5)", () => {
    const h = setup();
    for (let type = 1; type < 8; type++) {
      h.write(Off.Pm1Control, (type << Pm1Control.SleepTypeShift) | Pm1Control.SleepEnable, 2);
    }
    expect(h.powerOffs).toBe(0);
    expect(h.read(Off.Pm1Control, 2)).toBe((7 << Pm1Control.SleepTypeShift) | Pm1Control.SciEnable);
  });

  it("takes SLP_TYP from the same write as SLP_EN", () => {
    const h = setup();
    h.write(Off.Pm1Control, 5 << Pm1Control.SleepTypeShift, 2);
    h.write(Off.Pm1Control, Pm1Control.SleepEnable, 2); // type 0 and SLP_EN together
    expect(h.powerOffs).toBe(1);
  });
});

describe("AcpiPm timer", () => {
  it("counts at 3.579545 MHz on the clock and reads 24 bits in a 32-bit access", () => {
    const h = setup();
    expect(h.read(Off.Timer, 4)).toBe(0);
    h.clock.t = 1e9;
    expect(h.read(Off.Timer, 4)).toBe(ACPI_PM_TIMER_HZ);
    h.clock.t = 5e9; // 17897725 ticks: past 2^24, so it wrapped
    expect(h.read(Off.Timer, 4)).toBe(5 * ACPI_PM_TIMER_HZ - 2 ** 24);
    expect(h.read(Off.Timer + 3, 1)).toBe(0);
  });

  it("samples the timer once per access", () => {
    const h = setup();
    let t = 0;
    h.clock.nowNs = () => {
      t += 1e6; // each clock read moves time on by 1 ms
      return t;
    };
    const data = new Uint8Array(4);
    h.pm.read(0x600, Off.Timer, data);
    const value = data[0] | (data[1] << 8) | (data[2] << 16);
    expect(value).toBe(ticksAtNs(t, ACPI_PM_TIMER_HZ) & 0xffffff);
  });

  it("ignores writes and never goes back when the clock does", () => {
    const h = setup(2e9);
    const before = h.read(Off.Timer, 4);
    h.write(Off.Timer, 0, 4);
    expect(h.read(Off.Timer, 4)).toBe(before);
    h.clock.t = 1e9;
    expect(h.read(Off.Timer, 4)).toBe(before);
    h.clock.t = Number.NaN;
    expect(h.read(Off.Timer, 4)).toBe(before);
  });

  it("sets TMR_STS whenever bit 23 changes, and raises the SCI while TMR_EN is set", () => {
    const h = setup();
    h.write(Off.Pm1Enable, Pm1Enable.Timer, 2);
    h.clock.t = nsAtTick(HALF_PERIOD, ACPI_PM_TIMER_HZ) - 1;
    expect(h.read(Off.Pm1Status, 2)).toBe(0);
    expect(h.sci).toBe(false);
    h.clock.t += 1; // bit 23 goes 0 -> 1
    expect(h.read(Off.Pm1Status, 2)).toBe(Pm1Status.Timer);
    expect(h.sci).toBe(true);
    h.write(Off.Pm1Status, Pm1Status.Timer, 2); // write 1 to clear
    expect(h.sci).toBe(false);
    h.clock.t = nsAtTick(2 * HALF_PERIOD, ACPI_PM_TIMER_HZ); // bit 23 goes 1 -> 0 as the count wraps
    expect(h.read(Off.Pm1Status, 2)).toBe(Pm1Status.Timer);
    expect(h.read(Off.Timer, 4)).toBe(0);
  });

  it("sets TMR_STS without raising the SCI while TMR_EN is clear, and raises it once enabled", () => {
    const h = setup();
    h.clock.t = 3e9;
    expect(h.read(Off.Pm1Status, 2)).toBe(Pm1Status.Timer);
    expect(h.sci).toBe(false);
    h.write(Off.Pm1Enable, Pm1Enable.Timer, 2);
    expect(h.sci).toBe(true);
  });

  it("names the exact nanosecond of the next timer SCI", () => {
    const h = setup(123_456_789);
    expect(h.pm.nextEventNs()).toBeUndefined(); // TMR_EN clear
    h.write(Off.Pm1Enable, Pm1Enable.Timer, 2);
    const at = h.pm.nextEventNs() ?? Number.NaN;
    expect(at).toBe(nsAtTick(HALF_PERIOD, ACPI_PM_TIMER_HZ));
    h.clock.t = at - 1;
    h.pm.poll();
    expect(h.sci).toBe(false);
    h.clock.t = at;
    h.pm.poll();
    expect(h.sci).toBe(true);
    expect(h.pm.nextEventNs()).toBeUndefined(); // already high
    h.write(Off.Pm1Status, Pm1Status.Timer, 2);
    expect(h.pm.nextEventNs()).toBe(nsAtTick(2 * HALF_PERIOD, ACPI_PM_TIMER_HZ));
  });

  it("coalesces half periods a late host missed into one pending status", () => {
    const h = setup();
    h.write(Off.Pm1Enable, Pm1Enable.Timer, 2);
    h.clock.t = 60e9; // 25 half periods later
    h.pm.poll();
    expect(h.sciEdges).toEqual([true]);
    h.write(Off.Pm1Status, Pm1Status.Timer, 2);
    expect(h.sci).toBe(false);
    expect(h.read(Off.Pm1Status, 2)).toBe(0);
  });
});

describe("AcpiPm events", () => {
  it("latches the power button in PWRBTN_STS and raises the SCI only while PWRBTN_EN is set", () => {
    const h = setup();
    h.pm.powerButton();
    expect(h.read(Off.Pm1Status + 1, 1)).toBe(Pm1Status.PowerButton >> 8);
    expect(h.sci).toBe(false);
    h.write(Off.Pm1Enable + 1, Pm1Enable.PowerButton >> 8);
    expect(h.sci).toBe(true);
    h.write(Off.Pm1Status + 1, Pm1Status.PowerButton >> 8);
    expect(h.sci).toBe(false);
    expect(h.read(Off.Pm1Status, 2)).toBe(0);
  });

  it("keeps GPE0 status and enable bits, with write-1-to-clear status", () => {
    const h = setup();
    h.pm.raiseGpe(3);
    h.pm.raiseGpe(12);
    expect(h.read(Off.Gpe0Status, 2)).toBe(0x1008);
    expect(h.sci).toBe(false);
    h.write(Off.Gpe0Enable + 1, 0x10); // GPE 12
    expect(h.sci).toBe(true);
    h.write(Off.Gpe0Status, 0x08); // clearing GPE 3 leaves GPE 12 pending
    expect(h.sci).toBe(true);
    h.write(Off.Gpe0Status + 1, 0x10);
    expect(h.sci).toBe(false);
    expect(h.read(Off.Gpe0Status, 2)).toBe(0);
  });

  it("ignores GPE indexes that do not exist", () => {
    const h = setup();
    for (const index of [-1, 16, 1.5, Number.NaN, 2 ** 40]) h.pm.raiseGpe(index);
    expect(h.read(Off.Gpe0Status, 2)).toBe(0);
  });

  it("reset clears events and enables but the timer keeps counting", () => {
    const h = setup();
    h.write(Off.Pm1Enable, 0xffff, 2);
    h.write(Off.Gpe0Enable, 0xffff, 2);
    h.write(Off.Pm1Control, 3 << Pm1Control.SleepTypeShift, 2);
    h.pm.powerButton();
    expect(h.sci).toBe(true);
    h.clock.t = 1e9;
    h.pm.reset();
    expect(h.sci).toBe(false);
    expect(h.read(Off.Pm1Status, 2)).toBe(0);
    expect(h.read(Off.Pm1Enable, 2)).toBe(0);
    expect(h.read(Off.Pm1Control, 2)).toBe(Pm1Control.SciEnable);
    expect(h.read(Off.Gpe0Enable, 2)).toBe(0);
    expect(h.read(Off.Timer, 4)).toBe(ACPI_PM_TIMER_HZ);
  });
});

describe("AcpiPm snapshots", () => {
  it("restores registers and the timer, and drives the SCI to match", () => {
    const a = setup(7e9);
    a.write(Off.Pm1Enable, Pm1Enable.PowerButton | Pm1Enable.Timer, 2);
    a.write(Off.Gpe0Enable, 0x0102, 2);
    a.write(Off.Pm1Control, 6 << Pm1Control.SleepTypeShift, 2);
    a.pm.powerButton();
    const state = JSON.parse(JSON.stringify(a.pm.getState())) as AcpiPmState;
    const b = setup(7e9);
    b.pm.setState(state);
    expect(b.sci).toBe(true);
    for (const offset of [0, 2, 4, 8, 12, 14]) expect(b.read(offset, 2)).toBe(a.read(offset, 2));
    a.clock.t = b.clock.t = 20e9;
    a.write(Off.Pm1Status, Pm1Status.PowerButton, 2);
    b.write(Off.Pm1Status, Pm1Status.PowerButton, 2);
    expect(b.pm.getState()).toEqual(a.pm.getState());
    expect(b.sci).toBe(a.sci);
  });

  it("masks or replaces malformed snapshot fields", () => {
    const h = setup(1e9);
    const bad = { pm1Status: "x", pm1Enable: 0xffffffff, pm1Control: -1, gpe0Status: null, timerTick: 1e30 };
    h.pm.setState(bad as unknown as AcpiPmState);
    expect(h.pm.getState()).toEqual({
      pm1Status: 0,
      pm1Enable: 0x0521,
      pm1Control: 0x1c02,
      gpe0Status: 0,
      gpe0Enable: 0,
      timerTick: ACPI_PM_TIMER_HZ, // a tick ahead of the clock restarts from the clock
    });
    h.pm.setState(null as unknown as AcpiPmState);
    expect(h.pm.getState().pm1Enable).toBe(0);
  });
});

describe("AcpiPm properties", () => {
  it("random traffic never throws, keeps the SCI equal to the pending enabled events, and the timer monotonic", () => {
    const access = fc.record({
      write: fc.boolean(),
      offset: fc.integer({ min: 0, max: 20 }),
      width: fc.constantFrom(1, 2, 4, 8),
      value: fc.integer({ min: 0, max: 0xffffffff }),
      advanceNs: fc.integer({ min: 0, max: 3e9 }),
      button: fc.boolean(),
    });
    fc.assert(
      fc.property(fc.array(access, { maxLength: 60 }), (accesses) => {
        const h = setup();
        let ticks = 0;
        for (const a of accesses) {
          h.clock.t += a.advanceNs;
          if (a.button) h.pm.powerButton();
          if (a.write) h.write(a.offset, a.value, a.width);
          else h.read(a.offset, a.width);
          const pending =
            (h.read(Off.Pm1Status, 2) & h.read(Off.Pm1Enable, 2)) !== 0 ||
            (h.read(Off.Gpe0Status, 2) & h.read(Off.Gpe0Enable, 2)) !== 0;
          expect(h.sci).toBe(pending);
          const now = ticksAtNs(h.clock.t, ACPI_PM_TIMER_HZ);
          expect(now).toBeGreaterThanOrEqual(ticks);
          ticks = now;
          expect(h.read(Off.Timer, 4)).toBe(now % 2 ** 24);
        }
      }),
    );
  });
});

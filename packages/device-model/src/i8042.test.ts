import { describe, expect, it } from "vitest";
import { I8042, type I8042State } from "./i8042.js";
import { I8042Config as Cfg, I8042Status as St } from "./i8042-registers.js";

function setup() {
  const h = {
    irq1: false,
    irq12: false,
    irq1Rises: 0,
    irq12Rises: 0,
    a20: [] as boolean[],
    resets: 0,
    kbc: undefined as unknown as I8042,
    status(): number {
      const data = new Uint8Array(1);
      h.kbc.commandPort.read(0x64, 0, data);
      return data[0];
    },
    command(value: number): void {
      h.kbc.commandPort.write(0x64, 0, Uint8Array.of(value));
    },
    data(value: number): void {
      h.kbc.dataPort.write(0x60, 0, Uint8Array.of(value));
    },
    read(): number {
      const data = new Uint8Array(1);
      h.kbc.dataPort.read(0x60, 0, data);
      return data[0];
    },
    /** Everything waiting at the data port, as a polling driver reads it. */
    drain(): number[] {
      const out: number[] = [];
      for (let i = 0; i < 100 && (h.status() & St.OutputFull) !== 0; i++) out.push(h.read());
      return out;
    },
    setCommandByte(value: number): void {
      h.command(0x60);
      h.data(value);
    },
  };
  h.kbc = new I8042({
    keyboardIrq: {
      set: (a) => {
        h.irq1 = a;
        if (a) h.irq1Rises++;
      },
    },
    auxIrq: {
      set: (a) => {
        h.irq12 = a;
        if (a) h.irq12Rises++;
      },
    },
    onA20: (enabled) => h.a20.push(enabled),
    onReset: () => h.resets++,
  });
  return h;
}

describe("I8042 controller", () => {
  it("powers on idle, unlocked, with both interrupts enabled and A20 on", () => {
    const h = setup();
    expect(h.status()).toBe(St.Unlocked | St.Command);
    expect(h.kbc.commandByte).toBe(Cfg.KeyboardInterrupt | Cfg.AuxInterrupt);
    expect(h.kbc.a20Enabled).toBe(true);
    expect(h.drain()).toEqual([]);
  });

  it("reads and writes the command byte (0x20/0x60), whose bit 2 is the system flag", () => {
    const h = setup();
    h.command(0x20);
    expect(h.drain()).toEqual([0x03]);
    h.setCommandByte(0x47);
    expect(h.status() & St.System).toBe(St.System);
    h.command(0x20);
    expect(h.drain()).toEqual([0x47]);
    h.setCommandByte(0x43);
    expect(h.status() & St.System).toBe(0);
  });

  it("keeps the other internal RAM bytes (0x21-0x3F / 0x61-0x7F)", () => {
    const h = setup();
    h.command(0x7f);
    h.data(0x5a);
    h.command(0x3f);
    expect(h.drain()).toEqual([0x5a]);
    h.command(0x20);
    expect(h.drain()).toEqual([0x03]);
  });

  it("passes its self-test (0xAA -> 0x55, system flag set) and interface tests", () => {
    const h = setup();
    h.command(0xaa);
    expect(h.drain()).toEqual([0x55]);
    expect(h.status() & St.System).toBe(St.System);
    h.command(0xab);
    h.command(0xa9);
    h.command(0xa4);
    h.command(0xc0);
    expect(h.drain()).toEqual([0x00, 0x00, 0xf1, 0x80]);
  });

  it("tracks whether the last write went to the command or the data port", () => {
    const h = setup();
    h.data(0xf4);
    expect(h.status() & St.Command).toBe(0);
    h.command(0xae);
    expect(h.status() & St.Command).toBe(St.Command);
  });

  it("disables and enables the keyboard and aux interfaces in the command byte", () => {
    const h = setup();
    h.command(0xad);
    expect(h.kbc.commandByte & Cfg.KeyboardDisabled).toBe(Cfg.KeyboardDisabled);
    h.command(0xa7);
    expect(h.kbc.commandByte & Cfg.AuxDisabled).toBe(Cfg.AuxDisabled);
    h.command(0xae);
    h.command(0xa8);
    expect(h.kbc.commandByte).toBe(0x03);
  });

  it("ignores undefined commands and lets a new command cancel one waiting for data", () => {
    const h = setup();
    h.command(0x55);
    expect(h.drain()).toEqual([]);
    h.command(0x60); // would take the next data byte as the command byte...
    h.command(0xae); // ...but another command comes first
    h.data(0xf2); // so this goes to the keyboard
    expect(h.drain()).toEqual([0xfa, 0xab, 0x83]);
    expect(h.kbc.commandByte).toBe(0x03);
  });

  it("puts data into the output buffer as the keyboard (0xD2) or the mouse (0xD3)", () => {
    const h = setup();
    h.command(0xd2);
    h.data(0x12);
    expect(h.status() & (St.OutputFull | St.AuxData)).toBe(St.OutputFull);
    expect(h.irq1).toBe(true);
    expect(h.read()).toBe(0x12);
    h.command(0xd3);
    h.data(0x5a);
    expect(h.status() & (St.OutputFull | St.AuxData)).toBe(St.OutputFull | St.AuxData);
    expect([h.irq1, h.irq12]).toEqual([false, true]);
    expect(h.read()).toBe(0x5a);
    expect(h.irq12).toBe(false);
  });

  it("loops back 0xD3 data even with the aux interface disabled, as Linux's AUX probe expects", () => {
    const h = setup();
    h.setCommandByte(Cfg.AuxDisabled | Cfg.KeyboardDisabled);
    for (const probe of [0xf0, 0x56, 0xa4]) {
      h.command(0xd3);
      h.data(probe);
      expect(h.status() & St.AuxData).toBe(St.AuxData);
      expect(h.read()).toBe(probe);
    }
  });

  it("keeps the last byte at the data port after it was read", () => {
    const h = setup();
    h.command(0xaa);
    expect(h.read()).toBe(0x55);
    expect(h.status() & St.OutputFull).toBe(0);
    expect(h.read()).toBe(0x55);
  });

  it("answers accesses of any width through the low byte", () => {
    const h = setup();
    h.kbc.commandPort.write(0x64, 0, Uint8Array.of(0xaa, 0x12));
    const data = new Uint8Array(4).fill(0xee);
    h.kbc.dataPort.read(0x60, 0, data);
    expect([...data]).toEqual([0x55, 0, 0, 0]);
    h.kbc.dataPort.write(0x60, 0, new Uint8Array(0));
    h.kbc.dataPort.read(0x60, 0, new Uint8Array(0));
  });
});

describe("I8042 output port, A20 and reset", () => {
  it("reads the output port (0xD0) with A20 and the reset line high after power-on", () => {
    const h = setup();
    h.command(0xd0);
    expect(h.drain()).toEqual([0xcf]);
  });

  it("shows the output-buffer-full lines in the output port", () => {
    const h = setup();
    h.kbc.pressKey("KeyA");
    h.command(0xd0); // answered once the scancode has been read
    expect(h.drain()).toEqual([0x1c, 0xdf]);
  });

  it("switches A20 with the output port (0xD1) and reports changes only", () => {
    const h = setup();
    h.command(0xd1);
    h.data(0xdd);
    expect(h.kbc.a20Enabled).toBe(false);
    h.command(0xd1);
    h.data(0xdd);
    h.command(0xd1);
    h.data(0xdf);
    expect(h.a20).toEqual([false, true]);
    h.command(0xd0);
    expect(h.drain()).toEqual([0xcf]); // bits 4-5 show the output buffer, not what was written
    expect(h.resets).toBe(0);
  });

  it("switches A20 with the HP Vectra commands 0xDD/0xDF", () => {
    const h = setup();
    h.command(0xdd);
    h.command(0xdf);
    expect(h.a20).toEqual([false, true]);
  });

  it("resets the system when the output port drives the reset line low", () => {
    const h = setup();
    h.command(0xd1);
    h.data(0xde);
    expect(h.resets).toBe(1);
  });

  it("resets the system when a pulse command (0xF0-0xFF) pulses bit 0", () => {
    const h = setup();
    h.command(0xfe);
    expect(h.resets).toBe(1);
    h.command(0xf0);
    expect(h.resets).toBe(2);
    for (const command of [0xff, 0xfd, 0xf1]) h.command(command);
    expect(h.resets).toBe(2);
    expect(h.kbc.a20Enabled).toBe(true); // pulsing A20 (0xFD) is only a 6 us glitch
  });

  it("restores A20 on reset() and reports it", () => {
    const h = setup();
    h.command(0xdd);
    h.kbc.reset();
    expect(h.kbc.a20Enabled).toBe(true);
    expect(h.a20).toEqual([false, true]);
  });
});

describe("I8042 keyboard", () => {
  it("resets (0xFF -> 0xFA 0xAA) and identifies as an MF2 keyboard (0xF2 -> 0xFA 0xAB 0x83)", () => {
    const h = setup();
    h.data(0xff);
    expect(h.drain()).toEqual([0xfa, 0xaa]);
    h.data(0xf2);
    expect(h.drain()).toEqual([0xfa, 0xab, 0x83]);
  });

  it("identifies as 0xAB 0x41 through translation", () => {
    const h = setup();
    h.setCommandByte(0x43);
    h.data(0xf2);
    expect(h.drain()).toEqual([0xfa, 0xab, 0x41]);
  });

  it("sets the LEDs with 0xED, acknowledging both bytes", () => {
    const h = setup();
    h.data(0xed);
    expect(h.drain()).toEqual([0xfa]);
    h.data(0x07);
    expect(h.drain()).toEqual([0xfa]);
    expect(h.kbc.keyboardLeds).toBe(7);
    h.data(0xed);
    h.data(0xfa); // only bits 0-2 count
    h.drain();
    expect(h.kbc.keyboardLeds).toBe(2);
    h.data(0xff);
    h.drain();
    expect(h.kbc.keyboardLeds).toBe(0);
  });

  it("selects and reports scancode sets 1 and 2, refusing set 3", () => {
    const h = setup();
    h.data(0xf0);
    h.data(0x00);
    expect(h.drain()).toEqual([0xfa, 0xfa, 0x02]);
    h.data(0xf0);
    h.data(0x01);
    expect(h.drain()).toEqual([0xfa, 0xfa]);
    h.data(0xf0);
    h.data(0x03);
    expect(h.drain()).toEqual([0xfa, 0xfe]);
    h.data(0xf0);
    h.data(0x00);
    expect(h.drain()).toEqual([0xfa, 0xfa, 0x01]);
    h.kbc.pressKey("KeyA");
    expect(h.drain()).toEqual([0x1e]);
  });

  it("acknowledges the typematic rate (0xF3) and its argument", () => {
    const h = setup();
    h.data(0xf3);
    h.data(0x20);
    expect(h.drain()).toEqual([0xfa, 0xfa]);
  });

  it("stops and restarts scanning with 0xF5/0xF4", () => {
    const h = setup();
    h.data(0xf5);
    expect(h.drain()).toEqual([0xfa]);
    expect(h.kbc.pressKey("KeyA")).toBe(true); // the keystroke happens, but nothing is sent
    expect(h.drain()).toEqual([]);
    h.data(0xf4);
    expect(h.drain()).toEqual([0xfa]);
    h.kbc.pressKey("KeyA");
    expect(h.drain()).toEqual([0x1c]);
  });

  it("restores defaults with 0xF6 (set 2, scanning on)", () => {
    const h = setup();
    h.data(0xf0);
    h.data(0x01);
    expect(h.drain()).toEqual([0xfa, 0xfa]);
    h.data(0xf6);
    expect(h.drain()).toEqual([0xfa]);
    h.kbc.pressKey("KeyA");
    expect(h.drain()).toEqual([0x1c]);
  });

  it("echoes 0xEE, resends its last byte on 0xFE and asks for a resend of unknown commands", () => {
    const h = setup();
    h.data(0xee);
    expect(h.drain()).toEqual([0xee]);
    h.data(0xf2);
    expect(h.drain()).toEqual([0xfa, 0xab, 0x83]);
    h.data(0xfe);
    expect(h.drain()).toEqual([0x83]);
    h.data(0x01);
    expect(h.drain()).toEqual([0xfe]);
  });

  it("drops scancodes it has not sent yet when a command arrives", () => {
    const h = setup();
    h.kbc.pressKey("ArrowUp"); // e0 75: the e0 moves to the output buffer, the 75 waits in the keyboard
    h.data(0xee);
    expect(h.drain()).toEqual([0xe0, 0xee]);
  });
});

describe("I8042 scancodes and translation", () => {
  it("sends set 2 make and break codes untranslated", () => {
    const h = setup();
    h.kbc.pressKey("KeyA");
    h.kbc.releaseKey("KeyA");
    expect(h.drain()).toEqual([0x1c, 0xf0, 0x1c]);
    h.kbc.pressKey("ArrowUp");
    h.kbc.releaseKey("ArrowUp");
    expect(h.drain()).toEqual([0xe0, 0x75, 0xe0, 0xf0, 0x75]);
  });

  it("translates set 2 to set 1 when command byte bit 6 is set", () => {
    const h = setup();
    h.setCommandByte(0x43);
    for (const key of ["KeyA", "ArrowUp", "F7", "ControlRight"]) {
      h.kbc.pressKey(key);
      h.kbc.releaseKey(key);
    }
    expect(h.drain()).toEqual([0x1e, 0x9e, 0xe0, 0x48, 0xe0, 0xc8, 0x41, 0xc1, 0xe0, 0x1d, 0xe0, 0x9d]);
  });

  it("sends set 1 codes directly when the keyboard is in set 1", () => {
    const h = setup();
    h.data(0xf0);
    h.data(0x01);
    h.drain();
    h.kbc.pressKey("ArrowUp");
    h.kbc.releaseKey("ArrowUp");
    expect(h.drain()).toEqual([0xe0, 0x48, 0xe0, 0xc8]);
  });

  it("types ASCII text with Shift where needed", () => {
    const h = setup();
    h.setCommandByte(0x43);
    const text = "Hi!\n";
    let typed = h.kbc.typeText(text);
    expect(typed).toBe(3); // set 2 needs 18 bytes; the keyboard holds 16 (plus one in the output buffer)
    const bytes = h.drain();
    typed += h.kbc.typeText(text.slice(typed));
    expect(typed).toBe(4);
    bytes.push(...h.drain());
    const H = [0x2a, 0x23, 0xa3, 0xaa]; // Shift down, H down, H up, Shift up
    const i = [0x17, 0x97];
    const bang = [0x2a, 0x02, 0x82, 0xaa]; // Shift + 1
    const enter = [0x1c, 0x9c];
    expect(bytes).toEqual([...H, ...i, ...bang, ...enter]);
  });

  it("applies back-pressure when the keyboard's buffer is full", () => {
    const h = setup();
    const text = "the quick brown fox";
    let typed = h.kbc.typeText(text);
    expect(typed).toBeGreaterThan(0);
    expect(typed).toBeLessThan(text.length);
    const bytes: number[] = [];
    while (typed < text.length) {
      bytes.push(...h.drain());
      typed += h.kbc.typeText(text.slice(typed));
    }
    bytes.push(...h.drain());
    // Every character is a make and a break (0xF0 + code) in set 2: 3 bytes.
    expect(bytes.length).toBe(text.length * 3);
  });

  it("skips characters no key types and rejects unknown key names", () => {
    const h = setup();
    expect(h.kbc.typeText("é1")).toBe(2);
    expect(h.drain()).toEqual([0x16, 0xf0, 0x16]);
    expect(h.kbc.pressKey("NoSuchKey")).toBe(false);
  });

  it("holds keyboard bytes while the keyboard interface is disabled", () => {
    const h = setup();
    h.command(0xad);
    h.kbc.pressKey("KeyA");
    expect(h.drain()).toEqual([]);
    h.command(0xae);
    expect(h.drain()).toEqual([0x1c]);
  });
});

describe("I8042 interrupts", () => {
  it("raises IRQ 1 for each keyboard byte and drops it when the byte is read", () => {
    const h = setup();
    h.kbc.pressKey("ArrowUp");
    expect(h.irq1).toBe(true);
    expect(h.read()).toBe(0xe0);
    expect(h.irq1).toBe(true); // the next byte moved in: the line fell and rose again
    expect(h.irq1Rises).toBe(2);
    expect(h.read()).toBe(0x75);
    expect(h.irq1).toBe(false);
  });

  it("leaves IRQ 1 low without command byte bit 0, and raises it once enabled", () => {
    const h = setup();
    h.setCommandByte(0x00);
    h.kbc.pressKey("KeyA");
    expect(h.status() & St.OutputFull).toBe(St.OutputFull);
    expect(h.irq1).toBe(false);
    h.setCommandByte(Cfg.KeyboardInterrupt);
    expect(h.irq1).toBe(true);
  });

  it("raises IRQ 12 for mouse bytes, only with command byte bit 1", () => {
    const h = setup();
    h.command(0xd4);
    h.data(0xf2);
    expect([h.irq1, h.irq12]).toEqual([false, true]);
    expect(h.drain()).toEqual([0xfa, 0x00]);
    h.setCommandByte(Cfg.KeyboardInterrupt);
    h.command(0xd4);
    h.data(0xf2);
    expect(h.irq12).toBe(false);
    expect(h.status() & St.AuxData).toBe(St.AuxData);
  });

  it("raises IRQ 1 for controller answers when enabled", () => {
    const h = setup();
    h.command(0x20);
    expect(h.irq1).toBe(true);
    h.read();
    expect(h.irq1).toBe(false);
  });
});

describe("I8042 aux port (PS/2 mouse)", () => {
  function mouse(h: ReturnType<typeof setup>, byte: number): number[] {
    h.command(0xd4);
    h.data(byte);
    return h.drain();
  }

  it("resets (0xFF -> 0xFA 0xAA 0x00) and identifies as a standard mouse (0xF2 -> 0xFA 0x00)", () => {
    const h = setup();
    expect(mouse(h, 0xff)).toEqual([0xfa, 0xaa, 0x00]);
    expect(mouse(h, 0xf2)).toEqual([0xfa, 0x00]);
  });

  it("stays a plain mouse through the IntelliMouse knock (rates 200, 100, 80)", () => {
    const h = setup();
    for (const rate of [200, 100, 80]) expect([...mouse(h, 0xf3), ...mouse(h, rate)]).toEqual([0xfa, 0xfa]);
    expect(mouse(h, 0xf2)).toEqual([0xfa, 0x00]);
  });

  it("reports its status (0xE9): mode, scaling, buttons, resolution and rate", () => {
    const h = setup();
    expect(mouse(h, 0xe9)).toEqual([0xfa, 0x00, 0x02, 100]);
    mouse(h, 0xe8);
    mouse(h, 0x03);
    mouse(h, 0xe7);
    mouse(h, 0xf4);
    h.kbc.moveMouse(0, 0, 1); // left button held
    h.drain();
    expect(mouse(h, 0xe9)).toEqual([0xfa, 0x34, 0x03, 100]);
  });

  it("sends movement packets once reporting is enabled", () => {
    const h = setup();
    expect(h.kbc.moveMouse(5, -3, 1)).toBe(false);
    expect(mouse(h, 0xf4)).toEqual([0xfa]);
    expect(h.kbc.moveMouse(5, -3, 1)).toBe(true);
    expect(h.drain()).toEqual([0x29, 0x05, 0xfd]);
    h.kbc.moveMouse(300, -300, 6);
    expect(h.drain()).toEqual([0xee, 0xff, 0x00]); // both overflow bits, y negative, right and middle held
  });

  it("scales small motions 2:1 as the PS/2 mouse does", () => {
    const h = setup();
    mouse(h, 0xf4);
    mouse(h, 0xe7);
    const xs: number[] = [];
    for (const dx of [1, 2, 3, 4, 5, 6, -4]) {
      h.kbc.moveMouse(dx, 0, 0);
      const packet = h.drain();
      xs.push(packet[1] > 127 ? packet[1] - 256 : packet[1]);
    }
    expect(xs).toEqual([1, 1, 3, 6, 9, 12, -6]);
  });

  it("answers read-data (0xEB) in remote mode and sends no stream packets there", () => {
    const h = setup();
    mouse(h, 0xf4);
    mouse(h, 0xf0);
    expect(h.kbc.moveMouse(1, 1, 2)).toBe(false);
    expect(mouse(h, 0xeb)).toEqual([0xfa, 0x0a, 0x00, 0x00]);
    expect(mouse(h, 0xea)).toEqual([0xfa]);
    expect(h.kbc.moveMouse(1, 1, 0)).toBe(true);
  });

  it("echoes in wrap mode until 0xEC", () => {
    const h = setup();
    expect(mouse(h, 0xee)).toEqual([0xfa]);
    expect(mouse(h, 0x12)).toEqual([0x12]);
    expect(mouse(h, 0xf2)).toEqual([0xf2]);
    expect(mouse(h, 0xec)).toEqual([0xfa]);
    expect(mouse(h, 0xf2)).toEqual([0xfa, 0x00]);
  });

  it("resends and rejects unknown commands", () => {
    const h = setup();
    mouse(h, 0xf2);
    expect(mouse(h, 0xfe)).toEqual([0x00]);
    expect(mouse(h, 0x42)).toEqual([0xfe]);
    expect(mouse(h, 0xf6)).toEqual([0xfa]);
    expect(mouse(h, 0xf5)).toEqual([0xfa]);
  });

  it("holds mouse bytes while the aux interface is disabled", () => {
    const h = setup();
    h.command(0xa7);
    h.command(0xd4);
    h.data(0xf2);
    expect(h.drain()).toEqual([]);
    h.command(0xa8);
    expect(h.drain()).toEqual([0xfa, 0x00]);
  });
});

describe("I8042 snapshots", () => {
  it("round-trips its state through JSON mid-conversation", () => {
    const a = setup();
    a.setCommandByte(0x43);
    a.data(0xed); // keyboard waits for the LED byte
    a.kbc.typeText("ab");
    a.command(0xd4);
    a.data(0xf4);
    a.command(0xd1); // controller waits for the output port byte
    const b = setup();
    b.kbc.setState(JSON.parse(JSON.stringify(a.kbc.getState())) as I8042State);
    expect(b.irq1).toBe(a.irq1);
    for (const h of [a, b]) {
      h.data(0xdf);
      h.kbc.moveMouse(1, 2, 0);
    }
    expect(b.drain()).toEqual(a.drain());
    for (const h of [a, b]) h.data(0x04); // now the LED argument
    expect(b.drain()).toEqual(a.drain());
    expect(b.kbc.keyboardLeds).toBe(a.kbc.keyboardLeds);
  });

  it("sanitises a malformed snapshot and drives A20 to match", () => {
    const h = setup();
    h.kbc.setState({ outputPort: 0xdd, keyboard: null, mouse: "x" } as unknown as I8042State);
    expect(h.kbc.a20Enabled).toBe(false);
    expect(h.a20).toEqual([false]);
    expect(h.kbc.commandByte).toBe(0x03);
    h.kbc.setState(null as unknown as I8042State);
    expect(h.kbc.a20Enabled).toBe(true);
    h.data(0xf2);
    expect(h.drain()).toEqual([0xfa, 0xab, 0x83]);
  });
});

import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { I8042, type I8042State } from "./i8042.js";
import { I8042Config, I8042Status } from "./i8042-registers.js";
import { asciiKey, KEY_CODES, keyScancode } from "./scancodes.js";

function harness() {
  const h = {
    irq1: false,
    irq12: false,
    resets: 0,
    kbc: undefined as unknown as I8042,
    status(): number {
      const data = new Uint8Array(1);
      h.kbc.commandPort.read(0x64, 0, data);
      return data[0];
    },
    read(): number {
      const data = new Uint8Array(1);
      h.kbc.dataPort.read(0x60, 0, data);
      return data[0];
    },
    write(port: "data" | "command", value: number): void {
      (port === "data" ? h.kbc.dataPort : h.kbc.commandPort).write(0x60, 0, Uint8Array.of(value));
    },
  };
  h.kbc = new I8042({
    keyboardIrq: { set: (a) => (h.irq1 = a) },
    auxIrq: { set: (a) => (h.irq12 = a) },
    onReset: () => h.resets++,
  });
  return h;
}

type Op =
  | { kind: "write"; port: "data" | "command"; value: number }
  | { kind: "read"; port: "data" | "command"; width: number }
  | { kind: "key"; code: string; release: boolean }
  | { kind: "type"; text: string }
  | { kind: "mouse"; dx: number; dy: number; buttons: number }
  | { kind: "snapshot" }
  | { kind: "reset" };

const port = fc.constantFrom("data" as const, "command" as const);
const op: fc.Arbitrary<Op> = fc.oneof(
  {
    weight: 8,
    arbitrary: fc.record({
      kind: fc.constant("write" as const),
      port,
      // Bias towards the bytes that mean something to the controller and the devices.
      value: fc.oneof(
        fc.nat(255),
        fc.constantFrom(0x20, 0x60, 0xaa, 0xad, 0xae, 0xa7, 0xa8, 0xd1, 0xd2, 0xd3, 0xd4),
      ),
    }),
  },
  {
    weight: 6,
    arbitrary: fc.record({ kind: fc.constant("read" as const), port, width: fc.constantFrom(1, 2, 4, 8) }),
  },
  {
    weight: 2,
    arbitrary: fc.record({
      kind: fc.constant("key" as const),
      code: fc.oneof(fc.constantFrom(...KEY_CODES), fc.string()),
      release: fc.boolean(),
    }),
  },
  {
    weight: 1,
    arbitrary: fc.record({ kind: fc.constant("type" as const), text: fc.string({ maxLength: 8 }) }),
  },
  {
    weight: 1,
    arbitrary: fc.record({
      kind: fc.constant("mouse" as const),
      dx: fc.integer({ min: -1000, max: 1000 }),
      dy: fc.integer({ min: -1000, max: 1000 }),
      buttons: fc.nat(255),
    }),
  },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant("snapshot" as const) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant("reset" as const) }) },
);

function apply(h: ReturnType<typeof harness>, o: Op): void {
  switch (o.kind) {
    case "write":
      h.write(o.port, o.value);
      return;
    case "read":
      (o.port === "data" ? h.kbc.dataPort : h.kbc.commandPort).read(0x60, 0, new Uint8Array(o.width));
      return;
    case "key":
      if (o.release) h.kbc.releaseKey(o.code);
      else h.kbc.pressKey(o.code);
      return;
    case "type":
      h.kbc.typeText(o.text);
      return;
    case "mouse":
      h.kbc.moveMouse(o.dx, o.dy, o.buttons);
      return;
    case "snapshot":
      h.kbc.setState(JSON.parse(JSON.stringify(h.kbc.getState())) as I8042State);
      return;
    case "reset":
      h.kbc.reset();
  }
}

/** Turns set 1 scancodes back into text, tracking Shift. */
function decodeSet1(bytes: number[]): string {
  const byScancode = new Map<number, string>();
  for (const code of KEY_CODES) byScancode.set(keyScancode(code, 1) as number, code);
  const charByKey = new Map<string, string>();
  for (let c = 0; c < 0x80; c++) {
    const char = String.fromCharCode(c);
    const key = asciiKey(char);
    if (key !== undefined && char !== "\r") charByKey.set(`${key.code}/${key.shift}`, char);
  }
  let text = "";
  let shift = false;
  let extended = false;
  for (const byte of bytes) {
    if (byte === 0xe0) {
      extended = true;
      continue;
    }
    const code = byScancode.get((extended ? 0xe000 : 0) | (byte & 0x7f));
    extended = false;
    const release = (byte & 0x80) !== 0;
    if (code === "ShiftLeft") shift = !release;
    else if (!release && code !== undefined) text += charByKey.get(`${code}/${shift}`) ?? "?";
  }
  return text;
}

/** Set 2 to set 1, the way a translating controller would (used to check untranslated traffic). */
function set2ToSet1Codes(bytes: number[]): number[] {
  const bySet2 = new Map<number, number>();
  for (const code of KEY_CODES) bySet2.set(keyScancode(code, 2) as number, keyScancode(code, 1) as number);
  const out: number[] = [];
  let extended = false;
  let release = false;
  for (const byte of bytes) {
    if (byte === 0xe0) extended = true;
    else if (byte === 0xf0) release = true;
    else {
      const set1 = bySet2.get((extended ? 0xe000 : 0) | byte) as number;
      if (set1 > 0xff) out.push(0xe0);
      out.push((set1 & 0xff) | (release ? 0x80 : 0));
      extended = false;
      release = false;
    }
  }
  return out;
}

describe("I8042 properties", () => {
  it("survives random traffic with IRQ 1/12 following the output buffer and the command byte", () => {
    fc.assert(
      fc.property(fc.array(op, { maxLength: 100 }), (ops) => {
        const h = harness();
        for (const o of ops) {
          apply(h, o);
          const status = h.status();
          const full = (status & I8042Status.OutputFull) !== 0;
          const aux = (status & I8042Status.AuxData) !== 0;
          expect(status & I8042Status.InputFull).toBe(0);
          expect(h.irq1).toBe(full && !aux && (h.kbc.commandByte & I8042Config.KeyboardInterrupt) !== 0);
          expect(h.irq12).toBe(full && aux && (h.kbc.commandByte & I8042Config.AuxInterrupt) !== 0);
        }
        // A polling driver always drains the controller: nothing is stuck.
        h.write("command", 0xae);
        h.write("command", 0xa8);
        let reads = 0;
        while ((h.status() & I8042Status.OutputFull) !== 0 && reads < 1000) {
          h.read();
          reads++;
        }
        expect(reads).toBeLessThan(1000);
      }),
    );
  });

  it("delivers typed text intact, translated or not, while the guest reads at its own pace", () => {
    const printable = fc.constantFrom(
      ..."abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 `~!@#$%^&*()-_=+[{]}\\|;:'\",<.>/?\n\t",
    );
    fc.assert(
      fc.property(
        fc.array(printable, { maxLength: 60 }).map((chars) => chars.join("")),
        fc.boolean(),
        fc.array(fc.integer({ min: 1, max: 20 }), { minLength: 1, maxLength: 10 }),
        (text, translated, chunks) => {
          const h = harness();
          if (translated) {
            h.write("command", 0x60);
            h.write("data", 0x43);
          }
          const received: number[] = [];
          let typed = 0;
          for (let round = 0; typed < text.length || (h.status() & I8042Status.OutputFull) !== 0; round++) {
            typed += h.kbc.typeText(text.slice(typed));
            const chunk = chunks[round % chunks.length];
            for (let i = 0; i < chunk && (h.status() & I8042Status.OutputFull) !== 0; i++)
              received.push(h.read());
            if (round > 10_000) throw new Error("typing made no progress");
          }
          expect(decodeSet1(translated ? received : set2ToSet1Codes(received))).toBe(text);
        },
      ),
    );
  });
});

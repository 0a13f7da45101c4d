// The PC platform wired by buildPc, driven by real-mode programs in a ROM: interrupts from the PIT, the RTC
// and COM1 reaching the CPU through the PIC, resets, A20, the CMOS, and what unassigned ports read.
import { ExitReason } from "@tsvmm/kvm-api";
import { RoundRobinScheduler } from "@tsvmm/scheduler";
import { describe, expect, it, vi } from "vitest";
import { buildPc, type PcConfig } from "./index.js";
import { RealModeAssembler } from "./real-mode-asm.test-support.js";

const MiB = 1024 * 1024;
const EXIT_PORT = 0xf4;
const TICKS = 0x500;
const START = new Date("2024-02-29T23:59:50Z");

/** Resolves once the machine's run loop has gone to sleep on the host (the guest halted, nothing due). */
async function untilSleeping(machine: { machine: { stats: { idleSleeps: number } } }): Promise<void> {
  await vi.waitFor(
    () => {
      if (machine.machine.stats.idleSleeps === 0) throw new Error("the run loop has not slept yet");
    },
    { timeout: 10_000, interval: 1 },
  );
}

function pc(program: RealModeAssembler, config: Partial<PcConfig> = {}) {
  return buildPc({
    memoryBytes: 16 * MiB,
    firmware: program.rom(),
    debugExit: { iobase: EXIT_PORT, iosize: 1 },
    clock: { mode: "instructions" },
    rtcStartTime: START,
    ...config,
  });
}

/** The timer program: PIT channel 0 as a rate generator with `count`, IRQ 0 counted at [TICKS]. */
function timerProgram(count: number, ticks: number, idle: "hlt" | "spin"): RealModeAssembler {
  const a = new RealModeAssembler().flatDataAndStack();
  a.setVector(0x20, "irq0").initPics(0b1);
  a.outByte(0x43, 0x34)
    .outByte(0x40, count & 0xff)
    .outByte(0x40, count >> 8);
  a.sti().label("wait");
  if (idle === "hlt") a.hlt();
  a.cmpWord(TICKS, ticks).j("b", "wait");
  a.cli().loadAl(TICKS).outAl(EXIT_PORT);
  a.label("irq0").incWord(TICKS).pushAx().outByte(0x20, 0x20).popAx().iret();
  return a;
}

const PIT_HZ = 1_193_182;

describe("PIT IRQ 0 through the PIC", () => {
  it("reaches a halted CPU at the PIT's rate, deterministically on the instruction clock", async () => {
    const runOnce = async () => {
      const machine = pc(timerProgram(1193, 10, "hlt")); // 1 kHz
      const exit = await machine.run();
      return { machine, exit, now: machine.vm.clock.nowNs() };
    };
    const first = await runOnce();
    expect(first.exit).toEqual({ kind: "debug-exit", status: (10 << 1) | 1 });
    // The count loads one PIT clock after it is written, then OUT0 rises every 1193 clocks.
    const tenTicksNs = ((1 + 10 * 1193) * 1e9) / PIT_HZ;
    expect(first.now).toBeGreaterThanOrEqual(tenTicksNs);
    expect(first.now).toBeLessThan(tenTicksNs + 100_000);
    // The CPU halted between ticks and time jumped to each tick: no spinning through idle time.
    const stats = first.machine.machine.stats;
    expect(stats.interruptsInjected).toBe(10);
    expect(stats.idleSkips).toBe(10);
    expect(stats.idleSleeps).toBe(0);
    expect(first.machine.machine.exitCounts.get(ExitReason.HLT)).toBe(10);

    const second = await runOnce();
    expect(second.now).toBe(first.now);
    expect(second.machine.vm.listVcpus()[0].instructionCount).toBe(
      first.machine.vm.listVcpus()[0].instructionCount,
    );
  });

  it("interrupts a CPU that never halts on time: slices end at the next timer deadline", async () => {
    // 10 ns instructions: the scheduler's 200k-instruction slices would be 2 ms, two ticks long.
    const machine = pc(timerProgram(1193, 5, "spin"), {
      clock: { mode: "instructions", nsPerInstruction: 10 },
      scheduler: new RoundRobinScheduler({ timeslice: 200_000 }),
    });
    expect(await machine.run()).toEqual({ kind: "debug-exit", status: (5 << 1) | 1 });
    const now = machine.vm.clock.nowNs();
    // The fifth tick, plus the instructions from its delivery to the exit (well under 1 µs).
    expect(now).toBeGreaterThanOrEqual(((1 + 5 * 1193) * 1e9) / PIT_HZ);
    expect(now).toBeLessThan(((1 + 5 * 1193) * 1e9) / PIT_HZ + 1000);
    expect(machine.machine.stats.idleSkips + machine.machine.stats.idleSleeps).toBe(0);
  });

  it("sleeps on the host clock between ticks instead of spinning", async () => {
    const machine = pc(timerProgram(11932, 5, "hlt"), { clock: { mode: "host" } }); // 100 Hz
    const started = performance.now();
    expect(await machine.run()).toEqual({ kind: "debug-exit", status: (5 << 1) | 1 });
    expect(performance.now() - started).toBeGreaterThanOrEqual(45);
    const stats = machine.machine.stats;
    expect(stats.interruptsInjected).toBe(5);
    // Each tick is waited for once: by a sleep, or by a skip when a loaded host woke the loop after the tick was
    // due. A loop that spun would count thousands of skips.
    expect(stats.idleSleeps).toBeGreaterThanOrEqual(1);
    expect(stats.idleSleeps + stats.idleSkips).toBeGreaterThanOrEqual(5);
    expect(stats.idleSleeps + stats.idleSkips).toBeLessThan(20);
  });

  it("keeps a CPU halted with interrupts off halted, waiting for the host instead of the timers", async () => {
    const a = new RealModeAssembler().flatDataAndStack().setVector(0x20, "irq0").initPics(0b1);
    a.outByte(0x43, 0x34).outByte(0x40, 0xa9).outByte(0x40, 0x04).cli().hlt();
    a.label("irq0").outByte(EXIT_PORT, 0x55);
    const machine = pc(a);
    const run = machine.run();
    // Once halted, the PIT ticks on (1 ms) for 50 ms of host time without waking it.
    await untilSleeping(machine);
    await new Promise((resolve) => setTimeout(resolve, 50));
    machine.machine.requestExit({ kind: "stopped" });
    expect(await run).toEqual({ kind: "stopped" });
    expect(machine.machine.stats.interruptsInjected).toBe(0);
    expect(machine.machine.stats.idleSkips).toBe(0);
    expect(machine.machine.stats.idleSleeps).toBe(1);
  });
});

describe("other interrupt sources", () => {
  it("delivers the RTC's periodic interrupt through the slave PIC (IRQ 8 via the cascade)", async () => {
    const a = new RealModeAssembler().flatDataAndStack().setVector(0x28, "irq8");
    a.initPics((1 << 2) | (1 << 8));
    a.outByte(0x70, 0x0b).outByte(0x71, 0x42); // register B: PIE, 24-hour; register A keeps 1024 Hz
    a.sti().label("wait").hlt().cmpWord(TICKS, 8).j("b", "wait");
    a.cli().loadAl(TICKS).outAl(EXIT_PORT);
    a.label("irq8").incWord(TICKS).pushAx();
    a.outByte(0x70, 0x0c).inAl(0x71); // reading register C acknowledges the RTC
    a.outByte(0xa0, 0x20).outByte(0x20, 0x20).popAx().iret();
    const machine = pc(a);
    expect(await machine.run()).toEqual({ kind: "debug-exit", status: (8 << 1) | 1 });
    const now = machine.vm.clock.nowNs();
    expect(now).toBeGreaterThanOrEqual((8 * 1e9) / 1024 - 1e9 / 1024);
    expect(now).toBeLessThan((9 * 1e9) / 1024);
    expect(machine.machine.stats.interruptsInjected).toBe(8);
  });

  it("wakes a halted CPU for COM1 input (IRQ 4) sent by the host while it sleeps", async () => {
    const a = new RealModeAssembler()
      .flatDataAndStack()
      .setVector(0x24, "irq4")
      .initPics(1 << 4);
    a.outByte(0x43, 0x30); // PIT channel 0 to mode 0 without a count: no more ticks
    a.outByte(0x3f9, 0x01).outByte(0x3fc, 0x08); // IER: received data; MCR: OUT2 gates the IRQ
    a.sti().label("wait").hlt().cmpWord(TICKS, 3).j("b", "wait");
    a.cli().outByte(EXIT_PORT, 0);
    a.label("irq4").pushAx().inAl(0x3f8).outAl(0x3f8).incWord(TICKS).outByte(0x20, 0x20).popAx().iret();
    const output: number[] = [];
    const machine = pc(a, { clock: { mode: "host" }, serial: { transmit: (b) => output.push(b) } });
    setTimeout(() => machine.sendSerialInput(new TextEncoder().encode("a")), 20);
    setTimeout(() => machine.sendSerialInput(new TextEncoder().encode("bc")), 40);
    expect(await machine.run()).toEqual({ kind: "debug-exit", status: 1 });
    expect(String.fromCharCode(...output)).toBe("abc");
    expect(machine.machine.stats.idleSleeps).toBeLessThan(10);
  });
});

describe("keyboard and mouse interrupts", () => {
  it("delivers the i8042's keyboard bytes on IRQ 1 and mouse bytes on IRQ 12 (through the cascade)", async () => {
    const KEYS = 0x600;
    const MOUSE = 0x610;
    const a = new RealModeAssembler().flatDataAndStack();
    a.setVector(0x21, "irq1")
      .setVector(0x2c, "irq12")
      .initPics((1 << 1) | (1 << 2) | (1 << 12));
    a.outByte(0x64, 0xd4).outByte(0x60, 0xf4); // to the mouse: enable reporting (it answers 0xFA)
    a.sti().label("wait").hlt();
    a.cmpByte(KEYS, 3).j("b", "wait").cmpByte(MOUSE, 1).j("b", "wait");
    a.cli().outByte(EXIT_PORT, 0);
    // Each handler stores the byte after its count, then counts it: [count, byte, byte, ...].
    for (const [label, counter, eoiSlave] of [
      ["irq1", KEYS, false],
      ["irq12", MOUSE, true],
    ] as const) {
      a.label(label).pushAx().bytes(0x53); // push bx
      a.bytes(0x8b, 0x1e).bytes(counter & 0xff, counter >> 8); // mov bx,[counter]
      a.bytes(0x81, 0xe3, 0xff, 0x00); // and bx,0xff
      a.inAl(0x60)
        .bytes(0x88, 0x87)
        .bytes((counter + 1) & 0xff, (counter + 1) >> 8); // mov [bx+counter+1],al
      a.incByte(counter);
      if (eoiSlave) a.outByte(0xa0, 0x20);
      a.outByte(0x20, 0x20).bytes(0x5b).popAx().iret(); // pop bx
    }
    // The key comes once the guest waits for it: an IRQ already high when the PIC is initialised makes no
    // edge (the 8259 needs the line to fall and rise again), as on a real PC.
    const machine = pc(a, { clock: { mode: "host" } });
    const run = machine.run();
    await untilSleeping(machine);
    const typed = machine.devices.keyboardController.typeText("a");
    expect(await run).toEqual({ kind: "debug-exit", status: 1 });
    expect(typed).toBe(1);
    const memory = machine.vm.memory;
    const bytes = (at: number, n: number) => Array.from({ length: n }, (_, i) => memory.readU8(at + i));
    expect(bytes(KEYS, 4)).toEqual([3, 0x1c, 0xf0, 0x1c]); // "a" in scancode set 2: make, break
    expect(bytes(MOUSE, 2)).toEqual([1, 0xfa]); // the mouse's acknowledgement
  });
});

/** Counts boots in RAM at 0x500 (RAM survives a reset) and requests a reset with `resetCode` until the third. */
function rebootingProgram(resetCode: (a: RealModeAssembler) => void): RealModeAssembler {
  const a = new RealModeAssembler().flatDataAndStack().incByte(0x500).cmpByte(0x500, 3).j("e", "done");
  resetCode(a);
  a.label("hang").hlt().jmp("hang");
  a.label("done").outByte(EXIT_PORT, 3);
  return a;
}

describe("resets", () => {
  const resetSources: Array<[string, (a: RealModeAssembler) => void]> = [
    ["the i8042's reset pulse (command 0xFE)", (a) => a.outByte(0x64, 0xfe)],
    [
      "the i8042's output port with bit 0 low (command 0xD1)",
      (a) => a.outByte(0x64, 0xd1).outByte(0x60, 0x02),
    ],
    ["port 0x92's fast reset bit", (a) => a.inAl(0x92).orAl(0x01).outAl(0x92)],
  ];
  for (const [name, resetCode] of resetSources) {
    it(`resets the machine on ${name}, or ends the run with -no-reboot`, async () => {
      const machine = pc(rebootingProgram(resetCode));
      expect(await machine.run()).toEqual({ kind: "debug-exit", status: 7 });
      expect(machine.vm.memory.readU8(0x500)).toBe(3);
      expect(machine.machine.stats.resets).toBe(2);

      const noReboot = pc(rebootingProgram(resetCode), { noReboot: true });
      expect(await noReboot.run()).toEqual({ kind: "shutdown" });
      expect(noReboot.vm.memory.readU8(0x500)).toBe(1);
      expect(noReboot.machine.stats.resets).toBe(0);
    });
  }

  it("returns the devices to their power-on state on reset", async () => {
    // First boot: mask every IRQ, set port 0x61's gate and port 0x92's A20 bit, then reset; the second boot
    // records what it finds.
    const a = new RealModeAssembler().flatDataAndStack().incByte(0x500).cmpByte(0x500, 2).j("e", "second");
    a.outByte(0x21, 0xff).outByte(0x61, 0x01).outByte(0x92, 0x02).outByte(0x64, 0xfe);
    a.label("hang").hlt().jmp("hang");
    a.label("second").inAl(0x21).storeAl(0x600).inAl(0x61).storeAl(0x601).inAl(0x92).storeAl(0x602);
    a.outByte(EXIT_PORT, 0);
    const machine = pc(a);
    expect(await machine.run()).toEqual({ kind: "debug-exit", status: 1 });
    const memory = machine.vm.memory;
    expect(memory.readU8(0x600)).toBe(0); // IMR cleared
    expect(memory.readU8(0x601) & 0x0f).toBe(0);
    expect(memory.readU8(0x602)).toBe(0);
    expect(machine.devices.a20.enabled).toBe(true); // the i8042 turns A20 back on
  });
});

describe("A20", () => {
  it("follows the OR of the i8042's output port and port 0x92", async () => {
    // FFFF:xxxx addresses 1 MiB + xxxx - 0x10: with A20 masked the write wraps to xxxx - 0x10.
    const a = new RealModeAssembler().flatDataAndStack().mov("ax", 0xffff).movSegmentFromAx("es");
    a.storeByte(0x0510, 0x11, "es"); // power-on: the i8042 enables A20
    a.outByte(0x64, 0xdd).storeByte(0x0520, 0x22, "es"); // i8042 A20 off, port 0x92 off: masked
    a.outByte(0x92, 0x02).storeByte(0x0530, 0x33, "es"); // port 0x92 on
    a.outByte(0x92, 0x00).storeByte(0x0540, 0x44, "es"); // both off again
    a.outByte(0x64, 0xd1).outByte(0x60, 0x03).storeByte(0x0550, 0x55, "es"); // output port: A20 on, no reset
    a.outByte(EXIT_PORT, 0);
    const machine = pc(a);
    expect(await machine.run()).toEqual({ kind: "debug-exit", status: 1 });
    const memory = machine.vm.memory;
    const at = (address: number) => memory.readU8(address);
    expect([at(0x100500), at(0x500)]).toEqual([0x11, 0]);
    expect([at(0x100510), at(0x510)]).toEqual([0, 0x22]);
    expect([at(0x100520), at(0x520)]).toEqual([0x33, 0]);
    expect([at(0x100530), at(0x530)]).toEqual([0, 0x44]);
    expect([at(0x100540), at(0x540)]).toEqual([0x55, 0]);
    expect(machine.devices.a20.enabled).toBe(true);
  });
});

describe("RTC and CMOS", () => {
  it("reads the start time and the RAM sizes through ports 0x70/0x71", async () => {
    const indexes = [
      0x00, 0x02, 0x04, 0x07, 0x08, 0x09, 0x32, 0x0b, 0x0d, 0x15, 0x16, 0x17, 0x18, 0x34, 0x35,
    ];
    const a = new RealModeAssembler().flatDataAndStack();
    indexes.forEach((index, i) => {
      a.outByte(0x70, index)
        .inAl(0x71)
        .storeAl(0x600 + i);
    });
    a.outByte(EXIT_PORT, 0);
    const machine = pc(a, { memoryBytes: 64 * MiB });
    expect(await machine.run()).toEqual({ kind: "debug-exit", status: 1 });
    const bytes = indexes.map((_, i) => machine.vm.memory.readU8(0x600 + i));
    expect(bytes).toEqual([
      ...[0x50, 0x59, 0x23, 0x29, 0x02, 0x24, 0x20], // 2024-02-29 23:59:50 in BCD
      0x02, // register B: 24-hour, BCD
      0x80, // register D: battery good
      0x80,
      0x02, // 640 KiB base memory
      0x00,
      0xfc, // 63 MiB (64512 KiB) above 1 MiB
      0x00,
      0x03, // 48 MiB above 16 MiB in 64 KiB units
    ]);
  });

  it("keeps time on the VM's clock", async () => {
    // Wait for the RTC's update-ended flag twice (polling register C), then read the seconds.
    const a = new RealModeAssembler().flatDataAndStack();
    for (let i = 0; i < 2; i++) {
      a.label(`poll${i}`).outByte(0x70, 0x0c).inAl(0x71).bytes(0xa8, 0x10).j("e", `poll${i}`); // test al,UF
    }
    a.outByte(0x70, 0x00).inAl(0x71).outAl(EXIT_PORT);
    const machine = pc(a, { clock: { mode: "instructions", nsPerInstruction: 4000 } });
    // 23:59:50 plus two update cycles: 52 seconds (BCD 0x52).
    expect(await machine.run()).toEqual({ kind: "debug-exit", status: ((0x52 << 1) | 1) >>> 0 });
    expect(machine.vm.clock.nowNs()).toBeGreaterThanOrEqual(2e9);
    expect(machine.devices.rtc.getTime().toISOString()).toBe("2024-02-29T23:59:52.000Z");
  });
});

describe("the PC's port map", () => {
  it("maps each device at its standard ports and reads 0xFF where nothing answers", async () => {
    const a = new RealModeAssembler().flatDataAndStack();
    a.inAl(0x99).storeAl(0x600); // unassigned byte
    a.inWide(0x2f0, 2).storeAx(0x602); // unassigned word
    a.inWide(0x2f0, 4).storeAx(0x604, 4); // unassigned doubleword
    a.outByte(0x21, 0xa5).inAl(0x21).storeAl(0x608); // master IMR
    a.outByte(0xa1, 0x5a).inAl(0xa1).storeAl(0x609); // slave IMR
    a.outByte(0x4d0, 0xf8).inAl(0x4d0).storeAl(0x60a); // ELCR1
    a.outByte(0x4d1, 0xde).inAl(0x4d1).storeAl(0x60b); // ELCR2
    a.outByte(0x61, 0x03).inAl(0x61).storeAl(0x60c); // port 0x61: gate and speaker bits read back
    a.inAl(0x64).storeAl(0x60d); // i8042 status
    a.outByte(0x92, 0x02).inAl(0x92).storeAl(0x60e); // port 0x92
    a.outByte(0x43, 0x00).inAl(0x40).storeAl(0x60f); // PIT: latch channel 0, low byte
    a.outByte(EXIT_PORT, 0);
    const machine = pc(a);
    expect(await machine.run()).toEqual({ kind: "debug-exit", status: 1 });
    const memory = machine.vm.memory;
    expect(memory.readU8(0x600)).toBe(0xff);
    expect(memory.readU16(0x602)).toBe(0xffff);
    expect(memory.readU32(0x604) >>> 0).toBe(0xffffffff);
    expect([0x608, 0x609, 0x60a, 0x60b].map((x) => memory.readU8(x))).toEqual([0xa5, 0x5a, 0xf8, 0xde]);
    expect(memory.readU8(0x60c) & 0x0f).toBe(0x03);
    expect(memory.readU8(0x60d) & 0x10).toBe(0x10); // keyboard not inhibited
    expect(memory.readU8(0x60e)).toBe(0x02);
    expect(memory.readU8(0x60f)).not.toBe(0xff);
    expect(machine.machine.pio.deviceAt(0x70)).toBe("rtc (mc146818)");
    expect(machine.machine.pio.deviceAt(0x43)).toBe("pit (8254)");
  });

  it("builds the same devices for -machine isapc and records the type", () => {
    const rom = new RealModeAssembler().outByte(EXIT_PORT, 0).rom();
    const isa = buildPc({ memoryBytes: 16 * MiB, firmware: rom, machineType: "isapc" });
    const full = buildPc({ memoryBytes: 16 * MiB, firmware: rom });
    expect(isa.machineType).toBe("isapc");
    expect(full.machineType).toBe("pc");
    for (const port of [0x20, 0xa0, 0x4d0, 0x40, 0x61, 0x60, 0x64, 0x70, 0x92]) {
      expect(isa.machine.pio.deviceAt(port)).toBe(full.machine.pio.deviceAt(port));
      expect(full.machine.pio.deviceAt(port)).toBeDefined();
    }
  });
});

// The PC's motherboard devices (what QEMU's pc and isapc machines have on their ISA bus), each attached by one
// function: at its standard ports, with its interrupt line, its timer deadlines and its reset.
import {
  I8042,
  Mc146818Rtc,
  PcSpeakerPort,
  Pic8259Pair,
  Pit8254,
  Port92,
  writePcCmosConfig,
} from "@tsvmm/device-model";
import type { Vcpu, Vm } from "@tsvmm/kvm-api";
import type { Machine } from "./machine.js";

/** The ISA interrupt lines of the PC's devices. */
export const PC_IRQ = {
  timer: 0,
  keyboard: 1,
  /** The slave PIC's cascade into the master. */
  cascade: 2,
  com1: 4,
  rtc: 8,
  mouse: 12,
} as const;

/** The sources the chipset ORs into the CPU's A20 gate. */
export const A20_SOURCE = {
  keyboardController: 1,
  port92: 2,
} as const;

/** The A20 gate: address bit 20 passes while any source enables it (the i8042's output port OR port 0x92). */
export class A20Gate {
  private sources = 0;
  private driven: boolean | undefined;

  constructor(private readonly vm: Vm) {}

  /** Whether address bit 20 reaches memory. */
  get enabled(): boolean {
    return this.sources !== 0;
  }

  /** One source's level (`source` from A20_SOURCE). */
  set(source: number, enabled: boolean): void {
    this.sources = enabled ? this.sources | source : this.sources & ~source;
    const now = this.sources !== 0;
    if (now !== this.driven) {
      this.driven = now;
      this.vm.setA20(now);
    }
  }
}

/**
 * The 8259A pair: master at 0x20, slave at 0xA0, the ELCR at 0x4D0. The machine's interrupt lines drive its
 * inputs and its INTR output drives `vcpu` (the boot vCPU). Edge requests stay latched until INTA, as in QEMU
 * and KVM, whose devices and guests assume it.
 */
export function attachPic(machine: Machine, vcpu: Vcpu): Pic8259Pair {
  const pic = new Pic8259Pair({
    latchEdgeRequests: true,
    intr: {
      set: (asserted) => {
        if (asserted) machine.wake();
      },
    },
  });
  machine.pio.insert(pic.master, 0x20, 2, "pic (master 8259A)");
  machine.pio.insert(pic.slave, 0xa0, 2, "pic (slave 8259A)");
  machine.pio.insert(pic.elcr, 0x4d0, 2, "elcr");
  machine.irqs.onChange((line, asserted) => pic.setIrq(line, asserted));
  machine.connectInterruptController(pic, vcpu);
  machine.addResetHandler(() => pic.reset());
  return pic;
}

/** The 8254 PIT at 0x40-0x43, counting on the VM's clock; channel 0 drives IRQ 0. */
export function attachPit(machine: Machine): Pit8254 {
  const pit = new Pit8254({ clock: machine.vm.clock, irq0: machine.irqs.line(PC_IRQ.timer) });
  machine.pio.insert(pit, 0x40, 4, "pit (8254)");
  machine.addTimer(pit);
  machine.addResetHandler(() => pit.reset());
  return pit;
}

/** System control port B at 0x61: the PIT's channel 2 gate and the speaker, OUT2 and the refresh toggle. */
export function attachSpeakerPort(machine: Machine, pit: Pit8254): PcSpeakerPort {
  const port = new PcSpeakerPort({ pit });
  machine.pio.insert(port, 0x61, 1, "port 0x61 (system control port B)");
  machine.addResetHandler(() => port.reset());
  return port;
}

/**
 * The MC146818 RTC and CMOS at 0x70-0x71 (IRQ 8), on the VM's clock, showing `startTime` at power-on; the CMOS
 * holds the configuration a BIOS would store (RAM sizes, CPU count) with its checksum.
 */
export function attachRtc(machine: Machine, memoryBytes: number, startTime: Date): Mc146818Rtc {
  const rtc = new Mc146818Rtc({ irq: machine.irqs.line(PC_IRQ.rtc), clock: machine.vm.clock, startTime });
  writePcCmosConfig(rtc, { ramBelow4GiB: memoryBytes, cpus: machine.vm.listVcpus().length });
  machine.pio.insert(rtc, 0x70, 2, "rtc (mc146818)");
  machine.addTimer(rtc);
  machine.addResetHandler(() => rtc.reset());
  return rtc;
}

/**
 * The i8042 keyboard controller with its PS/2 keyboard (IRQ 1) and mouse (IRQ 12): data at 0x60, command and
 * status at 0x64. Its output port drives A20 and the CPU reset line.
 */
export function attachKeyboardController(machine: Machine, a20: A20Gate): I8042 {
  const kbc = new I8042({
    keyboardIrq: machine.irqs.line(PC_IRQ.keyboard),
    auxIrq: machine.irqs.line(PC_IRQ.mouse),
    onA20: (enabled) => a20.set(A20_SOURCE.keyboardController, enabled),
    onReset: () => machine.requestReset(),
  });
  a20.set(A20_SOURCE.keyboardController, kbc.a20Enabled);
  machine.pio.insert(kbc.dataPort, 0x60, 1, "i8042 (data)");
  machine.pio.insert(kbc.commandPort, 0x64, 1, "i8042 (command/status)");
  machine.addResetHandler(() => kbc.reset());
  return kbc;
}

/** System control port A at 0x92: fast A20 and the fast reset bit. */
export function attachPort92(machine: Machine, a20: A20Gate): Port92 {
  const port = new Port92({
    onA20: (enabled) => a20.set(A20_SOURCE.port92, enabled),
    onReset: () => machine.requestReset(),
  });
  a20.set(A20_SOURCE.port92, port.a20Enabled);
  machine.pio.insert(port, 0x92, 1, "port 0x92 (system control port A)");
  machine.addResetHandler(() => port.reset());
  return port;
}

import { describe, expect, it } from "vitest";
import { Serial16550, type Serial16550State } from "./serial-16550.js";
import { Fcr, Ier, Iir, Lcr, Lsr, Mcr, Msr, UartRegister as R } from "./serial-16550-registers.js";

const BASE = 0x3f8;

function makeUart() {
  const sent: number[] = [];
  const irqEvents: boolean[] = [];
  let irqLevel = false;
  const uart = new Serial16550({
    irq: {
      set(asserted) {
        irqLevel = asserted;
        irqEvents.push(asserted);
      },
    },
    transmit: (byte) => sent.push(byte),
  });
  const cell = new Uint8Array(1);
  const rd = (offset: number): number => {
    cell[0] = 0x5a;
    uart.read(BASE, offset, cell);
    return cell[0];
  };
  const wr = (offset: number, value: number): void => {
    cell[0] = value;
    uart.write(BASE, offset, cell);
  };
  const recv = (...bytes: number[]): number => uart.receive(Uint8Array.from(bytes));
  return { uart, rd, wr, recv, sent, irqEvents, irq: () => irqLevel };
}

describe("Serial16550 power-on state", () => {
  it("reads the datasheet reset values", () => {
    const { rd } = makeUart();
    expect(rd(R.InterruptEnable)).toBe(0);
    expect(rd(R.InterruptIdFifoControl)).toBe(Iir.NoInterrupt);
    expect(rd(R.LineControl)).toBe(0);
    expect(rd(R.ModemControl)).toBe(0);
    expect(rd(R.LineStatus)).toBe(Lsr.TransmitterHoldingEmpty | Lsr.TransmitterEmpty);
    expect(rd(R.ModemStatus)).toBe(Msr.ClearToSend | Msr.DataSetReady | Msr.DataCarrierDetect);
    expect(rd(R.Scratch)).toBe(0);
  });

  it("starts with the divisor latch at 12 (9600 baud)", () => {
    const { rd, wr } = makeUart();
    wr(R.LineControl, Lcr.DivisorLatchAccess);
    expect(rd(0)).toBe(12);
    expect(rd(1)).toBe(0);
  });
});

describe("Serial16550 simple registers", () => {
  it("SCR holds any byte", () => {
    const { rd, wr } = makeUart();
    for (const v of [0, 1, 0x55, 0xaa, 0xff]) {
      wr(R.Scratch, v);
      expect(rd(R.Scratch)).toBe(v);
    }
  });

  it("LCR holds all eight bits", () => {
    const { rd, wr } = makeUart();
    wr(R.LineControl, 0x7f);
    expect(rd(R.LineControl)).toBe(0x7f);
    wr(R.LineControl, 0xff);
    expect(rd(R.LineControl)).toBe(0xff);
  });

  it("IER keeps bits 0-3 only", () => {
    const { rd, wr } = makeUart();
    wr(R.InterruptEnable, 0xff);
    expect(rd(R.InterruptEnable)).toBe(0x0f);
  });

  it("MCR keeps bits 0-4 only", () => {
    const { rd, wr } = makeUart();
    wr(R.ModemControl, 0xef);
    expect(rd(R.ModemControl)).toBe(0x0f);
  });

  it("ignores writes to LSR and MSR", () => {
    const { rd, wr } = makeUart();
    wr(R.LineStatus, 0xff);
    wr(R.ModemStatus, 0x0f);
    expect(rd(R.LineStatus)).toBe(0x60);
    expect(rd(R.ModemStatus)).toBe(0xb0);
  });

  it("aliases offsets above 7 onto A0-A2", () => {
    const { uart, rd } = makeUart();
    const data = Uint8Array.of(0x42);
    uart.write(BASE, 15, data);
    expect(rd(R.Scratch)).toBe(0x42);
  });

  it("treats wider accesses through the low byte and reads zeros above it", () => {
    const { uart, rd } = makeUart();
    uart.write(BASE, R.Scratch, Uint8Array.of(0x34, 0x12, 0x99, 0x88));
    expect(rd(R.Scratch)).toBe(0x34);
    const wide = new Uint8Array(8).fill(0xee);
    uart.read(BASE, R.Scratch, wide);
    expect([...wide]).toEqual([0x34, 0, 0, 0, 0, 0, 0, 0]);
  });

  it("ignores zero-length accesses", () => {
    const { uart, rd, sent } = makeUart();
    uart.write(BASE, R.Data, new Uint8Array(0));
    uart.read(BASE, R.Data, new Uint8Array(0));
    expect(sent).toEqual([]);
    expect(rd(R.LineStatus)).toBe(0x60);
  });
});

describe("Serial16550 divisor latch (DLAB)", () => {
  it("maps offsets 0 and 1 to DLL and DLM while LCR.DLAB is set", () => {
    const { rd, wr, sent } = makeUart();
    wr(R.InterruptEnable, 0x05);
    wr(R.LineControl, Lcr.DivisorLatchAccess | 0x03);
    wr(0, 0x01);
    wr(1, 0x02);
    expect(rd(0)).toBe(0x01);
    expect(rd(1)).toBe(0x02);
    expect(sent).toEqual([]); // DLL write is not a transmission
    wr(R.LineControl, 0x03);
    expect(rd(R.InterruptEnable)).toBe(0x05); // IER untouched by the DLM write
    wr(R.LineControl, Lcr.DivisorLatchAccess);
    expect(rd(0)).toBe(0x01);
    expect(rd(1)).toBe(0x02);
  });

  it("does not consume received data when DLL is read", () => {
    const { rd, wr, recv } = makeUart();
    recv(0x41);
    wr(R.LineControl, Lcr.DivisorLatchAccess);
    expect(rd(0)).toBe(12);
    wr(R.LineControl, 0);
    expect(rd(R.LineStatus) & Lsr.DataReady).toBe(Lsr.DataReady);
    expect(rd(R.Data)).toBe(0x41);
  });
});

describe("Serial16550 transmit and receive", () => {
  it("sends THR writes to transmit() and keeps THRE/TEMT set", () => {
    const { rd, wr, sent } = makeUart();
    for (const b of [0x48, 0x69, 0x00, 0xff]) wr(R.Data, b);
    expect(sent).toEqual([0x48, 0x69, 0x00, 0xff]);
    expect(rd(R.LineStatus)).toBe(Lsr.TransmitterHoldingEmpty | Lsr.TransmitterEmpty);
  });

  it("sets DR while data is held and returns the last byte when RX is empty", () => {
    const { rd, recv } = makeUart();
    expect(rd(R.Data)).toBe(0); // nothing received yet
    expect(recv(0x61)).toBe(1);
    expect(rd(R.LineStatus) & Lsr.DataReady).toBe(Lsr.DataReady);
    expect(rd(R.Data)).toBe(0x61);
    expect(rd(R.LineStatus) & Lsr.DataReady).toBe(0);
    expect(rd(R.Data)).toBe(0x61);
    expect(rd(R.Data)).toBe(0x61);
  });

  it("accepts one byte at a time without FIFOs (back-pressure)", () => {
    const { uart, rd, recv } = makeUart();
    expect(uart.rxSpace()).toBe(1);
    expect(recv(1, 2, 3)).toBe(1);
    expect(uart.rxSpace()).toBe(0);
    expect(recv(2, 3)).toBe(0);
    expect(rd(R.Data)).toBe(1);
    expect(recv(2, 3)).toBe(1);
    expect(rd(R.Data)).toBe(2);
    expect(rd(R.LineStatus) & Lsr.OverrunError).toBe(0);
  });

  it("accepts up to the free FIFO space with FIFOs on (back-pressure)", () => {
    const { uart, rd, wr } = makeUart();
    wr(R.InterruptIdFifoControl, Fcr.EnableFifos);
    expect(uart.rxSpace()).toBe(16);
    const input = Uint8Array.from({ length: 20 }, (_, i) => i + 100);
    expect(uart.receive(input)).toBe(16);
    expect(uart.rxSpace()).toBe(0);
    expect(uart.receive(input.subarray(16))).toBe(0);
    for (let i = 0; i < 3; i++) expect(rd(R.Data)).toBe(100 + i);
    expect(uart.rxSpace()).toBe(3);
    expect(uart.receive(input.subarray(16))).toBe(3);
    const out: number[] = [];
    while (rd(R.LineStatus) & Lsr.DataReady) out.push(rd(R.Data));
    expect(out).toEqual([...input.subarray(3, 19)]);
    expect(rd(R.LineStatus) & Lsr.OverrunError).toBe(0);
  });
});

describe("Serial16550 FIFO control", () => {
  it("reports FIFOs enabled in IIR bits 6-7", () => {
    const { rd, wr } = makeUart();
    wr(R.InterruptIdFifoControl, Fcr.EnableFifos);
    expect(rd(R.InterruptIdFifoControl)).toBe(Iir.FifosEnabled | Iir.NoInterrupt);
    wr(R.InterruptIdFifoControl, 0);
    expect(rd(R.InterruptIdFifoControl)).toBe(Iir.NoInterrupt);
  });

  it("RX reset empties the receive FIFO and keeps FIFOs on", () => {
    const { uart, rd, wr, recv } = makeUart();
    wr(R.InterruptIdFifoControl, Fcr.EnableFifos);
    recv(1, 2, 3);
    wr(R.InterruptIdFifoControl, Fcr.EnableFifos | Fcr.ResetReceiveFifo);
    expect(rd(R.LineStatus) & Lsr.DataReady).toBe(0);
    expect(uart.rxSpace()).toBe(16);
    expect(rd(R.InterruptIdFifoControl) & Iir.FifosEnabled).toBe(Iir.FifosEnabled);
  });

  it("TX reset does not disturb transmission", () => {
    const { rd, wr, sent } = makeUart();
    wr(R.InterruptIdFifoControl, Fcr.EnableFifos | Fcr.ResetTransmitFifo);
    wr(R.Data, 0x33);
    expect(sent).toEqual([0x33]);
    expect(rd(R.LineStatus) & 0x60).toBe(0x60);
  });

  it("ignores reset bits written without FCR0", () => {
    const { rd, wr, recv } = makeUart();
    recv(0x44);
    wr(R.InterruptIdFifoControl, Fcr.ResetReceiveFifo | Fcr.Trigger14);
    expect(rd(R.LineStatus) & Lsr.DataReady).toBe(Lsr.DataReady);
    expect(rd(R.Data)).toBe(0x44);
  });

  it("switching FIFO mode on or off empties the receiver", () => {
    const { uart, rd, wr, recv } = makeUart();
    recv(0x44);
    wr(R.InterruptIdFifoControl, Fcr.EnableFifos);
    expect(rd(R.LineStatus) & Lsr.DataReady).toBe(0);
    recv(1, 2);
    wr(R.InterruptIdFifoControl, Fcr.EnableFifos); // no mode change: bytes stay
    expect(uart.getState().rxBytes).toEqual([1, 2]);
    wr(R.InterruptIdFifoControl, 0);
    expect(rd(R.LineStatus) & Lsr.DataReady).toBe(0);
    expect(uart.rxSpace()).toBe(1);
  });

  it.each([
    [Fcr.Trigger1, 1],
    [Fcr.Trigger4, 4],
    [Fcr.Trigger8, 8],
    [Fcr.Trigger14, 14],
  ])("FCR trigger bits %#x raise received-data-available at %i bytes", (bits, level) => {
    const { rd, wr, recv, irq } = makeUart();
    wr(R.InterruptIdFifoControl, Fcr.EnableFifos | bits);
    wr(R.InterruptEnable, Ier.ReceivedDataAvailable);
    wr(R.ModemControl, Mcr.Out2);
    for (let i = 1; i < level; i++) {
      recv(i);
      // Below the trigger level: only the character timeout, raised at the end of the receive() call.
      expect(rd(R.InterruptIdFifoControl)).toBe(0xc0 | Iir.CharacterTimeout);
    }
    recv(level);
    expect(rd(R.InterruptIdFifoControl)).toBe(0xc0 | Iir.ReceivedDataAvailable);
    expect(irq()).toBe(true);
    rd(R.Data); // drops below the trigger level (or empties it)
    expect(rd(R.InterruptIdFifoControl)).toBe(0xc0 | Iir.NoInterrupt);
    expect(irq()).toBe(false);
  });
});

describe("Serial16550 character timeout", () => {
  function withFifo(trigger: number) {
    const u = makeUart();
    u.wr(R.InterruptIdFifoControl, Fcr.EnableFifos | trigger);
    u.wr(R.InterruptEnable, Ier.ReceivedDataAvailable);
    u.wr(R.ModemControl, Mcr.Out2);
    return u;
  }

  it("is raised at the end of receive() for bytes below the trigger level and cleared by reading RBR", () => {
    const { rd, recv, irq } = withFifo(Fcr.Trigger4);
    recv(1, 2);
    expect(irq()).toBe(true);
    expect(rd(R.InterruptIdFifoControl)).toBe(0xcc);
    expect(rd(R.InterruptIdFifoControl)).toBe(0xcc); // reading IIR does not clear it
    expect(rd(R.Data)).toBe(1);
    expect(irq()).toBe(false);
    expect(rd(R.InterruptIdFifoControl)).toBe(0xc1);
    expect(rd(R.LineStatus) & Lsr.DataReady).toBe(Lsr.DataReady);
  });

  it("is raised again by an empty receive() call (host idle tick)", () => {
    const { uart, rd, recv } = withFifo(Fcr.Trigger8);
    recv(1, 2, 3);
    rd(R.Data);
    expect(rd(R.InterruptIdFifoControl)).toBe(0xc1);
    expect(uart.receive(new Uint8Array(0))).toBe(0);
    expect(rd(R.InterruptIdFifoControl)).toBe(0xcc);
  });

  it("is not raised with an empty FIFO, without FIFOs, or with ERBFI clear", () => {
    const noFifo = makeUart();
    noFifo.wr(R.InterruptEnable, Ier.ReceivedDataAvailable);
    noFifo.recv(7);
    expect(noFifo.rd(R.InterruptIdFifoControl)).toBe(Iir.ReceivedDataAvailable);

    const empty = withFifo(Fcr.Trigger4);
    empty.uart.receive(new Uint8Array(0));
    expect(empty.rd(R.InterruptIdFifoControl)).toBe(0xc1);

    const disabled = withFifo(Fcr.Trigger4);
    disabled.wr(R.InterruptEnable, 0);
    disabled.recv(1);
    expect(disabled.rd(R.InterruptIdFifoControl)).toBe(0xc1);
    disabled.wr(R.InterruptEnable, Ier.ReceivedDataAvailable);
    expect(disabled.rd(R.InterruptIdFifoControl)).toBe(0xcc);
  });

  it("is cleared by an RX FIFO reset", () => {
    const { rd, wr, recv } = withFifo(Fcr.Trigger4);
    recv(1);
    wr(R.InterruptIdFifoControl, Fcr.EnableFifos | Fcr.ResetReceiveFifo | Fcr.Trigger4);
    recv();
    expect(rd(R.InterruptIdFifoControl)).toBe(0xc1);
  });
});

describe("Serial16550 THRE interrupt", () => {
  it("is raised when ETBEI is enabled while THR is empty and cleared by reading IIR", () => {
    const { rd, wr, irq } = makeUart();
    wr(R.ModemControl, Mcr.Out2);
    expect(irq()).toBe(false);
    wr(R.InterruptEnable, Ier.TransmitterHoldingEmpty);
    expect(irq()).toBe(true);
    expect(rd(R.InterruptIdFifoControl)).toBe(Iir.TransmitterHoldingEmpty);
    expect(irq()).toBe(false);
    expect(rd(R.InterruptIdFifoControl)).toBe(Iir.NoInterrupt);
  });

  it("is raised again when ETBEI goes 0 -> 1 but not by rewriting IER with ETBEI already set", () => {
    const { rd, wr } = makeUart();
    wr(R.InterruptEnable, Ier.TransmitterHoldingEmpty);
    rd(R.InterruptIdFifoControl);
    wr(R.InterruptEnable, Ier.TransmitterHoldingEmpty | Ier.ModemStatus);
    expect(rd(R.InterruptIdFifoControl)).toBe(Iir.NoInterrupt);
    wr(R.InterruptEnable, 0);
    wr(R.InterruptEnable, Ier.TransmitterHoldingEmpty);
    expect(rd(R.InterruptIdFifoControl)).toBe(Iir.TransmitterHoldingEmpty);
  });

  it("is cleared by a THR write and raised again once the byte has left THR", () => {
    const levelsDuringTransmit: boolean[] = [];
    let level = false;
    let iirDuringTransmit = -1;
    const uart = new Serial16550({
      irq: { set: (a) => (level = a) },
      transmit: () => {
        levelsDuringTransmit.push(level);
        const probe = new Uint8Array(1);
        uart.read(BASE, R.InterruptIdFifoControl, probe);
        iirDuringTransmit = probe[0];
      },
    });
    const cell = new Uint8Array(1);
    cell[0] = Mcr.Out2;
    uart.write(BASE, R.ModemControl, cell);
    cell[0] = Ier.TransmitterHoldingEmpty;
    uart.write(BASE, R.InterruptEnable, cell);
    expect(level).toBe(true);
    cell[0] = 0x41;
    uart.write(BASE, R.Data, cell);
    expect(levelsDuringTransmit).toEqual([false]);
    expect(iirDuringTransmit).toBe(Iir.NoInterrupt);
    expect(level).toBe(true);
    uart.read(BASE, R.InterruptIdFifoControl, cell);
    expect(cell[0]).toBe(Iir.TransmitterHoldingEmpty);
  });

  it("is not cleared by an IIR read that reports a higher-priority source", () => {
    const { rd, wr, recv } = makeUart();
    wr(R.InterruptEnable, Ier.ReceivedDataAvailable | Ier.TransmitterHoldingEmpty);
    recv(9);
    expect(rd(R.InterruptIdFifoControl)).toBe(Iir.ReceivedDataAvailable);
    expect(rd(R.InterruptIdFifoControl)).toBe(Iir.ReceivedDataAvailable);
    rd(R.Data);
    expect(rd(R.InterruptIdFifoControl)).toBe(Iir.TransmitterHoldingEmpty);
    expect(rd(R.InterruptIdFifoControl)).toBe(Iir.NoInterrupt);
  });

  it("stays pending while ETBEI is off and shows once enabled", () => {
    const { rd, wr } = makeUart();
    wr(R.Data, 0x20); // THR empties with ETBEI clear
    expect(rd(R.InterruptIdFifoControl)).toBe(Iir.NoInterrupt);
    wr(R.InterruptEnable, Ier.TransmitterHoldingEmpty);
    expect(rd(R.InterruptIdFifoControl)).toBe(Iir.TransmitterHoldingEmpty);
  });
});

describe("Serial16550 IIR priority", () => {
  it("orders line status > received data > THRE > modem status", () => {
    const { uart, rd, wr, irq } = makeUart();
    wr(R.ModemControl, Mcr.Out2);
    wr(R.InterruptEnable, 0x0f);
    uart.setModemInputs(Msr.DataSetReady); // CTS and DCD drop: modem status change
    expect(uart.receiveBreak()).toBe(true); // line status (BI) and a received byte
    expect(irq()).toBe(true);
    expect(rd(R.InterruptIdFifoControl)).toBe(Iir.ReceiverLineStatus);
    expect(rd(R.LineStatus) & Lsr.BreakInterrupt).toBe(Lsr.BreakInterrupt);
    expect(rd(R.InterruptIdFifoControl)).toBe(Iir.ReceivedDataAvailable);
    expect(rd(R.Data)).toBe(0);
    expect(rd(R.InterruptIdFifoControl)).toBe(Iir.TransmitterHoldingEmpty);
    expect(rd(R.InterruptIdFifoControl)).toBe(Iir.ModemStatus);
    expect(irq()).toBe(true);
    expect(rd(R.ModemStatus)).toBe(Msr.DataSetReady | Msr.DeltaClearToSend | Msr.DeltaDataCarrierDetect);
    expect(rd(R.InterruptIdFifoControl)).toBe(Iir.NoInterrupt);
    expect(irq()).toBe(false);
  });

  it("puts the character timeout above THRE", () => {
    const { rd, wr, recv } = makeUart();
    wr(R.InterruptIdFifoControl, Fcr.EnableFifos | Fcr.Trigger8);
    wr(R.InterruptEnable, Ier.ReceivedDataAvailable | Ier.TransmitterHoldingEmpty);
    recv(1);
    expect(rd(R.InterruptIdFifoControl)).toBe(0xc0 | Iir.CharacterTimeout);
    rd(R.Data);
    expect(rd(R.InterruptIdFifoControl)).toBe(0xc0 | Iir.TransmitterHoldingEmpty);
  });

  it("reports only enabled sources", () => {
    const { uart, rd, wr } = makeUart();
    uart.receiveBreak();
    uart.setModemInputs(0);
    expect(rd(R.InterruptIdFifoControl)).toBe(Iir.NoInterrupt);
    wr(R.InterruptEnable, Ier.ModemStatus);
    expect(rd(R.InterruptIdFifoControl)).toBe(Iir.ModemStatus);
  });
});

describe("Serial16550 line status errors", () => {
  it("flags overrun in 16450 mode, overwriting RBR, and clears OE on LSR read", () => {
    const { rd, wr, irq } = makeUart();
    wr(R.ModemControl, Mcr.Loopback);
    wr(R.InterruptEnable, Ier.ReceiverLineStatus);
    wr(R.Data, 0x61);
    expect(rd(R.InterruptIdFifoControl)).toBe(Iir.NoInterrupt);
    wr(R.Data, 0x62);
    expect(rd(R.InterruptIdFifoControl)).toBe(Iir.ReceiverLineStatus);
    expect(irq()).toBe(false); // loopback: OUT2 pin forced inactive
    expect(rd(R.LineStatus)).toBe(0x60 | Lsr.DataReady | Lsr.OverrunError);
    expect(rd(R.LineStatus)).toBe(0x60 | Lsr.DataReady);
    expect(rd(R.InterruptIdFifoControl)).toBe(Iir.NoInterrupt);
    expect(rd(R.Data)).toBe(0x62);
  });

  it("flags overrun when the FIFO is full and drops the new byte", () => {
    const { rd, wr } = makeUart();
    wr(R.InterruptIdFifoControl, Fcr.EnableFifos);
    wr(R.ModemControl, Mcr.Loopback);
    for (let i = 0; i < 17; i++) wr(R.Data, i);
    expect(rd(R.LineStatus) & Lsr.OverrunError).toBe(Lsr.OverrunError);
    const out: number[] = [];
    while (rd(R.LineStatus) & Lsr.DataReady) out.push(rd(R.Data));
    expect(out).toEqual(Array.from({ length: 16 }, (_, i) => i));
  });

  it("shows BI when the break byte reaches the top of the FIFO; LSR bit 7 while it is in the FIFO", () => {
    const { uart, rd, wr, recv } = makeUart();
    wr(R.InterruptIdFifoControl, Fcr.EnableFifos | Fcr.Trigger14);
    recv(1, 2);
    expect(uart.receiveBreak()).toBe(true);
    expect(rd(R.LineStatus)).toBe(0x60 | Lsr.DataReady | Lsr.ReceiveFifoError);
    expect(rd(R.Data)).toBe(1);
    expect(rd(R.LineStatus) & Lsr.BreakInterrupt).toBe(0);
    expect(rd(R.Data)).toBe(2);
    expect(rd(R.LineStatus)).toBe(0x60 | Lsr.DataReady | Lsr.BreakInterrupt | Lsr.ReceiveFifoError);
    expect(rd(R.LineStatus)).toBe(0x60 | Lsr.DataReady | Lsr.ReceiveFifoError); // BI read-cleared
    expect(rd(R.Data)).toBe(0);
    expect(rd(R.LineStatus)).toBe(0x60);
  });

  it("never reports parity or framing errors on the error-free virtual line, nor bit 7 without FIFOs", () => {
    const { uart, rd, wr } = makeUart();
    wr(R.LineControl, Lcr.ParityEnable | Lcr.EvenParity | 0x03);
    uart.receive(Uint8Array.of(0xff));
    expect(rd(R.LineStatus)).toBe(0x61);
    rd(R.Data);
    uart.receiveBreak();
    expect(rd(R.LineStatus)).toBe(0x60 | Lsr.DataReady | Lsr.BreakInterrupt);
  });

  it("refuses a break when the receiver is full", () => {
    const { uart, recv } = makeUart();
    recv(1);
    expect(uart.receiveBreak()).toBe(false);
  });
});

describe("Serial16550 modem status", () => {
  it("sets delta bits on input changes and clears them on MSR read", () => {
    const { uart, rd } = makeUart();
    uart.setModemInputs(Msr.ClearToSend | Msr.DataCarrierDetect); // DSR drops
    expect(rd(R.ModemStatus)).toBe(Msr.ClearToSend | Msr.DataCarrierDetect | Msr.DeltaDataSetReady);
    expect(rd(R.ModemStatus)).toBe(Msr.ClearToSend | Msr.DataCarrierDetect);
    uart.setModemInputs(Msr.ClearToSend | Msr.DataCarrierDetect | 0x0f); // low bits ignored
    expect(rd(R.ModemStatus)).toBe(Msr.ClearToSend | Msr.DataCarrierDetect);
  });

  it("reports only the trailing edge of RI", () => {
    const { uart, rd } = makeUart();
    const base = Msr.ClearToSend | Msr.DataSetReady | Msr.DataCarrierDetect;
    uart.setModemInputs(base | Msr.RingIndicator);
    expect(rd(R.ModemStatus)).toBe(base | Msr.RingIndicator);
    uart.setModemInputs(base);
    expect(rd(R.ModemStatus)).toBe(base | Msr.TrailingEdgeRingIndicator);
  });

  it("raises the modem status interrupt when enabled", () => {
    const { uart, rd, wr, irq } = makeUart();
    wr(R.ModemControl, Mcr.Out2);
    wr(R.InterruptEnable, Ier.ModemStatus);
    expect(irq()).toBe(false);
    uart.setModemInputs(0);
    expect(irq()).toBe(true);
    expect(rd(R.InterruptIdFifoControl)).toBe(Iir.ModemStatus);
    rd(R.ModemStatus);
    expect(irq()).toBe(false);
  });
});

describe("Serial16550 loopback", () => {
  it("returns transmitted bytes to RX without reaching the host", () => {
    const { uart, rd, wr, sent } = makeUart();
    wr(R.InterruptIdFifoControl, Fcr.EnableFifos);
    wr(R.ModemControl, Mcr.Loopback);
    for (const b of [0x10, 0x20, 0x30]) wr(R.Data, b);
    expect(sent).toEqual([]);
    expect([rd(R.Data), rd(R.Data), rd(R.Data)]).toEqual([0x10, 0x20, 0x30]);
    wr(R.ModemControl, 0);
    wr(R.Data, 0x40);
    expect(sent).toEqual([0x40]);
    expect(uart.rxSpace()).toBe(16);
  });

  it("disconnects the host input", () => {
    const { uart, rd, wr, recv } = makeUart();
    wr(R.ModemControl, Mcr.Loopback);
    expect(uart.rxSpace()).toBe(0);
    expect(recv(1, 2)).toBe(0);
    expect(uart.receiveBreak()).toBe(false);
    expect(rd(R.LineStatus) & Lsr.DataReady).toBe(0);
  });

  it("drives DSR/CTS/RI/DCD from DTR/RTS/OUT1/OUT2 with delta bits", () => {
    const { uart, rd, wr } = makeUart();
    wr(R.ModemControl, Mcr.Loopback);
    // Host inputs CTS|DSR|DCD are replaced by the (all clear) MCR outputs.
    expect(rd(R.ModemStatus)).toBe(Msr.DeltaClearToSend | Msr.DeltaDataSetReady | Msr.DeltaDataCarrierDetect);
    wr(R.ModemControl, Mcr.Loopback | Mcr.DataTerminalReady);
    expect(rd(R.ModemStatus)).toBe(Msr.DataSetReady | Msr.DeltaDataSetReady);
    wr(R.ModemControl, Mcr.Loopback | Mcr.RequestToSend);
    expect(rd(R.ModemStatus)).toBe(Msr.ClearToSend | Msr.DeltaClearToSend | Msr.DeltaDataSetReady);
    wr(R.ModemControl, Mcr.Loopback | Mcr.Out1);
    expect(rd(R.ModemStatus)).toBe(Msr.RingIndicator | Msr.DeltaClearToSend);
    wr(R.ModemControl, Mcr.Loopback);
    expect(rd(R.ModemStatus)).toBe(Msr.TrailingEdgeRingIndicator);
    wr(R.ModemControl, Mcr.Loopback | Mcr.Out2);
    expect(rd(R.ModemStatus)).toBe(Msr.DataCarrierDetect | Msr.DeltaDataCarrierDetect);
    // Linux's 8250 probe: MCR = LOOP | OUT2 | RTS must read MSR[7:4] = DCD | CTS.
    wr(R.ModemControl, Mcr.Loopback | Mcr.Out2 | Mcr.RequestToSend);
    expect(rd(R.ModemStatus) & 0xf0).toBe(0x90);
    // Host input changes are invisible during loopback...
    uart.setModemInputs(0);
    expect(rd(R.ModemStatus)).toBe(0x90);
    // ...and show up when it ends.
    wr(R.ModemControl, 0);
    expect(rd(R.ModemStatus)).toBe(Msr.DeltaClearToSend | Msr.DeltaDataCarrierDetect);
  });

  it("raises the timeout indication for looped-back bytes below the trigger level", () => {
    const { rd, wr } = makeUart();
    wr(R.InterruptIdFifoControl, Fcr.EnableFifos | Fcr.Trigger4);
    wr(R.InterruptEnable, Ier.ReceivedDataAvailable);
    wr(R.ModemControl, Mcr.Loopback);
    wr(R.Data, 0x55);
    expect(rd(R.InterruptIdFifoControl)).toBe(0xcc);
    for (const b of [1, 2, 3]) wr(R.Data, b);
    expect(rd(R.InterruptIdFifoControl)).toBe(0xc4);
  });
});

describe("Serial16550 OUT2 gating", () => {
  it("drives the IRQ only while MCR.OUT2 is set and loopback is off", () => {
    const { rd, wr, irq, irqEvents } = makeUart();
    wr(R.InterruptEnable, Ier.TransmitterHoldingEmpty | Ier.ModemStatus);
    wr(R.LineControl, 0); // unrelated write
    expect(irq()).toBe(false);
    expect(irqEvents).toEqual([]);
    wr(R.ModemControl, Mcr.Out2);
    expect(irq()).toBe(true);
    wr(R.ModemControl, Mcr.Out1);
    expect(irq()).toBe(false);
    wr(R.ModemControl, Mcr.Out2 | Mcr.Loopback);
    expect(irq()).toBe(false);
    expect(rd(R.InterruptIdFifoControl) & 1).toBe(0); // the UART itself still has interrupts pending
    wr(R.ModemControl, Mcr.Out2);
    expect(irq()).toBe(true);
    expect(irqEvents).toEqual([true, false, true]);
  });
});

describe("Serial16550 reset", () => {
  it("restores power-on registers but keeps SCR and the divisor", () => {
    const { uart, rd, wr, recv, irq } = makeUart();
    wr(R.LineControl, Lcr.DivisorLatchAccess);
    wr(0, 3);
    wr(R.LineControl, 0x03);
    wr(R.Scratch, 0x77);
    wr(R.InterruptIdFifoControl, Fcr.EnableFifos | Fcr.Trigger8);
    wr(R.InterruptEnable, 0x0f);
    wr(R.ModemControl, Mcr.Out2 | Mcr.DataTerminalReady);
    recv(1, 2, 3);
    expect(irq()).toBe(true);
    uart.reset();
    expect(irq()).toBe(false);
    expect(rd(R.InterruptEnable)).toBe(0);
    expect(rd(R.InterruptIdFifoControl)).toBe(Iir.NoInterrupt);
    expect(rd(R.LineControl)).toBe(0);
    expect(rd(R.ModemControl)).toBe(0);
    expect(rd(R.LineStatus)).toBe(0x60);
    expect(rd(R.ModemStatus)).toBe(0xb0);
    expect(rd(R.Scratch)).toBe(0x77);
    wr(R.LineControl, Lcr.DivisorLatchAccess);
    expect(rd(0)).toBe(3);
  });
});

describe("Serial16550 state", () => {
  function busyUart() {
    const u = makeUart();
    const { uart, wr, recv, rd } = u;
    wr(R.LineControl, Lcr.DivisorLatchAccess);
    wr(0, 0x30);
    wr(1, 0x01);
    wr(R.LineControl, 0x1b);
    wr(R.Scratch, 0xa5);
    wr(R.InterruptIdFifoControl, Fcr.EnableFifos | Fcr.Trigger8);
    wr(R.InterruptEnable, 0x0f);
    wr(R.ModemControl, Mcr.Out2 | Mcr.RequestToSend);
    recv(10, 11, 12);
    uart.receiveBreak();
    recv(13);
    rd(R.Data);
    uart.setModemInputs(Msr.ClearToSend | Msr.RingIndicator);
    return u;
  }

  it("round-trips through JSON and behaves identically afterwards", () => {
    const a = busyUart();
    const state = a.uart.getState();
    const json = JSON.parse(JSON.stringify(state)) as Serial16550State;
    expect(json).toEqual(state);
    const b = makeUart();
    b.uart.setState(json);
    expect(b.uart.getState()).toEqual(state);
    expect(b.irq()).toBe(a.irq());
    const readAll = (u: ReturnType<typeof makeUart>) => {
      const values: number[] = [];
      for (const r of [2, 5, 6, 0, 2, 5, 0, 0, 5, 2, 2, 3, 4, 7, 1]) values.push(u.rd(r));
      return values;
    };
    expect(readAll(b)).toEqual(readAll(a));
    expect(b.uart.getState()).toEqual(a.uart.getState());
  });

  it("captures the FIFO contents, errors and flags", () => {
    const { uart } = busyUart();
    const s = uart.getState();
    expect(s).toMatchObject({
      divisor: 0x130,
      lcr: 0x1b,
      scr: 0xa5,
      fifosEnabled: true,
      rxTriggerLevel: 8,
      rxBytes: [11, 12, 0, 13],
      rxErrors: [0, 0, Lsr.BreakInterrupt, 0],
      lastReceived: 10,
      characterTimeout: false, // cleared by the RBR read
      modemInputs: Msr.ClearToSend | Msr.RingIndicator,
      modemDeltas: Msr.DeltaDataSetReady | Msr.DeltaDataCarrierDetect,
    });
  });

  it("sanitises malformed snapshots instead of throwing", () => {
    const { uart, rd, recv } = makeUart();
    const garbage = {
      ier: 0x1ff,
      lcr: "x",
      mcr: Number.NaN,
      divisor: -1,
      fifosEnabled: "yes",
      rxTriggerLevel: 3,
      rxBytes: Array.from({ length: 40 }, (_, i) => i * 300),
      rxErrors: null,
      lineErrors: 0xff,
      modemInputs: 0x1ff,
      modemDeltas: 0xff,
    } as unknown as Serial16550State;
    expect(() => uart.setState(garbage)).not.toThrow();
    const s = uart.getState();
    expect(s.ier).toBe(0x0f);
    expect(s.lcr).toBe(0);
    expect(s.mcr).toBe(0);
    expect(s.divisor).toBe(0xffff);
    expect(s.fifosEnabled).toBe(false);
    expect(s.rxTriggerLevel).toBe(1);
    expect(s.rxBytes).toEqual([0]); // 16450 mode holds one byte
    expect(s.lineErrors).toBe(0x1e);
    expect(s.modemInputs).toBe(0xf0);
    expect(s.modemDeltas).toBe(0x0f);
    expect(recv(1)).toBe(0);
    expect(() => uart.setState(null as unknown as Serial16550State)).not.toThrow();
    expect(rd(R.LineStatus)).toBe(0x60);
  });
});

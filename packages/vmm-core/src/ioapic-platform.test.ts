// attachIoApic's wiring, driven from the host side: which input each ISA IRQ reaches, the message-to-MSI encoding,
// delivery into the local APIC, the EOI broadcast coming back, and the pc/isapc difference in buildPc.
import { type ApicInterruptMessage, DeliveryMode, DestinationMode, TriggerMode } from "@tsvmm/device-model";
import { openHypervisor } from "@tsvmm/kvm-api";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { addPcRam, buildPc } from "./builder.js";
import { attachIoApic, ioApicMessageToMsi, isaIrqIoApicPin } from "./ioapic-platform.js";
import { Machine } from "./machine.js";
import { RealModeAssembler } from "./real-mode-asm.test-support.js";

const MiB = 1024 * 1024;
const IOREGSEL = 0xfec00000;
const IOWIN = 0xfec00010;

function machineWithIoApic() {
  const vm = openHypervisor().createVm({ clock: { mode: "instructions" } });
  const vcpu = vm.createVcpu(0);
  addPcRam(vm, 16 * MiB);
  const machine = new Machine(vm);
  const ioApic = attachIoApic(machine);
  // The guest's side: the local APIC software-enabled (SVR bit 8), as an OS leaves it before routing IRQs.
  const lapic = vcpu.getLapicState();
  vcpu.setLapicState({ ...lapic, svr: 0x1ff });
  const writeRegister = (index: number, value: number) => {
    machine.mmio.write(IOREGSEL, u32(index));
    machine.mmio.write(IOWIN, u32(value));
  };
  return { vm, vcpu, machine, ioApic, writeRegister };
}

function u32(value: number): Uint8Array {
  const bytes = new Uint8Array(4);
  new DataView(bytes.buffer).setUint32(0, value >>> 0, true);
  return bytes;
}

function bit(words: readonly number[], vector: number): boolean {
  return ((words[vector >> 5] >>> (vector & 31)) & 1) === 1;
}

describe("isaIrqIoApicPin", () => {
  it("wires IRQ 0 to input 2, leaves the cascade (IRQ 2) unconnected and every other IRQ on its own input", () => {
    expect(isaIrqIoApicPin(0)).toBe(2);
    expect(isaIrqIoApicPin(2)).toBe(-1);
    for (const irq of [1, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15])
      expect(isaIrqIoApicPin(irq)).toBe(irq);
  });
});

describe("ioApicMessageToMsi", () => {
  const message = (fields: Partial<ApicInterruptMessage>): ApicInterruptMessage => ({
    vector: 0x30,
    deliveryMode: DeliveryMode.Fixed,
    destinationMode: DestinationMode.Physical,
    destination: 0,
    trigger: TriggerMode.Edge,
    ...fields,
  });

  it("puts the destination in the address and vector, delivery mode and trigger in the data", () => {
    expect(ioApicMessageToMsi(message({}))).toEqual({ address: 0xfee00000, data: 0x4030 });
    expect(
      ioApicMessageToMsi(
        message({
          vector: 0x39,
          deliveryMode: DeliveryMode.LowestPriority,
          destinationMode: DestinationMode.Logical,
          destination: 0x0f,
          trigger: TriggerMode.Level,
        }),
      ),
    ).toEqual({ address: 0xfee0f004, data: 0xc139 });
    expect(ioApicMessageToMsi(message({ deliveryMode: DeliveryMode.Nmi, destination: 0xff }))).toEqual({
      address: 0xfeeff000,
      data: 0x4430,
    });
  });

  it("always lands in the MSI window with the redirection hint clear, whatever the fields (property)", () => {
    fc.assert(
      fc.property(
        fc.record({
          vector: fc.integer({ min: 0, max: 255 }),
          deliveryMode: fc.integer({ min: 0, max: 7 }),
          destinationMode: fc.integer({ min: 0, max: 1 }),
          destination: fc.integer({ min: 0, max: 255 }),
          trigger: fc.integer({ min: 0, max: 1 }),
        }),
        (fields) => {
          const { address, data } = ioApicMessageToMsi(fields);
          expect(address >>> 20).toBe(0xfee);
          expect(address & 0b1000).toBe(0);
          expect((address >>> 12) & 0xff).toBe(fields.destination);
          expect((address >>> 2) & 1).toBe(fields.destinationMode);
          expect(data & 0xff).toBe(fields.vector);
          expect((data >>> 8) & 7).toBe(fields.deliveryMode);
          expect((data >>> 15) & 1).toBe(fields.trigger);
        },
      ),
    );
  });
});

describe("attachIoApic", () => {
  it("maps the I/O APIC at 0xFEC00000 and feeds it from the ISA IRQ lines, IRQ 0 on input 2", () => {
    const { machine, ioApic } = machineWithIoApic();
    expect(machine.mmio.deviceAt(0xfec00000)).toBe("ioapic");
    machine.mmio.write(IOREGSEL, u32(1));
    const version = new Uint8Array(4);
    machine.mmio.read(IOWIN, version);
    expect(new DataView(version.buffer).getUint32(0, true)).toBe(0x00170020);

    machine.irqs.line(0).set(true);
    expect(ioApic.getState().inputs).toBe(1 << 2);
    machine.irqs.line(0).set(false);
    machine.irqs.line(4).set(true);
    machine.irqs.line(9).set(true);
    expect(ioApic.getState().inputs).toBe((1 << 4) | (1 << 9));
  });

  it("delivers an edge into the local APIC's IRR, and ignores it while the entry is masked", () => {
    const { vcpu, machine, writeRegister } = machineWithIoApic();
    machine.irqs.line(0).set(true); // masked after reset: lost
    machine.irqs.line(0).set(false);
    expect(bit(vcpu.getLapicState().irr, 0x30)).toBe(false);
    writeRegister(0x15, 0); // input 2 to APIC 0
    writeRegister(0x14, 0x30);
    machine.irqs.line(0).set(true);
    const lapic = vcpu.getLapicState();
    expect(bit(lapic.irr, 0x30)).toBe(true);
    expect(bit(lapic.tmr, 0x30)).toBe(false);
  });

  it("sends a level-triggered input again after the local APIC's EOI broadcast while it is still asserted", () => {
    const { vm, vcpu, machine, ioApic, writeRegister } = machineWithIoApic();
    writeRegister(0x23, 0); // input 9 to APIC 0, vector 0x39, level-triggered
    writeRegister(0x22, 0x8039);
    machine.irqs.line(9).set(true);
    expect(bit(vcpu.getLapicState().tmr, 0x39)).toBe(true);
    expect(ioApic.readRegister(0x22) & 0x4000).not.toBe(0); // remote IRR
    // The guest's EOI for a TMR vector reaches the VM's listener, which attachIoApic pointed at the I/O APIC.
    vcpu.setLapicState({ ...vcpu.getLapicState(), irr: new Array(8).fill(0) });
    vm.levelTriggeredEoi(0x39);
    expect(bit(vcpu.getLapicState().irr, 0x39)).toBe(true); // sent again: the input is still asserted
    machine.irqs.line(9).set(false);
    vm.levelTriggeredEoi(0x39);
    expect(ioApic.readRegister(0x22) & 0x4000).toBe(0);
  });

  it("returns to its power-on state with the machine", () => {
    const { machine, ioApic, writeRegister } = machineWithIoApic();
    writeRegister(0x14, 0x30);
    machine.reset();
    expect(ioApic.readRegister(0x14)).toBe(0x10000); // masked
  });
});

describe("the I/O APIC in buildPc", () => {
  const build = (machineType: "pc" | "isapc") =>
    buildPc({ machineType, memoryBytes: 16 * MiB, firmware: new RealModeAssembler().hlt().rom() });

  it("is on the pc machine and not on isapc, where 0xFEC00000 reads all ones", () => {
    expect(build("pc").devices.ioApic).toBeDefined();
    const isapc = build("isapc");
    expect(isapc.devices.ioApic).toBeUndefined();
    const data = new Uint8Array(4);
    isapc.machine.mmio.read(IOWIN, data);
    expect([...data]).toEqual([0xff, 0xff, 0xff, 0xff]);
  });
});

// attachAcpiPm in a running machine: real-mode guests that power off through the PM1a control block and that sleep
// until the PM timer's SCI arrives through the 8259 cascade.
import { AcpiPmOffset, Pm1Control, Pm1Enable } from "@tsvmm/device-model";
import { openHypervisor } from "@tsvmm/kvm-api";
import { describe, expect, it } from "vitest";
import { attachAcpiPm } from "./acpi-platform.js";
import { addPcRam, attachDebugExit, loadFirmware } from "./builder.js";
import { Machine } from "./machine.js";
import { attachPic } from "./pc-platform.js";
import { RealModeAssembler } from "./real-mode-asm.test-support.js";

const OUT_DX_AX = 0xef;

function machineWith(program: RealModeAssembler) {
  const vm = openHypervisor().createVm({ clock: { mode: "instructions" } });
  const vcpu = vm.createVcpu(0);
  addPcRam(vm, 16 * 1024 * 1024);
  loadFirmware(vm, program.rom());
  const machine = new Machine(vm, { yieldToHost: () => Promise.resolve() });
  attachDebugExit(machine, 0xf4, 1);
  return { vm, vcpu, machine };
}

describe("attachAcpiPm", () => {
  it("maps the PM block at 0x600 and ends the run with poweroff when the guest writes SLP_EN with S5", async () => {
    const program = new RealModeAssembler()
      .mov("dx", 0x600 + AcpiPmOffset.Pm1Control)
      .mov("ax", Pm1Control.SleepEnable) // SLP_TYP 0: S5
      .bytes(OUT_DX_AX)
      .outByte(0xf4, 0x7f); // not reached once the power is off
    const { machine } = machineWith(program);
    const pm = attachAcpiPm(machine);
    const control = new Uint8Array(2);
    machine.pio.read(0x600 + AcpiPmOffset.Pm1Control, control);
    expect([...control]).toEqual([1, 0]); // SCI_EN
    expect(await machine.run()).toEqual({ kind: "poweroff" });
    expect(pm.getState().pm1Control).toBe(0);
  });

  it("drives IRQ 9 and returns to power-on state on reset", () => {
    const { machine } = machineWith(new RealModeAssembler().hlt());
    const pm = attachAcpiPm(machine);
    machine.pio.write(0x600 + AcpiPmOffset.Pm1Enable, Uint8Array.of(0, Pm1Enable.PowerButton >> 8));
    pm.powerButton();
    expect(machine.irqs.level(9)).toBe(true);
    machine.reset();
    expect(machine.irqs.level(9)).toBe(false);
    expect(pm.getState().pm1Enable).toBe(0);
  });

  it("wakes a halted guest for the PM timer's SCI: TMR_STS after 2^23 ticks, through IRQ 9 on the slave 8259", async () => {
    const program = new RealModeAssembler()
      .flatDataAndStack()
      .initPics((1 << 2) | (1 << 9))
      .setVector(0x29, "sci") // IRQ 9: the slave's base 0x28 + 1
      .mov("dx", 0x600 + AcpiPmOffset.Pm1Enable)
      .mov("ax", Pm1Enable.Timer)
      .bytes(OUT_DX_AX)
      .sti()
      .label("sleep")
      .hlt()
      .jmp("sleep")
      .label("sci")
      .outByte(0xf4, 0x21);
    const { vm, vcpu, machine } = machineWith(program);
    attachPic(machine, vcpu);
    attachAcpiPm(machine);
    expect(await machine.run()).toEqual({ kind: "debug-exit", status: 0x43 });
    // 2^23 ticks of 3.579545 MHz: the guest slept about 2.34 s of guest time, skipped while it was idle.
    expect(vm.clock.nowNs()).toBeGreaterThanOrEqual(2_343_484_000);
    expect(vm.clock.nowNs()).toBeLessThan(2_400_000_000);
    expect(machine.stats.idleSkips).toBeGreaterThan(0);
  });
});

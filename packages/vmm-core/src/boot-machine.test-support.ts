import { openHypervisor } from "@tsvmm/kvm-api";
import { addPcRam, attachDebugCon, attachDebugExit } from "./builder.js";
import { Machine } from "./machine.js";

/** A VM with PC RAM and its boot vCPU, before any loader ran. */
export function bareVm(ramSize: number) {
  const vm = openHypervisor().createVm();
  const vcpu = vm.createVcpu(0);
  const ram = addPcRam(vm, ramSize);
  return { vm, vcpu, ram };
}

/** A VM that can run a loaded kernel: debugcon at 0xE9 collects bytes, isa-debug-exit at 0xF4 ends the run. */
export function runnableVm(ramSize: number) {
  const { vm, vcpu, ram } = bareVm(ramSize);
  const machine = new Machine(vm, { noReboot: true });
  const output: number[] = [];
  attachDebugCon(machine, 0xe9, (byte) => output.push(byte));
  attachDebugExit(machine, 0xf4, 1);
  return { vm, vcpu, ram, machine, output };
}

import { openHypervisor } from "@tsvmm/kvm-api";
import { expect, it } from "vitest";
import { addPcRam, attachDebugCon, attachDebugExit, loadMultibootKernel, Machine } from "./index.js";

// The README's direct-kernel-boot example, kept here so it cannot rot.
it("README direct kernel boot example", async () => {
  // A multiboot kernel in the a.out-kludge format: a header saying "load this file at 1 MiB and enter
  // at 1 MiB + 32", then code that prints the command line's first byte on port 0xE9 and exits.
  const header = [0x1badb002, 0x10000, -(0x1badb002 + 0x10000), 0x100000, 0x100000, 0, 0, 0x100020];
  const code = [0x8b, 0x4b, 0x10, 0x8a, 0x01, 0xe6, 0xe9, 0xb0, 0x00, 0xe6, 0xf4]; // via [ebx+16]
  const kernel = new Uint8Array(32 + code.length);
  for (const [i, field] of header.entries()) new DataView(kernel.buffer).setUint32(i * 4, field >>> 0, true);
  kernel.set(code, 32);

  const ramSize = 16 * 1024 * 1024;
  const vm = openHypervisor().createVm();
  const vcpu = vm.createVcpu(0);
  addPcRam(vm, ramSize);
  const machine = new Machine(vm);
  let output = "";
  attachDebugCon(machine, 0xe9, (byte) => (output += String.fromCharCode(byte)));
  attachDebugExit(machine, 0xf4, 1);

  const placement = loadMultibootKernel(vm, vcpu, { kernel, cmdline: "hello", ramSize });
  // placement.entryPoint === 0x100020, placement.info.start === 0x9000 (in EBX)
  const exit = await machine.run(); // { kind: "debug-exit", status: 1 }, output === "h"

  expect(placement.entryPoint).toBe(0x100020);
  expect(placement.info.start).toBe(0x9000);
  expect(exit).toEqual({ kind: "debug-exit", status: 1 });
  expect(output).toBe("h");
});

// Direct kernel boot in buildPc: without firmware, with it, and again after a reset.
import { describe, expect, it } from "vitest";
import { buildBzImage } from "./bzimage.test-support.js";
import { buildPc, MachineConfigError, type PcConfig, pcE820Map } from "./index.js";
import { buildAoutKernel } from "./multiboot-image.test-support.js";
import { RealModeAssembler } from "./real-mode-asm.test-support.js";

const MiB = 1024 * 1024;

/** Prints the NUL-terminated string at ESI on port 0xE9: lodsb; test al,al; jz +4; out 0xe9,al; jmp -9. */
const PRINT_ESI = [0xac, 0x84, 0xc0, 0x74, 0x04, 0xe6, 0xe9, 0xeb, 0xf7];

/**
 * A multiboot kernel that counts its boots at 0x600 (clear of the boot GDT at 0x500). On the first boot it overwrites the first byte of its
 * command line and resets the machine through the i8042; on the second it prints the command line and exits
 * with the boot count.
 */
const REBOOTING_KERNEL = [
  ...[0xfe, 0x05, 0x00, 0x06, 0x00, 0x00], // inc byte [0x600]
  ...[0x80, 0x3d, 0x00, 0x06, 0x00, 0x00, 0x02], // cmp byte [0x600],2
  ...[0x74, 0x0d], // je print
  ...[0x8b, 0x73, 0x10], // mov esi,[ebx+16]: the command line
  ...[0xc6, 0x06, 0x58], // mov byte [esi],'X'
  ...[0xb0, 0xfe, 0xe6, 0x64], // mov al,0xfe; out 0x64,al: pulse the reset line
  ...[0xf4, 0xeb, 0xfd], // hlt; jmp $-1
  ...[0x8b, 0x73, 0x10], // print: mov esi,[ebx+16]
  ...PRINT_ESI,
  ...[0xa0, 0x00, 0x06, 0x00, 0x00], // mov al,[0x600]
  ...[0xe6, 0xf4], // out 0xf4,al
];

function kernelPc(config: Partial<PcConfig> & Pick<PcConfig, "kernel">) {
  const output: number[] = [];
  const pc = buildPc({
    memoryBytes: 32 * MiB,
    debugExit: { iobase: 0xf4, iosize: 1 },
    debugCon: { iobase: 0xe9, write: (byte) => output.push(byte) },
    clock: { mode: "instructions" },
    ...config,
  });
  return { pc, text: () => String.fromCharCode(...output) };
}

describe("direct kernel boot in buildPc", () => {
  it("boots a multiboot kernel without firmware, and boots it again after a reset", async () => {
    const { image } = buildAoutKernel({ code: REBOOTING_KERNEL });
    const { pc, text } = kernelPc({ kernel: { image, cmdline: "hello" } });
    expect(pc.kernel?.format).toBe("multiboot");
    expect(await pc.run()).toEqual({ kind: "debug-exit", status: (2 << 1) | 1 });
    // The reset reloaded the kernel and its information structure: the command line is intact again.
    expect(text()).toBe("hello");
    expect(pc.machine.stats.resets).toBe(1);
  });

  it("ends the run at the first reset with -no-reboot", async () => {
    const { image } = buildAoutKernel({ code: REBOOTING_KERNEL });
    const { pc, text } = kernelPc({ kernel: { image, cmdline: "hello" }, noReboot: true });
    expect(await pc.run()).toEqual({ kind: "shutdown" });
    expect(text()).toBe("");
    expect(pc.vm.memory.readU8(0x600)).toBe(1);
  });

  it("boots a bzImage with its initrd and command line", async () => {
    const protectedCode = [
      ...[0x89, 0xf3], // mov ebx,esi: the zero page
      ...[0x8b, 0xb3, 0x28, 0x02, 0x00, 0x00], // mov esi,[ebx+0x228]: cmd_line_ptr
      ...PRINT_ESI,
      ...[0x8b, 0xb3, 0x18, 0x02, 0x00, 0x00], // mov esi,[ebx+0x218]: ramdisk_image
      ...PRINT_ESI,
      ...[0xb0, 0x00, 0xe6, 0xf4], // mov al,0; out 0xf4,al
    ];
    const image = buildBzImage({ protectedCode });
    const initrd = new TextEncoder().encode("|initrd\0");
    const { pc, text } = kernelPc({ kernel: { image, initrd, cmdline: "console=ttyS0" } });
    expect(await pc.run()).toEqual({ kind: "debug-exit", status: 1 });
    expect(text()).toBe("console=ttyS0|initrd");
    expect(pc.kernel?.format).toBe("linux");
  });

  it("maps nothing at the reset vector without firmware, and keeps the ROM area below 1 MiB as RAM", () => {
    const { image } = buildAoutKernel({ code: REBOOTING_KERNEL });
    const { pc } = kernelPc({ kernel: { image, cmdline: "" } });
    expect(pc.vm.memory.isRam(0xfffffff0, 16)).toBe(false);
    expect(pc.vm.memory.isRam(0xf0000, 0x10000, true)).toBe(true);
    const { pc: linux } = kernelPc({ kernel: { image: buildBzImage(), cmdline: "" } });
    if (linux.kernel?.format !== "linux") throw new Error("expected a Linux kernel");
    expect(linux.kernel.placement.e820).toEqual(pcE820Map(32 * MiB, 0));
  });

  it("starts at the kernel, not the firmware, when both are given; the firmware stays mapped", async () => {
    const firmware = new RealModeAssembler().outByte(0xf4, 0x7f).rom(); // would exit with 0xff
    const { image } = buildAoutKernel({ code: REBOOTING_KERNEL });
    const { pc, text } = kernelPc({ firmware, kernel: { image, cmdline: "fw" } });
    expect(await pc.run()).toEqual({ kind: "debug-exit", status: 5 });
    expect(text()).toBe("fw");
    expect(pc.vm.memory.readU8(0xfffffff0)).toBe(0xea);
    const { pc: linux } = kernelPc({ firmware, kernel: { image: buildBzImage(), cmdline: "" } });
    if (linux.kernel?.format !== "linux") throw new Error("expected a Linux kernel");
    expect(linux.kernel.placement.e820).toEqual(pcE820Map(32 * MiB, 0x10000));
  });

  it("refuses a machine with nothing to run, and reports a bad kernel before running", () => {
    expect(() => buildPc({ memoryBytes: 16 * MiB })).toThrow(MachineConfigError);
    expect(() =>
      buildPc({ memoryBytes: 16 * MiB, kernel: { image: new Uint8Array(100), cmdline: "" } }),
    ).toThrow(/neither a Linux bzImage nor a multiboot kernel/);
  });

  it("leaves the firmware tables for the kernel: the RSDP in the zero page, ACPI and MP tables, again after a reset", () => {
    const { pc } = kernelPc({ kernel: { image: buildBzImage(), cmdline: "" } });
    const tables = pc.firmwareTables;
    expect(tables?.description.ioApic?.address).toBe(0xfec00000);
    expect(tables?.description.pci?.pirqIrqs).toEqual([10, 10, 11, 11]);
    expect(tables?.placement.acpi?.rsdpAddress).toBe(0x9fc10);
    const memory = pc.vm.memory;
    const signature = (address: number, length: number) =>
      String.fromCharCode(...Array.from({ length }, (_, i) => memory.readU8(address + i)));
    expect(memory.readU32(0x7000 + 0x070)).toBe(0x9fc10); // acpi_rsdp_addr
    expect(signature(0x9fc10, 8)).toBe("RSD PTR ");
    expect(signature(0x9fc00, 4)).toBe("_MP_");
    const madt = tables?.placement.acpi?.tables.find((table) => table.signature === "APIC");
    expect(madt).toBeDefined();
    // Everything lies in memory the kernel's E820 map reports reserved.
    if (pc.kernel?.format !== "linux") throw new Error("expected a Linux kernel");
    const reserved = pc.kernel.placement.e820.filter((entry) => entry.type === 2);
    for (const table of tables?.placement.acpi?.tables ?? []) {
      expect(
        reserved.some(
          (r) => table.address >= r.address && table.address + table.length <= r.address + r.size,
        ),
      ).toBe(true);
    }
    // A guest wrote over them; a reset brings them back before the kernel is loaded again.
    memory.write(0x9fc00, new Uint8Array(0x400));
    memory.write(madt?.address ?? 0, new Uint8Array(madt?.length ?? 0));
    pc.machine.reset();
    expect(signature(0x9fc10, 8)).toBe("RSD PTR ");
    expect(signature(madt?.address ?? 0, 4)).toBe("APIC");
    expect(memory.readU32(0x7000 + 0x070)).toBe(0x9fc10);
  });

  it("gives the isapc machine an MP table without an I/O APIC and no ACPI tables", () => {
    const { pc } = kernelPc({ machineType: "isapc", kernel: { image: buildBzImage(), cmdline: "" } });
    expect(pc.firmwareTables?.description.ioApic).toBeUndefined();
    expect(pc.firmwareTables?.placement.acpi).toBeUndefined();
    expect(pc.vm.memory.readU32(0x7000 + 0x070)).toBe(0);
    expect(pc.vm.memory.readU32(0x9fc00)).toBe(0x5f504d5f); // "_MP_"
    expect(pc.vm.memory.readU32(0x9fc10)).toBe(0); // no RSDP
  });

  it("ends the run with poweroff when the guest writes SLP_EN with \\_S5's type to the FADT's PM1a control block", async () => {
    // mov dx,0x604; mov ax,0x2000 (SLP_EN, SLP_TYP 0); out dx,ax; mov al,0x7f; out 0xf4,al (not reached)
    const code = [0x66, 0xba, 0x04, 0x06, 0x66, 0xb8, 0x00, 0x20, 0x66, 0xef, 0xb0, 0x7f, 0xe6, 0xf4];
    const { image } = buildAoutKernel({ code });
    const { pc } = kernelPc({ kernel: { image, cmdline: "" } });
    expect(await pc.run()).toEqual({ kind: "poweroff" });
    // isapc has no PM block: the write goes nowhere and the kernel goes on to isa-debug-exit.
    const { pc: isapc } = kernelPc({ machineType: "isapc", kernel: { image, cmdline: "" } });
    expect(await isapc.run()).toEqual({ kind: "debug-exit", status: 0xff });
  });
});

// The README's firmware-tables example, kept here so it cannot rot: the README's code block after the comment naming
// this file is the two package imports below followed by the code between the markers; the last test checks that.
import { readFileSync } from "node:fs";
import { openHypervisor } from "@tsvmm/kvm-api";
import { addPcRam, pcFirmwareDescription, writeAcpiTables, writeMpTable } from "@tsvmm/vmm-core";
import { expect, it } from "vitest";

// --- README example start ---
const ramBytes = 64 * 1024 * 1024;
const vm = openHypervisor().createVm();
vm.createVcpu(0);
addPcRam(vm, ramBytes);

// QEMU's pc machine with 2 CPUs: an I/O APIC, IRQ 0 on GSI 2, the SCI on IRQ 9, the ACPI PM block at 0x600.
const firmware = pcFirmwareDescription({ machineType: "pc", ramBytes, cpus: 2 });
const mp = writeMpTable(vm.memory, firmware); // floating pointer at 0x9FC00, configuration table at 0xD0000
const acpi = writeAcpiTables(vm.memory, firmware); // RSDP at 0x9FC10, FACS, DSDT, FADT, MADT, RSDT, XSDT from 0xD2000

// A Linux loader puts acpi.rsdpAddress in the zero page's acpi_rsdp_addr; OSes that scan find both tables anyway:
// the BIOS data area's word at 0x40E now holds the EBDA's segment.
const ebdaSegment = vm.memory.readU16(0x40e); // 0x9FC0
const rsdpSignature = String.fromCharCode(
  ...Array.from({ length: 8 }, (_, i) => vm.memory.readU8(acpi.rsdpAddress + i)),
);
// --- README example end ---

it("runs the README's firmware-tables example", () => {
  expect(mp.floatingPointerAddress).toBe(0x9fc00);
  expect(mp.configTable.start).toBe(0xd0000);
  expect(acpi.rsdpAddress).toBe(0x9fc10);
  expect(acpi.tables.map((t) => t.signature)).toEqual(["FACS", "DSDT", "FACP", "APIC", "RSDT", "XSDT"]);
  expect(acpi.tablesRange.start).toBe(0xd2000);
  expect(ebdaSegment).toBe(0x9fc0);
  expect(rsdpSignature).toBe("RSD PTR ");
});

it("matches the README's code block", () => {
  const source = readFileSync(new URL("./firmware-tables.example.test.ts", import.meta.url), "utf8");
  const imports = source
    .split("\n")
    .filter((line) => line.startsWith("import ") && line.includes('from "@tsvmm/'))
    .join("\n");
  const body = source.split("// --- README example start ---\n")[1].split("// --- README example end ---")[0];
  const readme = readFileSync(new URL("../README.md", import.meta.url), "utf8");
  const after = readme.split("<!-- tested by src/firmware-tables.example.test.ts -->")[1] ?? "";
  const block = after.split("```ts\n")[1]?.split("```")[0] ?? "";
  expect(block).toBe(`${imports}\n\n${body}`);
});

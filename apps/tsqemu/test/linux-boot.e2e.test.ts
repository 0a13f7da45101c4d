// End to end with a real Linux: Debian's i386 kernel and a busybox initramfs (tools/README.md, "Linux test
// guests"), booted by tsqemu to a shell prompt, then asked to compute, twice at the same time (two processes):
// with `acpi=off noapic nolapic` (the 8259 alone) and with the default command line (ACPI, the MADT, the I/O APIC
// and the local APIC, powered off through ACPI at the end). Slow, so it runs only with `pnpm test:linux`
// (vitest.linux.config.ts), not in `pnpm test`. It skips, saying why, when the guest cannot be built here (no apt,
// no network).
import { describe, expect, it } from "vitest";
import { BootingGuest, MINUTE } from "./booting-guest.js";
import { findLinuxGuest } from "./linux-guest-manifest.js";

const found = findLinuxGuest("shell");
if ("reason" in found) console.warn(`linux-boot.e2e.test.ts: skipping the Linux boot: ${found.reason}`);

describe.skipIf("reason" in found)("Linux on tsqemu (Debian i386, busybox shell)", () => {
  it.concurrent("boots with acpi=off noapic nolapic (the 8259 alone) and runs a shell command", async () => {
    if ("reason" in found) return;
    const { guest } = found;
    const cmdline = "console=ttyS0 acpi=off noapic nolapic";
    const boot = new BootingGuest("noapic", guest.prompt, [
      "-kernel",
      guest.kernel,
      "-initrd",
      guest.initrd,
      "-append",
      cmdline,
      "-no-reboot",
    ]);
    try {
      const answered = await boot.bootToShell(guest);
      // The timer and the serial port interrupt through the 8259.
      const { text: interrupts, end } = await boot.interrupts(answered);
      expect(interrupts).toMatch(/ 0:\s+\d+\s+XT-PIC\s+timer/);
      expect(interrupts).toMatch(/ 4:\s+[1-9]\d*\s+XT-PIC\s+ttyS0/);
      // Without ACPI /init reboots (there is no other way off); with -no-reboot tsqemu then ends with status 0.
      await boot.command("exit", end);
      expect(await boot.waitForExit(2 * MINUTE)).toBe(0);
      expect(boot.output).not.toContain(guest.markers.bootFailed);
      expect(boot.output).not.toMatch(/ACPI: Using IOAPIC/);
      boot.log(`done: tsqemu ended with status 0`);
    } finally {
      boot.stop();
    }
  });

  it.concurrent("boots with the default command line (ACPI, I/O APIC, local APIC) and powers off", async () => {
    if ("reason" in found) return;
    const { guest } = found;
    // No -no-reboot: a reboot would boot again and never end the run, so only a real power-off passes.
    const boot = new BootingGuest("default", guest.prompt, [
      "-kernel",
      guest.kernel,
      "-initrd",
      guest.initrd,
      "-append",
      "console=ttyS0",
    ]);
    try {
      const answered = await boot.bootToShell(guest);
      const log = boot.output;
      // The kernel found the tables the VMM wrote and used the I/O APIC, with the PIT on input 2.
      expect(log).toMatch(/ACPI: RSDP 0x000000000009FC10 /);
      expect(log).toMatch(/ACPI: APIC 0x[0-9A-F]+ /); // the MADT
      expect(log).toContain("ACPI: Using ACPI (MADT) for SMP configuration information");
      expect(log).toContain("IOAPIC[0]: apic_id 0, version 32, address 0xfec00000, GSI 0-23");
      expect(log).toMatch(/\.\.TIMER: vector=0x[0-9a-f]+ apic1=0 pin1=2/);
      expect(log).toContain("ACPI: Using IOAPIC for interrupt routing");
      expect(log).toMatch(/pci 0000:00:01\.0: \[8086:7000\]/);
      // IRQ 0 on input 2, the serial port edge-triggered on input 4, the SCI level-triggered (fasteoi) on input 9,
      // and the local APIC timer ticking.
      const { text: interrupts, end } = await boot.interrupts(answered);
      expect(interrupts).toMatch(/ 0:\s+\d+\s+IO-APIC\s+2-edge\s+timer/);
      expect(interrupts).toMatch(/ 4:\s+[1-9]\d*\s+IO-APIC\s+4-edge\s+ttyS0/);
      expect(interrupts).toMatch(/ 9:\s+\d+\s+IO-APIC\s+9-fasteoi\s+acpi/);
      expect(interrupts).toMatch(/LOC:\s+[1-9]\d*\s+Local timer interrupts/);
      // With ACPI /init powers off (poweroff -f): SLP_EN with \_S5 ends tsqemu with status 0.
      const off = await boot.command("exit", end);
      await boot.waitFor("reboot: Power down", off, 2 * MINUTE);
      expect(await boot.waitForExit(2 * MINUTE)).toBe(0);
      expect(boot.output).not.toContain(guest.markers.bootFailed);
      boot.log(`done: powered off, tsqemu ended with status 0`);
    } finally {
      boot.stop();
    }
  });
});

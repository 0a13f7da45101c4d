// End to end with a real Linux: Debian's i386 kernel and a busybox initramfs (tools/README.md, "Linux test
// guests"), booted by tsqemu to a shell prompt, then asked to compute, twice at the same time (two processes):
// with `acpi=off noapic nolapic` (the 8259 alone) and with the default command line (ACPI, the MADT, the I/O APIC
// and the local APIC, powered off through ACPI at the end). Slow, so it runs only with `pnpm test:linux`
// (vitest.linux.config.ts), not in `pnpm test`. It skips, saying why, when the guest cannot be built here (no apt,
// no network).
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { startTsqemu } from "./run-tsqemu.js";

const REPOSITORY = fileURLToPath(new URL("../../..", import.meta.url));
const MINUTE = 60_000;
/** The last line Linux prints when it panics. */
const PANIC_END = "---[ end Kernel panic";
/** busybox's line editor asks the terminal where the cursor is after printing the prompt (ESC [6n). */
const CURSOR_QUERY = "\x1b[6n";
/** What a terminal answers: row 1, column 8 (after the prompt). */
const CURSOR_REPORT = "\x1b[1;8R";

interface GuestManifest {
  name: string;
  kernel: string;
  initrd: string;
  markers: { boot: string; bootFailed: string };
  prompt: string;
}

function findGuest(): { guest: GuestManifest } | { reason: string } {
  const build = spawnSync(
    "pnpm",
    ["--silent", "guests:linux", "--arch", "i386", "--variant", "shell", "--json"],
    { cwd: REPOSITORY, encoding: "utf8", timeout: 20 * MINUTE },
  );
  if (build.error !== undefined) return { reason: `could not run pnpm guests:linux: ${build.error.message}` };
  if (build.status !== 0) {
    const why = `${build.stderr}${build.stdout}`.trim().split("\n").slice(-5).join("\n");
    return { reason: `pnpm guests:linux failed (apt or the network unavailable?):\n${why}` };
  }
  let manifests: GuestManifest[];
  try {
    const parsed = JSON.parse(build.stdout) as GuestManifest | GuestManifest[];
    manifests = Array.isArray(parsed) ? parsed : [parsed];
  } catch {
    return { reason: `pnpm guests:linux printed no manifest: ${build.stdout.slice(0, 200)}` };
  }
  const guest = manifests.find((m) => m.name === "linux-i386-shell");
  if (guest === undefined) return { reason: "pnpm guests:linux built no linux-i386-shell guest" };
  if (!existsSync(guest.kernel) || !existsSync(guest.initrd)) {
    return { reason: `the guest's files are missing: ${guest.kernel}, ${guest.initrd}` };
  }
  return { guest };
}

const found = findGuest();
if ("reason" in found) console.warn(`linux-boot.e2e.test.ts: skipping the Linux boot: ${found.reason}`);

/** A tsqemu process booting the guest: its console output so far and ways to wait for it. */
class BootingGuest {
  output = "";
  stderr = "";
  ended = false;
  readonly exited: Promise<number | null>;
  private readonly child: ReturnType<typeof startTsqemu>;
  private readonly waiters: Array<() => void> = [];
  private readonly progress: ReturnType<typeof setInterval>;
  readonly started = Date.now();

  constructor(
    private readonly label: string,
    private readonly prompt: string,
    args: string[],
  ) {
    this.child = startTsqemu(args);
    this.child.stdout.on("data", (chunk: Buffer) => {
      const before = this.output.length;
      this.output += chunk.toString("latin1");
      // Answer every cursor-position query the way a terminal does, or busybox's line editor waits for the answer
      // and takes the next typed line as it.
      let at = this.output.indexOf(CURSOR_QUERY, Math.max(0, before - CURSOR_QUERY.length + 1));
      while (at >= 0) {
        this.child.stdin.write(CURSOR_REPORT);
        at = this.output.indexOf(CURSOR_QUERY, at + CURSOR_QUERY.length);
      }
      this.notify();
    });
    this.child.stderr.on("data", (chunk: Buffer) => (this.stderr += chunk));
    this.exited = new Promise<number | null>((resolve) => this.child.on("close", resolve));
    void this.exited.then(() => {
      this.ended = true;
      this.notify();
    });
    // Progress for whoever runs this: the elapsed time and the console's last line, every minute.
    this.progress = setInterval(() => {
      const lastLine = this.output.trimEnd().split("\n").at(-1)?.slice(0, 100) ?? "";
      this.log(lastLine);
    }, MINUTE);
  }

  seconds(): number {
    return Math.round((Date.now() - this.started) / 1000);
  }

  log(message: string): void {
    process.stderr.write(`[linux boot, ${this.label}, ${this.seconds()} s] ${message}\n`);
  }

  type(line: string): number {
    const at = this.output.length;
    this.child.stdin.write(`${line}\n`);
    return at;
  }

  /**
   * Types `line` at the shell's next prompt after `from`, returning where its output starts. It waits for the line
   * editor's cursor-position query after the prompt (answered on arrival): a line typed before it would be read as
   * the answer.
   */
  async command(line: string, from: number): Promise<number> {
    await this.waitFor(this.prompt + CURSOR_QUERY, from, 2 * MINUTE);
    return this.type(line);
  }

  /** Resolves once the console output after `from` matches; fails (with the console's tail) at the deadline. */
  waitFor(pattern: RegExp | string, from: number, timeoutMs: number): Promise<number> {
    return new Promise<number>((resolve, reject) => {
      const deadline = setTimeout(() => {
        reject(new Error(`${this.label}: no ${String(pattern)} after ${timeoutMs / 1000} s; ${this.tail()}`));
      }, timeoutMs);
      const check = () => {
        const text = this.output.slice(from);
        const at = typeof pattern === "string" ? text.indexOf(pattern) : text.search(pattern);
        if (at >= 0) {
          clearTimeout(deadline);
          resolve(from + at);
        } else if (this.ended || this.output.includes(PANIC_END)) {
          // A panicked kernel never gets further: fail now, with the panic in the message.
          clearTimeout(deadline);
          const what = this.ended ? "tsqemu ended" : "the guest kernel panicked";
          reject(new Error(`${this.label}: ${what} before ${String(pattern)}; ${this.tail()}`));
        } else {
          this.waiters.push(check);
        }
      };
      check();
    });
  }

  /** tsqemu's exit status; fails if it has not ended within `timeoutMs`. */
  waitForExit(timeoutMs: number): Promise<number | null> {
    return new Promise((resolve, reject) => {
      const deadline = setTimeout(
        () =>
          reject(
            new Error(`${this.label}: tsqemu still running after ${timeoutMs / 1000} s; ${this.tail()}`),
          ),
        timeoutMs,
      );
      void this.exited.then((status) => {
        clearTimeout(deadline);
        resolve(status);
      });
    });
  }

  /** /proc/interrupts as the guest's shell prints it, asked at the prompt after `from`; returns it and its end. */
  async interrupts(from: number): Promise<{ text: string; end: number }> {
    const asked = await this.command("cat /proc/interrupts", from);
    // Its output ends at the next prompt (lines end in CR LF, so no pattern on a last line is needed).
    const end = await this.waitFor(this.prompt, asked, 2 * MINUTE);
    return { text: this.output.slice(asked, end), end };
  }

  /** Boots to the prompt, then has the shell compute `echo $((6*7))`; returns where the answer ends. */
  async bootToShell(guest: GuestManifest): Promise<number> {
    const booted = await this.waitFor(guest.markers.boot, 0, 25 * MINUTE);
    this.log(`${guest.markers.boot}`);
    const asked = await this.command("echo $((6*7))", booted);
    const answer = await this.waitFor(/\n42\r?\n/, asked, 2 * MINUTE);
    this.log("the shell answered 42");
    return answer + 3;
  }

  stop(): void {
    clearInterval(this.progress);
    if (!this.ended) this.child.kill("SIGKILL");
  }

  private notify(): void {
    for (const check of this.waiters.splice(0)) check();
  }

  private tail(): string {
    return `console:\n${this.output.slice(-3000)}\n${this.stderr}`;
  }
}

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

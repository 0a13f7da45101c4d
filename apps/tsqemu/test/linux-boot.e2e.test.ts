// End to end with a real Linux: Debian's i386 kernel and a busybox initramfs (tools/README.md, "Linux test
// guests"), booted by tsqemu to a shell prompt, then asked to compute. Slow, so it runs only with
// `pnpm test:linux` (vitest.linux.config.ts), not in `pnpm test`. It skips, saying why, when the guest
// cannot be built here (no apt, no network).
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { startTsqemu } from "./run-tsqemu.js";

const REPOSITORY = fileURLToPath(new URL("../../..", import.meta.url));
const CMDLINE = "console=ttyS0 acpi=off noapic nolapic";
const MINUTE = 60_000;
/** The last line Linux prints when it panics. */
const PANIC_END = "---[ end Kernel panic";

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

describe.skipIf("reason" in found)("Linux on tsqemu (Debian i386, busybox shell)", () => {
  it("boots to the prompt with -kernel/-initrd/-append and runs a shell command", async () => {
    if ("reason" in found) return;
    const { guest } = found;
    const started = Date.now();
    const child = startTsqemu([
      "-kernel",
      guest.kernel,
      "-initrd",
      guest.initrd,
      "-append",
      CMDLINE,
      "-no-reboot",
    ]);
    let output = "";
    let stderr = "";
    const waiters: Array<() => void> = [];
    child.stdout.on("data", (chunk: Buffer) => {
      output += chunk.toString("latin1");
      for (const check of waiters.splice(0)) check();
    });
    child.stderr.on("data", (chunk: Buffer) => (stderr += chunk));
    const exited = new Promise<number | null>((resolve) => child.on("close", resolve));
    let ended = false;
    void exited.then(() => {
      ended = true;
      for (const check of waiters.splice(0)) check();
    });
    // Progress for whoever runs this: the elapsed time and the console's last line, every minute.
    const progress = setInterval(() => {
      const lastLine = output.trimEnd().split("\n").at(-1)?.slice(0, 120) ?? "";
      process.stderr.write(`[linux boot ${Math.round((Date.now() - started) / 1000)} s] ${lastLine}\n`);
    }, MINUTE);

    /** Resolves once the console output after `from` matches; fails (with the console's tail) at the deadline. */
    const waitFor = (pattern: RegExp | string, from: number, timeoutMs: number) =>
      new Promise<number>((resolve, reject) => {
        const deadline = setTimeout(() => {
          reject(
            new Error(
              `no ${String(pattern)} after ${timeoutMs / 1000} s; console:\n${output.slice(-3000)}\n${stderr}`,
            ),
          );
        }, timeoutMs);
        const check = () => {
          const text = output.slice(from);
          const at = typeof pattern === "string" ? text.indexOf(pattern) : text.search(pattern);
          if (at >= 0) {
            clearTimeout(deadline);
            resolve(from + at);
          } else if (ended || output.includes(PANIC_END)) {
            // A panicked kernel never gets further: fail now, with the panic in the message.
            clearTimeout(deadline);
            const what = ended ? "tsqemu ended" : "the guest kernel panicked";
            reject(
              new Error(`${what} before ${String(pattern)}; console:\n${output.slice(-3000)}\n${stderr}`),
            );
          } else {
            waiters.push(check);
          }
        };
        check();
      });

    try {
      const booted = await waitFor(guest.markers.boot, 0, 25 * MINUTE);
      process.stderr.write(
        `[linux boot] ${guest.markers.boot} after ${Math.round((Date.now() - started) / 1000)} s\n`,
      );
      const prompt = await waitFor(guest.prompt, booted, 2 * MINUTE);
      const asked = output.length;
      child.stdin.write("echo $((6*7))\n");
      await waitFor(/\n42\r?\n/, Math.max(asked, prompt), 2 * MINUTE);
      // `exit` ends /init, which reboots; with -no-reboot tsqemu then ends with status 0.
      child.stdin.write("exit\n");
      expect(await exited).toBe(0);
      expect(output).not.toContain(guest.markers.bootFailed);
    } finally {
      clearInterval(progress);
      if (!ended) child.kill("SIGKILL");
    }
  });
});

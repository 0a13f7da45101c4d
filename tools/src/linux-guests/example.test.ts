// The README's example (tools/README.md, "Linux test guests"), run as written. It boots a real guest
// in QEMU, so it is opt-in: TSVMM_QEMU_TESTS=1, with qemu-system-x86 installed and apt (or a built
// guest in the cache) at hand.
import { spawnSync } from "node:child_process";
import { expect, it } from "vitest";
import { ensureLinuxGuest, parseWorkloadReport, qemuCommandLine } from "./index.js";

const optedIn = process.env.TSVMM_QEMU_TESTS === "1";
const hasQemu = spawnSync("qemu-system-i386", ["--version"], { stdio: "ignore" }).status === 0;
const skipReason = !optedIn
  ? "set TSVMM_QEMU_TESTS=1 to boot the Linux guest in QEMU"
  : !hasQemu
    ? "qemu-system-i386 not installed (apt-get install qemu-system-x86)"
    : undefined;
if (skipReason !== undefined) console.warn(`example.test.ts: skipping the README example: ${skipReason}`);

it.skipIf(skipReason !== undefined)(
  "README example: boots the i386 workload guest in QEMU and reads its report",
  async () => {
    const guest = await ensureLinuxGuest({ arch: "i386", variant: "workload" });
    const [qemu, ...args] = qemuCommandLine(guest);
    const run = spawnSync(qemu!, args, { encoding: "utf8", timeout: 300_000 });
    const report = parseWorkloadReport(run.stdout);
    console.log(`workload ok: ${report.ok}, guest-measured total: ${report.timingsUs.total} us`);

    expect(run.status).toBe(0);
    expect(run.stdout).toContain(guest.markers.boot);
    expect(report.ok).toBe(true);
    expect(Object.keys(report.timingsUs)).toEqual([...guest.workload!.steps, "total"]);
  },
  600_000,
);

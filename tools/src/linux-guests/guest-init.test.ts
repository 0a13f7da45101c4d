// The /init scripts are checked with the host's POSIX sh: syntax, and their workload functions run
// for real (with `ts` replaced by a script printing what busybox ts prints), so what the guest prints
// is what parseWorkloadReport reads and what the manifest says it should compute.
import { spawnSync } from "node:child_process";
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import {
  expectedLoopSum,
  expectedWorkloadMd5,
  guestInitScript,
  LINUX_GUEST_MARKERS,
  LINUX_GUEST_PROMPT,
  parseWorkloadReport,
  WORKLOAD_PARAMETERS,
  WORKLOAD_STEPS,
} from "./guest-init.js";

const workDir = mkdtempSync(join(tmpdir(), "tsvmm-guest-init-"));
afterAll(() => rmSync(workDir, { recursive: true, force: true }));

/** The text of a multi-line shell function `name() {` ... `}` from a script. */
function shellFunction(script: string, name: string): string {
  const match = new RegExp(`^${name}\\(\\) \\{\\n[\\s\\S]*?^\\}$`, "m").exec(script);
  if (match === null) throw new Error(`no function ${name} in the script`);
  return match[0];
}

function runSh(script: string, env: NodeJS.ProcessEnv = {}) {
  const result = spawnSync("sh", ["-c", script], { encoding: "utf8", env: { ...process.env, ...env } });
  expect(result.status, result.stderr).toBe(0);
  return result.stdout;
}

describe("guestInitScript", () => {
  for (const variant of ["shell", "workload"] as const) {
    it(`${variant}: is valid sh, mounts proc, sys and devtmpfs, then prints the boot marker`, () => {
      const script = guestInitScript(variant);
      const path = join(workDir, `init-${variant}`);
      writeFileSync(path, script);
      const check = spawnSync("sh", ["-n", path], { encoding: "utf8" });
      expect(check.status, check.stderr).toBe(0);
      expect(script.startsWith("#!/bin/sh\n")).toBe(true);
      const mounts = [
        "mount -t proc proc /proc",
        "mount -t sysfs sysfs /sys",
        "mount -t devtmpfs devtmpfs /dev",
      ];
      const markerAt = script.indexOf(`echo "${LINUX_GUEST_MARKERS.boot}"`);
      for (const mount of mounts) {
        expect(script.indexOf(mount), mount).toBeGreaterThan(0);
        expect(script.indexOf(mount), mount).toBeLessThan(markerAt);
      }
    });
  }

  it("shell: starts a shell with the exported prompt on the real console, then powers off", () => {
    const script = guestInitScript("shell");
    expect(script).toContain(`export PS1='${LINUX_GUEST_PROMPT}'`);
    expect(script).toMatch(/setsid cttyhack sh\npower_off\n$/);
  });

  it("workload: ends by printing the done marker and powering off", () => {
    expect(guestInitScript("workload")).toMatch(
      new RegExp(`echo "${LINUX_GUEST_MARKERS.workloadDone} .*"\\npower_off\\n$`),
    );
  });
});

describe("the workload's shell functions, run by the host's sh", () => {
  const script = guestInitScript("workload");

  it("now_us turns busybox ts output into microseconds, with no octal trap for 0-padded digits", () => {
    const fakeTs = join(workDir, "ts");
    writeFileSync(fakeTs, '#!/bin/sh\ncat >/dev/null\necho "$FAKE_TS "\n');
    chmodSync(fakeTs, 0o755);
    const env = (value: string) => ({ PATH: `${workDir}:${process.env.PATH}`, FAKE_TS: value });
    const nowUs = shellFunction(script, "now_us");
    expect(runSh(`${nowUs}\nnow_us`, env("1795245746.012345")).trim()).toBe("1795245746012345");
    expect(runSh(`${nowUs}\nnow_us`, env("0.000089")).trim()).toBe("89");
    expect(runSh(`${nowUs}\nnow_us`, env("12.900000")).trim()).toBe("12900000");
  });

  it("timed and fail print lines that parseWorkloadReport reads back", () => {
    const functions = [shellFunction(script, "fail"), shellFunction(script, "timed")].join("\n");
    // $(now_us) runs in a subshell, so the fake clock lives in a file: each reading is 250 us later.
    const clock = join(workDir, "clock");
    writeFileSync(clock, "1000");
    const output = runSh(`failed=0
now_us() { t=$(($(cat ${clock}) + 250)); echo $t > ${clock}; echo $t; }
${functions}
timed step-one true
timed step-two false
echo "${LINUX_GUEST_MARKERS.workloadDone} failed"`);
    const report = parseWorkloadReport(output);
    expect(report.timingsUs).toEqual({ "step-one": 250, "step-two": 250 });
    expect(report.failures).toEqual(["step-two: exit status 1"]);
    expect(report).toMatchObject({ done: true, ok: false });
  });

  it("sum_loop computes the sum the guest compares with", () => {
    const output = runSh(`${shellFunction(script, "sum_loop")}\nsum_loop\necho "$sum"`);
    expect(Number(output.trim())).toBe(expectedLoopSum());
    expect(script).toContain(`[ "$sum" = ${expectedLoopSum()} ]`);
  });

  it("the expected md5 is that of the host's `yes | head -c` over the same line and size", () => {
    const { md5Line, md5Bytes } = WORKLOAD_PARAMETERS;
    const output = runSh(`yes ${md5Line} | head -c ${md5Bytes} | md5sum`);
    expect(output.split(" ")[0]).toBe(expectedWorkloadMd5());
    expect(script).toContain(`yes ${md5Line} | head -c ${md5Bytes} > /tmp/blob`);
    expect(script).toContain(`[ "$md5" = ${expectedWorkloadMd5()} ]`);
  });

  it("times every step named in WORKLOAD_STEPS, in order", () => {
    const timed = [...script.matchAll(/^timed (\S+) /gm)].map((match) => match[1]);
    expect(timed).toEqual([...WORKLOAD_STEPS]);
  });
});

describe("parseWorkloadReport", () => {
  const console = [
    "[    4.3] Run /init as init process",
    "TSVMM-BOOT-OK",
    "TSVMM-TIMING dd-zero-64MiB 81403 us",
    "[    5.1] random: crng init done",
    "TSVMM-TIMING md5sum-4MiB 194111 us",
    "TSVMM-TIMING total 1997195 us",
  ];

  it("reads timings and success from CR LF console output with kernel messages in between", () => {
    const report = parseWorkloadReport(
      [...console, "TSVMM-WORKLOAD-DONE ok", "[ 6.5] reboot: Restarting system"].join("\r\n"),
    );
    expect(report).toEqual({
      done: true,
      ok: true,
      failures: [],
      timingsUs: { "dd-zero-64MiB": 81403, "md5sum-4MiB": 194111, total: 1997195 },
    });
  });

  it("is not ok when the workload did not finish or a check failed", () => {
    expect(parseWorkloadReport(console.join("\n"))).toMatchObject({ done: false, ok: false });
    const failed = parseWorkloadReport(
      [...console, "TSVMM-WORKLOAD-FAILED md5sum: got 0, want 1", "TSVMM-WORKLOAD-DONE failed"].join("\n"),
    );
    expect(failed).toMatchObject({ done: true, ok: false, failures: ["md5sum: got 0, want 1"] });
    expect(parseWorkloadReport("TSVMM-TIMING broken line\nTSVMM-WORKLOAD-DONE ok").timingsUs).toEqual({});
  });
});

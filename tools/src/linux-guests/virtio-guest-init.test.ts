// The virtio guest's helpers run by the host's sh (with fake insmod, clock, sysfs and command line
// where the guest's own would be), so what they print is what parseVirtioReport reads back.
import { spawnSync } from "node:child_process";
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { guestInitScript, LINUX_GUEST_MARKERS, LINUX_GUEST_PROMPT } from "./guest-init.js";
import {
  expectedBlkOutput,
  parseVirtioReport,
  VIRTIO_BLK_TEST,
  VIRTIO_GUEST_MARKERS,
  VIRTIO_GUEST_TESTS,
  VIRTIO_HELPERS,
  VIRTIO_MODULE_LIST,
  virtioHelpersScript,
  virtioModuleListText,
} from "./virtio-guest-init.js";

const workDir = mkdtempSync(join(tmpdir(), "tsvmm-virtio-init-"));
afterAll(() => rmSync(workDir, { recursive: true, force: true }));

const helpers = virtioHelpersScript();

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

/** An executable script in a fresh bin directory, to put first on PATH. */
function fakeCommands(commands: Record<string, string>): string {
  const bin = mkdtempSync(join(workDir, "bin-"));
  for (const [name, body] of Object.entries(commands))
    writeFileSync(join(bin, name), `#!/bin/sh\n${body}\n`, { mode: 0o755 });
  return `${bin}:${process.env.PATH}`;
}

describe("the virtio /init and helpers", () => {
  it("are valid sh; /init loads the modules before the boot marker, then runs tests or a shell", () => {
    for (const [name, text] of [
      ["init", guestInitScript("virtio")],
      ["helpers", helpers],
    ] as const) {
      writeFileSync(join(workDir, name), text);
      const check = spawnSync("sh", ["-n", join(workDir, name)], { encoding: "utf8" });
      expect(check.status, `${name}: ${check.stderr}`).toBe(0);
    }
    const init = guestInitScript("virtio");
    const order = [
      "mount -t devtmpfs devtmpfs /dev",
      `. ${VIRTIO_HELPERS}`,
      "load_modules",
      `echo "${LINUX_GUEST_MARKERS.boot}"`,
      "list_virtio_devices",
      'run_tests "$tests"',
      `export PS1='${LINUX_GUEST_PROMPT}' ENV=${VIRTIO_HELPERS}`,
    ].map((step) => init.indexOf(step));
    expect(order.every((at) => at > 0)).toBe(true);
    expect([...order].sort((a, b) => a - b)).toEqual(order);
    expect(init).toMatch(/setsid cttyhack sh\npower_off\n$/);
  });

  it("defines a test_<name> function for every test run_tests accepts", () => {
    for (const test of VIRTIO_GUEST_TESTS) expect(() => shellFunction(helpers, `test_${test}`)).not.toThrow();
  });
});

describe("cmdline_param", () => {
  const cmdline = join(workDir, "cmdline");
  const param = (name: string, fallback: string) =>
    runSh(`${shellFunction(helpers, "cmdline_param")}\ncmdline_param ${name} '${fallback}'`, {
      TSVMM_CMDLINE_FILE: cmdline,
    }).trim();

  it("gives tsvmm.NAME's value, the first one when repeated, else the default", () => {
    writeFileSync(
      cmdline,
      "console=ttyS0 tsvmm.test=blk,rng tsvmm.ip=10.0.2.15/24 tsvmm.ip=10.0.2.99/24 xtsvmm.peer=1 tsvmm.empty=\n",
    );
    expect(param("test", "")).toBe("blk,rng");
    expect(param("ip", "none")).toBe("10.0.2.15/24");
    expect(param("peer", "fallback")).toBe("fallback");
    expect(param("empty", "fallback")).toBe("");
    expect(param("te", "fallback")).toBe("fallback");
  });

  it("does not expand glob characters on the command line", () => {
    writeFileSync(cmdline, "tsvmm.blk=/dev/vd* tsvmm.test=*\n");
    expect(param("blk", "")).toBe("/dev/vd*");
    expect(param("test", "")).toBe("*");
  });
});

describe("load_modules", () => {
  const modules = [
    { name: "virtio", path: "kernel/drivers/virtio/virtio.ko" },
    { name: "virtio_blk", path: "kernel/drivers/block/virtio_blk.ko" },
    { name: "ext4", path: "kernel/fs/ext4/ext4.ko" },
  ];
  const list = join(workDir, "modules");
  writeFileSync(list, virtioModuleListText(modules));
  const loadModules = shellFunction(helpers, "load_modules").replace(VIRTIO_MODULE_LIST, list);
  const insmodLog = join(workDir, "insmod.log");

  it("insmods every listed module in order from /lib/modules/<uname -r> and says all loaded", () => {
    writeFileSync(insmodLog, "");
    const path = fakeCommands({ insmod: `echo "$1" >> ${insmodLog}`, uname: "echo 6.1.0-99-686" });
    const report = parseVirtioReport(runSh(`${loadModules}\nload_modules`, { PATH: path }));
    expect(readFileSync(insmodLog, "utf8")).toBe(
      modules.map((module) => `/lib/modules/6.1.0-99-686/${module.path}\n`).join(""),
    );
    expect(report.modulesOk).toBe(true);
    expect(report.moduleFailures).toEqual([]);
  });

  it("prints one failure line per module that does not load, with insmod's message on one line", () => {
    const path = fakeCommands({
      insmod:
        'case "$1" in *virtio_blk.ko) echo "insmod: cannot insert" >&2; echo "Unknown symbol" >&2; exit 1;; esac',
      uname: "echo 6.1.0-99-686",
    });
    const report = parseVirtioReport(runSh(`${loadModules}\nload_modules || true`, { PATH: path }));
    expect(report.modulesOk).toBe(false);
    expect(report.moduleFailures).toEqual([
      { module: "virtio_blk", message: "insmod: cannot insert Unknown symbol" },
    ]);
  });
});

describe("list_virtio_devices", () => {
  it("names each device's ID, driver and transport from sysfs links", () => {
    const sys = join(workDir, "sys");
    const link = (target: string, path: string) => {
      mkdirSync(join(path, ".."), { recursive: true });
      symlinkSync(target, path);
    };
    const pciDevice = join(sys, "devices/pci0000:00/0000:00:04.0");
    const mmioDevice = join(sys, "devices/platform/LNRO0005:00");
    for (const [parent, name, id, driver, transport] of [
      [pciDevice, "virtio0", "0x0002", "virtio_blk", "virtio-pci"],
      [mmioDevice, "virtio1", "0x0004", "virtio_rng", "virtio-mmio"],
    ] as const) {
      mkdirSync(join(parent, name), { recursive: true });
      writeFileSync(join(parent, name, "device"), `${id}\n`);
      mkdirSync(join(sys, "bus/virtio/drivers", driver), { recursive: true });
      mkdirSync(join(sys, "bus/platform/drivers", transport), { recursive: true });
      link(join(sys, "bus/virtio/drivers", driver), join(parent, name, "driver"));
      link(join(sys, "bus/platform/drivers", transport), join(parent, "driver"));
      link(join(parent, name), join(sys, "bus/virtio/devices", name));
    }
    // A device no driver took: its transport is known, its driver is not.
    mkdirSync(join(pciDevice, "virtio2"));
    writeFileSync(join(pciDevice, "virtio2", "device"), "0x0001\n");
    link(join(pciDevice, "virtio2"), join(sys, "bus/virtio/devices/virtio2"));

    const list = shellFunction(helpers, "list_virtio_devices").replace(
      "/sys/bus/virtio/devices",
      join(sys, "bus/virtio/devices"),
    );
    expect(parseVirtioReport(runSh(`${list}\nlist_virtio_devices`)).devices).toEqual([
      { name: "virtio0", id: 2, driver: "virtio_blk", transport: "virtio-pci" },
      { name: "virtio1", id: 4, driver: "virtio_rng", transport: "virtio-mmio" },
      { name: "virtio2", id: 1, driver: "none", transport: "virtio-pci" },
    ]);
  });
});

describe("bench_step and run_tests", () => {
  const functions = ["test_ok", "test_failed", "bench_step", "run_tests"]
    .map((name) => shellFunction(helpers, name))
    .join("\n");

  it("bench_step prints MiB/s with two decimals from the measured microseconds", () => {
    const clock = join(workDir, "clock");
    // Each reading of the fake clock is STEP microseconds after the previous one.
    const run = (step: number) => {
      writeFileSync(clock, "1000000");
      return parseVirtioReport(
        runSh(`failed=0
now_us() { t=$(($(cat ${clock}) + ${step})); echo $t > ${clock}; echo $t; }
sync() { :; }
${functions}
bench_step blk-read 64 true`),
      );
    };
    expect(run(32_000).bench).toEqual({ "blk-read": { mib: 64, us: 32_000, mibPerSecond: 2000 } });
    expect(run(3_000_000).bench["blk-read"]).toEqual({ mib: 64, us: 3_000_000, mibPerSecond: 21.33 });
    expect(run(7).bench["blk-read"]!.mibPerSecond).toBe(9142857.14);
  });

  it("bench_step fails the bench test when the command fails", () => {
    const report = parseVirtioReport(
      runSh(`failed=0
now_us() { echo 5; }
sync() { :; }
${functions}
bench_step blk-write 64 false || echo "${VIRTIO_GUEST_MARKERS.done} failed"`),
    );
    expect(report.failures).toEqual([{ test: "bench", why: "blk-write: exit status 1" }]);
    expect(report.bench).toEqual({});
  });

  it("run_tests runs the named tests in order, refuses unknown ones and prints the done line", () => {
    const fakes =
      "test_blk() { test_ok blk; }\ntest_rng() { test_failed rng 'two reads gave the same bytes'; }";
    const ok = parseVirtioReport(runSh(`failed=0\n${functions}\n${fakes}\nrun_tests blk`));
    expect(ok).toMatchObject({ passed: ["blk"], failures: [], done: true });
    const output = runSh(`failed=0\n${functions}\n${fakes}\nrun_tests rng,blk,frobnicate`);
    expect(output.match(new RegExp(`^${VIRTIO_GUEST_MARKERS.testStart} \\S+`, "gm"))).toEqual([
      `${VIRTIO_GUEST_MARKERS.testStart} rng`,
      `${VIRTIO_GUEST_MARKERS.testStart} blk`,
    ]);
    const failed = parseVirtioReport(output);
    expect(failed.passed).toEqual(["blk"]);
    expect(failed.failures).toEqual([
      { test: "rng", why: "two reads gave the same bytes" },
      { test: "frobnicate", why: "no such test" },
    ]);
    expect(failed).toMatchObject({ done: true, ok: false });
  });
});

describe("icmp_in_echos", () => {
  it.skipIf(!existsSync("/proc/net/snmp"))("reads InEchos from the Icmp lines of /proc/net/snmp", () => {
    const snmp = readFileSync("/proc/net/snmp", "utf8").split("\n");
    const [header, values] = snmp.filter((line) => line.startsWith("Icmp:"));
    const want = values!.split(/\s+/)[header!.split(/\s+/).indexOf("InEchos")];
    expect(runSh(`${shellFunction(helpers, "icmp_in_echos")}\nicmp_in_echos`).trim()).toBe(want);
  });
});

describe("the blk test's files", () => {
  it("writes the output line expectedBlkOutput describes, from the md5 it read", () => {
    const blk = shellFunction(helpers, "test_blk");
    expect(blk).toContain(
      `echo "${VIRTIO_BLK_TEST.inputFile} md5=$in_md5" > /mnt/${VIRTIO_BLK_TEST.outputFile}`,
    );
    expect(blk).toContain(
      `yes ${VIRTIO_BLK_TEST.patternLine} | head -c ${VIRTIO_BLK_TEST.patternBytes} > /mnt/${VIRTIO_BLK_TEST.patternFile}`,
    );
    expect(expectedBlkOutput("0123")).toBe(`${VIRTIO_BLK_TEST.inputFile} md5=0123\n`);
    expect(expectedBlkOutput(undefined)).toBe(`${VIRTIO_BLK_TEST.inputFile} md5=none\n`);
  });
});

describe("parseVirtioReport", () => {
  // Lines from a real run on QEMU (pc machine, virtio-pci), kernel messages in between, CR LF.
  const transcript = [
    "[    3.1] virtio_blk virtio1: [vda] 32768 512-byte logical blocks (16.8 MB/16.0 MiB)",
    "TSVMM-MODULES-OK 17",
    "TSVMM-BOOT-OK",
    "TSVMM-VIRTIO-DEVICE virtio0 id=4 driver=virtio_rng transport=virtio-pci",
    "TSVMM-VIRTIO-DEVICE virtio1 id=2 driver=virtio_blk transport=virtio-pci",
    "TSVMM-TEST-START blk",
    "TSVMM-BLK-READ tsvmm-in.bin md5=164c7605f92a15d87c6049ca041a03b3",
    "[    3.9] EXT4-fs (vda): mounted filesystem with ordered data mode.",
    "TSVMM-TEST-OK blk",
    "TSVMM-RNG bytes=eca5708ad52de1b08e1cd69163c51541fb457c2420c2e45f19d9b0ec0d865794",
    "TSVMM-TEST-OK rng",
    "TSVMM-NET eth0 mac=52:54:00:12:34:01 ip=10.0.2.15/24",
    "TSVMM-NET-PING peer=10.0.2.16 transmitted=3 received=3 avg-ms=11.481",
    "TSVMM-TEST-OK net",
    "TSVMM-HVC-READ hello from the host",
    "TSVMM-TEST-OK console",
    "TSVMM-BENCH-START blk-write",
    "TSVMM-BENCH blk-write MiB=64 us=80897 MiB/s=791.12",
    "TSVMM-BENCH blk-read MiB=64 us=34652 MiB/s=1846.93",
    "TSVMM-TEST-OK bench",
  ];

  it("reads every kind of line", () => {
    const report = parseVirtioReport(
      [...transcript, "TSVMM-VIRTIO-DONE ok", "[ 4.3] reboot: Restarting system"].join("\r\n"),
    );
    expect(report).toEqual({
      moduleFailures: [],
      modulesOk: true,
      devices: [
        { name: "virtio0", id: 4, driver: "virtio_rng", transport: "virtio-pci" },
        { name: "virtio1", id: 2, driver: "virtio_blk", transport: "virtio-pci" },
      ],
      passed: ["blk", "rng", "net", "console", "bench"],
      failures: [],
      blkInputMd5: "164c7605f92a15d87c6049ca041a03b3",
      rngBytes: "eca5708ad52de1b08e1cd69163c51541fb457c2420c2e45f19d9b0ec0d865794",
      net: { device: "eth0", mac: "52:54:00:12:34:01", ip: "10.0.2.15/24" },
      ping: { peer: "10.0.2.16", received: 3, avgMs: 11.481 },
      hvcRead: "hello from the host",
      bench: {
        "blk-write": { mib: 64, us: 80897, mibPerSecond: 791.12 },
        "blk-read": { mib: 64, us: 34652, mibPerSecond: 1846.93 },
      },
      done: true,
      ok: true,
    });
  });

  it("is not ok without the done line, with a failed test or module, or without the modules line", () => {
    expect(parseVirtioReport(transcript.join("\n"))).toMatchObject({ done: false, ok: false });
    const withDone = (...lines: string[]) =>
      parseVirtioReport([...transcript, ...lines, "TSVMM-VIRTIO-DONE ok"].join("\n"));
    expect(withDone().ok).toBe(true);
    expect(withDone("TSVMM-TEST-FAILED net no reply from 10.0.2.16 in 120s")).toMatchObject({
      ok: false,
      failures: [{ test: "net", why: "no reply from 10.0.2.16 in 120s" }],
    });
    expect(withDone("TSVMM-MODULE-FAILED ext4 insmod: can't insert").ok).toBe(false);
    expect(parseVirtioReport(["TSVMM-VIRTIO-DONE ok"].join("\n")).ok).toBe(false);
    expect(parseVirtioReport([...transcript, "TSVMM-VIRTIO-DONE failed"].join("\n")).ok).toBe(false);
  });

  it("ignores malformed lines", () => {
    const report = parseVirtioReport(
      [
        "TSVMM-BENCH blk-read MiB=x us=1 MiB/s=1.00",
        "TSVMM-VIRTIO-DEVICE virtio0 id=two",
        "TSVMM-NET-PING peer=1",
      ].join("\n"),
    );
    expect(report).toMatchObject({ bench: {}, devices: [], ping: undefined });
  });
});

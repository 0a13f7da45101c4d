// The profile run's child process: boots the kernel on tsqemu's machine in-process (buildPc from
// @tsvmm/vmm-core, as tsqemu's CLI builds it), under `node --cpu-prof` when the parent asks, with the
// GuestSampler as the vCPU scheduler, and writes what it saw as JSON when the boot marker appears.
//   node [--cpu-prof ...] --conditions=source --import tsx profile-run.ts --kernel K --initrd I --append A
//        --memory MIB --marker M --sample-every N --timeout S --report FILE
import { readFileSync, writeFileSync } from "node:fs";
import { parseArgs } from "node:util";
import { exitReasonName } from "@tsvmm/kvm-api";
import { buildPc } from "@tsvmm/vmm-core";
import { ConsoleRecorder, type TimedLine } from "./console-recorder.js";
import { GuestSampler, type GuestSamples } from "./guest-sampler.js";

export interface ProfileRunReport {
  /** Whether the marker appeared before the timeout. */
  reachedMarker: boolean;
  /** Host seconds from the start of the boot (after the files were read) to the marker or the timeout. */
  seconds: number;
  instructions: number;
  /** machine.exitCounts by name. */
  exits: Record<string, number>;
  machineStats: Record<string, number>;
  vmStats: Record<string, number>;
  samples: GuestSamples;
  lines: TimedLine[];
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      kernel: { type: "string" },
      initrd: { type: "string" },
      append: { type: "string", default: "" },
      memory: { type: "string", default: "256" },
      marker: { type: "string" },
      "sample-every": { type: "string", default: "50000" },
      timeout: { type: "string", default: "1800" },
      report: { type: "string" },
    },
  });
  if (!values.kernel || !values.initrd || !values.marker || !values.report)
    throw new Error("--kernel, --initrd, --marker and --report are needed");
  const image = new Uint8Array(readFileSync(values.kernel));
  const initrd = new Uint8Array(readFileSync(values.initrd));
  const sampler = new GuestSampler(Number(values["sample-every"]));
  const recorder = new ConsoleRecorder(values.marker);
  const started = performance.now();
  let pending = "";
  const memoryBytes = Number(values.memory) * 1024 * 1024;
  const pc = buildPc({
    memoryBytes,
    kernel: { image, initrd, cmdline: values.append },
    serial: {
      transmit: (byte) => {
        pending += String.fromCharCode(byte);
        if (byte !== 0x0a) return;
        if (recorder.feed(pending, performance.now() - started)) pc.machine.requestExit({ kind: "stopped" });
        pending = "";
      },
    },
    scheduler: sampler,
  });
  // Low memory, which the kernel maps at PAGE_OFFSET, ends at 896 MiB on i386 with the 3G/1G split.
  sampler.enableFrameWalk(pc.vm.memory, Math.min(memoryBytes, 896 * 1024 * 1024));
  // The marker line ends with a newline; a marker without one is caught when the timeout flushes.
  const timeout = setTimeout(
    () => pc.machine.requestExit({ kind: "stopped" }),
    Number(values.timeout) * 1000,
  );
  const exit = await pc.run();
  clearTimeout(timeout);
  const seconds = (performance.now() - started) / 1000;
  if (pending) recorder.feed(pending, performance.now() - started);
  if (exit.kind !== "stopped")
    throw new Error(`the machine ended before the marker: ${JSON.stringify(exit)}`);
  const report: ProfileRunReport = {
    reachedMarker: recorder.markerMs !== undefined,
    seconds: recorder.markerMs === undefined ? seconds : recorder.markerMs / 1000,
    instructions: pc.vm.listVcpus().reduce((sum, vcpu) => sum + vcpu.instructionCount, 0),
    exits: Object.fromEntries([...pc.machine.exitCounts].map(([reason, n]) => [exitReasonName(reason), n])),
    machineStats: { ...pc.machine.stats },
    vmStats: { ...pc.vm.getStats() },
    samples: sampler.result(),
    lines: recorder.lines,
  };
  writeFileSync(values.report, JSON.stringify(report));
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    process.stderr.write(
      `profile-run: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`,
    );
    process.exit(1);
  },
);

// Reads /proc/kallsyms from the guest kernel booted on QEMU (fast, and the kernel is the same file), for
// kernels whose package ships no real System.map (Debian keeps it in the -dbg package).
import { spawn } from "node:child_process";
import { kallsymsFromConsole } from "./kernel-symbols.js";

export interface KallsymsCaptureOptions {
  qemu: string;
  kernel: string;
  initrd: string;
  /** Must contain nokaslr, so the symbols are at the addresses the profile run (also nokaslr) sees. */
  cmdline: string;
  memoryMiB: number;
  prompt: string;
  timeoutSeconds: number;
}

const COMMAND = "cat /proc/kallsyms";

/** Boots the guest to its shell prompt, runs `cat /proc/kallsyms` and returns the listing. */
export function captureKallsyms(options: KallsymsCaptureOptions): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(
      options.qemu,
      [
        "-accel",
        "tcg",
        "-m",
        `${options.memoryMiB}M`,
        "-kernel",
        options.kernel,
        "-initrd",
        options.initrd,
        "-append",
        options.cmdline,
        "-nographic",
        "-no-reboot",
      ],
      { stdio: ["pipe", "pipe", "ignore"] },
    );
    let transcript = "";
    let sentAt = -1;
    let done = false;
    const finish = (error: Error | undefined) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      child.kill("SIGKILL");
      if (error) reject(error);
      else resolve(kallsymsFromConsole(transcript.slice(sentAt), COMMAND, options.prompt));
    };
    const timer = setTimeout(
      () => finish(new Error(`no kallsyms from QEMU within ${options.timeoutSeconds} s`)),
      options.timeoutSeconds * 1000,
    );
    child.stdout.setEncoding("latin1");
    child.stdout.on("data", (text: string) => {
      transcript += text;
      if (sentAt < 0) {
        if (transcript.includes(options.prompt)) {
          sentAt = transcript.length;
          child.stdin.write(`${COMMAND}\n`);
        }
        return;
      }
      const afterCommand = transcript.indexOf(COMMAND, sentAt);
      if (afterCommand >= 0 && transcript.indexOf(options.prompt, afterCommand) >= 0) finish(undefined);
    });
    child.on("error", (error) => finish(error));
    child.on("close", (code) => finish(new Error(`QEMU ended (status ${code}) before the kallsyms listing`)));
  });
}

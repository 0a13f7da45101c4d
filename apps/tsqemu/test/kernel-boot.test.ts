// End to end: -kernel/-initrd/-append with tiny multiboot and Linux-protocol kernels built by the test.
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { runTsqemu } from "./run-tsqemu.js";
import { multibootEchoKernel, rebootingBzImage } from "./test-kernels.js";

function files(contents: Record<string, Uint8Array | string>): Record<string, string> {
  const dir = mkdtempSync(join(tmpdir(), "tsqemu-kernel-"));
  const paths: Record<string, string> = {};
  for (const [name, data] of Object.entries(contents)) {
    paths[name] = join(dir, name);
    writeFileSync(paths[name], data);
  }
  return paths;
}

const EXIT_DEVICE = ["-device", "isa-debug-exit,iobase=0xf4,iosize=1"];

describe("tsqemu -kernel", () => {
  it("boots a multiboot kernel with its command line and modules, serial on stdio by default", async () => {
    const paths = files({ "kernel.elf": multibootEchoKernel(), "a.txt": "alpha\0", "b.txt": "beta\0" });
    const { status, stdout, stderr } = await runTsqemu([
      "-kernel",
      paths["kernel.elf"],
      "-append",
      "root=none quiet",
      "-initrd",
      `${paths["a.txt"]} one,${paths["b.txt"]}`,
      ...EXIT_DEVICE,
    ]);
    expect(stderr).toBe("");
    expect(stdout).toBe(`root=none quiet|${paths["a.txt"]} one=alpha|${paths["b.txt"]}=beta`);
    expect(status).toBe(0x21);
  });

  it("boots a bzImage with its initrd, and boots it again when the guest reboots", async () => {
    const paths = files({ bzImage: rebootingBzImage(), "initrd.img": "INITRD\0" });
    const args = ["-kernel", paths.bzImage, "-initrd", paths["initrd.img"], "-append", "console=ttyS0"];
    const rebooted = await runTsqemu([...args, ...EXIT_DEVICE, "-icount", "shift=0", "-machine", "isapc"]);
    expect(rebooted.stdout).toBe("console=ttyS0|INITRD\n".repeat(2));
    expect(rebooted.status).toBe((2 << 1) | 1);

    const noReboot = await runTsqemu([...args, ...EXIT_DEVICE, "-no-reboot", "-m", "64M"]);
    expect(noReboot.stdout).toBe("console=ttyS0|INITRD\n");
    expect(noReboot.status).toBe(0);
  });

  it("runs without -append (an empty command line) and without an exit device", async () => {
    const paths = files({ bzImage: rebootingBzImage(), "initrd.img": "\0" });
    const { status, stdout } = await runTsqemu([
      "-kernel",
      paths.bzImage,
      "-initrd",
      paths["initrd.img"],
      "-no-reboot",
    ]);
    expect(stdout).toBe("|\n");
    expect(status).toBe(0);
  });

  it("reports bad kernels, missing files and misplaced options as QEMU does", async () => {
    const paths = files({ "junk.bin": new Uint8Array(4096) });
    const junk = await runTsqemu(["-kernel", paths["junk.bin"]]);
    expect(junk.status).toBe(1);
    expect(junk.stderr).toMatch(
      /could not load kernel '.*junk\.bin': .*neither a Linux bzImage nor a multiboot/,
    );
    const missing = await runTsqemu(["-kernel", "/nonexistent/bzImage"]);
    expect(missing.status).toBe(1);
    expect(missing.stderr).toContain("could not load kernel '/nonexistent/bzImage'");
    const kernel = files({ bzImage: rebootingBzImage() }).bzImage;
    const noInitrd = await runTsqemu(["-kernel", kernel, "-initrd", "/nonexistent/initrd"]);
    expect(noInitrd.stderr).toContain("could not load initial ram disk '/nonexistent/initrd'");
    const append = await runTsqemu(["-append", "console=ttyS0"]);
    expect(append.stderr).toContain("-append only allowed with -kernel option");
    const machine = await runTsqemu(["-machine", "help"]);
    expect(machine.stdout).toMatch(/^pc .*\nisapc /m);
    expect(machine.status).toBe(0);
  });
});

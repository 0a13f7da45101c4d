import { describe, expect, it } from "vitest";
import { parseCommandLine, type TsqemuOptions } from "./index.js";

function parse(...argv: string[]): { options: TsqemuOptions; warnings: string[] } {
  const parsed = parseCommandLine(argv);
  if (parsed.action !== "run") throw new Error(`expected run, got ${JSON.stringify(parsed)}`);
  return parsed;
}

function virtio(...argv: string[]): TsqemuOptions["virtio"] {
  return parse(...argv).options.virtio;
}

function error(...argv: string[]): string {
  const parsed = parseCommandLine(argv);
  if (parsed.action !== "error") throw new Error(`expected an error, got ${JSON.stringify(parsed)}`);
  return parsed.message;
}

describe("-drive", () => {
  it("makes an if=virtio drive a virtio-blk-pci disk with QEMU's drive name", () => {
    expect(virtio("-drive", "file=disk.img,if=virtio,format=raw")).toEqual([
      {
        driver: "virtio-blk-pci",
        transport: "pci",
        pciSlot: undefined,
        kind: "block",
        drive: {
          id: "virtio0",
          path: "disk.img",
          readOnly: false,
          snapshot: false,
          discard: false,
          serial: undefined,
        },
      },
    ]);
    const two = virtio(
      "-drive",
      "file=a.img,if=virtio,format=raw,readonly=on,serial=ABC,cache=none,discard=unmap,aio=threads",
      "-drive",
      "file=b.img,if=virtio,format=raw,id=data,read-only=off,snapshot=on",
    );
    expect(two.map((d) => (d.kind === "block" ? d.drive : undefined))).toEqual([
      { id: "virtio0", path: "a.img", readOnly: true, snapshot: false, discard: true, serial: "ABC" },
      { id: "data", path: "b.img", readOnly: false, snapshot: true, discard: false, serial: undefined },
    ]);
  });

  it("passes discards on with discard=unmap or on, and not with ignore, off or no discard= (QEMU's default)", () => {
    const discard = (value: string | undefined) => {
      const [disk] = virtio(
        "-drive",
        `file=d.img,if=virtio,format=raw${value === undefined ? "" : `,discard=${value}`}`,
      );
      return disk.kind === "block" ? disk.drive.discard : undefined;
    };
    expect([undefined, "ignore", "off", "unmap", "on"].map(discard)).toEqual([
      false,
      false,
      false,
      true,
      true,
    ]);
    const [viaDevice] = virtio(
      "-drive",
      "file=d.img,if=none,id=d0,format=raw,discard=unmap",
      "-device",
      "virtio-blk-device,drive=d0",
    );
    expect(viaDevice).toMatchObject({ kind: "block", drive: { id: "d0", discard: true } });
    const [withSnapshot] = virtio("-drive", "file=d.img,if=virtio,format=raw,discard=on", "-snapshot");
    expect(withSnapshot).toMatchObject({ kind: "block", drive: { snapshot: true, discard: true } });
    // QEMU's values only, as QEMU spells them.
    for (const bad of ["yes", "true", "UNMAP", "", "trim"]) {
      expect(error("-drive", `file=d.img,if=virtio,discard=${bad}`)).toBe(
        `-drive file=d.img,if=virtio,discard=${bad}: Invalid discard option`,
      );
    }
  });

  it("takes a file name with a doubled comma, and -snapshot for every drive", () => {
    const [disk] = virtio("-drive", "file=my,,disk.img,if=virtio,format=raw", "-snapshot");
    expect(disk).toMatchObject({ kind: "block", drive: { path: "my,disk.img", snapshot: true } });
  });

  it("warns, as QEMU does, when format= is missing, and reads the image as raw", () => {
    const { options, warnings } = parse("-drive", "file=disk.img,if=virtio");
    expect(options.virtio).toHaveLength(1);
    expect(warnings).toEqual(["Image format was not specified for 'disk.img' and probing guessed raw."]);
  });

  it("connects if=none drives to -device virtio-blk-pci and virtio-blk-device", () => {
    const devices = virtio(
      "-drive",
      "file=a.img,if=none,id=d0,format=raw,serial=drive-serial",
      "-drive",
      "if=none,id=d1,format=raw,file=b.img",
      "-device",
      "virtio-blk-device,drive=d1",
      "-device",
      "virtio-blk-pci,drive=d0,serial=device-serial,addr=0x5",
    );
    expect(devices).toEqual([
      {
        driver: "virtio-blk-device",
        transport: "mmio",
        pciSlot: undefined,
        kind: "block",
        drive: {
          id: "d1",
          path: "b.img",
          readOnly: false,
          snapshot: false,
          discard: false,
          serial: undefined,
        },
      },
      {
        driver: "virtio-blk-pci",
        transport: "pci",
        pciSlot: 5,
        kind: "block",
        drive: {
          id: "d0",
          path: "a.img",
          readOnly: false,
          snapshot: false,
          discard: false,
          serial: "device-serial",
        },
      },
    ]);
  });

  it("puts explicit -device disks before if=virtio ones, as QEMU creates them", () => {
    const devices = virtio(
      "-drive",
      "file=auto.img,if=virtio,format=raw",
      "-drive",
      "file=manual.img,if=none,id=m,format=raw",
      "-device",
      "virtio-blk-pci,drive=m",
    );
    expect(devices.map((d) => (d.kind === "block" ? d.drive.path : ""))).toEqual(["manual.img", "auto.img"]);
  });

  it("rejects what tsqemu cannot do with QEMU's messages or a clear one", () => {
    expect(error("-drive", "file=d.img")).toBe(
      "-drive file=d.img: tsqemu has no IDE (the default if=) controller; use if=virtio, or if=none with -device virtio-blk-pci,drive=ID",
    );
    expect(error("-drive", "file=d.img,if=scsi")).toMatch(/no scsi controller/);
    expect(error("-drive", "file=d.img,if=usb")).toBe("-drive file=d.img,if=usb: unsupported bus type 'usb'");
    expect(error("-drive", "file=d.img,if=virtio,format=qcow2")).toMatch(/raw images only.*qcow2/);
    expect(error("-drive", "file=d.img,if=virtio,format=bogus")).toMatch(/Unknown driver 'bogus'$/);
    expect(error("-drive", "file=d.img,if=virtio,colour=red")).toMatch(/Invalid parameter 'colour'$/);
    expect(error("-drive", "file=d.img,if=virtio,index=1")).toMatch(/does not support 'index'/);
    expect(error("-drive", "file=d.img,if=virtio,readonly=maybe")).toMatch(
      /Parameter 'readonly' expects 'on' or 'off'$/,
    );
    expect(error("-drive", "file=d.img,if=virtio,cache=fast")).toMatch(/invalid cache option$/);
    expect(error("-drive", "file=d.img,if=virtio,discard=yes")).toMatch(/Invalid discard option$/);
    expect(error("-drive", "file=d.img,if=virtio,media=cdrom")).toMatch(/no CD-ROM/);
    expect(error("-drive", "if=virtio,format=raw")).toBe(
      "-drive if=virtio,format=raw: Device needs media, but drive is empty",
    );
    expect(error("-drive", "file=d.img,if=none,format=raw")).toMatch(/if=none needs id=ID/);
    expect(error("-drive", "file=d.img,if=none,id=9lives")).toMatch(/Parameter 'id' expects an identifier$/);
    expect(
      error("-drive", "file=a.img,if=none,id=d0,format=raw", "-drive", "file=b.img,if=none,id=d0,format=raw"),
    ).toMatch(/Duplicate ID 'd0' for drive$/);
    expect(error("-drive", "file=d.img,if=virtio,format=raw", "-machine", "isapc")).toMatch(
      /No 'PCI' bus found for device 'virtio-blk-pci'$/,
    );
  });

  it("refuses a drive two devices want, a missing one, and an empty one", () => {
    const drive = ["-drive", "file=a.img,if=none,id=d0,format=raw"];
    expect(
      error(...drive, "-device", "virtio-blk-pci,drive=d0", "-device", "virtio-blk-device,drive=d0"),
    ).toBe("-device virtio-blk-device,drive=d0: Drive 'd0' is already in use by another device");
    expect(error(...drive, "-device", "virtio-blk-pci,drive=d9")).toBe(
      "-device virtio-blk-pci,drive=d9: Property 'virtio-blk-pci.drive' can't find value 'd9'",
    );
    expect(error(...drive, "-device", "virtio-blk-pci")).toBe(
      "-device virtio-blk-pci: drive property not set",
    );
    expect(error("-drive", "if=none,id=e", "-device", "virtio-blk-pci,drive=e")).toMatch(
      /Device needs media, but drive is empty$/,
    );
    expect(
      error("-drive", "file=a.img,if=virtio,id=v,format=raw", "-device", "virtio-blk-pci,drive=v"),
    ).toMatch(/automatically connected to another device \(did you need 'if=none' in the drive options\?\)$/);
  });
});

describe("-netdev and virtio-net", () => {
  it("wires socket netdevs (listen and connect) to NICs with QEMU's default MACs", () => {
    const devices = virtio(
      "-netdev",
      "socket,id=n0,listen=:1234",
      "-netdev",
      "socket,id=n1,connect=127.0.0.1:5678",
      "-netdev",
      "socket,id=n2,listen=[::1]:0",
      "-device",
      "virtio-net-pci,netdev=n0",
      "-device",
      "virtio-net-device,netdev=n1,mac=02:00:00:00:00:01",
      "-device",
      "virtio-net,netdev=n2",
    );
    expect(devices).toEqual([
      {
        driver: "virtio-net-pci",
        transport: "pci",
        pciSlot: undefined,
        kind: "net",
        mac: "52:54:00:12:34:56",
        netdev: { kind: "socket", id: "n0", mode: "listen", host: "", port: 1234 },
      },
      {
        driver: "virtio-net-device",
        transport: "mmio",
        pciSlot: undefined,
        kind: "net",
        mac: "02:00:00:00:00:01",
        netdev: { kind: "socket", id: "n1", mode: "connect", host: "127.0.0.1", port: 5678 },
      },
      {
        driver: "virtio-net",
        transport: "pci",
        pciSlot: undefined,
        kind: "net",
        mac: "52:54:00:12:34:58",
        netdev: { kind: "socket", id: "n2", mode: "listen", host: "::1", port: 0 },
      },
    ]);
  });

  it("takes tap netdevs with script=no, and warns about a netdev no NIC uses", () => {
    const { options, warnings } = parse(
      "-netdev",
      "tap,id=t0,ifname=tap0,script=no,downscript=no",
      "-netdev",
      "socket,id=spare,listen=:9",
      "-device",
      "virtio-net-pci,netdev=t0",
    );
    expect(options.virtio[0]).toMatchObject({
      kind: "net",
      netdev: { kind: "tap", id: "t0", ifname: "tap0" },
    });
    expect(warnings).toEqual(["netdev spare has no peer"]);
  });

  it("rejects bad netdevs and NICs", () => {
    expect(error("-netdev", "socket,id=n0")).toMatch(
      /exactly one of listen=, connect=, mcast= or udp= is required$/,
    );
    expect(error("-netdev", "socket,id=n0,listen=:1,connect=h:2")).toMatch(/exactly one of/);
    expect(error("-netdev", "socket,listen=:1234")).toMatch(/Parameter 'id' is missing$/);
    expect(error("-netdev", "socket,id=n0,listen=1234")).toMatch(/error parsing listen address '1234'/);
    expect(error("-netdev", "socket,id=n0,connect=host:99999")).toMatch(/error parsing connect address/);
    expect(error("-netdev", "socket,id=n0,mcast=230.0.0.1:1234")).toMatch(/listen= or connect= only/);
    expect(error("-netdev", "user,id=n0")).toMatch(/no user-mode network stack/);
    expect(error("-netdev", "bridge,id=n0")).toMatch(/Parameter 'type' expects a netdev backend type/);
    expect(error("-netdev", "tap,id=t0,script=/etc/qemu-ifup")).toMatch(/runs no network scripts/);
    expect(error("-netdev", "tap,id=t0,vhost=on")).toMatch(/vhost=off/);
    expect(error("-netdev", "socket,id=n0,listen=:1", "-netdev", "socket,id=n0,listen=:2")).toMatch(
      /Duplicate ID 'n0' for netdev$/,
    );
    const n0 = ["-netdev", "socket,id=n0,listen=:1"];
    expect(error(...n0, "-device", "virtio-net-pci,netdev=n1")).toBe(
      "-device virtio-net-pci,netdev=n1: Property 'virtio-net-pci.netdev' can't find value 'n1'",
    );
    expect(
      error(...n0, "-device", "virtio-net-pci,netdev=n0", "-device", "virtio-net-pci,netdev=n0"),
    ).toMatch(/Property 'virtio-net-pci.netdev' can't take value 'n0', it's in use$/);
    expect(error(...n0, "-device", "virtio-net-pci,netdev=n0,mac=52:54:00:12:34")).toMatch(
      /Property 'virtio-net-pci.mac' doesn't take value '52:54:00:12:34'$/,
    );
    expect(error(...n0, "-device", "virtio-net-pci")).toMatch(/needs netdev=ID/);
  });
});

describe("-chardev, virtio-serial and virtconsole", () => {
  it("puts a virtconsole on a chardev behind virtio-serial; COM1 leaves stdio for a stdio chardev", () => {
    const { options } = parse(
      "-chardev",
      "stdio,id=c0",
      "-device",
      "virtio-serial-pci",
      "-device",
      "virtconsole,chardev=c0",
    );
    expect(options.virtio).toEqual([
      {
        driver: "virtio-serial-pci",
        transport: "pci",
        pciSlot: undefined,
        kind: "console",
        chardev: { kind: "stdio", id: "c0" },
      },
    ]);
    expect(options.serial).toEqual({ kind: "none" });
    expect(
      parse("-chardev", "stdio,id=c0", "-device", "virtio-serial-pci", "-serial", "file:/tmp/s").options
        .serial,
    ).toEqual({ kind: "file", path: "/tmp/s" });
  });

  it("names the virtio-serial with bus=, and takes socket and null chardevs", () => {
    const devices = virtio(
      "-chardev",
      "socket,id=s0,path=/tmp/console.sock,server=on,wait=off",
      "-chardev",
      "socket,id=s1,path=/tmp/other.sock,server,nowait",
      "-device",
      "virtio-serial-device,id=vs0",
      "-device",
      "virtio-serial-pci,id=vs1",
      "-device",
      "virtconsole,chardev=s1,bus=vs1.0,name=org.example.0",
      "-device",
      "virtconsole,chardev=s0",
      "-device",
      "virtio-serial-device",
    );
    expect(devices.map((d) => (d.kind === "console" ? [d.transport, d.chardev] : undefined))).toEqual([
      ["mmio", { kind: "socket", id: "s0", path: "/tmp/console.sock" }],
      ["pci", { kind: "socket", id: "s1", path: "/tmp/other.sock" }],
      ["mmio", undefined],
    ]);
    const nul = virtio(
      "-chardev",
      "null,id=z",
      "-device",
      "virtio-serial",
      "-device",
      "virtconsole,chardev=z",
    );
    expect(nul[0]).toMatchObject({ kind: "console", chardev: { kind: "null", id: "z" } });
  });

  it("rejects stdio twice, a console with no virtio-serial, and chardevs tsqemu does not have", () => {
    expect(error("-chardev", "stdio,id=c0", "-nographic")).toBe(
      "cannot use stdio by multiple character devices",
    );
    expect(error("-chardev", "stdio,id=c0", "-serial", "mon:stdio")).toBe(
      "cannot use stdio by multiple character devices",
    );
    expect(error("-chardev", "stdio,id=c0", "-chardev", "stdio,id=c1")).toBe(
      "cannot use stdio by multiple character devices",
    );
    expect(error("-chardev", "stdio,id=c0", "-device", "virtconsole,chardev=c0")).toMatch(
      /No 'virtio-serial-bus' bus found for device 'virtconsole'$/,
    );
    expect(error("-device", "virtio-serial-pci,id=a", "-device", "virtconsole,bus=b.0")).toMatch(
      /Bus 'b.0' not found$/,
    );
    expect(error("-device", "virtio-serial-pci", "-device", "virtconsole", "-device", "virtconsole")).toMatch(
      /one port, and it is taken/,
    );
    expect(error("-chardev", "stdio")).toMatch(/chardev: no id specified$/);
    expect(error("-chardev", "pty,id=p")).toMatch(/'pty' is not a valid char driver name/);
    expect(error("-chardev", "socket,id=s,path=/tmp/s")).toMatch(/add server=on,wait=off/);
    expect(error("-chardev", "socket,id=s,path=/tmp/s,server=on")).toMatch(/add wait=off/);
    expect(error("-chardev", "socket,id=s,host=localhost,port=4444,server=on,wait=off")).toMatch(
      /Unix socket/,
    );
    expect(error("-chardev", "stdio,id=c,mux=on")).toMatch(/mux=off/);
    expect(error("-chardev", "null,id=z", "-chardev", "null,id=z")).toMatch(/Duplicate ID 'z' for chardev$/);
  });
});

describe("virtio-rng and -object", () => {
  it("uses the host's CSPRNG by default, or an rng-random / rng-builtin object", () => {
    const devices = virtio(
      "-object",
      "rng-random,id=r0,filename=/dev/random",
      "-object",
      "rng-random,id=r1",
      "-object",
      "rng-builtin,id=b",
      "-device",
      "virtio-rng-pci",
      "-device",
      "virtio-rng-device,rng=r0",
      "-device",
      "virtio-rng-pci,rng=r1",
      "-device",
      "virtio-rng,rng=b",
    );
    expect(devices.map((d) => (d.kind === "rng" ? [d.driver, d.source] : undefined))).toEqual([
      ["virtio-rng-pci", { kind: "builtin" }],
      ["virtio-rng-device", { kind: "file", path: "/dev/random" }],
      ["virtio-rng-pci", { kind: "file", path: "/dev/urandom" }],
      ["virtio-rng", { kind: "builtin" }],
    ]);
  });

  it("rejects unknown objects and rng ids", () => {
    expect(error("-object", "memory-backend-ram,id=m,size=1G")).toMatch(
      /invalid object type: memory-backend-ram/,
    );
    expect(error("-object", "rng-random,filename=/dev/urandom")).toMatch(/Parameter 'id' is missing$/);
    expect(error("-object", "rng-random,id=r,size=2")).toMatch(/Property 'rng-random.size' not found$/);
    expect(error("-device", "virtio-rng-pci,rng=nope")).toMatch(
      /Property 'virtio-rng-pci.rng' can't find value/,
    );
  });
});

describe("-device models and PCI slots", () => {
  it("takes addr= in QEMU's hex forms and refuses taken slots", () => {
    expect(virtio("-device", "virtio-rng-pci,addr=1f")[0].pciSlot).toBe(31);
    expect(virtio("-device", "virtio-rng-pci,addr=0x04.0")[0].pciSlot).toBe(4);
    expect(
      virtio("-device", "virtio-rng-pci,disable-legacy=on,disable-modern=off")[0].pciSlot,
    ).toBeUndefined();
    expect(error("-device", "virtio-rng-pci,addr=1")).toMatch(
      /PCI: slot 1 function 0 not available for virtio-rng-pci, in use by PIIX3$/,
    );
    expect(error("-device", "virtio-rng-pci,addr=3", "-device", "virtio-rng-pci,addr=3")).toMatch(
      /slot 3 function 0 not available for virtio-rng-pci, in use by virtio-rng-pci$/,
    );
    expect(error("-device", "virtio-rng-pci,addr=0x20")).toMatch(
      /Property 'virtio-rng-pci.addr' doesn't take value/,
    );
    expect(error("-device", "virtio-rng-pci,addr=3.1")).toMatch(/function 0/);
    expect(error("-device", "virtio-rng-pci,disable-legacy=off")).toMatch(/modern only/);
    const thirtyOne = Array.from({ length: 31 }, () => ["-device", "virtio-rng-pci"]).flat();
    expect(error(...thirtyOne)).toMatch(/30 free slots, not 31/);
  });

  it("knows QEMU's device model names, properties and ids", () => {
    expect(error("-device", "e1000")).toBe("-device e1000: 'e1000' is not a valid device model name");
    expect(error("-device", "virtio-rng-pci,max-bytes=1024")).toBe(
      "-device virtio-rng-pci,max-bytes=1024: Property 'virtio-rng-pci.max-bytes' not found",
    );
    expect(error("-device", "virtio-rng-device,addr=3")).toMatch(
      /Property 'virtio-rng-device.addr' not found$/,
    );
    expect(error("-device", "virtio-rng-pci,id=r", "-device", "virtio-rng-pci,id=r")).toMatch(
      /Duplicate ID 'r' for device$/,
    );
    expect(error("-machine", "isapc", "-device", "virtio-rng-pci")).toMatch(
      /No 'PCI' bus found for device 'virtio-rng-pci'$/,
    );
    expect(virtio("-machine", "isapc", "-device", "virtio-rng-device")).toHaveLength(1);
  });
});

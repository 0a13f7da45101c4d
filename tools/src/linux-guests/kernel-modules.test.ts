import { execFileSync, spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { gzipSync } from "node:zlib";
import { afterAll, describe, expect, it } from "vitest";
import { linuxInitramfsTree } from "./initramfs.js";
import {
  findModuleFiles,
  type KernelModule,
  loadModule,
  moduleNameOf,
  modulesAliasText,
  modulesDepText,
  readBuiltinModules,
  readModuleFile,
  selectModules,
  uncompressedModulePath,
} from "./kernel-modules.js";
import { elfFixture, FIXTURE_MODULES } from "./test-fixtures.js";

/** Modules from the fixture table, looked up without touching the disk. */
function fixtureLookup(table: Record<string, [string, string[]]> = FIXTURE_MODULES) {
  return (name: string): KernelModule | undefined => {
    const entry = table[name];
    return entry === undefined
      ? undefined
      : { name, path: entry[0], depends: entry[1], aliases: [`fixture:${name}`] };
  };
}

describe("moduleNameOf", () => {
  it("uses the file name without .ko, dashes as underscores", () => {
    expect(moduleNameOf("kernel/drivers/char/hw_random/virtio-rng.ko")).toBe("virtio_rng");
    expect(moduleNameOf("virtio_blk.ko")).toBe("virtio_blk");
    expect(moduleNameOf("virtio-rng")).toBe("virtio_rng");
  });
});

describe("selectModules", () => {
  it("adds every dependency and puts each module after what it depends on", () => {
    const { modules, builtin } = selectModules(["virtio_net", "virtio_pci"], fixtureLookup(), new Set());
    const names = modules.map((m) => m.name);
    expect(new Set(names)).toEqual(
      new Set([
        "virtio_net",
        "net_failover",
        "failover",
        "virtio",
        "virtio_ring",
        "virtio_pci",
        "virtio_pci_modern_dev",
      ]),
    );
    expect(names.length).toBe(7);
    for (const module of modules) {
      for (const dep of module.depends)
        expect(names.indexOf(dep), `${dep} before ${module.name}`).toBeLessThan(names.indexOf(module.name));
    }
    expect(builtin).toEqual([]);
  });

  it("accepts requested names with dashes and lists each module once", () => {
    const { modules } = selectModules(["virtio-rng", "virtio_rng", "virtio"], fixtureLookup(), new Set());
    expect(modules.map((m) => m.name)).toEqual(["virtio", "virtio_ring", "virtio_rng"]);
  });

  it("reports builtin modules instead of looking for their files", () => {
    const { modules, builtin } = selectModules(["virtio_blk"], fixtureLookup(), new Set(["virtio"]));
    expect(modules.map((m) => m.name)).toEqual(["virtio_ring", "virtio_blk"]);
    expect(builtin).toEqual(["virtio"]);
  });

  it("names the missing module and who needs it", () => {
    expect(() => selectModules(["nope"], fixtureLookup(), new Set())).toThrow(/no module nope \(requested\)/);
    const broken = { ...FIXTURE_MODULES, virtio_blk: ["x.ko", ["ghost"]] as [string, string[]] };
    expect(() => selectModules(["virtio_blk"], fixtureLookup(broken), new Set())).toThrow(
      /ghost \(needed by virtio_blk\)/,
    );
  });

  it("throws on a dependency cycle instead of recursing forever", () => {
    const cyclic: Record<string, [string, string[]]> = {
      a: ["a.ko", ["b"]],
      b: ["b.ko", ["c"]],
      c: ["c.ko", ["a"]],
    };
    expect(() => selectModules(["a"], fixtureLookup(cyclic), new Set())).toThrow(/cycle a -> b -> c -> a/);
  });
});

describe("modulesDepText and modulesAliasText", () => {
  const selection = selectModules(["virtio_net", "virtio_pci"], fixtureLookup(), new Set());

  it("lists each module's transitive dependencies, the ones to load first at the end", () => {
    const lines = modulesDepText(selection).trimEnd().split("\n");
    const line = (name: string) => lines.find((l) => l.startsWith(`${FIXTURE_MODULES[name]![0]}:`))!;
    expect(line("virtio")).toBe("kernel/drivers/virtio/virtio.ko:");
    const netDeps = line("virtio_net").split(": ")[1]!.split(" ");
    expect(new Set(netDeps)).toEqual(
      new Set(["net_failover", "failover", "virtio_ring", "virtio"].map((name) => FIXTURE_MODULES[name]![0])),
    );
    // Loading from the end backwards must satisfy every module before it is loaded.
    for (const text of lines) {
      const [path, deps = ""] = text.split(":");
      const loadOrder = deps.trim().split(" ").filter(Boolean).reverse();
      const loaded = new Set<string>();
      for (const depPath of [...loadOrder, path!]) {
        const module = selection.modules.find((m) => m.path === depPath)!;
        for (const dep of module.depends)
          expect(loaded.has(dep), `${dep} loaded before ${module.name}`).toBe(true);
        loaded.add(module.name);
      }
    }
    expect(lines.length).toBe(selection.modules.length);
  });

  it("writes one alias line per alias record", () => {
    expect(modulesAliasText(selection)).toContain("alias fixture:virtio_net virtio_net\n");
    expect(modulesAliasText(selection).trimEnd().split("\n").length).toBe(selection.modules.length);
  });
});

describe("reading an unpacked kernel's module tree", () => {
  const dir = mkdtempSync(join(tmpdir(), "tsvmm-modules-"));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const write = (path: string, data: Uint8Array | string) => {
    mkdirSync(dirname(join(dir, path)), { recursive: true });
    writeFileSync(join(dir, path), data);
  };
  write(
    "kernel/drivers/char/hw_random/virtio-rng.ko",
    elfFixture({
      bits: 32,
      modinfo: ["depends=virtio,virtio_ring", "name=virtio_rng", "alias=virtio:d00000004v*"],
    }),
  );
  write("kernel/drivers/virtio/virtio.ko", elfFixture({ bits: 32, modinfo: ["depends=", "name=virtio"] }));
  write("kernel/drivers/virtio/README", "not a module");
  write("modules.builtin", "kernel/drivers/virtio/virtio_ring.ko\nkernel/fs/ext4/ext4.ko\n");

  it("finds module files by name", () => {
    expect(findModuleFiles(dir)).toEqual(
      new Map([
        ["virtio_rng", "kernel/drivers/char/hw_random/virtio-rng.ko"],
        ["virtio", "kernel/drivers/virtio/virtio.ko"],
      ]),
    );
  });

  it("reads the builtin list, and an empty one when the file is missing", () => {
    expect(readBuiltinModules(dir)).toEqual(new Set(["virtio_ring", "ext4"]));
    expect(readBuiltinModules(join(dir, "kernel"))).toEqual(new Set());
  });

  it("loads name, dependencies and aliases from .modinfo", () => {
    expect(loadModule(dir, "kernel/drivers/char/hw_random/virtio-rng.ko")).toEqual({
      name: "virtio_rng",
      path: "kernel/drivers/char/hw_random/virtio-rng.ko",
      depends: ["virtio", "virtio_ring"],
      aliases: ["virtio:d00000004v*"],
    });
    expect(loadModule(dir, "kernel/drivers/virtio/virtio.ko").depends).toEqual([]);
  });
});

describe("compressed module files (.ko.xz, .ko.zst, .ko.gz)", () => {
  const dir = mkdtempSync(join(tmpdir(), "tsvmm-modules-z-"));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const hasTool = (tool: string) => spawnSync(tool, ["--version"], { stdio: "ignore" }).status === 0;
  const module = (name: string, depends: string[]) =>
    elfFixture({ bits: 32, modinfo: [`depends=${depends.join(",")}`, `name=${name}`] });
  const put = (path: string, data: Uint8Array) => {
    mkdirSync(dirname(join(dir, path)), { recursive: true });
    writeFileSync(join(dir, path), data);
  };
  /** Compresses with the host's program, as a kernel built with CONFIG_MODULE_COMPRESS_* would. */
  const compressWith = (tool: string, data: Uint8Array) =>
    new Uint8Array(execFileSync(tool, ["-c", "-q"], { input: data }));

  const plain = {
    virtio: module("virtio", []),
    virtio_blk: module("virtio_blk", ["virtio"]),
    virtio_net: module("virtio_net", ["virtio"]),
    virtio_rng: module("virtio_rng", ["virtio"]),
  };
  put("kernel/drivers/virtio/virtio.ko", plain.virtio);
  // A compressed copy next to the plain file loses to it.
  put("kernel/drivers/virtio/virtio.ko.gz", gzipSync(plain.virtio));
  put("kernel/drivers/net/virtio_net.ko.gz", gzipSync(plain.virtio_net));
  const tools = { xz: hasTool("xz"), zstd: hasTool("zstd") };
  if (tools.xz) put("kernel/drivers/block/virtio_blk.ko.xz", compressWith("xz", plain.virtio_blk));
  if (tools.zstd)
    put("kernel/drivers/char/hw_random/virtio-rng.ko.zst", compressWith("zstd", plain.virtio_rng));

  it("names them like plain modules and finds them, preferring a plain .ko", () => {
    expect(moduleNameOf("kernel/drivers/char/hw_random/virtio-rng.ko.zst")).toBe("virtio_rng");
    expect(moduleNameOf("virtio_blk.ko.xz")).toBe("virtio_blk");
    expect(uncompressedModulePath("kernel/drivers/block/virtio_blk.ko.xz")).toBe(
      "kernel/drivers/block/virtio_blk.ko",
    );
    expect(uncompressedModulePath("kernel/drivers/virtio/virtio.ko")).toBe("kernel/drivers/virtio/virtio.ko");
    const found = findModuleFiles(dir);
    expect(found.get("virtio")).toBe("kernel/drivers/virtio/virtio.ko");
    expect(found.get("virtio_net")).toBe("kernel/drivers/net/virtio_net.ko.gz");
    if (tools.xz) expect(found.get("virtio_blk")).toBe("kernel/drivers/block/virtio_blk.ko.xz");
    if (tools.zstd) expect(found.get("virtio_rng")).toBe("kernel/drivers/char/hw_random/virtio-rng.ko.zst");
  });

  it("reads their .modinfo and puts them in the guest decompressed, as .ko", () => {
    const found = findModuleFiles(dir);
    const lookup = (name: string) => {
      const file = found.get(name);
      return file === undefined ? undefined : loadModule(dir, file);
    };
    const requested = [
      "virtio_net",
      ...(tools.xz ? ["virtio_blk"] : []),
      ...(tools.zstd ? ["virtio_rng"] : []),
    ];
    const selection = selectModules(requested, lookup, new Set());
    expect(lookup("virtio_net")).toEqual({
      name: "virtio_net",
      path: "kernel/drivers/net/virtio_net.ko",
      source: "kernel/drivers/net/virtio_net.ko.gz",
      depends: ["virtio"],
      aliases: [],
    });
    expect(lookup("virtio")).not.toHaveProperty("source");

    const tree = linuxInitramfsTree({
      busybox: elfFixture({ bits: 32 }),
      initScript: "#!/bin/sh\n",
      kernelVersion: "6.1.0-99-686",
      modulesDir: dir,
      modules: selection,
    });
    const files = new Map(
      tree.list().flatMap((entry) => (entry.kind === "file" ? [[entry.path, entry.data] as const] : [])),
    );
    for (const selected of selection.modules) {
      const bytes = files.get(`lib/modules/6.1.0-99-686/${selected.path}`);
      expect(new Uint8Array(bytes ?? []), selected.name).toEqual(plain[selected.name as keyof typeof plain]);
    }
    expect([...files.keys()].some((path) => /\.ko\.(xz|zst|gz)$/.test(path))).toBe(false);
    expect(new TextDecoder().decode(files.get("lib/modules/6.1.0-99-686/modules.dep"))).toContain(
      "kernel/drivers/net/virtio_net.ko: kernel/drivers/virtio/virtio.ko\n",
    );
  });

  it("says which file it cannot decompress", () => {
    put("kernel/broken.ko.gz", new Uint8Array([1, 2, 3]));
    expect(() => readModuleFile(dir, "kernel/broken.ko.gz")).toThrow();
    if (tools.xz) {
      put("kernel/broken.ko.xz", new Uint8Array([1, 2, 3]));
      expect(() => readModuleFile(dir, "kernel/broken.ko.xz")).toThrow(
        /cannot decompress kernel\/broken\.ko\.xz/,
      );
    }
  });
});

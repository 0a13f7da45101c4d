import { spawnSync } from "node:child_process";
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, afterEach, beforeEach, describe, expect, it } from "vitest";
import { AptPackageSource, fileSafeVersion, kernelDependency, parseAptStanzas } from "./debian-packages.js";

describe("parseAptStanzas", () => {
  it("splits apt-cache show output into stanzas and joins continuation lines", () => {
    const text = [
      "Package: linux-image-686",
      "Version: 6.1.176-1",
      "Depends: linux-image-6.1.0-50-686 (= 6.1.176-1)",
      "Description-en: Linux for modern PCs (meta-package)",
      " This package depends on the latest Linux kernel",
      " and modules for use on PCs.",
      "",
      "Package: busybox-static",
      "Architecture: i386",
      "Version: 1:1.35.0-4+deb12u1+b1",
      "",
    ].join("\n");
    const stanzas = parseAptStanzas(text);
    expect(stanzas.length).toBe(2);
    expect(stanzas[0]!.Depends).toBe("linux-image-6.1.0-50-686 (= 6.1.176-1)");
    expect(stanzas[0]!["Description-en"]).toBe(
      "Linux for modern PCs (meta-package)\nThis package depends on the latest Linux kernel\nand modules for use on PCs.",
    );
    expect(stanzas[1]).toEqual({
      Package: "busybox-static",
      Architecture: "i386",
      Version: "1:1.35.0-4+deb12u1+b1",
    });
  });

  it("reads dpkg-deb --field output (one stanza, no trailing blank line)", () => {
    expect(parseAptStanzas("Package: busybox-static\nVersion: 1:1.35.0-4\nArchitecture: amd64\n")).toEqual([
      { Package: "busybox-static", Version: "1:1.35.0-4", Architecture: "amd64" },
    ]);
    expect(parseAptStanzas("")).toEqual([]);
  });
});

describe("kernelDependency", () => {
  it("finds the versioned kernel package and its pinned version", () => {
    expect(kernelDependency("i386", "linux-image-6.1.0-50-686 (= 6.1.176-1)")).toEqual({
      name: "linux-image-6.1.0-50-686",
      version: "6.1.176-1",
    });
    expect(kernelDependency("amd64", "linux-image-6.1.0-56-amd64 (= 6.1.192-2)")).toEqual({
      name: "linux-image-6.1.0-56-amd64",
      version: "6.1.192-2",
    });
  });

  it("leaves the version out when the dependency does not pin one", () => {
    expect(kernelDependency("i386", "linux-image-6.1.0-50-686")).toEqual({
      name: "linux-image-6.1.0-50-686",
    });
    expect(kernelDependency("i386", "linux-image-6.1.0-50-686:i386 (>= 6.1)")).toEqual({
      name: "linux-image-6.1.0-50-686",
    });
  });

  it("skips other flavours, unsigned images and other packages", () => {
    const depends =
      "foo, linux-image-6.1.0-50-686-pae (= 1), linux-image-6.1.0-50-686-unsigned | linux-image-6.1.0-50-686 (= 2)";
    expect(kernelDependency("i386", depends)).toEqual({ name: "linux-image-6.1.0-50-686", version: "2" });
    expect(kernelDependency("amd64", depends)).toBeUndefined();
    expect(kernelDependency("amd64", "linux-image-6.1.0-56-cloud-amd64 (= 1)")).toBeUndefined();
  });
});

describe("fileSafeVersion", () => {
  it("spells the epoch colon as apt-get download does", () => {
    expect(fileSafeVersion("1:1.35.0-4+deb12u1+b1")).toBe("1%3a1.35.0-4+deb12u1+b1");
    expect(fileSafeVersion("6.1.176-1")).toBe("6.1.176-1");
  });
});

// AptPackageSource with apt-cache and apt-get replaced by scripts on PATH that log their calls; the
// real dpkg-deb builds the .deb files they "download" and the real dpkg -x unpacks them. Root only,
// since the refresh path runs apt-get update as root (or through sudo, which would reset PATH).
const isRoot = process.getuid?.() === 0;
const hasDpkg = spawnSync("dpkg-deb", ["--version"], { stdio: "ignore" }).status === 0;
const nativeAmd64 =
  hasDpkg && spawnSync("dpkg", ["--print-architecture"], { encoding: "utf8" }).stdout?.trim() === "amd64";
const stubSkipReason = !hasDpkg
  ? "dpkg-deb not available"
  : !isRoot
    ? "not root (the apt refresh path would go through sudo)"
    : !nativeAmd64
      ? "the host's dpkg architecture is not amd64"
      : undefined;
if (stubSkipReason !== undefined) {
  console.warn(
    `debian-packages.test.ts: skipping the AptPackageSource tests over stub apt commands: ${stubSkipReason}`,
  );
}

const APT_CACHE_STUB = `#!/bin/sh
echo "apt-cache $*" >> "$STUB_DIR/log"
[ -f "$STUB_DIR/lists-ready" ] || { echo "E: No packages found" >&2; exit 100; }
cat "$STUB_DIR/stanzas"
`;

const APT_GET_STUB = `#!/bin/sh
echo "apt-get $*" >> "$STUB_DIR/log"
case "$1" in
update) touch "$STUB_DIR/lists-ready" ;;
download)
  spec=$3
  name=\${spec%%:*}
  rest=\${spec#*:}
  arch=\${rest%%=*}
  version=\${STUB_WRONG_VERSION:-\${rest#*=}}
  root=$(mktemp -d)
  mkdir -p "$root/DEBIAN" "$root/usr/share/stub"
  printf 'Package: %s\\nVersion: %s\\nArchitecture: %s\\nMaintainer: t <t@example.invalid>\\nDescription: stub\\n' \\
    "$name" "$version" "$arch" > "$root/DEBIAN/control"
  echo "$name $version" > "$root/usr/share/stub/$name"
  dpkg-deb --build "$root" "./\${name}_stub_\${arch}.deb" > /dev/null
  rm -rf "$root"
  ;;
esac
`;

const STANZAS = `Package: linux-image-amd64
Architecture: amd64
Version: 6.1.192-2
Depends: linux-image-6.1.0-56-amd64 (= 6.1.192-2)

Package: busybox-static
Architecture: amd64
Version: 1:1.35.0-4+deb12u1+b1

`;

describe.skipIf(stubSkipReason !== undefined)("AptPackageSource over stub apt commands", () => {
  const dirs: string[] = [];
  const savedPath = process.env.PATH;
  let stubDir = "";
  let cacheDir = "";
  const calls = () =>
    existsSync(join(stubDir, "log")) ? readFileSync(join(stubDir, "log"), "utf8").trim().split("\n") : [];

  beforeEach(() => {
    stubDir = mkdtempSync(join(tmpdir(), "tsvmm-apt-stub-"));
    cacheDir = mkdtempSync(join(tmpdir(), "tsvmm-apt-cache-"));
    dirs.push(stubDir, cacheDir);
    writeFileSync(join(stubDir, "apt-cache"), APT_CACHE_STUB);
    writeFileSync(join(stubDir, "apt-get"), APT_GET_STUB);
    chmodSync(join(stubDir, "apt-cache"), 0o755);
    chmodSync(join(stubDir, "apt-get"), 0o755);
    writeFileSync(join(stubDir, "stanzas"), STANZAS);
    process.env.PATH = `${stubDir}:${savedPath}`;
    process.env.STUB_DIR = stubDir;
  });
  afterEach(() => {
    process.env.PATH = savedPath;
    delete process.env.STUB_DIR;
    delete process.env.STUB_WRONG_VERSION;
  });
  afterAll(() => {
    for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
  });

  it("runs apt-get update once when apt does not know the packages, then asks once per architecture", async () => {
    const source = new AptPackageSource({ cacheDir });
    const packages = await source.resolve("amd64");
    expect(packages).toEqual({
      kernel: { name: "linux-image-6.1.0-56-amd64", arch: "amd64", version: "6.1.192-2" },
      busybox: { name: "busybox-static", arch: "amd64", version: "1:1.35.0-4+deb12u1+b1" },
    });
    const show = "apt-cache show --no-all-versions linux-image-amd64:amd64 busybox-static:amd64";
    expect(calls()).toEqual([show, "apt-get update -q", show]);
    await source.resolve("amd64");
    expect(calls().length).toBe(3);
  });

  it("downloads and unpacks a package once, into debs/ and trees/", async () => {
    const source = new AptPackageSource({ cacheDir });
    const busybox = { name: "busybox-static", arch: "amd64", version: "1:1.35.0-4+deb12u1+b1" };
    const tree = await source.unpack(busybox);
    expect(tree).toBe(join(cacheDir, "trees", "busybox-static_1%3a1.35.0-4+deb12u1+b1_amd64"));
    expect(readFileSync(join(tree, "usr/share/stub/busybox-static"), "utf8")).toBe(
      `busybox-static ${busybox.version}\n`,
    );
    expect(existsSync(join(cacheDir, "debs", "busybox-static_1%3a1.35.0-4+deb12u1+b1_amd64.deb"))).toBe(true);
    expect(calls()).toEqual(["apt-get download -q busybox-static:amd64=1:1.35.0-4+deb12u1+b1"]);
    expect(await source.unpack(busybox)).toBe(tree);
    expect(calls().length).toBe(1);
  });

  it("rejects a download whose control fields are not the package asked for", async () => {
    process.env.STUB_WRONG_VERSION = "9.9-9";
    const source = new AptPackageSource({ cacheDir });
    await expect(source.unpack({ name: "busybox-static", arch: "amd64", version: "1.0-1" })).rejects.toThrow(
      /gave busybox-static 9\.9-9 amd64/,
    );
    expect(existsSync(join(cacheDir, "debs", "busybox-static_1.0-1_amd64.deb"))).toBe(false);
  });
});

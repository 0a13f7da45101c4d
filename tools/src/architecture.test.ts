// Proves the architecture check catches forbidden imports: each test lays out a small workspace in a temp dir,
// shaped like pnpm leaves it (package.json per package, node_modules/@tsvmm/<dep> links for declared
// dependencies), and runs the real rule set from the repository root over it.
import { spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, relative } from "node:path";
import { fileURLToPath } from "node:url";
import { afterEach, describe, expect, it } from "vitest";
import { type ArchitectureViolation, checkArchitecture, REPOSITORY_ROOT } from "./architecture.js";

interface FixturePackage {
  /** Package name without the @tsvmm/ scope. */
  name: string;
  /** Workspace packages (without scope) listed in package.json dependencies and linked into node_modules. */
  dependencies?: string[];
  /** Files by path inside the package, e.g. "src/index.ts". */
  files?: Record<string, string>;
}

const LOCATIONS: Record<string, string> = { tsqemu: "apps/tsqemu", tools: "tools" };
const locationOf = (name: string) => LOCATIONS[name] ?? `packages/${name}`;

const fixtureRoots: string[] = [];

afterEach(() => {
  for (const root of fixtureRoots.splice(0)) rmSync(root, { recursive: true, force: true });
});

/** Writes a workspace tree; every package gets a src/index.ts exporting a value unless its files say otherwise. */
function workspace(packages: FixturePackage[], extra: { hoisted?: string[] } = {}): string {
  const root = mkdtempSync(join(tmpdir(), "tsvmm-architecture-"));
  fixtureRoots.push(root);
  const write = (path: string, text: string) => {
    mkdirSync(dirname(join(root, path)), { recursive: true });
    writeFileSync(join(root, path), text);
  };
  const link = (from: string, name: string) => {
    const linkPath = join(root, from, "node_modules", "@tsvmm", name);
    mkdirSync(dirname(linkPath), { recursive: true });
    symlinkSync(relative(dirname(linkPath), join(root, locationOf(name))), linkPath);
  };
  for (const pkg of packages) {
    const dir = locationOf(pkg.name);
    const dependencies = Object.fromEntries(
      (pkg.dependencies ?? []).map((dep) => [`@tsvmm/${dep}`, "workspace:*"]),
    );
    const manifest = {
      name: `@tsvmm/${pkg.name}`,
      type: "module",
      exports: { ".": { source: "./src/index.ts", default: "./dist/index.js" } },
      dependencies,
    };
    write(`${dir}/package.json`, JSON.stringify(manifest));
    const files = { "src/index.ts": `export const name = "${pkg.name}";\n`, ...pkg.files };
    for (const [path, text] of Object.entries(files)) write(`${dir}/${path}`, text);
    for (const dep of pkg.dependencies ?? []) link(dir, dep);
  }
  // A package linked at the root is resolvable from every package, declared or not.
  for (const name of extra.hoisted ?? []) link(".", name);
  return root;
}

async function violationsOf(root: string): Promise<ArchitectureViolation[]> {
  const report = await checkArchitecture(root);
  expect(report.modulesCruised).toBeGreaterThan(0);
  return report.violations;
}

const importing = (name: string) => `import { name } from "@tsvmm/${name}";\nexport const seen = name;\n`;

describe("allowed imports", () => {
  it("passes a tree that follows the package graph", async () => {
    const root = workspace([
      { name: "ept" },
      { name: "scheduler" },
      { name: "cpu-x86", dependencies: ["ept"], files: { "src/cpu.ts": importing("ept") } },
      {
        name: "device-model",
        dependencies: ["ept"],
        files: {
          "src/uart.ts": 'import type { name } from "@tsvmm/ept";\nexport type Memory = typeof name;\n',
          "src/uart.test.ts": 'import { readFileSync } from "node:fs";\nexport const read = readFileSync;\n',
        },
      },
      {
        name: "kvm-api",
        dependencies: ["cpu-x86", "ept", "scheduler"],
        files: {
          "src/vm.ts": `${importing("cpu-x86")}import { name as s } from "@tsvmm/scheduler";\nexport const t = s;\n`,
          "src/kvm.node.ts": 'import { openSync } from "node:fs";\nexport const open = openSync;\n',
        },
      },
      {
        name: "vmm-core",
        dependencies: ["kvm-api", "device-model"],
        files: { "src/machine.ts": `${importing("kvm-api")}export * from "@tsvmm/device-model";\n` },
      },
      {
        name: "tsqemu",
        dependencies: ["vmm-core", "kvm-api"],
        files: {
          "src/main.node.ts": `${importing("vmm-core")}import path from "path";\nimport "./args.node.js";\nexport const p = path;\n`,
          "src/args.node.ts": "export const args = process.argv;\n",
          "bench/run.ts": 'import { performance } from "node:perf_hooks";\nexport const now = performance;\n',
        },
      },
      {
        name: "tools",
        dependencies: ["cpu-x86"],
        files: {
          "src/build.ts": `${importing("cpu-x86")}import { execSync } from "node:child_process";\nexport const x = execSync;\n`,
          "src/peek.ts": 'export * from "../../packages/ept/src/index.js";\n',
        },
      },
    ]);
    const report = await checkArchitecture(root);
    expect(report.violations).toEqual([]);
    // Every file above was looked at (each package's index.ts plus the 10 extra files), so the pass means something.
    expect(report.modulesCruised).toBeGreaterThanOrEqual(18);
  });

  it("passes while most packages do not exist yet", async () => {
    const root = workspace([{ name: "ept", files: { "src/slots.ts": 'export * from "./index.js";\n' } }]);
    expect(await violationsOf(root)).toEqual([]);
  });
});

describe("forbidden imports", () => {
  it("reports a device importing the CPU", async () => {
    const root = workspace([
      { name: "ept" },
      { name: "cpu-x86", dependencies: ["ept"] },
      {
        name: "device-model",
        dependencies: ["ept", "cpu-x86"],
        files: { "src/pit.ts": importing("cpu-x86") },
      },
    ]);
    expect(await violationsOf(root)).toEqual([
      {
        rule: "allowed-imports/device-model",
        from: "packages/device-model/src/pit.ts",
        to: "packages/device-model/node_modules/@tsvmm/cpu-x86/src/index.ts",
      },
    ]);
  });

  it("reports a type-only import as well", async () => {
    const root = workspace([
      { name: "cpu-x86" },
      {
        name: "device-model",
        dependencies: ["cpu-x86"],
        files: {
          "src/pic.ts": 'import type { name } from "@tsvmm/cpu-x86";\nexport type N = typeof name;\n',
        },
      },
    ]);
    expect((await violationsOf(root)).map((v) => v.rule)).toEqual(["allowed-imports/device-model"]);
  });

  it("reports the kernel side importing the userspace side", async () => {
    const root = workspace([
      { name: "device-model" },
      { name: "vmm-core" },
      { name: "ept", dependencies: ["device-model"], files: { "src/slot.ts": importing("device-model") } },
      { name: "kvm-api", dependencies: ["vmm-core"], files: { "src/vcpu.ts": importing("vmm-core") } },
    ]);
    const rules = (await violationsOf(root)).map((v) => `${v.rule} ${v.from}`).sort();
    expect(rules).toEqual([
      "allowed-imports/ept packages/ept/src/slot.ts",
      "allowed-imports/kvm-api packages/kvm-api/src/vcpu.ts",
    ]);
  });

  it("reports vmm-core going around kvm-api to the CPU", async () => {
    const root = workspace([
      { name: "cpu-x86" },
      { name: "vmm-core", dependencies: ["cpu-x86"], files: { "src/loop.ts": importing("cpu-x86") } },
    ]);
    expect((await violationsOf(root)).map((v) => v.rule)).toEqual(["allowed-imports/vmm-core"]);
  });

  it("reports a package importing the app", async () => {
    const root = workspace([
      { name: "tsqemu" },
      { name: "vmm-core", dependencies: ["tsqemu"], files: { "src/cli.ts": importing("tsqemu") } },
    ]);
    expect((await violationsOf(root)).map((v) => v.rule)).toEqual(["allowed-imports/vmm-core"]);
  });

  it("reports Node builtins in browser code, prefixed or bare", async () => {
    const root = workspace([
      {
        name: "vmm-core",
        files: {
          "src/machine.ts": 'import { readFileSync } from "node:fs";\nexport const read = readFileSync;\n',
          "src/paths.ts": 'import { join } from "path";\nexport const j = join;\n',
        },
      },
    ]);
    expect(await violationsOf(root)).toEqual([
      { rule: "node-builtin-outside-node-entry", from: "packages/vmm-core/src/machine.ts", to: "fs" },
      { rule: "node-builtin-outside-node-entry", from: "packages/vmm-core/src/paths.ts", to: "path" },
    ]);
  });

  it("reports browser code importing a node-only entry point", async () => {
    const root = workspace([
      {
        name: "kvm-api",
        files: {
          "src/host.node.ts": "export const host = process.platform;\n",
          "src/index.ts": 'export { host } from "./host.node.js";\n',
        },
      },
    ]);
    expect(await violationsOf(root)).toEqual([
      {
        rule: "node-entry-imported-by-browser-code",
        from: "packages/kvm-api/src/index.ts",
        to: "packages/kvm-api/src/host.node.ts",
      },
    ]);
  });

  it("reports a relative import of another package's internals", async () => {
    const root = workspace([
      { name: "ept", files: { "src/guest-memory.ts": "export const size = 1;\n" } },
      { name: "device-model", files: { "src/uart.ts": 'export * from "../../ept/src/guest-memory.js";\n' } },
    ]);
    expect(await violationsOf(root)).toEqual([
      {
        rule: "no-relative-import-of-another-package",
        from: "packages/device-model/src/uart.ts",
        to: "packages/ept/src/guest-memory.ts",
      },
    ]);
  });

  it("reports a workspace import missing from package.json", async () => {
    const root = workspace([{ name: "ept" }, { name: "cpu-x86", files: { "src/cpu.ts": importing("ept") } }]);
    expect(await violationsOf(root)).toEqual([
      { rule: "workspace-import-unresolvable", from: "packages/cpu-x86/src/cpu.ts", to: "@tsvmm/ept" },
    ]);
  });

  it("reports an undeclared workspace import even when a hoisted link resolves it", async () => {
    const root = workspace(
      [{ name: "ept" }, { name: "cpu-x86", files: { "src/cpu.ts": importing("ept") } }],
      {
        hoisted: ["ept"],
      },
    );
    expect(await violationsOf(root)).toEqual([
      {
        rule: "workspace-dependency-not-declared",
        from: "packages/cpu-x86/src/cpu.ts",
        to: "node_modules/@tsvmm/ept/src/index.ts",
      },
    ]);
  });

  it("reports a package that is not in the architecture", async () => {
    const root = workspace([
      { name: "ept" },
      { name: "gpu", dependencies: ["ept"], files: { "src/a.ts": importing("ept") } },
    ]);
    expect((await violationsOf(root)).map((v) => v.rule)).toEqual(["package-not-in-architecture"]);
  });
});

describe("the package graph", () => {
  // The graph as ARCHITECTURE.md states it, written out independently of .dependency-cruiser.cjs.
  const allowed: Record<string, string[]> = {
    ept: [],
    scheduler: [],
    "cpu-x86": ["ept", "mmu"],
    mmu: ["ept"],
    "kvm-api": ["cpu-x86", "mmu", "ept", "scheduler"],
    "device-model": ["ept"],
    virtio: ["ept", "device-model"],
    "vmm-core": ["kvm-api", "device-model", "virtio", "ept", "scheduler"],
    tsqemu: ["vmm-core", "kvm-api", "device-model", "virtio", "ept", "scheduler"],
  };
  const names = [...Object.keys(allowed), "tools"];

  it("allows exactly the listed workspace imports", async () => {
    // Every package imports every other package by name, each from its own file, all declared.
    const root = workspace(
      names.map((name) => {
        const others = names.filter((other) => other !== name);
        const files = Object.fromEntries(others.map((other) => [`src/uses-${other}.ts`, importing(other)]));
        return { name, dependencies: others, files };
      }),
    );
    const forbidden = (await violationsOf(root)).map((v) => {
      const [, importer, imported] = /^(?:packages|apps)\/([^/]+)\/src\/uses-(.+)\.ts$/.exec(v.from) ?? [];
      return `${v.rule}: ${importer} -> ${imported}`;
    });
    const expected = Object.entries(allowed).flatMap(([importer, deps]) =>
      names
        .filter((other) => other !== importer && !deps.includes(other))
        .map((other) => `allowed-imports/${importer}: ${importer} -> ${other}`),
    );
    expect(forbidden.sort()).toEqual(expected.sort());
  });
});

// Each case starts node processes; on a loaded 2-core machine that takes far longer than a unit test.
describe("check-architecture CLI", { timeout: 180_000 }, () => {
  const cli = fileURLToPath(new URL("./check-architecture.ts", import.meta.url));
  const run = (root: string) =>
    spawnSync(process.execPath, ["--import", "tsx", cli, root], {
      cwd: REPOSITORY_ROOT,
      encoding: "utf8",
      timeout: 60_000,
    });

  it("exits 1 and names the rule, the files and the reason", () => {
    const root = workspace([
      { name: "cpu-x86" },
      { name: "device-model", dependencies: ["cpu-x86"], files: { "src/pit.ts": importing("cpu-x86") } },
    ]);
    const result = run(root);
    expect(result.status).toBe(1);
    expect(result.stderr).toContain("allowed-imports/device-model: packages/device-model/src/pit.ts");
    expect(result.stderr).toContain("@tsvmm/device-model may import @tsvmm/ept");
    expect(result.stderr).toContain("Architecture check failed: 1 forbidden import(s)");
  });

  it("exits 0 on a clean tree and 1 on an empty one", () => {
    expect(run(workspace([{ name: "ept" }])).status).toBe(0);
    expect(run(workspace([])).status).toBe(1);
  });
});

// The architecture rules of tsvmm, checked by dependency-cruiser (`pnpm check:architecture`).
// ARCHITECTURE.md explains them; this file is their single source of truth, so change both together.
// Paths are matched relative to the directory the check runs in (the repository root).

/** Where each workspace package lives. */
const PACKAGE_DIRS = {
  ept: "packages/ept",
  "cpu-x86": "packages/cpu-x86",
  mmu: "packages/mmu",
  scheduler: "packages/scheduler",
  "kvm-api": "packages/kvm-api",
  "device-model": "packages/device-model",
  virtio: "packages/virtio",
  "vmm-core": "packages/vmm-core",
  tsqemu: "apps/tsqemu",
  tools: "tools",
};

/** The workspace packages each package may import; anything not listed is forbidden. tools/ may import anything. */
const ALLOWED_IMPORTS = {
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

/** Files that may use Node builtins; everything else must run in a browser. */
const NODE_ALLOWED = [
  "\\.node\\.[cm]?[jt]s$", // node-only entry points
  "\\.test\\.[cm]?[jt]s$", // tests
  "\\.test-support\\.[cm]?[jt]s$", // test helpers next to the code (excluded from builds)
  "(^|/)test/", // test helpers in a package's test/ folder (never built nor shipped)
  "\\.config\\.[cm]?[jt]s$", // vitest.config.ts and friends
  "(^|/)vitest\\.shared\\.ts$",
  "(^|/)bench/", // benchmarks
  "^tools/", // build scripts and checks
];

/**
 * The ways a dependency on workspace package `name` shows up in a cruise: a file of the package itself (own files,
 * or another package's files reached by a relative path), the package imported by name and resolved through the
 * pnpm link in node_modules (symlinks are preserved so the importer's package.json can be checked), or imported
 * by name and not resolvable (not declared, not installed, or not created yet).
 */
function workspacePaths(name) {
  return [
    `^${PACKAGE_DIRS[name]}/(?!node_modules/)`,
    `(^|/)node_modules/@tsvmm/${name}/`,
    `^@tsvmm/${name}($|/)`,
  ];
}

const ANY_WORKSPACE_PATH = [
  "^(packages|apps)/[^/]+/(?!node_modules/)",
  "^tools/(?!node_modules/)",
  "(^|/)node_modules/@tsvmm/",
  "^@tsvmm/",
];

const KNOWN_PACKAGE_DIRS = Object.keys(ALLOWED_IMPORTS).map((name) => `^${PACKAGE_DIRS[name]}/`);

function allowedImportsRule(name) {
  const allowed = ALLOWED_IMPORTS[name];
  return {
    name: `allowed-imports/${name}`,
    severity: "error",
    comment:
      `@tsvmm/${name} may import ${allowed.length ? allowed.map((dep) => `@tsvmm/${dep}`).join(", ") : "no workspace package"}` +
      " (see the package graph in ARCHITECTURE.md).",
    from: { path: `^${PACKAGE_DIRS[name]}/` },
    to: {
      path: ANY_WORKSPACE_PATH,
      pathNot: [name, ...allowed].flatMap(workspacePaths),
    },
  };
}

module.exports = {
  forbidden: [
    ...Object.keys(ALLOWED_IMPORTS).map(allowedImportsRule),
    {
      name: "package-not-in-architecture",
      severity: "error",
      comment:
        "This package is not in the architecture yet: add it to ARCHITECTURE.md and to ALLOWED_IMPORTS in " +
        ".dependency-cruiser.cjs before it imports other workspace packages.",
      from: { path: "^(packages|apps)/([^/]+)/", pathNot: KNOWN_PACKAGE_DIRS },
      to: { path: ANY_WORKSPACE_PATH, pathNot: "^$1/$2/(?!node_modules/)" },
    },
    {
      name: "no-relative-import-of-another-package",
      severity: "error",
      comment:
        "A package reaches another package only through its name and public exports (import from " +
        '"@tsvmm/<name>", declared in package.json), never by a relative path into its files.',
      from: { path: "^(packages|apps)/([^/]+)/" },
      to: { dependencyTypes: ["local"], path: "^(packages/|apps/|tools/)", pathNot: "^$1/$2/" },
    },
    {
      name: "workspace-dependency-not-declared",
      severity: "error",
      comment:
        "Declare the workspace package in this package's package.json dependencies " +
        '("@tsvmm/<name>": "workspace:*") and run pnpm install.',
      from: {},
      to: {
        path: ["(^|/)node_modules/@tsvmm/", "^@tsvmm/"],
        dependencyTypes: ["npm-no-pkg", "npm-unknown"],
      },
    },
    {
      name: "workspace-import-unresolvable",
      severity: "error",
      comment:
        "This workspace import does not resolve: the package is not declared in this package's package.json " +
        '("@tsvmm/<name>": "workspace:*"), pnpm install has not run since, the package does not exist, or the ' +
        "path is not one of its exports.",
      from: {},
      to: { couldNotResolve: true, path: "^@tsvmm/" },
    },
    {
      name: "node-builtin-outside-node-entry",
      severity: "error",
      comment:
        "Core code must run in a browser: Node builtins may be imported only by *.node.ts entry points, tests, " +
        "config files, bench/ and tools/.",
      from: { pathNot: NODE_ALLOWED },
      to: { dependencyTypes: ["core"] },
    },
    {
      name: "node-entry-imported-by-browser-code",
      severity: "error",
      comment:
        "A *.node.ts file is node-only; code that must run in a browser cannot import it (that would pull in Node " +
        "builtins). Only other node-only files, tests, config files, bench/ and tools/ may.",
      from: { pathNot: NODE_ALLOWED },
      to: { path: "\\.node\\.[cm]?[jt]s$" },
    },
  ],
  options: {
    // node_modules are leaves: their own imports are not ours to check.
    doNotFollow: { path: "(^|/)node_modules/" },
    exclude: { path: "(^|/)(dist|coverage|\\.turbo)/" },
    // Count `import type` too: a type-only import still couples the packages.
    tsPreCompilationDeps: true,
    // Keep pnpm's node_modules/@tsvmm/<name> links unresolved so each import is checked against the
    // importing package's own package.json.
    preserveSymlinks: true,
    enhancedResolveOptions: {
      exportsFields: ["exports"],
      // "source" first: workspace packages resolve to their TypeScript sources, as in tests.
      conditionNames: ["source", "import", "require", "node", "default"],
      extensions: [".ts", ".mts", ".cts", ".js", ".mjs", ".cjs", ".json"],
    },
  },
};

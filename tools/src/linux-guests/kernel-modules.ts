// Picks kernel modules and everything they depend on out of an extracted kernel package, and writes
// the modules.dep / modules.alias files that busybox modprobe reads for that subset.
import { execFileSync } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";
import { join, relative } from "node:path";
import { gunzipSync } from "node:zlib";
import { readModinfo } from "./elf-modinfo.js";

/** A module as the guest sees it: paths are relative to /lib/modules/<kernel version>/. */
export interface KernelModule {
  /** The kernel's name for it: the file name without ".ko", dashes as underscores. */
  name: string;
  /** Where it goes in the guest, always an uncompressed .ko (see readModuleFile). */
  path: string;
  /** The compressed file in the kernel package it comes from, when it is one (e.g. virtio.ko.xz). */
  source?: string;
  /** Direct dependencies by name, from the module's own "depends=" record. */
  depends: string[];
  /** Device match patterns ("alias=" records), e.g. virtio:d00000002v*. */
  aliases: string[];
}

const MODULE_SUFFIX = ".ko";
/** Compressed module files as kmod reads them (CONFIG_MODULE_COMPRESS_*); Debian 12 ships plain .ko. */
const COMPRESSED_SUFFIXES = [".xz", ".zst", ".gz"] as const;

/** The module suffix of a file name (".ko", ".ko.xz"...), or undefined when it is not a module. */
function moduleSuffixOf(fileName: string): string | undefined {
  if (fileName.endsWith(MODULE_SUFFIX)) return MODULE_SUFFIX;
  const compressed = COMPRESSED_SUFFIXES.find((suffix) => fileName.endsWith(`${MODULE_SUFFIX}${suffix}`));
  return compressed === undefined ? undefined : `${MODULE_SUFFIX}${compressed}`;
}

/** "virtio-rng.ko", "virtio-rng.ko.xz" and ".../hw_random/virtio-rng.ko" all name module virtio_rng. */
export function moduleNameOf(fileName: string): string {
  const base = fileName.slice(fileName.lastIndexOf("/") + 1);
  const suffix = moduleSuffixOf(base);
  const stem = suffix === undefined ? base : base.slice(0, -suffix.length);
  return stem.replaceAll("-", "_");
}

/** A module file's path with any compression suffix removed: "a/virtio.ko.xz" -> "a/virtio.ko". */
export function uncompressedModulePath(path: string): string {
  const suffix = moduleSuffixOf(path);
  return suffix === undefined || suffix === MODULE_SUFFIX
    ? path
    : path.slice(0, -suffix.length + MODULE_SUFFIX.length);
}

/**
 * A module file's ELF bytes, decompressed when it is .ko.xz, .ko.zst or .ko.gz (busybox insmod
 * loads plain ELF only, so the guest gets them uncompressed). xz and zstd are the host's programs.
 */
export function readModuleFile(modulesDir: string, path: string): Uint8Array {
  const file = join(modulesDir, path);
  if (path.endsWith(".gz")) return gunzipSync(readFileSync(file));
  const tool = path.endsWith(".xz") ? "xz" : path.endsWith(".zst") ? "zstd" : undefined;
  if (tool === undefined) return readFileSync(file);
  try {
    return execFileSync(tool, ["-d", "-c", "-q", file], {
      maxBuffer: 1 << 30,
      stdio: ["ignore", "pipe", "pipe"],
    });
  } catch (error) {
    const failure = error as { code?: string; stderr?: Buffer };
    const why =
      failure.code === "ENOENT" ? `${tool} is not installed` : String(failure.stderr ?? error).trim();
    throw new Error(`kernel modules: cannot decompress ${path}: ${why}`);
  }
}

/**
 * Every module file (*.ko, or compressed) under <modulesDir>/kernel by module name, as paths relative
 * to modulesDir; a plain .ko wins over a compressed copy of the same module.
 */
export function findModuleFiles(modulesDir: string): Map<string, string> {
  const found = new Map<string, string>();
  const walk = (dir: string) => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      const path = join(dir, entry.name);
      if (entry.isDirectory()) walk(path);
      else if (entry.isFile() && moduleSuffixOf(entry.name) !== undefined) {
        const name = moduleNameOf(entry.name);
        if (!found.has(name) || entry.name.endsWith(MODULE_SUFFIX))
          found.set(name, relative(modulesDir, path));
      }
    }
  };
  walk(join(modulesDir, "kernel"));
  return found;
}

/** Names of the modules built into the kernel image (modules.builtin); empty when the file is absent. */
export function readBuiltinModules(modulesDir: string): Set<string> {
  let text: string;
  try {
    text = readFileSync(join(modulesDir, "modules.builtin"), "utf8");
  } catch {
    return new Set();
  }
  return new Set(
    text
      .split("\n")
      .filter((line) => line.trim() !== "")
      .map(moduleNameOf),
  );
}

/** Reads a module file's name, dependencies and aliases from its .modinfo section. */
export function loadModule(modulesDir: string, file: string): KernelModule {
  const fields = readModinfo(readModuleFile(modulesDir, file), file);
  const path = uncompressedModulePath(file);
  const name = fields.find((field) => field.key === "name")?.value ?? moduleNameOf(path);
  const dependsField = fields.find((field) => field.key === "depends")?.value ?? "";
  const depends = dependsField
    .split(",")
    .map((dep) => dep.trim())
    .filter((dep) => dep !== "")
    .map(moduleNameOf);
  const aliases = fields.filter((field) => field.key === "alias").map((field) => field.value);
  return { name, path, ...(file === path ? {} : { source: file }), depends, aliases };
}

export interface ModuleSelection {
  /** The requested modules and their dependencies, each after everything it depends on (load order). */
  modules: KernelModule[];
  /** Requested or needed modules that are compiled into the kernel, so have no file to copy. */
  builtin: string[];
}

/**
 * Closes the requested module names over their dependencies. `lookup` returns a module by name, or
 * undefined when the kernel has no such module file; builtin names count as present with no file.
 * Throws on a missing module or a dependency cycle (modprobe could not load either).
 */
export function selectModules(
  requested: readonly string[],
  lookup: (name: string) => KernelModule | undefined,
  builtinNames: ReadonlySet<string>,
): ModuleSelection {
  const ordered: KernelModule[] = [];
  const builtin: string[] = [];
  const done = new Set<string>();
  const visiting: string[] = [];

  const visit = (rawName: string, neededBy: string | undefined) => {
    const name = moduleNameOf(rawName);
    if (done.has(name)) return;
    if (visiting.includes(name))
      throw new Error(`kernel modules: dependency cycle ${[...visiting, name].join(" -> ")}`);
    if (builtinNames.has(name)) {
      builtin.push(name);
      done.add(name);
      return;
    }
    const module = lookup(name);
    if (module === undefined) {
      const why = neededBy === undefined ? "requested" : `needed by ${neededBy}`;
      throw new Error(`kernel modules: no module ${name} (${why}) in this kernel`);
    }
    visiting.push(name);
    for (const dep of module.depends) visit(dep, name);
    visiting.pop();
    done.add(name);
    ordered.push(module);
  };

  for (const name of requested) visit(name, undefined);
  return { modules: ordered, builtin };
}

/**
 * modules.dep for a selection: "path: dep dep ..." with every transitive dependency, listed so that
 * loading from the end of the line backwards satisfies each module first (the order depmod writes and
 * both kmod and busybox modprobe expect).
 */
export function modulesDepText(selection: ModuleSelection): string {
  const byName = new Map(selection.modules.map((module) => [module.name, module]));
  const position = new Map(selection.modules.map((module, index) => [module.name, index]));
  const lines = selection.modules.map((module) => {
    const closure = new Set<string>();
    const collect = (name: string) => {
      const dep = byName.get(name);
      if (dep === undefined || closure.has(name)) return; // builtin dependencies need no loading
      closure.add(name);
      for (const next of dep.depends) collect(next);
    };
    for (const dep of module.depends) collect(dep);
    const deps = [...closure]
      .sort((a, b) => position.get(b)! - position.get(a)!)
      .map((name) => byName.get(name)!.path);
    return `${module.path}:${deps.map((path) => ` ${path}`).join("")}\n`;
  });
  return lines.join("");
}

/** modules.alias for a selection: "alias <pattern> <module>" per alias record. */
export function modulesAliasText(selection: ModuleSelection): string {
  return selection.modules
    .flatMap((module) => module.aliases.map((alias) => `alias ${alias} ${module.name}\n`))
    .join("");
}

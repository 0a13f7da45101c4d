// Picks kernel modules and everything they depend on out of an extracted kernel package, and writes
// the modules.dep / modules.alias files that busybox modprobe reads for that subset.
import { readdirSync, readFileSync } from "node:fs";
import { join, relative } from "node:path";
import { readModinfo } from "./elf-modinfo.js";

/** A module as the guest sees it: paths are relative to /lib/modules/<kernel version>/. */
export interface KernelModule {
  /** The kernel's name for it: the file name without ".ko", dashes as underscores. */
  name: string;
  path: string;
  /** Direct dependencies by name, from the module's own "depends=" record. */
  depends: string[];
  /** Device match patterns ("alias=" records), e.g. virtio:d00000002v*. */
  aliases: string[];
}

const MODULE_SUFFIX = ".ko";

/** "virtio-rng.ko" and "kernel/drivers/char/hw_random/virtio-rng.ko" both name module virtio_rng. */
export function moduleNameOf(fileName: string): string {
  const base = fileName.slice(fileName.lastIndexOf("/") + 1);
  const stem = base.endsWith(MODULE_SUFFIX) ? base.slice(0, -MODULE_SUFFIX.length) : base;
  return stem.replaceAll("-", "_");
}

/** Every *.ko under <modulesDir>/kernel by module name, as paths relative to modulesDir. */
export function findModuleFiles(modulesDir: string): Map<string, string> {
  const found = new Map<string, string>();
  const walk = (dir: string) => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      const path = join(dir, entry.name);
      if (entry.isDirectory()) walk(path);
      else if (entry.isFile() && entry.name.endsWith(MODULE_SUFFIX))
        found.set(moduleNameOf(entry.name), relative(modulesDir, path));
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
export function loadModule(modulesDir: string, path: string): KernelModule {
  const fields = readModinfo(readFileSync(join(modulesDir, path)), path);
  const name = fields.find((field) => field.key === "name")?.value ?? moduleNameOf(path);
  const dependsField = fields.find((field) => field.key === "depends")?.value ?? "";
  const depends = dependsField
    .split(",")
    .map((dep) => dep.trim())
    .filter((dep) => dep !== "")
    .map(moduleNameOf);
  const aliases = fields.filter((field) => field.key === "alias").map((field) => field.value);
  return { name, path, depends, aliases };
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

// Summarises a V8 CPU profile (node --cpu-prof's .cpuprofile): self time by function and by package.

/** The parts of the .cpuprofile format (Chrome DevTools Protocol Profiler.Profile) this reads. */
export interface CpuProfile {
  nodes: Array<{
    id: number;
    callFrame: { functionName: string; url: string; lineNumber: number; columnNumber: number };
    hitCount?: number;
  }>;
  startTime: number;
  endTime: number;
  samples?: number[];
  timeDeltas?: number[];
}

export interface SelfTime {
  /** "functionName (file)" or V8's "(garbage collector)", "(program)", "(idle)". */
  name: string;
  ms: number;
  /** Share of all sampled time. */
  fraction: number;
}

export interface CpuProfileSummary {
  totalMs: number;
  functions: SelfTime[];
  /** Self time grouped by where the code lives: a workspace package, node's internals, V8. */
  groups: SelfTime[];
}

/** Where a script URL lives: "packages/cpu-x86", "apps/tsqemu", "tools", "node:internal", "v86"... */
export function codeGroup(url: string): string {
  if (url === "") return "(V8 and native)";
  if (url.startsWith("node:")) return "node internals";
  const workspace = /\/(packages|apps)\/([^/]+)\//.exec(url);
  if (workspace) return `${workspace[1]}/${workspace[2]}`;
  const dependency = /\/node_modules\/(?:\.pnpm\/[^/]+\/node_modules\/)?((?:@[^/]+\/)?[^/]+)\//.exec(url);
  if (dependency) return dependency[1];
  if (/\/tools\//.test(url)) return "tools";
  return "other";
}

function label(functionName: string, url: string): string {
  if (url === "") return functionName || "(anonymous)";
  const file = url.slice(url.lastIndexOf("/") + 1);
  return `${functionName || "(anonymous)"} (${file})`;
}

/**
 * Self time per function: each sample's time delta goes to the node it hit (time deltas are the gaps
 * before each sample, so the delta of sample i+1 is sample i's duration). Falls back to hitCount times the
 * mean interval when a profile has no samples array.
 */
export function summarizeCpuProfile(profile: CpuProfile, top: number): CpuProfileSummary {
  const selfMs = new Map<number, number>();
  const samples = profile.samples ?? [];
  const deltas = profile.timeDeltas ?? [];
  if (samples.length > 0) {
    for (let i = 0; i < samples.length; i++) {
      const duration = (i + 1 < deltas.length ? deltas[i + 1] : 0) / 1000;
      selfMs.set(samples[i], (selfMs.get(samples[i]) ?? 0) + duration);
    }
  } else {
    const hits = profile.nodes.reduce((sum, node) => sum + (node.hitCount ?? 0), 0);
    const interval = hits > 0 ? (profile.endTime - profile.startTime) / 1000 / hits : 0;
    for (const node of profile.nodes) selfMs.set(node.id, (node.hitCount ?? 0) * interval);
  }
  const byFunction = new Map<string, number>();
  const byGroup = new Map<string, number>();
  let totalMs = 0;
  for (const node of profile.nodes) {
    const ms = selfMs.get(node.id) ?? 0;
    if (ms === 0) continue;
    const { functionName, url } = node.callFrame;
    const name = label(functionName, url);
    byFunction.set(name, (byFunction.get(name) ?? 0) + ms);
    const group = functionName.startsWith("(") && url === "" ? functionName : codeGroup(url);
    byGroup.set(group, (byGroup.get(group) ?? 0) + ms);
    totalMs += ms;
  }
  const ranked = (map: Map<string, number>, count: number) =>
    [...map]
      .sort((a, b) => b[1] - a[1])
      .slice(0, count)
      .map(([name, ms]) => ({ name, ms, fraction: totalMs > 0 ? ms / totalMs : 0 }));
  return { totalMs, functions: ranked(byFunction, top), groups: ranked(byGroup, Number.POSITIVE_INFINITY) };
}

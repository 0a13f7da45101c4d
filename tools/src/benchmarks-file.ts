// What the Linux benchmarks (bench:boot, bench:virtio) share: where a run keeps its files, and how a run's block
// goes into its section of BENCHMARKS.md.
import { mkdirSync, mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

/**
 * `existing` (a BENCHMARKS.md) with `section` appended at the end of the section headed `heading` (an "## " line),
 * before the next "## " section; the section is created at the end, with `sectionIntro`, if it is missing.
 */
export function appendToBenchmarkSection(
  existing: string,
  heading: string,
  section: string,
  sectionIntro: string,
): string {
  const base = existing.endsWith("\n") || existing.length === 0 ? existing : `${existing}\n`;
  const headingAt = base.search(new RegExp(`^${heading}\\b`, "m"));
  if (headingAt < 0) return `${base}\n${heading}\n\n${sectionIntro}\n\n${section}`;
  const rest = base.slice(headingAt + heading.length);
  const next = rest.search(/^## /m);
  if (next < 0) return `${base}\n${section}`;
  const at = headingAt + heading.length + next;
  return `${base.slice(0, at)}${section}\n${base.slice(at)}`;
}

/** The directory a run keeps its logs and images in: `outDir` (created if needed) or a new temporary one. */
export function benchOutputDirectory(outDir: string | undefined, temporaryPrefix: string): string {
  if (outDir === undefined) return mkdtempSync(join(tmpdir(), temporaryPrefix));
  mkdirSync(outDir, { recursive: true });
  return outDir;
}

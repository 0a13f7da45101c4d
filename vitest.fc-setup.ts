// fast-check's seed for every property test. CI sets TSVMM_FC_SEED (.ci/run), so the run of a commit is
// reproducible and cannot fail by the luck of the draw; elsewhere each run draws a new seed and explores
// further. A failure prints its seed and path either way: TSVMM_FC_SEED=<seed> replays the run.
import fc from "fast-check";

const seed = process.env.TSVMM_FC_SEED;
if (seed !== undefined && seed !== "") {
  const value = Number(seed);
  if (!Number.isSafeInteger(value)) throw new Error(`TSVMM_FC_SEED must be an integer, not "${seed}"`);
  fc.configureGlobal({ ...fc.readConfigureGlobal(), seed: value | 0 });
}

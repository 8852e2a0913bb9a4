/**
 * A study in the charts view: runs grouped by arm, and per group the mean over runs at each step with its 95 %
 * Student-t interval (stats.ts meanCi). Pure and browser-safe (the webview draws from it; the host reads
 * study.json with it).
 *
 * An arm is what `npm run study` (scripts/study.ts) names in study.json: `"<arm>-s<seed>"` → run directory, the
 * arm being the preset plus the config keys that set it apart (`prpo-l0` is prpo with λ = 0, `oracle` is prpo
 * with the oracle estimator). Runs without study.json are grouped by their preset's label.
 */
import { presetLabel } from '../presets';
import { meanCi } from './stats';

/** One run of a study.json: its arm, its seed, and its directory as written (absolute, or relative to the file). */
export interface StudyRunRef {
  key: string;
  arm: string;
  seed: number;
  dir: string;
}

export interface StudyIndex {
  /** The learning rate the pilot chose, when recorded. */
  lr?: number;
  runs: StudyRunRef[];
  /** Keys left out: the learning-rate pilot's runs (`pilot-…`), which are no arm. */
  pilots: string[];
}

const ARM_SEED = /^(.+)-s(\d+)$/;

/**
 * Reads study.json (`{"lr"?, "runs": {"<arm>-s<seed>": "<run dir>", "pilot-lr…": "<run dir>"}}`). Throws an Error
 * naming `file` and the field for anything else; the pilot's runs are listed apart, not grouped.
 */
export function parseStudyIndex(text: string, file: string): StudyIndex {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (e) {
    throw new Error(`${file}: not valid JSON (${(e as Error).message})`);
  }
  if (doc === null || typeof doc !== 'object' || Array.isArray(doc)) throw new Error(`${file}: expected an object {"runs": {…}}`);
  const { lr, runs } = doc as { lr?: unknown; runs?: unknown };
  if (lr !== undefined && (typeof lr !== 'number' || !Number.isFinite(lr))) throw new Error(`${file}: lr must be a number, got ${JSON.stringify(lr)}`);
  if (runs === null || typeof runs !== 'object' || Array.isArray(runs)) throw new Error(`${file}: runs must be an object of "<arm>-s<seed>": "<run dir>"`);
  const out: StudyIndex = { ...(lr !== undefined ? { lr } : {}), runs: [], pilots: [] };
  for (const [key, dir] of Object.entries(runs as Record<string, unknown>)) {
    if (typeof dir !== 'string' || dir === '') throw new Error(`${file}: runs[${JSON.stringify(key)}] must be a run directory, got ${JSON.stringify(dir)}`);
    if (key.startsWith('pilot-')) {
      out.pilots.push(key);
      continue;
    }
    const m = ARM_SEED.exec(key);
    if (!m) throw new Error(`${file}: runs[${JSON.stringify(key)}]: expected a key "<arm>-s<seed>" (or "pilot-…")`);
    out.runs.push({ key, arm: m[1], seed: Number(m[2]), dir });
  }
  if (out.runs.length === 0) throw new Error(`${file}: no arm's runs yet (only ${out.pilots.length ? out.pilots.join(', ') : 'an empty runs object'})`);
  return out;
}

export interface RunGroup {
  /** The arm (study.json) or the preset's label. */
  name: string;
  /** The runs' ids, in the order given. */
  runIds: string[];
}

/** Groups runs by their arm when they have one, else by their preset's label; groups in order of first appearance. */
export function groupRuns(runs: ReadonlyArray<{ id: string; algorithm: string; arm?: string }>): RunGroup[] {
  const groups = new Map<string, RunGroup>();
  for (const r of runs) {
    const name = r.arm ?? presetLabel(r.algorithm);
    let g = groups.get(name);
    if (!g) groups.set(name, (g = { name, runIds: [] }));
    g.runIds.push(r.id);
  }
  return [...groups.values()];
}

/** "dapo (n=3)"; a group of one says it has no band. */
export function groupLabel(group: RunGroup): string {
  return group.runIds.length === 1 ? `${group.name} (n=1, no band)` : `${group.name} (n=${group.runIds.length})`;
}

/** One step of a group's curve: the mean over the runs that have a value there, with its interval when n ≥ 2. */
export interface BandPoint {
  x: number;
  /** The mean. */
  y: number;
  /** How many runs had a value at this step. */
  n: number;
  /** The 95 % interval's ends; NaN for n = 1 (no band: one run has no spread). */
  lo: number;
  hi: number;
}

/**
 * The mean curve of `series` (one per run, points in step order) with its (1 − α) t-interval at each step any run
 * has. A run that stopped early, or records a metric only some steps (validation), counts where it has a value;
 * a step a run wrote twice (a resumed run redoing steps) counts its last value.
 */
export function meanBand(series: ReadonlyArray<ReadonlyArray<{ x: number; y: number }>>, alpha = 0.05): BandPoint[] {
  const byStep = new Map<number, number[]>();
  for (const points of series) {
    const last = new Map<number, number>();
    for (const p of points) if (Number.isFinite(p.y)) last.set(p.x, p.y);
    for (const [x, y] of last) {
      const ys = byStep.get(x);
      if (ys) ys.push(y);
      else byStep.set(x, [y]);
    }
  }
  return [...byStep.entries()]
    .sort((a, b) => a[0] - b[0])
    .map(([x, ys]) => {
      const ci = meanCi(ys, alpha);
      return { x, y: ci.mean, n: ci.n, lo: ci.lo, hi: ci.hi };
    });
}

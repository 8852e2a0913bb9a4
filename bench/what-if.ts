/**
 * Benchmark: one what-if change (core/view/whatIf.ts runWhatIf: the estimators on the packed columns, the recolour
 * column and the summary) on a 1,000-rollout step, as the trajectory view's panel runs it on every change of a
 * control. Target (issue 15): ≤ 50 ms per change. The webview's own figure is its `trajectory.whatIf` mark.
 *
 *   node --import tsx bench/what-if.ts [--rollouts 1000] [--tokens 256] [--repeats 10] [--wall]
 */
import { resolveConfig } from '../src/core/algorithms';
import { packRollouts } from '../src/core/view/pack';
import { runWhatIf, type PackedRolloutRef } from '../src/core/view/whatIf';
import { makeStep } from '../test/fixtures/webviewFixtures';

function arg(name: string, fallback: number): number {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? Number(process.argv[i + 1]) : fallback;
}
const ROLLOUTS = arg('rollouts', 1000);
const TOKENS = arg('tokens', 256);
const REPEATS = arg('repeats', 10);

// CPU time of the process (this thread and V8's GC helpers): on a machine others load, wall time measures the
// queue for the cores; \`--wall\` reports wall-clock time instead (what a user on a quiet machine waits).
const WALL = process.argv.includes('--wall');
function timed(f: () => void): number {
  if (WALL) {
    const t0 = performance.now();
    f();
    return performance.now() - t0;
  }
  const c0 = process.cpuUsage();
  f();
  const c = process.cpuUsage(c0);
  return (c.user + c.system) / 1000;
}

const records = makeStep(1, ROLLOUTS, 8, TOKENS, 1);
for (const r of records) r.logp.perturbed = r.logp.blind!.map((v) => v + 0.05);
// As the view holds them: the first 48 rollouts, then parts of 128 (trajectoryPanel.ts).
const refs: PackedRolloutRef[] = [];
for (let from = 0; from < records.length; from = from === 0 ? 48 : from + 128) {
  const part = records.slice(from, from === 0 ? 48 : from + 128);
  const batch = packRollouts(1, part);
  part.forEach((_, r) => refs.push({ batch, meta: batch.meta[r], start: batch.tokenStart[r], end: batch.tokenStart[r + 1] }));
}
const tokens = refs.reduce((n, r) => n + r.end - r.start, 0);
console.log(`what-if on ${ROLLOUTS} rollouts, ${tokens} tokens; ${WALL ? 'wall' : 'CPU'} time, medians of ${REPEATS}, interleaved; goal ≤ 50 ms per change`);
console.log('  first change: the step is prepared (inputs, k3 rows, checks) — what opening the panel costs once');
console.log('  next change:  what every further change of a control costs');
const logged = (ro: PackedRolloutRef) => ro.batch.fields.tokenAdvantage!.subarray(ro.start, ro.end);
const median = (ms: number[]) => [...ms].sort((a, b) => a - b)[ms.length >> 1];
const figures: Record<string, number> = {};
for (const [label, config] of [
  ['prpo soft', resolveConfig('prpo', { tau: 0.3 })],
  ['prpo gate', resolveConfig('prpo', { rvd: 'gate', massConserving: true })],
  ['pgpo', resolveConfig('pgpo', { tau: 0.2 })],
  ['vppo', resolveConfig('vppo', { topK: 0.3 })],
] as const) {
  runWhatIf(config, [...refs], logged); // warm-up
  const first: number[] = [];
  const next: number[] = [];
  for (let i = 0; i < REPEATS; i++) {
    const list = [...refs]; // a new list: prepared afresh, as when a step opens
    first.push(timed(() => runWhatIf(config, list, logged)));
    next.push(timed(() => runWhatIf(config, list, logged)));
  }
  const [f, n] = [median(first), median(next)];
  console.log(`${label.padEnd(10)} first change ${f.toFixed(1).padStart(6)} ms   next change ${n.toFixed(1).padStart(6)} ms   (goal 50)`);
  figures[`${label.replace(' ', '-')}FirstMs`] = +f.toFixed(1);
  figures[`${label.replace(' ', '-')}NextMs`] = +n.toFixed(1);
}
console.log(JSON.stringify({ bench: 'what-if', figures: { rollouts: ROLLOUTS, tokens, clock: WALL ? 'wall' : 'cpu', ...figures } }));

/**
 * npm run study [-- --quick] [--runs-dir DIR] [--seeds N] [--steps N] [--out docs] [--model DIR]
 *
 * The study of docs/study.md: grpo, dapo, vppo, pgpo, prpo, prpo with λ = 0, and the controls oracle and
 * random (PAR on the ground-truth perceptual tokens / on a random set of the same size), each over the
 * same seeds on the study task and model (models/tiny-vlm-shapes-study, `npm run pretrain -- --study`),
 * with one learning rate chosen by a short DAPO pilot on a spare seed. Every run is an ordinary run
 * directory under --runs-dir (open them in the studio); study.json there maps arm × seed to its run, so a
 * second invocation skips what is complete and resumes what is not. Then docs/study.md and its figures.
 *
 * `--quick` is a smoke run (few steps, few seeds, small validation): it checks the pipeline end to end,
 * and its report says so at the top. Its numbers are not results.
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { estimatorNames } from '../src/core/algorithms';
import { resolveRunConfig } from '../src/backend/trainer/config';
import { readMetrics, readRun, type MetricsRow } from '../src/core/run';
import { holm, meanCi, minimumDetectableEffect, pairedDifference } from '../src/core/study/stats';
import { forestPlot, lineChart, type Series } from '../src/core/study/svg';
import { Trainer } from '../src/backend/trainer/trainer';

const ROOT = resolve(__dirname, '..');

interface Arm {
  key: string;
  label: string;
  preset: string;
  config: Record<string, unknown>;
}

/** The arms, in report order; an arm whose estimator this version lacks is reported as missing. */
const ARMS: Arm[] = [
  { key: 'grpo', label: 'grpo', preset: 'grpo', config: {} },
  { key: 'dapo', label: 'dapo', preset: 'dapo', config: { diagnostics: true } },
  { key: 'vppo', label: 'vppo', preset: 'vppo', config: {} },
  { key: 'pgpo', label: 'pgpo', preset: 'pgpo', config: {} },
  { key: 'prpo', label: 'prpo (PRPO-R)', preset: 'prpo', config: { diagnostics: true } },
  { key: 'prpo-l0', label: 'prpo λ=0', preset: 'prpo', config: { lambda: 0 } },
  { key: 'oracle', label: 'oracle', preset: 'prpo', config: { estimator: 'oracle' } },
  { key: 'random', label: 'random', preset: 'prpo', config: { estimator: 'random' } },
];

interface Settings {
  quick: boolean;
  seeds: number[];
  steps: number;
  pilotSteps: number;
  pilotLrs: number[];
  pilotSeed: number;
  runsDir: string;
  out: string;
  common: Record<string, unknown>;
}

function settings(): Settings {
  const { values } = parseArgs({
    options: {
      quick: { type: 'boolean' },
      'runs-dir': { type: 'string' },
      seeds: { type: 'string' },
      steps: { type: 'string' },
      out: { type: 'string' },
      model: { type: 'string' },
    },
  });
  const quick = values.quick === true;
  const nSeeds = values.seeds ? Number(values.seeds) : quick ? 2 : 3;
  // Full: 8 arms × 3 seeds × 200 steps, estimated ≈ 35 min on 2 idle cores (not yet measured at full scale).
  const steps = values.steps ? Number(values.steps) : quick ? 8 : 200;
  if (!Number.isInteger(nSeeds) || nSeeds < 1) throw new Error(`--seeds: expected an integer ≥ 1, got ${values.seeds}`);
  if (!Number.isInteger(steps) || steps < 1) throw new Error(`--steps: expected an integer ≥ 1, got ${values.steps}`);
  const model = resolve(values.model ?? join(ROOT, 'models', 'tiny-vlm-shapes-study'));
  if (!existsSync(join(model, 'config.json'))) throw new Error(`${model} is missing: make it first with npm run pretrain -- --study`);
  const valEvery = quick ? Math.max(1, Math.floor(steps / 2)) : 50;
  return {
    quick,
    seeds: Array.from({ length: nSeeds }, (_, i) => i + 1),
    steps,
    pilotSteps: quick ? 4 : 100,
    pilotLrs: quick ? [1e-4, 1e-3] : [1e-4, 3e-4, 1e-3],
    pilotSeed: 100,
    runsDir: resolve(values['runs-dir'] ?? join(ROOT, 'runs', quick ? 'study-quick' : 'study')),
    out: resolve(values.out ?? join(ROOT, 'docs')),
    common: {
      model,
      maxNewTokens: 24,
      promptsPerStep: 8,
      groupSize: 8,
      miniBatches: 2,
      valEvery,
      valSize: quick ? 32 : 256,
      valSamples: 4,
      valGreedySize: quick ? 128 : 1024,
      checkpointEvery: quick ? steps : 25,
      // The diagnostics (every view for every preset, exact KL too) cost a second probe call per step:
      // the dapo and prpo arms carry them (ARMS), which is what the AUROC table and the log-prob figure read.
      diagnostics: false,
    },
  };
}

/** study.json: which run directory holds each arm × seed (and the pilot's), so reruns resume. */
interface Index {
  lr?: number;
  runs: Record<string, string>;
}

class Progress {
  private done = 0;
  private readonly t0 = Date.now();
  constructor(private readonly total: number) {}
  step(what: string) {
    this.done++;
    const frac = this.done / this.total;
    const width = 30;
    const bar = '#'.repeat(Math.round(frac * width)).padEnd(width, '.');
    const elapsed = (Date.now() - this.t0) / 1000;
    const eta = frac > 0 ? elapsed / frac - elapsed : 0;
    process.stderr.write(`\r[${bar}] ${this.done}/${this.total} steps  ${what}  ${elapsed.toFixed(0)} s, ~${eta.toFixed(0)} s left   `);
  }
  skip(n: number) {
    this.done += n;
  }
  end() {
    process.stderr.write('\n');
  }
}

/** Runs (or resumes, or skips when complete) one run; returns its directory. */
async function ensureRun(index: Index, s: Settings, key: string, preset: string, config: Record<string, unknown>, seed: number, steps: number, progress: Progress): Promise<string> {
  const save = () => writeFileSync(join(s.runsDir, 'study.json'), JSON.stringify(index, null, 2) + '\n');
  const known = index.runs[key];
  const onMetrics = (row: MetricsRow) => {
    if (row.step > 0) progress.step(`${key}`);
  };
  if (known && existsSync(known)) {
    const info = await readRun(known);
    const metrics = await readMetrics(known);
    const last = metrics.at(-1)?.step ?? 0;
    if (info.status === 'completed' && last >= steps) {
      progress.skip(steps);
      return known;
    }
    const t = await Trainer.resume({ runDir: known, steps, hooks: { onMetrics } });
    progress.skip(t.currentStep); // the steps after its checkpoint are redone and counted again
    await t.run();
    await t.engine.dispose();
    return known;
  }
  const t = await Trainer.start({ runsDir: s.runsDir, preset, steps, seed, name: `study ${key}`, config: { ...s.common, ...config }, hooks: { onMetrics } });
  index.runs[key] = t.dir;
  save();
  await t.run();
  await t.engine.dispose();
  return t.dir;
}

const finalSampled = (m: MetricsRow[]) => [...m].reverse().find((r) => r.valAccuracy !== undefined)?.valAccuracy ?? NaN;
const finalGreedy = (m: MetricsRow[]) => [...m].reverse().find((r) => r.valGreedyAccuracy !== undefined)?.valGreedyAccuracy ?? NaN;

async function main() {
  const s = settings();
  mkdirSync(s.runsDir, { recursive: true });
  const indexFile = join(s.runsDir, 'study.json');
  const index: Index = existsSync(indexFile) ? JSON.parse(readFileSync(indexFile, 'utf8')) : { runs: {} };
  const available = ARMS.filter((a) => {
    const est = a.config.estimator as string | undefined;
    return !est || estimatorNames().includes(est);
  });
  const missing = ARMS.filter((a) => !available.includes(a));
  for (const a of available) resolveRunConfig(a.preset, { ...s.common, ...a.config }); // a bad arm fails before any training
  const total = s.pilotLrs.length * s.pilotSteps + available.length * s.seeds.length * s.steps;
  const progress = new Progress(total);
  const t0 = Date.now();

  // 1. The learning rate: a short DAPO pilot on a spare seed, the best final greedy accuracy.
  const pilot: Array<{ lr: number; greedy: number }> = [];
  for (const lr of s.pilotLrs) {
    const dir = await ensureRun(index, s, `pilot-lr${lr}`, 'dapo', { lr, valEvery: s.pilotSteps }, s.pilotSeed, s.pilotSteps, progress);
    pilot.push({ lr, greedy: finalGreedy(await readMetrics(dir)) });
  }
  const lr = index.lr ?? pilot.reduce((a, b) => (b.greedy > a.greedy ? b : a)).lr;
  index.lr = lr;
  writeFileSync(indexFile, JSON.stringify(index, null, 2) + '\n');

  // 2. Every arm × seed at that rate.
  const runs: Record<string, Record<number, string>> = {};
  for (const seed of s.seeds) {
    for (const arm of available) {
      (runs[arm.key] ??= {})[seed] = await ensureRun(index, s, `${arm.key}-s${seed}`, arm.preset, { ...arm.config, lr }, seed, s.steps, progress);
    }
  }
  progress.end();
  const minutes = (Date.now() - t0) / 60000;

  // 3. The report.
  const metrics: Record<string, Record<number, MetricsRow[]>> = {};
  for (const arm of available) {
    metrics[arm.key] = {};
    for (const seed of s.seeds) metrics[arm.key][seed] = await readMetrics(runs[arm.key][seed]);
  }
  const report = writeReport(s, available, missing, metrics, pilot, lr, minutes);
  console.log(`wrote ${report}`);
}

function writeReport(
  s: Settings,
  arms: Arm[],
  missing: Arm[],
  metrics: Record<string, Record<number, MetricsRow[]>>,
  pilot: Array<{ lr: number; greedy: number }>,
  lr: number,
  minutes: number,
): string {
  const pct = (x: number) => (Number.isFinite(x) ? (100 * x).toFixed(1) : '–');
  const num = (x: number, d = 3) => (Number.isFinite(x) ? x.toFixed(d) : '–');
  const prefix = 'study';
  const lines: string[] = [];
  const final = (key: string) => s.seeds.map((seed) => finalGreedy(metrics[key][seed]));
  lines.push(`# The study${s.quick ? ' — SMOKE RUN (--quick): not a result' : ''}`, '');
  if (s.quick) {
    lines.push(
      `> **This report comes from \`npm run study -- --quick\`**: ${s.steps} steps, ${s.seeds.length} seeds, greedy validation on ${s.common.valGreedySize} prompts. It checks that the`,
      '> pipeline runs end to end. Its numbers are NOT results and support no claim. The full study is `npm run study`.',
      '',
    );
  }
  lines.push(
    `Task: the model's (${String(s.common.model).endsWith('tiny-vlm-shapes-study') ? 'the study options: fillers, count questions about present objects, no `exists`' : 'NOT the study task'}); model \`${String(s.common.model).split('/').slice(-2).join('/')}\`.`,
    `Arms: ${arms.map((a) => a.label).join(', ')}; seeds ${s.seeds.join(', ')}; ${s.steps} steps; P = 8 prompts × G = 8; 2 mini-batches; lr ${lr} from a DAPO pilot`,
    `on seed ${s.pilotSeed} (${pilot.map((p) => `${p.lr}: greedy ${pct(p.greedy)} %`).join(', ')}). Wall time of this invocation (complete runs are skipped) ${minutes.toFixed(1)} min.`,
    '',
  );
  // What RL starts from (measured by `npm run pretrain -- --study`, config.json pretrain.startMeasures).
  const modelConfig = JSON.parse(readFileSync(join(String(s.common.model), 'config.json'), 'utf8'));
  const start = modelConfig.pretrain?.startMeasures as
    | { greedy: Record<string, number>; blackImage: Record<string, number>; luckyCorrectShare?: number; firstErrorPerceptualShare?: number; teacherForced?: Record<string, number> }
    | undefined;
  if (start) {
    const types = Object.keys(start.greedy).filter((k) => k !== 'all');
    lines.push(
      '## The warm start RL begins from (greedy, first 1024 validation prompts)',
      '',
      `| | ${types.join(' | ')} | all |`,
      `|---|${types.map(() => '---|').join('')}---|`,
      `| with the image | ${types.map((t) => `${pct(start.greedy[t])} %`).join(' | ')} | **${pct(start.greedy.all)} %** |`,
      `| black image (text-only baseline) | ${types.map((t) => `${pct(start.blackImage[t])} %`).join(' | ')} | **${pct(start.blackImage.all)} %** |`,
      '',
      `Wrong answers whose first error is at a perceptual token: ${pct(start.firstErrorPerceptualShare ?? NaN)} %. Right answers reached through a wrong trace (lucky-correct): ${pct(start.luckyCorrectShare ?? NaN)} %.`,
      `Teacher-forced top-1: non-perceptual ${pct(start.teacherForced?.nonPerceptualTop1 ?? NaN)} %, perceptual ${pct(start.teacherForced?.perceptualTop1 ?? NaN)} %; perceptual tokens ${pct(start.teacherForced?.perceptualShare ?? NaN)} % of reference tokens.`,
      '',
    );
  }
  if (missing.length) lines.push(`Not run (estimator not in this version): ${missing.map((a) => a.label).join(', ')}.`, '');

  // Final greedy accuracy per arm.
  lines.push(
    `## Final greedy accuracy on ${s.common.valGreedySize} validation prompts (primary endpoint)`,
    '',
    `| arm | mean | 95 % CI (t, n − 1) | per seed | avg@${s.common.valSamples} on ${s.common.valSize} prompts (secondary), mean ± CI |`,
    '|---|---|---|---|---|',
  );
  for (const a of arms) {
    const xs = final(a.key);
    const ci = meanCi(xs);
    const sampled = meanCi(s.seeds.map((seed) => finalSampled(metrics[a.key][seed])));
    lines.push(`| ${a.label} | ${pct(ci.mean)} % | [${pct(ci.lo)}, ${pct(ci.hi)}] | ${xs.map(pct).join(', ')} | ${pct(sampled.mean)} % ± ${pct(sampled.half)} |`);
  }
  lines.push('');

  // Paired differences against dapo.
  const contrasts = arms.filter((a) => a.key !== 'dapo');
  const base = final('dapo');
  const diffs = contrasts.map((a) => ({ arm: a, d: pairedDifference(final(a.key), base) }));
  const adjusted = holm(diffs.map((x) => x.d.p));
  lines.push('## Paired differences against dapo (same seeds)', '', '| arm − dapo | mean Δ | 95 % CI | p (paired t) | p (Holm) |', '|---|---|---|---|---|');
  diffs.forEach(({ arm, d }, i) => lines.push(`| ${arm.label} | ${pct(d.mean)} pts | [${pct(d.lo)}, ${pct(d.hi)}] | ${num(d.p)} | ${num(adjusted[i])} |`));
  const sds = diffs.map((x) => x.d.sd).filter(Number.isFinite);
  const sdDiff = sds.length ? Math.sqrt(sds.reduce((a, sd) => a + sd ** 2, 0) / sds.length) : NaN;
  const mde = minimumDetectableEffect(sdDiff, s.seeds.length);
  lines.push(
    '',
    `Minimum detectable effect (paired t, α = 0.05 two-sided, power 0.8, n = ${s.seeds.length}, pooled sd of the differences ${pct(sdDiff)} pts): **${pct(mde)} points**.`,
    'A difference smaller than this is not distinguishable at this scale.',
    '',
  );
  const oracle = diffs.find((x) => x.arm.key === 'oracle');
  if (oracle) {
    lines.push(
      oracle.d.lo > 0
        ? 'The oracle control beats dapo: the task can show a credit-assignment effect.'
        : 'The oracle control does not beat dapo with confidence: at this scale the task cannot show the effect, so no estimator\'s ranking here is evidence for or against it.',
      '',
    );
  }

  // Figures.
  const figures: Array<[string, string]> = [];
  const over = (key: string, metric: string): Series['points'] => {
    const steps = [...new Set(s.seeds.flatMap((seed) => metrics[key][seed].filter((r) => r[metric] !== undefined).map((r) => r.step)))].sort((a, b) => a - b);
    return steps.map((step) => {
      const xs = s.seeds.map((seed) => metrics[key][seed].find((r) => r.step === step)?.[metric]).filter((v): v is number => v !== undefined && Number.isFinite(v));
      const ci = meanCi(xs);
      return { x: step, y: ci.mean, lo: ci.lo, hi: ci.hi };
    });
  };
  figures.push([`${prefix}-accuracy.svg`, lineChart('Greedy validation accuracy (mean ± 95 % CI over seeds)', 'step', 'accuracy', arms.map((a) => ({ label: a.label, points: over(a.key, 'valGreedyAccuracy') })))]);
  figures.push([`${prefix}-forest.svg`, forestPlot('Final greedy accuracy: arm − dapo (paired by seed, 95 % CI)', 'Δ accuracy', diffs.map(({ arm, d }, i) => ({ label: arm.label, mean: d.mean, lo: d.lo, hi: d.hi, note: `Holm p ${num(adjusted[i], 2)}` })))]);
  figures.push([`${prefix}-logp.svg`, lineChart('Sampled-token log-prob: perceptual vs non-perceptual (dapo, prpo)', 'step', 'mean log-prob', ['dapo', 'prpo'].filter((k) => metrics[k]).flatMap((k) => [
    { label: `${k} perceptual`, points: over(k, 'diag.logpPerceptual') },
    { label: `${k} non-perceptual`, points: over(k, 'diag.logpNonPerceptual') },
  ]))]);
  for (const [file, svg] of figures) writeFileSync(join(s.out, file), svg);
  lines.push('## Figures', '');
  lines.push(`![accuracy](${prefix}-accuracy.svg)`, '', `![forest](${prefix}-forest.svg)`, '', `![log-prob](${prefix}-logp.svg)`, '');

  // Diagnostics: AUROC per score with baselines, pooled over every step and run (mean of the step values).
  const meanOf = (metric: string) => {
    const xs = arms.flatMap((a) => s.seeds.flatMap((seed) => metrics[a.key][seed].map((r) => r[metric]))).filter((v): v is number => v !== undefined && Number.isFinite(v));
    return xs.length ? xs.reduce((x, y) => x + y, 0) / xs.length : NaN;
  };
  lines.push('## Do the dependency scores find the perceptual tokens? (diagnostics: every step of the dapo and prpo runs)', '');
  lines.push('| score | AUROC pooled k3 | pooled exact | within-response k3 | within exact |', '|---|---|---|---|---|');
  for (const [score, label] of [['Svppo', 'VPPO S (perturbed)'], ['Spgpo', 'PGPO S (blind)'], ['G', 'PRPO-R G'], ['U', 'PRPO-R U'], ['RVD', 'PRPO-R RVD'], ['RVD0', 'RVD, λ = 0']] as const) {
    lines.push(`| ${label} | ${num(meanOf(`diag.auroc.${score}.k3`))} | ${num(meanOf(`diag.auroc.${score}.exact`))} | ${num(meanOf(`diag.aurocWithin.${score}.k3`))} | ${num(meanOf(`diag.aurocWithin.${score}.exact`))} |`);
  }
  lines.push(`| baseline: policy entropy | ${num(meanOf('diag.auroc.entropy'))} | | ${num(meanOf('diag.aurocWithin.entropy'))} | |`);
  lines.push(`| baseline: −logp | ${num(meanOf('diag.auroc.negLogp'))} | | ${num(meanOf('diag.aurocWithin.negLogp'))} | |`, '');
  lines.push('AUROC of G (k3) within policy-entropy quintiles (Q1 lowest): ' + [1, 2, 3, 4, 5].map((q) => `Q${q} ${num(meanOf(`diag.aurocQ${q}.G.k3`))} (perceptual ${pct(meanOf(`diag.perceptualShareQ${q}`))} %)`).join(', ') + '.', '');
  lines.push('Reshaped token sets against the ground truth (VPPO: kept; PGPO, PRPO-R: boosted):', '', '| set | precision k3 | recall k3 | precision exact | recall exact | share marked k3 |', '|---|---|---|---|---|---|');
  for (const name of ['vppo', 'pgpo', 'prpo', 'prpo0']) {
    lines.push(`| ${name === 'prpo0' ? 'prpo λ=0' : name} | ${num(meanOf(`diag.precision.${name}.k3`))} | ${num(meanOf(`diag.recall.${name}.k3`))} | ${num(meanOf(`diag.precision.${name}.exact`))} | ${num(meanOf(`diag.recall.${name}.exact`))} | ${num(meanOf(`diag.marked.${name}.k3`))} |`);
  }
  lines.push(
    '',
    `Perceptual share of sampled tokens ${pct(meanOf('diag.perceptualShare'))} %; correct answers reached through a wrong trace (lucky-correct) ${pct(meanOf('diag.luckyCorrectShare'))} %;`,
    `wrong answers whose first error is at a perceptual token ${pct(meanOf('diag.firstErrorPerceptualShare'))} %.`,
    '',
    'Every run is a run directory under the runs folder (`study.json` maps arm × seed to it): open it in the studio to see each token.',
    '',
  );
  const file = join(s.out, 'study.md');
  writeFileSync(file, lines.join('\n'));
  return file;
}

main().catch((e) => {
  process.stderr.write(`\nstudy: ${(e as Error).message}\n`);
  process.exit(1);
});

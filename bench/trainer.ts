/**
 * npm run bench:trainer — step time of the trainer per preset on the built-in model and default settings,
 * split into sampling / dependency probes / update, the probes' share of the step, and rollouts per second.
 * Validation is off so the step is what training costs. Options: --steps N (measured, default 10),
 * --warmup N (default 2: the first steps build the onnxruntime sessions), --presets a,b, --json FILE.
 */
import { writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { Trainer } from '../src/backend/trainer/trainer';
import { defaultTrainerSettings } from '../src/backend/trainer/config';
import type { MetricsRow } from '../src/core/run';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir, cpus } from 'node:os';
import { join } from 'node:path';

const { values } = parseArgs({
  options: {
    steps: { type: 'string', default: '10' },
    warmup: { type: 'string', default: '2' },
    presets: { type: 'string', default: 'grpo,dapo,vppo,pgpo,prpo' },
    json: { type: 'string' },
  },
});
const measured = Number(values.steps);
const warmup = Number(values.warmup);

interface Result {
  preset: string;
  stepMs: number;
  sampleMs: number;
  probeMs: number;
  updateMs: number;
  probeShare: number;
  rolloutsPerStep: number;
  rolloutsPerSec: number;
}

const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;

async function bench(preset: string): Promise<Result> {
  const runsDir = mkdtempSync(join(tmpdir(), 'prpo-bench-'));
  const rows: MetricsRow[] = [];
  const trainer = await Trainer.start({
    runsDir,
    preset,
    steps: warmup + measured,
    seed: 0,
    config: { valEvery: 0, valAtStart: false, checkpointEvery: 0 },
    hooks: { onMetrics: (r) => rows.push(r) },
  });
  await trainer.run();
  await trainer.engine.dispose();
  rmSync(runsDir, { recursive: true, force: true });
  const m = rows.filter((r) => r.step > warmup);
  const sampleMs = mean(m.map((r) => r.timeSampleMs!));
  const probeMs = mean(m.map((r) => r.timeProbeMs!));
  const updateMs = mean(m.map((r) => r.timeUpdateMs!));
  const stepMs = mean(m.map((r) => r.timeStepMs!));
  const rolloutsPerStep = mean(m.map((r) => (r.groupsSampled ?? 0) * defaultTrainerSettings().groupSize));
  return { preset, stepMs, sampleMs, probeMs, updateMs, probeShare: probeMs / stepMs, rolloutsPerStep, rolloutsPerSec: rolloutsPerStep / (stepMs / 1000) };
}

async function main() {
  const s = defaultTrainerSettings();
  console.log(`trainer bench: ${s.promptsPerStep} prompts × G=${s.groupSize}, ≤ ${s.maxNewTokens} new tokens, ${cpus().length} CPUs, ${warmup} warm-up + ${measured} measured steps`);
  const results: Result[] = [];
  for (const preset of values.presets!.split(',')) {
    const r = await bench(preset);
    results.push(r);
    console.log(`  ${preset}: ${r.stepMs.toFixed(0)} ms/step`);
  }
  console.log('\n| preset | step ms | sample ms | probe ms | update ms | probe share | rollouts/step | rollouts/s |');
  console.log('|---|---|---|---|---|---|---|---|');
  for (const r of results) {
    console.log(
      `| ${r.preset} | ${r.stepMs.toFixed(0)} | ${r.sampleMs.toFixed(0)} | ${r.probeMs.toFixed(0)} | ${r.updateMs.toFixed(0)} | ${(100 * r.probeShare).toFixed(1)}% | ${r.rolloutsPerStep.toFixed(0)} | ${r.rolloutsPerSec.toFixed(0)} |`,
    );
  }
  if (values.json) writeFileSync(values.json, JSON.stringify(results, null, 2) + '\n');
  // One machine-readable line last (issue #13): the same figures, for scripts.
  console.log(JSON.stringify({ bench: 'trainer', figures: Object.fromEntries(results.map(({ preset, ...r }) => [preset, r])) }));
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});

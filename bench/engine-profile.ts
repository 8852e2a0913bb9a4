// Where the training step's graph spends its time: `node --import tsx bench/engine-profile.ts [--model large]`.
// onnxruntime's own profiler over a few runs of the policy graph (forward + backward), summed by op type, and
// torch.profiler over the same model's eager step (bench/engine_torch.py's model) for comparison.
// Ends with one JSON line {"bench": "engine-profile", "figures": …}.
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { buildPolicyGraph, initWeights, modelConfig, paramShapes, POLICY_SCALARS } from '../src/backend/engine/model';
import { sessionOptions } from '../src/backend/engine/session';
import { mulberry32 } from '../src/core/random';

const i = process.argv.indexOf('--model');
const which = i > 0 ? process.argv[i + 1] : 'large';
const base = modelConfig({ vocabSize: 80, imageSize: 32, patchSize: 8 }, { maxText: 48 });
const sizes: Record<string, typeof base> = {
  default: base,
  medium: { ...base, dModel: 192, nLayers: 4, nHeads: 6, dFF: 768 },
  large: { ...base, dModel: 384, nLayers: 6, nHeads: 6, dFF: 1536 },
};
const c = sizes[which];
if (!c) throw new Error(`--model ${which}: expected default, medium or large`);
const B = 32, Tt = c.maxText, RUNS = 5;

async function ortProfile(): Promise<Record<string, number>> {
  const g = buildPolicyGraph(c, B, Tt);
  const s = await ort.InferenceSession.create(g.toBytes(), { ...sessionOptions('cpu', 2), enableProfiling: true, profileFilePrefix: join(tmpdir(), `prpo-ort-profile-${process.pid}`) });
  const r = mulberry32(3);
  const w = initWeights(c, 1);
  const feeds: Record<string, ort.Tensor> = {};
  for (const [n, shape] of paramShapes(c)) feeds[n] = new ort.Tensor('float32', w.get(n)!, shape);
  for (const k of POLICY_SCALARS) feeds[k] = new ort.Tensor('float32', new Float32Array([k === 'invTokens' ? 1 / (B * Tt) : 0.2]), []);
  for (const inp of g.inputs) {
    if (feeds[inp.name]) continue;
    const shape = inp.shape as number[], n = shape.reduce((a, b) => a * b, 1);
    feeds[inp.name] = inp.dtype === 'int64'
      ? new ort.Tensor('int64', BigInt64Array.from({ length: n }, () => BigInt(Math.floor(r() * c.vocabSize))), shape)
      : new ort.Tensor('float32', Float32Array.from({ length: n }, () => (inp.name === 'blind' ? 0 : inp.name === 'mask' ? 1 : r() - 0.5)), shape);
  }
  await s.run(feeds);
  for (let k = 0; k < RUNS; k++) await s.run(feeds);
  await s.endProfiling();
  await s.release();
  // onnxruntime names the file `<prefix>_<timestamp>.json`.
  const name = readdirSync(tmpdir()).find((f) => f.startsWith(`prpo-ort-profile-${process.pid}_`) && f.endsWith('.json'));
  if (!name) throw new Error(`onnxruntime wrote no profile file prpo-ort-profile-${process.pid}_*.json in ${tmpdir()}`);
  const path = join(tmpdir(), name);
  const events = JSON.parse(readFileSync(path, 'utf8')) as { cat: string; name: string; dur: number; args?: { op_name?: string } }[];
  rmSync(path, { force: true });
  const byOp: Record<string, number> = {};
  for (const e of events) if (e.cat === 'Node' && e.name.endsWith('_kernel_time')) byOp[e.args?.op_name ?? '?'] = (byOp[e.args?.op_name ?? '?'] ?? 0) + e.dur;
  return byOp;
}

function share(byOp: Record<string, number>) {
  const total = Object.values(byOp).reduce((a, b) => a + b, 0);
  return Object.fromEntries(Object.entries(byOp).sort((a, b) => b[1] - a[1]).slice(0, 10).map(([k, v]) => [k, Math.round((1000 * v) / total) / 1000]));
}

async function main() {
  console.log(`engine step profile — ${which} model, batch ${B}, 2 threads, ${RUNS} runs (load on a shared machine inflates the times, less the shares)`);
  const ours = share(await ortProfile());
  console.log('onnxruntime, policy graph (fwd+bwd), share of kernel time by op type:');
  for (const [op, x] of Object.entries(ours)) console.log(`  ${op.padEnd(22)} ${(100 * x).toFixed(1)} %`);
  const py = join(import.meta.dirname, '..', '.toolchain', 'python', 'bin', 'python');
  let theirs: Record<string, number> | null = null;
  if (existsSync(py)) {
    const code = `
import json, sys, torch
sys.path.insert(0, ${JSON.stringify(import.meta.dirname)})
from engine_torch import build
torch.set_num_threads(2)
c = json.loads(sys.argv[1])
fns = build(c, ${B}, ${Tt})
fns["step"]()
from torch.profiler import profile, ProfilerActivity
with profile(activities=[ProfilerActivity.CPU]) as prof:
    for _ in range(${RUNS}): fns["step"]()
ev = [e for e in prof.key_averages() if e.key.startswith("aten::")]
tot = sum(e.self_cpu_time_total for e in ev)
print(json.dumps({e.key: round(e.self_cpu_time_total / tot, 3) for e in sorted(ev, key=lambda e: -e.self_cpu_time_total)[:10]}))`;
    const r = spawnSync(py, ['-c', code, JSON.stringify(c)], { encoding: 'utf8', env: { ...process.env, OMP_NUM_THREADS: '2' }, timeout: 600_000 });
    if (r.status === 0) theirs = JSON.parse(r.stdout.trim().split('\n').at(-1)!);
    else console.log(`torch profile failed: ${r.stderr.trim().split('\n').at(-1)}`);
  }
  if (theirs) {
    console.log('PyTorch eager step (fwd+bwd+clip+AdamW), share of self CPU time by aten op:');
    for (const [op, x] of Object.entries(theirs)) console.log(`  ${op.padEnd(28)} ${(100 * x).toFixed(1)} %`);
  }
  console.log(JSON.stringify({ bench: 'engine-profile', figures: { model: which, ortOpShare: ours, torchOpShare: theirs } }));
}

main().catch((e) => { console.error(e); process.exit(1); });

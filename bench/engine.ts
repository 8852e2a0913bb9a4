// Engine benchmark: `npm run bench:engine [-- --threads N --reps N --quick --ep cpu|webgpu|cuda --python PATH --no-torch]`.
// For the default model and two larger ones: forward (scoring), the training step (forward + backward of
// the §5 loss + gradient clipping + AdamW) and KV-cached sampling, in ms and tokens/s; achieved GFLOP/s
// against a big-MatMul ceiling measured in the same run; PyTorch eager CPU on the same model and shapes
// (bench/engine_torch.py) as a ratio: the current PyTorch of the project's environment (.toolchain/python, from
// PyPI), else Debian's python3-torch; `--python` picks another interpreter. `--ep` runs our side on another
// onnxruntime execution provider (npm run gpucheck). Ends with one JSON line {"bench": "engine", "figures": …}.
import { spawn, spawnSync } from 'node:child_process';
import { createInterface } from 'node:readline';
import { existsSync } from 'node:fs';
import { availableParallelism, cpus } from 'node:os';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { createEngine, paramCount } from '../src/backend/engine/index';
import { buildDecodeGraph, buildPolicyGraph, imageTokens, initWeights, modelConfig, paramShapes, POLICY_SCALARS, seqLen, type ModelConfig } from '../src/backend/engine/model';
import { sessionOptions } from '../src/backend/engine/session';
import type { SequenceInput } from '../src/backend/engine/types';
import type { ExecutionProvider } from '../src/core/protocol/backend';
import { mulberry32 } from '../src/core/random';

const arg = (name: string, dflt: number) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : dflt;
};
const threads = arg('threads', 2);
const reps = arg('reps', 7);
const quick = process.argv.includes('--quick');
const argStr = (name: string) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? process.argv[i + 1] : undefined;
};
const ep = (argStr('ep') ?? 'cpu') as ExecutionProvider;
if (!['cpu', 'cuda', 'webgpu'].includes(ep)) throw new Error(`--ep ${ep}: expected cpu, cuda or webgpu`);
const TOOLCHAIN_PYTHON = join(import.meta.dirname ?? 'bench', '..', '.toolchain', 'python', 'bin', 'python');
const PYTHON = argStr('python') ?? (existsSync(TOOLCHAIN_PYTHON) ? TOOLCHAIN_PYTHON : '/usr/bin/python3');

const base = modelConfig({ vocabSize: 80, imageSize: 32, patchSize: 8 }, { maxText: 48 });
const models: { name: string; config: ModelConfig }[] = [
  { name: 'default', config: base },
  { name: 'medium', config: { ...base, dModel: 192, nLayers: 4, nHeads: 6, dFF: 768 } },
  { name: 'large', config: { ...base, dModel: 384, nLayers: 6, nHeads: 6, dFF: 1536 } },
].slice(0, quick ? 1 : 3);
const BATCH = 32;


/** Best (least disturbed) of n timed calls after two warm-up calls. */
async function bestMs(fn: () => Promise<unknown>, n = reps): Promise<number> {
  await fn();
  await fn();
  const ts: number[] = [];
  for (let i = 0; i < n; i++) {
    const t = performance.now();
    await fn();
    ts.push(performance.now() - t);
  }
  return Math.min(...ts);
}

/** Forward FLOPs (multiply-add = 2) of B full sequences with Tt text tokens; the LM head runs on text only. */
function forwardFlops(c: ModelConfig, B: number, Tt: number) {
  const S = imageTokens(c) + Tt, d = c.dModel;
  const perLayer = 2 * S * d * 3 * d + 2 * S * d * d + 2 * 2 * S * d * c.dFF + 2 * 2 * S * S * d;
  return B * (2 * imageTokens(c) * c.channels * c.patchSize ** 2 * d + c.nLayers * perLayer + 2 * Tt * d * c.vocabSize);
}

async function matmulCeiling(): Promise<number> {
  const { Graph, matmul } = await import('../src/backend/engine/graph');
  const n = 1024;
  const g = new Graph('ceiling');
  g.output(matmul(g.input('a', [n, n]), g.input('b', [n, n])), 'c');
  const s = await ort.InferenceSession.create(g.toBytes(), sessionOptions('cpu', threads));
  const r = mulberry32(1);
  const a = new ort.Tensor('float32', Float32Array.from({ length: n * n }, r), [n, n]);
  const ms = await bestMs(() => s.run({ a, b: a }), 2 * reps);
  await s.release();
  return (2 * n ** 3) / ms / 1e6;
}

/** ms per decode step of the KV-cached graph at several positions (the cost should not grow). */
async function decodeCost(c: ModelConfig, B: number, positions: number[]) {
  const g = buildDecodeGraph(c, B);
  const s = await ort.InferenceSession.create(g.toBytes(), sessionOptions(ep, threads));
  const S = seqLen(c), dh = c.dModel / c.nHeads;
  const feeds: Record<string, ort.Tensor> = {};
  const w = initWeights(c, 1);
  for (const [n, shape] of paramShapes(c)) feeds[n] = new ort.Tensor('float32', w.get(n)!, shape);
  for (let l = 0; l < c.nLayers; l++) {
    feeds[`past.${l}.k`] = new ort.Tensor('float32', new Float32Array(B * c.nHeads * S * dh), [B, c.nHeads, S, dh]);
    feeds[`past.${l}.v`] = new ort.Tensor('float32', new Float32Array(B * c.nHeads * S * dh), [B, c.nHeads, S, dh]);
  }
  feeds.token = new ort.Tensor('int64', new BigInt64Array(B).fill(1n), [B, 1]);
  const out: number[] = [];
  for (const p of positions) {
    feeds.pos = new ort.Tensor('int64', new BigInt64Array(B).fill(BigInt(p)), [B, 1]);
    const bias = new Float32Array(B * S).fill(-1e9);
    for (let b = 0; b < B; b++) bias.fill(0, b * S, b * S + p + 1);
    feeds.keyBias = new ort.Tensor('float32', bias, [B, 1, 1, S]);
    const idx = new BigInt64Array(B * c.nHeads * 3);
    for (let b = 0; b < B; b++) for (let h = 0; h < c.nHeads; h++) idx.set([BigInt(b), BigInt(h), BigInt(p)], (b * c.nHeads + h) * 3);
    feeds.cacheIndex = new ort.Tensor('int64', idx, [B, c.nHeads, 3]);
    out.push(await bestMs(() => s.run(feeds), 3 * reps));
  }
  await s.release();
  return out;
}

/** Forward + backward alone: the policy graph's session run on synthetic feeds (no packing, no optimizer). */
async function fwdBwdSession(c: ModelConfig, B: number, Tt: number) {
  const g = buildPolicyGraph(c, B, Tt);
  const s = await ort.InferenceSession.create(g.toBytes(), sessionOptions(ep, threads));
  const r = mulberry32(3);
  const w = initWeights(c, 1);
  const feeds: Record<string, ort.Tensor> = {};
  for (const [n, shape] of paramShapes(c)) feeds[n] = new ort.Tensor('float32', w.get(n)!, shape);
  const scalars: Record<string, number> = { clipLow: 0.2, clipHigh: 0.28, dualClip: 3, sampledNllCoef: 0, entropyBonus: 0, klCoef: 0, invTokens: 1 / (B * Tt * 0.75) };
  for (const k of POLICY_SCALARS) feeds[k] = new ort.Tensor('float32', new Float32Array([scalars[k]]), []);
  for (const inp of g.inputs) {
    if (feeds[inp.name]) continue;
    const shape = inp.shape as number[], n = shape.reduce((a, b) => a * b, 1);
    feeds[inp.name] = inp.dtype === 'int64'
      ? new ort.Tensor('int64', BigInt64Array.from({ length: n }, () => BigInt(Math.floor(r() * c.vocabSize))), shape)
      : new ort.Tensor('float32', Float32Array.from({ length: n }, (_, i) => (inp.name === 'mask' ? (i % Tt >= Tt / 4 ? 1 : 0) : inp.name === 'blind' ? 0 : inp.name === 'oldLogp' ? -Math.log(c.vocabSize) : r() - 0.5)), shape);
  }
  return { run: () => s.run(feeds), release: () => s.release() };
}

interface Row {
  name: string; params: number; fwdMs: number; fbMs: number; stepMs: number; fwdGflops: number; fbGflops: number; sampleTokS: number; decodeMs: number[]; perToken: number[];
  torch?: { fwd: number; fb: number; step: number }; medians: Record<'fwd' | 'fb' | 'step' | 'tfwd' | 'tfb' | 'tstep', number>;
  cpu: Record<'fwd' | 'fb' | 'step' | 'tfwd' | 'tfb' | 'tstep', number>;
}

function torchAvailable(): string | null {
  if (process.argv.includes('--no-torch')) return '--no-torch';
  if (!existsSync(PYTHON) && PYTHON.includes('/')) return `${PYTHON} not found`;
  const r = spawnSync(PYTHON, ['-c', 'import torch'], { encoding: 'utf8' });
  return r.status === 0 ? null : `${PYTHON} cannot import torch`;
}

/** bench/engine_torch.py as a child answering timing requests, so its runs interleave with ours. */
function torchClient() {
  const child = spawn(PYTHON, [join(import.meta.dirname ?? 'bench', 'engine_torch.py')], {
    env: { ...process.env, OMP_NUM_THREADS: String(threads), OMP_WAIT_POLICY: process.env.OMP_WAIT_POLICY ?? 'PASSIVE' }, stdio: ['pipe', 'pipe', 'inherit'],
  });
  const lines = createInterface({ input: child.stdout! })[Symbol.asyncIterator]();
  return {
    async ask(req: object): Promise<any> {
      child.stdin!.write(JSON.stringify(req) + '\n');
      const { value, done } = await lines.next();
      if (done) throw new Error('engine_torch.py exited');
      return JSON.parse(value);
    },
    close() { child.stdin!.end(); },
  };
}

const best = (xs: number[]) => Math.min(...xs);
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
async function timeOnce(fn: () => Promise<unknown>) {
  const t = performance.now();
  await fn();
  return performance.now() - t;
}
/** Wall and CPU milliseconds (all threads of this process) of one call. */
async function timeWithCpu(fn: () => Promise<unknown>): Promise<[number, number]> {
  const c = process.cpuUsage();
  const t = performance.now();
  await fn();
  const wall = performance.now() - t;
  const u = process.cpuUsage(c);
  return [wall, (u.user + u.system) / 1000];
}

async function main() {
  const cpu = cpus()[0]?.model ?? 'unknown CPU';
  console.log(`engine benchmark — ${cpu}, ${availableParallelism()} cores visible, ${threads} threads, onnxruntime-node ${ort.env.versions.common}`);
  console.log(`Each figure is the best of ${reps} rounds; ours and PyTorch alternate within a round, so both see the same load.`);
  console.log('Note: on a shared machine other work inflates every figure.\n');
  // The ceiling is re-measured after each model and the best kept: on a shared machine one reading is
  // as disturbed as any other figure.
  const ceilings = [await matmulCeiling()];

  const why = torchAvailable();
  const torch = why ? null : torchClient();
  let torchVersion: string | null = null;
  if (why) console.log(`PyTorch column skipped: ${why}. Set it up with \`npm run toolchain\` (.toolchain/python), or pass --python PATH.`);
  else {
    torchVersion = (await torch!.ask({ threads })).torch;
    console.log(`PyTorch ${torchVersion} eager (${PYTHON}), same model, shapes, loss and ${threads} threads.`);
  }
  if (ep !== 'cpu') console.log(`Our side runs on the '${ep}' execution provider (the matmul ceiling stays the CPU's).`);

  const positions = [24, 40, 56, 63];
  const rows: Row[] = [];
  for (const { name, config: c } of models) {
    const r = mulberry32(2);
    const e = await createEngine(c, { seed: 1, threads, lr: 1e-4, ep, onLog: (m) => console.log(`  ${m}`) });
    const image = () => Float32Array.from({ length: c.channels * c.imageSize ** 2 }, r);
    const Tt = c.maxText;
    const seqs: SequenceInput[] = Array.from({ length: BATCH }, () => ({
      image: image(), prompt: Array.from({ length: Tt / 4 }, () => Math.floor(r() * c.vocabSize)), response: Array.from({ length: Tt - Tt / 4 }, () => Math.floor(r() * c.vocabSize)),
    }));
    const old = (await e.score(seqs)).logp;
    const adv = seqs.map((s) => Float32Array.from(s.response, () => r() * 2 - 1));
    const fwd = () => e.score(seqs);
    const step = () => e.policyStep({ sequences: seqs, advantages: adv, oldLogp: old }, { clipLow: 0.2, clipHigh: 0.28, dualClip: 3, sampledNllCoef: 0, entropyBonus: 0, klCoef: 0 });
    const fb = await fwdBwdSession(c, BATCH, Tt);
    await fwd(); await step(); await step(); await fb.run();
    if (torch) await torch.ask({ name, config: c, batch: BATCH, text: Tt });
    type K = 'fwd' | 'fb' | 'step' | 'tfwd' | 'tfb' | 'tstep';
    const t = Object.fromEntries(['fwd', 'fb', 'step', 'tfwd', 'tfb', 'tstep'].map((k) => [k, [] as number[]])) as Record<K, number[]>;
    const cpu = Object.fromEntries(['fwd', 'fb', 'step', 'tfwd', 'tfb', 'tstep'].map((k) => [k, [] as number[]])) as Record<K, number[]>;
    const ours = async (k: K, fn: () => Promise<unknown>) => { const [w, c] = await timeWithCpu(fn); t[k].push(w); cpu[k].push(c); };
    const theirs = async (k: K, what: string) => {
      if (!torch) return;
      const res = await torch.ask({ name, what });
      t[k].push(...res.ms);
      cpu[k].push(...res.cpu);
    };
    for (let i = 0; i < reps; i++) {
      await ours('fwd', fwd); await theirs('tfwd', 'fwd');
      await ours('fb', fb.run); await theirs('tfb', 'fwdbwd');
      await ours('step', step); await theirs('tstep', 'step');
    }
    await fb.release();
    const newTokens = 36;
    const sampleRuns: number[] = [];
    for (let i = 0; i < Math.min(reps, 3); i++) {
      sampleRuns.push(await timeOnce(() => e.sample({ images: seqs.map((s) => s.image), prompts: seqs.map((s) => s.prompt), maxNewTokens: newTokens, temperature: 1, topP: 1, stopToken: -1, random: r })));
    }
    const sampleMs = best(sampleRuns);
    // End to end (prefill + decode + drawing in TS), per new token: from a 1-token prompt, the time to
    // generate n tokens; the slope between lengths is the per-token cost at that length.
    const genMs = async (n: number) => {
      const xs: number[] = [];
      for (let i = 0; i < 5; i++) xs.push(await timeOnce(() => e.sample({ images: seqs.map((s) => s.image), prompts: seqs.map(() => [1]), maxNewTokens: n, temperature: 1, topP: 1, stopToken: -1, random: r })));
      return best(xs);
    };
    const lengths = [1, 12, 24, 36, 47];
    const gen: number[] = [];
    for (const n of lengths) gen.push(await genMs(n));
    const perToken = lengths.slice(1).map((n, i) => (gen[i + 1] - gen[i]) / (n - lengths[i]));
    await e.dispose();
    const decodeMs = await decodeCost(c, BATCH, positions);
    const flops = forwardFlops(c, BATCH, Tt);
    const fwdMs = best(t.fwd), fbMs = best(t.fb), stepMs = best(t.step);
    rows.push({
      name, params: paramCount(c), fwdMs, fbMs, stepMs, decodeMs,
      fwdGflops: flops / fwdMs / 1e6, fbGflops: (3 * flops) / fbMs / 1e6,
      sampleTokS: (BATCH * newTokens) / (sampleMs / 1000), perToken,
      ...(torch ? { torch: { fwd: best(t.tfwd), fb: best(t.tfb), step: best(t.tstep) } } : {}),
      medians: { fwd: median(t.fwd), fb: median(t.fb), step: median(t.step), tfwd: torch ? median(t.tfwd) : NaN, tfb: torch ? median(t.tfb) : NaN, tstep: torch ? median(t.tstep) : NaN },
      cpu: Object.fromEntries(Object.entries(cpu).map(([k, v]) => [k, v.length ? best(v) : NaN])) as Record<K, number>,
    });
    ceilings.push(await matmulCeiling());
    const last = rows[rows.length - 1].medians;
    process.stdout.write(`  measured ${name}: train step median ${last.step.toFixed(1)} ms${torch ? `, PyTorch ${last.tstep.toFixed(1)} ms (${(last.tstep / last.step).toFixed(2)}×)` : ''}\n`);
  }
  torch?.close();

  const tokens = BATCH * (imageTokens(base) + base.maxText);
  console.log(`\nBatch ${BATCH} sequences × ${imageTokens(base)} image + ${base.maxText} text tokens (${tokens} tokens); fwd = scoring (log-probs + entropy); fwd+bwd = the policy graph alone; train step = policyStep: packing, forward + backward of the §5 loss, clip, AdamW; sampling: ${BATCH} sequences × 36 new tokens.`);
  const f = (x: number, d = 1) => x.toFixed(d);
  const x = (a: number | undefined, b: number) => (a === undefined ? '—' : f(a / b, 2) + '×');
  console.log('| model | params | fwd ms | fwd+bwd ms | train step ms | train tok/s | fwd GFLOP/s | fwd+bwd GFLOP/s | torch fwd / fwd+bwd / step ms | speed-up fwd | speed-up fwd+bwd | speed-up step | sample tok/s |');
  console.log('|---|---|---|---|---|---|---|---|---|---|---|---|---|');
  for (const r of rows) {
    const t = r.torch;
    console.log(`| ${r.name} | ${f(r.params / 1e6, 2)}M | ${f(r.fwdMs)} | ${f(r.fbMs)} | ${f(r.stepMs)} | ${f(tokens / r.stepMs * 1000, 0)} | ${f(r.fwdGflops)} | ${f(r.fbGflops)} | ${t ? `${f(t.fwd)} / ${f(t.fb)} / ${f(t.step)}` : '—'} | ${x(t?.fwd, r.fwdMs)} | ${x(t?.fb, r.fbMs)} | ${x(t?.step, r.stepMs)} | ${f(r.sampleTokS, 0)} |`);
  }
  console.log('\nMedian wall ms over the same rounds, and best CPU ms (all threads; steadier on a shared machine), ours / torch:');
  for (const r of rows) {
    const m = r.medians, c = r.cpu;
    console.log(`  ${r.name}: median fwd ${f(m.fwd)} / ${f(m.tfwd)}, fwd+bwd ${f(m.fb)} / ${f(m.tfb)}, step ${f(m.step)} / ${f(m.tstep)};` +
      ` CPU fwd ${f(c.fwd)} / ${f(c.tfwd)} (${x(c.tfwd, c.fwd)}), fwd+bwd ${f(c.fb)} / ${f(c.tfb)} (${x(c.tfb, c.fb)}), step ${f(c.step)} / ${f(c.tstep)} (${x(c.tstep, c.step)})`);
  }
  console.log(`\nKV-cached decode, ms per step for ${BATCH} sequences at cache position (the cache is a fixed buffer, so the cost is flat):`);
  console.log(`| model | ${positions.map((p) => `pos ${p}`).join(' | ')} |`);
  console.log(`|---|${positions.map(() => '---').join('|')}|`);
  for (const r of rows) console.log(`| ${r.name} | ${r.decodeMs.map((m) => f(m, 2)).join(' | ')} |`);
  console.log(`\nSampling end to end (engine.sample, ${BATCH} sequences, 1-token prompt), ms per decode step between lengths:`);
  console.log('| model | 1→12 | 12→24 | 24→36 | 36→47 |');
  console.log('|---|---|---|---|---|');
  for (const r of rows) console.log(`| ${r.name} | ${r.perToken.map((m) => f(m, 2)).join(' | ')} |`);
  const ceiling = Math.max(...ceilings);
  console.log(`\nGFLOP/s counts matmul FLOPs only (backward ≈ 2× forward). MatMul ceiling (1024³ float32 through onnxruntime, best of ${ceilings.length} readings): ${f(ceiling)} GFLOP/s;`);
  console.log('achieved / ceiling: ' + rows.map((r) => `${r.name} fwd ${f((100 * r.fwdGflops) / ceiling, 0)}%, fwd+bwd ${f((100 * r.fbGflops) / ceiling, 0)}%`).join('; '));

  // Goals beside the figures (issue #13): step ≥ 2× PyTorch eager; ≥ 50 % of the matmul ceiling.
  const speedups = Object.fromEntries(rows.map((r) => [r.name, torch ? round(r.medians.tstep / r.medians.step, 2) : null]));
  const shares = Object.fromEntries(rows.map((r) => [r.name, round(r.fbGflops / ceiling, 3)]));
  console.log(`\nGoals: train step ≥ 2× PyTorch eager — median speed-up ${rows.map((r) => `${r.name} ${speedups[r.name] ?? '—'}×`).join(', ')};` +
    ` ≥ 50 % of the matmul ceiling in the step's matmuls — fwd+bwd matmul FLOPs / wall time / ceiling ${rows.map((r) => `${r.name} ${f(100 * shares[r.name], 0)}%`).join(', ')}` +
    ' (a lower bound: the wall time includes the non-matmul ops).');
  console.log(JSON.stringify({
    bench: 'engine',
    figures: {
      torchVersion, ep, threads, rounds: reps,
      trainStepSpeedupVsTorch: speedups,
      matmulCeilingShare: shares,
      matmulCeilingGflops: round(ceiling, 1),
      trainStepMs: Object.fromEntries(rows.map((r) => [r.name, round(r.medians.step, 1)])),
      torchTrainStepMs: Object.fromEntries(rows.map((r) => [r.name, torch ? round(r.medians.tstep, 1) : null])),
      samplePerTokenMs: Object.fromEntries(rows.map((r) => [r.name, r.perToken.map((m) => round(m, 2))])),
    },
  }));
}

function round(x: number, digits: number) {
  const k = 10 ** digits;
  return Math.round(x * k) / k;
}

main().catch((e) => { console.error(e); process.exit(1); });

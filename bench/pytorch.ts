// PyTorch backend benchmark: `npm run bench:pytorch [-- --python PATH --gpu]`.
// Runs `python -m prpo_studio.gpucheck` — one PRPO-R step end to end with the tiny random-init Qwen2-VL
// (`--cpu-smoke`, on the CPU; `--gpu` adds the real-size 2B-architecture model on a GPU) — and prints the
// step's split (sample / probes / update) beside the probes' goal (≤ 25 % of the step). The package is the
// repository's python/src (as the extension starts it); the interpreter is .toolchain/python by default.
// Ends with one JSON line {"bench": "pytorch", "figures": …}.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';

const ROOT = join(import.meta.dirname, '..');
const argStr = (name: string) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? process.argv[i + 1] : undefined;
};
const gpu = process.argv.includes('--gpu');
const python = argStr('python') ?? join(ROOT, '.toolchain', 'python', 'bin', 'python');
if (!existsSync(python) && python.includes('/')) {
  console.error(`bench:pytorch: ${python} not found — set up the environment with \`npm run toolchain\`, or pass --python PATH`);
  process.exit(2);
}

interface Split { timeSampleMs: number; timeProbeMs: number; timeUpdateMs: number; timeStepMs: number; probeShare: number | null; tokensPerSecond: number; wallS: number; peakGpuMemoryMb?: number | null; model?: unknown }

// The check's model, data and run folders go to a scratch folder removed afterwards.
const work = mkdtempSync(join(tmpdir(), 'prpo-bench-pytorch-'));
process.on('exit', () => rmSync(work, { recursive: true, force: true }));
const args = ['-m', 'prpo_studio.gpucheck', ...(gpu ? [] : ['--cpu-smoke']), '--out', work];
console.log(`pytorch backend benchmark — ${python} ${args.join(' ')}`);
console.log('Note: on a shared machine other work inflates every figure.\n');
const pkg = join(ROOT, 'python', 'src');
const r = spawnSync(python, args, {
  cwd: ROOT, encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'], timeout: 20 * 60_000,
  env: { ...process.env, PYTHONPATH: process.env.PYTHONPATH ? `${pkg}${delimiter}${process.env.PYTHONPATH}` : pkg },
});
if (r.status !== 0) {
  console.error(`bench:pytorch: gpucheck exited with ${r.status ?? r.signal}`);
  process.exit(r.status || 1);
}
const last = r.stdout.trim().split('\n').at(-1) ?? '';
let result: { device: string; torch: string; tiny: Split; real?: Split; totalS: number };
try {
  result = JSON.parse(last);
} catch {
  throw new Error(`bench:pytorch: gpucheck's last line is not JSON: ${last.slice(0, 200)}`);
}

const f = (x: number | null | undefined, d = 1) => (x === null || x === undefined ? '—' : x.toFixed(d));
console.log(`PyTorch ${result.torch} on ${result.device}; one PRPO-R step (no re-sampling), ms:`);
console.log('| model | sample | probes | update | step | probe share (goal ≤ 25 %) | sampled tok/s | peak GPU MB |');
console.log('|---|---|---|---|---|---|---|---|');
const rows = Object.entries({ tiny: result.tiny, real: result.real }).filter((e): e is [string, Split] => !!e[1]);
for (const [name, s] of rows) {
  console.log(`| ${name} | ${f(s.timeSampleMs)} | ${f(s.timeProbeMs)} | ${f(s.timeUpdateMs)} | ${f(s.timeStepMs)} | ${s.probeShare === null ? '—' : f(100 * s.probeShare, 0) + ' %'} | ${f(s.tokensPerSecond, 0)} | ${f(s.peakGpuMemoryMb ?? null, 0)} |`);
}
console.log(JSON.stringify({
  bench: 'pytorch',
  figures: {
    torchVersion: result.torch, device: result.device,
    ...Object.fromEntries(rows.map(([name, s]) => [name, {
      sampleMs: s.timeSampleMs, probeMs: s.timeProbeMs, updateMs: s.timeUpdateMs, stepMs: s.timeStepMs,
      probeShare: s.probeShare, tokensPerSecond: s.tokensPerSecond, peakGpuMemoryMb: s.peakGpuMemoryMb ?? null,
    }])),
  },
}));

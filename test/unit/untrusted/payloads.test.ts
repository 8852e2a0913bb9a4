/**
 * Untrusted text in rollouts (issue #14): what the extension sends the webview for a step whose token or
 * prompt is a megabyte, or holds markup, script, bidi and control characters and template syntax.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MAX_TEXT_CHARS, MAX_TOKEN_CHARS, clipText, packRollouts } from '../../../src/core/view/pack';
import { RunWriter, readRolloutStep } from '../../../src/core/run';
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

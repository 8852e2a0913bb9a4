// The pure logic behind the editor's rollout hovers: the JSON locator and the token card (no vscode).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { locateJsonValue, tokenIndexOf } from '../../../src/extension/hovers/jsonLocator';
import { rolloutMarkdown, tokenMarkdown } from '../../../src/extension/hovers/tokenCard';
import { TOKEN_FIELD_DEFS, fieldArray, fieldName, type TokenFieldDef } from '../../../src/core/run/tokenFields';
import type { RolloutRecord } from '../../../src/core/run/schema';

const full = (): RolloutRecord => ({
  id: 'r0', step: 1, group: 'g', prompt: 'p', response: 'a b', reward: 1, correct: true, advantage: 0.5, alpha: 1.2,
  tokens: ['a', ' b'], tokenIds: [3, 4], logp: { image: [-0.1, -0.2], blind: [-1, -2], perturbed: [-0.5, -0.6], mild: [-0.1, -0.3] },
  scores: { S: [0.1, 0.9], G: [0.2, 0.3], U: [0.01, 0.02], rvd: [0.4, 0.5] }, weights: [1, 1.5], mask: [0, 1],
  tokenAdvantages: [0, 0.9], perceptual: [0, 1], topAlternatives: [[['a', -0.1]], [[' b', -0.2], [' c', -2]]],
});

test('the JSON locator maps an offset inside a per-token array to its token index', () => {
  const line = JSON.stringify({ id: 'r', tokens: ['a', ' b', ' c'], logp: { image: [-1, -2, -3], blind: [-1.5, -2.5, -3.5] }, scores: { G: [0, 1, 2] } });
  const at = (needle: string, skip = 0) => line.indexOf(needle) + skip;
  assert.equal(tokenIndexOf(locateJsonValue(line, at('" b"', 1))!.path), 1);
  assert.equal(tokenIndexOf(locateJsonValue(line, at('-3.5'))!.path), 2);
  assert.equal(tokenIndexOf(locateJsonValue(line, at('[0,1,2]', 3))!.path), 1);
  assert.equal(tokenIndexOf(locateJsonValue(line, at('"r"'))!.path), undefined);
  assert.deepEqual(locateJsonValue(line, at('"tokens"', 2))!.path, ['tokens']);
  // A torn line still locates what precedes the tear.
  assert.equal(tokenIndexOf(locateJsonValue(line.slice(0, at('-2.5')), at('-1.5'))!.path), 0);
});

test('every per-token field of the catalogue is located to its token; other keys are not', () => {
  const r = full();
  const line = JSON.stringify(r);
  for (const def of TOKEN_FIELD_DEFS as readonly TokenFieldDef[]) {
    const path = [...def.path, 1];
    assert.equal(tokenIndexOf(path), 1, path.join('.'));
  }
  for (const key of ['tokens', 'tokenIds', 'topAlternatives']) assert.equal(tokenIndexOf([key, 1]), 1, key);
  for (const path of [['reward'], ['extra', 'x', 1], ['synthetic', 0], ['logp', 'image']]) assert.equal(tokenIndexOf(path), undefined, path.join('.'));
  // The second weight, found by offset in the serialised line.
  const w = line.indexOf('1.5', line.indexOf('"weights"'));
  assert.deepEqual(locateJsonValue(line, w)!.path, ['weights', 1]);
});

test('a token card names every recorded §7 field', () => {
  const card = tokenMarkdown(full(), 1, 'vppo');
  for (const s of ['Token 2 of 2', '·b', 'id 4', 'perceptual', 'αᵢ 1.200 × Aᵢ +0.500 × mₜ 1', 'log p (image)', 'log p (blind)', 'log p (perturbed)', 'log p (mild)', 'S — visual dependency', 'rank 1 of 2', 'G — grounding', 'U — instability', 'RVD', 'mₜ — VPPO mask | 1 (trained)', 'Ãᵢₜ — token advantage, the factor of the ratio in the loss | **+0.9000**', 'Aᵢ — outcome advantage', 'αᵢ — VPPO trajectory weight | 1.2000', 'Top alternatives']) {
    assert.ok(card.includes(s), `card has ${JSON.stringify(s)}:\n${card}`);
  }
});

test('the card has one row per catalogued field the rollout recorded, named for the algorithm', () => {
  for (const algorithm of ['pgpo', 'prpo', 'grpo'] as const) {
    const card = tokenMarkdown(full(), 0, algorithm);
    for (const def of TOKEN_FIELD_DEFS as readonly TokenFieldDef[]) {
      const { symbol, label } = fieldName(def, algorithm);
      assert.ok(card.includes(`| ${symbol} — ${label} |`), `${algorithm}: ${def.column}:\n${card}`);
    }
  }
  assert.match(tokenMarkdown(full(), 0, 'pgpo'), /\| ω̃ₜ — PGPO weight \| 1\.0000 \|/);
  assert.match(tokenMarkdown({ ...full(), mask: undefined }, 1, 'prpo'), /Ãᵢₜ = \*\*\+0\.900\*\* = Aᵢ \+0\.500 × wₜ 1\.500/);
  // Fields the rollout did not record have no row (and a missing log-prob is "—", not "NaN").
  const bare: RolloutRecord = { ...full(), scores: undefined, weights: undefined, mask: undefined, perceptual: undefined, logp: { image: [NaN, -1] } };
  const card = tokenMarkdown(bare, 0, 'grpo');
  for (const def of TOKEN_FIELD_DEFS as readonly TokenFieldDef[]) {
    assert.equal(card.includes(`| ${def.symbol} — ${def.label} |`), fieldArray(bare, def) !== undefined, def.column);
  }
  assert.match(card, /\| log p \(image\) — image view, the old log-prob \| — \|/);
  assert.doesNotMatch(card, /NaN/);
});

test('untrusted text is escaped in the rollout card', () => {
  const r = { ...full(), prompt: '**bold** [link](http://x) <img src=x>', synthetic: ['tokens_'] };
  const card = rolloutMarkdown(r);
  assert.ok(card.includes('\\*\\*bold\\*\\* \\[link\\]\\(http\\://x\\) \\<img src=x\\>'), card);
  assert.ok(!tokenMarkdown(r, 0).includes('tokens_'), 'the synthetic list is escaped too');
});

// Untrusted text (model output, run names, cluster messages) in every view of the editor: made visible by one
// core function (visibleText) and escaped by one Markdown escaper (format.escapeMarkdown) wherever it enters a
// Markdown string — the hovers, the lens, the *as Tokens* document, the explorer's labels and tooltips, the
// status bar's command-trusted tooltip. These tests put hostile text in every such field.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { escapeLabel, escapeMarkdown, escapeNotice } from '../../../src/core/format';
import { displayString } from '../../../src/core/visibleText';
import { lensTitle, rolloutHeader, rolloutMarkdown, tokenMarkdown, visibleToken } from '../../../src/extension/hovers/tokenCard';
import { renderRollouts } from '../../../src/extension/hovers/rolloutText';
import { assertInert } from './inert';
import { clusterJobTooltipMarkdown, issueText, runDescription, runLabel, runTooltipMarkdown } from '../../../src/extension/explorer/runText';
import { statusText, statusTooltipMarkdown, type StatusFacts } from '../../../src/extension/statusText';
import type { RolloutRecord, RunManifest } from '../../../src/core/run/schema';
import type { RunEntry } from '../../../src/extension/runs/runStore';

// Each character that could hide or reorder text, and how it must show.
const INVISIBLE: Array<[string, string, string]> = [
  ['right-to-left override', '\u202E', '⟨U+202E⟩'],
  ['pop directional formatting', '\u202C', '⟨U+202C⟩'],
  ['left-to-right embedding', '\u202A', '⟨U+202A⟩'],
  ['right-to-left isolate', '\u2067', '⟨U+2067⟩'],
  ['first strong isolate', '\u2068', '⟨U+2068⟩'],
  ['pop directional isolate', '\u2069', '⟨U+2069⟩'],
  ['left-to-right mark', '\u200E', '⟨U+200E⟩'],
  ['arabic letter mark', '\u061C', '⟨U+061C⟩'],
  ['NUL', '\u0000', '⟨U+0000⟩'],
  ['BEL', '\u0007', '⟨U+0007⟩'],
  ['ESC', '\u001b', '⟨U+001B⟩'],
  ['carriage return', '\r', '⟨U+000D⟩'],
  ['DEL', '\u007f', '⟨U+007F⟩'],
  ['C1 next line', '\u0085', '⟨U+0085⟩'],
  ['C1 CSI', '\u009b', '⟨U+009B⟩'],
  ['zero-width space', '\u200B', '⟨U+200B⟩'],
  ['zero-width joiner', '\u200D', '⟨U+200D⟩'],
  ['word joiner', '\u2060', '⟨U+2060⟩'],
  ['byte order mark', '\uFEFF', '⟨U+FEFF⟩'],
  ['soft hyphen', '\u00AD', '⟨U+00AD⟩'],
  ['combining grapheme joiner', '\u034F', '⟨U+034F⟩'],
  ['hangul filler', '\u3164', '⟨U+3164⟩'],
  ['variation selector 16', '\uFE0F', '⟨U+FE0F⟩'],
  ['line separator', '\u2028', '⟨U+2028⟩'],
  ['tag latin capital A', '\u{E0041}', '⟨U+E0041⟩'],
  ['lone high surrogate', '\uD800', '⟨U+D800⟩'],
  ['lone low surrogate', '\uDC00', '⟨U+DC00⟩'],
];

test('every hiding or reordering character shows as ⟨U+…⟩; ordinary text, emoji and other scripts stay as they are', () => {
  for (const [what, ch, shown] of INVISIBLE) assert.equal(displayString(`a${ch}b`), `a${shown}b`, what);
  for (const s of ['hello', 'x < y & z', '😀 👍🏽', 'مرحبا', 'שלום', '中文', 'tab\there']) assert.equal(displayString(s), s);
  assert.equal(displayString('two\nlines'), 'two↵ lines');
});

const SPOOF = '\u202Eevil\u202C reversed';

const record = (over: Partial<RolloutRecord> = {}): RolloutRecord => ({
  id: 'r0', step: 1, group: 'g', prompt: 'p', response: 'a b', reward: 1, correct: true, advantage: 0.5,
  tokens: ['a', ' b'], logp: { image: [-0.1, -0.2] }, tokenAdvantages: [0.5, 0.5], ...over,
});

test('the editor hover, the lens and the as-Tokens document show a spoofing token as the trajectory view does', () => {
  for (const [what, ch, shown] of INVISIBLE) {
    const r = record({ id: `id${ch}`, group: `g${ch}`, prompt: `p${ch}`, answer: `a${ch}`, tokens: [`t${ch}`, ' b'] });
    for (const [where, text] of [
      ['token card', tokenMarkdown(r, 0)],
      ['rollout card', rolloutMarkdown(r)],
      ['lens', lensTitle(r)],
      ['as Tokens', renderRollouts(`/runs/x/rollouts/step-000001${ch}.jsonl`, [r], [`bad${ch}`]).text],
    ] as const) {
      assert.ok(!text.includes(ch), `${what} reaches the ${where} raw`);
      assert.ok(text.includes(shown), `${what} is not shown as ${shown} in the ${where}`);
    }
  }
  assert.equal(visibleToken(SPOOF), '⟨U+202E⟩evil⟨U+202C⟩·reversed');
  assert.match(rolloutHeader(record({ id: SPOOF })), /`⟨U\+202E⟩evil⟨U\+202C⟩ reversed`/);
});

// Markdown that would do something if it were not escaped: a command link with arguments, an image, HTML, an
// autolink, a bare link, a theme icon, an entity, a table break, emphasis and a heading on a new line.
const PAYLOADS = [
  '[click](command:prpoStudio.stopRun?%5B%22%2Fx%22%5D)',
  '![img](https://evil.example/x.png)',
  '<img src=x onerror=alert(1)>',
  '<a href="command:workbench.action.terminal.new">x</a>',
  '<command:prpoStudio.stopRun>',
  'https://evil.example/path',
  'www.evil.example',
  '$(alert) $(sync~spin)',
  '&lt;b&gt; &#x5B;x&#x5D;',
  'a | b',
  '**bold** _it_ `code`',
  'x\n# heading\n[r]: command:foo',
];

function entry(name: string, text: string, over: Partial<RunManifest> = {}): RunEntry {
  const manifest: RunManifest = {
    schema: 'prpo-studio/run@1' as RunManifest['schema'], id: 'run-1', name, created: text, source: text as RunManifest['source'], algorithm: 'prpo',
    config: {}, model: { name: text, config: {} }, task: { name: text, config: {} }, seed: 0, steps: 400, ...over,
  };
  return {
    info: {
      dir: `/runs/${text}`, id: 'run-1', name, manifest, status: 'failed', checkpoints: [], rolloutSteps: [],
      events: [{ type: 'failed', time: '2026-01-01T00:00:00Z', step: 3, reason: text } as never],
      issues: [{ file: `/runs/${text}/metrics.jsonl`, line: 2, reason: text }],
    },
    handle: undefined as never, imported: false, status: 'failed', live: undefined, lastMetrics: { step: 3, reward: 0.5 },
  };
}

test('run text in the explorer tooltip, a cluster job tooltip and the status bar tooltip is escaped in every field', () => {
  for (const p of PAYLOADS) {
    const tip = runTooltipMarkdown(entry(p, p));
    for (const field of ['name', 'source, created, model, task, folder, failure, issue']) assertInert(tip, p, `run tooltip ${field}`);
    assertInert(clusterJobTooltipMarkdown(p, { id: p, cluster: p, address: p, status: 'FAILED', message: p }), p, 'cluster job tooltip');
    const facts: StatusFacts = { name: p, algorithm: 'PRPO-R', phase: 'running', step: 3, steps: 400, ep: p, runDir: '/runs/a', others: 0 };
    const md = statusTooltipMarkdown(facts);
    assertInert(md, p, 'status bar tooltip');
    // The trusted tooltip keeps exactly its own four command links.
    assert.equal(md.match(/\]\(command:/g)?.length, 4, `status bar tooltip with ${JSON.stringify(p)}`);
    assert.doesNotMatch(md, /(?<!\\)\$\(alert\)/);
  }
});

test('the escapers: Markdown metacharacters behind a backslash, labels keep $( as typed, notifications lose their links', () => {
  assert.equal(escapeMarkdown('[x](command:a)'), '\\[x\\]\\(command\\:a\\)');
  assert.equal(escapeMarkdown('$(zap) <b>&amp;'), '\\$\\(zap\\) \\<b\\>\\&amp;');
  assert.equal(escapeMarkdown('a\u202Eb'), 'a⟨U\\+202E⟩b');
  assert.equal(escapeLabel('$(zap) x\u200By'), '\\$(zap) x⟨U+200B⟩y');
  assert.equal(escapeNotice('see [here](command:workbench.action.reloadWindow)'), 'see [here] (command:workbench.action.reloadWindow)');
  assert.match(lensTitle(record({ id: '$(alert)', group: '$(zap)' })), /^\\\$\(alert\) · group \\\$\(zap\) ·/);
  const spoofed = entry(SPOOF, 'x');
  assert.equal(runLabel(spoofed), '⟨U+202E⟩evil⟨U+202C⟩ reversed');
  assert.equal(issueText('/runs/x', { file: '/runs/x/metrics.jsonl', line: 2, reason: 'bad\u001b[31m' }), 'metrics.jsonl:2: bad⟨U+001B⟩[31m');
  assert.ok(!runDescription(entry('n', 'imported\u202E')).includes('\u202E'));
});

test('the status bar says how long the run will still take, from the measured step time', () => {
  const facts: StatusFacts = { name: 'n', algorithm: 'PRPO-R', phase: 'running', step: 100, steps: 400, reward: 0.41, ep: 'cpu', runDir: '/r', others: 0, remainingSeconds: 360, secondsPerStep: 1.2 };
  assert.equal(statusText(facts), '$(sync~spin) PRPO-R running · step 100/400 · R 0.41 · ~6 min left');
  assert.match(statusTooltipMarkdown(facts), /~6 min to step 400 at 1\.2 s a step/);
  assert.equal(statusText({ ...facts, phase: 'paused' }), '$(debug-pause) PRPO-R paused · step 100/400 · R 0.41');
  assert.equal(statusText({ ...facts, remainingSeconds: undefined }), '$(sync~spin) PRPO-R running · step 100/400 · R 0.41');
});

test('the run description puts the step and reward first: the side bar shows about 30 characters of it', () => {
  const e = { ...entry('PRPO-R · seed 0', 'x'), status: 'running' as const };
  const d = runDescription(e);
  assert.match(d.slice(0, 30), /^step 3\/400 · R 0\.50/);
  assert.match(d, /running · PRPO-R$/);
});

test('"Resume from Checkpoint…" is offered on a finished run with a complete checkpoint, not on one without', async () => {
  const { runContextValue } = await import('../../../src/extension/explorer/runText');
  const { readFileSync } = await import('node:fs');
  const pkg = JSON.parse(readFileSync('package.json', 'utf8'));
  const whens: string[] = pkg.contributes.menus['view/item/context']
    .filter((m: { command: string }) => m.command === 'prpoStudio.resumeFromCheckpoint' || m.command === 'prpoStudio.resumeClusterRun')
    .map((m: { when: string }) => m.when);
  // The `viewItem =~ /…/` and `viewItem == …` clauses, evaluated against a context value.
  const offered = (value: string) =>
    whens.some((w) => {
      const re = /viewItem =~ \/(.+?)\/(?: |$)/.exec(w);
      if (re) return new RegExp(re[1]).test(value);
      const eq = /viewItem == (\S+)/.exec(w);
      return eq?.[1] === value;
    });
  for (const status of ['stopped', 'completed', 'failed', 'interrupted'] as const) {
    const withCk = { ...entry('n', 'x'), status, info: { ...entry('n', 'x').info, checkpoints: [{ step: 2, path: '/c', complete: true }] } } as RunEntry;
    const without = { ...entry('n', 'x'), status, info: { ...entry('n', 'x').info, checkpoints: [{ step: 2, path: '/c', complete: false }] } } as RunEntry;
    assert.ok(offered(runContextValue(withCk)), `${status} with a checkpoint: ${runContextValue(withCk)}`);
    assert.ok(!offered(runContextValue(without)), `${status} without one: ${runContextValue(without)}`);
  }
});

test('Open Metrics ticks the run on screen first, then the live one, then the newest', async () => {
  const { preferredRun } = await import('../../../src/extension/explorer/runText');
  const runs = [entry('new', 'a'), entry('old', 'b')];
  assert.equal(preferredRun(runs, '/runs/b', '/runs/a'), '/runs/b');
  assert.equal(preferredRun(runs, undefined, '/runs/b'), '/runs/b');
  assert.equal(preferredRun(runs, '/elsewhere', undefined), '/runs/a');
});

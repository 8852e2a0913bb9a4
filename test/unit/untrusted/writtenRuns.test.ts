/**
 * Hostile text in runs the PyTorch backend, a Ray job on a cluster and the verl plugin wrote (issue #14), read
 * by the extension's readers: every text the editor shows of them — the explorer's label, description and
 * tooltips, a cluster job's tooltip, the status bar's tooltip, the token and rollout hovers, the lens, the
 * *as Tokens* document, notifications — shows the payloads literally (escaped or made visible) and none can act.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { escapeLabel, escapeNotice } from '../../../src/core/format';
import { readMetrics, readRolloutStep, readRun } from '../../../src/core/run';
import { displayString } from '../../../src/core/visibleText';
import type { ClusterJobView } from '../../../src/extension/cluster/view';
import { clusterJobTooltipMarkdown, issueRows, runDescription, runLabel, runTooltipMarkdown } from '../../../src/extension/explorer/runText';
import { renderRollouts } from '../../../src/extension/hovers/rolloutText';
import { lensTitle, rolloutHeader, rolloutMarkdown, tokenMarkdown, visibleToken } from '../../../src/extension/hovers/tokenCard';
import type { RunEntry } from '../../../src/extension/runs/runStore';
import { statusText, statusTooltipMarkdown } from '../../../src/extension/statusText';
import { havePython } from '../../soak/pytorch';
import { assertInert, assertNoRawInvisible, hasUnescaped } from '../text/inert';
import { tempDir } from '../run/helpers';
import { PAYLOADS, RUN_NAME, TEXT, TOKENS, writeHostileRuns } from './hostileRuns';

/** Markdown with its code spans taken out: what is left must hold no markup, link or icon syntax raw. */
function outsideCode(md: string): string {
  return md.replace(/`[^`\n]*`/g, '');
}

const RAW_SYNTAX = ['<script', '<img', '<b>', '](', '$(alert)'];

function assertNoRawSyntax(text: string, where: string): void {
  for (const raw of RAW_SYNTAX) assert.ok(!hasUnescaped(text, raw), `${where}: ${raw} is left raw in ${JSON.stringify(text.slice(0, 400))}`);
}

test('hostile text in PyTorch-, cluster- and verl-written runs shows literally in every editor text', { skip: !havePython() && 'needs python/ and .toolchain/python' }, async (t) => {
  const runs = writeHostileRuns(tempDir(t));
  assert.deepEqual(Object.keys(runs).sort(), ['cluster', 'pytorch', 'verl']);
  const job: ClusterJobView = { id: `raysubmit_${TEXT}`, cluster: `gpu ${PAYLOADS[7]}`, address: 'http://127.0.0.1:8265', status: 'RUNNING', message: TEXT, runDir: runs.cluster };
  for (const [which, dir] of Object.entries(runs) as Array<[keyof typeof runs, string]>) {
    const info = await readRun(dir);
    const m = info.manifest!;
    // The readers keep every payload exactly as written and find nothing wrong with the files.
    assert.deepEqual(info.issues, [], which);
    assert.ok(info.name.endsWith(RUN_NAME), `${which}: ${info.name}`);
    assert.equal(m.model.config.backend, which === 'verl' ? undefined : 'pytorch');
    assert.equal(info.status, { pytorch: 'failed', cluster: 'running', verl: 'completed' }[which], `${which}: the cluster node's pid counts as alive`);
    const issues: unknown[] = [];
    const records = await readRolloutStep(dir, 1, (i) => issues.push(i));
    assert.deepEqual(issues, [], which);
    assert.ok(records.length > 0);
    for (const r of records) {
      assert.deepEqual(r.tokens, TOKENS, which);
      assert.equal(r.prompt, TEXT);
      assert.equal(r.answer, TEXT);
    }
    const metrics = await readMetrics(dir);
    const entry: RunEntry = { info, handle: undefined as never, imported: m.source !== 'prpo-studio', status: info.status, live: undefined, lastMetrics: metrics.at(-1) };
    const onCluster = which === 'cluster' ? job : undefined;

    // The explorer: label and description are plain text made visible; the tooltip is escaped Markdown.
    const label = runLabel(entry);
    assert.equal(label, displayString(info.name));
    assert.ok(label.includes('<script>document.title="pwned"</script>') && label.includes('⟨U+202E⟩evil⟨U+202C⟩'), label);
    assertNoRawInvisible(label, `${which} label`);
    assertNoRawInvisible(runDescription(entry, onCluster), `${which} description`);
    const tip = runTooltipMarkdown(entry, onCluster);
    const fields: Array<[string, string | undefined]> = [['name', info.name], ['model', m.model.name], ['task', m.task.name], ['source', m.source], ['folder', info.dir]];
    if (which === 'pytorch') fields.push(['failure reason', info.events.at(-1)?.reason]);
    if (onCluster) fields.push(['Ray job', `${job.id} on ${job.cluster}: ${job.status}`]);
    for (const [field, value] of fields) assertInert(tip, value!, `${which} run tooltip, ${field}`);
    assertNoRawInvisible(tip, `${which} run tooltip`);
    assertNoRawSyntax(tip, `${which} run tooltip`);
    if (which === 'pytorch') {
      // Every payload is in the failure reason, so every one is checked in its escaped form.
      for (const p of PAYLOADS) assertInert(tip, p, `pytorch run tooltip, ${JSON.stringify(p)}`);
    }

    // A problem naming a hostile file or reason (a damaged line of this run) is a made-visible row.
    const rows = issueRows(dir, [{ file: `${dir}/metrics.jsonl`, line: 2, reason: TEXT }]);
    assert.equal(rows[0].label, `metrics.jsonl:2: ${displayString(TEXT)}`);
    assertNoRawInvisible(rows[0].label + rows[0].tooltip, `${which} problem row`);

    // The status bar while it trains in this window: the name (and execution provider) escaped, only our links.
    const facts = { name: info.name, algorithm: 'PRPO-R', phase: 'running', step: 1, steps: 4, ep: TEXT, runDir: dir, others: 0 };
    const status = statusTooltipMarkdown(facts);
    assertInert(status, info.name, `${which} status bar tooltip`);
    for (const p of PAYLOADS) assertInert(status, p, `${which} status bar tooltip, execution provider`);
    assert.equal(status.match(/\]\(command:/g)?.length, 4, 'the status bar tooltip keeps exactly its own four command links');
    assertNoRawInvisible(status + statusText(facts), `${which} status bar`);

    // The hovers, the lens and the as-Tokens document of its rollouts.
    for (const r of records) {
      r.tokens.forEach((tok, k) => {
        const card = tokenMarkdown(r, k, m.algorithm);
        assert.ok(card.includes(`\`${visibleToken(tok)}\``), `${which} token card of ${JSON.stringify(tok)}:\n${card.slice(0, 300)}`);
        assertNoRawInvisible(card, `${which} token card ${k}`);
        assertNoRawSyntax(outsideCode(card), `${which} token card ${k}`);
      });
      // 'Ġ' and '▁' are the tokenizer's own characters: shown as they are.
      assert.ok(visibleToken(TOKENS[1]).startsWith('Ġ<script>') && visibleToken(TOKENS[2]).startsWith('▁<img'));
      // (Its header quotes the id and group in code spans, which show as typed.)
      const card = rolloutMarkdown(r);
      assertInert(outsideCode(card), r.prompt, `${which} rollout card, prompt`);
      assertInert(outsideCode(card), r.answer!, `${which} rollout card, answer`);
      assertNoRawInvisible(card, `${which} rollout card`);
      assertNoRawSyntax(outsideCode(card), `${which} rollout card`);
      assert.ok(rolloutHeader(r).includes(`\`${displayString(r.id)}\``));
      const lens = lensTitle(r);
      assert.ok(lens.startsWith(`${escapeLabel(r.id)} · group ${escapeLabel(r.group)} ·`), lens);
      assert.doesNotMatch(lens, /(?<!\\)\$\(/, `${which} lens: an icon would draw`);
      assertNoRawInvisible(lens, `${which} lens`);
    }
    const doc = renderRollouts(`${dir}/rollouts/step-000001.jsonl`, records, []).text;
    for (const tok of TOKENS) assert.ok(doc.includes(visibleToken(tok)), `${which} as-Tokens document shows ${JSON.stringify(tok)}`);
    assert.ok(doc.includes(`prompt: ${displayString(TEXT)}`));
    assertNoRawInvisible(doc, `${which} as-Tokens document`);

    // Notifications (backendManager, cluster commands) quote the name and the failure reason through escapeNotice.
    const notice = `PRPO Studio: run "${escapeNotice(info.name)}" failed at step 1: ${escapeNotice(TEXT)}`;
    assert.ok(!notice.includes(']('), `${which} notification: a link would run on click`);
    assert.ok(notice.includes('[x] (command:workbench.action.terminal.new)') && notice.includes('<script>document.title="pwned"</script>'), notice);
    assertNoRawInvisible(notice, `${which} notification`);
  }

  // A Ray job's own tooltip: its id, cluster and message escaped.
  const jobTip = clusterJobTooltipMarkdown(job.id, job);
  for (const value of [job.id, job.cluster, job.message!]) assertInert(jobTip, value, 'cluster job tooltip');
  for (const p of PAYLOADS) assertInert(jobTip, p, 'cluster job tooltip, message');
  assertNoRawInvisible(jobTip, 'cluster job tooltip');
  assertNoRawSyntax(jobTip, 'cluster job tooltip');
});

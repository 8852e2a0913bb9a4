/**
 * A run whose files have 100,000 bad lines (issue #14): the explorer lists the first MAX_ISSUE_ROWS problems
 * under the run and one "… and N more — open the log" row, not 100,000 tree items; the tooltips still name the
 * first problem as file:line: reason.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { appendFileSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { escapeMarkdown } from '../../../src/core/format';
import { RunWriter, readRun } from '../../../src/core/run';
import { MAX_ISSUE_ROWS, issueRows, runTooltipMarkdown } from '../../../src/extension/explorer/runText';
import type { RunEntry } from '../../../src/extension/runs/runStore';
import { newManifest, tempDir } from '../run/helpers';

const BAD_LINES = 100_000;

test('a run with 100,000 bad lines: 20 problem rows and one "… and 99,980 more — open the log" row', async (t) => {
  const w = RunWriter.create(tempDir(t), newManifest());
  w.appendEvent({ type: 'stopped', step: 0 });
  // Each line a different kind of bad: not JSON, a JSON value that is not an object.
  const events = join(w.dir, 'events.jsonl');
  const good = readFileSync(events, 'utf8').split('\n').filter(Boolean).length; // the writer's own lines
  appendFileSync(events, Array.from({ length: BAD_LINES }, (_, i) => (i % 2 ? '[1, 2]' : `{"type": "started", oops ${i}`)).join('\n') + '\n');
  const info = await readRun(w.dir);
  assert.equal(info.issues.length, BAD_LINES, 'the reader reports every bad line');
  const first = info.issues[0];
  assert.equal(first.file, events);
  assert.equal(first.line, good + 1);

  const rows = issueRows(w.dir, info.issues);
  assert.equal(MAX_ISSUE_ROWS, 20);
  assert.equal(rows.length, MAX_ISSUE_ROWS + 1, 'the tree items under the run for its problems');
  for (let i = 0; i < MAX_ISSUE_ROWS; i++) {
    assert.equal(rows[i].issue, info.issues[i]);
    assert.equal(rows[i].label, `events.jsonl:${good + 1 + i}: ${info.issues[i].reason}`);
    assert.equal(rows[i].tooltip, `${events}:${good + 1 + i}: ${info.issues[i].reason}`);
  }
  const more = rows[MAX_ISSUE_ROWS];
  assert.equal(more.issue, undefined, 'the last row opens the log, not a file');
  assert.equal(more.more, BAD_LINES - MAX_ISSUE_ROWS);
  assert.equal(more.label, '… and 99,980 more — open the log');
  assert.equal(more.tooltip, `100,000 problems reading this run; the first: ${events}:${good + 1}: ${first.reason}. The PRPO Studio log lists every one.`);
  assert.ok(first.reason.length > 0 && first.reason.length < 200, first.reason);

  // The run's own tooltip names the first three and counts the rest.
  const entry: RunEntry = { info, handle: undefined as never, imported: false, status: info.status, live: undefined, lastMetrics: undefined };
  const tip = runTooltipMarkdown(entry);
  assert.match(tip, /\*\*100,000 problem\(s\) reading the run:\*\*/);
  assert.ok(tip.includes(`- ${escapeMarkdown(`events.jsonl:${good + 1}: ${first.reason}`)}\n`), tip.slice(-600));
  assert.ok(tip.includes('- … and 99,997 more (the log lists them all)'), tip.slice(-300));
  assert.ok(tip.length < 3000, `the tooltip stays short (${tip.length} characters)`);
});

test('a run with a few problems lists each one and no "more" row', () => {
  const issues = Array.from({ length: MAX_ISSUE_ROWS }, (_, i) => ({ file: '/runs/a/metrics.jsonl', line: i + 1, reason: 'not valid JSON' }));
  const rows = issueRows('/runs/a', issues);
  assert.equal(rows.length, MAX_ISSUE_ROWS);
  assert.deepEqual(rows.map((r) => r.label).slice(0, 2), ['metrics.jsonl:1: not valid JSON', 'metrics.jsonl:2: not valid JSON']);
  assert.ok(rows.every((r) => r.issue && r.more === undefined));
  assert.deepEqual(issueRows('/runs/a', []), []);
});

// When the backend dies mid-run the run is marked failed (a 'failed' event with the exit code and stderr
// tail in events.jsonl), the explorer shows it, and the error offers "Resume from Checkpoint". A GPU that
// is not there is reported as a warning (the run goes on on CPU). Uses the fake backend.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { scenario } from '../harness/studio';
import { useFakeBackend } from '../suite/fakeBackendBundle';
import { showStudio, until } from '../suite/scenarioHelpers';

useFakeBackend({ FAKE_STEP_MS: '300', FAKE_CRASH_AT_STEP: '5', FAKE_NO_GPU: '1' });

scenario(
  'a crashed backend marks the run failed and offers to resume from a checkpoint',
  { runs: [], settings: { 'prpoStudio.executionProvider': 'cuda', 'prpoStudio.checkpointEvery': 2 } },
  async ({ workbench, page, runsDir, screenshot }) => {
    await showStudio(workbench);
    await workbench.runCommand('prpoStudio.startDefaultRun');

    const warning = await workbench.waitForNotification(/cuda execution provider is not available/, 60_000);
    assert.equal(warning.severity, 'warning');
    assert.match(warning.message, /runs on cpu/);
    await screenshot('gpu-fallback-warning');

    const error = await workbench.waitForNotification(/failed at step \d+: the training backend exited unexpectedly \(exit code 3\)/, 60_000);
    assert.equal(error.severity, 'error');
    const toast = page.locator('.notifications-toasts .notification-list-item', { hasText: 'exited unexpectedly' }).first();
    await toast.locator('.monaco-button', { hasText: 'Resume from Checkpoint' }).waitFor({ timeout: 10_000 });
    await screenshot('crash-notification');

    const row = await until('the run marked failed', async () => (await workbench.treeItems('Runs')).find((i) => /failed/.test(i.description)));
    assert.match(row.description, /PRPO-R/);
    const runDir = join(runsDir, (await import('node:fs')).readdirSync(runsDir).find((n) => n.startsWith('prpo-'))!);
    const events = readFileSync(join(runDir, 'events.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
    const last = events.at(-1);
    assert.equal(last.type, 'failed');
    assert.match(last.reason, /exit code 3.*simulated crash at step 5/);
    await screenshot('failed-in-explorer');

    // "Resume from Checkpoint" goes straight to the checkpoint choice for this run.
    await toast.locator('.monaco-button', { hasText: 'Resume from Checkpoint' }).click();
    await workbench.pickQuickItem(/^step \d+/);
    await screenshot('resume-offered');
    await workbench.closeQuickInput();
  },
);

// The extension host side, against the real `vscode` API: rollout hovers (JSONL and the token view), the
// locator behind them, and run control through the BackendManager with the protocol-compatible fake backend
// (start → live metrics → pause → checkpoint → stop; a crash marks the run failed).
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import * as vscode from 'vscode';
import type { PrpoStudioApi } from '../../../src/extension/extension';
import type { MetricsRow } from '../../../src/core/run/schema';
import { FIXTURE_RUN_ID, FIXTURE_TOKENS } from '../fixtures/runs';
import { test } from './framework';

const EXTENSION_ID = 'prpo-studio.prpo-studio';
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function api(): Promise<PrpoStudioApi> {
  const ext = vscode.extensions.getExtension<PrpoStudioApi>(EXTENSION_ID)!;
  return ext.isActive ? ext.exports : await ext.activate();
}

function runsDir(): string {
  return join(vscode.workspace.workspaceFolders![0].uri.fsPath, 'runs');
}

async function until<T>(what: string, probe: () => T | undefined | false | Promise<T | undefined | false>, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await probe();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(100);
  }
}

function hoverText(hovers: vscode.Hover[]): string {
  return hovers.flatMap((h) => h.contents.map((c) => (typeof c === 'string' ? c : c.value))).join('\n');
}

// The locator and the card themselves are unit-tested (test/unit/hovers); here, the hovers VS Code shows.
test('hovering a token in a rollouts file shows its card', async () => {
  await api();
  const file = vscode.Uri.file(join(runsDir(), FIXTURE_RUN_ID, 'rollouts', 'step-000001.jsonl'));
  const doc = await vscode.workspace.openTextDocument(file);
  const line = doc.lineAt(0).text;
  const needle = JSON.stringify(FIXTURE_TOKENS[3]);
  const tokensAt = line.indexOf('"tokens":');
  const col = line.indexOf(needle, tokensAt) + 2;
  const hovers = await vscode.commands.executeCommand<vscode.Hover[]>('vscode.executeHoverProvider', file, new vscode.Position(0, col));
  const text = hoverText(hovers);
  assert.match(text, new RegExp(`Token 4 of ${FIXTURE_TOKENS.length}`));
  assert.match(text, /Ãᵢₜ — token advantage/);
  assert.match(text, /RVD — robust visual dependency/);
  // The same token through its logp.image entry.
  const logpAt = line.indexOf('"image":[', line.indexOf('"logp"')) + '"image":['.length;
  let offset = logpAt;
  for (let k = 0; k < 3; k++) offset = line.indexOf(',', offset) + 1;
  const again = hoverText(await vscode.commands.executeCommand<vscode.Hover[]>('vscode.executeHoverProvider', file, new vscode.Position(0, offset + 1)));
  assert.match(again, new RegExp(`Token 4 of ${FIXTURE_TOKENS.length}`));
});

test('the token view of a step renders its rollouts and hovers its tokens', async () => {
  await api();
  const runDir = join(runsDir(), FIXTURE_RUN_ID);
  const editor = await vscode.commands.executeCommand<vscode.TextEditor>('prpoStudio.openRolloutTokens', join(runDir, 'rollouts', 'step-000002.jsonl'));
  assert.ok(editor, 'the command returns the editor');
  const doc = editor.document;
  assert.equal(doc.uri.scheme, 'prpo-rollout');
  const text = doc.getText();
  assert.match(text, /# step 2 · \d+ rollout\(s\)/);
  // The first response line (tokens separated by │), not the prompt, which may name the same words.
  const lineNo = doc.getText().split('\n').findIndex((l) => l.includes('│') && l.includes('crimson'));
  assert.ok(lineNo > 0, 'a response line');
  const col = doc.lineAt(lineNo).text.indexOf('crimson') + 2;
  const card = hoverText(await vscode.commands.executeCommand<vscode.Hover[]>('vscode.executeHoverProvider', doc.uri, new vscode.Position(lineNo, col)));
  assert.match(card, /Token 4 of/);
  await vscode.commands.executeCommand('workbench.action.closeAllEditors');
});

/** Bundles the fake backend with the repository's esbuild binary and points the extension at it. */
function useFakeBackend(knobs: Record<string, string | undefined>): void {
  const repo = vscode.extensions.getExtension(EXTENSION_ID)!.extensionPath;
  const out = join(repo, '.test-output', 'fake-backend', 'fake-backend-host.js');
  execFileSync(join(repo, 'node_modules', 'esbuild', 'bin', 'esbuild'), [
    join(repo, 'test', 'vscode', 'suite', 'fakeBackend.ts'), '--bundle', '--platform=node', '--format=cjs', '--target=node20', `--outfile=${out}`, '--log-level=warning',
  ]);
  process.env.PRPO_STUDIO_BACKEND_CLI = out;
  for (const [k, v] of Object.entries(knobs)) {
    if (v === undefined) delete process.env[k];
    else process.env[k] = v;
  }
}

test('a run started through the backend manager is live: metrics, pause, checkpoint, stop', async () => {
  const { backends, runStore } = await api();
  useFakeBackend({ FAKE_STEP_MS: '200', FAKE_CRASH_AT_STEP: undefined, FAKE_NO_GPU: undefined });
  const run = await backends.startRun({ runsDir: runsDir(), preset: 'prpo', steps: 500, seed: 1, ep: 'cpu', name: 'host suite run', checkpointEvery: 0 });
  assert.ok(run, 'the run started');
  const entry = await until('the run in the store', () => runStore.get(run.runDir));
  assert.equal(entry.info.name, 'host suite run');
  const source = runStore.source(run.runDir)!;
  const rows: MetricsRow[] = [];
  const sub = source.onMetrics((r) => rows.push(r));
  await until('live metrics', () => rows.length >= 2);
  sub.dispose();
  assert.equal(source.status(), 'running');

  await backends.pause(run);
  await until('paused in the store', () => runStore.get(run.runDir)?.status === 'paused');
  const info = await backends.checkpoint(run);
  await until('the checkpoint in the store', () => runStore.get(run.runDir)?.info.checkpoints.some((c) => c.step === info.step && c.complete));
  await backends.stop(run);
  await until('stopped on disk', () => runStore.get(run.runDir)?.status === 'stopped');
  assert.equal(backends.all().length, 0);
  assert.equal(source.status(), 'stopped');
}, { timeoutMs: 90_000 });

test('a backend that dies mid-run leaves a failed event with its exit code and stderr', async () => {
  const { backends, runStore } = await api();
  useFakeBackend({ FAKE_STEP_MS: '150', FAKE_CRASH_AT_STEP: '3' });
  try {
    const run = await backends.startRun({ runsDir: runsDir(), preset: 'grpo', steps: 50, seed: 2, ep: 'cpu', name: 'host suite crash' });
    assert.ok(run);
    await until('failed in the store', () => runStore.get(run.runDir)?.status === 'failed', 30_000);
    const events = readFileSync(join(run.runDir, 'events.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
    assert.equal(events.at(-1).type, 'failed');
    assert.match(events.at(-1).reason, /exit code 3.*simulated crash/);
    assert.equal(backends.get(run.runDir), undefined);
  } finally {
    delete process.env.FAKE_CRASH_AT_STEP;
    await vscode.commands.executeCommand('notifications.clearAll');
  }
}, { timeoutMs: 60_000 });

test('every command that starts or steers a backend is gated on workspace trust in the manifest', async () => {
  const manifest = vscode.extensions.getExtension(EXTENSION_ID)!.packageJSON as {
    contributes: { commands: Array<{ command: string; enablement?: string }>; menus: Record<string, Array<{ command: string; when?: string }>> };
  };
  const steering = ['startRun', 'startRunFromConfig', 'startDefaultRun', 'pauseRun', 'resumeRun', 'checkpointRun', 'stopRun', 'resumeFromCheckpoint'].map((c) => `prpoStudio.${c}`);
  for (const id of steering) {
    const c = manifest.contributes.commands.find((x) => x.command === id);
    assert.ok(c, `${id} is contributed`);
    assert.match(c.enablement ?? '', /isWorkspaceTrusted/, `${id} is disabled in an untrusted workspace`);
    const palette = manifest.contributes.menus.commandPalette.find((m) => m.command === id);
    assert.match(palette?.when ?? '', /isWorkspaceTrusted/, `${id} is hidden from the palette in an untrusted workspace`);
  }
  // Reading stays available: opening runs needs no trust.
  for (const id of ['prpoStudio.openRun', 'prpoStudio.openMetrics', 'prpoStudio.openRolloutFile']) {
    assert.equal(manifest.contributes.commands.find((x) => x.command === id)?.enablement, undefined, `${id} works untrusted`);
  }
});

test('the real trainer killed with SIGKILL mid-run: the run is marked failed with the signal and stays resumable', async () => {
  const { backends, runStore } = await api();
  delete process.env.PRPO_STUDIO_BACKEND_CLI; // the real backend: dist/cli.js serve
  for (const k of ['FAKE_STEP_MS', 'FAKE_CRASH_AT_STEP', 'FAKE_NO_GPU', 'FAKE_STARTUP_MS']) delete process.env[k];
  const run = await backends.startRun({ runsDir: runsDir(), preset: 'prpo', steps: 500, seed: 3, ep: 'cpu', name: 'host suite real crash', checkpointEvery: 1 });
  assert.ok(run, 'the real backend started a run');
  try {
    await until('a checkpoint on disk', () => runStore.get(run.runDir)?.info.checkpoints.some((c) => c.complete), 90_000);
    process.kill(run.client.pid!, 'SIGKILL');
    await until('failed in the store', () => runStore.get(run.runDir)?.status === 'failed', 30_000);
    const events = readFileSync(join(run.runDir, 'events.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
    assert.equal(events.at(-1).type, 'failed');
    assert.match(events.at(-1).reason, /exited unexpectedly \(signal SIGKILL\)/);
    assert.equal(backends.get(run.runDir), undefined);
    assert.ok(runStore.get(run.runDir)!.info.checkpoints.some((c) => c.complete), 'a complete checkpoint to resume from');
  } finally {
    await vscode.commands.executeCommand('notifications.clearAll');
  }
}, { timeoutMs: 150_000 });

test('changing prpoStudio.runsDirectory re-reads runs from the new folder', async () => {
  const { runStore } = await api();
  const config = vscode.workspace.getConfiguration('prpoStudio');
  const other = join(vscode.workspace.workspaceFolders![0].uri.fsPath, 'other-runs');
  try {
    await config.update('runsDirectory', other, vscode.ConfigurationTarget.Workspace);
    await until('the new root', () => runStore.root === other);
    await runStore.refresh();
    assert.deepEqual(runStore.runs(), [], 'no runs in a folder that does not exist');
    await config.update('runsDirectory', '~/prpo-runs-that-do-not-exist', vscode.ConfigurationTarget.Workspace);
    await until('~ expanded', () => runStore.root?.endsWith('/prpo-runs-that-do-not-exist') && !runStore.root.includes('~'));
  } finally {
    await config.update('runsDirectory', undefined, vscode.ConfigurationTarget.Workspace);
  }
  await until('back to the default', () => runStore.root === runsDir());
  await runStore.refresh();
  assert.ok(runStore.get(join(runsDir(), FIXTURE_RUN_ID)), 'the fixture run is back');
});

test('a run config file is checked field by field, and starts a run', async () => {
  const { backends, runStore } = await api();
  const { readStartConfig } = await import('../../../src/extension/commands/startRun');
  const { writeFileSync, mkdtempSync } = await import('node:fs');
  const { tmpdir } = await import('node:os');
  const dir = mkdtempSync(join(tmpdir(), 'prpo-config-'));
  const file = (name: string, v: unknown) => {
    const p = join(dir, name);
    writeFileSync(p, typeof v === 'string' ? v : JSON.stringify(v));
    return vscode.Uri.file(p);
  };
  await assert.rejects(readStartConfig(file('bad.json', '{ nope'), '/runs'), /bad\.json: not a readable JSON file/);
  await assert.rejects(readStartConfig(file('preset.json', { preset: 'ppo' }), '/runs'), /"preset" must be one of prpo, vppo, pgpo, dapo, grpo \(got "ppo"\)/);
  await assert.rejects(readStartConfig(file('steps.json', { preset: 'vppo', steps: 0 }), '/runs'), /"steps" must be a whole number ≥ 1 \(got 0\)/);
  await assert.rejects(readStartConfig(file('ep.json', { preset: 'vppo', ep: 'tpu' }), '/runs'), /"ep" must be cpu, cuda or webgpu/);
  const ok = await readStartConfig(file('ok.json', { preset: 'pgpo', steps: 300, seed: 4, name: 'from a config', config: { lr: 1e-4 } }), runsDir());
  assert.deepEqual({ ...ok, checkpointEvery: undefined }, { runsDir: runsDir(), preset: 'pgpo', steps: 300, seed: 4, ep: 'cpu', name: 'from a config', checkpointEvery: undefined, config: { lr: 1e-4 } });

  useFakeBackend({ FAKE_STEP_MS: '200', FAKE_CRASH_AT_STEP: undefined, FAKE_NO_GPU: undefined, FAKE_STARTUP_MS: undefined });
  const run = await vscode.commands.executeCommand<{ runDir: string } | undefined>('prpoStudio.startRunFromConfig', file('ok.json', { preset: 'pgpo', steps: 300, seed: 4, name: 'from a config' }));
  assert.ok(run, 'the command returns the live run');
  const entry = await until('the run in the store', () => runStore.get(run.runDir));
  assert.equal(entry.info.manifest?.algorithm, 'pgpo');
  assert.equal(entry.info.manifest?.seed, 4);
  assert.equal(entry.info.name, 'from a config');
  await backends.stop(backends.get(run.runDir)!);
}, { timeoutMs: 60_000 });

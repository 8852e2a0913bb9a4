// The PyTorch backend's side of the extension host, against the real `vscode` API: a run config file with a model
// is a PyTorch run (fields checked one by one, paths taken from the file's folder), which backend continues a run,
// and a start with an interpreter that is not there fails before any process is left behind.
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as vscode from 'vscode';
import type { PrpoStudioApi } from '../../../src/extension/extension';
import { test } from './framework';

async function api(): Promise<PrpoStudioApi> {
  const ext = vscode.extensions.getExtension<PrpoStudioApi>('prpo-studio.prpo-studio')!;
  return ext.isActive ? ext.exports : await ext.activate();
}

test('a run config file with "model" starts a PyTorch run: model, data, device and dtype are checked', async () => {
  const { readStartConfig } = await import('../../../src/extension/commands/startRun');
  const dir = mkdtempSync(join(tmpdir(), 'prpo-torch-config-'));
  mkdirSync(join(dir, 'my-model'));
  const file = (name: string, v: unknown) => {
    const p = join(dir, name);
    writeFileSync(p, JSON.stringify(v));
    return vscode.Uri.file(p);
  };
  await assert.rejects(readStartConfig(file('nodata.json', { preset: 'prpo', model: 'my-model' }), '/runs'), /nodata\.json: a PyTorch run \("model" given\) needs "data"/);
  await assert.rejects(readStartConfig(file('device.json', { preset: 'prpo', model: 'my-model', data: 'd', device: 'tpu' }), '/runs'), /device\.json: "device" must be auto, cuda or cpu \(got "tpu"\)/);
  await assert.rejects(readStartConfig(file('dtype.json', { preset: 'prpo', model: 'my-model', data: 'd', dtype: 'fp16' }), '/runs'), /dtype\.json: "dtype" must be bf16 or fp32 \(got "fp16"\)/);
  await assert.rejects(readStartConfig(file('orphan.json', { preset: 'prpo', data: 'd' }), '/runs'), /orphan\.json: "data" is for the PyTorch backend; give "model" too/);
  const ok = await readStartConfig(file('ok.json', { preset: 'vppo', steps: 5, model: 'my-model', data: 'shapes', device: 'cpu', dtype: 'fp32', config: { microBatchSize: 2 } }), '/runs');
  assert.deepEqual(
    { model: ok.model, data: ok.data, device: ok.device, dtype: ok.dtype, config: ok.config },
    { model: join(dir, 'my-model'), data: join(dir, 'shapes'), device: 'cpu', dtype: 'fp32', config: { microBatchSize: 2 } },
  );
  // A Hub id stays a Hub id (the backend looks in the local cache); the device defaults to the setting (auto).
  const hub = await readStartConfig(file('hub.json', { preset: 'prpo', model: 'Qwen/Qwen2-VL-2B-Instruct', data: 'shapes' }), '/runs');
  assert.equal(hub.model, 'Qwen/Qwen2-VL-2B-Instruct');
  assert.equal(hub.device, 'auto');
});

test('a run continues on the backend that wrote it', async () => {
  const { backendOfRun } = await import('../../../src/extension/backend/backendManager');
  assert.equal(backendOfRun({ model: { name: 'tiny-qwen2-vl', config: { backend: 'pytorch', family: 'qwen2_vl' } }, config: {} }), 'pytorch');
  assert.equal(backendOfRun({ model: { name: 'tiny-vlm', config: { dModel: 64 } }, config: { groupSize: 8 } }), 'builtin');
});

test('a PyTorch start with no interpreter at the configured path starts nothing', async () => {
  const { backends } = await api();
  const settings = vscode.workspace.getConfiguration('prpoStudio');
  await settings.update('python.interpreter', '/nonexistent/bin/python3', vscode.ConfigurationTarget.Global);
  try {
    const dir = mkdtempSync(join(tmpdir(), 'prpo-torch-start-'));
    const before = backends.all().length;
    const run = await backends.startRun({ runsDir: join(dir, 'runs'), preset: 'prpo', steps: 1, model: join(dir, 'model'), data: join(dir, 'data'), device: 'cpu' });
    assert.equal(run, undefined);
    assert.equal(backends.all().length, before);
    assert.equal(backends.starting, false);
  } finally {
    await settings.update('python.interpreter', undefined, vscode.ConfigurationTarget.Global);
  }
});

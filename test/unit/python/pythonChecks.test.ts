// The checks the extension makes before it starts the PyTorch backend, each with the message a user meets:
// no interpreter (which setting), too old, torch/transformers missing (the exact pip command for that interpreter),
// a model folder without a model (which file), a dataset folder without data.jsonl, CUDA out of memory.
import assert from 'node:assert/strict';
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { repoRoot } from '../../../scripts/toolchain/provision';
import {
  checkDatasetFolder,
  checkInterpreter,
  checkModelFolder,
  explainBackendError,
  PythonSetupError,
  type Interpreter,
} from '../../../src/extension/backend/pythonChecks';
import { noPython, PYTHON } from './helpers';

const dir = mkdtempSync(join(tmpdir(), 'prpo-checks-'));
after(() => rmSync(dir, { recursive: true, force: true }));

/** A stand-in interpreter: a shell script that answers the probe as told. */
function fakePython(name: string, body: string): Interpreter {
  const file = join(dir, name);
  writeFileSync(file, `#!/bin/sh\n${body}\n`);
  chmodSync(file, 0o755);
  return { path: file, source: 'setting' };
}

async function setupError(p: Promise<unknown>): Promise<PythonSetupError> {
  try {
    await p;
  } catch (e) {
    assert.ok(e instanceof PythonSetupError, String(e));
    return e;
  }
  assert.fail('expected a PythonSetupError');
}

test('no interpreter at the configured path: the error names the path and the setting', async () => {
  const e = await setupError(checkInterpreter({ path: join(dir, 'no-such-python'), source: 'setting' }, repoRoot));
  assert.match(e.message, /^No Python interpreter at \S+no-such-python \(setting prpoStudio\.python\.interpreter\)\. Set prpoStudio\.python\.interpreter to a Python ≥ 3\.10/);
  assert.equal(e.setting, 'prpoStudio.python.interpreter');
});

test('an interpreter that is too old, or does not run, says so', async () => {
  const old = await setupError(checkInterpreter(fakePython('py38', `echo '{"version": [3, 8], "missing": []}'`), repoRoot));
  assert.match(old.message, /needs Python ≥ 3\.10; \S+py38 \(setting prpoStudio\.python\.interpreter\) is Python 3\.8\./);
  const broken = await setupError(checkInterpreter(fakePython('broken', `echo 'libpython3.11.so: cannot open shared object file' >&2; exit 127`), repoRoot));
  assert.match(broken.message, /did not run: libpython3\.11\.so: cannot open shared object file/);
});

test('torch and transformers missing: the exact pip command for that interpreter, with the package’s version pins', async () => {
  const py = fakePython('bare', `echo '{"version": [3, 11], "missing": ["torch", "transformers", "PIL"]}'`);
  const e = await setupError(checkInterpreter(py, repoRoot));
  assert.match(e.message, /^torch, transformers, pillow are not installed for \S+bare \(setting prpoStudio\.python\.interpreter\)\. Install with: /);
  // The pins come from python/pyproject.toml; the command quotes what a shell would split.
  assert.match(e.command ?? '', new RegExp(`^${py.path.replace(/[/.]/g, '\\$&')} -m pip install 'torch>=[\\d.]+' 'transformers>=[^']+' 'pillow>=[\\d.]+'$`));
  assert.ok(e.message.endsWith(e.command!));
});

test('the project environment passes the check', { skip: noPython }, async () => {
  await checkInterpreter({ path: PYTHON, source: 'toolchain' }, repoRoot);
});

test('a model folder is checked file by file; a Hub id is left to the backend', () => {
  const model = join(dir, 'model');
  mkdirSync(model);
  assert.throws(() => checkModelFolder(join(dir, 'missing-model')), /The model folder \S+missing-model does not exist\. Pick a folder with a Hugging Face model/);
  assert.throws(() => checkModelFolder(model), /\S+model is not a usable model folder: config\.json is missing \(expected config\.json\)/);
  writeFileSync(join(model, 'config.json'), '{}');
  assert.throws(() => checkModelFolder(model), /the weights is missing \(expected \*\.safetensors or pytorch_model\*\.bin\)/);
  writeFileSync(join(model, 'model.safetensors'), '');
  assert.throws(() => checkModelFolder(model), /the tokenizer is missing \(expected tokenizer\.json or tokenizer_config\.json\)/);
  writeFileSync(join(model, 'tokenizer.json'), '{}');
  checkModelFolder(model);
  assert.throws(() => checkModelFolder(join(model, 'config.json')), /is a file; pick the folder that holds its config\.json/);
  checkModelFolder('Qwen/Qwen2-VL-2B-Instruct');
});

test('a dataset folder needs data.jsonl', () => {
  assert.throws(() => checkDatasetFolder(dir), /is not a dataset folder: data\.jsonl is missing/);
  writeFileSync(join(dir, 'data.jsonl'), '');
  checkDatasetFolder(dir);
});

test('CUDA out of memory names the settings to lower, unless the trainer already did', () => {
  const bare = explainBackendError('Training failed at step 3: CUDA out of memory. Tried to allocate 2.00 GiB');
  assert.match(bare, /^The GPU ran out of memory\. Lower microBatchSize first, then groupSize, maxNewTokens or promptsPerStep, in the setting prpoStudio\.python\.config .* or set prpoStudio\.python\.device to cpu\. \(Training failed at step 3: CUDA out of memory/);
  const own = 'CUDA out of memory while sampling. Lower config.microBatchSize (now 4) first, then groupSize (4).';
  assert.equal(explainBackendError(own), `${own} These are set in the setting prpoStudio.python.config (runs started from the palette) or the run config file's "config".`);
  assert.equal(explainBackendError('data.jsonl:3: field "prompt" must be a non-empty string'), 'data.jsonl:3: field "prompt" must be a non-empty string');
});

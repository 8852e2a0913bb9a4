// The toolchain's two parts are provisioned and checked independently: reinstalling code-server must never
// remove the Python environment (it once deleted a 5 GB venv), and the Python check names what is wrong.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { checkCodeServer, checkPython, checkToolchain, clearCodeServer, repoRoot, toolchainPaths } from '../../../scripts/toolchain/provision';

const python3 = spawnSync('sh', ['-c', 'command -v python3'], { encoding: 'utf8' }).stdout.trim();

function scratch(): string {
  return mkdtempSync(join(tmpdir(), 'prpo-toolchain-'));
}

test('clearing code-server for a reinstall leaves the Python environment and the lock alone', () => {
  const dir = scratch();
  try {
    for (const d of ['node_modules/code-server', 'python/bin', 'python/lib/python3.11/site-packages/torch', '.lock']) mkdirSync(join(dir, d), { recursive: true });
    for (const f of ['package.json', 'package-lock.json', 'install.log', '.stamp', 'python/bin/python', 'python-install.log']) writeFileSync(join(dir, f), 'x');
    clearCodeServer(dir);
    for (const gone of ['node_modules', 'package.json', 'package-lock.json', 'install.log', '.stamp']) assert.equal(existsSync(join(dir, gone)), false, `${gone} should be removed`);
    for (const kept of ['python/bin/python', 'python/lib/python3.11/site-packages/torch', '.lock', 'python-install.log']) assert.equal(existsSync(join(dir, kept)), true, `${kept} must survive`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('the Python check says what is missing, part by part', { skip: !python3 && 'no python3 on PATH' }, () => {
  const dir = scratch();
  try {
    assert.equal(checkPython(dir), 'no virtual environment');
    assert.match(checkToolchain(dir) ?? '', /^code-server: not installed; python: no virtual environment$/);
    const t = toolchainPaths(dir);
    mkdirSync(join(t.pythonDir, 'bin'), { recursive: true });
    // A plain interpreter standing in for the venv's: it runs, but has none of the backend's packages.
    symlinkSync(python3, t.python);
    assert.equal(checkPython(dir), 'the project is not installed into it yet');
    writeFileSync(join(t.pythonDir, '.prpo-studio-stamp'), 'an older pyproject\n');
    assert.equal(checkPython(dir), 'python/pyproject.toml changed');
    writeFileSync(join(t.pythonDir, '.prpo-studio-stamp'), createHash('sha256').update(readFileSync(join(repoRoot, 'python', 'pyproject.toml'))).digest('hex') + '\n');
    assert.match(checkPython(dir) ?? '', /^missing module\(s\): (\S+ )*prpo_studio torch\b/);
    // The code-server part is judged on its own: its state does not depend on the Python one.
    assert.equal(checkCodeServer(dir), 'not installed');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

// The extension as a user installs it: `npm run package`'s VSIX, installed with `code-server
// --install-extension` (not the repository linked in), then one smoke pass on that installed copy — the
// explorer lists a run, and the built-in defaults start a real training run, which needs the packaged
// dist/cli.js, the shipped model and the Linux x64 onnxruntime binaries the VSIX carries.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, lstatSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before } from 'node:test';
import { FIXTURE_RUN_NAME } from '../fixtures/runs';
import { repoRoot } from '../harness/launcher';
import { scenario } from '../harness/studio';
import { showStudio, statusBarText, until } from '../suite/scenarioHelpers';

const vsixDir = mkdtempSync(join(process.env.PRPO_VSCODE_TMP ?? tmpdir(), 'vsix-'));
const vsix = join(vsixDir, 'prpo-studio-linux-x64.vsix');

before(() => {
  // The same command as `npm run package` (dist/ is built by the test stage), into a scratch folder.
  execFileSync(
    join(repoRoot, 'node_modules', '.bin', 'vsce'),
    ['package', '--target', 'linux-x64', '--no-rewrite-relative-links', '--out', vsix],
    { cwd: repoRoot, stdio: 'pipe', timeout: 300_000 },
  );
  assert.ok(existsSync(vsix), `vsce wrote no ${vsix}`);
}, { timeout: 320_000 });
after(() => rmSync(vsixDir, { recursive: true, force: true }));

scenario('the packaged VSIX installs and runs: explorer, and a default run trains', { vsix, timeoutMs: 420_000 }, async ({ workbench, server, screenshot }) => {
  // Installed as a copy unpacked from the VSIX, carrying only this platform's runtime.
  const extDir = join(server.runDir, 'ext');
  const installed = readdirSync(extDir).filter((d) => d.startsWith('prpo-studio.prpo-studio-'));
  assert.equal(installed.length, 1, `installed extensions: ${readdirSync(extDir).join(', ')}`);
  const copy = join(extDir, installed[0]);
  assert.ok(!lstatSync(copy).isSymbolicLink(), 'the extension is linked, not installed from the VSIX');
  assert.deepEqual(readdirSync(join(copy, 'node_modules', 'onnxruntime-node', 'bin', 'napi-v6')), ['linux']);
  assert.ok(!existsSync(join(copy, 'src')) && !existsSync(join(copy, 'test')), 'sources or tests in the installed copy');

  await showStudio(workbench);
  await workbench.treeItem('Runs', FIXTURE_RUN_NAME, 90_000);
  await screenshot('installed-explorer');

  await workbench.runCommand('prpoStudio.startDefaultRun');
  await until('a training step in the status bar', async () => /PRPO-R running · step [1-9]/.test(await statusBarText(workbench)), 240_000);
  await screenshot('installed-run-training');
  await workbench.runCommand('prpoStudio.stopRun');
});

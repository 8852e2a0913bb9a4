// `npm run test:desktop`: the extension-host suite (test/vscode/extension-host/) in desktop VS Code, through
// @vscode/test-electron — for machines that can download VS Code (CI elsewhere, a developer's laptop). On the
// project's own machines that download host is unreachable; there `npm test` runs the same suite in
// code-server instead (test/vscode/runExtensionTests.ts).
//
//   npm run test:desktop                       latest stable VS Code (downloaded into .vscode-test/)
//   VSCODE_VERSION=1.95.0 npm run test:desktop a given version (the manifest's engines.vscode minimum)
//   VSCODE_EXECUTABLE=/path/to/code npm run test:desktop   an installed VS Code, no download
//
// On Linux without a display, run it under xvfb-run.
import { mkdirSync, mkdtempSync, readFileSync, rmSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runTests } from '@vscode/test-electron';
import { writeFixtureWorkspace } from '../vscode/fixtures/runs';
import { repoRoot } from '../vscode/harness/launcher';
import { buildExtensionHostSuite } from '../vscode/harness/suite';

async function main(): Promise<number> {
  const root = mkdtempSync(join(tmpdir(), 'prpo-desktop-'));
  try {
    if (!existsSync(join(repoRoot, 'dist', 'extension.js'))) throw new Error('dist/extension.js is missing: npm run build');
    const bundle = join(root, 'suite', 'extension-host-tests.js');
    await buildExtensionHostSuite(bundle);
    const workspaceDir = join(root, 'studio-workspace');
    writeFixtureWorkspace(workspaceDir);
    const userData = join(root, 'ud');
    mkdirSync(userData, { recursive: true });
    const resultsFile = join(root, 'results.json');
    await runTests({
      extensionDevelopmentPath: repoRoot,
      extensionTestsPath: bundle,
      version: process.env.VSCODE_VERSION,
      vscodeExecutablePath: process.env.VSCODE_EXECUTABLE,
      extensionTestsEnv: { PRPO_EXT_TEST_RESULTS: resultsFile },
      launchArgs: [workspaceDir, '--disable-extensions', '--disable-workspace-trust', '--skip-welcome', '--skip-release-notes', `--user-data-dir=${userData}`],
    });
    const r = JSON.parse(readFileSync(resultsFile, 'utf8'));
    console.log(`desktop extension-host suite: ${r.passed} passed, ${r.failed} failed`);
    return r.failed ? 1 : 0;
  } catch (e) {
    console.error(`desktop extension-host suite failed: ${(e as Error).message}`);
    return 1;
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
}

main().then((code) => process.exit(code));

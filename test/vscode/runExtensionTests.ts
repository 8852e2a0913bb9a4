// The extension-host suite: bundles test/vscode/extension-host/**/*.test.ts (with the `vscode` module left
// to the host), opens a fresh code-server on a fixture workspace through the Extension Development Host route
// with `extensionTestsPath`, and waits for the exit code the workbench reports through
// `codeAutomationExit`; the host's console arrives through `codeAutomationLog`.
//
//   npm run test:vscode
//
// Prints one line per test and `N passed, N failed`; writes .test-output/results/extension-host.json; exits
// non-zero on any failure, with a screenshot and the extension host log.
import { existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { writeFixtureWorkspace } from './fixtures/runs';
import { launchBrowser } from './harness/browser';
import { onCleanup, removeDir } from './harness/cleanup';
import { launchCodeServer, type CodeServer } from './harness/launcher';
import { buildExtensionHostSuite } from './harness/suite';
import { OUTPUT_DIR, SCREENSHOT_DIR } from './harness/studio';

const TIMEOUT_MS = Number(process.env.PRPO_EXT_TEST_TIMEOUT_MS ?? 300_000);

function writeResults(passed: number, failed: number, extra: Record<string, unknown> = {}): void {
  const dir = process.env.PRPO_RESULTS_DIR ?? join(OUTPUT_DIR, 'results');
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'extension-host.json'), JSON.stringify({ passed, failed, ...extra }, null, 2));
}

async function main(): Promise<number> {
  const t0 = Date.now();
  const tmpRoot = process.env.PRPO_VSCODE_TMP ?? '/tmp';
  mkdirSync(tmpRoot, { recursive: true });
  const root = mkdtempSync(join(tmpRoot, 'pe-'));
  const removeRoot = onCleanup(`suite folder ${root}`, async () => removeDir(root), () => removeDir(root));
  const shotDir = join(SCREENSHOT_DIR, 'extension-host');
  let server: CodeServer | undefined;
  let browser: Awaited<ReturnType<typeof launchBrowser>> | undefined;
  const log: string[] = [];
  try {
    const bundle = join(root, 'suite', 'extension-host-tests.js');
    await buildExtensionHostSuite(bundle);
    const workspaceDir = join(root, 'studio-workspace');
    writeFixtureWorkspace(workspaceDir);
    const resultsFile = join(root, 'results.json');
    server = await launchCodeServer({
      workspaceDir,
      mode: 'development',
      extensionTestsPath: bundle,
      tmpRoot: root,
      env: { PRPO_EXT_TEST_RESULTS: resultsFile },
    });
    browser = await launchBrowser(join(root, 'chrome'));
    const page = browser.page;
    let exit!: (code: number) => void;
    const exited = new Promise<number>((r) => (exit = r));
    await page.exposeFunction('codeAutomationLog', (level: string, args: unknown) => {
      const parts = Array.isArray(args) ? args : [args];
      const text = parts.map((a) => (typeof a === 'string' ? a : JSON.stringify(a))).join(' ');
      log.push(`[${level}] ${text}`);
      if (text.includes('[ext-host]')) console.log(text.slice(text.indexOf('[ext-host]')));
    });
    await page.exposeFunction('codeAutomationExit', (code: number) => exit(code));
    await page.goto(server.url, { timeout: 60_000 });
    let timer: NodeJS.Timeout | undefined;
    const serverGone = server.exited.then((c) => new Error(`code-server exited (${c}) before the suite finished`));
    const timedOut = new Promise<Error>((r) => (timer = setTimeout(() => r(new Error(`the suite timed out after ${TIMEOUT_MS / 1000} s`)), TIMEOUT_MS)));
    const code = await Promise.race([exited, serverGone, timedOut]).finally(() => clearTimeout(timer));
    if (code instanceof Error) throw code;
    const results = existsSync(resultsFile) ? JSON.parse(readFileSync(resultsFile, 'utf8')) : undefined;
    if (!results) {
      throw new Error(`the suite ended with exit code ${code} without results (the test module failed to load?)`);
    }
    console.log(`extension-host suite: ${results.passed} passed, ${results.failed} failed (${((Date.now() - t0) / 1000).toFixed(1)} s)`);
    writeResults(results.passed, results.failed, { exitCode: code, results: results.results });
    if (code !== 0 || results.failed) {
      await failureReport(page, shotDir, server, log);
      return 1;
    }
    return 0;
  } catch (e) {
    console.error(`extension-host suite: ${(e as Error).message}`);
    if (browser) await failureReport(browser.page, shotDir, server, log);
    writeResults(0, 1, { error: (e as Error).message });
    return 1;
  } finally {
    await browser?.close();
    await server?.stop();
    await removeRoot();
  }
}

async function failureReport(page: import('playwright-core').Page, shotDir: string, server: CodeServer | undefined, log: string[]): Promise<void> {
  const lines = ['--- extension-host suite failed: on screen ---'];
  try {
    mkdirSync(shotDir, { recursive: true });
    const file = join(shotDir, 'failure.png');
    await page.screenshot({ path: file, timeout: 15_000 });
    lines.push(`screenshot: ${file}`);
  } catch (e) {
    lines.push(`screenshot: failed (${(e as Error).message.split('\n')[0]})`);
  }
  const notes = await page
    .locator('.notifications-toasts .notification-list-item-message')
    .allInnerTexts()
    .catch(() => [] as string[]);
  lines.push(`notifications: ${notes.length ? '' : '(none)'}`, ...notes.slice(-8).map((n) => `  ${n}`));
  const dialogs = await page
    .locator('.monaco-dialog-box')
    .allInnerTexts()
    .catch(() => [] as string[]);
  if (dialogs.length) lines.push('dialogs:', ...dialogs.map((d) => `  ${d.replace(/\s+/g, ' ').slice(0, 500)}`));
  const quiet = /\[ext-host\]|open-vsx|authentication provider 'github'|AccountPolicyGate|Creating a socket|connection token/;
  lines.push('workbench log (tail):', ...log.filter((l) => !quiet.test(l)).slice(-25).map((l) => `  ${l.slice(0, 400)}`));
  if (server) {
    lines.push('extension host log (tail):', server.extensionHostLogs(6000) || '(empty)');
    lines.push('code-server output (tail):', server.outputTail(25));
  }
  console.error(lines.join('\n'));
}

main().then(
  (code) => process.exit(code),
  (e) => {
    console.error(e);
    process.exit(1);
  },
);

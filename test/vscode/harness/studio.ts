// The fixture API of the UI scenarios: a fresh code-server with the studio installed, a workspace with
// fixture runs, headless Chromium on the workbench — and everything shut down afterwards, whatever happens.
//
//   import { scenario } from '../harness/studio';
//   scenario('the run explorer lists a fixture run', async ({ workbench, screenshot }) => {
//     await workbench.openViewContainer('PRPO Studio');
//     await workbench.treeItem('Runs', 'Fixture PRPO-R run');
//     await screenshot('explorer');
//   });
//
// On failure (or timeout) the error carries what was on screen: a screenshot, the last notifications, page
// errors and the tails of the extension host log and code-server's output.
import { cpSync, existsSync, mkdirSync, mkdtempSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { test } from 'node:test';
import type { Page } from 'playwright-core';
import { writeFixtureWorkspace, type FixtureRunOptions } from '../fixtures/runs';
import { launchBrowser } from './browser';
import { onCleanup, removeDir } from './cleanup';
import { defaultExtensionPath, launchCodeServer, repoRoot, type CodeServer, type LaunchOptions } from './launcher';
import { slug, Workbench } from './workbench';

export const OUTPUT_DIR = join(repoRoot, '.test-output');
export const SCREENSHOT_DIR = join(OUTPUT_DIR, 'screenshots');

export interface StudioContext {
  page: Page;
  workbench: Workbench;
  /** The folder open in the workbench. */
  workspaceDir: string;
  /** `<workspaceDir>/runs`, the extension's default runs directory, with the fixture runs. */
  runsDir: string;
  /** The fixture run directories, in the order of `runs`. */
  runDirs: string[];
  server: CodeServer;
  /** Saves `.test-output/screenshots/<scenario>/<NN>-<name>.png`; returns the path. */
  screenshot(name: string): Promise<string>;
}

export interface StudioOptions {
  /** Names the screenshot folder (scenario() passes the test name). */
  name?: string;
  /** Fixture runs written into `<workspace>/runs` (default: one default fixture run; [] for none). */
  runs?: FixtureRunOptions[];
  /** Extra preparation of the workspace folder before the workbench opens it. */
  setup?: (workspaceDir: string) => void | Promise<void>;
  /** User settings over the harness's quiet ones. */
  settings?: Record<string, unknown>;
  /** How the extension is loaded (default 'installed', as a user has it). */
  mode?: LaunchOptions['mode'];
  /** Install this VSIX (`npm run package`) instead of linking the repository (see LaunchOptions.vsix). */
  vsix?: string;
  /** Bound on the whole scenario, start-up included (default 240 s; the machines are shared and slow). */
  timeoutMs?: number;
  viewport?: { width: number; height: number };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Runs `fn` against a fresh studio and always tears it down. */
export async function withStudio<T>(fn: (ctx: StudioContext) => Promise<T>, opts?: StudioOptions): Promise<T>;
export async function withStudio<T>(opts: StudioOptions, fn: (ctx: StudioContext) => Promise<T>): Promise<T>;
export async function withStudio<T>(
  a: StudioOptions | ((ctx: StudioContext) => Promise<T>),
  b?: StudioOptions | ((ctx: StudioContext) => Promise<T>),
): Promise<T> {
  const fn = (typeof a === 'function' ? a : b) as (ctx: StudioContext) => Promise<T>;
  const opts = ((typeof a === 'function' ? b : a) ?? {}) as StudioOptions;
  const name = opts.name ?? 'studio';
  const timeoutMs = opts.timeoutMs ?? Number(process.env.PRPO_SCENARIO_TIMEOUT_MS ?? 240_000);
  const shotDir = join(SCREENSHOT_DIR, slug(name));
  rmSync(shotDir, { recursive: true, force: true });

  const tmpRoot = process.env.PRPO_VSCODE_TMP ?? '/tmp';
  mkdirSync(tmpRoot, { recursive: true });
  const root = mkdtempSync(join(tmpRoot, 'ps-'));
  const removeRoot = onCleanup(`scenario folder ${root}`, async () => removeDir(root), () => removeDir(root));
  const workspaceDir = join(root, 'studio-workspace');
  mkdirSync(workspaceDir, { recursive: true });

  let server: CodeServer | undefined;
  let browser: Awaited<ReturnType<typeof launchBrowser>> | undefined;
  let workbench: Workbench | undefined;
  const pageErrors: string[] = [];
  const started = Date.now();
  let timer: NodeJS.Timeout | undefined;
  // The split of the scenario's time: setup (fixtures, the scenario's own setup), start (code-server and
  // Chromium), goto (the workbench page loads), ready (laid out), body, teardown.
  const phases: string[] = [];
  let last = started;
  const mark = (p: string) => {
    const now = Date.now();
    phases.push(`${p} ${((now - last) / 1000).toFixed(1)} s`);
    last = now;
  };
  try {
    const work = (async () => {
      const { runsDir, runDirs } = writeFixtureWorkspace(workspaceDir, opts.runs ?? [{}]);
      await opts.setup?.(workspaceDir);
      mark('setup');
      // code-server and Chromium start side by side (each ~0.5 s alone); both are stopped in `finally`
      // whichever of them failed.
      const starting = [
        launchCodeServer({ workspaceDir, mode: opts.mode ?? 'installed', vsix: opts.vsix, settings: opts.settings, tmpRoot: root }).then((s) => (server = s)),
        launchBrowser(join(root, 'chrome'), opts.viewport).then((b) => (browser = b)),
      ];
      const results = await Promise.allSettled(starting);
      const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
      if (failed) throw failed.reason;
      if (!server || !browser) throw new Error('unreachable: code-server or Chromium missing after start');
      mark('start');
      const page = browser.page;
      page.on('pageerror', (e) => keep(pageErrors, `pageerror: ${e.message}`));
      page.on('console', (m) => {
        if (m.type() === 'error' && !/404|vsda|telemetry|gallery|open-vsx|authentication provider 'github'|Failed to load resource/i.test(m.text())) {
          keep(pageErrors, `console: ${m.text()}`);
        }
      });
      workbench = new Workbench(page, shotDir, defaultExtensionPath());
      await page.goto(server.url, { timeout: 60_000 });
      mark('goto');
      await workbench.waitReady();
      mark('ready');
      const ctx: StudioContext = {
        page,
        workbench,
        workspaceDir,
        runsDir,
        runDirs,
        server,
        screenshot: (n) => workbench!.screenshot(n),
      };
      return fn(ctx);
    })();
    const timeout = new Promise<never>((_, rej) => {
      timer = setTimeout(() => rej(new Error(`scenario "${name}" timed out after ${timeoutMs / 1000} s`)), timeoutMs);
    });
    work.catch(() => undefined); // after a timeout its rejection (the browser closed under it) is expected
    return await Promise.race([work, timeout]);
  } catch (e) {
    const err = e instanceof Error ? e : new Error(String(e));
    const report = await failureReport(name, shotDir, workbench, server, pageErrors, started);
    err.message += `\n${report}`;
    throw err;
  } finally {
    clearTimeout(timer);
    mark('body');
    await browser?.close();
    await server?.stop();
    await removeRoot();
    mark('teardown');
    // Where the scenario's time went (docs/testing.md sums these over the stage).
    process.stderr.write(`[studio] ${name}: ${phases.join(', ')}\n`);
  }
}

function keep(list: string[], line: string): void {
  list.push(line.slice(0, 500));
  if (list.length > 20) list.shift();
}

/** What was on screen when a scenario failed, also written to .test-output/failures/<scenario>.txt. */
async function failureReport(
  name: string,
  shotDir: string,
  workbench: Workbench | undefined,
  server: CodeServer | undefined,
  pageErrors: string[],
  started: number,
): Promise<string> {
  const lines: string[] = [`--- on screen when "${name}" failed (${((Date.now() - started) / 1000).toFixed(1)} s in) ---`];
  if (workbench) {
    try {
      mkdirSync(shotDir, { recursive: true });
      const file = join(shotDir, 'failure.png');
      await workbench.page.screenshot({ path: file, timeout: 15_000 });
      lines.push(`screenshot: ${file}`);
    } catch (e) {
      lines.push(`screenshot: failed (${(e as Error).message.split('\n')[0]})`);
    }
    const dialogs = await workbench.dialogs();
    if (dialogs.length) lines.push('dialogs:', ...dialogs.map((d) => `  ${d.slice(0, 500)}`));
    try {
      // With a modal dialog up the palette cannot open the notification center: read the toasts only.
      const toasts = dialogs.length ? await workbench.notifications() : await Promise.race([workbench.allNotifications(), sleep(20_000).then(() => [])]);
      lines.push(
        `notifications: ${toasts.length ? '' : '(none)'}`,
        ...toasts.slice(-8).map((n) => `  [${n.severity}] ${n.message}${n.source ? ` (${n.source})` : ''}`),
      );
      if (toasts.length) {
        const file = join(shotDir, 'failure-notifications.png');
        await workbench.page.screenshot({ path: file, timeout: 15_000 }).then(() => lines.push(`screenshot: ${file}`), () => undefined);
      }
    } catch {
      lines.push('notifications: (could not be read)');
    }
  }
  if (pageErrors.length) lines.push('page errors:', ...pageErrors.slice(-8).map((l) => `  ${l}`));
  if (server) {
    lines.push('extension host log (tail):', indent(server.extensionHostLogs(6000) || '(empty)'));
    lines.push('code-server output (tail):', indent(server.outputTail(25) || '(empty)'));
  }
  const text = lines.join('\n');
  try {
    const dir = join(OUTPUT_DIR, 'failures');
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, `${slug(name)}.txt`), text + '\n');
  } catch {
    // the report is in the error message anyway
  }
  return text;
}

function indent(s: string): string {
  return s
    .split('\n')
    .map((l) => `    ${l}`)
    .join('\n');
}

/** Declares a UI scenario (a node:test test) that runs `fn` against a fresh studio. */
export function scenario(name: string, fn: (ctx: StudioContext) => Promise<void>): void;
export function scenario(name: string, opts: StudioOptions, fn: (ctx: StudioContext) => Promise<void>): void;
export function scenario(
  name: string,
  a: StudioOptions | ((ctx: StudioContext) => Promise<void>),
  b?: (ctx: StudioContext) => Promise<void>,
): void {
  const fn = (typeof a === 'function' ? a : b)!;
  const opts = typeof a === 'function' ? {} : a;
  const timeoutMs = opts.timeoutMs ?? Number(process.env.PRPO_SCENARIO_TIMEOUT_MS ?? 240_000);
  const retries = Math.max(0, Number(process.env.PRPO_UI_RETRIES ?? 1) || 0);
  // node:test's own timeout is a backstop above withStudio's, which cleans up and reports first.
  test(name, { timeout: (timeoutMs + 90_000) * (retries + 1) }, async (t) => {
    let flaky: string | undefined;
    for (let attempt = 0; ; attempt++) {
      try {
        await withStudio({ ...opts, name, timeoutMs }, fn);
        if (flaky) t.diagnostic(flaky);
        return;
      } catch (e) {
        if (attempt >= retries) throw e;
        // As Playwright does on CI: a scenario that fails runs once more on a fresh code-server. A pass then is
        // reported as flaky (not hidden): a TAP line `# flaky: …` that `npm test`'s summary lists, and the first
        // failure's report and screenshots kept under .test-output/flaky/.
        const kept = keepFlakyReport(name, e);
        const first = (e instanceof Error ? e.message : String(e)).split('\n')[0];
        process.stderr.write(`[studio] ${name}: failed (${first}); running it once more — its report: ${kept}\n`);
        flaky = `flaky: ${name} failed once (${first.slice(0, 200)}), then passed on retry; its report: ${kept}`;
      }
    }
  });
}

/**
 * Moves a failed attempt's report and screenshots to .test-output/flaky/<scenario>/ (the retry starts clean),
 * with the error and its stack (which line of the scenario failed) in error.txt.
 */
function keepFlakyReport(name: string, error: unknown): string {
  const dir = join(OUTPUT_DIR, 'flaky', slug(name));
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'error.txt'), `${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  const report = join(OUTPUT_DIR, 'failures', `${slug(name)}.txt`);
  if (existsSync(report)) renameSync(report, join(dir, 'failure.txt'));
  const shots = join(SCREENSHOT_DIR, slug(name));
  if (existsSync(shots)) cpSync(shots, join(dir, 'screenshots'), { recursive: true });
  return relative(repoRoot, dir);
}

/**
 * `npm run bench:webview`: measures the webview bundles (dist/webview-trajectory.js, -charts.js) in headless Chromium on a static
 * page with the same CSP as the panels and a stand-in host (bench/webviewHostSim.ts) that packs rollouts with
 * the real protocol code. Prints figures (not a pass/fail test):
 *   - first paint of a 20,000-token trajectory (target ≤ 150 ms),
 *   - opening a 1,000-rollout step (≤ 500 ms),
 *   - stream latency at 100 rollouts/s, host post → painted (p95 ≤ 50 ms),
 *   - frame times while scrolling the 20,000-token trajectory.
 * Options: --theme light|dark, --screenshots DIR (saves views of the page), --keep (prints the page URL and waits).
 */
import { build } from 'esbuild';
import { createServer } from 'node:http';
import { mkdirSync, readFileSync, writeFileSync, existsSync } from 'node:fs';
import { join, resolve, extname } from 'node:path';
import { chromium, type Page } from 'playwright-core';

const root = resolve(import.meta.dirname, '..');
const out = join(root, '.test-output', 'webview-bench');
const args = process.argv.slice(2);
const arg = (name: string): string | undefined => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? args[i + 1] : undefined;
};
const theme = arg('theme') ?? 'dark';
const shots = arg('screenshots');

export async function preparePage(): Promise<void> {
  mkdirSync(out, { recursive: true });
  if (!existsSync(join(root, 'dist', 'webview-trajectory.js'))) throw new Error('dist/webview-trajectory.js is missing: run `npm run build` first.');
  await build({ entryPoints: [join(root, 'bench', 'webviewHostSim.ts')], bundle: true, format: 'iife', platform: 'browser', target: 'es2022', outfile: join(out, 'sim.js'), logLevel: 'warning' });
  const page = (view: string, themeClass: string): string => `<!DOCTYPE html>
<html lang="en"><head><meta charset="UTF-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; script-src 'nonce-bench'; style-src http://127.0.0.1:*; img-src http://127.0.0.1:* data:; font-src http://127.0.0.1:*">
<link rel="stylesheet" href="/bench/webviewThemes.css">
<title>webview bench</title></head>
<body class="${themeClass}" data-view="${view}"><div id="app"></div>
<script nonce="bench" src="/.test-output/webview-bench/sim.js"></script>
<script nonce="bench" src="/dist/webview-${view}.js"></script>
</body></html>`;
  for (const t of ['dark', 'light']) {
    writeFileSync(join(out, `trajectory-${t}.html`), page('trajectory', `vscode-${t}`));
    writeFileSync(join(out, `charts-${t}.html`), page('charts', `vscode-${t}`));
  }
}

const TYPES: Record<string, string> = { '.html': 'text/html', '.js': 'text/javascript', '.css': 'text/css', '.png': 'image/png', '.map': 'application/json' };

export function serve(): Promise<{ url: string; close: () => void }> {
  const server = createServer((req, res) => {
    const p = decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname);
    const file = resolve(root, `.${p}`);
    if (!file.startsWith(root) || !existsSync(file)) {
      res.writeHead(404).end();
      return;
    }
    res.writeHead(200, { 'content-type': TYPES[extname(file)] ?? 'application/octet-stream' }).end(readFileSync(file));
  });
  return new Promise((r) => server.listen(0, '127.0.0.1', () => r({ url: `http://127.0.0.1:${(server.address() as { port: number }).port}`, close: () => server.close() })));
}

const q = (xs: number[], p: number): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(p * (s.length - 1)))];
};
const f1 = (x: number): string => x.toFixed(1);

async function perfCount(page: Page, name: string): Promise<number> {
  return page.evaluate((n) => (window as any).__sim.perf().filter((e: any) => e.name === n).length, name);
}
async function waitPerf(page: Page, name: string, count: number): Promise<number> {
  await page.waitForFunction(([n, c]) => (window as any).__sim.perf().filter((e: any) => e.name === n).length >= (c as number), [name, count] as const, { timeout: 60_000 });
  return page.evaluate((n) => {
    const xs = (window as any).__sim.perf().filter((e: any) => e.name === n);
    return xs[xs.length - 1].ms;
  }, name);
}

async function main(): Promise<void> {
  await preparePage();
  const server = await serve();
  const browser = await chromium.launch({
    executablePath: process.env.PRPO_CHROMIUM ?? '/usr/bin/chromium',
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--disable-dev-shm-usage'],
  });
  const page = await browser.newPage({ viewport: { width: 1400, height: 900 } });
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(String(e)));
  page.on('console', (m) => {
    if (m.type() === 'error' && !/404/.test(m.text())) errors.push(m.text());
  });
  await page.addInitScript({
    content: `window.__name = (f) => f; window.__initialStep = 1;
      window.__simSetup = { status: 'stopped', steps: [[1, 1, 1, 20000], [2, 1, 1, 20000], [3, 1000, 8, 200], [4, 1000, 8, 200], [5, 16, 8, 120]] };`,
  });
  await page.goto(`${server.url}/.test-output/webview-bench/trajectory-${theme}.html`);
  const coldPaint = await waitPerf(page, 'trajectory.firstPaint', 1);
  const load = async (step: number): Promise<number> => {
    const n = await perfCount(page, 'trajectory.firstPaint');
    await page.evaluate((s) => (window as any).prpoTrajectory.loadStep(s), step);
    return waitPerf(page, 'trajectory.firstPaint', n + 1);
  };
  const packMs = async (): Promise<number> => page.evaluate(() => (window as any).__sim.sim.packMs.at(-1));

  const results: string[] = [];
  // (The stand-in host packs on this page's thread; in VS Code that work is in the extension host process.)
  // 1. 20,000-token trajectory.
  const paint20k: number[] = [coldPaint];
  const pack20k: number[] = [await packMs()];
  for (let i = 0; i < 6; i++) {
    paint20k.push(await load(i % 2 ? 1 : 2));
    pack20k.push(await packMs());
  }
  const tokens20k = await page.evaluate(() => (window as any).prpoTrajectory.renderedTokens);
  results.push(`first paint, 20,000-token trajectory: cold ${f1(paint20k[0])} ms, warm median ${f1(q(paint20k.slice(1), 0.5))} ms, max ${f1(Math.max(...paint20k.slice(1)))} ms (target ≤ 150 ms; ${tokens20k} token spans built; host packing ${f1(q(pack20k, 0.5))} ms, not included)`);

  // Scrolling the 20k trajectory: frame times.
  const frames: number[] = await page.evaluate(
    () =>
      new Promise<number[]>((resolve) => {
        const list = document.querySelector('.list') as HTMLElement;
        const times: number[] = [];
        let last = performance.now();
        let n = 0;
        const step = (): void => {
          const now = performance.now();
          times.push(now - last);
          last = now;
          list.scrollTop += 900;
          if (++n < 150 && list.scrollTop + list.clientHeight < list.scrollHeight) requestAnimationFrame(step);
          else resolve(times.slice(1));
        };
        requestAnimationFrame(step);
      }),
  );
  results.push(`scrolling the 20,000-token trajectory (900 px per frame, ${frames.length} frames): frame time median ${f1(q(frames, 0.5))} ms, p95 ${f1(q(frames, 0.95))} ms`);

  // 2. 1,000-rollout step.
  const paint1k: number[] = [];
  const pack1k: number[] = [];
  for (let i = 0; i < 6; i++) {
    paint1k.push(await load(i % 2 ? 4 : 3));
    pack1k.push(await packMs());
  }
  // Each load above cuts the previous step's parts short when the page is slow; the last one is let finish.
  await waitPerf(page, 'trajectory.complete', 1);
  const complete1k: number[] = await page.evaluate(() => (window as any).__sim.perf().filter((e: any) => e.name === 'trajectory.complete').map((e: any) => e.ms));
  results.push(
    `opening a 1,000-rollout step (~200 tokens each, groups of 8): first screen painted cold ${f1(paint1k[0])} ms, warm median ${f1(q(paint1k.slice(1), 0.5))} ms, max ${f1(Math.max(...paint1k.slice(1)))} ms (target ≤ 500 ms); all 1,000 rollouts in (the rest arrives in parts of 128) median ${f1(q(complete1k, 0.5))} ms`,
  );
  if (shots) {
    mkdirSync(shots, { recursive: true });
    await page.screenshot({ path: join(shots, `bench-1000-${theme}.png`) });
  }

  // 3. Streaming at 100 rollouts/s into an open step (follow on).
  await load(5);
  await page.evaluate(() => (document.querySelector('.follow') as any).click());
  const before = await perfCount(page, 'trajectory.streamLatency');
  await page.evaluate(() => (window as any).__sim.stream(5, 500, 100));
  await waitPerf(page, 'trajectory.streamLatency', before + 500);
  const lat: number[] = await page.evaluate((b) => (window as any).__sim.perf().filter((e: any) => e.name === 'trajectory.streamLatency').slice(b).map((e: any) => e.ms), before);
  const shown = await page.evaluate(() => (window as any).prpoTrajectory.rollouts);
  results.push(`stream latency at 100 rollouts/s (500 rollouts, host post → painted): p50 ${f1(q(lat, 0.5))} ms, p95 ${f1(q(lat, 0.95))} ms, max ${f1(Math.max(...lat))} ms (target p95 ≤ 50 ms; ${shown} rollouts in view after)`);

  console.log(`Webview benchmark (headless Chromium ${browser.version()}, ${theme} theme, static page, dist/webview-<view>.js)`);
  for (const r of results) console.log(`  - ${r}`);
  if (errors.length) console.log(`  page errors: ${errors.join(' | ')}`);
  mkdirSync(join(root, 'bench', 'results'), { recursive: true });
  writeFileSync(join(root, 'bench', 'results', 'webview.txt'), results.join('\n') + '\n');
  await browser.close();
  server.close();
}

if (process.argv[1] && resolve(process.argv[1]) === resolve(import.meta.filename)) {
  main().catch((e) => {
    console.error(e);
    process.exit(1);
  });
}

/**
 * Screenshots of the webviews on the static page (light and dark), for checking the look without VS Code:
 * `npx tsx bench/webview-screens.ts [outDir]` (default .test-output/screenshots/static).
 * Also checks the hostile-token step: tokens show literally, nothing runs.
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { chromium, type Page } from 'playwright-core';
import { preparePage, serve } from './webview-bench';
import type { MetricsRow } from '../src/core/run/schema';

const outDir = process.argv[2] ?? '.test-output/screenshots/static';

function metrics(n: number, seed: number, algo: string): MetricsRow[] {
  const rows: MetricsRow[] = [];
  let x = seed;
  const r = (): number => ((x = (x * 16807) % 2147483647) / 2147483647);
  for (let s = 1; s <= n; s++) {
    const p = 1 - Math.exp(-s / (algo === 'prpo' ? 25 : 35));
    rows.push({
      step: s,
      reward: 0.3 + 0.55 * p + 0.08 * (r() - 0.5),
      accuracy: 0.25 + 0.6 * p + 0.08 * (r() - 0.5),
      valAccuracy: s % 10 === 0 ? 0.25 + 0.55 * p : undefined,
      loss: 0.4 * Math.exp(-s / 30) + 0.05 * r(),
      pgLoss: 0.3 * Math.exp(-s / 30) + 0.04 * r(),
      entropyLoss: 0.05 + 0.02 * r(),
      klLoss: 0.01 * p,
      entropy: 1.8 - 0.8 * p + 0.1 * r(),
      dependencySparsity: 0.12 + 0.05 * r(),
      aurocS: 0.7 + 0.1 * p,
      aurocG: 0.75 + 0.12 * p,
      aurocU: 0.55 + 0.05 * r(),
      aurocRvd: 0.8 + 0.12 * p,
      timeSampleMs: 900 + 100 * r(),
      timeProbeMs: 280 + 40 * r(),
      timeUpdateMs: 600 + 60 * r(),
      timeStepMs: 1800 + 150 * r(),
    });
  }
  return rows;
}

async function shapesImage(page: Page): Promise<string> {
  return page.evaluate(() => {
    const c = document.createElement('canvas');
    c.width = c.height = 64;
    const g = c.getContext('2d')!;
    g.fillStyle = '#fff';
    g.fillRect(0, 0, 64, 64);
    g.strokeStyle = '#ccc';
    for (let i = 0; i <= 64; i += 16) {
      g.beginPath(); g.moveTo(i, 0); g.lineTo(i, 64); g.moveTo(0, i); g.lineTo(64, i); g.stroke();
    }
    g.fillStyle = '#d62728'; g.beginPath(); g.arc(8, 8, 6, 0, 7); g.fill();
    g.fillStyle = '#1f77b4'; g.fillRect(18, 34, 12, 12);
    g.fillStyle = '#2ca02c'; g.beginPath(); g.moveTo(56, 34); g.lineTo(50, 46); g.lineTo(62, 46); g.fill();
    g.fillStyle = '#d62728'; g.fillRect(34, 50, 12, 12);
    return c.toDataURL('image/png');
  });
}

async function main(): Promise<void> {
  mkdirSync(outDir, { recursive: true });
  await preparePage();
  const server = await serve();
  const browser = await chromium.launch({ executablePath: process.env.PRPO_CHROMIUM ?? '/usr/bin/chromium', headless: true, args: ['--no-sandbox', '--disable-gpu'] });
  const failures: string[] = [];
  for (const theme of ['dark', 'light']) {
    const page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(String(e)));
    page.on('dialog', (d) => {
      failures.push(`a dialog opened: ${d.message()}`);
      void d.dismiss();
    });
    await page.addInitScript({
      content: `window.__name = (f) => f; window.__initialStep = 7; window.__simSetup = { status: 'stopped', steps: [[7, 16, 4, 90, 'images/train-000007.png'], [8, 1, 1, 20000]], hostileStep: 9 };`,
    });
    await page.goto(`${server.url}/.test-output/webview-bench/trajectory-${theme}.html`);
    await page.evaluate((url) => (window as any).__sim.setImage('images/train-000007.png', url), await shapesImage(page));
    await page.evaluate(() => (window as any).prpoTrajectory.loadStep(8));
    await page.evaluate(() => (window as any).prpoTrajectory.loadStep(7));
    await page.waitForSelector('.tok');
    await page.waitForTimeout(300);
    await page.screenshot({ path: join(outDir, `trajectory-${theme}.png`) });
    // Hover a token: the card.
    const tok = page.locator('.rollout').nth(1).locator('.tok').nth(5);
    await tok.hover();
    await page.waitForSelector('.hover-card:not([hidden])');
    await page.screenshot({ path: join(outDir, `hover-${theme}.png`) });
    // Keyboard: Tab to the tokens, arrows move the cursor token and its card.
    await page.mouse.move(5, 5);
    await page.locator('.rollout').first().locator('.tokens').focus();
    await page.keyboard.press('ArrowRight');
    await page.keyboard.press('ArrowRight');
    const kb = await page.locator('.hover-card:not([hidden]) .hc-sub').innerText().catch(() => '');
    if (!/token 2 of/.test(kb)) failures.push(`${theme}: keyboard navigation shows "${kb}"`);
    await page.keyboard.press('Escape');
    // Diverging signal, perturbed view.
    await page.evaluate(() => (window as any).prpoTrajectory.setSignal('tokenAdvantage'));
    await page.locator('.image-view-button[data-view="perturbed"]').first().click();
    await page.mouse.move(5, 5);
    await page.waitForTimeout(200);
    await page.screenshot({ path: join(outDir, `advantage-${theme}.png`) });
    // Hostile tokens.
    await page.evaluate(() => (window as any).prpoTrajectory.loadStep(9));
    await page.waitForFunction(() => (window as any).prpoTrajectory.step === 9);
    await page.waitForTimeout(200);
    await page.screenshot({ path: join(outDir, `hostile-${theme}.png`) });
    const text = await page.locator('.tokens').first().innerText();
    for (const literal of ['<img src=x onerror=alert(1)>', '</script><script>alert(2)</script>', '⟨U+202E⟩evil⟨U+202C⟩', '⟨U+0000⟩', '<b>bold</b>']) {
      if (!text.includes(literal)) failures.push(`${theme}: hostile token not shown literally: ${literal}`);
    }
    if (await page.locator('.tokens img, .tokens script, .tokens b, .prompt-body script').count()) failures.push(`${theme}: markup from a token reached the DOM`);
    const violations = await page.evaluate(() => (window as any).prpoCspViolations as string[]);
    if (violations.length) failures.push(`${theme}: CSP violations: ${violations.join(' | ')}`);
    if (errors.length) failures.push(`${theme}: page errors: ${errors.join(' | ')}`);
    // Charts, one run and two overlaid.
    const charts = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    await charts.addInitScript({ content: `window.__name = (f) => f;` });
    await charts.goto(`${server.url}/.test-output/webview-bench/charts-${theme}.html`);
    await charts.evaluate(() => undefined);
    await charts.close();
    for (const runs of [1, 2]) {
      const cp = await browser.newPage({ viewport: { width: 1280, height: 900 } });
      const setup = [
        { id: 'r1', name: 'prpo-shapes-seed1', algorithm: 'prpo', status: 'running', rows: metrics(80, 7, 'prpo') },
        { id: 'r2', name: 'grpo-shapes-seed1', algorithm: 'grpo', status: 'completed', rows: metrics(100, 11, 'grpo') },
      ].slice(0, runs);
      await cp.addInitScript({ content: `window.__name = (f) => f;` });
      await cp.goto('about:blank');
      await cp.goto(`${server.url}/.test-output/webview-bench/charts-${theme}.html?runs=${runs}`);
      await cp.evaluate((s) => {
        (window as any).__sim.setChartRuns(s);
        window.postMessage({ method: 'charts/init', params: { runs: s } }, '*');
      }, setup);
      await cp.waitForSelector('.chart-card canvas');
      await cp.waitForTimeout(300);
      await cp.screenshot({ path: join(outDir, `charts-${runs}-${theme}.png`) });
      await cp.close();
    }
    await page.close();
  }
  await browser.close();
  server.close();
  if (failures.length) {
    console.error(failures.join('\n'));
    process.exit(1);
  }
  console.log(`screenshots in ${outDir}; hostile tokens shown literally, nothing ran`);
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});

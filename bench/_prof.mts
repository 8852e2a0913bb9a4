import { chromium } from 'playwright-core';
import { preparePage, serve } from './webview-bench';
const which = process.argv[2] ?? '20k';
await preparePage();
const server = await serve();
const browser = await chromium.launch({ executablePath: '/usr/bin/chromium', headless: true, args: ['--no-sandbox', '--disable-gpu'] });
const page = await browser.newPage({ viewport: { width: 1400, height: 900 } });
await page.addInitScript({ content: `window.__name = (f) => f; window.__initialStep = 5; window.__simSetup = { status: 'stopped', steps: [[1, 1, 1, 20000], [2, 1, 1, 20000], [3, 1000, 8, 200], [4, 1000, 8, 200], [5, 16, 8, 120]] };` });
await page.goto(`${server.url}/.test-output/webview-bench/trajectory-dark.html`);
await page.waitForFunction(() => (window as any).__sim.perf().some((e: any) => e.name === 'trajectory.firstPaint'));
const cdp = await page.context().newCDPSession(page);
await cdp.send('Profiler.enable');
await cdp.send('Profiler.setSamplingInterval', { interval: 100 });
await cdp.send('Profiler.start');
const steps = which === '20k' ? [1, 2, 1, 2] : which === 'scroll' ? [1] : which === 'scroll1k' ? [3] : [3, 4, 3, 4];
for (const s of steps) {
  const n = await page.evaluate(() => (window as any).__sim.perf().filter((e: any) => e.name === 'trajectory.firstPaint').length);
  await page.evaluate((s) => (window as any).prpoTrajectory.loadStep(s), s);
  await page.waitForFunction((n) => (window as any).__sim.perf().filter((e: any) => e.name === 'trajectory.firstPaint').length > n, n);
}
if (which.startsWith('scroll')) {
  const frames = await page.evaluate(() => new Promise<number[]>((resolve) => {
    const list = document.querySelector('.list') as HTMLElement; const times: number[] = []; let last = performance.now(); let n = 0;
    const step = () => { const now = performance.now(); times.push(now - last); last = now; list.scrollTop += 900; if (++n < 100) requestAnimationFrame(step); else resolve(times.slice(1)); };
    requestAnimationFrame(step); }));
  frames.sort((a,b)=>a-b); console.log('frames median', frames[frames.length>>1].toFixed(1), 'p95', frames[Math.floor(frames.length*0.95)].toFixed(1));
}
const { profile } = await cdp.send('Profiler.stop');
const self = new Map<string, number>();
const dt = profile.timeDeltas!;
const byId = new Map(profile.nodes.map((n: any) => [n.id, n]));
const counts = new Map<number, number>();
profile.samples!.forEach((id: number, i: number) => counts.set(id, (counts.get(id) ?? 0) + dt[i]));
for (const [id, us] of counts) {
  const n: any = byId.get(id);
  const key = `${n.callFrame.functionName || '(anon)'} ${n.callFrame.url.split('/').pop()}:${n.callFrame.lineNumber}`;
  self.set(key, (self.get(key) ?? 0) + us / 1000);
}
console.log([...self.entries()].sort((a, b) => b[1] - a[1]).slice(0, 25).map(([k, v]) => `${v.toFixed(1)}ms ${k}`).join('\n'));
console.log(await page.evaluate(() => (window as any).__sim.perf().filter((e: any) => e.name.startsWith('trajectory')).map((e: any) => `${e.name} ${e.ms.toFixed(1)}`).join('\n')));
await browser.close(); server.close();

// Issue #16 item 6 in real VS Code: a lone 20,000-token rollout takes the width it needs, and the list's height
// estimate is corrected as parts render — a drag of the scrollbar to the bottom lands on the last token, and the
// scrollbar's length stays true to the text (it had been estimated at 22k px for 39k px of text).
import assert from 'node:assert/strict';
import type { FrameLocator } from 'playwright-core';
import { scenario } from '../harness/studio';
import { until } from '../suite/scenarioHelpers';
import { openTrajectory, DARK } from './webviewHelpers';

/** 20,000 tokens of mixed lengths, a line break now and then, and a last token that can be found. */
function longTokens(n = 20_000): string[] {
  const words = [' the', ' triangle', ' is', ' near', ' cell', ' B2', ',', ' and', ' a', ' crimson', ' square', ' sits', ' below', ' it', '.', ' Therefore'];
  const tokens = Array.from({ length: n - 1 }, (_, i) => (i % 173 === 172 ? '\n' : words[(i * 7 + (i >> 3)) % words.length]));
  tokens.push(' FINAL');
  return tokens;
}

interface ListFacts {
  scrollTop: number;
  scrollHeight: number;
  clientHeight: number;
  listWidth: number;
  cardWidth: number;
  /** The last token's span, if built, and whether it lies inside the list's viewport. */
  last?: { text: string; inView: boolean };
}

const facts = (webview: FrameLocator): Promise<ListFacts> =>
  webview.locator('.list').evaluate((list) => {
    const card = list.querySelector('.rollout') as HTMLElement;
    const spans = list.querySelectorAll('.tok');
    const lastSpan = [...spans].find((s) => (s as HTMLElement & { k: number }).k === 19_999) as HTMLElement | undefined;
    const box = list.getBoundingClientRect();
    const r = lastSpan?.getBoundingClientRect();
    return {
      scrollTop: list.scrollTop,
      scrollHeight: list.scrollHeight,
      clientHeight: list.clientHeight,
      listWidth: list.clientWidth,
      cardWidth: card.getBoundingClientRect().width,
      last: lastSpan && r ? { text: lastSpan.textContent ?? '', inView: r.top >= box.top - 1 && r.bottom <= box.bottom + 1 } : undefined,
    };
  });

/** Frames settle: two animation frames and a pause, so observers have run. */
const settle = (webview: FrameLocator, ms = 800): Promise<void> =>
  webview.locator('body').evaluate((_, ms) => new Promise<void>((res) => requestAnimationFrame(() => requestAnimationFrame(() => setTimeout(res, ms)))), ms);

scenario(
  'a lone 20,000-token rollout: full width, a drag to the bottom lands on the last token, a true scrollbar',
  { settings: DARK, runs: [{ steps: 1, rollouts: 1, tokens: longTokens() }], timeoutMs: 300_000 },
  async ({ workbench, screenshot }) => {
    const webview = await openTrajectory(workbench);
    await settle(webview);
    const start = await facts(webview);
    // The lone card takes the row (less the image column beside it), not a third of it.
    assert.ok(start.cardWidth > 0.7 * start.listWidth, `card ${start.cardWidth} px in a ${start.listWidth} px list`);
    const estimated = start.scrollHeight;

    // Drag the scrollbar to the bottom: one jump, then the parts there render.
    await webview.locator('.list').evaluate((list) => {
      list.scrollTop = list.scrollHeight;
    });
    await settle(webview, 1500);
    const end = await facts(webview);
    assert.ok(end.last, `the last token is built after the jump (scrollTop ${end.scrollTop} of ${end.scrollHeight})`);
    assert.equal(end.last!.text, ' FINAL');
    assert.ok(end.last!.inView, `the last token is in view at the bottom: ${JSON.stringify(end)}`);
    // The parts rendered at the bottom moved the end by less than a quarter of a screen.
    assert.ok(end.scrollHeight - (end.scrollTop + end.clientHeight) < end.clientHeight / 4, `the landing is at the end once rendered: ${JSON.stringify(end)}`);
    // At the very bottom now (scrollTop at its max), the last token is on screen too.
    await webview.locator('.list').evaluate((list) => {
      list.scrollTop = list.scrollHeight;
    });
    await settle(webview, 500);
    const bottom = await facts(webview);
    assert.ok(bottom.scrollTop + bottom.clientHeight >= bottom.scrollHeight - 2 && bottom.last?.inView, `at the bottom, the last token shows: ${JSON.stringify(bottom)}`);
    await screenshot('bottom-of-20000-tokens');

    // Read the whole text from the top, a screen at a time: every part is then built once and keeps its real
    // height, so scrollHeight is the real one. The estimate at opening was within a few per cent of it.
    await webview.locator('.list').evaluate((list) => {
      list.scrollTop = 0;
    });
    await settle(webview, 300);
    for (;;) {
      const done = await webview.locator('.list').evaluate(
        (list) =>
          new Promise<boolean>((res) => {
            list.scrollTop += list.clientHeight;
            requestAnimationFrame(() => requestAnimationFrame(() => res(list.scrollTop + list.clientHeight >= list.scrollHeight - 2)));
          }),
      );
      if (done) break;
    }
    await settle(webview, 1000);
    const real = await until('the real height, built part by part', async () => {
      const f = await facts(webview);
      return f.last?.inView ? f.scrollHeight : undefined;
    }, 30_000);
    const off = Math.abs(estimated - real) / real;
    console.log(`20,000 tokens: height at opening ${estimated} px, real ${real} px (${(off * 100).toFixed(1)} % off); after the jump ${end.scrollHeight - (end.scrollTop + end.clientHeight)} px from the end`);
    assert.ok(off < 0.05, `the height at opening ${estimated} px vs the real ${real} px: ${(off * 100).toFixed(1)} % off`);
  },
);

// The trajectory view in real VS Code, in a dark and a light theme: highlighted tokens, the hover card with
// every per-token field, switching the colour signal, a filter, the image views.
import assert from 'node:assert/strict';
import { scenario } from '../harness/studio';
import { chooseOption, cspOf, openTrajectory, switchTheme, themeColours, waitForWebviewTheme, CONTRAST_BORDER, DARK, HC_DARK, HIGH_CONTRAST, LIGHT } from './webviewHelpers';

for (const [theme, settings] of [['dark', DARK], ['light', LIGHT]] as const) {
  scenario(`trajectory view (${theme}): coloured tokens, hover card, signal switch, filter`, { settings, runs: [{ steps: 3 }] }, async ({ workbench, screenshot }) => {
    const webview = await openTrajectory(workbench);

    // Tokens are coloured on the default signal (RVD, sequential) and the legend says so.
    await webview.locator('.tok.s1, .tok.s2, .tok.s3, .tok.s4, .tok.s5, .tok.s6, .tok.s7, .tok.s8').first().waitFor({ timeout: 30_000 });
    assert.match(await webview.locator('.legend-title').innerText(), /RVD/);
    assert.equal(await webview.locator('.group').count(), 2, 'two GRPO groups side by side');
    assert.equal(await webview.locator('.rollout').count(), 4);
    // The task image is drawn (the canvas got the PNG's size).
    await webview.locator('.image-caption', { hasText: 'The task image' }).first().waitFor({ timeout: 15_000 });
    await assertCanvasDrawn(webview);
    await screenshot(`tokens-${theme}`);

    // The hover card lists every per-token field of ALGORITHMS.md §7.
    await webview.locator('.rollout').first().locator('.tok').nth(3).hover();
    const card = webview.locator('.hover-card:not([hidden])');
    await card.waitFor({ timeout: 10_000 });
    const text = await card.innerText();
    // The top alternatives come after the first paint (GetAlternativesRequest), in time for a hover.
    for (const f of ['crimson', 'id ', 'log p (image)', 'log p (blind)', 'log p (perturbed)', 'log p (mild)', 'S', 'G', 'U', 'RVD', 'Aᵢ', 'αᵢ', 'wₜ', 'mₜ', 'Ãᵢₜ', 'perceptual', 'Top alternatives', 'scarlet']) {
      assert.ok(text.includes(f), `hover card shows ${f}: ${text}`);
    }
    await screenshot(`hover-${theme}`);

    // Switch to the reshaped advantage: a diverging scale (blue below zero, orange above).
    await webview.locator('.toolbar').hover();
    await chooseOption(webview, '.signal-select', 'Ã (reshaped token advantage)');
    await webview.locator('.tok.dp1, .tok.dp2, .tok.dp3, .tok.dp4, .tok.dp5, .tok.dp6, .tok.dp7, .tok.dp8').first().waitFor({ timeout: 10_000 });
    assert.ok((await webview.locator('[class*="tok dn"]').count()) > 0, 'negative advantages are coloured too');
    assert.match(await webview.locator('.legend-title').innerText(), /Ã/);
    // The perturbed view of the image, labelled as an illustration.
    await webview.locator('.image-view-button[data-view="perturbed"]').first().click();
    assert.match(await webview.locator('.image-caption').first().innerText(), /illustration/);
    await screenshot(`advantage-${theme}`);

    // Filter: only correct rollouts.
    await chooseOption(webview, '.correct-select', 'Correct');
    await webview.locator('.badge.bad').first().waitFor({ state: 'detached', timeout: 10_000 });
    assert.equal(await webview.locator('.rollout').count(), 2);
    assert.match(await webview.locator('.status-line').innerText(), /showing 2/);
    // Step picker: the previous step.
    await webview.locator('.step-prev').click();
    await webview.locator('.status-line', { hasText: 'Step 2 ·' }).waitFor({ timeout: 10_000 });
    await screenshot(`filtered-${theme}`);

    const csp = await cspOf(webview);
    assert.match(csp, /default-src 'none'/);
    assert.match(csp, /script-src 'nonce-[A-Za-z0-9]+'/);
    assert.doesNotMatch(csp, /unsafe-inline|unsafe-eval/);
  });
}

async function assertCanvasDrawn(webview: import('playwright-core').FrameLocator): Promise<void> {
  const size = await webview.locator('canvas.task-image').first().evaluate((c: HTMLCanvasElement) => [c.width, c.height]);
  assert.ok(size[0] > 0 && size[0] !== 300, `image drawn (canvas ${size})`);
}

// Both high-contrast themes in one scenario (the theme switched live, as a user does): the cards' and the
// legend's borders take the theme's contrast border, coloured tokens are outlined with it, and the scale runs
// away from the background in each (viridis dark → light on black, light → dark on white).
scenario('trajectory view (high-contrast dark and light): contrast borders, outlined scale, hover card', { settings: HC_DARK, runs: [{ steps: 3 }] }, async ({ workbench, page, screenshot }) => {
  const webview = await openTrajectory(workbench);
  await webview.locator('.tok.s1, .tok.s2, .tok.s3, .tok.s4, .tok.s5, .tok.s6, .tok.s7, .tok.s8').first().waitFor({ timeout: 30_000 });
  for (const [kind, settings] of HIGH_CONTRAST) {
    if (kind === 'hc-light') await switchTheme(workbench, settings);
    await waitForWebviewTheme(webview, kind);
    const coloured = '.tok.s1, .tok.s2, .tok.s3, .tok.s4, .tok.s5, .tok.s6, .tok.s7, .tok.s8';
    // Back to the default signal (RVD) after the previous theme's advantage screenshot.
    await webview.locator('body').evaluate(() => (window as unknown as { prpoTrajectory: { setSignal(id: string): void } }).prpoTrajectory.setSignal('rvd'));
    await webview.locator(coloured).first().waitFor({ timeout: 10_000 });
    const t = await themeColours(webview, { '.rollout': 'border-top-color', '.legend-bar': 'border-top-color', [coloured]: 'outline-color', '.hover-card': 'border-top-color' });
    assert.equal(t.contrastBorder, CONTRAST_BORDER[kind], `${kind}: the theme's contrast border`);
    for (const css of ['.rollout', '.legend-bar', coloured, '.hover-card']) assert.equal(t.colours[css], CONTRAST_BORDER[kind], `${kind}: ${css} takes the contrast border`);
    // The strongest bin is the one furthest from the background: yellow on black, dark purple on white.
    const strongest = await webview.locator('body').evaluate((body) => getComputedStyle(body).getPropertyValue('--seq-8').trim());
    assert.equal(strongest, kind === 'hc-dark' ? '#fde725' : '#482878', `${kind}: the scale's far end`);
    await page.mouse.move(2, 2);
    await screenshot(`tokens-${kind}`);
    await webview.locator('.rollout').first().locator('.tok').nth(3).hover();
    const card = webview.locator('.hover-card:not([hidden])');
    await card.waitFor({ timeout: 10_000 });
    assert.match(await card.innerText(), /RVD/);
    await screenshot(`hover-${kind}`);
    // The diverging scale (blue below zero, orange above) in the same theme.
    await webview.locator('.toolbar').hover();
    await chooseOption(webview, '.signal-select', 'Ã (reshaped token advantage)');
    await webview.locator('.tok.dp1, .tok.dp2, .tok.dp3, .tok.dp4, .tok.dp5, .tok.dp6, .tok.dp7, .tok.dp8').first().waitFor({ timeout: 10_000 });
    await screenshot(`advantage-${kind}`);
  }
});

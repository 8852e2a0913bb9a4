// Hostile model output in the trajectory view: markup, a closing script tag, bidi overrides and control
// characters show literally (escaped codepoints for the invisible ones) and nothing runs.
import assert from 'node:assert/strict';
import { scenario } from '../harness/studio';
import { cspOf, openTrajectory } from './webviewHelpers';

const HOSTILE = [
  'Look',
  '<img src=x onerror="document.title=\'pwned\'">',
  '</script><script>document.title="pwned"</script>',
  ' \u202Eevil\u202C',
  ' a\u2066b\u2069',
  ' \u0000\u0007\u001b[31m',
  '\u200B',
  ' <b>bold</b>',
  ' &lt;x&gt;',
  '\r\n',
  ' end',
];

scenario('hostile tokens show literally and nothing runs', { runs: [{ tokens: HOSTILE, steps: 1 }] }, async ({ workbench, page, screenshot }) => {
  const dialogs: string[] = [];
  page.on('dialog', (d) => {
    dialogs.push(d.message());
    void d.dismiss();
  });
  const webview = await openTrajectory(workbench);
  const tokens = webview.locator('.rollout').first().locator('.tokens');
  const text = await tokens.innerText();
  for (const literal of [
    '<img src=x onerror="document.title=\'pwned\'">',
    '</script><script>document.title="pwned"</script>',
    '⟨U+202E⟩evil⟨U+202C⟩',
    'a⟨U+2066⟩b⟨U+2069⟩',
    '⟨U+0000⟩⟨U+0007⟩⟨U+001B⟩[31m',
    '⟨U+200B⟩',
    '<b>bold</b>',
    '&lt;x&gt;',
    '⟨U+000D⟩↵',
  ]) {
    assert.ok(text.includes(literal), `shows ${JSON.stringify(literal)} literally in ${JSON.stringify(text)}`);
  }
  // No markup from the data reached the DOM, and no raw bidi/control character is in the rendered text.
  assert.equal(await webview.locator('.tokens img, .tokens script, .tokens b, .hover-card img').count(), 0);
  assert.doesNotMatch(text, /[\u202A-\u202E\u2066-\u2069\u0000-\u0008\u000B\u000C\u000E-\u001F]/);
  // The hover card shows the token literally too.
  await tokens.locator('.tok').nth(1).hover();
  const card = webview.locator('.hover-card:not([hidden])');
  await card.waitFor({ timeout: 10_000 });
  assert.ok((await card.innerText()).includes('<img src=x onerror='));
  assert.equal(await webview.locator('body').evaluate(() => document.title), 'Trajectory · Fixture PRPO-R run');
  assert.doesNotMatch(await page.title(), /pwned/);
  assert.deepEqual(dialogs, []);
  // The policy blocked nothing: our own scripts and styles live within it, and the data tried nothing that ran.
  assert.deepEqual(await webview.locator('body').evaluate(() => (window as unknown as { prpoCspViolations: string[] }).prpoCspViolations), []);
  const csp = await cspOf(webview);
  assert.match(csp, /default-src 'none'/);
  assert.doesNotMatch(csp, /unsafe-inline/);
  await screenshot('hostile');
});

// Hostile model output in the trajectory view: markup, a closing script tag, bidi overrides and control
// characters show literally (escaped codepoints for the invisible ones) and nothing runs — in a fixture run and
// in a run the PyTorch backend's writer wrote.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { scenario } from '../harness/studio';
import { writeHostileRuns } from '../../unit/untrusted/hostileRuns';
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

// A run the PyTorch backend's writer wrote (python/src/prpo_studio/run): run.json says backend "pytorch", its
// tokens are a real tokenizer's pieces ('Ġ' and '▁' prefixes) holding hostile payloads, and its name holds
// markup and a bidi override.
let pytorchRun = '';
scenario(
  'a PyTorch-written run: hostile tokens show literally in the trajectory view and nothing runs',
  { runs: [], setup: (workspaceDir) => void (pytorchRun = writeHostileRuns(join(workspaceDir, 'runs'), true).pytorch) },
  async ({ workbench, page, screenshot }) => {
    assert.equal(JSON.parse(readFileSync(join(pytorchRun, 'run.json'), 'utf8')).model.config.backend, 'pytorch');
    const dialogs: string[] = [];
    page.on('dialog', (d) => {
      dialogs.push(d.message());
      void d.dismiss();
    });
    const webview = await openTrajectory(workbench, /^\s*PyTorch run <script>document\.title="pwned"<\/script> ⟨U\+202E⟩evil⟨U\+202C⟩/);
    const tokens = webview.locator('.rollout').first().locator('.tokens');
    const text = await tokens.innerText();
    for (const literal of [
      'Ġ<script>document.title="pwned"</script>',
      '▁<img src=x onerror="document.title=\'pwned\'">',
      'Ġ<b>bold</b>',
      '&lt;x&gt;',
      '▁⟨U+202E⟩evil⟨U+202C⟩',
      'Ġ⟨U+0000⟩⟨U+0007⟩⟨U+001B⟩[31m⟨U+0085⟩⟨U+009B⟩',
      '▁zero⟨U+200B⟩width⟨U+200D⟩⟨U+FEFF⟩',
      'Ġ$(alert)',
      '▁[x](command:workbench.action.terminal.new)',
      'Ġ${process.exit()}',
      '▁{{constructor.constructor("alert(1)")()}}',
    ]) {
      assert.ok(text.includes(literal), `shows ${JSON.stringify(literal)} literally in ${JSON.stringify(text)}`);
    }
    assert.equal(await webview.locator('.tokens img, .tokens script, .tokens b, .tokens a, .hover-card img, .hover-card script').count(), 0);
    assert.doesNotMatch(text, /[\u202A-\u202E\u2066-\u2069\u0000-\u0008\u000B\u000C\u000E-\u001F\u0080-\u009F\u200B\u200D\uFEFF]/);
    // The hover card of the <img onerror> token shows it as text.
    await tokens.locator('.tok').nth(2).hover();
    const card = webview.locator('.hover-card:not([hidden])');
    await card.waitFor({ timeout: 10_000 });
    assert.ok((await card.innerText()).includes('▁<img src=x onerror='), await card.innerText());
    // Nothing ran: the payloads would have set the title to "pwned", opened a dialog or broken the policy.
    assert.notEqual(await webview.locator('body').evaluate(() => document.title), 'pwned');
    assert.notEqual(await page.title(), 'pwned');
    assert.deepEqual(dialogs, []);
    assert.deepEqual(await webview.locator('body').evaluate(() => (window as unknown as { prpoCspViolations: string[] }).prpoCspViolations), []);
    await screenshot('hostile-pytorch');
  },
);

// Starting a backend is a cancellable progress notification: Cancel kills the child process; a backend that
// does not answer within prpoStudio.backend.startupTimeout is given up on with an error. Uses the fake
// backend, told to take 60 s to answer its first request.
import assert from 'node:assert/strict';
import { existsSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { scenario } from '../harness/studio';
import { useFakeBackend } from '../suite/fakeBackendBundle';
import { showStudio, statusBarText, until } from '../suite/scenarioHelpers';

const pidFile = join(__dirname, '..', '..', '..', '.test-output', 'fake-backend', `startup-${process.pid}.pid`);
useFakeBackend({ FAKE_STARTUP_MS: '60000', FAKE_PID_FILE: pidFile });

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

scenario('cancelling the start-up of a backend kills it', { runs: [] }, async ({ workbench, page, runsDir, screenshot }) => {
  rmSync(pidFile, { force: true });
  await showStudio(workbench);
  // Nothing runs, so the run controls are not offered.
  await page.keyboard.press('F1');
  await page.locator('.quick-input-widget .quick-input-box input').fill('>PRPO Studio: Pause Run');
  await page.waitForTimeout(1000);
  assert.deepEqual((await workbench.quickInputLabels()).filter((l) => /Pause Run/.test(l)), [], 'Pause Run is hidden while nothing runs');
  await workbench.closeQuickInput();

  await workbench.runCommand('prpoStudio.startDefaultRun');
  const toast = page.locator('.notifications-toasts .notification-list-item', { hasText: 'starting the training backend' }).first();
  await toast.waitFor({ timeout: 30_000 });
  await until('the backend pid', async () => existsSync(pidFile));
  const pid = Number(readFileSync(pidFile, 'utf8'));
  assert.ok(alive(pid), 'the backend runs while it starts');
  assert.match(await statusBarText(workbench), /PRPO: starting/);
  await screenshot('starting-with-cancel');

  await toast.locator('.monaco-button', { hasText: 'Cancel' }).click();
  await until('the backend killed', async () => !alive(pid), 15_000);
  await until('the status bar cleared', async () => !/PRPO: starting/.test(await statusBarText(workbench)));
  assert.deepEqual(existsSync(runsDir) ? readdirSync(runsDir) : [], [], 'no run was created');
  await screenshot('cancelled');
});

scenario(
  'a backend that does not answer in time is given up on',
  { runs: [], settings: { 'prpoStudio.backend.startupTimeout': 5 } },
  async ({ workbench, screenshot }) => {
    rmSync(pidFile, { force: true });
    await showStudio(workbench);
    await workbench.runCommand('prpoStudio.startDefaultRun');
    const error = await workbench.waitForNotification(/did not answer within 5 s/, 30_000);
    assert.equal(error.severity, 'error');
    const pid = Number(readFileSync(pidFile, 'utf8'));
    await until('the backend killed', async () => !alive(pid), 15_000);
    await screenshot('startup-timeout');
  },
);

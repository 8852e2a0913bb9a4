// Headless Chromium (Debian's /usr/bin/chromium) driven by playwright-core, with a fresh profile inside the
// launch's run folder. Playwright starts the browser in its own process group and kills it when this process
// exits; close() is the normal path.
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { onCleanup } from './cleanup';

export const CHROMIUM = process.env.PRPO_CHROMIUM ?? '/usr/bin/chromium';

export const CHROMIUM_ARGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--disable-dev-shm-usage',
];

export interface BrowserSession {
  context: BrowserContext;
  page: Page;
  close(): Promise<void>;
}

export async function launchBrowser(profileDir: string, viewport = { width: 1400, height: 900 }): Promise<BrowserSession> {
  mkdirSync(profileDir, { recursive: true });
  const context = await chromium.launchPersistentContext(join(profileDir), {
    executablePath: CHROMIUM,
    headless: true,
    args: CHROMIUM_ARGS,
    viewport,
    timeout: 60_000,
  });
  let closed: Promise<void> | undefined;
  const close = onCleanup(
    'chromium',
    () =>
      (closed ??= (async () => {
        // Bounded, and the bound's timer is cleared: a pending timer would hold the scenario's process open.
        let timer: NodeJS.Timeout | undefined;
        await Promise.race([context.close().catch(() => undefined), new Promise<void>((r) => (timer = setTimeout(r, 10_000)))]);
        clearTimeout(timer);
      })()),
    () => undefined, // playwright's own exit hook kills the browser's process group
  );
  const page = context.pages()[0] ?? (await context.newPage());
  return { context, page, close };
}

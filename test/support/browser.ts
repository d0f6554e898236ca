import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type BrowserContext, chromium } from 'playwright-core';

/** Debian's Chromium (`apt-get install chromium`, as `.ci/run` does): no browser is downloaded at install time. */
export const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

/** Screenshots the browser tests keep for a reviewer (gitignored). */
export const ARTIFACTS_DIR = join(process.cwd(), 'test-results', 'console');

/**
 * One headless Chromium for a whole test file, on a fresh profile that is removed afterwards; each test opens its own
 * page (its own session storage). Nothing it starts talks to the network beyond loopback.
 */
export async function launchBrowser(): Promise<{ context: BrowserContext; close: () => Promise<void> }> {
  if (!existsSync(CHROMIUM)) {
    throw new Error(
      `No Chromium at ${CHROMIUM}: run \`apt-get install -y chromium\` (as .ci/run does) or set CHROMIUM_PATH`,
    );
  }
  await mkdir(ARTIFACTS_DIR, { recursive: true });
  const profile = await mkdtemp(join(tmpdir(), 'console-chromium-'));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    viewport: { width: 1280, height: 900 },
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      // The pages of one site share a renderer process (each test still opens a page of its own, with its own session
      // storage): 2 renderers instead of 7 in console.test.ts, whose Chromium took 8.3 s of CPU instead of 8.7-9.4 s
      // (two interleaved pairs, load 9-11).
      '--renderer-process-limit=1',
      '--process-per-site',
    ],
  });
  return {
    context,
    close: async () => {
      await context.close();
      await rm(profile, { recursive: true, force: true });
    },
  };
}

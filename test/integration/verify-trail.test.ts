import { execFile } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestRuntime, type TestRuntime } from '#test/support/local-runtime';

/** `npm run verify-trail`: an auditor recomputes the chain of a saved view outside the service. */

const run = promisify(execFile);
const script = new URL('../../infra/local/verify-trail.ts', import.meta.url).pathname;
let t: TestRuntime;
let view: any;

beforeAll(async () => {
  t = await startTestRuntime();
  t.referralRock.addMember({ email: 'verify@example.com' });
  view = await t.erase({ email: 'verify@example.com', reference: 'DSR-7' });
});
afterAll(() => t.stop());

async function verify(saved: unknown, ...args: string[]) {
  const file = join(t.dataDir, `view-${Math.random()}.json`);
  await writeFile(file, JSON.stringify(saved));
  return run(process.execPath, [script, file, ...args]).then(
    ({ stdout }) => ({ code: 0, stdout }),
    (error: { code: number; stdout: string }) => ({ code: error.code, stdout: error.stdout }),
  );
}

describe('verify-trail', () => {
  it('accepts an untouched trail and its anchored head', async () => {
    const result = await verify(view, '--head', view.events.at(-1).hash);

    expect(result.code).toBe(0);
    expect(result.stdout).toContain('chain: valid');
    expect(result.stdout).toContain(`head: the anchored event is #${view.events.at(-1).seq} (the last)`);
  });

  it('rejects a trail whose event data was changed', async () => {
    const tampered = structuredClone(view);
    tampered.events[0].data.reference = 'DSR-8';

    const result = await verify(tampered);

    expect(result.code).toBe(1);
    expect(result.stdout).toContain('chain: BROKEN at event #1');
  });

  it('rejects a trail cut short, against the anchored head', async () => {
    const truncated = { ...view, events: view.events.slice(0, -1) };

    const result = await verify(truncated, '--head', view.events.at(-1).hash);

    expect(result.code).toBe(1);
    expect(result.stdout).toContain('head: NO event has the anchored hash');
  });
});

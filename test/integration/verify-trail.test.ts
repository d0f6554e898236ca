import { execFile } from 'node:child_process';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hashEvent, laneChainId } from '#shared/domain/chain';
import { chain } from '#test/support/lane-trail';
import { startTestRuntime, TEST_AUDIT_TOKEN, type TestRuntime } from '#test/support/local-runtime';

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
  await writeFile(file, typeof saved === 'string' ? saved : JSON.stringify(saved));
  return verifyTrail(file, ...args);
}

function verifyTrail(...args: string[]) {
  // No AUDIT_TOKENS or local secrets file of the caller's stands in for --token.
  const env = { ...process.env, AUDIT_TOKENS: '', XDG_CONFIG_HOME: t.dataDir };
  return run(process.execPath, [script, ...args], { cwd: t.dataDir, env }).then(
    ({ stdout, stderr }) => ({ code: 0, stdout, stderr }),
    (error: { code: number; stdout: string; stderr: string }) => ({
      code: error.code,
      stdout: error.stdout,
      stderr: error.stderr,
    }),
  );
}

/** One line on stderr, no stack. */
const oneLine = (stderr: string) => {
  expect(stderr.trimEnd().split('\n')).toHaveLength(1);
  expect(stderr).not.toMatch(/\n\s+at /);
  return stderr.trim();
};

describe('verify-trail', () => {
  it('answers --help with its usage on stdout and exit code 0, not as an unknown option', async () => {
    const result = await verifyTrail('--help');

    expect(result).toMatchObject({ code: 0, stderr: '' });
    expect(result.stdout).toMatch(/^Usage: npm run verify-trail -- FILE \| --url STATUS_URL/);
  });

  it('accepts an untouched trail and its anchored head', async () => {
    const result = await verify(view, '--head', view.events.at(-1).hash);

    expect(result.code).toBe(0);
    expect(result.stdout).toContain('chain: valid');
    expect(result.stdout).toContain(`head: the anchored event is #${view.events.at(-1).seq} (the last)`);
  });

  it('says whether the trail is sealed, and that one without its sealing event is still open', async () => {
    const open = structuredClone(view);
    open.events = open.events.filter((event: any) => event.type !== 'request.completed');

    const sealed = await verify(view);
    const unsealed = await verify(open);

    expect(sealed.stdout).toContain(`trail: sealed by #${view.events.at(-1).seq} request.completed`);
    expect(unsealed.code).toBe(0);
    expect(unsealed.stdout).toContain('chain: valid');
    expect(unsealed.stdout).toContain('trail: OPEN: no request.completed or request.canceled yet');
  });

  it('rejects a trail whose event data was changed', async () => {
    const tampered = structuredClone(view);
    tampered.events[0].data.reference = 'DSR-8';

    const result = await verify(tampered);

    expect(result.code).toBe(1);
    expect(result.stdout).toContain('chain: BROKEN at event #1');
  });

  it('verifies each lane of the trail, and rejects a trail whose lane event was changed', async () => {
    expect(view.lanes.map((l: any) => l.lane)).toContain('referralrock.members');
    const untouched = await verify(view);
    const tampered = structuredClone(view);
    const members = tampered.lanes.find((l: any) => l.lane === 'referralrock.members');
    members.events[0].data.count = 0;

    const result = await verify(tampered);

    expect(untouched.stdout).toContain('lane referralrock.members:');
    expect(untouched.stdout).toContain('chain: valid');
    expect(result.code).toBe(1);
    expect(result.stdout).toContain('chain: BROKEN at lane referralrock.members event #1');
  });

  it('rejects a trail with a lane cut off: the sealing event commits to its head', async () => {
    const cut = structuredClone(view);
    cut.lanes = cut.lanes.filter((l: any) => l.lane !== 'referralrock.members');
    const seal = view.events.at(-1);

    const result = await verify(cut);

    expect(result.code).toBe(1);
    expect(result.stdout).toContain(
      `chain: BROKEN: lane referralrock.members does not end at the head the sealing event #${seal.seq} commits to`,
    );
  });

  it('rejects a view that lists a lane twice: the listing checked against the seal would vouch for the other', async () => {
    // A second, self-consistent trail for the lane, listed before the real one (which the seal's head matches).
    const forged = chain(laneChainId(view.id, 'referralrock.members'), [
      ['action.recorded', { key: 'referralrock.members', outcome: 'not_found', count: 0 }],
    ]);
    const twice = structuredClone(view);
    twice.lanes.unshift({ lane: 'referralrock.members', chainId: forged[0]?.requestId, events: forged });

    const result = await verify(twice);

    expect(result.code).toBe(1);
    expect(result.stdout).toContain('chain: BROKEN: the view lists lane referralrock.members more than once');
  });

  it('checks a lane whatever the view names it, __proto__ included', async () => {
    const forged = chain(laneChainId(view.id, '__proto__'), [['action.recorded', { outcome: 'not_found' }]]);
    const odd = JSON.parse(JSON.stringify(view));
    odd.lanes.push({ lane: '__proto__', events: forged });

    const result = await verify(odd);

    expect(result.code).toBe(1);
    expect(result.stdout).toContain('chain: BROKEN: lane __proto__ does not end at the head the sealing event');
  });

  it('rejects an event put after the sealing event, though its link and hash hold', async () => {
    const seal = view.events.at(-1);
    const unsigned = {
      ...seal,
      seq: seal.seq + 1,
      type: 'request.extended',
      key: 'late',
      prevHash: seal.hash,
      data: {},
    };
    const late = { ...unsigned, hash: hashEvent({ ...unsigned, requestId: view.id }) };
    const added = structuredClone(view);
    added.events.push(late);

    const result = await verify(added);

    expect(result.code).toBe(1);
    expect(result.stdout).toContain(`chain: BROKEN: event #${late.seq} follows the sealing event: nothing may`);
  });

  it('rejects a trail cut short, against the anchored head', async () => {
    const truncated = { ...view, events: view.events.slice(0, -1) };

    const result = await verify(truncated, '--head', view.events.at(-1).hash);

    expect(result.code).toBe(1);
    expect(result.stdout).toContain('head: NO event has the anchored hash');
  });

  it('says in one line that the file is missing, and how to save a view', async () => {
    const result = await verifyTrail(join(t.dataDir, 'saved-view.json'));

    expect(result.code).toBe(1);
    expect(oneLine(result.stderr)).toMatch(/^No file .*saved-view\.json: save a request's view first/);
  });

  it('says that a saved error answer is not a view, and that a file is not JSON', async () => {
    const error = await verify({ error: { code: 'unauthorized', message: 'A valid bearer token is required' } });
    const garbage = await verify('<html>');

    expect(error.code).toBe(1);
    expect(oneLine(error.stderr)).toContain('holds an error answer (unauthorized: A valid bearer token is required)');
    expect(garbage.code).toBe(1);
    expect(oneLine(garbage.stderr)).toContain('is not JSON');
  });

  it('fetches the view with --url and --token, saves it, and verifies it', async () => {
    const statusUrl = `${t.runtime.url}/v1/erasure-requests/${view.id}`;
    const saved = join(t.dataDir, 'fetched.json');

    const result = await verifyTrail('--url', statusUrl, '--token', TEST_AUDIT_TOKEN, '--save', saved);
    const again = await verifyTrail(saved);

    expect(result.code).toBe(0);
    expect(result.stdout).toContain(`saved the view to ${saved}`);
    expect(result.stdout).toContain('chain: valid');
    expect(JSON.parse(await readFile(saved, 'utf8')).events).toEqual(view.events);
    expect(again.code).toBe(0);
  });

  it('says what the service answered when the token is refused', async () => {
    const statusUrl = `${t.runtime.url}/v1/erasure-requests/${view.id}`;

    const result = await verifyTrail('--url', statusUrl, '--token', 'not-a-token-of-this-service-at-all');

    expect(result.code).toBe(1);
    expect(oneLine(result.stderr)).toBe(
      `${statusUrl} answered 401: unauthorized: A valid bearer token is required: one of the AUDIT_TOKENS`,
    );
  });
});

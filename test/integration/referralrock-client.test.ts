import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createReferralRockClient, type ReferralRockClientConfig } from '#shared/adapters/referralrock/client';
import {
  ProviderAuthError,
  ProviderBadResponseError,
  ProviderError,
  ProviderRateLimitError,
  ProviderRequestError,
  ProviderUnavailableError,
} from '#shared/errors';
import { ReferralRockSimulator } from '#test/simulators/referralrock';
import { openRateBudget } from '#test/support/open-rate-budget';

const EMAIL = 'ann+gdpr@example.com';
const EXTERNAL_ID = 'crm-4242';

const sim = new ReferralRockSimulator();
let baseUrl: string;

beforeAll(async () => {
  baseUrl = await sim.start(0);
});

afterAll(() => sim.stop());

beforeEach(() => {
  sim.reset();
});

/** A client on the simulator whose sleeps return at once and are recorded, with jitter fixed at half the ceiling. */
function makeClient(config: Partial<ReferralRockClientConfig> = {}, now?: () => number) {
  const sleeps: number[] = [];
  const client = createReferralRockClient(
    // The real budget's spacing only where a test sets a rate limit: elsewhere the recorded sleeps are the retries'.
    {
      baseUrl,
      publicKey: 'demo-public',
      privateKey: 'demo-private',
      ...(config.rateLimit ? {} : { rateBudget: openRateBudget() }),
      ...config,
    },
    {
      sleep: async (ms) => {
        sleeps.push(ms);
      },
      random: () => 0.5,
      ...(now ? { now } : {}),
    },
  );
  return { client, sleeps };
}

const searches = (route: 'GET /api/members' | 'GET /api/referrals') =>
  sim.harness.requestsTo(route).map((r) => ({
    query: r.query.get('query'),
    offset: r.query.get('offset'),
    count: r.query.get('count'),
  }));

describe('ReferralRockClient.findMembers', () => {
  it('pages with offset and count until the total is reached, with Basic auth', async () => {
    const seeded = [1, 2, 3, 4, 5].map(() =>
      sim.addMember({ email: EMAIL, programId: sim.addProgram({ name: 'P' }).id }),
    );
    const { client } = makeClient({ pageSize: 2 });

    const members = await client.findMembers({ email: EMAIL });

    expect(members.map((m) => m.id)).toEqual(seeded.map((m) => m.id));
    expect(searches('GET /api/members')).toEqual([
      { query: EMAIL, offset: '0', count: '2' },
      { query: EMAIL, offset: '2', count: '2' },
      { query: EMAIL, offset: '4', count: '2' },
    ]);
    expect(sim.harness.requests[0]?.headers.authorization).toBe(
      `Basic ${Buffer.from('demo-public:demo-private').toString('base64')}`,
    );
  });

  it('stops on an empty page even when the total claims more', async () => {
    sim.harness.injectFault('GET /api/members', {
      kind: 'status',
      status: 200,
      body: { members: [], offset: 0, total: 10, message: null },
    });
    const { client } = makeClient({ pageSize: 2 });

    const members = await client.findMembers({ email: EMAIL });

    expect(members).toEqual([]);
    expect(sim.harness.requestsTo('GET /api/members')).toHaveLength(1);
  });

  it('keeps a member whose email differs only in case, and maps the port fields', async () => {
    const program = sim.addProgram({ name: 'Partners' });
    const upper = sim.addMember({ email: 'Ann+GDPR@Example.com', programId: program.id, externalIdentifier: 'x-1' });
    sim.addMember({ email: 'bob@example.com', programId: program.id });
    const { client } = makeClient();

    const members = await client.findMembers({ email: EMAIL });

    expect(members).toEqual([
      {
        id: upper.id,
        email: 'Ann+GDPR@Example.com',
        externalIdentifier: 'x-1',
        programId: program.id,
        programName: 'Partners',
      },
    ]);
  });

  it('drops near-matches when the search returns them (email merely containing the subject email)', async () => {
    sim.setSearchMatch('contains');
    const exact = sim.addMember({ email: EMAIL });
    sim.addMember({ email: `x${EMAIL}` });
    sim.addMember({ email: `${EMAIL}.evil.test` });
    const { client } = makeClient({ pageSize: 1 });

    const members = await client.findMembers({ email: EMAIL });

    expect(members.map((m) => m.id)).toEqual([exact.id]);
    // Three pages of one prove the search did return all three candidates.
    expect(searches('GET /api/members').map((s) => s.offset)).toEqual(['0', '1', '2']);
  });

  it('searches by external id and keeps only an exact external id', async () => {
    sim.setSearchMatch('contains');
    const exact = sim.addMember({ email: 'someone@example.com', externalIdentifier: EXTERNAL_ID });
    sim.addMember({ email: 'other@example.com', externalIdentifier: `${EXTERNAL_ID}0` });
    const { client } = makeClient();

    const members = await client.findMembers({ externalId: EXTERNAL_ID });

    expect(members.map((m) => m.id)).toEqual([exact.id]);
    expect(searches('GET /api/members').map((s) => s.query)).toEqual([EXTERNAL_ID]);
  });

  it('searches once per identifier and returns a member found by both only once', async () => {
    const both = sim.addMember({ email: EMAIL, externalIdentifier: EXTERNAL_ID });
    const byId = sim.addMember({ email: 'old-address@example.com', externalIdentifier: EXTERNAL_ID });
    const { client } = makeClient();

    const members = await client.findMembers({ email: EMAIL, externalId: EXTERNAL_ID });

    expect(members.map((m) => m.id)).toEqual([both.id, byId.id]);
    expect(searches('GET /api/members').map((s) => s.query)).toEqual([EMAIL, EXTERNAL_ID]);
  });

  it('finds the subject in every program and removes every one of those members', async () => {
    const programs = ['Alpha', 'Beta', 'Gamma'].map((name) => sim.addProgram({ name }));
    const records = programs.map((p) => sim.addMember({ email: EMAIL, programId: p.id }));
    const bystander = sim.addMember({ email: 'bob@example.com', programId: programs[0]?.id });
    const { client } = makeClient();

    const found = await client.findMembers({ email: EMAIL });
    const results = await client.removeMembers(found.map((m) => m.id));

    expect(found.map((m) => m.programName)).toEqual(['Alpha', 'Beta', 'Gamma']);
    expect(results).toEqual(records.map((m) => ({ id: m.id, deleted: true })));
    expect(sim.members().map((m) => m.id)).toEqual([bystander.id]);
    const [request] = sim.harness.requestsTo('DELETE /api/members/remove');
    expect(request?.method).toBe('DELETE');
    expect(request?.headers['content-type']).toMatch(/^application\/json/);
    expect(request?.body).toEqual(records.map((m) => ({ query: { primaryInfo: { memberId: m.id } } })));
  });

  it('rejects a search response of the wrong shape with ProviderBadResponseError', async () => {
    sim.harness.injectFault('GET /api/members', {
      kind: 'status',
      status: 200,
      body: { members: [{ id: 7, email: EMAIL }], total: 1 },
    });
    const { client } = makeClient();

    const error = await client.findMembers({ email: EMAIL }).catch((e: unknown) => e);

    expect(error).toBeInstanceOf(ProviderBadResponseError);
    expect(error).toMatchObject({ operation: 'members.search', retryable: false });
  });
});

describe('ReferralRockClient.findReferrals', () => {
  it("keeps the subject's own referral and leaves out, and never removes, the referrals the subject made", async () => {
    const alpha = sim.addProgram({ name: 'Alpha' });
    const beta = sim.addProgram({ name: 'Beta' });
    const subjectMember = sim.addMember({ email: EMAIL, programId: alpha.id });
    const referrer = sim.addMember({ email: 'carol@example.com', programId: beta.id });
    const own = sim.addReferral({ email: EMAIL, referringMemberId: referrer.id });
    const friends = ['bob@example.com', 'dan@example.com'].map((email) =>
      sim.addReferral({ email, referringMemberId: subjectMember.id }),
    );
    const { client } = makeClient({ pageSize: 2 });

    const found = await client.findReferrals({ email: EMAIL });
    const results = await client.removeReferrals(found.map((r) => r.id));

    expect(found).toEqual([
      { id: own.id, email: EMAIL, externalIdentifier: null, programId: beta.id, referringMemberId: referrer.id },
    ]);
    // Two pages of two: the search answered own referral plus both friends (total 3), and the client dropped the friends.
    expect(searches('GET /api/referrals')).toEqual([
      { query: EMAIL, offset: '0', count: '2' },
      { query: EMAIL, offset: '2', count: '2' },
    ]);
    expect(results).toEqual([{ id: own.id, deleted: true }]);
    expect(sim.harness.requestsTo('POST /api/referral/remove')[0]?.body).toEqual([
      { query: { primaryInfo: { referralId: own.id } } },
    ]);
    expect(sim.referrals().map((r) => r.id)).toEqual(friends.map((r) => r.id));
  });

  it('finds a referral by external id and de-duplicates one matched by both identifiers', async () => {
    const both = sim.addReferral({ email: EMAIL, externalIdentifier: EXTERNAL_ID });
    const byId = sim.addReferral({ email: 'old@example.com', externalIdentifier: EXTERNAL_ID });
    sim.addReferral({ email: 'bob@example.com', externalIdentifier: 'crm-1' });
    const { client } = makeClient();

    const found = await client.findReferrals({ email: EMAIL, externalId: EXTERNAL_ID });

    expect(found.map((r) => r.id)).toEqual([both.id, byId.id]);
    expect(searches('GET /api/referrals').map((s) => s.query)).toEqual([EMAIL, EXTERNAL_ID]);
  });
});

describe('ReferralRockClient remove', () => {
  it('sends nothing for an empty list', async () => {
    const { client } = makeClient();

    expect(await client.removeMembers([])).toEqual([]);
    expect(await client.removeReferrals([])).toEqual([]);
    expect(sim.harness.requests).toHaveLength(0);
  });

  it('splits removes into chunks of removeChunkSize and keeps results in input order', async () => {
    const members = [1, 2, 3, 4, 5].map(() => sim.addMember({ email: EMAIL }));
    const ids = members.map((m) => m.id);
    const { client } = makeClient({ removeChunkSize: 2 });

    const results = await client.removeMembers(ids);

    expect(results).toEqual(ids.map((id) => ({ id, deleted: true })));
    const bodies = sim.harness.requestsTo('DELETE /api/members/remove').map((r) => r.body);
    expect(bodies).toEqual(
      [ids.slice(0, 2), ids.slice(2, 4), ids.slice(4)].map((chunk) =>
        chunk.map((memberId) => ({ query: { primaryInfo: { memberId } } })),
      ),
    );
    expect(sim.members()).toEqual([]);
  });

  it('maps each result: only a case-insensitive Success is deleted, anything else carries its message', async () => {
    const ids = [
      '11111111-1111-1111-1111-111111111111',
      '22222222-2222-2222-2222-222222222222',
      '33333333-3333-3333-3333-333333333333',
    ];
    sim.harness.injectFault('DELETE /api/members/remove', {
      kind: 'status',
      status: 200,
      body: [
        { query: { primaryInfo: { memberId: ids[0] } }, resultInfo: { Status: 'SUCCESS', Message: 'done' } },
        {
          query: { primaryInfo: { memberId: ids[1] } },
          resultInfo: { Status: 'Failure', Message: 'Query matched more than one member' },
        },
        // The update endpoints' word for success; it is not the remove endpoints' "Success".
        { query: { primaryInfo: { memberId: ids[2] } }, resultInfo: { Status: 'Succeeded', Message: null } },
      ],
    });
    const { client } = makeClient();

    const results = await client.removeMembers(ids);

    expect(results).toEqual([
      { id: ids[0], deleted: true },
      { id: ids[1], deleted: false, message: 'Query matched more than one member' },
      { id: ids[2], deleted: false, message: 'status Succeeded' },
    ]);
  });

  it('reports an id that is already gone as not deleted, with the provider message', async () => {
    const member = sim.addMember({ email: EMAIL });
    const referral = sim.addReferral({ email: EMAIL });
    const { client } = makeClient();
    await client.removeMembers([member.id]);
    await client.removeReferrals([referral.id]);

    expect(await client.removeMembers([member.id])).toEqual([
      { id: member.id, deleted: false, message: 'Member not found' },
    ]);
    expect(await client.removeReferrals([referral.id])).toEqual([
      { id: referral.id, deleted: false, message: 'Referral not found' },
    ]);
  });

  it('rejects a result array whose length differs from the request', async () => {
    const a = sim.addReferral({ email: EMAIL });
    const b = sim.addReferral({ email: EMAIL });
    sim.harness.injectFault('POST /api/referral/remove', {
      kind: 'status',
      status: 200,
      body: [{ query: { primaryInfo: { referralId: a.id } }, resultInfo: { Status: 'Success', Message: '' } }],
    });
    const { client } = makeClient();

    const error = await client.removeReferrals([a.id, b.id]).catch((e: unknown) => e);

    expect(error).toBeInstanceOf(ProviderBadResponseError);
    expect(error).toMatchObject({ operation: 'referrals.remove', status: 200 });
  });

  it('rejects results whose echoed ids are out of request order', async () => {
    const [a, b] = ['aaaaaaaa-0000-0000-0000-000000000000', 'bbbbbbbb-0000-0000-0000-000000000000'];
    sim.harness.injectFault('DELETE /api/members/remove', {
      kind: 'status',
      status: 200,
      body: [
        { query: { primaryInfo: { memberId: b } }, resultInfo: { Status: 'Success', Message: '' } },
        { query: { primaryInfo: { memberId: a } }, resultInfo: { Status: 'Failure', Message: 'Member not found' } },
      ],
    });
    const { client } = makeClient();

    await expect(client.removeMembers([a as string, b as string])).rejects.toBeInstanceOf(ProviderBadResponseError);
  });
});

describe('ReferralRockClient resilience', () => {
  it('honours Retry-After on a 429, then succeeds', async () => {
    const member = sim.addMember({ email: EMAIL });
    sim.harness.injectFault('GET /api/members', { kind: 'status', status: 429, retryAfter: '1' });
    const { client, sleeps } = makeClient();

    const members = await client.findMembers({ email: EMAIL });

    expect(members.map((m) => m.id)).toEqual([member.id]);
    expect(sleeps).toEqual([1000]);
    expect(sim.harness.requestsTo('GET /api/members').map((r) => r.status)).toEqual([429, 200]);
  });

  it('backs off exponentially on a 429 without Retry-After, then succeeds', async () => {
    sim.addMember({ email: EMAIL });
    sim.harness.injectFault('GET /api/members', { kind: 'status', status: 429 }, 2);
    const { client, sleeps } = makeClient();

    const members = await client.findMembers({ email: EMAIL });

    expect(members).toHaveLength(1);
    // Full jitter at random() = 0.5 of the 250 ms, then 500 ms, ceilings.
    expect(sleeps).toEqual([125, 250]);
    expect(sim.harness.requestsTo('GET /api/members').map((r) => r.status)).toEqual([429, 429, 200]);
  });

  it('retries a 5xx, then succeeds', async () => {
    const referral = sim.addReferral({ email: EMAIL });
    sim.harness.injectFault('POST /api/referral/remove', { kind: 'status', status: 503 });
    const { client, sleeps } = makeClient();

    const results = await client.removeReferrals([referral.id]);

    expect(results).toEqual([{ id: referral.id, deleted: true }]);
    expect(sleeps).toEqual([125]);
    expect(sim.harness.requestsTo('POST /api/referral/remove').map((r) => r.status)).toEqual([503, 200]);
  });

  it('times out a hanging request, then succeeds', async () => {
    const referral = sim.addReferral({ email: EMAIL });
    sim.harness.injectFault('GET /api/referrals', { kind: 'hang' });
    const { client } = makeClient({ timeoutMs: 200 });

    const started = Date.now();
    const found = await client.findReferrals({ email: EMAIL });

    expect(found.map((r) => r.id)).toEqual([referral.id]);
    expect(Date.now() - started).toBeLessThan(5_000);
    expect(sim.harness.requestsTo('GET /api/referrals').map((r) => r.status)).toEqual([0, 200]);
  });

  it('retries after a connection reset, then succeeds', async () => {
    const member = sim.addMember({ email: EMAIL });
    sim.harness.injectFault('DELETE /api/members/remove', { kind: 'reset' });
    const { client } = makeClient();

    const results = await client.removeMembers([member.id]);

    expect(results).toEqual([{ id: member.id, deleted: true }]);
    expect(sim.harness.requestsTo('DELETE /api/members/remove')).toHaveLength(2);
  });

  it('gives up with ProviderUnavailableError after maxAttempts', async () => {
    sim.harness.injectFault('GET /api/members', { kind: 'status', status: 503 }, 3);
    const { client, sleeps } = makeClient({ retry: { maxAttempts: 3 } });

    const error = await client.findMembers({ email: EMAIL }).catch((e: unknown) => e);

    expect(error).toBeInstanceOf(ProviderUnavailableError);
    expect(error).toMatchObject({ operation: 'members.search', status: 503, attempts: 3, retryable: true });
    expect(sleeps).toEqual([125, 250]);
    expect(sim.harness.requestsTo('GET /api/members')).toHaveLength(3);
  });

  it('fails a 401 with ProviderAuthError without retrying', async () => {
    const { client, sleeps } = makeClient({ privateKey: 'wrong-private' });

    const error = await client.findMembers({ email: EMAIL }).catch((e: unknown) => e);

    expect(error).toBeInstanceOf(ProviderAuthError);
    expect(error).toMatchObject({ status: 401, attempts: 1, retryable: false });
    expect(sim.harness.requests).toHaveLength(1);
    expect(sleeps).toEqual([]);
  });

  it('spaces requests by the configured rate limit', async () => {
    const { client, sleeps } = makeClient({ rateLimit: { limit: 1, intervalMs: 1000 } }, () => 0);

    await client.findMembers({ email: EMAIL, externalId: EXTERNAL_ID });

    expect(sim.harness.requestsTo('GET /api/members')).toHaveLength(2);
    expect(sleeps).toHaveLength(1);
    expect(sleeps[0]).toBeCloseTo(1034, 6);
  });
});

describe('ReferralRockClient errors carry no personal data', () => {
  it('keeps the email, the external id and the URL out of every error', async () => {
    const subject = { email: EMAIL, externalId: EXTERNAL_ID };
    const errors: unknown[] = [];
    const capture = (promise: Promise<unknown>) =>
      promise.then(
        () => undefined,
        (e: unknown) => errors.push(e),
      );

    await capture(makeClient({ privateKey: 'wrong-private' }).client.findMembers(subject));
    sim.harness.injectFault('GET /api/referrals', { kind: 'status', status: 500 }, 2);
    await capture(makeClient({ retry: { maxAttempts: 2 } }).client.findReferrals(subject));
    sim.harness.injectFault('GET /api/members', { kind: 'hang' });
    await capture(makeClient({ timeoutMs: 100, retry: { maxAttempts: 1 } }).client.findMembers(subject));
    sim.harness.injectFault('GET /api/members', { kind: 'reset' });
    await capture(makeClient({ retry: { maxAttempts: 1 } }).client.findMembers(subject));
    sim.harness.injectFault('GET /api/members', { kind: 'status', status: 429, retryAfter: '3600' });
    await capture(makeClient().client.findMembers(subject));
    sim.harness.injectFault('GET /api/members', { kind: 'status', status: 400, body: { message: `bad ${EMAIL}` } });
    await capture(makeClient().client.findMembers(subject));
    sim.harness.injectFault('GET /api/members', {
      kind: 'status',
      status: 200,
      body: { members: [{ id: 1, email: EMAIL, externalIdentifier: EXTERNAL_ID }], total: 1 },
    });
    await capture(makeClient().client.findMembers(subject));

    expect(errors.map((e) => (e as Error).constructor)).toEqual([
      ProviderAuthError,
      ProviderUnavailableError,
      ProviderUnavailableError,
      ProviderUnavailableError,
      ProviderRateLimitError,
      ProviderRequestError,
      ProviderBadResponseError,
    ]);
    const forbidden = [EMAIL, encodeURIComponent(EMAIL), EXTERNAL_ID, baseUrl, 'query='];
    for (const error of errors) {
      expect(error).toBeInstanceOf(ProviderError);
      const { message, stack } = error as Error;
      const text = `${JSON.stringify(error)}\n${message}\n${stack}`;
      for (const value of forbidden) expect(text).not.toContain(value);
    }
  });
});

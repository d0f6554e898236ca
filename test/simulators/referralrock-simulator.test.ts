import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { ReferralRockSimulator } from './referralrock.ts';

const sim = new ReferralRockSimulator();
let baseUrl: string;
const auth = `Basic ${Buffer.from('demo-public:demo-private').toString('base64')}`;

beforeAll(async () => {
  baseUrl = await sim.start(0);
});

afterAll(() => sim.stop());

beforeEach(() => {
  sim.reset();
});

async function call(
  method: string,
  path: string,
  body?: unknown,
  headers: Record<string, string> = { authorization: auth },
): Promise<{ status: number; headers: Headers; json: unknown }> {
  const response = await fetch(`${baseUrl}${path}`, {
    method,
    headers: { ...headers, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    ...(body === undefined ? {} : { body: typeof body === 'string' ? body : JSON.stringify(body) }),
  });
  const text = await response.text();
  return { status: response.status, headers: response.headers, json: text === '' ? undefined : JSON.parse(text) };
}

const memberFields = [
  'id',
  'displayName',
  'firstName',
  'lastName',
  'email',
  'phone',
  'externalIdentifier',
  'programId',
  'programName',
  'programTitle',
  'referralCode',
  'referralUrl',
  'disabledFlag',
  'createDate',
];

const referralFields = [
  'id',
  'firstName',
  'lastName',
  'fullName',
  'email',
  'phoneNumber',
  'externalIdentifier',
  'programId',
  'programName',
  'referringMemberId',
  'referringMemberName',
  'memberEmail',
  'status',
  'createDate',
];

describe('Referral Rock simulator: search', () => {
  it('answers GET /api/members with { members, offset, total, message } and the documented member fields', async () => {
    const program = sim.addProgram({ name: 'Partners', title: 'Partner Program' });
    const member = sim.addMember({ email: 'ann@example.com', programId: program.id, externalIdentifier: 'crm-1' });

    const { status, json } = await call('GET', '/api/members?query=ann%40example.com');

    expect(status).toBe(200);
    expect(json).toEqual({ members: [member], offset: 0, total: 1, message: null });
    const [first] = (json as { members: Record<string, unknown>[] }).members;
    expect(Object.keys(first ?? {}).sort()).toEqual([...memberFields].sort());
    expect(first).toMatchObject({ programName: 'Partners', programTitle: 'Partner Program', disabledFlag: false });
    expect(first?.id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
  });

  it('matches a query equal to the email (any case), id, external id or referral code, and never a substring', async () => {
    const ann = sim.addMember({ email: 'ann@example.com', externalIdentifier: 'crm-1', referralCode: 'ANN1' });
    sim.addMember({ email: 'joann@example.com', externalIdentifier: 'crm-10', referralCode: 'ANN10' });

    const idsFor = async (query: string) => {
      const { json } = await call('GET', `/api/members?query=${encodeURIComponent(query)}`);
      return (json as { members: { id: string }[] }).members.map((m) => m.id);
    };

    expect(await idsFor('ANN@Example.COM')).toEqual([ann.id]);
    expect(await idsFor(ann.id)).toEqual([ann.id]);
    expect(await idsFor('crm-1')).toEqual([ann.id]);
    expect(await idsFor('ANN1')).toEqual([ann.id]);
    expect(await idsFor('example.com')).toEqual([]);
  });

  it('returns substring matches too when switched to the looser search', async () => {
    const ann = sim.addMember({ email: 'ann@example.com' });
    const joann = sim.addMember({ email: 'joann@example.com' });
    sim.setSearchMatch('contains');

    const { json } = await call('GET', '/api/members?query=ann%40example.com');

    expect((json as { members: { id: string }[] }).members.map((m) => m.id)).toEqual([ann.id, joann.id]);
  });

  it('compares emails exactly as stored when switched to case-sensitive emails, until reset', async () => {
    const jane = sim.addMember({ email: 'Jane.Doe@Example.com' });
    const idn = sim.addMember({ email: 'jane@bücher.example' });
    sim.addReferral({ email: 'sam@example.com', referringMemberId: jane.id });
    sim.setEmailCase('sensitive');
    const ids = async (route: string, query: string) => {
      const { json } = await call('GET', `${route}?query=${encodeURIComponent(query)}`);
      return Object.values(json as Record<string, unknown>)
        .flatMap((v) => (Array.isArray(v) ? v : []))
        .map((r: { id: string }) => r.id);
    };

    expect(await ids('/api/members', 'jane.doe@example.com')).toEqual([]);
    expect(await ids('/api/referrals', 'jane.doe@example.com')).toEqual([]);
    expect(await ids('/api/members', 'Jane.Doe@Example.com')).toEqual([jane.id]);
    expect(await ids('/api/members', 'jane@xn--bcher-kva.example')).toEqual([]);
    expect(await ids('/api/members', 'jane@bücher.example')).toEqual([idn.id]);
    sim.reset();
    const again = sim.addMember({ email: 'Jane.Doe@Example.com' });
    expect(await ids('/api/members', 'jane.doe@example.com')).toEqual([again.id]);
  });

  it('pages with offset and count and reports the full total', async () => {
    const members = [1, 2, 3, 4, 5].map(() => sim.addMember({ email: 'ann@example.com' }));

    const second = await call('GET', '/api/members?query=ann%40example.com&offset=2&count=2');
    const past = await call('GET', '/api/members?query=ann%40example.com&offset=9&count=2');
    const all = await call('GET', '/api/members?query=ann%40example.com');
    const bad = await call('GET', '/api/members?query=ann%40example.com&count=-1');

    expect(second.json).toMatchObject({ offset: 2, total: 5 });
    expect((second.json as { members: { id: string }[] }).members.map((m) => m.id)).toEqual(
      members.slice(2, 4).map((m) => m.id),
    );
    expect(past.json).toEqual({ members: [], offset: 9, total: 5, message: null });
    expect((all.json as { members: unknown[] }).members).toHaveLength(5);
    expect(bad.status).toBe(400);
  });

  it('filters by programId given as id, name or title', async () => {
    const a = sim.addProgram({ name: 'Alpha', title: 'Alpha Rewards' });
    const b = sim.addProgram({ name: 'Beta' });
    const inA = sim.addMember({ email: 'ann@example.com', programId: a.id });
    sim.addMember({ email: 'ann@example.com', programId: b.id });

    for (const filter of [a.id, 'Alpha', 'alpha rewards']) {
      const { json } = await call(
        'GET',
        `/api/members?query=ann%40example.com&programId=${encodeURIComponent(filter)}`,
      );
      expect((json as { members: { id: string }[] }).members.map((m) => m.id)).toEqual([inA.id]);
    }
  });

  it('answers GET /api/referrals with { referrals, offset, total, message }, including referrals the query made', async () => {
    const ann = sim.addMember({ email: 'ann@example.com' });
    const own = sim.addReferral({ email: 'ann@example.com', externalIdentifier: 'crm-1', status: 'approved' });
    const friend = sim.addReferral({ email: 'bob@example.com', referringMemberId: ann.id });
    sim.addReferral({ email: 'carol@example.com' });

    const { status, json } = await call('GET', '/api/referrals?query=ann%40example.com');

    expect(status).toBe(200);
    expect(json).toEqual({ referrals: [own, friend], offset: 0, total: 2, message: null });
    expect(friend).toMatchObject({ memberEmail: 'ann@example.com', referringMemberId: ann.id });
    const [first] = (json as { referrals: Record<string, unknown>[] }).referrals;
    for (const field of referralFields) expect(first).toHaveProperty(field);
  });
});

describe('Referral Rock simulator: remove', () => {
  it('answers DELETE /api/members/remove with one { query, resultInfo: { Status, Message } } per query, in order', async () => {
    const a = sim.addMember({ email: 'ann@example.com' });
    const b = sim.addMember({ email: 'bob@example.com' });
    const queries = [
      { query: { primaryInfo: { memberId: b.id } } },
      { query: { primaryInfo: { memberId: '00000000-0000-0000-0000-000000000000' } } },
      { query: { primaryInfo: { referralCode: a.referralCode } } },
    ];

    const { status, json } = await call('DELETE', '/api/members/remove', queries);

    expect(status).toBe(200);
    expect(json).toEqual([
      { query: queries[0]?.query, resultInfo: { Status: 'Success', Message: 'Member removed' } },
      { query: queries[1]?.query, resultInfo: { Status: 'Failure', Message: 'Member not found' } },
      { query: queries[2]?.query, resultInfo: { Status: 'Success', Message: 'Member removed' } },
    ]);
    expect(sim.members()).toEqual([]);
  });

  it('accepts POST on /api/members/remove as documented', async () => {
    const a = sim.addMember({ email: 'ann@example.com' });

    const { status, json } = await call('POST', '/api/members/remove', [
      { query: { primaryInfo: { memberId: a.id } } },
    ]);

    expect(status).toBe(200);
    expect(json).toEqual([
      { query: { primaryInfo: { memberId: a.id } }, resultInfo: expect.objectContaining({ Status: 'Success' }) },
    ]);
    expect(sim.members()).toEqual([]);
  });

  it('deletes by secondaryInfo and tertiaryInfo only when exactly one member matches', async () => {
    const alpha = sim.addProgram({ name: 'Alpha', title: 'Refer a Friend' });
    const beta = sim.addProgram({ name: 'Beta', title: 'Refer a Friend' });
    const inAlpha = sim.addMember({ email: 'ann@example.com', programId: alpha.id });
    const inBeta = sim.addMember({ email: 'ann@example.com', programId: beta.id });

    const ambiguous = await call('DELETE', '/api/members/remove', [
      { query: { secondaryInfo: { email: 'ann@example.com' }, tertiaryInfo: { programTitle: 'Refer a Friend' } } },
    ]);
    expect(ambiguous.json).toEqual([
      {
        query: { secondaryInfo: { email: 'ann@example.com' }, tertiaryInfo: { programTitle: 'Refer a Friend' } },
        resultInfo: { Status: 'Failure', Message: 'Query matched more than one member' },
      },
    ]);
    expect(sim.members().map((m) => m.id)).toEqual([inAlpha.id, inBeta.id]);

    const unique = await call('DELETE', '/api/members/remove', [
      { query: { secondaryInfo: { email: 'ANN@example.com' }, tertiaryInfo: { programName: 'Beta' } } },
    ]);
    expect((unique.json as { resultInfo: { Status: string } }[])[0]?.resultInfo.Status).toBe('Success');
    expect(sim.members().map((m) => m.id)).toEqual([inAlpha.id]);
  });

  it('refuses a query with secondaryInfo but no tertiaryInfo, without echoing the email in the message', async () => {
    sim.addMember({ email: 'ann@example.com' });

    const { status, json } = await call('DELETE', '/api/members/remove', [
      { query: { secondaryInfo: { email: 'ann@example.com' } } },
      { query: { primaryInfo: { memberId: '' } } },
      { notAQuery: true },
    ]);

    expect(status).toBe(200);
    const results = json as { query: unknown; resultInfo: { Status: string; Message: string } }[];
    expect(results.map((r) => r.resultInfo)).toEqual([
      { Status: 'Failure', Message: 'Query requires primaryInfo or both secondaryInfo and tertiaryInfo' },
      { Status: 'Failure', Message: 'Query requires primaryInfo or both secondaryInfo and tertiaryInfo' },
      { Status: 'Failure', Message: 'Query requires primaryInfo or both secondaryInfo and tertiaryInfo' },
    ]);
    expect(results[2]?.query).toBeNull();
    expect(sim.members()).toHaveLength(1);
  });

  it('rejects a remove body that is not an array with 400 and a message', async () => {
    const { status, json } = await call('DELETE', '/api/members/remove', { query: { primaryInfo: { memberId: 'x' } } });

    expect(status).toBe(400);
    expect(json).toEqual({ message: expect.any(String) });
  });

  it('removes referrals by referralId, and by secondaryInfo with the PascalCase tertiaryInfo only', async () => {
    const program = sim.addProgram({ name: 'Alpha' });
    const byId = sim.addReferral({ email: 'ann@example.com', programId: program.id });
    const byEmail = sim.addReferral({ email: 'bob@example.com', programId: program.id });
    const camel = { secondaryInfo: { email: 'bob@example.com' }, tertiaryInfo: { programId: program.id } };
    const pascal = { secondaryInfo: { email: 'bob@example.com' }, tertiaryInfo: { ProgramId: program.id } };

    const { status, json } = await call('POST', '/api/referral/remove', [
      { query: { primaryInfo: { referralId: byId.id } } },
      { query: camel },
      { query: pascal },
      { query: { primaryInfo: { referralId: byId.id } } },
    ]);

    expect(status).toBe(200);
    expect(json).toEqual([
      {
        query: { primaryInfo: { referralId: byId.id } },
        resultInfo: { Status: 'Success', Message: 'Referral removed' },
      },
      {
        query: camel,
        resultInfo: { Status: 'Failure', Message: 'Query requires primaryInfo or both secondaryInfo and tertiaryInfo' },
      },
      { query: pascal, resultInfo: { Status: 'Success', Message: 'Referral removed' } },
      {
        query: { primaryInfo: { referralId: byId.id } },
        resultInfo: { Status: 'Failure', Message: 'Referral not found' },
      },
    ]);
    expect(sim.referrals().map((r) => r.id)).not.toContain(byEmail.id);
    expect(sim.referrals().map((r) => r.id)).not.toContain(byId.id);
  });

  it('refuses an ambiguous referral query: the same person referred twice in one program', async () => {
    const program = sim.addProgram({ name: 'Alpha' });
    sim.addReferral({ email: 'ann@example.com', programId: program.id });
    sim.addReferral({ email: 'ann@example.com', programId: program.id });

    const { json } = await call('POST', '/api/referral/remove', [
      { query: { secondaryInfo: { email: 'ann@example.com' }, tertiaryInfo: { ProgramName: 'Alpha' } } },
    ]);

    expect((json as { resultInfo: unknown }[])[0]?.resultInfo).toEqual({
      Status: 'Failure',
      Message: 'Query matched more than one referral',
    });
    expect(sim.referrals()).toHaveLength(2);
  });
});

describe('Referral Rock simulator: auth, rate limit and faults', () => {
  it('answers 401 without credentials or with wrong ones, and 200 with the right ones', async () => {
    const none = await call('GET', '/api/members', undefined, {});
    const wrong = await call('GET', '/api/members', undefined, {
      authorization: `Basic ${Buffer.from('demo-public:nope').toString('base64')}`,
    });
    const right = await call('GET', '/api/members');

    expect(none.status).toBe(401);
    expect(none.json).toEqual({ Message: expect.any(String) });
    expect(wrong.status).toBe(401);
    expect(right.status).toBe(200);
  });

  it('answers 429 with Retry-After once the configured rate limit is spent', async () => {
    sim.harness.setRateLimit({ limit: 2, windowMs: 60_000, retryAfter: '7' });

    const statuses = [];
    let last: Awaited<ReturnType<typeof call>> | undefined;
    for (let i = 0; i < 3; i++) {
      last = await call('GET', '/api/members');
      statuses.push(last.status);
    }

    expect(statuses).toEqual([200, 200, 429]);
    expect(last?.headers.get('retry-after')).toBe('7');
  });

  it('answers an injected status once, then normally again', async () => {
    sim.harness.injectFault('DELETE /api/members/remove', { kind: 'status', status: 503 });

    const first = await call('DELETE', '/api/members/remove', []);
    const second = await call('DELETE', '/api/members/remove', []);

    expect(first.status).toBe(503);
    expect(second.status).toBe(200);
    expect(second.json).toEqual([]);
    expect(sim.harness.requestsTo('DELETE /api/members/remove').map((r) => r.status)).toEqual([503, 200]);
  });

  it('resets the connection or hangs when told to', async () => {
    sim.harness.injectFault('GET /api/referrals', { kind: 'reset' });
    sim.harness.injectFault('POST /api/referral/remove', { kind: 'hang' });

    await expect(call('GET', '/api/referrals')).rejects.toThrow();
    await expect(
      fetch(`${baseUrl}/api/referral/remove`, {
        method: 'POST',
        headers: { authorization: auth, 'content-type': 'application/json' },
        body: '[]',
        signal: AbortSignal.timeout(200),
      }),
    ).rejects.toThrow();
    expect((await call('GET', '/api/referrals')).status).toBe(200);
  });
});

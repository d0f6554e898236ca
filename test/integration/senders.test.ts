import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fingerprint } from '#shared/domain/erasure-requests';
import { startTestRuntime, type TestRuntime } from '#test/support/local-runtime';
import {
  apiKeyRequest,
  fixtureFor,
  hubspotRequest,
  typeformEventId,
  typeformRequest,
  type VendorRequest,
  zendeskRequest,
} from '#test/support/senders';

/**
 * Each sender profile end to end on the local runtime (the one `npm start` runs): a request built exactly as its
 * vendor sends it is verified, mapped and erased; a tampered or stale one is refused with 401 and nothing is recorded.
 */

const SECRETS = {
  zendesk: 'zendesk-signing-secret-0123456789',
  hubspot: 'aaaaaaaa-1111-2222-3333-bbbbbbbbbbbb',
  'hubspot-key': 'hubspot-workflow-api-key-0123456789abc',
  typeform: 'typeform-webhook-secret-0123',
  'privacy-form': 'privacy-form-api-key-0123456789abcdef',
};
const SENDERS = {
  zendesk: {},
  hubspot: {},
  'hubspot-key': { profile: 'hubspot', mode: 'api-key', header: 'X-Privacy-Key' },
  typeform: {},
  'privacy-form': { profile: 'api-key', header: 'X-Api-Key' },
};

/** One subject per sender, each a Referral Rock member with a FirstPromoter referral. */
const SUBJECTS = {
  zendesk: 'zoe.zendesk@example.com',
  hubspot: 'hal.hubspot@example.com',
  'hubspot-key': 'kim.hubkey@example.com',
  typeform: 'tia.typeform@example.com',
  'privacy-form': 'pat.apikey@example.com',
} as const;
type SenderName = keyof typeof SUBJECTS;

let t: TestRuntime;

const path = (name: string) => `/v1/senders/${name}/erasure-requests`;

async function send(name: string, request: VendorRequest) {
  const response = await fetch(`${t.runtime.url}${path(name)}`, {
    method: 'POST',
    headers: request.headers,
    body: request.body,
  });
  const text = await response.text();
  return { status: response.status, json: text ? JSON.parse(text) : undefined };
}

/** Each sender's request for its subject, built as the vendor builds it. */
function vendorRequest(name: SenderName, options: { at?: Date; invocationId?: string } = {}): VendorRequest {
  const email = SUBJECTS[name];
  switch (name) {
    case 'zendesk':
      return zendeskRequest(
        SECRETS.zendesk,
        fixtureFor('zendesk-trigger.json', { 'jane@example.com': email }),
        options,
      );
    case 'hubspot':
      return hubspotRequest(
        SECRETS.hubspot,
        `${t.runtime.url}${path('hubspot')}`,
        fixtureFor('hubspot-contact-workflow.json', { 'jane@example.com': email }),
        options,
      );
    case 'hubspot-key':
      return apiKeyRequest(
        'X-Privacy-Key',
        SECRETS['hubspot-key'],
        fixtureFor('hubspot-contact-workflow.json', { 'jane@example.com': email }),
      );
    case 'typeform':
      return typeformRequest(
        SECRETS.typeform,
        fixtureFor('typeform-form-response.json', {
          'jane@example.com': email,
          '01KB0J4ZQ8M1WNKC0XK8T2VV0Y': typeformEventId(),
          'crm-1001': 'crm-typeform-77',
        }),
      );
    case 'privacy-form':
      return apiKeyRequest(
        'X-Api-Key',
        SECRETS['privacy-form'],
        fixtureFor('api-key.json', { 'jane@example.com': email }),
      );
  }
}

async function storedItems(): Promise<number> {
  const { requests, auditEvents, identities } = t.runtime.config.tables;
  const { DynamoDBClient, ScanCommand } = await import('@aws-sdk/client-dynamodb');
  const client = new DynamoDBClient({
    endpoint: t.runtime.config.dynamoDbEndpoint,
    region: 'local',
    credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
  });
  try {
    let count = 0;
    for (const table of [requests, auditEvents, identities]) {
      count += (await client.send(new ScanCommand({ TableName: table, Select: 'COUNT' }))).Count ?? 0;
    }
    return count;
  } finally {
    client.destroy();
  }
}

beforeAll(async () => {
  t = await startTestRuntime({
    env: {
      SENDERS: JSON.stringify(SENDERS),
      SENDER_SECRETS: JSON.stringify(SECRETS),
      // The budgets' spacing is tested elsewhere; here it would only add seconds.
      REFERRALROCK_RATE_LIMIT_PER_MINUTE: '60000',
      FIRSTPROMOTER_RATE_LIMIT_PER_MINUTE: '60000',
    },
  });
  for (const email of Object.values(SUBJECTS)) {
    t.referralRock.addMember({ email });
    t.firstPromoter.addReferral({ email, uid: `uid-${email}` });
  }
}, 30_000);

afterAll(async () => {
  await t?.stop();
});

describe('sender profiles on the local runtime', () => {
  it('refuses tampered, stale, unsigned and wrongly keyed requests with 401, recording nothing', async () => {
    const zendesk = vendorRequest('zendesk');
    const hubspot = vendorRequest('hubspot');
    const typeform = vendorRequest('typeform');
    const sixMinutesAgo = new Date(Date.now() - 6 * 60_000);
    const refused: [string, VendorRequest][] = [
      ['zendesk', { ...zendesk, body: zendesk.body.replace('ZD-35436', 'ZD-35437') }],
      ['zendesk', vendorRequest('zendesk', { at: sixMinutesAgo })],
      ['hubspot', { ...hubspot, body: hubspot.body.replace('"vid":1001', '"vid":1002') }],
      ['hubspot', vendorRequest('hubspot', { at: sixMinutesAgo })],
      ['typeform', { ...typeform, body: typeform.body.replace('tia.typeform', 'tim.typeform') }],
      ['typeform', { ...typeform, headers: { 'content-type': 'application/json' } }],
      ['hubspot-key', apiKeyRequest('X-Privacy-Key', `${SECRETS['hubspot-key']}-not`, '{"properties":{}}')],
      ['privacy-form', apiKeyRequest('X-Api-Key', SECRETS.zendesk, '{"email":"pat.apikey@example.com"}')],
      // A sender's request signed with another sender's secret.
      ['typeform', typeformRequest(SECRETS.zendesk, typeform.body)],
    ];

    for (const [name, request] of refused) {
      const answer = await send(name, request);
      expect(answer.status, name).toBe(401);
      expect(answer.json.error.code).toBe('unauthorized');
    }
    expect((await send('unknown-sender', vendorRequest('zendesk'))).status).toBe(404);
    await t.runtime.workflow.idle();
    expect(await storedItems()).toBe(0);
    expect(t.referralRock.members()).toHaveLength(Object.keys(SUBJECTS).length);
  });

  it("erases the subject of each sender's request built as its vendor sends it, recording the sender and its key", async () => {
    const names = Object.keys(SUBJECTS) as SenderName[];
    const answers = await Promise.all(names.map((name) => send(name, vendorRequest(name))));
    await t.runtime.workflow.idle();

    for (const [i, name] of names.entries()) {
      const answer = answers[i] as { status: number; json: any };
      expect(answer.status, `${name}: ${JSON.stringify(answer.json)}`).toBe(202);
      const view = (await t.get(answer.json.id)).json;
      expect(view.status, name).toBe('completed');
      expect(
        view.actions.find((a: any) => a.action === 'delete_members'),
        name,
      ).toMatchObject({ outcome: 'deleted' });
      const received = view.events[0];
      expect(received.type).toBe('request.received');
      expect(received.actor).toBe(`sender:${name}:${fingerprint(SECRETS[name])}`);
      expect(received.data).toMatchObject({ sender: name });
      expect(received.data.verification).toMatch(/signature|api-key/);
      expect(t.referralRock.members().map((m) => m.email)).not.toContain(SUBJECTS[name]);
      expect(t.firstPromoter.referrals().map((r) => r.email)).not.toContain(SUBJECTS[name]);
    }
    // One erasure per sender profile at once: CPU-bound, past 30 s twice here at load 10 while other suites ran.
  }, 120_000);

  it('returns the same request for a Zendesk retry of one invocation, and a new one for another invocation', async () => {
    const first = await send('zendesk', vendorRequest('zendesk', { invocationId: '9000001' }));
    const retry = await send('zendesk', vendorRequest('zendesk', { invocationId: '9000001' }));
    const other = await send('zendesk', vendorRequest('zendesk', { invocationId: '9000002' }));
    await t.runtime.workflow.idle();

    expect([first.status, retry.status, other.status]).toEqual([202, 202, 202]);
    expect(retry.json.id).toBe(first.json.id);
    expect(other.json.id).not.toBe(first.json.id);
  });

  it('answers 422 naming the field and its source for a payload that maps to no identifier', async () => {
    const body = fixtureFor('zendesk-trigger.json', { 'jane@example.com': '' });
    const answer = await send('zendesk', zendeskRequest(SECRETS.zendesk, body));

    expect(answer.status).toBe(422);
    expect(answer.json.error.message).toContain('email from /email');
  });
});

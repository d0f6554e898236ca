import { type AttributeValue, DynamoDBClient, ScanCommand } from '@aws-sdk/client-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { IdentityCipher } from '#shared/crypto/identity-cipher';
import { fetchDocumented } from '#test/support/api-document';
import { actionOf, startTestRuntime, type TestRuntime } from '#test/support/local-runtime';
import { captureOutput, type OutputCapture } from '#test/support/output-capture';
import { findPersonalData, identifiersOf, scanForPersonalData } from '#test/support/personal-data-scan';
import {
  apiKeyRequest,
  senderFixture,
  typeformRequest,
  type VendorRequest,
  zendeskRequest,
} from '#test/support/senders';

/**
 * Personal data never leaves the request: subjects with distinctive identifiers go through every path (success,
 * asynchronous batch, provider messages naming the subject, exhausted retries, cancel, refused requests), and everything
 * the service wrote is scanned for them: its logs at DEBUG, the workflow state, the audit events and lookups over the
 * API, the raw DynamoDB items, and the error answers.
 */

const SUBJECTS = {
  /** Referral Rock refuses to remove her member record with a message that names her email. */
  alpha: { email: 'pii.canary.alpha@example.com' },
  /** External id only; Referral Rock's refusal names the external id; provider records carry emails we never sent. */
  bravo: { externalId: 'CANARY-EXT-7731' },
  /** Both identifiers, everything succeeds. */
  charlie: { email: 'pii.canary.charlie@example.com', externalId: 'CANARY-EXT-4410' },
  /** Only at FirstPromoter, seven referrals: an asynchronous batch, polled. */
  delta: { email: 'pii.canary.delta@example.com' },
  /** Both providers answer 5xx (with bodies naming her) until the retries run out. */
  echo: { email: 'pii.canary.echo@example.com' },
  /** Canceled during a 30 s waiting period, after her promoter was archived. */
  foxtrot: { email: 'pii.canary.foxtrot@example.com', externalId: 'CANARY-EXT-6060' },
  /**
   * An internationalized domain, sent with a canary in every other field and header a sender controls
   * ({@link SENDER_CANARIES}); Referral Rock holds her address with the domain in Unicode, FirstPromoter in Punycode.
   */
  golf: { email: 'PII.Canary.Golf@Bücher.Example', externalId: 'CANARY-EXT-9090' },
  /** Sent by a Zendesk trigger, with a canary in every header and unmapped payload field ({@link SENDER_PROFILE_CANARIES}). */
  hotel: { email: 'pii.canary.hotel@example.com' },
  /** Sent by a Typeform webhook: email answer by ref, external id as a hidden field, canaries in the other answers. */
  india: { email: 'pii.canary.india@example.com', externalId: 'CANARY-EXT-5150' },
} as const;

/** Named senders (`/v1/senders/{name}/erasure-requests`) and their secrets, for hotel and india. */
const SENDERS = { zendesk: {}, typeform: {}, webform: { profile: 'api-key', header: 'X-Api-Key' } };
const SENDER_SECRETS = {
  zendesk: 'zendesk-signing-secret-0123456789',
  typeform: 'typeform-webhook-secret-0123',
  webform: 'webform-api-key-0123456789abcdefghijkl',
};

/**
 * What else a named sender controls: its delivery ids (the idempotency keys: Zendesk's invocation id header,
 * Typeform's event_id), its other headers, and every payload field the mapping does not take.
 */
const SENDER_PROFILE_CANARIES = {
  invocationId: 'pii.canary.invocation@example.com',
  zendeskWebhookId: 'pii.canary.zdwebhook',
  ticketSubject: 'Please delete pii.canary.ticket@example.com',
  eventId: 'pii.canary.event@example.com',
  otherAnswer: 'pii.canary.answer@example.com',
  hiddenField: 'pii.canary.hidden@example.com',
};

/**
 * What else a sender controls besides the identifiers: the webhook-id (kept only as a keyed hash), unknown body members
 * (dropped), headers (never logged), the query string. Golf's request carries all of them and must be accepted.
 */
const SENDER_CANARIES = {
  webhookId: 'msg_pii.canary.webhookid@example.com',
  userAgent: 'CanaryBrowser/1.0 (pii.canary.agent@example.com)',
  header: 'pii.canary.header@example.com',
  forwardedFor: 'pii.canary.forwarded.example.com',
  query: 'pii.canary.query@example.com',
  extraMembers: { name: 'Canaryextraname', phone: '+1-555-0100-canary', notes: 'pii.canary.notes@example.com' },
};

/** Values of refused requests: the answers and logs must not echo them either. */
const REFUSED = {
  invalidEmail: 'pii.canary.invalid@@example.com',
  longExternalId: `CANARY-EXT-LONG-${'9'.repeat(300)}`,
  unsignedEmail: 'pii.canary.unsigned@example.com',
  malformedEmail: 'pii.canary.malformed@example.com',
  lookupEmail: 'pii.canary.lookup@@example',
  /** A reference is a ticket id: an address in it is refused (422), not stored for the retention period. */
  referenceEmail: 'ticket-for-pii.canary.reference@example.com',
  badSignature: 'v1,pii.canary.signature',
  badTimestamp: 'pii.canary.timestamp',
  badToken: 'pii.canary.token.0123456789abcdef0123456789',
  pathId: 'pii.canary.path@example.com',
  /** A Zendesk request whose body was changed after signing: refused before anything reads it. */
  senderTampered: 'pii.canary.sendertampered@example.com',
  /** An API-key sender's request with a wrong key (the key itself is a canary too). */
  senderApiKey: 'pii.canary.senderkey.0123456789abcdef',
};

/** Emails and names the providers hold for the subjects, which the service reads but was never sent. */
const BRAVO_RR_EMAIL = 'pii.canary.bravo.rr@example.com';
const BRAVO_FP_EMAIL = 'pii.canary.bravo.fp@example.com';
const NAMES = { firstName: 'Canaryfirstname', lastName: 'Canarylastname' };

const IDENTIFIERS = [
  ...Object.values(SUBJECTS).flatMap((subject) => identifiersOf(subject)),
  REFUSED.invalidEmail,
  'pii.canary.invalid',
  // A prefix, so an echo cut short still counts.
  REFUSED.longExternalId.slice(0, 24),
  REFUSED.unsignedEmail,
  REFUSED.malformedEmail,
  'pii.canary.lookup',
  BRAVO_RR_EMAIL,
  BRAVO_FP_EMAIL,
  NAMES.firstName,
  NAMES.lastName,
  SENDER_CANARIES.webhookId,
  'pii.canary.webhookid',
  'pii.canary.agent',
  'pii.canary.header',
  'pii.canary.forwarded',
  'pii.canary.query',
  ...Object.values(SENDER_CANARIES.extraMembers),
  'pii.canary.reference',
  'pii.canary.signature',
  'pii.canary.timestamp',
  'pii.canary.token',
  'pii.canary.path',
  ...Object.values(SENDER_PROFILE_CANARIES),
  'pii.canary.invocation',
  'pii.canary.zdwebhook',
  'pii.canary.ticket',
  'pii.canary.event',
  'pii.canary.answer',
  'pii.canary.hidden',
  'pii.canary.sendertampered',
  'pii.canary.senderkey',
  // Every seeded value shares this: whatever else leaks, this finds it.
  'canary',
];

const FINAL_STATUSES = ['completed', 'partially_completed', 'failed', 'canceled'];
const CIPHERTEXT = /^v1\.[A-Za-z0-9+/]+=*$/;

type Item = Record<string, AttributeValue>;

/** Every raw item of a table, as DynamoDB holds it (not through the service's repositories). */
async function scanTable(endpoint: string, table: string): Promise<Item[]> {
  const client = new DynamoDBClient({
    endpoint,
    region: 'local',
    credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
  });
  try {
    const items: Item[] = [];
    let ExclusiveStartKey: Item | undefined;
    do {
      const page = await client.send(new ScanCommand({ TableName: table, ConsistentRead: true, ExclusiveStartKey }));
      items.push(...(page.Items ?? []));
      ExclusiveStartKey = page.LastEvaluatedKey;
    } while (ExclusiveStartKey);
    return items;
  } finally {
    client.destroy();
  }
}

type Tables = { requests: Item[]; auditEvents: Item[]; identities: Item[] };

async function scanTables(t: TestRuntime): Promise<Tables> {
  const { dynamoDbEndpoint, tables } = t.runtime.config;
  if (!dynamoDbEndpoint) throw new Error('the local runtime has no DynamoDB endpoint');
  return {
    requests: await scanTable(dynamoDbEndpoint, tables.requests),
    auditEvents: await scanTable(dynamoDbEndpoint, tables.auditEvents),
    identities: await scanTable(dynamoDbEndpoint, tables.identities),
  };
}

async function waitFor<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 15_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const value = await probe();
    if (value !== undefined) return value;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error(`timed out waiting for ${what}`);
}

/** What the runs produced, gathered in beforeAll and asserted by the tests below. */
interface Collected {
  logs: string;
  logLines: Record<string, unknown>[];
  workflowEvents: unknown[];
  views: Record<keyof typeof SUBJECTS, any>;
  lookups: Record<string, { status: number; json: any }>;
  canceled: { status: number; json: any };
  refused: Record<keyof typeof REFUSED | 'longExternalIdLookup' | 'cancelPathId', { status: number; json: any }>;
  /** Golf's answer and its redelivery, with every sender canary. */
  golfSubmissions: { status: number; json: any }[];
  /** Hotel's (Zendesk) and india's (Typeform) answers, hotel's Zendesk retry last. */
  senderSubmissions: { status: number; json: any }[];
  /** The tables of each runtime once everything ended. */
  tables: Tables[];
  /** The tables of runtime B while foxtrot was in her waiting period, her identity still stored (encrypted). */
  whileWaiting: Tables;
  waitingItem: Item | undefined;
  waitingIdentityItem: Item | undefined;
  waitingIdentity: string | undefined;
}

describe('personal data in logs, workflow state, audit trail, tables and error answers', () => {
  const started: TestRuntime[] = [];
  let capture: OutputCapture | undefined;
  let collected: Collected;

  beforeAll(async () => {
    const savedEnv = {
      POWERTOOLS_LOG_LEVEL: process.env.POWERTOOLS_LOG_LEVEL,
      POWERTOOLS_DEV: process.env.POWERTOOLS_DEV,
    };
    // Read by each Powertools Logger when it is built, i.e. when startLocalRuntime builds the handlers.
    process.env.POWERTOOLS_LOG_LEVEL = 'DEBUG';
    delete process.env.POWERTOOLS_DEV;
    capture = captureOutput();
    try {
      collected = await runEverything();
    } finally {
      for (const t of started.splice(0)) await t.stop().catch(() => undefined);
      capture.restore();
      for (const [name, value] of Object.entries(savedEnv)) {
        if (value === undefined) delete process.env[name];
        else process.env[name] = value;
      }
    }
    collected.logs = capture.text();
    collected.logLines = capture.jsonLines();
  }, 120_000);

  afterAll(async () => {
    capture?.restore();
    for (const t of started.splice(0)) await t.stop().catch(() => undefined);
  });

  async function runEverything(): Promise<Collected> {
    // --- Runtime A: no waiting period. ---
    const a = await startTestRuntime({
      env: {
        SENDERS: JSON.stringify(SENDERS),
        SENDER_SECRETS: JSON.stringify(SENDER_SECRETS),
        // Exhausted retries are recorded at once (with a window the steps would wait the injected outage out).
        PROVIDER_RETRY_WINDOW_SECONDS: '0',
      },
    });
    const send = async (name: string, request: VendorRequest) => {
      const response = await fetch(`${a.runtime.url}/v1/senders/${name}/erasure-requests`, {
        method: 'POST',
        headers: request.headers,
        body: request.body,
      });
      return { status: response.status, json: (await response.json()) as any };
    };
    started.push(a);
    const { referralRock: rr, firstPromoter: fp } = a;
    const spring = rr.addProgram({ name: 'Spring' });
    const partners = rr.addProgram({ name: 'Partners' });

    const alphaMember = rr.addMember({ email: SUBJECTS.alpha.email, programId: spring.id, ...NAMES });
    rr.addReferral({ email: SUBJECTS.alpha.email, programId: partners.id, ...NAMES });
    fp.addReferral({ email: SUBJECTS.alpha.email, uid: 'canary-alpha-1', first_name: NAMES.firstName });
    fp.addPromoter({ email: SUBJECTS.alpha.email, name: `${NAMES.firstName} ${NAMES.lastName}` });

    rr.addMember({ email: BRAVO_RR_EMAIL, externalIdentifier: SUBJECTS.bravo.externalId, programId: spring.id });
    const bravoReferral = rr.addReferral({
      email: BRAVO_RR_EMAIL,
      externalIdentifier: SUBJECTS.bravo.externalId,
      programId: spring.id,
    });
    fp.addReferral({ email: BRAVO_FP_EMAIL, uid: SUBJECTS.bravo.externalId });
    fp.addPromoter({ email: BRAVO_FP_EMAIL, cust_id: SUBJECTS.bravo.externalId, name: NAMES.firstName });

    rr.addMember({ email: SUBJECTS.charlie.email, programId: partners.id, ...NAMES });
    rr.addReferral({ externalIdentifier: SUBJECTS.charlie.externalId, email: null, programId: spring.id });
    fp.addReferral({ email: SUBJECTS.charlie.email, uid: 'canary-charlie-1' });
    fp.addReferral({ email: null, uid: SUBJECTS.charlie.externalId });
    fp.addPromoter({ email: SUBJECTS.charlie.email, cust_id: SUBJECTS.charlie.externalId });

    for (let i = 0; i < 7; i++) fp.addReferral({ email: SUBJECTS.delta.email, uid: `canary-delta-${i}` });

    rr.addMember({ email: SUBJECTS.echo.email, programId: spring.id, ...NAMES });
    rr.addReferral({ email: SUBJECTS.echo.email, programId: spring.id });
    fp.addReferral({ email: SUBJECTS.echo.email, uid: 'canary-echo-1' });
    fp.addPromoter({ email: SUBJECTS.echo.email });

    // Mixed case on the way in: the service lowercases it, and the scan ignores case.
    rr.harness.injectFault('DELETE /api/members/remove', {
      kind: 'status',
      status: 200,
      body: [
        {
          query: { primaryInfo: { memberId: alphaMember.id } },
          resultInfo: {
            Status: 'Failure',
            Message: 'Member Canaryfirstname Canarylastname (PII.Canary.Alpha@Example.com) could not be removed',
          },
        },
      ],
    });
    const alpha = await a.erase({ email: 'PII.Canary.Alpha@Example.COM' });

    rr.harness.injectFault('POST /api/referral/remove', {
      kind: 'status',
      status: 200,
      body: [
        {
          query: { primaryInfo: { referralId: bravoReferral.id } },
          resultInfo: { Status: 'Failure', Message: 'Referral canary-ext-7731 is locked by an open payout' },
        },
      ],
    });
    const bravo = await a.erase(SUBJECTS.bravo);
    const charlie = await a.erase(SUBJECTS.charlie);
    const delta = await a.erase(SUBJECTS.delta);

    rr.addMember({ email: 'pii.canary.golf@bücher.example', programId: spring.id, ...NAMES });
    fp.addReferral({ email: 'pii.canary.golf@xn--bcher-kva.example', uid: 'canary-golf-1' });
    fp.addPromoter({ email: 'PII.Canary.Golf@xn--bcher-kva.example', cust_id: SUBJECTS.golf.externalId });
    const golfBody = JSON.stringify({ ...SUBJECTS.golf, reference: 'DSR-7781', ...SENDER_CANARIES.extraMembers });
    const golfOptions = {
      rawBody: golfBody,
      webhookId: SENDER_CANARIES.webhookId,
      query: `?email=${encodeURIComponent(SENDER_CANARIES.query)}`,
      headers: {
        'user-agent': SENDER_CANARIES.userAgent,
        'x-canary-note': SENDER_CANARIES.header,
        'x-forwarded-for': SENDER_CANARIES.forwardedFor,
      },
    };
    const golfSubmissions = [await a.submit({}, golfOptions)];
    await a.runtime.workflow.idle();
    golfSubmissions.push(await a.submit({}, golfOptions));
    const golf = (await a.get(golfSubmissions[0]?.json.id)).json;

    rr.addMember({ email: SUBJECTS.hotel.email, programId: spring.id, ...NAMES });
    rr.addMember({ email: SUBJECTS.india.email, externalIdentifier: SUBJECTS.india.externalId, programId: spring.id });
    const zendeskBody = JSON.stringify({
      email: SUBJECTS.hotel.email,
      externalId: '',
      reference: 'ZD-4242',
      ticket: { id: 4242, subject: SENDER_PROFILE_CANARIES.ticketSubject, requester: NAMES },
    });
    const zendesk = () => {
      const request = zendeskRequest(SENDER_SECRETS.zendesk, zendeskBody, {
        invocationId: SENDER_PROFILE_CANARIES.invocationId,
      });
      request.headers['x-zendesk-webhook-id'] = SENDER_PROFILE_CANARIES.zendeskWebhookId;
      return request;
    };
    const typeformBody = senderFixture('typeform-form-response.json')
      .replace('01KB0J4ZQ8M1WNKC0XK8T2VV0Y', SENDER_PROFILE_CANARIES.eventId)
      .replace('"email":"jane@example.com"', `"email":"${SUBJECTS.india.email}"`)
      .replace(
        '"external_id":"crm-1001"',
        `"external_id":"${SUBJECTS.india.externalId}","utm":"${SENDER_PROFILE_CANARIES.hiddenField}"`,
      )
      .replace(
        '"label":"Erase my data","ref":"erase"',
        `"label":"${SENDER_PROFILE_CANARIES.otherAnswer}","ref":"erase"`,
      );
    const senderSubmissions = [
      await send('zendesk', zendesk()),
      await send('typeform', typeformRequest(SENDER_SECRETS.typeform, typeformBody)),
    ];
    await a.runtime.workflow.idle();
    senderSubmissions.push(await send('zendesk', zendesk()));
    const hotel = (await a.get(senderSubmissions[0]?.json.id)).json;
    const india = (await a.get(senderSubmissions[1]?.json.id)).json;

    // Last in this runtime: more faults than any retry policy uses, so none is left for another subject.
    const echoBody = { message: `upstream failure for ${SUBJECTS.echo.email}` };
    rr.harness.injectFault('GET /api/referrals', { kind: 'status', status: 500, body: echoBody }, 50);
    fp.harness.injectFault('GET /promoters', { kind: 'status', status: 503, body: echoBody }, 50);
    const echo = await a.erase(SUBJECTS.echo);

    const refused = {
      invalidEmail: await a.submit({ email: REFUSED.invalidEmail }),
      longExternalId: await a.submit({ externalId: REFUSED.longExternalId }),
      unsignedEmail: await fetchDocumented(`${a.runtime.url}/v1/erasure-requests`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ email: REFUSED.unsignedEmail }),
      }).then(async (response) => ({ status: response.status, json: await response.json() })),
      malformedEmail: await a.submit({}, { rawBody: `{"email":"${REFUSED.malformedEmail}"` }),
      lookupEmail: await a.lookup({ email: REFUSED.lookupEmail }),
      longExternalIdLookup: await a.lookup({ externalId: REFUSED.longExternalId }),
      referenceEmail: await a.submit({ externalId: 'CANARY-EXT-REF', reference: REFUSED.referenceEmail }),
      badSignature: await a.submit(
        { externalId: 'CANARY-EXT-SIG' },
        { headers: { 'webhook-signature': REFUSED.badSignature } },
      ),
      badTimestamp: await a.submit(
        { externalId: 'CANARY-EXT-TS' },
        { headers: { 'webhook-timestamp': REFUSED.badTimestamp } },
      ),
      badToken: await a.get(`er_${'0'.repeat(32)}`, REFUSED.badToken),
      pathId: await a.get(encodeURIComponent(REFUSED.pathId)),
      cancelPathId: await a.cancel(encodeURIComponent(REFUSED.pathId)),
      senderTampered: await send('zendesk', {
        ...zendesk(),
        body: zendeskBody.replace(SUBJECTS.hotel.email, REFUSED.senderTampered),
      }),
      senderApiKey: await send(
        'webform',
        apiKeyRequest('X-Api-Key', REFUSED.senderApiKey, JSON.stringify({ email: REFUSED.senderTampered })),
      ),
    };

    const lookups: Collected['lookups'] = {};
    for (const [name, subject] of Object.entries(SUBJECTS)) {
      if (name === 'foxtrot') continue;
      if ('email' in subject) lookups[`${name}:email`] = await a.lookup({ email: subject.email });
      if ('externalId' in subject) lookups[`${name}:externalId`] = await a.lookup({ externalId: subject.externalId });
    }
    const tablesA = await scanTables(a);
    await a.stop();
    started.splice(started.indexOf(a), 1);

    // --- Runtime B: a 30 s waiting period, canceled. ---
    const b = await startTestRuntime({ env: { WAITING_PERIOD_SECONDS: '30' } });
    started.push(b);
    b.referralRock.addMember({ email: SUBJECTS.foxtrot.email, ...NAMES });
    b.firstPromoter.addPromoter({ email: SUBJECTS.foxtrot.email, name: NAMES.firstName });
    b.firstPromoter.addReferral({ email: null, uid: SUBJECTS.foxtrot.externalId });

    const submitted = await b.submit(SUBJECTS.foxtrot);
    if (submitted.status !== 202) throw new Error(`foxtrot's submit answered ${submitted.status}`);
    const id: string = submitted.json.id;
    await waitFor('the promoter archived in the waiting period', async () => {
      const { json } = await b.get(id);
      return json.status === 'waiting' && actionOf(json, 'firstpromoter', 'archive_promoters')?.outcome === 'archived'
        ? json
        : undefined;
    });
    const waiting = await scanTables(b);
    const waitingItem = waiting.requests.find((item) => item.id?.S === id);
    const waitingIdentityItem = waiting.identities.find((item) => item.id?.S === id);
    const identityKey = b.runtime.config.identityKey;
    const ciphertext = waitingIdentityItem?.identity?.S;
    const waitingIdentity =
      identityKey && ciphertext ? new IdentityCipher(identityKey).decrypt(ciphertext, id) : undefined;

    const canceled = await b.cancel(id);
    await b.runtime.workflow.idle();
    const foxtrot = (await b.get(id)).json;
    lookups['foxtrot:email'] = await b.lookup({ email: SUBJECTS.foxtrot.email });
    lookups['foxtrot:externalId'] = await b.lookup({ externalId: SUBJECTS.foxtrot.externalId });
    const tablesB = await scanTables(b);

    return {
      logs: '',
      logLines: [],
      workflowEvents: [...a.workflowEvents, ...b.workflowEvents],
      views: { alpha, bravo, charlie, delta, echo, foxtrot, golf, hotel, india },
      golfSubmissions,
      senderSubmissions,
      lookups,
      canceled,
      refused,
      tables: [tablesA, tablesB],
      whileWaiting: waiting,
      waitingItem,
      waitingIdentityItem,
      waitingIdentity,
    };
  }

  it('runs every path it scans: withheld provider messages, an async batch, exhausted retries, a cancel', () => {
    const { alpha, bravo, charlie, delta, echo, foxtrot } = collected.views;

    expect(alpha.status).toBe('partially_completed');
    expect(actionOf(alpha, 'referralrock', 'delete_members')).toMatchObject({
      outcome: 'failed',
      errors: ['1 of 1 record(s) still present at Referral Rock after removal (1 refused; its messages are not kept)'],
    });
    expect(bravo.status).toBe('partially_completed');
    expect(bravo.subject.identifiers).toEqual(['externalId']);
    expect(actionOf(bravo, 'referralrock', 'delete_referrals')).toMatchObject({
      outcome: 'failed',
      errors: ['1 of 1 record(s) still present at Referral Rock after removal (1 refused; its messages are not kept)'],
    });
    expect(actionOf(bravo, 'firstpromoter', 'archive_promoters')).toMatchObject({ outcome: 'archived', count: 1 });
    expect(charlie.status).toBe('completed');
    expect(charlie.subject.identifiers).toEqual(['email', 'externalId']);
    expect(delta.status).toBe('completed');
    expect(actionOf(delta, 'firstpromoter', 'delete_referrals')).toMatchObject({
      outcome: 'deleted',
      count: 7,
      batchId: expect.any(Number),
    });
    expect(echo.status).toBe('partially_completed');
    expect(actionOf(echo, 'referralrock', 'delete_referrals')).toMatchObject({
      outcome: 'failed',
      errors: [
        expect.stringMatching(/^ProviderUnavailableError: Referral Rock referrals\.search: unavailable/),
        expect.stringMatching(/^not verified: the search afterwards ended with ProviderUnavailableError/),
      ],
    });
    expect(actionOf(echo, 'firstpromoter', 'archive_promoters')).toMatchObject({
      outcome: 'failed',
      errors: [
        expect.stringMatching(/^ProviderUnavailableError: FirstPromoter promoters\.search: unavailable/),
        expect.stringMatching(/^not verified: the search afterwards ended with ProviderUnavailableError/),
      ],
    });
    expect(collected.canceled.status).toBe(200);
    expect(foxtrot.status).toBe('canceled');
    expect(actionOf(foxtrot, 'firstpromoter', 'archive_promoters')).toMatchObject({ outcome: 'restored', count: 1 });
    for (const view of Object.values(collected.views)) expect(view.integrity.chainValid).toBe(true);
  });

  it("accepts golf's request with a canary in every field and header a sender controls, and keeps none of them", () => {
    const { golf } = collected.views;
    const [first, redelivered] = collected.golfSubmissions;

    expect(first?.status).toBe(202);
    expect(redelivered).toMatchObject({ status: 202, json: { id: golf.id } });
    expect(golf.status).toBe('completed');
    expect(golf.reference).toBe('DSR-7781');
    expect(actionOf(golf, 'referralrock', 'delete_members')).toMatchObject({ outcome: 'deleted', count: 1 });
    expect(actionOf(golf, 'firstpromoter', 'delete_referrals')).toMatchObject({ outcome: 'deleted', count: 1 });
    expect(actionOf(golf, 'firstpromoter', 'archive_promoters')).toMatchObject({ outcome: 'archived', count: 1 });
    const received = golf.events.find((e: any) => e.type === 'request.received');
    expect(Object.keys(received.data).sort()).toEqual(['dueAt', 'receivedAt', 'reference', 'subject', 'webhookIdHash']);
    expect(scanForPersonalData({ golf, answers: collected.golfSubmissions }, IDENTIFIERS)).toEqual([]);
  });

  it('accepts a Zendesk and a Typeform request with canaries in every header and unmapped field, and keeps none', () => {
    const { hotel, india } = collected.views;
    const [zendesk, typeform, retry] = collected.senderSubmissions;

    expect([zendesk?.status, typeform?.status, retry?.status]).toEqual([202, 202, 202]);
    expect(retry?.json.id).toBe(hotel.id);
    expect(hotel).toMatchObject({ status: 'completed', reference: 'ZD-4242' });
    expect(india).toMatchObject({ status: 'completed', reference: 'a3a12ec67a1365927098a606107fac15' });
    expect(india.subject.identifiers).toEqual(['email', 'externalId']);
    expect(actionOf(hotel, 'referralrock', 'delete_members')).toMatchObject({ outcome: 'deleted', count: 1 });
    expect(actionOf(india, 'referralrock', 'delete_members')).toMatchObject({ outcome: 'deleted', count: 1 });
    const received = hotel.events.find((e: any) => e.type === 'request.received');
    expect(received.actor).toMatch(/^sender:zendesk:[0-9a-f]{12}$/);
    expect(Object.keys(received.data).sort()).toEqual([
      'dueAt',
      'receivedAt',
      'reference',
      'sender',
      'subject',
      'verification',
      'webhookIdHash',
    ]);
    expect(scanForPersonalData({ hotel, india, answers: collected.senderSubmissions }, IDENTIFIERS)).toEqual([]);
  });

  it('scans something real: many log lines from the API and the workflow tasks at every level, many workflow events', () => {
    const messages = collected.logLines.map((line) => line.message);
    const functions = new Set(collected.logLines.map((line) => line.function));

    expect(collected.logLines.length).toBeGreaterThan(50);
    expect(messages.filter((m) => m === 'Task completed').length).toBeGreaterThan(20);
    expect(messages).toEqual(
      expect.arrayContaining([
        'Task failed',
        'Erasure request accepted',
        'Request refused',
        'Erasure request canceled',
        'Subject lookup',
        'Workflow ended',
      ]),
    );
    expect([...functions]).toEqual(
      expect.arrayContaining(['intake', 'request-tasks', 'referralrock-tasks', 'firstpromoter-tasks', 'local-runtime']),
    );
    expect(collected.logLines.some((line) => line.level === 'WARN')).toBe(true);
    expect(collected.workflowEvents.length).toBeGreaterThan(100);
    expect(JSON.stringify(collected.workflowEvents)).toContain(collected.views.delta.id);
  });

  it('finds an identifier when one is planted, in any case or percent-encoded, so the scan can fail', () => {
    const planted = findPersonalData('planted', 'log line {"q":"PII.Canary.Alpha@EXAMPLE.com"}', IDENTIFIERS);
    const encoded = findPersonalData('planted', '/api/members?query=pii.canary.delta%40example.com', IDENTIFIERS);
    const externalId = scanForPersonalData({ planted: { errors: ['id canary-ext-7731 locked'] } }, IDENTIFIERS);
    const clean = findPersonalData('clean', collected.views.charlie.id, IDENTIFIERS);

    expect(planted.map((hit) => hit.identifier)).toEqual(
      expect.arrayContaining([SUBJECTS.alpha.email, 'pii.canary.alpha', 'canary']),
    );
    expect(encoded.map((hit) => hit.identifier)).toEqual(expect.arrayContaining([SUBJECTS.delta.email]));
    const punycode = findPersonalData('planted', 'to=pii.canary.golf@XN--BCHER-KVA.example', IDENTIFIERS);
    const decomposed = findPersonalData('planted', `to=${SUBJECTS.golf.email.normalize('NFD')}`, IDENTIFIERS);
    expect(punycode.map((hit) => hit.identifier)).toContain('PII.Canary.Golf@xn--bcher-kva.example');
    expect(decomposed.map((hit) => hit.identifier)).toContain(SUBJECTS.golf.email);
    expect(externalId.map((hit) => hit.identifier)).toEqual(expect.arrayContaining([SUBJECTS.bravo.externalId]));
    expect(clean).toEqual([]);
  });

  it('logs no identifier, at DEBUG level, on any path', () => {
    expect(collected.logs.length).toBeGreaterThan(0);
    expect(findPersonalData('log', collected.logs, IDENTIFIERS)).toEqual([]);
  });

  it('keeps no identifier in the workflow state (inputs, outputs and errors of every state)', () => {
    expect(scanForPersonalData({ workflowEvents: collected.workflowEvents }, IDENTIFIERS)).toEqual([]);
  });

  it("shows no identifier in any request's audit events, the cancel answer, or a subject lookup", () => {
    for (const [name, lookup] of Object.entries(collected.lookups)) {
      expect(lookup.status, name).toBe(200);
      const subject = name.split(':')[0] as keyof typeof SUBJECTS;
      expect(
        lookup.json.requests.map((r: { id: string }) => r.id),
        name,
      ).toContain(collected.views[subject].id);
    }
    const events = Object.values(collected.views).flatMap((view) => view.events);
    expect(events.length).toBeGreaterThan(40);

    const hits = scanForPersonalData(
      {
        ...Object.fromEntries(Object.entries(collected.views).map(([name, view]) => [`view:${name}`, view])),
        ...Object.fromEntries(Object.entries(collected.lookups).map(([name, lookup]) => [`lookup:${name}`, lookup])),
        cancel: collected.canceled,
      },
      IDENTIFIERS,
    );

    expect(hits).toEqual([]);
  });

  it('stores the identity only encrypted, in the identities table, and removes it once a request is final or canceled', () => {
    const { waitingItem, waitingIdentityItem, waitingIdentity } = collected;

    expect(waitingItem?.status?.S).toBe('waiting');
    // The requests table is backed up (point-in-time recovery): it never holds the identity, even encrypted.
    expect(waitingItem?.identity).toBeUndefined();
    expect(waitingIdentityItem?.identity?.S).toMatch(CIPHERTEXT);
    // It is the identity, encrypted: the key opens it to the very identifiers the scans look for.
    expect(JSON.parse(waitingIdentity ?? '{}')).toEqual(SUBJECTS.foxtrot);
    expect(findPersonalData('identity', waitingIdentityItem?.identity?.S ?? '', IDENTIFIERS)).toEqual([]);
    const ended = collected.tables.flatMap((tables) => tables.requests);
    expect(ended.map((item) => item.status?.S)).toEqual(ended.map(() => expect.toBeOneOf(FINAL_STATUSES)));
    expect(ended).toHaveLength(9);
    for (const item of ended) expect(item.identity, `identity of ${item.id?.S}`).toBeUndefined();
    expect(collected.tables.flatMap((tables) => tables.identities)).toEqual([]);
  });

  it('keeps no identifier in the raw items of any table', () => {
    const [a, b] = collected.tables;

    expect(a?.requests).toHaveLength(8);
    expect(a?.auditEvents.length).toBeGreaterThan(30);
    expect(b?.requests).toHaveLength(1);
    expect(b?.auditEvents.length).toBeGreaterThan(3);
    expect(collected.whileWaiting.requests).toHaveLength(1);
    const snapshots = { 'runtime A': a, 'runtime B': b, 'runtime B while waiting': collected.whileWaiting };
    const hits = Object.entries(snapshots).flatMap(([name, tables]) =>
      scanForPersonalData(
        {
          [`${name} requests`]: tables?.requests,
          [`${name} audit events`]: tables?.auditEvents,
          [`${name} identities`]: tables?.identities,
        },
        IDENTIFIERS,
      ),
    );
    expect(hits).toEqual([]);
  });

  it('answers refused requests without echoing what they carried', () => {
    const { refused } = collected;

    expect(refused.invalidEmail).toMatchObject({ status: 422, json: { error: { code: 'invalid_request' } } });
    expect(refused.invalidEmail.json.error.message).toContain('email');
    expect(refused.longExternalId).toMatchObject({ status: 422, json: { error: { code: 'invalid_request' } } });
    expect(refused.longExternalId.json.error.message).toContain('externalId');
    expect(refused.unsignedEmail).toMatchObject({ status: 401, json: { error: { code: 'unauthorized' } } });
    expect(refused.malformedEmail).toMatchObject({ status: 400, json: { error: { code: 'malformed_json' } } });
    expect(refused.lookupEmail).toMatchObject({ status: 422, json: { error: { code: 'invalid_request' } } });
    expect(refused.longExternalIdLookup).toMatchObject({ status: 422, json: { error: { code: 'invalid_request' } } });
    expect(refused.referenceEmail).toMatchObject({ status: 422, json: { error: { code: 'invalid_request' } } });
    expect(refused.referenceEmail.json.error.message).toContain('reference');
    expect(refused.senderTampered).toMatchObject({ status: 401, json: { error: { code: 'unauthorized' } } });
    expect(refused.senderApiKey).toMatchObject({ status: 401, json: { error: { code: 'unauthorized' } } });
    expect(refused.badSignature).toMatchObject({ status: 401, json: { error: { code: 'unauthorized' } } });
    expect(refused.badTimestamp).toMatchObject({ status: 401, json: { error: { code: 'unauthorized' } } });
    expect(refused.badToken).toMatchObject({ status: 401, json: { error: { code: 'unauthorized' } } });
    expect(refused.pathId).toMatchObject({ status: 404, json: { error: { code: 'not_found' } } });
    expect(refused.cancelPathId).toMatchObject({ status: 404, json: { error: { code: 'not_found' } } });
    expect(scanForPersonalData(refused, IDENTIFIERS)).toEqual([]);
  });
});

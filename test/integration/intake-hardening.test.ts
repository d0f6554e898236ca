import { createHash } from 'node:crypto';
import { mkdtemp, readdir, rm, stat } from 'node:fs/promises';
import { request as httpRequest } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type AttributeValue, DynamoDBClient, ScanCommand } from '@aws-sdk/client-dynamodb';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { fingerprint } from '#shared/domain/erasure-requests';
import {
  secretsFileFor,
  signHeaders,
  startTestRuntime,
  TEST_AUDIT_TOKEN,
  TEST_OPERATOR_TOKEN,
  type TestRuntime,
} from '#test/support/local-runtime';

/**
 * The intake as a sender meets it, over HTTP against the local runtime: what is kept of what a sender controls, which
 * addresses are accepted, how the signed bytes are read, who may cancel, and the small holes of issue 8.
 */

type Item = Record<string, AttributeValue>;

async function rawItems(t: TestRuntime): Promise<string> {
  const { dynamoDbEndpoint, tables } = t.runtime.config;
  const client = new DynamoDBClient({
    endpoint: dynamoDbEndpoint as string,
    region: 'local',
    credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
  });
  try {
    const items: Item[] = [];
    for (const table of [tables.requests, tables.auditEvents]) {
      items.push(...((await client.send(new ScanCommand({ TableName: table, ConsistentRead: true }))).Items ?? []));
    }
    return JSON.stringify(items);
  } finally {
    client.destroy();
  }
}

async function waitFor<T>(probe: () => Promise<T | undefined>, timeoutMs = 15_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const value = await probe();
    if (value !== undefined) return value;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error('condition not met in time');
}

describe('the intake, hardened (issue 8)', () => {
  // What these tests look at is the intake's answer and what it records: the requests they make wait out a waiting
  // period instead of being erased, work that nothing here reads (an erasure of nobody costs about 0.15 s of CPU).
  let t: TestRuntime;
  beforeAll(async () => {
    t = await startTestRuntime({ env: { WAITING_PERIOD_SECONDS: '3600' } });
  });
  afterAll(async () => {
    // Its requests are still waiting: a graceful stop would wait the hour out with them.
    await t?.stop({ crash: true });
  });

  describe('nothing personal outside the encrypted identity', () => {
    // Except here: what a whole erasure leaves in the tables is read, so these requests are erased.
    let t: TestRuntime;
    beforeAll(async () => {
      t = await startTestRuntime();
    });
    afterAll(async () => {
      await t?.stop();
    });

    it('keeps a webhook-id only as a keyed hash: not in the request, not in request.received, not unkeyed in the id', async () => {
      const webhookId = 'msg_jane.webhook.canary@example.com';

      const first = await t.submit({ externalId: 'crm-webhook-1' }, { webhookId });
      const again = await t.submit({ externalId: 'crm-webhook-1' }, { webhookId });
      await t.runtime.workflow.idle();
      const view = (await t.get(first.json.id)).json;

      expect(first.status).toBe(202);
      expect(again).toMatchObject({ status: 202, json: { id: first.json.id } });
      expect(await rawItems(t)).not.toContain('webhook.canary');
      const received = view.events.find((e: any) => e.type === 'request.received');
      expect(received.data).not.toHaveProperty('webhookId');
      expect(received.data.webhookIdHash).toMatch(/^[0-9a-f]{64}$/);
      expect(received.data.webhookIdHash).not.toBe(createHash('sha256').update(webhookId).digest('hex'));
      // The request id is public: unkeyed, it would confirm a guessed webhook-id (and the email in it).
      const unkeyed = `er_${createHash('sha256').update(`webhook:${webhookId}`).digest('hex').slice(0, 32)}`;
      expect(first.json.id).toMatch(/^er_[0-9a-f]{32}$/);
      expect(first.json.id).not.toBe(unkeyed);
    });

    it('refuses a reference that is not a ticket id (an email above all) with a 422 naming the field', async () => {
      const refused = await t.submit({ externalId: 'crm-ref-1', reference: 'ticket for jane.ref@example.com' });

      expect(refused.status).toBe(422);
      expect(refused.json.error.code).toBe('invalid_request');
      expect(refused.json.error.message).toContain('reference');
      expect(refused.json.error.message).not.toContain('jane');
      expect((await t.lookup({ externalId: 'crm-ref-1' })).json.requests).toEqual([]);
    });
  });

  describe('every valid address accepted, one pseudonym per person', () => {
    it.each(['jane@bücher.example', 'jane@пример.рф', 'jane&john@example.com', 'o.brien/sales@example.com'])(
      'accepts %s',
      async (email) => {
        expect((await t.submit({ email })).status).toBe(202);
      },
    );

    it('finds a request made with a Unicode domain by its Punycode form, in any case', async () => {
      const { json } = await t.submit({ email: 'Anna@Straße-Bücher.example' });

      const found = await t.lookup({ email: 'anna@xn--strae-bcher-y6a49a.example' });

      expect(found.json.requests.map((r: { id: string }) => r.id)).toEqual([json.id]);
    });
  });

  describe('the signature over the exact bytes, then the body', () => {
    it('answers 400 (not 401) to a correctly signed body that is not UTF-8', async () => {
      const bytes = Buffer.concat([Buffer.from('{"externalId":"crm-'), Buffer.from([0xc3, 0x28]), Buffer.from('"}')]);

      const response = await t.submit({}, { rawBody: bytes });

      expect(response.status).toBe(400);
      expect(response.json.error).toEqual({ code: 'malformed_json', message: 'The request body is not valid UTF-8' });
    });

    it('still answers 401 to such a body signed with the wrong key', async () => {
      const bytes = Buffer.from([0x7b, 0xff, 0x7d]);
      const headers = signHeaders(bytes, { secret: `whsec_${Buffer.alloc(32, 9).toString('base64')}` });

      expect((await t.submit({}, { rawBody: bytes, headers })).status).toBe(401);
    });

    it('tolerates a leading UTF-8 byte order mark', async () => {
      const bytes = Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from('{"externalId":"crm-bom-1"}')]);

      expect((await t.submit({}, { rawBody: bytes })).status).toBe(202);
    });

    it('refuses a body that names a member twice with a 422', async () => {
      const rawBody = '{"email":"first@example.com","email":"second@example.com"}';

      const response = await t.submit({}, { rawBody });

      expect(response.status).toBe(422);
      expect(response.json.error.code).toBe('invalid_request');
      expect((await t.lookup({ email: 'second@example.com' })).json.requests).toEqual([]);
    });

    it.each(['application/json-seq', 'application/merge-patch+json', 'text/json'])(
      'refuses content-type %s with a 415',
      async (contentType) => {
        const response = await t.submit({ externalId: 'crm-media-1' }, { headers: { 'content-type': contentType } });

        expect(response.status).toBe(415);
      },
    );

    it('takes a redelivery re-serialized by the sender (keys reordered, spacing) as the same request', async () => {
      const webhookId = `msg_reserialized_${Date.now()}`;
      const first = await t.submit({}, { webhookId, rawBody: '{"externalId":"crm-jcs-1","reference":"T-9"}' });
      const redelivered = await t.submit(
        {},
        { webhookId, rawBody: '{ "reference" : "T-9",\n  "externalId" : "crm\\u002djcs-1" }' },
      );
      const different = await t.submit({}, { webhookId, rawBody: '{"externalId":"crm-jcs-2","reference":"T-9"}' });

      expect(first.status).toBe(202);
      expect(redelivered).toMatchObject({ status: 202, json: { id: first.json.id } });
      expect(different.status).toBe(409);
    });
  });

  describe('small holes', () => {
    it('answers 404 to a request id that cannot be one, without asking the store', async () => {
      const long = `er_${'a'.repeat(3000)}`;

      expect((await t.get(long)).status).toBe(404);
      expect((await t.cancel(long)).status).toBe(404);
      expect((await t.get('er_0123')).status).toBe(404);
    });

    it.each(['.', '..'])('refuses the external id %j, which a by-path lookup cannot carry, with a 422', async (id) => {
      const response = await t.submit({ externalId: id });

      expect(response.status).toBe(422);
      expect(response.json.error.message).toContain('externalId');
      expect(t.firstPromoter.harness.requests.filter((r) => r.path.startsWith('/promoters/'))).toEqual([]);
    });

    it('builds statusUrl from the bound address, whatever Host header the sender sent', async () => {
      const rawBody = JSON.stringify({ externalId: 'crm-host-1' });
      const url = new URL(`${t.runtime.url}/v1/erasure-requests`);

      const answer = await new Promise<{ status: number; body: string }>((resolve, reject) => {
        const req = httpRequest(
          url,
          {
            method: 'POST',
            headers: { host: 'attacker.example', 'content-type': 'application/json', ...signHeaders(rawBody) },
          },
          (res) => {
            let body = '';
            res.on('data', (chunk) => {
              body += chunk;
            });
            res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
          },
        );
        req.on('error', reject);
        req.end(rawBody);
      });

      expect(answer.status).toBe(202);
      const { statusUrl } = JSON.parse(answer.body);
      expect(statusUrl.startsWith(`${t.runtime.url}/v1/erasure-requests/er_`)).toBe(true);
      expect(answer.body).not.toContain('attacker');
    });
  });
});

describe('roles: operators cancel, auditors read', () => {
  let t: TestRuntime | undefined;
  afterEach(async () => {
    await t?.stop();
    t = undefined;
  });

  it('refuses an audit token on cancel with 403, and records an operator cancel as operator:<fingerprint>', async () => {
    t = await startTestRuntime({ env: { WAITING_PERIOD_SECONDS: '60' } });
    const rt = t;
    const { json } = await rt.submit({ externalId: 'crm-roles-1' });
    await waitFor(async () => ((await rt.get(json.id)).json.status === 'waiting' ? true : undefined));

    const byAuditor = await rt.cancel(json.id, TEST_AUDIT_TOKEN);
    const stillWaiting = (await rt.get(json.id)).json;
    const byOperator = await rt.cancel(json.id, TEST_OPERATOR_TOKEN);

    expect(byAuditor.status).toBe(403);
    expect(byAuditor.json.error).toEqual({
      code: 'forbidden',
      message: 'This token does not allow this action: it needs an operator token',
    });
    expect(stillWaiting.status).toBe('waiting');
    expect(byOperator.status).toBe(200);
    expect(byOperator.json.status).toBe('canceled');
    const canceled = byOperator.json.events.find((e: any) => e.type === 'request.canceled');
    expect(canceled.actor).toBe(`operator:${fingerprint(TEST_OPERATOR_TOKEN)}`);
    expect((await rt.get(json.id, TEST_OPERATOR_TOKEN)).status).toBe(401);
  });
});

describe('the local data directory and the deadline', () => {
  let t: TestRuntime | undefined;
  afterEach(async () => {
    await t?.stop();
    t = undefined;
  });

  it('creates DATA_DIR 0700 and keeps every file in it 0600, DynamoDB files included', async () => {
    const parent = await mkdtemp(join(tmpdir(), 'erasure-perms-'));
    const dataDir = join(parent, 'data');
    t = await startTestRuntime({ persistent: true, dataDir });
    try {
      await t.erase({ externalId: 'crm-files-1' });

      const modes: Record<string, number> = {};
      const walk = async (dir: string): Promise<void> => {
        for (const entry of await readdir(dir, { withFileTypes: true })) {
          const path = join(dir, entry.name);
          modes[path.slice(dataDir.length)] = (await stat(path)).mode & 0o777;
          if (entry.isDirectory()) await walk(path);
        }
      };
      await walk(dataDir);

      expect((await stat(dataDir)).mode & 0o777).toBe(0o700);
      const files = Object.keys(modes);
      // The generated keys live outside DATA_DIR (see identity-destruction.test.ts), just as private.
      expect(files).not.toContain('/secrets.json');
      expect((await stat(secretsFileFor(dataDir))).mode & 0o777).toBe(0o600);
      expect(files.filter((f) => f.startsWith('/dynamodb/')).length).toBeGreaterThan(2);
      for (const [path, mode] of Object.entries(modes)) expect(mode & 0o077, path).toBe(0);
    } finally {
      await t.stop();
      t = undefined;
      await rm(parent, { recursive: true, force: true });
    }
  });

  it('counts dueAt to the end of the day one month later in DEADLINE_TIME_ZONE, and judges withinDeadline by it', async () => {
    // 00:30 London time (BST) on 31 March 2026.
    const receivedAt = new Date('2026-03-30T23:30:00.000Z');
    t = await startTestRuntime({ env: { DEADLINE_TIME_ZONE: 'Europe/London' }, clock: { now: () => receivedAt } });

    const view = await t.erase({ externalId: 'crm-deadline-1' });

    expect(view.dueAt).toBe('2026-04-30T22:59:59.999Z');
    expect(view.overdue).toBe(false);
    const completed = view.events.find((e: any) => e.type === 'request.completed');
    expect(completed.data).toMatchObject({ dueAt: '2026-04-30T22:59:59.999Z', withinDeadline: true });
  });
});

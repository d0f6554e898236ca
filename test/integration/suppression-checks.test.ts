import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fetchDocumented } from '#test/support/api-document';
import { findInFiles } from '#test/support/data-dir-scan';
import { startTestRuntime, TEST_AUDIT_TOKEN, type TestRuntime } from '#test/support/local-runtime';
import { captureOutput, type OutputCapture } from '#test/support/output-capture';

// Suppression checks (issue 9, item 5) end to end on the local runtime: identifiers matched by pseudonym as at intake,
// answers in the order sent without the identifiers, nothing stored or logged, its own token scope.
let t: TestRuntime;
let output: OutputCapture;
let token: string;

const check = async (body: unknown, bearer = token) => {
  const response = await fetchDocumented(`${t.runtime.url}/v1/suppression-checks`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${bearer}` },
    body: JSON.stringify(body),
  });
  return { status: response.status, json: (await response.json()) as any };
};

let erasedAt: string;

beforeAll(async () => {
  t = await startTestRuntime({ persistent: true });
  token = t.runtime.secrets.SUPPRESSION_TOKENS;
  output = captureOutput();
  // Every simulator is empty: the erasure completes (nothing to erase is success).
  const erased = await t.erase({ email: 'Erased.Person@Example.COM', externalId: 'crm-erased-1' });
  expect(erased.status).toBe('completed');
  erasedAt = erased.completedAt;
});

afterAll(async () => {
  output?.restore();
  await t?.stop();
});

describe('POST /v1/suppression-checks', () => {
  it('answers per identifier, in the order sent, matched through the intake canonical form', async () => {
    const { status, json } = await check({
      emails: ['erased.person@EXAMPLE.com', 'never.asked@example.com', 'not an email', 42],
      externalIds: ['crm-erased-1', 'CRM-ERASED-1', ''],
    });

    expect(status).toBe(200);
    expect(json.emails).toEqual([
      { status: 'erased', erasedAt },
      { status: 'none' },
      { status: 'invalid' },
      { status: 'invalid' },
    ]);
    // External ids are compared exactly, as the providers are searched.
    expect(json.externalIds).toEqual([{ status: 'erased', erasedAt }, { status: 'none' }, { status: 'invalid' }]);
    expect(JSON.stringify(json)).not.toContain('@');
  });

  it('takes 1,000 identifiers in one call (each distinct pseudonym looked up once) and refuses 1,001', async () => {
    // Distinct identifiers cost one index query each (16 at once): dynalite answers a few hundred a second, DynamoDB
    // thousands; repeated ones, in any case or form of the address, are looked up once.
    const emails = Array.from({ length: 600 }, (_, i) =>
      i % 2 ? 'ERASED.person@example.com' : `bulk.${i % 20}@example.com`,
    );
    const externalIds = Array.from({ length: 400 }, (_, i) => `bulk-${i % 20}`);

    const ok = await check({ emails, externalIds });
    const tooMany = await check({ emails, externalIds: [...externalIds, 'one-more'] });

    expect(ok.status).toBe(200);
    expect(ok.json.emails).toHaveLength(600);
    expect(ok.json.emails.filter((r: { status: string }) => r.status === 'erased')).toHaveLength(300);
    expect(ok.json.externalIds.every((r: { status: string }) => r.status === 'none')).toBe(true);
    expect(tooMany.status).toBe(422);
  });

  it('has its own token scope: an audit token is refused with 403, none with 401', async () => {
    expect((await check({ emails: ['a@example.com'] }, TEST_AUDIT_TOKEN)).status).toBe(403);
    expect((await check({ emails: ['a@example.com'] }, 'x'.repeat(40))).status).toBe(401);
    expect((await check({ emails: [] })).status).toBe(422);
  });

  it('stores nothing from the call and logs no identifier', async () => {
    const needle = 'suppression.canary.7f3a@example.com';
    await check({ emails: [needle], externalIds: ['suppression-canary-ext-7f3a'] });
    await t.runtime.workflow.idle().catch(() => undefined);

    expect(output.text()).not.toContain('suppression.canary');
    expect(output.text()).not.toContain('suppression-canary-ext');
    const hits = await findInFiles(t.dataDir, { email: needle, externalId: 'suppression-canary-ext-7f3a' });
    expect(hits).toEqual([]);
  });
});

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fetchDocumented } from '#test/support/api-document';
import { startTestRuntime, TEST_AUDIT_TOKEN, TEST_OPERATOR_TOKEN, type TestRuntime } from '#test/support/local-runtime';

// Deadline extension (issue 9, item 7; GDPR Art. 12(3)) end to end on the local runtime: a request in its waiting
// period is extended once by up to two further months, recorded as `request.extended`; the errors say why not.
let t: TestRuntime;
let now = new Date('2026-11-03T10:00:00.000Z');
const clock = { now: () => now };

const extend = async (id: string, body: unknown, token = TEST_OPERATOR_TOKEN) => {
  const response = await fetchDocumented(`${t.runtime.url}/v1/erasure-requests/${id}/extend`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
    body: JSON.stringify(body),
  });
  return { status: response.status, json: (await response.json()) as any };
};

beforeAll(async () => {
  // A waiting period keeps requests open while the test extends them.
  t = await startTestRuntime({ clock, env: { WAITING_PERIOD_SECONDS: '3600', DEADLINE_TIME_ZONE: 'Europe/London' } });
});

afterAll(async () => {
  now = new Date();
  await t?.stop({ crash: true });
});

describe('POST /v1/erasure-requests/{id}/extend', () => {
  it('extends dueAt by two further months once, with the reason in the trail', async () => {
    const { json: submitted } = await t.submit({ email: 'extend.me@example.com', reference: 'DSR-77' });
    const before = (await t.get(submitted.id)).json;
    expect(before.dueAt).toBe('2026-12-03T23:59:59.999Z');

    const extended = await extend(submitted.id, {
      reasonCode: 'complexity',
      note: 'FirstPromoter batch backlog, DSR-77',
    });
    const again = await extend(submitted.id, { reasonCode: 'complexity' });

    expect(extended.status).toBe(200);
    // Three calendar months after receipt, to the end of that day in the controller's calendar (GMT in February).
    expect(extended.json.dueAt).toBe('2027-02-03T23:59:59.999Z');
    expect(extended.json.extension).toMatchObject({ months: 2, reasonCode: 'complexity', previousDueAt: before.dueAt });
    const event = extended.json.events.find((e: { type: string }) => e.type === 'request.extended');
    expect(event).toMatchObject({
      actor: expect.stringMatching(/^operator:/),
      data: {
        previousDueAt: before.dueAt,
        dueAt: '2027-02-03T23:59:59.999Z',
        months: 2,
        reasonCode: 'complexity',
        note: 'FirstPromoter batch backlog, DSR-77',
      },
    });
    expect(extended.json.integrity.chainValid).toBe(true);
    expect(again.status).toBe(409);
  });

  it('refuses an extension after the first deadline (422), a bad reason or note (422), a closed request (409)', async () => {
    const { json: late } = await t.submit({ email: 'too.late@example.com' });
    const { json: other } = await t.submit({ email: 'other@example.com' });
    const { json: canceled } = await t.submit({ email: 'canceled@example.com' });
    expect((await t.cancel(canceled.id)).status).toBe(200);

    const badReason = await extend(other.id, { reasonCode: 'holiday' });
    const personalNote = await extend(other.id, { reasonCode: 'complexity', note: 'asked by jane@example.com' });
    const closed = await extend(canceled.id, { reasonCode: 'number_of_requests' });
    now = new Date('2026-12-04T00:00:00.000Z');
    const afterDeadline = await extend(late.id, { reasonCode: 'number_of_requests', months: 1 });
    now = new Date('2026-11-03T10:00:00.000Z');

    expect(badReason.status).toBe(422);
    expect(personalNote.status).toBe(422);
    expect(JSON.stringify(personalNote.json)).not.toContain('jane');
    expect(closed.status).toBe(409);
    expect(afterDeadline).toMatchObject({ status: 422, json: { error: { code: 'deadline_passed' } } });
    expect((await t.get(late.id)).json.dueAt).toBe('2026-12-03T23:59:59.999Z');
  });

  it('is for operators: an audit token gets 403, an unknown request 404', async () => {
    const { json: submitted } = await t.submit({ email: 'auditor.tries@example.com' });

    expect((await extend(submitted.id, { reasonCode: 'complexity' }, TEST_AUDIT_TOKEN)).status).toBe(403);
    expect((await extend(`er_${'0'.repeat(32)}`, { reasonCode: 'complexity' })).status).toBe(404);
  });
});

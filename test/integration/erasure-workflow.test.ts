import { afterEach, describe, expect, it } from 'vitest';
import { FirstPromoterSimulator } from '#test/simulators/firstpromoter';
import { fetchDocumented } from '#test/support/api-document';
import { actionOf, signHeaders, startTestRuntime, type TestRuntime } from '#test/support/local-runtime';

/**
 * The whole service on one machine: signed intake over HTTP, the ASL run by aws-local-stepfunctions with the real task
 * handlers, dynalite, and the provider simulators. Each test seeds the providers and asserts what they were asked.
 */

let t: TestRuntime | undefined;
afterEach(async () => {
  await t?.stop();
  t = undefined;
});

function seedJane(rt: TestRuntime, fpReferrals: number) {
  const spring = rt.referralRock.addProgram({ name: 'Spring' });
  const partners = rt.referralRock.addProgram({ name: 'Partners' });
  const member = rt.referralRock.addMember({ email: 'jane@example.com', programId: spring.id });
  rt.referralRock.addMember({ email: 'JANE@example.com', programId: partners.id });
  const bystander = rt.referralRock.addMember({ email: 'alex@example.com', programId: spring.id });
  rt.referralRock.addReferral({ email: 'jane@example.com', programId: partners.id });
  const friend = rt.referralRock.addReferral({
    email: 'sam@example.com',
    programId: spring.id,
    referringMemberId: member.id,
    memberEmail: 'jane@example.com',
  });
  for (let i = 0; i < fpReferrals; i++) rt.firstPromoter.addReferral({ email: 'jane@example.com', uid: `j-${i}` });
  const lookalike = rt.firstPromoter.addReferral({ email: 'xjane@example.com', uid: 'other' });
  const promoter = rt.firstPromoter.addPromoter({ email: 'jane@example.com', name: 'Jane' });
  return { bystander, friend, lookalike, promoter };
}

describe('erasure end to end on one machine', () => {
  it('erases a subject from both providers with a synchronous FirstPromoter delete, leaving everyone else', async () => {
    t = await startTestRuntime();
    const { bystander, friend, lookalike, promoter } = seedJane(t, 3);

    const view = await t.erase({ email: '  Jane@Example.com ', reference: 'TICKET-1' });

    expect(view.status).toBe('completed');
    expect(view.reference).toBe('TICKET-1');
    expect(actionOf(view, 'referralrock', 'delete_members')).toMatchObject({ outcome: 'deleted', count: 2 });
    expect(actionOf(view, 'referralrock', 'delete_referrals')).toMatchObject({ outcome: 'deleted', count: 1 });
    expect(actionOf(view, 'firstpromoter', 'delete_referrals')).toMatchObject({ outcome: 'deleted', count: 3 });
    expect(actionOf(view, 'firstpromoter', 'archive_promoters')).toMatchObject({ outcome: 'archived', count: 1 });
    expect(t.referralRock.members().map((m) => m.id)).toEqual([bystander.id]);
    expect(t.referralRock.referrals().map((r) => r.id)).toEqual([friend.id]);
    expect(t.firstPromoter.referrals().map((r) => r.id)).toEqual([lookalike.id]);
    expect(t.firstPromoter.promoters().find((p) => p.id === promoter.id)?.archived_at).not.toBeNull();
    expect(t.firstPromoter.harness.requestsTo('DELETE /referrals')).toHaveLength(1);
    expect(t.firstPromoter.harness.requestsTo('GET /batch_processes/:id')).toHaveLength(0);
    expect(view.completedAt).toBeDefined();
    // Each action appended to a lane of its own, whose heads the seal commits to.
    const laneEvents = view.lanes.flatMap((l: any) => l.events);
    expect(view.integrity).toEqual({ chainValid: true, events: view.events.length + laneEvents.length });
    expect(view.lanes.map((l: any) => l.lane).sort()).toEqual([
      'firstpromoter.promoters',
      'firstpromoter.referrals',
      'referralrock.members',
      'referralrock.referrals',
    ]);
    expect(view.events.at(-1).data.lanes).toEqual(
      Object.fromEntries(view.lanes.map((l: any) => [l.lane, { seq: l.events.length, hash: l.events.at(-1).hash }])),
    );
    expect(view.events.map((e: any) => e.type)).toEqual(
      expect.arrayContaining(['request.received', 'erasure.started', 'request.completed', 'identity.destroyed']),
    );
    // The chain head is anchored outside the tables, in the workflow's history.
    expect(JSON.stringify(t.workflowEvents)).toContain(view.events.at(-1).hash);
  });

  it('follows an asynchronous FirstPromoter batch (more than 5 ids) to completion by polling', async () => {
    t = await startTestRuntime();
    seedJane(t, 7);

    const view = await t.erase({ email: 'jane@example.com' });

    const fp = actionOf(view, 'firstpromoter', 'delete_referrals');
    expect(fp).toMatchObject({ outcome: 'deleted', count: 7 });
    expect(fp.batchId).toBe(t.firstPromoter.batches().find((b) => b.action_label === 'referral/delete')?.id);
    expect(t.firstPromoter.harness.requestsTo('GET /batch_processes/:id').length).toBeGreaterThanOrEqual(2);
    expect(t.firstPromoter.referrals().filter((r) => r.email === 'jane@example.com')).toHaveLength(0);
    expect(view.status).toBe('completed');
    const lane = view.lanes.find((l: any) => l.lane === 'firstpromoter.referrals');
    const types = lane.events.map((e: any) => `${e.type}:${e.data.key ?? ''}:${e.data.outcome ?? ''}`);
    expect(types).toContain('action.recorded:firstpromoter.referrals:pending');
    expect(types).toContain('action.recorded:firstpromoter.referrals:deleted');
  });

  it.each([
    ['partial', 'partial', 'partially_completed'],
    ['failed', 'failed', 'partially_completed'],
    ['stopped', 'partial', 'partially_completed'],
  ] as const)('records a %s batch as %s with its batch id', async (planned, outcome, status) => {
    t = await startTestRuntime();
    seedJane(t, 7);
    t.firstPromoter.planNextBatch({ outcome: planned });
    // The archive of one promoter is synchronous; the plan applies to the next asynchronous batch: the delete.

    const view = await t.erase({ email: 'jane@example.com' });

    const fp = actionOf(view, 'firstpromoter', 'delete_referrals');
    expect(fp.outcome).toBe(outcome);
    expect(fp.batchId).toEqual(expect.any(Number));
    expect(fp.errors?.length).toBeGreaterThan(0);
    expect(view.status).toBe(status);
    expect(actionOf(view, 'referralrock', 'delete_members').outcome).toBe('deleted');
  });

  it('treats "not found" everywhere as a successful, completed erasure', async () => {
    t = await startTestRuntime();
    t.referralRock.addMember({ email: 'someone@example.com' });

    const view = await t.erase({ email: 'nobody@example.com', externalId: 'crm-404' });

    expect(view.status).toBe('completed');
    expect(view.actions.map((a: any) => a.outcome)).toEqual(['not_found', 'not_found', 'not_found', 'not_found']);
    expect(view.subject.identifiers).toEqual(['email', 'externalId']);
    expect(t.referralRock.harness.requestsTo('DELETE /api/members/remove')).toHaveLength(0);
    expect(t.firstPromoter.harness.requestsTo('DELETE /referrals')).toHaveLength(0);
  });

  it('archives more than 5 promoters five a call, so a batch failing after the answer cannot leave them active', async () => {
    // A batch of more than 5 ids finishes after FirstPromoter answered (here as soon as anyone looks), and this one
    // fails: an archive sent as one batch was recorded `archived` while the promoters stayed active.
    t = await startTestRuntime({ firstPromoter: new FirstPromoterSimulator({ batch: { msToComplete: 0 } }) });
    for (let i = 0; i < 6; i++) t.firstPromoter.addPromoter({ email: 'many@example.com', name: `Promoter ${i}` });
    t.firstPromoter.planNextBatch({ outcome: 'failed' });

    const view = await t.erase({ email: 'many@example.com' });
    t.firstPromoter.runningBatches(); // every batch that was due has ended now

    const archive = actionOf(view, 'firstpromoter', 'archive_promoters');
    const active = t.firstPromoter.promoters().filter((p) => p.archived_at === null);
    expect(active).toHaveLength(0);
    expect(archive).toMatchObject({ outcome: 'archived', count: 6, verification: { stillFound: 0 } });
    expect(view.status).toBe('completed');
    const calls = t.firstPromoter.harness.requestsTo('POST /promoters/archive');
    expect(calls.map((c: any) => c.body.ids.length)).toEqual([5, 1]);
  });

  it('finds a subject by external id alone', async () => {
    t = await startTestRuntime();
    t.referralRock.addMember({ email: 'john@example.com', externalIdentifier: 'crm-1001' });
    t.firstPromoter.addReferral({ email: 'john@example.org', uid: 'crm-1001' });
    t.firstPromoter.addPromoter({ email: 'john@example.com', cust_id: 'crm-1001' });

    const view = await t.erase({ externalId: 'crm-1001' });

    expect(view.status).toBe('completed');
    expect(actionOf(view, 'referralrock', 'delete_members')).toMatchObject({ outcome: 'deleted', count: 1 });
    expect(actionOf(view, 'firstpromoter', 'delete_referrals')).toMatchObject({ outcome: 'deleted', count: 1 });
    expect(actionOf(view, 'firstpromoter', 'archive_promoters')).toMatchObject({ outcome: 'archived', count: 1 });
  });

  it('rides out transient 500s and 429s with retries and still erases', async () => {
    t = await startTestRuntime();
    seedJane(t, 2);
    t.referralRock.harness.injectFault('GET /api/members', { kind: 'status', status: 500 }, 1);
    t.firstPromoter.harness.injectFault('DELETE /referrals', { kind: 'status', status: 429, retryAfter: '1' }, 1);

    const view = await t.erase({ email: 'jane@example.com' });

    expect(view.status).toBe('completed');
    // The failed search retried, then the search after the removal that confirms the members are gone.
    expect(t.referralRock.harness.requestsTo('GET /api/members').map((r) => r.status)).toEqual([500, 200, 200]);
    expect(t.firstPromoter.harness.requestsTo('DELETE /referrals').map((r) => r.status)).toEqual([429, 200]);
    expect(actionOf(view, 'firstpromoter', 'delete_referrals')).toMatchObject({ outcome: 'deleted', count: 2 });
  });

  it('records a branch whose retries ran out as failed while the other branches complete', async () => {
    // No retry window: the state machine's quick retries are all the step gets (retry-window.test.ts has the window).
    t = await startTestRuntime({ env: { PROVIDER_RETRY_WINDOW_SECONDS: '0' } });
    seedJane(t, 2);
    t.referralRock.harness.injectFault('GET /api/referrals', { kind: 'status', status: 503 }, 100);

    const view = await t.erase({ email: 'jane@example.com' });

    const failed = actionOf(view, 'referralrock', 'delete_referrals');
    expect(failed.outcome).toBe('failed');
    expect(failed.errors[0]).toMatch(/^ProviderUnavailableError: Referral Rock referrals\.search/);
    // The read-back could not run either, so the failure is recorded as unverified.
    expect(failed.errors[1]).toMatch(/^not verified: the search afterwards ended with ProviderUnavailableError/);
    expect(actionOf(view, 'referralrock', 'delete_members').outcome).toBe('deleted');
    expect(actionOf(view, 'firstpromoter', 'delete_referrals').outcome).toBe('deleted');
    expect(view.status).toBe('partially_completed');
    // The state machine retried the task (4 attempts after the first) on top of the client's own 2 tries each, then
    // the read-back as many times.
    expect(t.referralRock.harness.requestsTo('GET /api/referrals').length).toBe(20);
    expect(t.referralRock.referrals().filter((r) => r.email === 'jane@example.com')).toHaveLength(1);
  });

  it('fails fast on rejected credentials without retrying, recording the failure', async () => {
    t = await startTestRuntime({ env: { FIRSTPROMOTER_API_KEY: 'wrong-key' } });
    seedJane(t, 2);

    const view = await t.erase({ email: 'jane@example.com' });

    expect(actionOf(view, 'firstpromoter', 'delete_referrals')).toMatchObject({ outcome: 'failed' });
    expect(actionOf(view, 'firstpromoter', 'delete_referrals').errors[0]).toMatch(/^ProviderAuthError/);
    expect(actionOf(view, 'firstpromoter', 'archive_promoters').outcome).toBe('failed');
    // The step's search, then the read-back's: neither retried.
    expect(t.firstPromoter.harness.requestsTo('GET /referrals')).toHaveLength(2);
    expect(view.status).toBe('partially_completed');
  });
});

describe('batch poll timeout', () => {
  it('ends the FirstPromoter action failed, keeping its batch id, when the batch outlasts BATCH_POLL_TIMEOUT_SECONDS', async () => {
    t = await startTestRuntime({
      env: { BATCH_POLL_TIMEOUT_SECONDS: '1' },
      firstPromoter: new FirstPromoterSimulator({ batch: { pollsToComplete: 1000 } }),
      // A few polls before the timeout, not the hundred that the default 20 ms wait made of two seconds (each one a
      // task invocation with its DynamoDB calls): the timeout is the subject, not how often the batch is polled.
      waitTimeOverrides: { WaitForBatch: 250 },
    });
    seedJane(t, 7);

    const view = await t.erase({ email: 'jane@example.com' });

    const fp = actionOf(view, 'firstpromoter', 'delete_referrals');
    expect(fp.outcome).toBe('failed');
    expect(fp.batchId).toBe(t.firstPromoter.batches().find((b) => b.action_label === 'referral/delete')?.id);
    expect(fp.errors[0]).toMatch(/poll timeout/);
    expect(view.status).toBe('partially_completed');
  });
});

describe('intake refusals', () => {
  it('refuses bad requests with the documented status, records nothing and calls no provider', async () => {
    t = await startTestRuntime();
    const rt = t;
    const valid = JSON.stringify({ email: 'refused@example.com' });
    const post = (body: string, headers: Record<string, string>) =>
      fetchDocumented(`${rt.runtime.url}/v1/erasure-requests`, { method: 'POST', body, headers }).then(async (r) => ({
        status: r.status,
        json: (await r.json()) as { error: { code: string; message: string } },
      }));
    const json = { 'content-type': 'application/json' };
    const stale = new Date(Date.now() - 6 * 60_000);

    const results = {
      unsigned: await post(valid, json),
      wrongSecret: await post(valid, { ...json, ...signHeaders(valid, { secret: `whsec_${'A'.repeat(43)}=` }) }),
      stale: await post(valid, { ...json, ...signHeaders(valid, { timestamp: stale }) }),
      malformed: await post('{"email":', { ...json, ...signHeaders('{"email":') }),
      invalid: await post('{"email":"not-an-email"}', { ...json, ...signHeaders('{"email":"not-an-email"}') }),
      noIdentifier: await post('{"reference":"T-9"}', { ...json, ...signHeaders('{"reference":"T-9"}') }),
      notJson: await post(valid, { 'content-type': 'text/plain', ...signHeaders(valid) }),
      tooLarge: await post(JSON.stringify({ email: 'refused@example.com', pad: 'x'.repeat(17_000) }), {
        ...json,
        ...signHeaders('irrelevant'),
      }),
    };

    expect(Object.fromEntries(Object.entries(results).map(([k, v]) => [k, v.status]))).toEqual({
      unsigned: 401,
      wrongSecret: 401,
      stale: 401,
      malformed: 400,
      invalid: 422,
      noIdentifier: 422,
      notJson: 415,
      tooLarge: 413,
    });
    for (const result of Object.values(results)) {
      expect(result.json.error).toEqual({ code: expect.any(String), message: expect.any(String) });
    }
    expect(results.invalid.json.error.message).not.toContain('not-an-email');
    expect((await t.lookup({ email: 'refused@example.com' })).json.requests).toEqual([]);
    expect(t.referralRock.harness.requests).toHaveLength(0);
    expect(t.firstPromoter.harness.requests).toHaveLength(0);
  });

  it('guards the auditor endpoints with bearer tokens and answers 404 for unknown ids', async () => {
    t = await startTestRuntime();

    expect((await t.get('er_unknown')).status).toBe(404);
    expect((await t.get('er_unknown', 'wrong-token-wrong-token')).status).toBe(401);
    expect((await fetchDocumented(`${t.runtime.url}/v1/erasure-requests/er_unknown`)).status).toBe(401);
    expect((await t.cancel('er_unknown')).status).toBe(404);
    expect((await fetchDocumented(`${t.runtime.url}/v1/nothing-here`)).status).toBe(404);
  });

  it('lets an auditor holding an identifier find the requests through its pseudonym', async () => {
    t = await startTestRuntime();
    const view = await t.erase({ email: 'lookup@example.com', externalId: 'crm-77' });

    const byEmail = await t.lookup({ email: 'LOOKUP@example.com' });
    const byExternalId = await t.lookup({ externalId: 'crm-77' });

    expect(byEmail.json.requests.map((r: any) => r.id)).toEqual([view.id]);
    expect(byExternalId.json.requests.map((r: any) => r.id)).toEqual([view.id]);
    expect(byEmail.json.pseudonyms.email).toBe(view.subject.pseudonym);
    expect((await t.lookup({ externalId: 'crm-78' })).json.requests).toEqual([]);
  });
});

describe('waiting period and cancel', () => {
  it('cancels during the waiting period: workflow stopped, promoters restored, nothing erased, identity destroyed', async () => {
    t = await startTestRuntime({ env: { WAITING_PERIOD_SECONDS: '60' } });
    const { promoter } = seedJane(t, 2);
    const alreadyArchived = t.firstPromoter.addPromoter({
      email: 'jane@example.com',
      archived_at: '2026-01-01T00:00:00Z',
    });

    const submitted = await t.submit({ email: 'jane@example.com' });
    const id = submitted.json.id;
    const archived = await waitFor(async () => {
      const { json } = (await t?.get(id)) ?? { json: undefined };
      return actionOf(json, 'firstpromoter', 'archive_promoters')?.outcome === 'archived' ? json : undefined;
    });
    expect(archived.status).toBe('waiting');
    expect(t.firstPromoter.promoters().find((p) => p.id === promoter.id)?.archived_at).not.toBeNull();

    const canceled = await t.cancel(id);

    expect(canceled.status).toBe(200);
    expect(canceled.json.status).toBe('canceled');
    // Canceled, not completed: the time is the cancel's.
    expect(canceled.json.canceledAt).toEqual(expect.any(String));
    expect(canceled.json).not.toHaveProperty('completedAt');
    expect(actionOf(canceled.json, 'firstpromoter', 'archive_promoters')).toMatchObject({
      outcome: 'restored',
      count: 1,
    });
    // Archived and recorded before the cancel: nothing to qualify.
    expect(actionOf(canceled.json, 'firstpromoter', 'archive_promoters').notes).toBeUndefined();
    expect(t.firstPromoter.promoters().find((p) => p.id === promoter.id)?.archived_at).toBeNull();
    // Archived before this request, so not this request's to restore.
    expect(t.firstPromoter.promoters().find((p) => p.id === alreadyArchived.id)?.archived_at).toBe(
      '2026-01-01T00:00:00Z',
    );
    expect(t.firstPromoter.harness.requestsTo('POST /promoters/restore')[0]?.body).toEqual({ ids: [promoter.id] });
    expect(t.runtime.workflow.runningCount).toBe(0);
    expect(t.referralRock.members()).toHaveLength(3);
    expect(t.firstPromoter.harness.requestsTo('DELETE /referrals')).toHaveLength(0);
    expect(canceled.json.events.map((e: any) => e.type)).toEqual(
      expect.arrayContaining(['cancel.requested', 'promoters.restored', 'identity.destroyed']),
    );
    // The sealing event is the last the request ever gets.
    expect(canceled.json.events.at(-1).type).toBe('request.canceled');

    // A client retrying its cancel (a timeout, a duplicate webhook) is answered as the first time, and nothing is done
    // again: no second restore, no event after the sealing one.
    const repeated = await t.cancel(id);
    expect(repeated.status).toBe(200);
    expect(repeated.json.status).toBe('canceled');
    expect(repeated.json.canceledAt).toBe(canceled.json.canceledAt);
    expect(repeated.json.events).toEqual(canceled.json.events);
    expect(t.firstPromoter.harness.requestsTo('POST /promoters/restore')).toHaveLength(1);
  });

  it('completes a cancel whose promoter restore fails, and the sweeper restores the promoters later', async () => {
    t = await startTestRuntime({ env: { WAITING_PERIOD_SECONDS: '60' } });
    const { promoter } = seedJane(t, 2);
    // Both of the client's tries at cancel time fail; the sweeper's later try succeeds.
    t.firstPromoter.harness.injectFault('POST /promoters/restore', { kind: 'status', status: 503 }, 2);
    const id = (await t.submit({ email: 'jane@example.com' })).json.id;
    await waitFor(async () => {
      const { json } = (await t?.get(id)) ?? { json: undefined };
      return actionOf(json, 'firstpromoter', 'archive_promoters')?.outcome === 'archived' ? json : undefined;
    });

    const canceled = await t.cancel(id);

    expect(canceled.status).toBe(200);
    // Not `canceled` yet: the cancel ends only once the promoters are restored.
    expect(canceled.json.status).toBe('canceling');
    const archive = actionOf(canceled.json, 'firstpromoter', 'archive_promoters');
    expect(archive.outcome).toBe('failed');
    expect(archive.errors[0]).toMatch(/^restore failed \(retried hourly\): FirstPromoter promoters\.restore/);
    expect(t.firstPromoter.promoters().find((p) => p.id === promoter.id)?.archived_at).not.toBeNull();
    expect(canceled.json.events.map((e: any) => e.type)).toEqual(
      expect.arrayContaining(['cancel.requested', 'promoters.restore_failed', 'identity.destroyed']),
    );
    expect(canceled.json.events.map((e: any) => e.type)).not.toContain('request.canceled');
    // A repeated cancel while `canceling` says so (200, the cancel under way) and leaves the restore to the sweeper.
    const restoreCalls = t.firstPromoter.harness.requestsTo('POST /promoters/restore').length;
    const repeated = await t.cancel(id);
    expect(repeated.status).toBe(200);
    expect(repeated.json.status).toBe('canceling');
    expect(repeated.json.events).toEqual(canceled.json.events);
    expect(t.firstPromoter.harness.requestsTo('POST /promoters/restore')).toHaveLength(restoreCalls);

    const swept = await t.runtime.sweep();
    const after = (await t.get(id)).json;

    expect(swept.restored).toBe(1);
    expect(after.status).toBe('canceled');
    expect(after.events.at(-1).type).toBe('request.canceled');
    expect(actionOf(after, 'firstpromoter', 'archive_promoters')).toMatchObject({ outcome: 'restored', count: 1 });
    expect(t.firstPromoter.promoters().find((p) => p.id === promoter.id)?.archived_at).toBeNull();
    expect(after.events.filter((e: any) => e.type === 'request.canceled')).toHaveLength(1);
    expect((await t.runtime.sweep()).restored).toBe(0);
  });

  it('holds a cancel until an archive batch FirstPromoter still reports running ended, then restores', async () => {
    t = await startTestRuntime({ env: { WAITING_PERIOD_SECONDS: '60' } });
    for (let i = 0; i < 6; i++) t.firstPromoter.addPromoter({ email: 'many@example.com', name: `Promoter ${i}` });
    // Against its docs, FirstPromoter answers the first archive call (five ids) with a batch that runs on.
    t.firstPromoter.runOnNextCalls('promoter/archive');
    const id = (await t.submit({ email: 'many@example.com' })).json.id;
    const archive = await waitFor(async () => {
      const { json } = (await t?.get(id)) ?? { json: undefined };
      return actionOf(json, 'firstpromoter', 'archive_promoters')?.outcome === 'archived' ? json : undefined;
    });
    const archiveBatch = actionOf(archive, 'firstpromoter', 'archive_promoters').batchId;

    const canceled = await t.cancel(id);

    // The batch still runs (the simulator ends it at its second poll; the cancel's was the first): no restore yet.
    expect(canceled.status).toBe(200);
    expect(canceled.json.status).toBe('canceling');
    expect(t.firstPromoter.harness.requestsTo('POST /promoters/restore')).toHaveLength(0);
    const waiting = canceled.json.events.find((e: any) => e.type === 'promoters.restore_waiting');
    expect(waiting.data).toMatchObject({ batchId: archiveBatch, batchStatus: 'in_progress' });

    // The sweeper's poll finds it ended: the promoters are archived, and only now restored.
    const swept = await t.runtime.sweep();

    expect(swept.restored).toBe(1);
    // The six restored five ids a call, each done when FirstPromoter answers.
    expect(t.firstPromoter.harness.requestsTo('POST /promoters/restore')).toHaveLength(2);
    const after = (await t.get(id)).json;
    expect(after.status).toBe('canceled');
    expect(actionOf(after, 'firstpromoter', 'archive_promoters')).toMatchObject({ outcome: 'restored', count: 6 });
  });

  it('refuses to cancel once erasure has begun', async () => {
    t = await startTestRuntime();
    seedJane(t, 1);
    const view = await t.erase({ email: 'jane@example.com' });

    const response = await t.cancel(view.id);

    expect(response.status).toBe(409);
    expect(response.json.error.code).toBe('conflict');
  });
});

describe('idempotency and recovery', () => {
  it('turns concurrent duplicate deliveries of one webhook into one request and one erasure', async () => {
    t = await startTestRuntime();
    seedJane(t, 2);
    const rawBody = JSON.stringify({ email: 'jane@example.com' });
    const timestamp = new Date();
    const rt = t;

    const responses = await Promise.all(
      Array.from({ length: 6 }, () => rt.submit({}, { rawBody, webhookId: 'msg_duplicate_1', timestamp })),
    );
    await t.runtime.workflow.idle();

    expect(responses.map((r) => r.status)).toEqual([202, 202, 202, 202, 202, 202]);
    expect(new Set(responses.map((r) => r.json.id)).size).toBe(1);
    const view = (await t.get(responses[0]?.json.id)).json;
    expect(view.events.filter((e: any) => e.type === 'request.received')).toHaveLength(1);
    expect(t.referralRock.harness.requestsTo('DELETE /api/members/remove')).toHaveLength(1);
    expect(t.firstPromoter.harness.requestsTo('DELETE /referrals')).toHaveLength(1);
    expect((await t.lookup({ email: 'jane@example.com' })).json.requests).toHaveLength(1);
  });

  it('answers 409 when a webhook-id is reused for a different payload', async () => {
    t = await startTestRuntime();
    const first = await t.submit({ email: 'a@example.com' }, { webhookId: 'msg_reused' });
    const second = await t.submit({ email: 'b@example.com' }, { webhookId: 'msg_reused' });

    expect(first.status).toBe(202);
    expect(second.status).toBe(409);
    expect(second.json.error.code).toBe('conflict');
  });

  it('resumes a request interrupted by a crash without acting twice', async () => {
    t = await startTestRuntime({ persistent: true, env: { BATCH_POLL_INTERVAL_SECONDS: '30' } });
    seedJane(t, 7);
    const { referralRock, firstPromoter, dataDir } = t;
    const submitted = await t.submit({ email: 'jane@example.com' });
    const id = submitted.json.id;
    await waitFor(async () => {
      const { json } = (await t?.get(id)) ?? { json: undefined };
      return actionOf(json, 'firstpromoter', 'delete_referrals')?.outcome === 'pending' &&
        actionOf(json, 'referralrock', 'delete_members')
        ? json
        : undefined;
    });

    await t.stop({ crash: true, keepData: true });
    t = await startTestRuntime({
      persistent: true,
      dataDir,
      referralRock,
      firstPromoter,
      env: { BATCH_POLL_INTERVAL_SECONDS: '1' },
      // The resumed run polls the batch as any run does in these tests (the setting alone would make it wait 1 s a poll).
      waitTimeOverrides: { WaitForBatch: 20 },
    });
    expect(t.runtime.resumed).toEqual([id]);
    await t.runtime.workflow.idle();

    const view = (await t.get(id)).json;
    expect(view.status).toBe('completed');
    expect(actionOf(view, 'firstpromoter', 'delete_referrals')).toMatchObject({ outcome: 'deleted', count: 7 });
    expect(firstPromoter.harness.requestsTo('DELETE /referrals')).toHaveLength(1);
    expect(referralRock.harness.requestsTo('DELETE /api/members/remove')).toHaveLength(1);
    expect(firstPromoter.harness.requestsTo('POST /promoters/archive')).toHaveLength(1);
    expect(view.integrity.chainValid).toBe(true);
    expect(view.events.filter((e: any) => e.type === 'request.completed')).toHaveLength(1);
  });
});

describe('lost answers: the provider acted, the service never heard', () => {
  it('counts Referral Rock members removed by a request whose answer was lost as deleted, not failed', async () => {
    t = await startTestRuntime();
    seedJane(t, 1);
    t.referralRock.harness.injectFault('DELETE /api/members/remove', { kind: 'drop-response' }, 1);

    const view = await t.erase({ email: 'jane@example.com' });

    expect(actionOf(view, 'referralrock', 'delete_members')).toMatchObject({ outcome: 'deleted', count: 2 });
    expect(t.referralRock.harness.requestsTo('DELETE /api/members/remove').map((r) => r.status)).toEqual([0, 200]);
    expect(view.status).toBe('completed');
  });

  it('counts Referral Rock members removed by an attempt that then failed as deleted on the retry, not not_found', async () => {
    t = await startTestRuntime();
    seedJane(t, 1);
    // The search before the remove passes; the search that verifies it fails on both of the client's tries, so the
    // step fails after the members were removed and the state machine runs it again.
    t.referralRock.harness.injectFault('GET /api/members', { kind: 'pass' }, 1);
    t.referralRock.harness.injectFault('GET /api/members', { kind: 'status', status: 503 }, 2);

    const view = await t.erase({ email: 'jane@example.com' });

    expect(actionOf(view, 'referralrock', 'delete_members')).toMatchObject({ outcome: 'deleted', count: 2 });
    expect(t.referralRock.harness.requestsTo('DELETE /api/members/remove')).toHaveLength(1);
  });

  it('records FirstPromoter referrals deleted by an attempt that then failed as deleted on the retry', async () => {
    t = await startTestRuntime();
    seedJane(t, 3);
    t.firstPromoter.harness.injectFault('GET /referrals', { kind: 'pass' }, 1);
    t.firstPromoter.harness.injectFault('GET /referrals', { kind: 'status', status: 503 }, 2);

    const view = await t.erase({ email: 'jane@example.com' });

    expect(actionOf(view, 'firstpromoter', 'delete_referrals')).toMatchObject({ outcome: 'deleted', count: 3 });
    expect(t.firstPromoter.harness.requestsTo('DELETE /referrals')).toHaveLength(1);
  });

  it('adopts the FirstPromoter batch a lost delete started instead of starting a second one', async () => {
    t = await startTestRuntime();
    seedJane(t, 7);
    t.firstPromoter.harness.injectFault('DELETE /referrals', { kind: 'drop-response' }, 1);

    const view = await t.erase({ email: 'jane@example.com' });

    const batches = t.firstPromoter.batches().filter((b) => b.action_label === 'referral/delete');
    expect(t.firstPromoter.harness.requestsTo('DELETE /referrals')).toHaveLength(1);
    expect(batches).toHaveLength(1);
    expect(actionOf(view, 'firstpromoter', 'delete_referrals')).toMatchObject({
      outcome: 'deleted',
      count: 7,
      batchId: batches[0]?.id,
    });
    expect(view.status).toBe('completed');
  });

  it('records a synchronous FirstPromoter delete whose answer was lost as deleted, without deleting again', async () => {
    t = await startTestRuntime();
    seedJane(t, 3);
    t.firstPromoter.harness.injectFault('DELETE /referrals', { kind: 'drop-response' }, 1);

    const view = await t.erase({ email: 'jane@example.com' });

    expect(t.firstPromoter.harness.requestsTo('DELETE /referrals')).toHaveLength(1);
    expect(actionOf(view, 'firstpromoter', 'delete_referrals')).toMatchObject({ outcome: 'deleted', count: 3 });
    expect(t.firstPromoter.referrals().filter((r) => r.email === 'jane@example.com')).toHaveLength(0);
  });
});

async function waitFor<T>(probe: () => Promise<T | undefined>, timeoutMs = 15_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const value = await probe();
    if (value !== undefined) return value;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error('condition not met in time');
}

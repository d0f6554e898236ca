import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { type LocalDynamo, startLocalDynamo } from '#infra/local/dynamodb';
import { GetCommand, PutCommand } from '#shared/adapters/dynamodb/document-client';
import { createDocumentClient } from '#shared/composition';
import { InvocationTimeoutError } from '#shared/errors';
import { currentInvocationBudget, runWithinBudget } from '#shared/workflow/invocation-budget';
import { actionOf, startTestRuntime, type TestRuntime } from '#test/support/local-runtime';

/**
 * A task never outlives its time budget and never fails for waiting: work in flight at the deadline is aborted and
 * retried, and a wait longer than the budget becomes a Wait state of the workflow, after which the task runs again.
 */

const statesEntered = (events: unknown[]) =>
  events.filter((e: any) => e?.type === 'StateEntered').map((e: any) => e.state?.name as string);

describe('DynamoDB calls within a task budget', () => {
  const table = 'budget-abort-items';
  let dynamo: LocalDynamo;

  beforeAll(async () => {
    dynamo = await startLocalDynamo();
    await dynamo.ensureTables({
      requests: 'budget-abort-requests',
      auditEvents: 'budget-abort-events',
      rateBudgets: table,
    });
  });

  afterAll(async () => {
    await dynamo.stop();
  });

  it('sends no write once the invocation budget has ended', async () => {
    const db = createDocumentClient({ dynamoDbEndpoint: dynamo.endpoint });

    const error = await runWithinBudget(50, async () => {
      const budget = currentInvocationBudget();
      await new Promise((resolve) => budget?.signal.addEventListener('abort', resolve));
      await db.send(new PutCommand({ TableName: table, Item: { budget: 'late-write' } }));
    }).catch((e: unknown) => e);

    expect(error).toBeInstanceOf(InvocationTimeoutError);
    const { Item } = await db.send(new GetCommand({ TableName: table, Key: { budget: 'late-write' } }));
    expect(Item).toBeUndefined();
  });

  it('leaves calls outside a task alone', async () => {
    const db = createDocumentClient({ dynamoDbEndpoint: dynamo.endpoint });

    await db.send(new PutCommand({ TableName: table, Item: { budget: 'outside' } }));

    const { Item } = await db.send(new GetCommand({ TableName: table, Key: { budget: 'outside' } }));
    expect(Item).toEqual({ budget: 'outside' });
  });
});

describe('workflow tasks on their time budget', () => {
  let t: TestRuntime | undefined;
  afterEach(async () => {
    await t?.stop();
    t = undefined;
  });

  it('aborts a provider call still in flight at the deadline, writes nothing after, and completes on the retry', async () => {
    // Each task invocation may last 1.5 s (its budget ends 0.15 s before); a request may take 5 s.
    t = await startTestRuntime({
      taskTimeoutMs: 1500,
      env: { PROVIDER_TIMEOUT_MS: '5000', POWERTOOLS_LOG_LEVEL: 'INFO' },
    });
    const program = t.referralRock.addProgram({ name: 'Spring' });
    t.referralRock.addMember({ email: 'late@example.com', programId: program.id });
    // The first remove is answered only after 2 s: after the invocation that sent it has ended.
    const slowAnswerMs = 2000;
    t.referralRock.harness.injectFault('DELETE /api/members/remove', { kind: 'delay', ms: slowAnswerMs });

    const submitted = await t.submit({ email: 'late@example.com' });
    await t.runtime.workflow.idle();
    // Past the slow answer, so that an invocation still running would have written by now.
    const slow = t.referralRock.harness.requestsTo('DELETE /api/members/remove')[0];
    await new Promise((resolve) => setTimeout(resolve, Math.max(0, (slow?.at ?? 0) + slowAnswerMs + 300 - Date.now())));
    const view = (await t.get(submitted.json.id)).json;

    expect(slow).toBeDefined();
    expect(view.status).toBe('completed');
    expect(actionOf(view, 'referralrock', 'delete_members')).toMatchObject({ outcome: 'deleted', count: 1 });
    expect(t.referralRock.members()).toEqual([]);
    const types = view.events.map((e: any) => e.type);
    expect(types.slice(types.indexOf('request.completed') + 1)).toEqual([]);
    // Its outcome's event is in its lane, once, and the seal commits to that lane as it is.
    const lane = view.lanes?.find((l: any) => l.lane === 'referralrock.members')?.events ?? [];
    expect(lane.filter((e: any) => e.data?.key === 'referralrock.members')).toHaveLength(1);
    expect(view.integrity.chainValid).toBe(true);
  }, 30_000);

  it('comes back later, and succeeds, when a Retry-After would carry the task past its budget', async () => {
    // A budget of 1.35 s; a request may start until halfway through it, so a Retry-After of 1 s does not fit.
    t = await startTestRuntime({ taskTimeoutMs: 1500, env: { PROVIDER_TIMEOUT_MS: '1000' } });
    const program = t.referralRock.addProgram({ name: 'Spring' });
    t.referralRock.addMember({ email: 'busy@example.com', programId: program.id });
    t.referralRock.harness.injectFault('GET /api/members', { kind: 'status', status: 429, retryAfter: '1' });

    const view = await t.erase({ email: 'busy@example.com' });

    expect(view.status).toBe('completed');
    expect(actionOf(view, 'referralrock', 'delete_members')).toMatchObject({ outcome: 'deleted', count: 1 });
    expect(statesEntered(t.workflowEvents)).toContain('EraseReferralRockMembersComeBackLater');
    expect(t.referralRock.members()).toEqual([]);
  }, 30_000);

  it('defers a task the shared rate budget cannot serve in time, and the request still ends completed', async () => {
    // 150 calls a minute: one each 400 ms. Each task may queue 135 ms (a tenth of its 1.35 s budget) for its first slot,
    // so of the two Referral Rock tasks starting together, one must come back later. Its Wait lasts a slot's spacing
    // instead of the whole seconds a Wait state counts in: what follows does not depend on how long it waits.
    t = await startTestRuntime({
      taskTimeoutMs: 1500,
      env: { PROVIDER_TIMEOUT_MS: '1000', REFERRALROCK_RATE_LIMIT_PER_MINUTE: '150' },
      waitTimeOverrides: {
        WaitForBatch: 20,
        EraseReferralRockMembersComeBackLater: 400,
        EraseReferralRockReferralsComeBackLater: 400,
      },
    });
    t.referralRock.harness.setRateLimit({ limit: 150, windowMs: 60_000, retryAfter: '60' });
    const program = t.referralRock.addProgram({ name: 'Spring' });
    t.referralRock.addMember({ email: 'queued@example.com', programId: program.id });
    t.referralRock.addReferral({ email: 'queued@example.com', programId: program.id });

    const view = await t.erase({ email: 'queued@example.com' });

    expect(view.status).toBe('completed');
    expect(actionOf(view, 'referralrock', 'delete_members')).toMatchObject({ outcome: 'deleted', count: 1 });
    expect(actionOf(view, 'referralrock', 'delete_referrals')).toMatchObject({ outcome: 'deleted', count: 1 });
    expect(statesEntered(t.workflowEvents).filter((name) => name.endsWith('ComeBackLater')).length).toBeGreaterThan(0);
    expect(t.referralRock.harness.requests.filter((r) => r.status === 429)).toEqual([]);
  }, 60_000);
});

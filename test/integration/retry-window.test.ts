import { afterEach, describe, expect, it } from 'vitest';
import { actionOf, startTestRuntime, type TestRuntime } from '#test/support/local-runtime';

/**
 * A provider that fails for a while is waited out, not counted out. Under load failures are not independent: a starved
 * machine (or a provider having a bad few minutes) fails every call for a stretch, and a step that gives up after a
 * fixed number of quick tries records the person's records as not erased though a later try would have erased them.
 * The step that starts FirstPromoter's referral delete has one try per invocation (after a lost answer it cannot know
 * whether the delete ran), so five invocations were all it had.
 */

let t: TestRuntime | undefined;
afterEach(async () => {
  await t?.stop();
  t = undefined;
});

describe('a provider failing for a while', () => {
  it('does not end a step after its quick retries: the referral delete and a member search erase once answered', async () => {
    t = await startTestRuntime();
    for (let i = 0; i < 2; i++) t.firstPromoter.addReferral({ email: 'blip@example.com', uid: `blip-${i}` });
    t.referralRock.addMember({ email: 'blip@example.com' });
    // Each start of the delete meets a dropped connection (it may have acted, so it is not repeated within the
    // invocation): six, one more than the state machine's Retry runs.
    t.firstPromoter.harness.injectFault('DELETE /referrals', { kind: 'reset' }, 6);
    // Two tries per invocation here (PROVIDER_MAX_ATTEMPTS=2): six invocations' worth of 503s.
    t.referralRock.harness.injectFault('GET /api/members', { kind: 'status', status: 503 }, 12);

    const view = await t.erase({ email: 'blip@example.com' });

    expect(actionOf(view, 'firstpromoter', 'delete_referrals')).toMatchObject({ outcome: 'deleted', count: 2 });
    expect(actionOf(view, 'referralrock', 'delete_members')).toMatchObject({ outcome: 'deleted', count: 1 });
    expect(view.status).toBe('completed');
    expect(t.firstPromoter.referrals()).toHaveLength(0);
    expect(t.referralRock.members()).toHaveLength(0);
    expect(t.firstPromoter.harness.requestsTo('DELETE /referrals')).toHaveLength(7);
    // Each step went back through its Wait once it had failed for the whole of the state machine's Retry.
    const entered = (t.workflowEvents as Array<{ type?: string; state?: { name?: string } }>)
      .filter((e) => e.type === 'StateEntered')
      .map((e) => e.state?.name);
    expect(entered).toContain('StartFirstPromoterReferralDeletionRetryLater');
    expect(entered).toContain('EraseReferralRockMembersRetryLater');
  });
});

describe('a cancel while a step waits out a failing provider', () => {
  it('takes effect at once: the workflow stopped in its wait, the promoter restored, the request canceled', async () => {
    const runtime = await startTestRuntime({
      env: { WAITING_PERIOD_SECONDS: '3600', PROVIDER_RETRY_WINDOW_SECONDS: '3600' },
      // The wait before the archive's next try lasts; the cancel comes in it.
      waitTimeOverrides: { ArchivePromotersRetryLater: 600_000 },
    });
    t = runtime;
    const promoter = t.firstPromoter.addPromoter({ email: 'waiting.out@example.com' });
    // Every try of the archive is answered 503 (FirstPromoter did nothing) for the whole of the Retry and beyond.
    t.firstPromoter.harness.injectFault('POST /promoters/archive', { kind: 'status', status: 503 }, 1000);
    const submitted = await t.submit({ email: 'waiting.out@example.com' });
    const inTheWait = () =>
      (runtime.workflowEvents as Array<{ type?: string; state?: { name?: string } }>).some(
        (e) => e.type === 'StateEntered' && e.state?.name === 'ArchivePromotersRetryLater',
      );
    while (!inTheWait()) await new Promise((resolve) => setTimeout(resolve, 10));

    const canceled = await t.cancel(submitted.json.id);

    expect(canceled.status).toBe(200);
    expect(canceled.json.status).toBe('canceled');
    expect(actionOf(canceled.json, 'firstpromoter', 'archive_promoters')).toMatchObject({ outcome: 'restored' });
    expect(t.firstPromoter.promoters().find((p) => p.id === promoter.id)?.archived_at).toBeNull();
    expect(canceled.json.events.at(-1).type).toBe('request.canceled');
  });
});

describe('the waiting period while the archive step retries', () => {
  it('counts from the receipt: what the archive took comes out of the period instead of delaying the erasure', async () => {
    const receivedAt = Date.now();
    let runtime: TestRuntime | undefined;
    // The archive step ends 50 minutes into a 60-minute waiting period (its provider failing until then).
    const clock = {
      now: () =>
        new Date(
          receivedAt +
            ((runtime?.firstPromoter.harness.requestsTo('POST /promoters/archive').length ?? 0) > 2 ? 50 * 60_000 : 0),
        ),
    };
    runtime = await startTestRuntime({
      clock,
      env: { WAITING_PERIOD_SECONDS: '3600', PROVIDER_RETRY_WINDOW_SECONDS: '3600' },
      waitTimeOverrides: { WaitingPeriod: 5 },
    });
    t = runtime;
    runtime.firstPromoter.addPromoter({ email: 'slow.archive@example.com' });
    // The first invocation's two tries fail; the next one archives.
    runtime.firstPromoter.harness.injectFault('POST /promoters/archive', { kind: 'status', status: 503 }, 2);

    const view = await runtime.erase({ email: 'slow.archive@example.com' });

    expect(view.status).toBe('completed');
    const waited = (runtime.workflowEvents as Array<{ type?: string; state?: { name?: string; input?: any } }>).find(
      (e) => e.type === 'StateEntered' && e.state?.name === 'WaitingPeriod',
    );
    expect(waited?.state?.input?.load?.waitSeconds).toBe(600);
  });
});

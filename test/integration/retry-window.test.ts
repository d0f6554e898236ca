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

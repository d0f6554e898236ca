import { afterEach, describe, expect, it } from 'vitest';
import { actionOf, startTestRuntime, type TestRuntime } from '#test/support/local-runtime';

/**
 * A FirstPromoter referral delete whose answer was lost (a dropped connection, a crash) may have started a batch, so
 * the retried step looks for a running batch of the planned size and follows it instead of deleting twice. FirstPromoter
 * does not say which ids a batch holds, so that batch may be another request's. Seen in the soak (seed 11, under load,
 * a kill between the plan and the delete): the step followed another subject's batch of 6 to its end, the read-back
 * found this subject's 6 referrals still there, and the request ended `partially_completed`: true, and needlessly so.
 */

let t: TestRuntime | undefined;
afterEach(async () => {
  await t?.stop();
  t = undefined;
});

/** Six referrals of the subject, and another request's delete of six others running (it ends on its second poll). */
async function withAnotherRequestsBatch(rt: TestRuntime): Promise<void> {
  for (let i = 0; i < 6; i++) rt.firstPromoter.addReferral({ email: 'resumed@example.com', uid: `resumed-${i}` });
  const others = Array.from({ length: 6 }, (_, i) =>
    rt.firstPromoter.addReferral({ email: 'other@example.com', uid: `other-${i}` }),
  );
  const { baseUrl, apiKey, accountId } = rt.runtime.config.firstPromoter;
  const started = await fetch(`${baseUrl}/referrals`, {
    method: 'DELETE',
    headers: { authorization: `Bearer ${apiKey}`, 'account-id': `${accountId}`, 'content-type': 'application/json' },
    body: JSON.stringify({ ids: others.map((r) => r.id) }),
  });
  expect(started.status).toBe(202);
  // This request's delete meets a dropped connection before FirstPromoter got it: its retry looks for a batch.
  rt.firstPromoter.harness.injectFault('DELETE /referrals', { kind: 'reset' });
}

describe("a batch taken for this step's own after a lost answer", () => {
  it("deletes the subject's referrals itself when the batch it followed turns out to be another request's", async () => {
    t = await startTestRuntime();
    await withAnotherRequestsBatch(t);

    const view = await t.erase({ email: 'resumed@example.com' });

    expect(actionOf(view, 'firstpromoter', 'delete_referrals')).toMatchObject({ outcome: 'deleted', count: 6 });
    expect(view.status).toBe('completed');
    expect(t.firstPromoter.referrals()).toEqual([]);
    // The other batch was followed, then this step's own delete ran; the record says so, with both batches' ids.
    expect(t.firstPromoter.harness.requestsTo('DELETE /referrals').map((r) => r.status)).toEqual([202, 0, 202]);
    const [other, own] = t.firstPromoter.batches().map((b) => b.id);
    expect(actionOf(view, 'firstpromoter', 'delete_referrals')).toMatchObject({
      batchId: own,
      notes: [
        `batch ${other}, not known to be this step's own, ended with the referrals still there`,
        'a search afterwards found none of them left',
      ],
    });
  });

  it('follows its own delete to the end when FirstPromoter started it and still answered 404', async () => {
    t = await startTestRuntime();
    await withAnotherRequestsBatch(t);
    // The step's own delete, after the other batch ended: FirstPromoter starts it, then answers 404.
    t.firstPromoter.harness.injectFault('DELETE /referrals', { kind: 'status', status: 404, afterProcessing: true });

    const view = await t.erase({ email: 'resumed@example.com' });

    expect(actionOf(view, 'firstpromoter', 'delete_referrals')).toMatchObject({ outcome: 'deleted', count: 6 });
    expect(view.status).toBe('completed');
    expect(t.firstPromoter.referrals()).toEqual([]);
    expect(t.firstPromoter.harness.requestsTo('DELETE /referrals').map((r) => r.status)).toEqual([202, 0, 404]);
  });
});

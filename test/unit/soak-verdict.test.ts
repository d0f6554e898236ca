import { describe, expect, it } from 'vitest';
import type { Bystanders, Person } from '#bench/soak/population';
import { type GroundTruth, type JudgedRequest, judge, type RequestView } from '#bench/soak/verdict';
import type { SimPromoter, SimReferral } from '#test/simulators/firstpromoter';

/*
 * The soak's verdict judges each recorded outcome against what the providers hold once every batch has ended, not at
 * the moment the state was read: a batch still running then will yet remove (or archive, or restore) records.
 */

const person: Person = { index: 1, email: 'soak-00001@example.test', present: true };
const noBystanders: Bystanders = {
  referralRockReferrals: [],
  referralRockMembers: [],
  firstPromoterReferrals: [],
  firstPromoterPromoters: [],
};
const referral = (id: number) => ({ id, email: person.email, uid: null }) as unknown as SimReferral;
const promoter = (archivedAt: string | null) =>
  ({ id: 2001, email: person.email, cust_id: null, archived_at: archivedAt }) as unknown as SimPromoter;

function truth(
  firstPromoter: Partial<GroundTruth['firstPromoter']> & Pick<GroundTruth['firstPromoter'], 'referrals' | 'promoters'>,
): GroundTruth {
  return { referralRock: { members: [], referrals: [] }, firstPromoter };
}

function request(status: string, actions: Array<[string, string, string]>): JudgedRequest {
  const view: RequestView = {
    status,
    actions: actions.map(([provider, action, outcome]) => ({ provider, action, outcome, count: 1 })),
    integrity: { chainValid: true },
    events: [{ seq: 1, type: status === 'completed' ? 'request.completed' : 'request.partially_completed' }],
  };
  return { id: 'req-1', person, view };
}

describe('soak verdict', () => {
  const ids = [1001, 1002, 1003, 1004, 1005, 1006];

  it('counts a failure recorded for referrals a running batch then removed as wrongly recorded', () => {
    const failed = request('partially_completed', [
      ['firstpromoter', 'delete_referrals', 'failed'],
      ['firstpromoter', 'archive_promoters', 'archived'],
    ]);
    const state = truth({
      referrals: ids.map(referral),
      promoters: [promoter('2026-11-30T10:00:00Z')],
      runningBatches: [{ id: 9001, action: 'referral/delete', ids }],
    });

    const verdict = judge([failed], noBystanders, state);

    expect(verdict.wronglyRecorded).toBe(1);
    expect(verdict.wrongByReason).toMatchObject({ 'firstpromoter.delete_referrals failed but none remain': 1 });
  });

  it('counts an archive recorded for a promoter a running batch then restored as wrongly recorded', () => {
    const completed = request('completed', [['firstpromoter', 'archive_promoters', 'archived']]);
    const state = truth({
      referrals: [],
      promoters: [promoter('2026-11-30T10:00:00Z')],
      runningBatches: [{ id: 9002, action: 'promoter/restore', ids: [2001] }],
    });

    const verdict = judge([completed], noBystanders, state);

    expect(verdict.wronglyRecorded).toBe(1);
    expect(verdict.wrongByReason).toMatchObject({ 'completed but records remain': 1 });
  });

  it('judges a failure true when the records remain after every batch has ended', () => {
    const failed = request('partially_completed', [['firstpromoter', 'delete_referrals', 'failed']]);
    const state = truth({
      referrals: ids.map(referral),
      promoters: [],
      runningBatches: [{ id: 9003, action: 'referral/delete', ids: [4242] }],
    });

    expect(judge([failed], noBystanders, state).wronglyRecorded).toBe(0);
  });

  describe('two requests of the same person', () => {
    // Action views as the status view gives them: the read-back's search time decides when an outcome was judged.
    const action = (outcome: string, checkedAt: string, count = 1) => ({
      provider: 'firstpromoter',
      action: 'delete_referrals',
      outcome,
      count,
      verification: { checkedAt },
    });
    const ofPerson = (id: string, status: string, actions: ReturnType<typeof action>[]): JudgedRequest => ({
      id,
      person,
      view: {
        status,
        actions,
        integrity: { chainValid: true },
        events: [{ seq: 1, type: status === 'canceled' ? 'request.canceled' : 'request.completed' }],
      },
    });
    const nothingLeft = truth({ referrals: [], promoters: [] });

    it("counts a failure as wrong when the other request's erasure was checked before it (the records were gone)", () => {
      // Injected: B says its referrals failed at 10:05, though A had found them gone at 10:01 and nothing remains.
      const a = ofPerson('req-a', 'completed', [action('deleted', '2026-11-30T10:01:00Z', 2)]);
      const b = ofPerson('req-b', 'partially_completed', [action('failed', '2026-11-30T10:05:00Z', 2)]);

      const verdict = judge([a, b], noBystanders, nothingLeft);

      expect(verdict.wronglyRecorded).toBe(1);
      expect(verdict.examples).toEqual([
        {
          id: 'req-b',
          problem: 'partially_completed but nothing remains, firstpromoter.delete_referrals failed but none remain',
        },
      ]);
    });

    it("judges a failure true when the other request's erasure was checked after it (it removed them later)", () => {
      const a = ofPerson('req-a', 'completed', [action('deleted', '2026-11-30T10:09:00Z', 2)]);
      const b = ofPerson('req-b', 'partially_completed', [action('failed', '2026-11-30T10:05:00Z', 2)]);

      expect(judge([a, b], noBystanders, nothingLeft).wronglyRecorded).toBe(0);
    });

    it('counts a failure as wrong when the other request was canceled: a cancel removes nothing', () => {
      const a = ofPerson('req-a', 'canceled', []);
      const b = ofPerson('req-b', 'partially_completed', [action('partial', '2026-11-30T10:05:00Z', 1)]);

      const verdict = judge([a, b], noBystanders, nothingLeft);

      expect(verdict.wrongByReason).toMatchObject({ 'firstpromoter.delete_referrals partial but none remain': 1 });
    });

    it('judges a failure true while the records remain, whatever the other request recorded', () => {
      const a = ofPerson('req-a', 'partially_completed', [action('failed', '2026-11-30T10:01:00Z', 6)]);
      const b = ofPerson('req-b', 'partially_completed', [action('failed', '2026-11-30T10:05:00Z', 6)]);

      expect(judge([a, b], noBystanders, truth({ referrals: ids.map(referral), promoters: [] })).wronglyRecorded).toBe(
        0,
      );
    });
  });
});

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
});

import { describe, expect, it } from 'vitest';
import { ACTIONS, type ActionOutcome, type ErasureRequest, type RequestStatus } from '#shared/domain/model';
import { promotersHeldByOthers } from '#shared/domain/same-subject';

/**
 * Who holds a canceled request's promoters when its cancel restores them: another request of the person ending with
 * an erasure (`closing`, or ended since the cancel's plan) holds them all, its own promoter ids being forgotten at its
 * seal; but one whose archive step found no promoter at all (`not_found`) archived, planned and relied on none, and
 * holds none. It used to hold them all: the canceled request's promoter then stayed archived at FirstPromoter for
 * good, its record saying another request held it, which no request did.
 */

const PLANNED_AT = '2026-12-01T10:00:00.000Z';

function otherRequest(status: RequestStatus, archive: ActionOutcome | undefined): ErasureRequest {
  return {
    id: 'req_other',
    status,
    receivedAt: '2026-12-01T09:00:00.000Z',
    dueAt: '2026-12-31T09:00:00.000Z',
    expiresAt: 0,
    ...(['completed', 'partially_completed', 'failed'].includes(status)
      ? { completedAt: '2026-12-01T11:00:00.000Z' }
      : {}),
    webhookIdHash: 'w',
    payloadHash: 'p',
    signedWith: 's',
    subject: { pseudonym: 'e', emailPseudonym: 'e', identifiers: ['email'] },
    actions: archive
      ? {
          'firstpromoter.promoters': {
            ...ACTIONS['firstpromoter.promoters'],
            outcome: archive,
            count: 0,
            updatedAt: PLANNED_AT,
          },
        }
      : {},
  };
}

const held = (other: ErasureRequest) => [...promotersHeldByOthers([other], [7, 8], { endedSince: PLANNED_AT })];

describe('promotersHeldByOthers for a cancel’s restore (endedSince)', () => {
  it('a request closing or ended since whose archive step found no promoter holds none of them', () => {
    expect(held(otherRequest('closing', 'not_found'))).toEqual([]);
    expect(held(otherRequest('completed', 'not_found'))).toEqual([]);
    expect(held(otherRequest('failed', 'not_found'))).toEqual([]);
  });

  it('one that archived, took them for archived before it, or whose outcome is unknown still holds them all', () => {
    for (const archive of ['archived', 'skipped', 'failed', 'partial', undefined] as const) {
      expect(held(otherRequest('closing', archive))).toEqual([7, 8]);
      expect(held(otherRequest('partially_completed', archive))).toEqual([7, 8]);
    }
  });
});

describe('promotersHeldByOthers across two Lambdas’ clocks', () => {
  const endedAt = (completedAt: string) => ({ ...otherRequest('completed', 'archived'), completedAt });

  it('one that ended by its clock less than the clocks’ difference before the plan may have ended after it: holds', () => {
    // The finalize's clock a little behind the archive step's: 200 ms "before" the plan may be after it.
    expect(held(endedAt('2026-12-01T09:59:59.800Z'))).toEqual([7, 8]);
  });

  it('one that ended clearly before the plan holds none', () => {
    expect(held(endedAt('2026-12-01T09:59:58.000Z'))).toEqual([]);
  });
});

describe('promotersHeldByOthers for a request linked through the promoters’ own identifiers', () => {
  const heldByLinked = (linked: ErasureRequest) => [
    ...promotersHeldByOthers([], [7, 8], { endedSince: PLANNED_AT, linked: [linked] }),
  ];

  it('one whose archive step found no promoter holds none of them, open or ended since', () => {
    // Made under the promoter's email (or cust_id) before the promoter carried it: its search found none.
    expect(heldByLinked(otherRequest('processing', 'not_found'))).toEqual([]);
    expect(heldByLinked(otherRequest('closing', 'not_found'))).toEqual([]);
    expect(heldByLinked(otherRequest('completed', 'not_found'))).toEqual([]);
  });

  it('one that archived, took them for archived before it, or has yet to decide holds them all', () => {
    for (const archive of ['archived', 'skipped', undefined] as const) {
      expect(heldByLinked(otherRequest('processing', archive))).toEqual([7, 8]);
      expect(heldByLinked(otherRequest('waiting', archive))).toEqual([7, 8]);
    }
  });
});

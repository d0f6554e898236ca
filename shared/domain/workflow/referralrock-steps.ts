import type { RemoveResult } from '#shared/ports/providers';
import type { Identity } from '../model.ts';
import { type FailureInput, judgeByReadBack, readBackProof, settleAction } from './read-back.ts';
import {
  identityOf,
  load,
  type ReferralRockTaskDeps,
  type RequestInput,
  record,
  recordNothingFound,
} from './task-context.ts';

type ReferralRockAction = 'referralrock.members' | 'referralrock.referrals';

/** The read-back of each Referral Rock action: the subject's records of that kind still there. */
async function searchReferralRock(deps: ReferralRockTaskDeps, key: ReferralRockAction, identity: Identity) {
  return key === 'referralrock.members'
    ? (await deps.referralRock.findMembers(identity)).map((m) => m.id)
    : (await deps.referralRock.findReferrals(identity)).map((r) => r.id);
}

/**
 * Erases the subject's Referral Rock members or own referrals. The ids found are written down before the remove, and
 * the outcome is judged by searching again afterwards, not by the remove's answer alone: a retry after a lost answer or
 * a crash then counts what the first attempt deleted as deleted (not "not found"), and removes only what is left.
 */
async function eraseReferralRock(deps: ReferralRockTaskDeps, requestId: string, key: ReferralRockAction) {
  const request = await load(deps, requestId);
  const done = request.actions[key];
  if (done && done.outcome !== 'pending') return { outcome: done.outcome, count: done.count };
  const identity = identityOf(deps, request);
  const members = key === 'referralrock.members';
  const search = () => searchReferralRock(deps, key, identity);

  const found = await search();
  // The search that found nothing to act on is the proof: nothing of the subject's is there.
  const nothing = readBackProof(identity, 0, 'not_found', deps.clock.now());
  if (found.length === 0 && (await recordNothingFound(deps, request, key, ['processing'], nothing))) {
    return { outcome: 'not_found' as const, count: 0 };
  }
  // Only while processing: a step still running after the workflow moved on (finalized) must not start acting.
  const plan = await deps.requests.planAction(requestId, key, found, deps.clock.now().toISOString(), {
    whileIn: ['processing'],
  });
  if (!plan) return { outcome: 'skipped' as const, count: 0 };
  const subjectRecords = new Set([...plan.ids, ...found]);
  if (subjectRecords.size === 0) {
    // The search that found nothing to act on is the proof: nothing of the subject's is there.
    const verification = readBackProof(identity, 0, 'not_found', deps.clock.now());
    return record(deps, request, key, { outcome: 'not_found', count: 0, verification });
  }

  const results: RemoveResult[] =
    found.length === 0
      ? []
      : members
        ? await deps.referralRock.removeMembers(found)
        : await deps.referralRock.removeReferrals(found);
  const remaining = (await search()).filter((id) => subjectRecords.has(id));
  const checkedAt = deps.clock.now();
  const { outcome, count } = judgeByReadBack([...subjectRecords], remaining, 'deleted');
  const verification = readBackProof(identity, remaining.length, outcome, checkedAt);
  const refused = results.filter((r) => !r.deleted).length;
  // The provider's Message is free text that may name the person (a name, a phone number, another identifier): it is
  // never stored. The audit trail is append-only, so what goes in must be safe for good.
  const errors =
    remaining.length === 0
      ? []
      : [
          `${remaining.length} of ${subjectRecords.size} record(s) still present at Referral Rock after removal` +
            (refused > 0 ? ` (${refused} refused; its messages are not kept)` : ''),
        ];
  return record(deps, request, key, { outcome, count, verification, ...(errors.length ? { errors } : {}) });
}

export const eraseReferralRockMembers = (deps: ReferralRockTaskDeps, { requestId }: RequestInput) =>
  eraseReferralRock(deps, requestId, 'referralrock.members');

export const eraseReferralRockReferrals = (deps: ReferralRockTaskDeps, { requestId }: RequestInput) =>
  eraseReferralRock(deps, requestId, 'referralrock.referrals');

/**
 * The state machine's Catch for both Referral Rock steps: whatever ended the step (an error status, retries exhausted,
 * a timeout), the outcome is decided by searching again (`settleAction`).
 */
export async function settleReferralRockAction(deps: ReferralRockTaskDeps, input: FailureInput) {
  const key = input.action;
  if (key !== 'referralrock.members' && key !== 'referralrock.referrals') {
    throw new Error(`No Referral Rock action ${key}`);
  }
  return settleAction(deps, input, {
    search: (identity) => searchReferralRock(deps, key, identity),
    done: 'deleted',
    providerLabel: 'Referral Rock',
  });
}

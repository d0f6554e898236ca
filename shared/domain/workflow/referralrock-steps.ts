import type { RemoveResult } from '#shared/ports/providers';
import type { ActionOutcome } from '../model.ts';
import { identityOf, load, type ReferralRockTaskDeps, type RequestInput, record } from './task-context.ts';

/**
 * Erases the subject's Referral Rock members or own referrals. The ids found are written down before the remove, and
 * the outcome is judged by searching again afterwards, not by the remove's answer alone: a retry after a lost answer or
 * a crash then counts what the first attempt deleted as deleted (not "not found"), and removes only what is left.
 */
async function eraseReferralRock(
  deps: ReferralRockTaskDeps,
  requestId: string,
  key: 'referralrock.members' | 'referralrock.referrals',
) {
  const request = await load(deps, requestId);
  const done = request.actions[key];
  if (done && done.outcome !== 'pending') return { outcome: done.outcome, count: done.count };
  const identity = identityOf(deps, request);
  const members = key === 'referralrock.members';
  const search = async () =>
    members
      ? (await deps.referralRock.findMembers(identity)).map((m) => m.id)
      : (await deps.referralRock.findReferrals(identity)).map((r) => r.id);

  const found = await search();
  // Only while processing: a step still running after the workflow moved on (finalized) must not start acting.
  const plan = await deps.requests.planAction(requestId, key, found, deps.clock.now().toISOString(), {
    whileIn: ['processing'],
  });
  if (!plan) return { outcome: 'skipped' as const, count: 0 };
  const subjectRecords = new Set([...plan.ids, ...found]);
  if (subjectRecords.size === 0) return record(deps, request, key, { outcome: 'not_found', count: 0 });

  const results: RemoveResult[] =
    found.length === 0
      ? []
      : members
        ? await deps.referralRock.removeMembers(found)
        : await deps.referralRock.removeReferrals(found);
  const remaining = (await search()).filter((id) => subjectRecords.has(id));
  const deleted = subjectRecords.size - remaining.length;
  const outcome: ActionOutcome = remaining.length === 0 ? 'deleted' : deleted > 0 ? 'partial' : 'failed';
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
  return record(deps, request, key, {
    outcome,
    count: outcome === 'failed' ? subjectRecords.size : deleted,
    ...(errors.length ? { errors } : {}),
  });
}

export const eraseReferralRockMembers = (deps: ReferralRockTaskDeps, { requestId }: RequestInput) =>
  eraseReferralRock(deps, requestId, 'referralrock.members');

export const eraseReferralRockReferrals = (deps: ReferralRockTaskDeps, { requestId }: RequestInput) =>
  eraseReferralRock(deps, requestId, 'referralrock.referrals');
